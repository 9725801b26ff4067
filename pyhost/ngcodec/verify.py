"""``ngcodec verify PATH``: check a Neuroglancer precomputed dataset.

Built on the dataset layer (:mod:`ngcodec.precomputed`): the ``info`` is
checked by :func:`~ngcodec.precomputed.info.validate_info`, files are found
by listing the :mod:`~ngcodec.precomputed.storage` (a local directory, or
any fsspec URL with ``ngcodec[remote]``), chunk names and shapes come from
the scale's geometry (:class:`~ngcodec.precomputed.info.Scale`), chunks are
decoded by :class:`~ngcodec.precomputed.chunks.ChunkCodec` inside the
sandbox (:class:`ngcodec.Limits`), and shard files are checked by
:meth:`~ngcodec.precomputed.sharded.ShardedStore.check_shard`. Work runs in
parallel threads: one task per chunk file, one per shard file.

It reports:

- **bad** chunks: chunk files, or chunks inside shard files, that do not
  decode, with the reason (the exception class and the module's status
  name); a chunk inside a shard is named by its shard file, minishard and
  chunk id. Any bad chunk makes the exit status 1;
- **index problems** of shard files: a shard index or minishard index that
  is damaged (out of range, truncated, unsorted or duplicate ids,
  overlapping ranges, corrupt gzip), named by shard file and minishard.
  Any makes the exit status 1;
- **zlib where gzip is declared**: ``.gz`` chunk files, or shard data and
  minishard indices of a scale whose sharding says ``"gzip"``, that hold a
  zlib (RFC 1950) stream instead of gzip (RFC 1952). neuroglancer-scripts
  writes those; Neuroglancer's gzip decoder rejects them. They are bad;
- **missing** chunks: chunks of the grid that are stored nowhere.
  Precomputed volumes may legitimately be sparse, so they are only counted,
  unless ``--require-all`` makes them errors;
- **unknown** files: names under a scale's key that are not chunk (or shard)
  names of that scale, or do not fit its chunk grid (reported; errors with
  ``--strict``);
- **skipped** scales: encodings ngcodec does not decode (reported; errors
  with ``--strict``).

Unsharded chunk files are named ``x0-x1_y0-y1_z0-z1`` (optionally ``.gz``)
under each scale's ``key``, or nested ``x0-x1/y0-y1/z0-z1`` as
neuroglancer-scripts writes by default; chunks at the upper edges of the
volume are smaller, and ``voxel_offset`` shifts the names. A chunk file that
starts with the gzip magic ``1f 8b`` is inflated, whatever its name.

The dataset is never modified: files are only read.

Exit status: 0 when everything verified is good, 1 when problems were found,
2 when the dataset cannot be verified at all (no readable or valid ``info``).
"""

import argparse
import json
import os
import queue
import re
import sys
import threading
import time

import numpy as np

from .errors import InvalidFormatError, InvalidInfoError, NgcodecError, ResourceLimitError
from .limits import Limits
from .precomputed.chunks import ChunkCodec
from .precomputed.info import ENCODINGS, Scale as Geometry, validate_info
from .precomputed.sharded import ShardedStore, chunk_ids, chunk_position
from .precomputed.storage import LocalStorage, inflate, is_gzip, open_storage

__all__ = ["verify", "main", "add_arguments", "Report", "progress_bar"]

DESCRIPTION = """\
Check a Neuroglancer precomputed dataset: validate its info file and decode
every chunk of every scale (raw, compressed_segmentation, JPEG; chunk files,
gzip-compressed or not, and sharded scales: every shard index, minishard
index and chunk) in the sandbox, with memory and time limits, in parallel
threads. Bad chunks and damaged shard indices are printed with the reason
(shard file, minishard and chunk id for sharded scales); gzip-declared data
that is a zlib stream is bad (Neuroglancer rejects it). Missing chunks are
counted (volumes may be sparse); unknown files and skipped scales (other
encodings) are reported. The dataset is only read, never modified."""

EPILOG = """\
exit status: 0 all verified chunks are good; 1 problems were found (bad
chunks, shard index problems, info errors; missing chunks with --require-all;
skipped scales and unknown files with --strict); 2 the dataset cannot be
verified (no info, or an invalid one)."""

FLAT_NAME = re.compile(r"(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)(\.gz)?")
RANGE_NAME = re.compile(r"(-?\d+)-(-?\d+)")
RANGE_FILE_NAME = re.compile(r"(-?\d+)-(-?\d+)(\.gz)?")
MAX_INFO_BYTES = 64 << 20
MAX_LISTED_MISSING = 1000  # per scale, in reports
WASM32_BYTES = (1 << 32) - 1
ZLIB_TEXT = ("the {what} is a zlib stream where gzip is declared (neuroglancer-scripts writes "
             "those; Neuroglancer's gzip decoder rejects them)")
INSTALL_HINT = ("ngcodec verify: no progress bar: tqdm is not installed "
                "(pip install ngcodec[verify])\n")


class _Fatal(Exception):
    """The dataset cannot be verified at all (exit status 2)."""


def _is_zlib(data):
    """True when *data* starts with a zlib (RFC 1950) header."""
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


# -- the info file ------------------------------------------------------------------

def read_info(storage):
    """The info's JSON object (not yet validated) from *storage*."""
    where = storage.describe("info")
    try:
        size = storage.size("info")
        if size is None:
            raise _Fatal(f"{where}: no info file (is this a precomputed dataset?)")
        if size > MAX_INFO_BYTES:
            raise _Fatal(f"{where}: cannot read the info file: {size:,} bytes, over "
                         f"{MAX_INFO_BYTES:,}")
        data = storage.read("info")
        if data is None:
            raise _Fatal(f"{where}: no info file (is this a precomputed dataset?)")
        if is_gzip(data):
            data = inflate(data, MAX_INFO_BYTES, "info")
        info = json.loads(data.decode("utf-8"))
    except _Fatal:
        raise
    except (OSError, NgcodecError, UnicodeDecodeError, ValueError) as exc:
        raise _Fatal(f"{where}: cannot read the info file: {exc}") from None
    if not isinstance(info, dict):
        raise _Fatal(f"{where}: the info file is not a JSON object")
    return info


class Scale:
    """One entry of ``info["scales"]`` as verify sees it: its status, its
    geometry (a :class:`~ngcodec.precomputed.info.Scale`, when the entry is
    valid) and its counts."""

    def __init__(self, index, entry):
        self.index = index
        self.entry = entry
        key = entry.get("key") if isinstance(entry, dict) else None
        self.key = key if isinstance(key, str) and key else f"#{index}"  # until validated
        self.encoding = entry.get("encoding") if isinstance(entry, dict) else None
        self.status = "verified"  # or "skipped", "error"
        self.reason = None
        self.geometry = None
        self.codec = None
        self.store = None  # a ShardedStore for sharded scales
        self.counts = dict(chunk_files=0, shards=0, chunks=0, ok=0, bad=0, missing=0, unknown=0,
                           index_problems=0)
        self.present = set()  # grid positions (unsharded) or chunk ids (sharded) stored
        self.bad_ids = set()  # sharded: chunk ids with a problem

    @property
    def sharded(self):
        return self.geometry is not None and self.geometry.sharding is not None

    def _error(self, reason):
        self.status, self.reason = "error", reason

    def _skip(self, reason):
        self.status, self.reason = "skipped", reason

    def expected_chunks(self):
        gx, gy, gz = self.geometry.grid_shape
        return gx * gy * gz

    def locate(self, ranges):
        """(chunk size index, grid position, chunk shape (x, y, z)) of the
        chunk named by *ranges* ((x0, x1), (y0, y1), (z0, z1)), or a reason
        why it is not on this scale's grid (any of its ``chunk_sizes``)."""
        g = self.geometry
        first_reason = None
        for i, chunk_size in enumerate(g.scale_info["chunk_sizes"]):
            position, shape = [], []
            for axis, ((lo, hi), c, s, o) in enumerate(zip(ranges, chunk_size, g.size,
                                                          g.voxel_offset)):
                name = "xyz"[axis]
                expected_hi = min(lo + c, o + s)
                if not o <= lo < o + s:
                    reason = f"{name} range {lo}-{hi} is outside the volume ({o}-{o + s})"
                elif (lo - o) % c:
                    reason = (f"{name} range {lo}-{hi} does not start on the chunk grid "
                              f"(chunk size {c})")
                elif hi != expected_hi:
                    reason = f"{name} range {lo}-{hi} should end at {expected_hi}"
                else:
                    position.append((lo - o) // c)
                    shape.append(hi - lo)
                    continue
                first_reason = first_reason or reason
                break
            else:
                return i, tuple(position), tuple(shape)
        return first_reason

    def chunk_name(self, position):
        """The flat file name of the chunk at grid *position* (no key)."""
        return self.geometry.chunk_name(position)[len(self.geometry.key) + 1:]

    def to_json(self):
        g = self.geometry
        return dict(key=self.key, index=self.index, encoding=self.encoding, status=self.status,
                    reason=self.reason,
                    size=list(g.size) if g else None,
                    voxel_offset=list(g.voxel_offset) if g else None,
                    chunk_sizes=g.scale_info["chunk_sizes"] if g else None,
                    sharding=g.sharding if g else None, **self.counts)


def _scale_error_text(exc, where, index):
    """An InvalidInfoError's message without the file name, the scale
    index put back (a scale is validated alone as ``scales[0]``)."""
    text = str(exc)
    if text.startswith(f"{where}: "):
        text = text[len(where) + 2:]
    if text.startswith("scales[0]"):
        text = f"scales[{index}]" + text[len("scales[0]"):]
    return f"InvalidInfoError: {text}"


def load_scales(info, where, limits):
    """The :class:`Scale` of each entry of *info*; a top-level problem of
    the info is fatal, a scale's own problem makes that scale an error."""
    try:
        valid = validate_info(info, where)
    except InvalidInfoError as exc:
        text = str(exc)
        key = text[len(where) + 2:] if text.startswith(f"{where}: ") else text
        if not key.startswith("scales["):
            raise _Fatal(f"{where}: invalid info file: {key}") from None
        valid = None
    scales = []
    seen = {}
    for i, entry in enumerate(info["scales"]):
        sc = Scale(i, entry)
        scales.append(sc)
        if not isinstance(entry, dict):
            sc._error(f"scale {i} is not a JSON object")
            continue
        key = entry.get("key")
        if isinstance(key, str) and key.startswith("/"):
            sc._error(f"the key {key!r} is not a relative path")
            continue
        one = valid
        index = i
        skip = None
        if one is None:  # validate this scale alone
            index = 0
            e = entry
            if isinstance(e.get("encoding"), str) and e["encoding"] not in ENCODINGS:
                skip = (f"encoding {e['encoding']!r} is not verified "
                        f"(ngcodec decodes {', '.join(ENCODINGS)})")
                e = dict(e, encoding="raw")
            try:
                one = validate_info(dict(info, scales=[e]), where)
            except InvalidInfoError as exc:
                sc._error(_scale_error_text(exc, where, i))
                continue
        sc.geometry = Geometry(one, index)
        sc.key = sc.geometry.key
        if sc.key in seen:
            sc._error(f"the key {key!r} is also the key of scale {seen[sc.key]}")
            continue
        seen[sc.key] = i
        if skip:
            sc._skip(skip)
            continue
        try:
            sc.codec = ChunkCodec(sc.geometry, limits)
        except NgcodecError as exc:
            sc._error(f"{type(exc).__name__}: {exc}")
    return scales


# -- finding files ------------------------------------------------------------------

def _ranges(groups):
    v = [int(g) for g in groups[:6]]
    return ((v[0], v[1]), (v[2], v[3]), (v[4], v[5]))


def list_scale(sc, storage, report, skip_prefixes=()):
    """Lists the files under *sc*'s key. Yields ``("chunk", relname, shape)``
    for chunk files of an unsharded scale and ``("shard", relname, shard)``
    for the shard files of a sharded one; records unknown files in
    *report*. *skip_prefixes*: keys of other scales nested under this one."""
    prefix = sc.key + "/"
    found = False
    try:
        keys = list(storage.list(prefix))
    except (OSError, NgcodecError) as exc:
        sc._error(f"cannot list the scale directory: {exc}")
        return
    names = set(keys)
    for k in keys:
        if any(k.startswith(p) for p in skip_prefixes):
            continue
        found = True
        rel = k[len(prefix):]
        if sc.sharded:
            shard = sc.store.spec.parse_shard_name(rel) if "/" not in rel else None
            if shard is None:
                example = sc.store.shard_name(0)
                report.unknown(sc, rel, f"not a shard file name of this scale's sharding "
                                        f"(such as {example})")
                continue
            yield "shard", rel, shard
            continue
        parts = rel.split("/")
        m = FLAT_NAME.fullmatch(rel) if len(parts) == 1 else None
        if m:
            ranges = _ranges(m.groups())
        elif (len(parts) == 3 and RANGE_NAME.fullmatch(parts[0])
              and RANGE_NAME.fullmatch(parts[1]) and RANGE_FILE_NAME.fullmatch(parts[2])):
            ranges = _ranges(RANGE_NAME.fullmatch(parts[0]).groups()
                             + RANGE_NAME.fullmatch(parts[1]).groups()
                             + RANGE_FILE_NAME.fullmatch(parts[2]).groups())
        else:
            report.unknown(sc, rel, "not a chunk file name (x0-x1_y0-y1_z0-z1[.gz], or nested "
                                    "x0-x1/y0-y1/z0-z1[.gz])")
            continue
        (x0, x1), (y0, y1), (z0, z1) = ranges
        sep = "/" if len(parts) == 3 else "_"
        canonical = sep.join((f"{x0}-{x1}", f"{y0}-{y1}", f"{z0}-{z1}"))
        if rel.removesuffix(".gz") != canonical:  # e.g. leading zeros
            report.unknown(sc, rel, f"not a chunk of this scale: Neuroglancer would read it as "
                                    f"{canonical}")
            continue
        where = sc.locate(ranges)
        if isinstance(where, str):
            report.unknown(sc, rel, f"not a chunk of this scale: {where}")
            continue
        if rel.endswith(".gz") and k[:-3] in names:
            plain = rel[:-3].rpartition("/")[2]
            report.bad(sc, rel, f"{plain} exists too: two versions of one chunk (Neuroglancer "
                                f"and ngcodec read {plain}, this file is never read; delete "
                                "one)", "InvalidFormatError", None)
            continue
        index, position, shape = where
        if index == 0:
            sc.present.add(position)
        yield "chunk", rel, shape
    if not found:
        local = isinstance(storage, LocalStorage)
        if local and not os.path.isdir(os.path.join(storage.root, *sc.key.split("/"))):
            report.note(sc, f"the scale directory {sc.key!r} does not exist")
        else:
            report.note(sc, f"the scale directory {sc.key!r} is empty" if local else
                        f"no files under the scale's key {sc.key!r} (it does not exist)")


# -- checking -----------------------------------------------------------------------

def _memory(limits):
    return WASM32_BYTES if limits.memory_bytes is None else limits.memory_bytes


def _problem(exc):
    """(reason, exception class name, status name) of an exception."""
    if isinstance(exc, NgcodecError):
        return (str(exc), type(exc).__name__, exc.status_name)
    if isinstance(exc, OSError):
        return (f"cannot read the file: {exc}", type(exc).__name__, None)
    if isinstance(exc, MemoryError):
        return ("out of host memory", "MemoryError", None)
    return (f"unexpected error (please report): {exc!r}", type(exc).__name__, None)


def decode_chunk(codec, data, shape):
    """None when *data* decodes to a chunk of *shape* (x, y, z), else
    (reason, exception class name, status name)."""
    try:
        out = codec.decode(data, shape, what="chunk")
        expected = (codec.num_channels, shape[2], shape[1], shape[0])
        if out.shape != expected:
            return (f"decoded to shape {out.shape}, expected {expected}", "ShapeError", None)
        return None
    except Exception as exc:  # noqa: BLE001 - every failure is a finding
        reason, name, status = _problem(exc)
        return reason.removeprefix("chunk: "), name, status


def chunk_payload(data, declared_gzip, codec, shape, memory):
    """The encoded chunk in a chunk file's bytes *data*: gzip (by its magic)
    inflated under the memory limit, refusing output larger than any valid
    chunk of *shape*; a ``.gz`` file holding a zlib stream is an error."""
    if is_gzip(data):
        try:
            data = inflate(data, memory, "gzip", zlib_ok=False)
        except InvalidFormatError as exc:
            if f"past the {memory}-byte cap" in str(exc):
                raise ResourceLimitError(f"gzip: decompresses to more than {memory:,} bytes "
                                         "(the memory limit)") from None
            raise
        most = codec.max_encoded(shape)
        if len(data) > most:
            raise InvalidFormatError(f"gzip: decompresses to {len(data):,} bytes, more than a "
                                     f"valid chunk of {shape} takes ({most:,})")
        return data
    if declared_gzip and _is_zlib(data):
        try:
            inflate(data, memory, "zlib")
        except (InvalidFormatError, ResourceLimitError):
            return data  # not a zlib stream after all: plain chunk bytes
        raise InvalidFormatError(ZLIB_TEXT.format(what="file"))
    return data


def check_chunk_file(storage, sc, relname, shape, limits):
    """None when the chunk file decodes to a chunk of *shape*, else
    (reason, exception class name, status name)."""
    memory = _memory(limits)
    key = f"{sc.key}/{relname}"
    try:
        size = storage.size(key)
        if size is None:
            raise FileNotFoundError(f"{key}: the file went away while verifying")
        if size > memory:
            raise ResourceLimitError(f"read: the file has {size:,} bytes, over the memory "
                                     f"limit of {memory:,} bytes")
        data = storage.read(key)
        if data is None:
            raise FileNotFoundError(f"{key}: the file went away while verifying")
        data = chunk_payload(data, relname.endswith(".gz"), sc.codec, shape, memory)
    except Exception as exc:  # noqa: BLE001
        return _problem(exc)
    return decode_chunk(sc.codec, data, shape)


def check_shard_file(sc, shard, tick):
    """Checks one shard file: every index and every chunk (decoded).
    Returns (ShardCheck or None, {chunk id: (reason, class, status)}, a
    problem of the whole check or None). *tick()* counts decoded chunks."""
    store, g = sc.store, sc.geometry
    decoded = {}

    def decode(cid, data):
        tick()
        pos = chunk_position(cid, g.grid_shape)
        if pos is None:
            problem = (f"the chunk id names no chunk of this scale's grid {g.grid_shape} "
                       "(readers never ask for it)", "InvalidFormatError", None)
        else:
            lo, hi = g.chunk_box(pos)
            problem = decode_chunk(sc.codec, data, tuple(b - a for a, b in zip(lo, hi)))
        if problem is not None:
            decoded[cid] = problem
            raise InvalidFormatError(problem[0])

    try:
        return store.check_shard(shard, decode=decode, strict_gzip=True), decoded, None
    except Exception as exc:  # noqa: BLE001 - a bug or an I/O error: one finding
        return None, decoded, _problem(exc)


# -- the report ---------------------------------------------------------------------

class Report:
    """Everything verify found; ``to_json()`` is the ``--json`` output."""

    def __init__(self, path, limits, jobs, require_all=False, strict=False, printer=None):
        self.path = path
        self.limits = limits
        self.jobs = jobs
        self.require_all = require_all
        self.strict = strict
        self.scales = []
        self.bad_chunks = []
        self.shard_problems = []
        self.unknown_files = []
        self.missing_chunks = []
        self.notes = []
        self.seconds = 0.0
        self.printer = printer or (lambda kind, text: None)

    # findings
    def bad(self, scale, relname, reason, exc_name, status_name):
        scale.counts["bad"] += 1
        self.bad_chunks.append(dict(scale=scale.key, file=relname,
                                    path=f"{scale.key}/{relname}", reason=reason,
                                    exception=exc_name, status_name=status_name))
        self.printer("BAD", f"{scale.key}/{relname}: {reason} ({exc_name})")

    def bad_in_shard(self, scale, relname, shard, minishard, cid, reason, exc_name,
                     status_name):
        """A chunk inside a shard file with a problem."""
        if cid not in scale.bad_ids:
            scale.bad_ids.add(cid)
            scale.counts["bad"] += 1
        pos = chunk_position(cid, scale.geometry.grid_shape)
        chunk = scale.chunk_name(pos) if pos is not None else None
        self.bad_chunks.append(dict(scale=scale.key, file=relname, path=f"{scale.key}/{relname}",
                                    shard=shard, minishard=minishard, chunk_id=cid, chunk=chunk,
                                    reason=reason, exception=exc_name, status_name=status_name))
        self.printer("BAD", f"{scale.key}/{relname}: minishard {minishard}: chunk {cid}"
                            + (f" ({chunk})" if chunk else "") + f": {reason} ({exc_name})")

    def shard_problem(self, scale, relname, shard, minishard, reason, exc_name):
        """A problem of a shard file's shard index or minishard index."""
        scale.counts["index_problems"] += 1
        self.shard_problems.append(dict(scale=scale.key, file=relname,
                                        path=f"{scale.key}/{relname}", shard=shard,
                                        minishard=minishard, reason=reason, exception=exc_name))
        where = f"{scale.key}/{relname}" + ("" if minishard is None else
                                            f": minishard {minishard}")
        self.printer("BAD", f"{where}: {reason} ({exc_name})")

    def unknown(self, scale, relname, reason):
        scale.counts["unknown"] += 1
        self.unknown_files.append(dict(scale=scale.key, file=relname,
                                       path=f"{scale.key}/{relname}", reason=reason))
        self.printer("UNKNOWN", f"{scale.key}/{relname}: {reason}")

    def note(self, scale, text):
        self.notes.append(dict(scale=scale.key, note=text))
        self.printer("NOTE", f"scale {scale.key}: {text}")

    # totals
    def total(self, name):
        return sum(s.counts[name] for s in self.scales)

    def count_status(self, status):
        return sum(1 for s in self.scales if s.status == status)

    @property
    def exit_code(self):
        problems = (self.total("bad") or self.total("index_problems")
                    or self.count_status("error")
                    or (self.require_all and self.total("missing"))
                    or (self.strict and (self.count_status("skipped") or self.total("unknown"))))
        return 1 if problems else 0

    def summary(self):
        return dict(scales=len(self.scales), scales_verified=self.count_status("verified"),
                    scales_skipped=self.count_status("skipped"),
                    scale_errors=self.count_status("error"),
                    chunk_files=self.total("chunk_files"), shards=self.total("shards"),
                    chunks=self.total("chunks"), ok=self.total("ok"), bad=self.total("bad"),
                    index_problems=self.total("index_problems"),
                    missing=self.total("missing"), unknown=self.total("unknown"),
                    seconds=round(self.seconds, 3))

    def to_json(self):
        code = self.exit_code
        return dict(
            path=self.path, ok=code == 0, exit_code=code,
            limits=dict(memory_bytes=self.limits.memory_bytes, seconds=self.limits.seconds),
            jobs=self.jobs, require_all=self.require_all, strict=self.strict,
            summary=self.summary(), scales=[s.to_json() for s in self.scales],
            bad_chunks=self.bad_chunks,
            shard_problems=self.shard_problems,
            missing_chunks=self.missing_chunks,
            unknown_files=self.unknown_files,
            skipped_scales=[dict(scale=s.key, reason=s.reason)
                            for s in self.scales if s.status == "skipped"],
            scale_errors=[dict(scale=s.key, reason=s.reason)
                          for s in self.scales if s.status == "error"],
            notes=self.notes)

    def summary_lines(self):
        lines = []
        for s in self.scales:
            c = s.counts
            if s.status == "verified" and s.sharded:
                chunk = "x".join(map(str, s.geometry.chunk_size))
                lines.append(f"scale {s.key} ({s.encoding}, chunks {chunk}, sharded): "
                             f"{c['shards']} shard file(s), {c['chunks']} chunks, {c['ok']} ok, "
                             f"{c['bad']} bad, {c['missing']} missing, {c['unknown']} unknown, "
                             f"{c['index_problems']} index problem(s)")
            elif s.status == "verified":
                chunk = "x".join(map(str, s.geometry.chunk_size))
                lines.append(f"scale {s.key} ({s.encoding}, chunks {chunk}): "
                             f"{c['chunk_files']} chunk files, {c['ok']} ok, {c['bad']} bad, "
                             f"{c['missing']} missing, {c['unknown']} unknown")
            elif s.status == "skipped":
                lines.append(f"scale {s.key}: SKIPPED, {s.reason}")
            else:
                lines.append(f"scale {s.key}: ERROR, {s.reason}")
        t = self.summary()
        in_shards = t["chunks"] - t["chunk_files"]
        if t["shards"] and t["chunk_files"]:
            what = (f"{t['chunks']} chunks ({t['chunk_files']} chunk files, {in_shards} in "
                    f"{t['shards']} shard file(s))")
        elif t["shards"]:
            what = f"{t['chunks']} chunks in {t['shards']} shard file(s)"
        else:
            what = f"{t['chunk_files']} chunk files"
        text = (f"{what} in {t['scales_verified']} scale(s) verified in "
                f"{t['seconds']:.1f} s: {t['ok']} ok, {t['bad']} bad")
        if t["index_problems"]:
            text += f"; {t['index_problems']} shard index problem(s)"
        if t["missing"]:
            text += (f"; {t['missing']} chunk(s) missing" + (
                " or behind the damaged indices" if t["index_problems"] else "") + (
                " (errors: --require-all)" if self.require_all else
                " (allowed: precomputed volumes may be sparse; --require-all makes them errors)"))
        else:
            text += "; no chunk missing"
        if t["unknown"]:
            text += f"; {t['unknown']} unknown file(s)" + (" (errors: --strict)"
                                                          if self.strict else "")
        if t["scales_skipped"]:
            text += (f"; {t['scales_skipped']} scale(s) skipped, not verified"
                     + (" (errors: --strict)" if self.strict else ""))
        if t["scale_errors"]:
            text += f"; {t['scale_errors']} scale(s) with errors in the info file"
        lines.append(text)
        lines.append("OK" if self.exit_code == 0 else "FAILED")
        return lines


# -- progress -----------------------------------------------------------------------

def _isatty(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def progress_bar(stream, total):
    """A tqdm bar on *stream* counting *total* files (chunk files and shard
    files), or None: when *stream* is None or not a terminal, and when tqdm
    is not installed (then one line on *stream* says how to get it)."""
    if stream is None or not _isatty(stream):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        stream.write(INSTALL_HINT)
        stream.flush()
        return None
    return tqdm(total=total, file=stream, desc="verify", unit="file", dynamic_ncols=True,
                mininterval=0.1, leave=True)


# -- the run ------------------------------------------------------------------------

def verify(path, limits=None, jobs=None, require_all=False, strict=False, progress=None,
           printer=None):
    """Verifies the dataset at *path* (a directory, a ``file://`` URL, or
    any fsspec URL with ``ngcodec[remote]``); returns a :class:`Report`.

    *limits*: the :class:`ngcodec.Limits` of each chunk (default
    ``Limits()``); *jobs*: threads (default ``os.cpu_count()``);
    *progress*: a stream for the progress bar, shown when it is a terminal
    (None: none); *printer*: ``printer(kind, text)`` is called for each
    finding as it is found. Raises ``ValueError`` when the dataset cannot be
    verified at all.
    """
    try:
        return _verify(path, limits, jobs, require_all, strict, progress, printer)
    except _Fatal as exc:
        raise ValueError(str(exc)) from None


def _open_storage(path):
    if isinstance(path, str) and "://" in path and not path.startswith("file://"):
        try:
            return open_storage(path)
        except (NgcodecError, OSError, ValueError) as exc:
            raise _Fatal(f"{path}: {exc}") from None
    root = os.fspath(path)
    root = root[len("file://"):] if root.startswith("file://") else root
    if not os.path.isdir(root):
        raise _Fatal(f"{root}: not a directory")
    return LocalStorage(root)


def _verify(path, limits, jobs, require_all, strict, progress_stream, printer):
    start = time.monotonic()
    limits = Limits() if limits is None else limits
    jobs = max(1, jobs or os.cpu_count() or 1)
    report = Report(str(path), limits, jobs, require_all, strict, printer)
    storage = _open_storage(path)
    info = read_info(storage)
    report.scales = load_scales(info, storage.describe("info"), limits)
    keys = [s.key for s in report.scales if s.geometry is not None]

    # Every file to check: ("chunk", scale, relname, shape) or ("shard", scale, relname, n).
    items = []
    for sc in report.scales:
        if sc.status != "verified":
            continue
        if sc.sharded:
            try:
                sc.store = ShardedStore(storage, sc.key, sc.geometry.sharding, limits=limits)
            except NgcodecError as exc:
                sc._error(f"{type(exc).__name__}: {exc}")
                continue
        nested = [k + "/" for k in keys if k != sc.key and k.startswith(sc.key + "/")]
        for kind, relname, what in list_scale(sc, storage, report, nested):
            items.append((kind, sc, relname, what))
            sc.counts["shards" if kind == "shard" else "chunk_files"] += 1
        if not sc.sharded:
            sc.counts["chunks"] = sc.counts["chunk_files"]

    bar = progress_bar(progress_stream, len(items))
    if printer is not None and bar is not None:
        from tqdm import tqdm

        def show(kind, text, _printer=printer):
            with tqdm.external_write_mode(file=sys.stdout):
                _printer(kind, text)
        report.printer = show

    decoded = [0]
    decoded_lock = threading.Lock()

    def tick():
        with decoded_lock:
            decoded[0] += 1

    def check(item):
        kind, sc, relname, what = item
        if kind == "chunk":
            problem = check_chunk_file(storage, sc, relname, what, limits)
            tick()
            return problem
        return check_shard_file(sc, what, tick)

    # Check in worker threads; findings come back through a queue and are
    # recorded by this thread only.
    results = queue.Queue()
    cursor = iter(items)
    lock = threading.Lock()
    stop = threading.Event()

    def worker():
        while not stop.is_set():
            with lock:
                item = next(cursor, None)
            if item is None:
                return
            results.put((item, check(item)))

    threads = [threading.Thread(target=worker, name=f"ngcodec-verify-{i}", daemon=True)
               for i in range(min(jobs, max(1, len(items))))]
    for t in threads:
        t.start()
    done = 0
    shown = None
    try:
        while done < len(items):
            try:
                item, result = results.get(timeout=0.1)
            except queue.Empty:
                item = None
            if item is not None:
                done += 1
                _record(report, item, result)
            if bar is not None:
                state = (decoded[0], report.total("bad") + report.total("index_problems"))
                if item is not None or state != shown:
                    bar.set_postfix(chunks=state[0], bad=state[1], refresh=False)
                    bar.update(1 if item is not None else 0)
                    shown = state
    finally:
        stop.set()
        for t in threads:
            t.join()
        if bar is not None:
            bar.close()

    for sc in report.scales:
        if sc.status == "verified":
            _missing(report, sc)
    for sc in report.scales:
        if sc.status == "skipped":
            report.printer("SKIPPED", f"scale {sc.key}: {sc.reason}")
        elif sc.status == "error":
            report.printer("ERROR", f"scale {sc.key}: {sc.reason}")
    report.seconds = time.monotonic() - start
    return report


def _record(report, item, result):
    kind, sc, relname, what = item
    if kind == "chunk":
        if result is None:
            sc.counts["ok"] += 1
        else:
            report.bad(sc, relname, *result)
        return
    check, decoded, failure = result
    shard = what
    if failure is not None:
        report.shard_problem(sc, relname, shard, None, f"cannot check the shard file: "
                                                      f"{failure[0]}", failure[1])
        return
    grid = sc.geometry.grid_shape
    ids = set(check.chunk_ids)
    sc.counts["chunks"] += len(ids)
    sc.present.update(c for c in ids if chunk_position(c, grid) is not None)
    for p in check:
        if p.chunk_id is None:
            report.shard_problem(sc, relname, shard, p.minishard, p.message, p.error)
            continue
        known = decoded.get(p.chunk_id)
        if known is not None and known[0] == p.message:  # the decode's own finding
            reason, exc_name, status = known
        else:
            reason, exc_name, status = p.message, p.error, None
        report.bad_in_shard(sc, relname, shard, p.minishard, p.chunk_id, reason, exc_name,
                            status)
    sc.counts["ok"] += len(ids - check.bad_chunk_ids)


def _missing(report, sc):
    """Counts the chunks of *sc*'s grid stored nowhere and lists the first
    MAX_LISTED_MISSING of them (x fastest, then y, then z)."""
    sc.counts["missing"] = missing = sc.expected_chunks() - len(sc.present)
    if not missing:
        return
    gx, gy, gz = grid = sc.geometry.grid_shape
    listed = 0
    present = np.fromiter(sc.present, dtype=np.uint64, count=len(sc.present)) \
        if sc.sharded else None
    for z in range(gz):
        ys, xs = np.meshgrid(np.arange(gy), np.arange(gx), indexing="ij")
        plane = np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, z)], axis=1)
        if sc.sharded:
            ids = chunk_ids(plane.astype(np.uint64), grid)
            absent = np.nonzero(~np.isin(ids, present))[0]
        else:
            absent = [i for i, p in enumerate(map(tuple, plane.tolist())) if p not in sc.present]
        for i in absent:
            if listed >= MAX_LISTED_MISSING:
                report.notes.append(dict(scale=sc.key, note=(
                    f"{missing - listed} more missing chunks not listed")))
                return
            pos = tuple(int(v) for v in plane[i])
            name = sc.chunk_name(pos)
            entry = dict(scale=sc.key, file=name, path=f"{sc.key}/{name}")
            if sc.sharded:
                cid = int(ids[i])
                entry.update(chunk_id=cid, shard=sc.store.shard_name(sc.store.shard_of(cid)[0]))
            report.missing_chunks.append(entry)
            listed += 1
            if report.require_all:
                report.printer("MISSING", f"{sc.key}/{name}" + (
                    f" (chunk {entry['chunk_id']}, {entry['shard']})" if sc.sharded else ""))


# -- command line -------------------------------------------------------------------

def _memory_size(text):
    """Bytes from '268435456', '256M', '256MiB', '1G', or 'none'."""
    t = text.strip().lower()
    if t == "none":
        return None
    m = re.fullmatch(r"(\d+)\s*([kmgt]?)(i?b)?", t)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 268435456, 256M, 1G, none)")
    value = int(m.group(1)) << (10 * " kmgt".index(m.group(2) or " "))
    if value < 1 << 20:
        raise argparse.ArgumentTypeError("the memory limit must be at least 1 MiB")
    return value


def _seconds(text):
    if text.strip().lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < 1e9:
        raise argparse.ArgumentTypeError("seconds must be positive (or 'none')")
    return value


def _jobs(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of jobs: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("--jobs must be at least 1")
    return value


def add_arguments(parser):
    """The options of ``ngcodec verify``."""
    parser.add_argument("path", help="the dataset: a directory holding the info file, or a URL "
                                     "(gs://, s3://, https://... with ngcodec[remote])")
    parser.add_argument("--jobs", "-j", type=_jobs, default=None, metavar="N",
                        help="threads, each checking one chunk file or shard file at a time "
                             f"(default: the number of CPUs, {os.cpu_count()} here)")
    parser.add_argument("--memory-bytes", type=_memory_size, default=Limits.DEFAULT_MEMORY_BYTES,
                        metavar="BYTES",
                        help="memory limit of each chunk's decode, e.g. 268435456, 256M, 1G, "
                             "none (default: 256M)")
    parser.add_argument("--seconds", type=_seconds, default=Limits.DEFAULT_SECONDS, metavar="S",
                        help="time limit of each chunk's decode in seconds, or none "
                             f"(default: {Limits.DEFAULT_SECONDS:g})")
    parser.add_argument("--json", action="store_true",
                        help="print a machine-readable JSON report on stdout instead of text")
    parser.add_argument("--require-all", action="store_true",
                        help="missing chunks are errors (by default they are only counted: "
                             "precomputed volumes may be sparse)")
    parser.add_argument("--strict", action="store_true",
                        help="skipped scales (unsupported encodings) and unknown files are "
                             "errors")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (by default a tqdm bar on stderr when it is a "
                             "terminal; pip install ngcodec[verify])")
    return parser


def main(args):
    """Runs ``ngcodec verify`` for parsed *args* (or a list of strings);
    returns the exit status."""
    if not isinstance(args, argparse.Namespace):
        args = add_arguments(argparse.ArgumentParser(
            prog="ngcodec verify", description=DESCRIPTION, epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter)).parse_args(args)
    out = sys.stdout

    def printer(kind, text):
        out.write(f"{kind:<8}{text}\n")
        out.flush()

    try:
        limits = Limits(memory_bytes=args.memory_bytes, seconds=args.seconds)
        report = _verify(args.path, limits, args.jobs, args.require_all, args.strict,
                         None if args.no_progress else sys.stderr,
                         None if args.json else printer)
    except _Fatal as exc:
        if args.json:
            json.dump(dict(path=str(args.path), ok=False, exit_code=2, error=str(exc)), out)
            out.write("\n")
        else:
            print(f"ngcodec verify: {exc}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(report.to_json(), out, indent=2)
        out.write("\n")
    else:
        for line in report.summary_lines():
            out.write(line + "\n")
    out.flush()
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
