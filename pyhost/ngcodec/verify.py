"""``ngcodec verify PATH``: check a Neuroglancer precomputed dataset on disk.

Reads the ``info`` file and decodes every chunk file of every scale (raw,
compressed_segmentation and JPEG; gzip-compressed files too, recognised by
their magic bytes ``1f 8b``) inside the sandbox (:class:`ngcodec.Limits`),
in parallel threads, and reports:

- **bad** chunks: files that do not decode, with the reason (the exception
  class and the module's status name); any bad chunk makes the exit status 1;
- **missing** chunks: chunks of the volume with no file. Precomputed volumes
  may legitimately be sparse, so they are only counted, unless
  ``--require-all`` makes them errors;
- **unknown** files: names that are not chunk names or do not fit the scale's
  chunk grid (reported; errors with ``--strict``);
- **skipped** scales: sharded scales and encodings ngcodec does not decode
  (reported; errors with ``--strict``).

Chunk files are named ``x0-x1_y0-y1_z0-z1`` (optionally ``.gz``) in each
scale's ``key`` directory, or nested ``x0-x1/y0-y1/z0-z1`` as
neuroglancer-scripts writes by default; chunks at the upper edges of the
volume are smaller, and ``voxel_offset`` shifts the names.

The dataset is never modified: files are only opened for reading.

Exit status: 0 when everything verified is good, 1 when problems were found,
2 when the dataset cannot be verified at all (no readable ``info``).
"""

import argparse
import json
import os
import queue
import re
import sys
import threading
import time
import zlib

from . import chunk_encoding
from .errors import InvalidFormatError, NgcodecError, ResourceLimitError
from .limits import Limits

__all__ = ["verify", "main", "add_arguments", "Report"]

DESCRIPTION = """\
Check a Neuroglancer precomputed dataset on disk: read its info file and
decode every chunk file of every scale (raw, compressed_segmentation, JPEG;
gzip-compressed files too) in the sandbox, with memory and time limits, in
parallel threads. Bad chunks are printed with the reason; missing chunks are
counted (volumes may be sparse); unknown files and skipped scales (sharded,
other encodings) are reported. The dataset is only read, never modified."""

EPILOG = """\
exit status: 0 all verified chunks are good; 1 problems were found (bad
chunks, info errors; missing chunks with --require-all; skipped scales and
unknown files with --strict); 2 the dataset cannot be verified (no info)."""

GZIP_MAGIC = b"\x1f\x8b"
FLAT_NAME = re.compile(r"(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)(\.gz)?")
RANGE_NAME = re.compile(r"(-?\d+)-(-?\d+)")
RANGE_FILE_NAME = re.compile(r"(-?\d+)-(-?\d+)(\.gz)?")
SUPPORTED_ENCODINGS = ("raw", "compressed_segmentation", "jpeg")
MAX_INFO_BYTES = 64 << 20
MAX_LISTED_MISSING = 1000  # per scale, in reports
WASM32_BYTES = (1 << 32) - 1


class _Fatal(Exception):
    """The dataset cannot be verified at all (exit status 2)."""


# -- reading files ------------------------------------------------------------------

def gunzip(data, max_bytes, what="gzip"):
    """Decompresses one or more gzip members, refusing to produce more than
    *max_bytes* (a bomb costs at most that much memory)."""
    out = bytearray()
    rest = data
    while True:
        d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            out += d.decompress(rest, max_bytes - len(out) + 1)
        except zlib.error as exc:
            raise InvalidFormatError(f"{what}: corrupt gzip data ({exc})") from None
        if len(out) > max_bytes or d.unconsumed_tail:
            raise ResourceLimitError(
                f"{what}: decompresses to more than {max_bytes:,} bytes (the memory limit)")
        if not d.eof:
            raise InvalidFormatError(f"{what}: truncated gzip data")
        rest = d.unused_data
        if not rest:
            return bytes(out)
        if rest[:2] != GZIP_MAGIC:
            if rest.strip(b"\0"):
                raise InvalidFormatError(f"{what}: trailing data after the gzip stream")
            return bytes(out)


def read_limited(path, max_bytes, what):
    """The bytes of *path* (opened read-only), refusing files over
    *max_bytes* before reading them."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            raise ResourceLimitError(
                f"{what}: the file has {size:,} bytes, over the memory limit of {max_bytes:,} bytes")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ResourceLimitError(f"{what}: the file grew past the memory limit while read")
    return data


def read_chunk_bytes(path, max_bytes):
    """A chunk file's payload: gunzipped when it starts with the gzip magic."""
    data = read_limited(path, max_bytes, "read")
    if data[:2] == GZIP_MAGIC:
        data = gunzip(data, max_bytes)
    return data


# -- the info file ------------------------------------------------------------------

def _int3(value, name, minimum=None):
    if not isinstance(value, (list, tuple)) or len(value) != 3 or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValueError(f"{name} must be a list of 3 integers, got {value!r}")
    if minimum is not None and any(v < minimum for v in value):
        raise ValueError(f"{name} must be integers >= {minimum}, got {value!r}")
    return tuple(value)


class Scale:
    """What verify needs of one entry of ``info["scales"]``."""

    def __init__(self, index, entry, root):
        self.index = index
        self.entry = entry
        self.key = f"#{index}"  # until the entry names one
        self.encoding = None
        self.status = "verified"  # or "skipped", "error"
        self.reason = None
        self.chunk_sizes = []
        self.size = self.offset = None
        self.directory = None
        self.counts = dict(chunk_files=0, ok=0, bad=0, missing=0, unknown=0)
        self.present = set()  # grid positions of the first chunk size seen on disk
        self.missing_listed = []
        if not isinstance(entry, dict):
            self._error(f"scale {index} is not a JSON object")
            return
        key = entry.get("key")
        self.key = key if isinstance(key, str) and key else f"#{index}"
        if not isinstance(key, str) or not key:
            self._error("the scale has no 'key'")
            return
        if os.path.isabs(key) or "\\" in key or "\0" in key:
            self._error(f"the key {key!r} is not a relative path")
            return
        self.encoding = entry.get("encoding")
        try:
            self.size = _int3(entry.get("size"), "size", 0)
            self.offset = _int3(entry.get("voxel_offset", [0, 0, 0]), "voxel_offset")
            chunk_sizes = entry.get("chunk_sizes")
            if not isinstance(chunk_sizes, list) or not chunk_sizes:
                raise ValueError(f"chunk_sizes must be a non-empty list, got {chunk_sizes!r}")
            self.chunk_sizes = [_int3(c, "chunk_sizes", 1) for c in chunk_sizes]
        except ValueError as exc:
            self._error(str(exc))
            return
        self.directory = os.path.join(root, key)
        if entry.get("sharding") is not None:
            self._skip("sharded scales are not verified")
        elif self.encoding not in SUPPORTED_ENCODINGS:
            self._skip(f"encoding {self.encoding!r} is not verified "
                       f"(ngcodec decodes {', '.join(SUPPORTED_ENCODINGS)})")

    def _error(self, reason):
        self.status, self.reason = "error", reason

    def _skip(self, reason):
        self.status, self.reason = "skipped", reason

    def grid_counts(self, chunk_size):
        return tuple(-(-s // c) for s, c in zip(self.size, chunk_size))

    def expected_chunks(self):
        gx, gy, gz = self.grid_counts(self.chunk_sizes[0])
        return gx * gy * gz

    def locate(self, ranges):
        """(chunk size index, grid position, chunk shape (x, y, z)) of the
        chunk named by *ranges* ((x0, x1), (y0, y1), (z0, z1)), or a reason
        why it is not on this scale's grid."""
        first_reason = None
        for i, chunk_size in enumerate(self.chunk_sizes):
            position, shape = [], []
            for axis, ((lo, hi), c, s, o) in enumerate(zip(ranges, chunk_size, self.size,
                                                          self.offset)):
                name = "xyz"[axis]
                expected_hi = min(lo + c, o + s)
                if not o <= lo < o + s:
                    reason = (f"{name} range {lo}-{hi} is outside the volume "
                              f"({o}-{o + s})")
                elif (lo - o) % c:
                    reason = f"{name} range {lo}-{hi} does not start on the chunk grid (chunk size {c})"
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
        parts = []
        for p, c, s, o in zip(position, self.chunk_sizes[0], self.size, self.offset):
            lo = o + p * c
            parts.append(f"{lo}-{min(lo + c, o + s)}")
        return "_".join(parts)

    def iter_missing(self):
        gx, gy, gz = self.grid_counts(self.chunk_sizes[0])
        for z in range(gz):
            for y in range(gy):
                for x in range(gx):
                    if (x, y, z) not in self.present:
                        yield (x, y, z)

    def to_json(self):
        return dict(key=self.key, index=self.index, encoding=self.encoding, status=self.status,
                    reason=self.reason, size=self.size, voxel_offset=self.offset,
                    chunk_sizes=self.chunk_sizes, **self.counts)


def read_info(root):
    path = os.path.join(root, "info")
    try:
        data = read_limited(path, MAX_INFO_BYTES, "info")
        if data[:2] == GZIP_MAGIC:
            data = gunzip(data, MAX_INFO_BYTES, "info")
        info = json.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise _Fatal(f"{path}: no info file (is this a precomputed dataset?)") from None
    except (OSError, NgcodecError, UnicodeDecodeError, ValueError) as exc:
        raise _Fatal(f"{path}: cannot read the info file: {exc}") from None
    if not isinstance(info, dict):
        raise _Fatal(f"{path}: the info file is not a JSON object")
    if not isinstance(info.get("scales"), list):
        raise _Fatal(f"{path}: the info file has no 'scales' list")
    return info


# -- finding chunk files ------------------------------------------------------------

def _ranges(match_groups):
    v = [int(g) for g in match_groups[:6]]
    return ((v[0], v[1]), (v[2], v[3]), (v[4], v[5]))


def list_chunks(scale, report):
    """Yields (relative name, path, chunk shape) for each chunk file of
    *scale*; records unknown entries in *report*."""
    try:
        entries = sorted(os.scandir(scale.directory), key=lambda e: e.name)
    except FileNotFoundError:
        report.note(scale, f"the scale directory {scale.key!r} does not exist")
        return
    except OSError as exc:
        scale._error(f"cannot list the scale directory: {exc}")
        return

    def candidate(relname, path, ranges):
        (x0, x1), (y0, y1), (z0, z1) = ranges
        sep = "/" if "/" in relname else "_"
        canonical = sep.join((f"{x0}-{x1}", f"{y0}-{y1}", f"{z0}-{z1}"))
        if relname.removesuffix(".gz") != canonical:  # e.g. leading zeros
            report.unknown(scale, relname, f"not a chunk of this scale: Neuroglancer would "
                                           f"read it as {canonical}")
            return None
        where = scale.locate(ranges)
        if isinstance(where, str):
            report.unknown(scale, relname, f"not a chunk of this scale: {where}")
            return None
        index, position, shape = where
        if index == 0:
            scale.present.add(position)
        return relname, path, shape

    for entry in entries:
        m = FLAT_NAME.fullmatch(entry.name)
        if m and _is_file(entry):
            found = candidate(entry.name, entry.path, _ranges(m.groups()))
            if found:
                yield found
            continue
        if RANGE_NAME.fullmatch(entry.name) and _is_dir(entry):
            yield from _list_nested(scale, report, entry, candidate)
            continue
        report.unknown(scale, entry.name + ("/" if _is_dir(entry) else ""),
                       "not a chunk file name (x0-x1_y0-y1_z0-z1[.gz])")


def _list_nested(scale, report, xdir, candidate):
    """The nested layout x0-x1/y0-y1/z0-z1[.gz]."""
    x = RANGE_NAME.fullmatch(xdir.name).groups()
    try:
        ydirs = sorted(os.scandir(xdir.path), key=lambda e: e.name)
    except OSError as exc:
        report.unknown(scale, xdir.name + "/", f"cannot list: {exc}")
        return
    for ydir in ydirs:
        y = RANGE_NAME.fullmatch(ydir.name)
        if not (y and _is_dir(ydir)):
            report.unknown(scale, f"{xdir.name}/{ydir.name}",
                           "not a chunk directory (x0-x1/y0-y1/z0-z1[.gz])")
            continue
        try:
            files = sorted(os.scandir(ydir.path), key=lambda e: e.name)
        except OSError as exc:
            report.unknown(scale, f"{xdir.name}/{ydir.name}/", f"cannot list: {exc}")
            continue
        for zfile in files:
            relname = f"{xdir.name}/{ydir.name}/{zfile.name}"
            z = RANGE_FILE_NAME.fullmatch(zfile.name)
            if not (z and _is_file(zfile)):
                report.unknown(scale, relname, "not a chunk file name (x0-x1/y0-y1/z0-z1[.gz])")
                continue
            found = candidate(relname, zfile.path, _ranges(x + y.groups() + z.groups()))
            if found:
                yield found


def _is_file(entry):
    try:
        return entry.is_file()
    except OSError:
        return False


def _is_dir(entry):
    try:
        return entry.is_dir()
    except OSError:
        return False


# -- checking one chunk -------------------------------------------------------------

def check_chunk(encoder, path, shape, limits):
    """None when the chunk file decodes to a chunk of *shape* (x, y, z),
    else (reason, exception class name, status name)."""
    max_bytes = WASM32_BYTES if limits.memory_bytes is None else limits.memory_bytes
    try:
        data = read_chunk_bytes(path, max_bytes)
        out = encoder.decode(data, shape)
        expected = (encoder.num_channels, shape[2], shape[1], shape[0])
        if out.shape != expected:
            return (f"decoded to shape {out.shape}, expected {expected}", "ShapeError", None)
        return None
    except NgcodecError as exc:
        return (str(exc), type(exc).__name__, exc.status_name)
    except OSError as exc:
        return (f"cannot read the file: {exc}", type(exc).__name__, None)
    except MemoryError:
        return ("out of host memory", "MemoryError", None)
    except Exception as exc:  # noqa: BLE001 - a bug in ngcodec: report it, go on
        return (f"unexpected error (please report): {exc!r}", type(exc).__name__, None)


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
        problems = (self.total("bad") or self.count_status("error")
                    or (self.require_all and self.total("missing"))
                    or (self.strict and (self.count_status("skipped") or self.total("unknown"))))
        return 1 if problems else 0

    def summary(self):
        return dict(scales=len(self.scales), scales_verified=self.count_status("verified"),
                    scales_skipped=self.count_status("skipped"),
                    scale_errors=self.count_status("error"),
                    chunk_files=self.total("chunk_files"), ok=self.total("ok"),
                    bad=self.total("bad"), missing=self.total("missing"),
                    unknown=self.total("unknown"), seconds=round(self.seconds, 3))

    def to_json(self):
        code = self.exit_code
        return dict(
            path=self.path, ok=code == 0, exit_code=code,
            limits=dict(memory_bytes=self.limits.memory_bytes, seconds=self.limits.seconds),
            jobs=self.jobs, require_all=self.require_all, strict=self.strict,
            summary=self.summary(), scales=[s.to_json() for s in self.scales],
            bad_chunks=self.bad_chunks,
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
            if s.status == "verified":
                c = s.counts
                chunk = "x".join(map(str, s.chunk_sizes[0]))
                lines.append(f"scale {s.key} ({s.encoding}, chunks {chunk}): "
                             f"{c['chunk_files']} chunk files, {c['ok']} ok, {c['bad']} bad, "
                             f"{c['missing']} missing, {c['unknown']} unknown")
            elif s.status == "skipped":
                lines.append(f"scale {s.key}: SKIPPED, {s.reason}")
            else:
                lines.append(f"scale {s.key}: ERROR, {s.reason}")
        t = self.summary()
        text = (f"{t['chunk_files']} chunk files in {t['scales_verified']} scale(s) verified in "
                f"{t['seconds']:.1f} s: {t['ok']} ok, {t['bad']} bad")
        if t["missing"]:
            text += (f"; {t['missing']} chunk(s) missing" + (
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

class Progress:
    """A plain-text progress bar on *stream*: redrawn in place on a
    terminal, a line every few seconds otherwise."""

    WIDTH = 30

    def __init__(self, stream, total, enabled=True):
        self.stream = stream
        self.total = total
        self.enabled = enabled
        self.tty = enabled and hasattr(stream, "isatty") and stream.isatty()
        self.start = time.monotonic()
        self.last = 0.0
        self.shown = False
        self.done = self.bad = 0

    def line(self):
        fraction = self.done / self.total if self.total else 1.0
        filled = int(fraction * self.WIDTH)
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.done / elapsed
        return (f"verify [{'#' * filled}{'.' * (self.WIDTH - filled)}] {fraction:4.0%} "
                f"{self.done}/{self.total} chunks, {self.bad} bad, {rate:.0f} chunks/s")

    def update(self, done, bad, force=False):
        self.done, self.bad = done, bad
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last < (0.1 if self.tty else 5.0):
            return
        self.last = now
        if self.tty:
            self.stream.write("\r" + self.line() + "\x1b[K")
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()
        self.shown = True

    def clear(self):
        if self.tty and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def finish(self):
        if self.enabled:
            self.update(self.done, self.bad, force=True)
            if self.tty:
                self.stream.write("\n")
                self.stream.flush()


# -- the run ------------------------------------------------------------------------

def verify(path, limits=None, jobs=None, require_all=False, strict=False, progress=None,
           printer=None):
    """Verifies the dataset at *path*; returns a :class:`Report`.

    *limits*: the :class:`ngcodec.Limits` of each chunk (default
    ``Limits()``); *jobs*: decoding threads (default ``os.cpu_count()``);
    *progress*: a stream for the progress bar (None: none); *printer*:
    ``printer(kind, text)`` is called for each finding as it is found.
    Raises ``ValueError`` when the dataset cannot be verified at all.
    """
    try:
        return _verify(path, limits, jobs, require_all, strict, progress, printer)
    except _Fatal as exc:
        raise ValueError(str(exc)) from None


def _verify(path, limits, jobs, require_all, strict, progress_stream, printer):
    start = time.monotonic()
    limits = Limits() if limits is None else limits
    jobs = max(1, jobs or os.cpu_count() or 1)
    report = Report(str(path), limits, jobs, require_all, strict, printer)
    root = os.fspath(path)
    if not os.path.isdir(root):
        raise _Fatal(f"{root}: not a directory")
    info = read_info(root)

    # Scales and their encoders; every chunk file to check.
    items = []
    for index, entry in enumerate(info["scales"]):
        scale = Scale(index, entry, root)
        report.scales.append(scale)
        if scale.status != "verified":
            continue
        try:
            encoder = chunk_encoding.get_encoder(info, entry, {"limits": limits})
        except NgcodecError as exc:
            scale._error(f"{type(exc).__name__}: {exc}")
            continue
        except (TypeError, ValueError, AttributeError) as exc:
            scale._error(f"invalid info: {exc!r}")
            continue
        for relname, chunk_path, shape in list_chunks(scale, report):
            items.append((scale, encoder, relname, chunk_path, shape))
            scale.counts["chunk_files"] += 1
        if scale.status == "verified":
            scale.counts["missing"] = scale.expected_chunks() - len(scale.present)

    # Decode in worker threads; findings come back through a queue.
    progress = Progress(progress_stream, len(items), enabled=progress_stream is not None)
    if printer is not None:
        def show(kind, text, _printer=printer):
            progress.clear()
            _printer(kind, text)
        report.printer = show
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
            scale, encoder, relname, chunk_path, shape = item
            results.put((scale, relname, check_chunk(encoder, chunk_path, shape, limits)))

    threads = [threading.Thread(target=worker, name=f"ngcodec-verify-{i}", daemon=True)
               for i in range(min(jobs, max(1, len(items))))]
    for t in threads:
        t.start()
    done = bad = 0
    try:
        while done < len(items):
            try:
                scale, relname, problem = results.get(timeout=0.1)
            except queue.Empty:
                progress.update(done, bad)
                continue
            done += 1
            if problem is None:
                scale.counts["ok"] += 1
            else:
                bad += 1
                report.bad(scale, relname, *problem)
            progress.update(done, bad)
    finally:
        stop.set()
        for t in threads:
            t.join()
    progress.finish()

    # Missing chunks: listed (a bounded number per scale) for the report.
    for scale in report.scales:
        if scale.status != "verified" or not scale.counts["missing"]:
            continue
        for n, position in enumerate(scale.iter_missing()):
            if n >= MAX_LISTED_MISSING:
                report.notes.append(dict(scale=scale.key, note=(
                    f"{scale.counts['missing'] - n} more missing chunks not listed")))
                break
            name = scale.chunk_name(position)
            report.missing_chunks.append(dict(scale=scale.key, file=name,
                                              path=f"{scale.key}/{name}"))
            if require_all:
                report.printer("MISSING", f"{scale.key}/{name}")
    for scale in report.scales:
        if scale.status == "skipped":
            report.printer("SKIPPED", f"scale {scale.key}: {scale.reason}")
        elif scale.status == "error":
            report.printer("ERROR", f"scale {scale.key}: {scale.reason}")
    report.seconds = time.monotonic() - start
    return report


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
    parser.add_argument("path", help="the dataset directory (holding the info file)")
    parser.add_argument("--jobs", "-j", type=_jobs, default=None, metavar="N",
                        help="decoding threads (default: the number of CPUs, "
                             f"{os.cpu_count()} here)")
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
                        help="skipped scales (sharded, unsupported encodings) and unknown "
                             "files are errors")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar on stderr")
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
