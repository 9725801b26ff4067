"""The conversion itself: pass by pass, unit by unit, with a progress
record that ``resume=True`` continues from.

A *unit* is the box one :meth:`~ngcodec.precomputed.Volume.write` call
writes: a shard on sharded scales, a chunk-aligned box of at most
``memory / 4`` bytes otherwise. A *pass* writes a scale from its input
(scale 0 from the source, a later one from the scale before as stored) and,
as igneous does, the following scales whose units nest (each made of whole
units of the scale before), downsampling each unit into its parent as soon
as it is written (:func:`_levels` chooses them, :class:`_Chain` writes
them). A unit read from the input is filled in *pieces* (chunk-aligned
sub-boxes of at most ``memory / (4 * jobs)`` bytes of what they read),
``jobs`` pieces at a time on threads; units are encoded on ``jobs`` threads.

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
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import precomputed
from ..errors import InvalidParameterError, NgcodecError
from ..precomputed.dataset import _read_info
from ..precomputed.info import InfoExistsError
from ..precomputed.storage import LocalStorage, is_temporary, open_storage
from ..precomputed.volume import run_all
from .inputs import INSTALL, PrecomputedSource, open_source
from .plan import (DEFAULT_MEMORY, downsample_module, make_plan, nest, parent_unit_shape,
                   tiles, unit_shape)

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


def _bar(progress, total, initial, desc, position=0):
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
                dynamic_ncols=True, mininterval=0.2, leave=True, position=position)


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
            shard_bytes=None, progress=None, fsync=False, dask=None):
    """Converts *source* into a multi-scale precomputed dataset at *output*;
    returns a :class:`ConvertResult`. See docs/CONVERT.md for every option.

    *source*: a NumPy array, a ``.npy`` path, a TIFF file or folder of
    TIFF slices, a NIfTI file, a zarr array (path or object), or a
    precomputed dataset (a path or URL with an info file).

    *dask*: the address of a running ``distributed`` scheduler (or a
    ``distributed.Client``): every unit of every scale becomes a task there
    (a unit is a whole shard or a chunk-aligned box, so no two tasks write
    one file), while this process keeps the record and the progress bar.
    The output must be a path the workers can reach.
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

    remote = _dask_client(dask, source, axes, kind, source_scale)
    owned = bool(remote) and remote[0] is not dask  # a client made here is closed here
    done_now = skipped = scales_skipped = 0
    voxel_bytes = plan.num_channels * plan.dtype.itemsize
    workers = max(1, len(remote[0].scheduler_info()["workers"])) if remote else 0
    try:
        index = 0
        while index < len(info["scales"]):
            if record.scales.setdefault(info["scales"][index]["key"], {}).get("complete"):
                scales_skipped += 1
                index += 1
                continue
            levels = _levels(plan, record, index, memory, voxel_bytes, workers)
            dones = [record.done(info["scales"][i]["key"]) for i, _, _ in levels]
            skipped += sum(len(d) for d in dones)
            record.write()
            done_now += _pass(ds, plan, src, levels, dones, record, jobs, memory, compress,
                              progress, *remote)
            for i, _, _ in levels:
                state = record.scales[info["scales"][i]["key"]]
                state.clear()
                state["complete"] = True
            record.write()
            index += len(levels)
    finally:
        if hasattr(src, "close"):
            src.close()
        if owned:
            remote[0].close()
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


def _dask_client(dask, source, axes, kind, source_scale):
    """``(client, source_args)`` for the Dask path, or ``()``."""
    if dask is None:
        return ()
    try:
        from distributed import Client
    except ImportError:
        raise ImportError('ngcodec convert --dask needs distributed: '
                          'pip install "ngcodec[dask]"') from None
    client = dask if isinstance(dask, Client) else Client(dask, set_as_default=False)
    if isinstance(source, np.ndarray):  # sent to the workers once, not per task
        source = client.scatter(source, broadcast=True)
    return client, (source, axes, kind, source_scale)


class _UnitWriter:
    """Fills and writes the units of one scale: scale 0 from the source,
    the others downsampled from the scale before, as written."""

    def __init__(self, ds, plan, src, index, jobs, memory, compress):
        info = plan.info
        s = info["scales"][index]
        self.plan, self.src, self.index = plan, src, index
        self.chunk, self.off = s["chunk_sizes"][0], s["voxel_offset"]
        self.vol = ds.scale(index, threads=jobs, compress=compress)
        C, dtype = plan.num_channels, plan.dtype
        if index:
            self.f = plan.factors[index - 1]
            self.prev = ds.scale(index - 1, mode="r", threads=1, missing="error")
            self.prev_size = info["scales"][index - 1]["size"]
            self.prev_off = info["scales"][index - 1]["voxel_offset"]
            self.ds_mod = downsample_module()
            self.read_bytes = C * dtype.itemsize * math.prod(self.f)
        else:
            self.read_bytes = C * max(src.dtype.itemsize, dtype.itemsize)
        self.order = plan.order if index == 0 else (2, 1, 0)
        self.piece_budget = max(1, memory // (4 * jobs))
        if index == 0 and src.description.get("kind") in ("npy", "array"):
            # One read a unit: a .npy box is one preadv, an array a view, and
            # the unit then goes to the encoders without another copy.
            self.piece_budget = max(1, memory // 4)

    def nchunks(self, lo, hi):
        return math.prod(-(-(b - a) // c) for a, b, c in zip(lo, hi, self.chunk))

    def _piece(self, buf, lo, p):
        """Fills piece *p* of the unit at *lo* into *buf*, or returns it as
        a (C, Z, Y, X) array (any layout) when *buf* is None."""
        plan, f = self.plan, getattr(self, "f", None)
        plo, phi = p
        where = tuple(slice(a - u, b - u) for a, b, u in zip(plo, phi, lo))[::-1]
        if self.index == 0:
            a = _cast(self.src.read(plo, phi), plan.dtype, self.src.where)
            if buf is None:
                return a
            buf[(slice(None),) + where] = a
            return
        rlo = [a * k + o for a, k, o in zip(plo, f, self.prev_off)]
        rhi = [min(b * k, n) + o for b, k, n, o in zip(phi, f, self.prev_size, self.prev_off)]
        a = self.prev.read(rlo, rhi).T  # (C, Z, Y, X)
        d = self.ds_mod.downsample(a, f, plan.method)
        want = (plan.num_channels,) + tuple(b - a for a, b in zip(plo, phi))[::-1]
        if d.shape != want:
            raise AssertionError(f"downsample gave {d.shape}, expected {want}")
        if buf is None:
            return d
        buf[(slice(None),) + where] = d

    def fill(self, lo, hi, pool=None):
        """The unit [lo, hi) (relative to the scale's offset) as a (C, Z,
        Y, X) array, filled in pieces (on *pool* when given). A unit of one
        piece is returned as it was read or downsampled (each chunk's encode
        copies its part once)."""
        shape = tuple(b - a for a, b in zip(lo, hi))
        pshape = unit_shape(shape, self.chunk, self.read_bytes, self.piece_budget, self.order)
        pieces = tiles(shape, pshape, self.order, lo)
        if len(pieces) == 1:
            return self._piece(None, lo, pieces[0])
        buf = np.empty((self.plan.num_channels,) + shape[::-1], self.plan.dtype)
        if pool is not None:
            run_all(pool, lambda p: self._piece(buf, lo, p), pieces)
        else:
            for p in pieces:
                self._piece(buf, lo, p)
        return buf

    def store(self, lo, hi, buf):
        """Writes the (C, Z, Y, X) *buf* as the unit [lo, hi)."""
        self.vol.write([a + o for a, o in zip(lo, self.off)],
                       [b + o for b, o in zip(hi, self.off)], buf.T)


def _levels(plan, record, index, memory, voxel_bytes, workers):
    """The scales written in one pass from scale *index*: ``[(scale, units,
    children)]``, *index* first. Each unit of a later scale is made from
    whole units of the scale before it (``children[u]`` lists them),
    downsampled in memory as they are written (igneous's way), instead of
    reading that scale back (for JPEG: from the voxels before encoding, so
    the lower scales do not add JPEG's loss to JPEG's loss). A unit of the
    last scale is always made whole from the bottom, so a resumed or Dask
    conversion makes the same bytes. The shapes chosen are kept in the
    record, so a resumed conversion cuts the work the same way."""
    scales = plan.info["scales"]
    state = record.scales[scales[index]["key"]]
    read_factor = math.prod(plan.factors[index - 1]) if index else 1
    if "unit" not in state and scales[index].get("sharding") is None:
        budget = memory // 4
        if workers:  # units small enough that every worker gets several
            budget = min(budget, math.prod(scales[index]["size"]) * voxel_bytes * read_factor
                         // (4 * workers))
        state["unit"] = list(unit_shape(scales[index]["size"], scales[index]["chunk_sizes"][0],
                                        voxel_bytes * read_factor, budget,
                                        plan.order if index == 0 else (2, 1, 0)))
    levels = [(index, plan.units(index, state.get("unit")), None)]
    shapes = [state.get("unit")]  # unit shapes (None: shards)
    decide = "chain" not in state
    held = 0
    while index + len(levels) < len(scales) and (decide or len(levels) <= state["chain"]):
        j = index + len(levels) - 1
        child, parent = scales[j], scales[j + 1]
        pstate = record.scales.setdefault(parent["key"], {})
        if not decide:
            shape = pstate.get("unit")
        elif parent.get("sharding") is not None:
            shape = None
        elif shapes[-1] is None:  # sharded child, unsharded parent: no nesting shape
            break
        else:
            shape = parent_unit_shape(shapes[-1], plan.factors[j], parent["chunk_sizes"][0],
                                      parent["size"], child["size"])
            if shape is None:
                break
        units = plan.units(j + 1, shape)
        kids = nest(levels[-1][1], units, plan.factors[j], child["size"])
        if kids is None:
            if not decide:
                raise InvalidParameterError(f"{record.storage.url}: the conversion record's "
                                            "units do not nest; pass overwrite=True "
                                            "(--overwrite) to start over")
            break
        if decide:
            biggest = max(math.prod(b - a for a, b in zip(lo, hi)) for lo, hi in units)
            if held + biggest * voxel_bytes > memory // 4 or \
                    (workers and len(units) < 2 * workers):
                break
            held += biggest * voxel_bytes
            if shape is not None:
                pstate["unit"] = list(shape)
        levels.append((j + 1, units, kids))
        shapes.append(shape)
    state["chain"] = len(levels) - 1
    return levels


class _Chain:
    """Writes the units of the scales of one pass (see :func:`_levels`),
    each unit of the last scale with the units it is made of, bottom up."""

    def __init__(self, ds, plan, src, scales, jobs, memory, compress):
        self.plan, self.scales = plan, scales
        self.writers = [_UnitWriter(ds, plan, src, i, jobs, memory, compress) for i in scales]
        self.ds_mod = downsample_module() if len(scales) > 1 else None
        self.jobs = jobs

    def make(self, tree, pool, finished):
        """Writes the unit *tree* ``(level, index, lo, hi, done, subtrees)``
        (its subtrees first) unless done, calling ``finished(level, index,
        bytes)`` after each write; returns its (C, Z, Y, X) content."""
        level, i, lo, hi, done, subtrees = tree
        w = self.writers[level]
        if not subtrees:
            buf = w.fill(lo, hi, pool)
        else:
            buf = np.empty((self.plan.num_channels,) + tuple(b - a for a, b in zip(lo, hi))[::-1],
                           self.plan.dtype)
            f = self.plan.factors[self.scales[level] - 1]
            for sub in subtrees:
                self._downsample_into(buf, lo, self.make(sub, pool, finished), sub[2], f, pool)
        if not done:
            w.store(lo, hi, buf)
            finished(level, i, buf.size * buf.itemsize)
        return buf

    def _downsample_into(self, buf, lo, part, part_lo, f, pool):
        """Downsamples *part* (whose box starts at *part_lo*, a multiple of
        *f*, one scale finer) into its place in *buf* (the unit at *lo*),
        in z slabs on *pool*."""
        z = part.shape[1]
        step = max(f[2], -(-z // (self.jobs * f[2])) * f[2]) if pool is not None else z
        slabs = [(z0, min(z, z0 + step)) for z0 in range(0, z, step)]

        def slab(zz):
            z0, z1 = zz
            d = self.ds_mod.downsample(part[:, z0:z1], f, self.plan.method)
            at = [a // k - b for a, k, b in zip(part_lo, f, lo)]
            at[2] += z0 // f[2]
            buf[(slice(None),) + tuple(slice(a, a + n) for a, n in
                                       zip(at, d.shape[:0:-1]))[::-1]] = d

        if pool is None or len(slabs) == 1:
            for zz in slabs:
                slab(zz)
        else:
            run_all(pool, slab, slabs)


def _tree(levels, dones, level, i):
    """The unit *i* of *levels[level]* with the units it is made of."""
    lo, hi = levels[level][1][i]
    subs = [_tree(levels, dones, level - 1, c) for c in levels[level][2][i]] if level else []
    return (level, i, lo, hi, i in dones[level], subs)


# Per worker process: the last pass's writers (opening the dataset and the
# source once per pass, not once per unit).
_worker_chain = {}


def _remote_unit(output, plan, source_args, scales, memory, compress, tree):
    """One unit of a pass's last scale with the units it is made of, in a
    Dask worker (jobs=1: the workers are the parallelism); returns
    ``[(level, index, bytes)]`` of the units written."""
    key = (str(output), tuple(scales), json.dumps(plan.info, sort_keys=True))
    chain = _worker_chain.get("chain") if _worker_chain.get("key") == key else None
    if chain is None:
        src = open_source(*source_args) if scales[0] == 0 else None
        ds = precomputed.open_dataset(output, mode="r+")
        chain = _Chain(ds, plan, src, scales, 1, memory, compress)
        _worker_chain.update(key=key, chain=chain)
    written = []
    chain.make(tree, None, lambda level, i, n: written.append((level, i, n)))
    return written


def _pass(ds, plan, src, levels, dones, record, jobs, memory, compress, progress, client=None,
          source_args=None):
    """Writes the units of the scales *levels* (from :func:`_levels`) not
    in *dones*, on local threads or as tasks of the Dask *client*; returns
    how many units it wrote."""
    info = plan.info
    scales = [i for i, _, _ in levels]
    chain = _Chain(ds, plan, src if scales[0] == 0 else None, scales, jobs, memory, compress)
    bars, counts = [], []
    for level, (index, units, _) in enumerate(levels):
        w = chain.writers[level]
        counts.append([w.nchunks(lo, hi) for lo, hi in units])
        bars.append(_bar(progress, sum(counts[-1]),
                         sum(counts[-1][i] for i in dones[level] if i < len(units)),
                         f"scale {index} ({info['scales'][index]['key']})", level))
    t0 = time.monotonic()
    written, nbytes = 0, [0] * len(levels)

    def finished(level, i, n):
        nonlocal written
        dones[level].add(i)
        written += 1
        nbytes[level] += n
        record.scales[info["scales"][scales[level]]["key"]]["done"] = _ranges(dones[level])
        record.write()  # a few hundred bytes, next to a unit's megabytes
        bar = bars[level]
        if bar is not None:
            bar.update(counts[level][i])
            bar.set_postfix_str(f"{nbytes[level] / 1e6 / max(time.monotonic() - t0, 1e-9):.1f}"
                                " MB/s", refresh=False)

    top = len(levels) - 1
    todo = [_tree(levels, dones, top, i) for i in range(len(levels[top][1]))
            if i not in dones[top]]
    try:
        if client is None:
            with ThreadPoolExecutor(jobs, thread_name_prefix="ngcodec-convert") as pool:
                for tree in todo:
                    chain.make(tree, pool, finished)
        else:
            from distributed import as_completed
            futures = [client.submit(_remote_unit, ds.storage.url, plan, source_args, scales,
                                     memory, compress, tree, pure=False) for tree in todo]
            try:
                with client.as_current():
                    for future in as_completed(futures):
                        for level, i, n in future.result():
                            finished(level, i, n)
            except BaseException:
                client.cancel(futures)
                raise
    finally:
        for bar in bars:
            if bar is not None:
                bar.close()
    return written
