"""The conversion itself: scale by scale, unit by unit, with a progress
record that ``resume=True`` continues from.

Scale 0 is written from the source; scale ``i + 1`` from scale ``i`` as
written (read back, downsampled). A *unit* is the box one
:meth:`~ngcodec.precomputed.Volume.write` call writes: a shard on sharded
scales, a chunk-aligned box of at most ``memory / 4`` bytes otherwise. A
unit is filled in *pieces* (chunk-aligned sub-boxes of at most
``memory / (4 * jobs)`` bytes of what they read), ``jobs`` pieces at a time
on threads; then it is encoded on ``jobs`` threads and written.

The record ``OUTPUT/.ngcodec-convert.json`` (written atomically, like every
file) holds the options that decide the output and, per scale, the units
done (or ``complete``). Every file the units write is written whole
(temporary file + rename) and the same bytes every time, so redoing a unit
that a crash interrupted is safe: completion is taken from the record, not
from the files.
"""

import json
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from .. import precomputed
from ..errors import InvalidParameterError, NgcodecError
from ..precomputed.dataset import _read_info
from ..precomputed.info import InfoExistsError
from ..precomputed.storage import LocalStorage, is_temporary, open_storage
from .inputs import INSTALL, PrecomputedSource, open_source
from .plan import DEFAULT_MEMORY, downsample_module, make_plan, tiles, unit_shape

__all__ = ["convert", "ConvertResult", "RECORD"]

RECORD = ".ngcodec-convert.json"
RECORD_FORMAT = 1


class ConvertResult:
    """What :func:`convert` did: ``path``, ``keys`` (the scales), ``chunks``,
    ``decoded_bytes``, ``stored_bytes``, ``seconds``, ``units_done``,
    ``units_skipped`` and ``scales_skipped`` (done before a resume)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    @property
    def ratio(self):
        return self.decoded_bytes / self.stored_bytes if self.stored_bytes else float("inf")

    def summary(self):
        lines = [
            f"{self.path}: {len(self.keys)} scale(s) ({', '.join(self.keys)}), "
            f"{self.chunks:,} chunks",
            f"  {self.decoded_bytes:,} bytes of voxels stored in {self.stored_bytes:,} bytes "
            f"(compression ratio {self.ratio:.2f}x)",
            f"  {self.seconds:.2f} s ({self.decoded_bytes / 1e6 / max(self.seconds, 1e-9):.1f} "
            "MB/s of voxels)",
        ]
        if self.units_skipped or self.scales_skipped:
            lines.append(f"  resumed: {self.scales_skipped} complete scale(s) and "
                         f"{self.units_skipped} unit(s) were done before, "
                         f"{self.units_done} unit(s) done now")
        return "\n".join(lines)

    def __repr__(self):
        return f"ConvertResult({self.path!r}, scales={self.keys}, chunks={self.chunks})"


def _json(value):
    return json.loads(json.dumps(value))


def _ranges(done):
    out = []
    for i in sorted(done):
        if out and out[-1][1] == i:
            out[-1][1] = i + 1
        else:
            out.append([i, i + 1])
    return out


class _Record:
    def __init__(self, storage, options, fsync):
        self.storage = storage
        self.options = options
        self.fsync = fsync
        self.scales = {}

    def load(self, data):
        self.scales = data.get("scales", {})

    def done(self, key):
        s = self.scales.get(key) or {}
        return {i for a, b in s.get("done", []) for i in range(a, b)}

    def write(self):
        data = {"ngcodec_convert": RECORD_FORMAT, "options": self.options,
                "scales": self.scales}
        self.storage.write(RECORD, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode(),
                           fsync=self.fsync)


def _read_record(storage):
    data = storage.read(RECORD)
    if data is None:
        return None
    try:
        rec = json.loads(data)
        if not isinstance(rec, dict) or rec.get("ngcodec_convert") != RECORD_FORMAT:
            raise ValueError("not a record of this version")
        return rec
    except ValueError as e:
        raise InvalidParameterError(f"{storage.describe(RECORD)}: unreadable conversion record "
                                    f"({e}); pass overwrite=True (--overwrite) to start over") \
            from None


def _differences(a, b, prefix=""):
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _differences(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [prefix.rstrip(".")] if a != b else []


def _check_output(storage, info, options, resume, overwrite):
    """What OUTPUT holds, checked before anything is written: returns the
    record to continue (or None to start), raises when OUTPUT holds
    something else (unless *overwrite*)."""
    where = storage.url
    has_info = storage.exists("info")
    rec = _read_record(storage) if not overwrite else None
    if overwrite or (not has_info and rec is None):
        return None
    if rec is None:
        raise InfoExistsError(f"{where}: already holds a dataset that ngcodec convert did not "
                              "make (no .ngcodec-convert.json); pass overwrite=True "
                              "(--overwrite) to replace it")
    differ = _differences(rec.get("options"), options)
    if has_info:
        try:
            old = _read_info(storage)
        except NgcodecError:
            old = None
        if old != info:
            differ.append("info")
    if differ:
        raise InfoExistsError(
            f"{where}: holds a conversion with other options or input (differing: "
            f"{', '.join(differ)}); pass overwrite=True (--overwrite) to replace it")
    complete = all(s.get("complete") for s in rec.get("scales", {}).values()) and \
        len(rec.get("scales", {})) == len(info["scales"]) and has_info
    if not resume:
        what = "a complete" if complete else "an unfinished"
        raise InfoExistsError(
            f"{where}: holds {what} conversion of this input with these options; pass "
            "resume=True (--resume) to finish it, or overwrite=True (--overwrite) to redo it")
    return rec


def _clean(storage, keys):
    """Removes a previous dataset's files (its scales, info, record)."""
    for key in keys:
        for k in list(storage.list(key.strip("/") + "/")):
            storage.delete(k)
    storage.delete(RECORD)


def _remove_temporaries(storage):
    """Temporary files of writes a crash interrupted (never listed)."""
    if not isinstance(storage, LocalStorage):
        return
    for top, _, files in os.walk(storage.root):
        for name in files:
            if is_temporary(name):
                try:
                    os.unlink(os.path.join(top, name))
                except OSError:
                    pass


_told = []  # the missing-tqdm line is said once per process


def _bar(progress, total, initial, desc):
    stream = sys.stderr
    if progress is None:
        try:
            progress = stream.isatty()
        except (AttributeError, ValueError):
            progress = False
    if not progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        if not _told:
            _told.append(True)
            stream.write(f"ngcodec convert: no progress bar: tqdm is not installed ({INSTALL})\n")
        return None
    return tqdm(total=total, initial=initial, desc=desc, unit="chunk", file=stream,
                dynamic_ncols=True, mininterval=0.2, leave=True)


def _run_pool(pool, fn, items):
    futures = [pool.submit(fn, it) for it in items]
    try:
        return [f.result() for f in futures]
    except BaseException:
        for f in futures:
            f.cancel()
        wait(futures)
        raise


def _cast(a, dtype, where):
    """*a* as *dtype* (integers checked to fit)."""
    if a.dtype == dtype:
        return a
    if a.dtype.kind in "iu" and dtype.kind in "iu" and not np.can_cast(a.dtype, dtype) and a.size:
        lo, hi = a.min(), a.max()
        i = np.iinfo(dtype)
        if lo < i.min or hi > i.max:
            raise InvalidParameterError(f"{where}: values in [{lo}, {hi}] do not fit "
                                        f"{dtype.name}")
    return a


def convert(source, output, *, type=None, encoding=None, chunk_size=None, block_size=None,
            resolution=None, voxel_offset=None, scales=None, factors=None, downsample=None,
            sharded=False, gzip=False, jobs=None, resume=False, overwrite=False, axes=None,
            dtype=None, jpeg_quality=None, kind=None, source_scale=0, memory=None,
            shard_bytes=None, progress=None, fsync=False):
    """Converts *source* into a multi-scale precomputed dataset at *output*;
    returns a :class:`ConvertResult`. See docs/CONVERT.md for every option.

    *source*: a NumPy array, a ``.npy`` path, a TIFF file or folder of
    TIFF slices, a NIfTI file, a zarr array (path or object), or a
    precomputed dataset (a path or URL with an info file).
    """
    start = time.monotonic()
    if jobs is None:
        jobs = os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InvalidParameterError(f"jobs must be a positive integer, got {jobs!r}")
    memory = DEFAULT_MEMORY if memory is None else memory
    if isinstance(memory, bool) or not isinstance(memory, int) or memory < 1:
        raise InvalidParameterError(f"memory must be a positive number of bytes, got {memory!r}")
    src = open_source(source, axes=axes, kind=kind, source_scale=source_scale)
    plan = make_plan(src, type=type, encoding=encoding, chunk_size=chunk_size,
                     block_size=block_size, resolution=resolution, voxel_offset=voxel_offset,
                     scales=scales, factors=factors, downsample=downsample, sharded=sharded,
                     gzip=gzip, dtype=dtype, jpeg_quality=jpeg_quality,
                     shard_bytes=shard_bytes)
    info, options = plan.info, _json(plan.options)
    storage = open_storage(output)
    if isinstance(src, PrecomputedSource) and src.volume.storage == storage:
        raise InvalidParameterError(f"{storage.url}: the output is the input dataset")
    previous = _check_output(storage, info, options, resume, overwrite)
    if previous is None and overwrite:  # -------- first write from here on
        old_keys = []
        if storage.exists("info"):
            try:
                old_keys = [s["key"] for s in _read_info(storage)["scales"]]
            except NgcodecError:
                pass
        _clean(storage, old_keys + [s["key"] for s in info["scales"]])
    _remove_temporaries(storage)
    record = _Record(storage, options, fsync)
    if previous is not None:
        record.load(previous)
    record.write()
    ds = precomputed.create(storage, info, overwrite=overwrite, fsync=fsync)
    compress = "gzip" if plan.gzip and not plan.sharded else None

    done_now = skipped = scales_skipped = 0
    voxel_bytes = plan.num_channels * plan.dtype.itemsize
    try:
        for index, s in enumerate(info["scales"]):
            key = s["key"]
            state = record.scales.setdefault(key, {})
            if state.get("complete"):
                scales_skipped += 1
                continue
            f = plan.factors[index - 1] if index else (1, 1, 1)
            read_factor = math.prod(f)
            if "unit" not in state and s.get("sharding") is None:
                state["unit"] = list(unit_shape(s["size"], s["chunk_sizes"][0],
                                                voxel_bytes * read_factor, memory // 4,
                                                plan.order if index == 0 else (2, 1, 0)))
            units = plan.units(index, state.get("unit"))
            done = record.done(key)
            skipped += len(done)
            n, d = _scale_pass(ds, plan, src, index, units, done, state, record, jobs, memory,
                               compress, progress)
            done_now += n
            state.clear()
            state["complete"] = True
            record.write()
    finally:
        if hasattr(src, "close"):
            src.close()
    stored = 0
    for s in info["scales"]:
        for k in storage.list(s["key"].strip("/") + "/"):
            stored += storage.size(k) or 0
    chunks = sum(math.prod(-(-n // c) for n, c in zip(s["size"], s["chunk_sizes"][0]))
                 for s in info["scales"])
    decoded = sum(math.prod(s["size"]) * voxel_bytes for s in info["scales"])
    return ConvertResult(path=storage.url, keys=[s["key"] for s in info["scales"]],
                         chunks=chunks, decoded_bytes=decoded, stored_bytes=stored,
                         seconds=time.monotonic() - start, units_done=done_now,
                         units_skipped=skipped, scales_skipped=scales_skipped)


def _scale_pass(ds, plan, src, index, units, done, state, record, jobs, memory, compress,
                progress):
    """Writes the units of scale *index* not in *done*; returns (units
    written, bytes decoded)."""
    info = plan.info
    s = info["scales"][index]
    key, chunk, off = s["key"], s["chunk_sizes"][0], s["voxel_offset"]
    vol = ds.scale(index, threads=jobs, compress=compress)
    C, dtype = plan.num_channels, plan.dtype
    if index:
        f = plan.factors[index - 1]
        prev = ds.scale(index - 1, mode="r", threads=1, missing="error")
        prev_size = info["scales"][index - 1]["size"]
        prev_off = info["scales"][index - 1]["voxel_offset"]
        ds_mod = downsample_module()
        read_bytes = C * dtype.itemsize * math.prod(f)
    else:
        read_bytes = C * max(src.dtype.itemsize, dtype.itemsize)
    order = plan.order if index == 0 else (2, 1, 0)
    piece_budget = max(1, memory // (4 * jobs))

    def nchunks(lo, hi):
        return math.prod(-(-(b - a) // c) for a, b, c in zip(lo, hi, chunk))

    total = sum(nchunks(lo, hi) for lo, hi in units)
    initial = sum(nchunks(*units[i]) for i in done if i < len(units))
    bar = _bar(progress, total, initial, f"scale {index} ({key})")
    pool = ThreadPoolExecutor(jobs, thread_name_prefix="ngcodec-convert")
    t0 = time.monotonic()
    written = nbytes = 0
    try:
        for i, (lo, hi) in enumerate(units):
            if i in done:
                continue
            shape = tuple(b - a for a, b in zip(lo, hi))
            buf = np.empty((C,) + shape[::-1], dtype)
            pshape = unit_shape(shape, chunk, read_bytes, piece_budget, order)
            pieces = tiles(shape, pshape, order, lo)

            def piece(p, lo=lo, buf=buf):
                plo, phi = p
                where = tuple(slice(a - u, b - u) for a, b, u in zip(plo, phi, lo))[::-1]
                if index == 0:
                    a = src.read(plo, phi)
                    buf[(slice(None),) + where] = _cast(a, dtype, src.where)
                    return
                rlo = [a * k + o for a, k, o in zip(plo, f, prev_off)]
                rhi = [min(b * k, n) + o for b, k, n, o in zip(phi, f, prev_size, prev_off)]
                a = prev.read(rlo, rhi).T  # (C, Z, Y, X)
                d = ds_mod.downsample(a, f, plan.method)
                want = (C,) + tuple(b - a for a, b in zip(plo, phi))[::-1]
                if d.shape != want:
                    raise AssertionError(f"downsample gave {d.shape}, expected {want}")
                buf[(slice(None),) + where] = d

            _run_pool(pool, piece, pieces) if len(pieces) > 1 else piece(pieces[0])
            vol.write([a + o for a, o in zip(lo, off)], [b + o for b, o in zip(hi, off)], buf.T)
            del buf
            done.add(i)
            written += 1
            nbytes += math.prod(shape) * C * dtype.itemsize
            state["done"] = _ranges(done)
            record.write()  # a few hundred bytes, next to a unit's megabytes
            if bar is not None:
                bar.update(nchunks(lo, hi))
                bar.set_postfix_str(f"{nbytes / 1e6 / max(time.monotonic() - t0, 1e-9):.1f} MB/s",
                                    refresh=False)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    return written, nbytes
