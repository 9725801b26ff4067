"""One scale of a precomputed dataset as an array: ``vol[x0:x1, y0:y1, z0:z1]``.

>>> vol = ngcodec.precomputed.open("/data/fib25", scale=0, mode="r+")
>>> a = vol[0:64, 0:64, 0:32]          # (X, Y, Z, C), absolute voxel coordinates
>>> vol[0:64, 0:64, 0:32] = a + 1      # partly covered chunks: read, update, rewrite

Coordinates are absolute voxels, x first, as cloud-volume and tensorstore
index: the scale covers ``[voxel_offset, voxel_offset + size)`` and a slice's
ends are those coordinates (no Python negative indices; an omitted end is the
bound). The array returned has shape ``(X, Y, Z, C)`` and is the transpose
view of a C-order ``(C, Z, Y, X)`` buffer, the chunks' own layout: x is the
fastest-varying axis in memory. ``np.ascontiguousarray(a)`` gives an x-major
copy; ``a.T`` is the C-order ``(C, Z, Y, X)`` buffer itself.

Reading decodes the chunks of the box in parallel threads; a chunk that the
box covers whole is decoded straight from WebAssembly linear memory into its
place in the output (the codec's ``out=`` takes the sub-view), a chunk at
the box's edge into a per-task buffer, then its overlap copied. Writing
encodes in parallel likewise; the layouts (:mod:`.unsharded`,
:mod:`.sharded`) make every file write atomic.
"""

import math
import operator
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from ..errors import InvalidFormatError, InvalidParameterError, NgcodecError
from .chunks import ChunkCodec
from .info import Scale
from .shard_format import chunk_ids, chunk_position
from .sharded import ShardedStore
from .unsharded import COMPRESS, UnshardedStore

__all__ = ["Volume", "MissingChunkError", "MODES", "MISSING"]

MODES = ("r", "r+")
MISSING = ("zero", "error")

# Tasks per thread when a box is split into work units: enough that threads
# stay busy when chunks differ in cost, few enough that a task's overhead
# (tens of microseconds) stays small next to a chunk's decoding.
TASKS_PER_THREAD = 4
MAX_CHUNKS_PER_TASK = 64
# Scales of up to this many chunks have their chunks per shard counted (a few
# MB, once per Volume), so writes that cover a shard whole replace it.
MAX_COUNTED_CHUNKS = 1 << 20


class MissingChunkError(NgcodecError, FileNotFoundError):
    """A chunk the box needs does not exist, and the volume was opened with
    ``missing="error"``."""


# One executor per thread count, shared by every Volume: the runtime keeps a
# WebAssembly instance per thread, so reusing threads reuses instances.
_pools = {}
_pools_lock = threading.Lock()


def _pool(threads):
    with _pools_lock:
        pool = _pools.get(threads)
        if pool is None:
            pool = _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="ngcodec")
        return pool


def run_all(pool, fn, items):
    """``[fn(item) for item in items]`` on the executor *pool*. At the first
    error the tasks not started are cancelled, the running ones finished,
    and the error raised (so no task outlives the call)."""
    futures = [pool.submit(fn, it) for it in items]
    try:
        return [f.result() for f in futures]
    except BaseException:
        for f in futures:
            f.cancel()
        wait(futures)
        raise


class Volume:
    """One scale of a dataset (see the module's documentation).

    :param storage: the dataset's :class:`~.storage.Storage`
    :param info: the validated info (:func:`~.info.validate_info`)
    :param scale: the scale's index in ``info["scales"]``
    :param mode: ``"r"`` (writes refused) or ``"r+"``
    :param missing: ``"zero"``: absent chunks read as 0, as in Neuroglancer;
        ``"error"``: they raise :class:`MissingChunkError`
    :param threads: threads that decode and encode (default: the machine's
        cores; 1: the calling thread only)
    :param limits: :class:`~ngcodec.Limits` for every chunk and shard
    :param compress: unsharded scales: ``"gzip"`` writes ``name.gz`` chunk
        files (reading accepts both whatever this says)
    :param fsync: fsync every file written (and its directory)
    :param jpeg_quality: jpeg scales: the quality of written chunks
        (default: the scale's ``jpeg_quality``, else 95)
    """

    def __init__(self, storage, info, scale=0, mode="r", missing="zero", threads=None,
                 limits=None, compress=None, fsync=False, jpeg_quality=None):
        if mode not in MODES:
            raise InvalidParameterError(f"mode must be 'r' or 'r+', got {mode!r}")
        if missing not in MISSING:
            raise InvalidParameterError(f"missing must be 'zero' or 'error', got {missing!r}")
        if compress not in COMPRESS:
            raise InvalidParameterError(f"compress must be None or 'gzip', got {compress!r}")
        if threads is None:
            threads = os.cpu_count() or 1
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise InvalidParameterError(f"threads must be a positive integer, got {threads!r}")
        self.storage = storage
        self._scale = s = Scale(info, scale)
        self.mode = mode
        self.missing = missing
        self.threads = threads
        self.limits = limits
        self.fsync = fsync
        self.codec = ChunkCodec(s, limits=limits, jpeg_quality=jpeg_quality)
        if s.sharding is not None:
            if compress is not None:
                raise InvalidParameterError(
                    f"scale {s.key!r} is sharded: its chunks are compressed as its "
                    "sharding's data_encoding says, compress= does not apply")
            self._store = ShardedStore(storage, s.key, s.sharding, limits=limits)
            self._shard_counts = None
        else:
            self._store = UnshardedStore(storage, s, self.codec, compress=compress, fsync=fsync)

    # ------------------------------------------------------------ properties

    info = property(lambda self: self._scale.info, doc="The dataset's validated info.")
    scale_info = property(lambda self: self._scale.scale_info, doc="This scale's info dict.")
    index = property(lambda self: self._scale.index, doc="This scale's index in the info.")
    key = property(lambda self: self._scale.key)
    dtype = property(lambda self: self._scale.dtype)
    num_channels = property(lambda self: self._scale.num_channels)
    voxel_offset = property(lambda self: self._scale.voxel_offset)
    size = property(lambda self: self._scale.size)
    resolution = property(lambda self: self._scale.resolution)
    chunk_size = property(lambda self: self._scale.chunk_size)
    encoding = property(lambda self: self._scale.encoding)
    sharding = property(lambda self: self._scale.sharding, doc="The sharding dict, or None.")

    @property
    def bounds(self):
        """``((x0, y0, z0), (x1, y1, z1))``: the scale's absolute voxel box,
        upper end excluded."""
        return self._scale.lower, self._scale.upper

    @property
    def shape(self):
        """``(X, Y, Z, C)``."""
        return self._scale.size + (self._scale.num_channels,)

    def __repr__(self):
        layout = "sharded" if self.sharding else "unsharded"
        return (f"Volume({self.storage.url!r}, key={self.key!r}, shape={self.shape}, "
                f"dtype={self.dtype.name}, encoding={self.encoding!r}, {layout}, "
                f"mode={self.mode!r})")

    def _describe_bounds(self):
        lo, hi = self.bounds
        return "[" + ", ".join(f"{a}:{b}" for a, b in zip(lo, hi)) + "]"

    # ------------------------------------------------------------ indexing

    def _box(self, key):
        """``(lower, upper)`` of an index: up to 3 slices or integers (x, y,
        z), optionally a 4th ``:`` for the channels."""
        if key is Ellipsis:
            key = ()
        if not isinstance(key, tuple):
            key = (key,)
        if len(key) == 4 and key[3] == slice(None):
            key = key[:3]
        if len(key) > 3 or any(k is Ellipsis for k in key):
            raise IndexError(f"index a volume with up to 3 slices [x0:x1, y0:y1, z0:z1] "
                             f"(every channel is read), got {key!r}")
        key = key + (slice(None),) * (3 - len(key))
        lower, upper = self.bounds
        box_lo, box_hi = [], []
        for axis, k, lo, hi in zip("xyz", key, lower, upper):
            try:
                if isinstance(k, slice):
                    if k.step not in (None, 1):
                        raise InvalidParameterError(
                            f"step {k.step} on axis {axis}: only step 1 is supported (read "
                            "the box, then slice the array)")
                    a = lo if k.start is None else operator.index(k.start)
                    b = hi if k.stop is None else operator.index(k.stop)
                else:
                    a = operator.index(k)
                    b = a + 1
            except TypeError:
                raise IndexError(f"axis {axis}: expected a slice or an integer, got {k!r}") \
                    from None
            box_lo.append(a)
            box_hi.append(b)
        shown = "[" + ", ".join(f"{a}:{b}" for a, b in zip(box_lo, box_hi)) + "]"
        if any(a > b for a, b in zip(box_lo, box_hi)):
            raise IndexError(f"box {shown} has an upper end below its lower end")
        if any(a < lo or b > hi for a, b, lo, hi in zip(box_lo, box_hi, lower, upper)):
            raise IndexError(f"box {shown} is outside the bounds {self._describe_bounds()} "
                             f"of scale {self.key!r} ({self.storage.describe(self.key)})")
        return tuple(box_lo), tuple(box_hi)

    def __getitem__(self, key):
        return self.read(*self._box(key))

    def __setitem__(self, key, value):
        self._check_writable()
        self.write(*self._box(key), value)

    # ------------------------------------------------------------ chunks of a box

    def _grid_range(self, lower, upper):
        off, cs = self._scale.voxel_offset, self._scale.chunk_size
        return [range((a - o) // c, -(-(b - o) // c)) for a, b, o, c in zip(lower, upper, off, cs)]

    def _chunks(self, lower, upper):
        """Grid positions (x, y, z) of the chunks that meet the box."""
        if any(a >= b for a, b in zip(lower, upper)):
            return []
        rx, ry, rz = self._grid_range(lower, upper)
        return [(x, y, z) for z in rz for y in ry for x in rx]

    def _cids(self, grids):
        return chunk_ids(np.array(grids, dtype=np.uint64).reshape(-1, 3),
                         self._scale.grid_shape).tolist()

    @staticmethod
    def _overlap(clo, chi, lower, upper):
        """The chunk's overlap with the box: (slices in the chunk, slices
        in the box), both (C, Z, Y, X) order, and whether it is whole."""
        lo = [max(a, b) for a, b in zip(clo, lower)]
        hi = [min(a, b) for a, b in zip(chi, upper)]
        in_chunk = tuple(slice(a - c, b - c) for a, b, c in zip(lo, hi, clo))
        in_box = tuple(slice(a - c, b - c) for a, b, c in zip(lo, hi, lower))
        whole = lo == list(clo) and hi == list(chi)
        return (slice(None),) + in_chunk[::-1], (slice(None),) + in_box[::-1], whole

    def _tasks(self, items):
        """*items* cut into work units for the threads."""
        n = max(1, min(MAX_CHUNKS_PER_TASK,
                       math.ceil(len(items) / (self.threads * TASKS_PER_THREAD))))
        return [items[i:i + n] for i in range(0, len(items), n)]

    def _run(self, fn, items):
        """``[fn(item) for item in items]`` on the threads (see run_all)."""
        if self.threads == 1 or len(items) <= 1:
            return [fn(it) for it in items]
        return run_all(_pool(self.threads), fn, items)

    def _missing(self, grid, cid=None):
        """Raises MissingChunkError for the chunk at *grid*, naming its file."""
        s = self._scale
        if cid is None:
            name = self._store.name(grid)
            raise MissingChunkError(
                f"{self.storage.describe(name)}: missing chunk of scale {s.key!r} (neither "
                f"{name.rpartition('/')[2]} nor its .gz exists; open with missing='zero' to "
                "read it as 0)")
        shard, minishard = self._store.shard_of(cid)
        file = self._store.describe(shard)
        where = "the shard file does not exist" if not self.storage.exists(
            self._store.shard_key(shard)) else f"not in minishard {minishard}"
        raise MissingChunkError(
            f"{file}: missing chunk {cid} (grid position {grid}) of scale {s.key!r}: {where} "
            "(open with missing='zero' to read it as 0)")

    def _what(self, grid, cid=None):
        if cid is None:
            return self.storage.describe(self._store.name(grid))
        shard, minishard = self._store.shard_of(cid)
        return f"{self._store.describe(shard)}: minishard {minishard}: chunk {cid} at {grid}"

    def _unpack(self, grid, cid, stored):
        """A sharded chunk's bytes from its stored form (None stays None):
        gzip inflated under the most bytes a valid chunk of its shape takes."""
        if stored is None:
            return None
        return self._store.decode_data(stored, self._what(grid, cid),
                                       self.codec.max_encoded(self._scale.chunk_shape(grid)))

    def _decode(self, data, grid, cid=None, out=None, part=None):
        return self.codec.decode(data, self._scale.chunk_shape(grid), out=out,
                                 what=self._what(grid, cid), part=part)

    # ------------------------------------------------------------ reading

    def read(self, lower, upper, out=None):
        """The box ``[lower, upper)`` (absolute voxels, x first, inside the
        bounds) as an ``(X, Y, Z, C)`` array: the transpose view of a new
        C-order ``(C, Z, Y, X)`` buffer, or *out* (a writable ``(X, Y, Z, C)``
        array of the scale's dtype, any layout: decoded straight into it)."""
        self._check_box(lower, upper)
        shape = tuple(b - a for a, b in zip(lower, upper))
        if out is None:
            buf = np.zeros((self.num_channels,) + shape[::-1], dtype=self.dtype)
        else:
            buf = self._out(out, shape + (self.num_channels,)).transpose(3, 2, 1, 0)
        grids = self._chunks(lower, upper)

        def place(grid, data, cid=None):
            if data is None:
                if self.missing == "error":
                    self._missing(grid, cid)
                if out is not None:  # a new buf is zeros already
                    clo, chi = self._scale.chunk_box(grid)
                    buf[self._overlap(clo, chi, lower, upper)[1]] = 0
                return
            clo, chi = self._scale.chunk_box(grid)
            in_chunk, in_box, whole = self._overlap(clo, chi, lower, upper)
            if whole:  # one copy: linear memory -> its place in buf
                self._decode(data, grid, cid, out=buf[in_box])
            else:
                self._decode(data, grid, cid, out=buf[in_box], part=in_chunk)

        if self.sharding is None:
            def task(batch):
                for g in batch:
                    place(g, self._store.get(g))
            self._run(task, self._tasks(grids))
        else:
            pairs = list(zip(grids, self._cids(grids)))

            def task(batch):
                # Stored bytes for the batch, inflated one chunk at a time:
                # a thread holds one decoded chunk's bytes, not a batch's.
                found = self._store.get_many([c for _, c in batch], stored=True)
                for g, c in batch:
                    place(g, self._unpack(g, c, found.pop(c, None)), c)
            self._run(task, self._shard_tasks(pairs))
        return out if out is not None else buf.transpose(3, 2, 1, 0)

    def _out(self, out, shape):
        if not isinstance(out, np.ndarray):
            raise InvalidParameterError(f"out must be a NumPy array, got {type(out).__name__}")
        if out.shape != shape or out.dtype != self.dtype:
            raise InvalidParameterError(
                f"out has shape {out.shape} and dtype {out.dtype}; the box needs shape {shape} "
                f"(X, Y, Z, C) and dtype {self.dtype.name}")
        if not out.flags.writeable:
            raise InvalidParameterError("out is read-only")
        return out

    def _check_box(self, lower, upper):
        """read() and write() called directly get the checks indexing has."""
        if len(lower) != 3 or len(upper) != 3:
            raise InvalidParameterError(f"lower and upper are (x, y, z) voxel corners, got "
                                        f"{tuple(lower)!r} and {tuple(upper)!r}")
        self._box(tuple(slice(a, b) for a, b in zip(lower, upper)))

    def _shard_tasks(self, pairs):
        """Work units of ``(grid, chunk id)`` pairs, each within one shard (so
        one get_many reads each index once)."""
        by_shard = {}
        if pairs:
            shards, _ = self._store.spec.locate_array(np.array([c for _, c in pairs], np.uint64))
            for p, s in zip(pairs, shards.tolist()):
                by_shard.setdefault(s, []).append(p)
        tasks = []
        n = max(1, min(MAX_CHUNKS_PER_TASK,
                       math.ceil(len(pairs) / (self.threads * TASKS_PER_THREAD))))
        for _, group in sorted(by_shard.items()):
            tasks.extend(group[i:i + n] for i in range(0, len(group), n))
        return tasks

    # ------------------------------------------------------------ writing

    def _value(self, value, shape):
        """*value* as an (X, Y, Z, C) array of *shape* (broadcast, not copied)."""
        a = np.asarray(value)
        dtype = self.dtype
        if a.dtype != dtype:
            if a.dtype.kind in "biu" and dtype.kind in "iu":
                if a.size and not np.can_cast(a.dtype, dtype):
                    info = np.iinfo(dtype)
                    lo, hi = a.min(), a.max()
                    if lo < info.min or hi > info.max:
                        raise InvalidParameterError(
                            f"values in [{lo}, {hi}] do not fit the scale's {dtype.name}")
            elif not np.can_cast(a.dtype, dtype, "same_kind"):
                raise InvalidParameterError(
                    f"cannot write {a.dtype} values into a {dtype.name} scale (cast them first)")
        if a.ndim == 3:
            a = a[..., None]
        try:
            return np.broadcast_to(a, shape)
        except ValueError:
            raise InvalidParameterError(
                f"cannot write an array of shape {np.shape(value)} into a box of shape {shape} "
                "(X, Y, Z, C); give (X, Y, Z), (X, Y, Z, C) or a scalar") from None

    def _check_writable(self):
        if self.mode != "r+":
            raise InvalidParameterError(
                f"scale {self.key!r} of {self.storage.url} is open read-only (mode='r'); "
                "open it with mode='r+' to write")

    def write(self, lower, upper, value):
        """Writes *value* (shape ``(X, Y, Z)``, ``(X, Y, Z, C)`` or anything
        that broadcasts to the box, e.g. a scalar) into the box ``[lower,
        upper)``. Chunks that the box covers partly are read (absent ones as
        0, whatever ``missing`` says), updated and rewritten."""
        self._check_writable()
        self._check_box(lower, upper)
        shape = tuple(b - a for a, b in zip(lower, upper)) + (self.num_channels,)
        src = self._value(value, shape).transpose(3, 2, 1, 0)  # (C, Z, Y, X) view
        grids = self._chunks(lower, upper)
        dtype = self.dtype

        def chunk(grid, old):
            """The new (C, Z, Y, X) content of the chunk at *grid*; *old*
            gives its current bytes (called only when the box covers it
            partly)."""
            clo, chi = self._scale.chunk_box(grid)
            in_chunk, in_box, whole = self._overlap(clo, chi, lower, upper)
            if whole:
                return src[in_box].astype(dtype, copy=False)
            data = old()
            if data is None:
                cshape = tuple(b - a for a, b in zip(clo, chi))
                a = np.zeros((self.num_channels,) + cshape[::-1], dtype=dtype)
            else:
                a = self._decode(data, grid, self._cid_of(grid))
            a[in_chunk] = src[in_box]
            return a

        if self.sharding is None:
            def task(batch):
                for g in batch:
                    self._store.put(g, self.codec.encode(chunk(g, lambda: self._store.get(g))))
            self._run(task, self._tasks(grids))
            return
        self._write_sharded(grids, chunk, lambda g: self._overlap(
            *self._scale.chunk_box(g), lower, upper)[2])

    def write_boxes(self, boxes, values):
        """Writes each of *values* into its box of *boxes* (as :meth:`write`
        takes them), in one pass: every shard file the boxes meet is written
        once. The boxes must not overlap and must be aligned to the chunk
        grid (every chunk they meet covered whole by one of them), as the
        blocks of :mod:`ngcodec.dask` are."""
        self._check_writable()
        owner, sources = {}, []
        for i, ((lower, upper), value) in enumerate(zip(boxes, values)):
            self._check_box(lower, upper)
            shape = tuple(b - a for a, b in zip(lower, upper)) + (self.num_channels,)
            sources.append(self._value(value, shape).transpose(3, 2, 1, 0))
            for g in self._chunks(lower, upper):
                clo, chi = self._scale.chunk_box(g)
                if not self._overlap(clo, chi, lower, upper)[2]:
                    raise InvalidParameterError(
                        f"box {lower}..{upper} covers the chunk {clo}..{chi} only partly: "
                        "write_boxes takes boxes aligned to the chunk grid")
                if g in owner:
                    raise InvalidParameterError(f"boxes {owner[g][1]} and {lower} overlap")
                owner[g] = (i, lower)
        dtype = self.dtype

        def chunk(grid, old):
            i, lower = owner[grid]
            clo, chi = self._scale.chunk_box(grid)
            box = (slice(None),) + tuple(slice(a - o, b - o) for a, b, o in
                                         zip(clo, chi, lower))[::-1]
            return sources[i][box].astype(dtype, copy=False)

        grids = list(owner)
        if self.sharding is None:
            def task(batch):
                for g in batch:
                    self._store.put(g, self.codec.encode(chunk(g, None)))
            self._run(task, self._tasks(grids))
        else:
            self._write_sharded(grids, chunk, lambda g: True)
        return len(boxes)

    def _cid_of(self, grid):
        return self._cids([grid])[0] if self.sharding is not None else None

    def _write_sharded(self, grids, chunk, whole_chunk):
        """Shards in batches of whole shards (every chunk the box has in a
        shard goes in one write_shards call, so each shard file is written
        once): chunks encoded on the threads, then the shards written. A
        shard whose every chunk the box covers whole is replaced, not merged
        (so rewriting it repairs a damaged one)."""
        pairs = list(zip(grids, self._cids(grids)))
        counts = self._chunks_per_shard()
        for batch in self._shard_batches(pairs):
            partial = {c for g, c, _ in batch if not whole_chunk(g)}
            old = self._store.get_many(sorted(partial), stored=True) if partial else {}

            def encode(item):
                # data_encoding (gzip) applied here, on the threads, so only
                # stored bytes outlive the task
                g, c, _ = item
                new = chunk(g, lambda: self._unpack(g, c, old.pop(c, None)))
                return self._store.encode_data(self.codec.encode(new))

            encoded = self._run(encode, batch)
            in_shard = {}
            for _, c, s in batch:
                in_shard[s] = in_shard.get(s, 0) + (c not in partial)
            whole = {s for s, n in in_shard.items() if counts is not None and counts.get(s) == n}
            for replace in (True, False):
                part = {c: e for (_, c, s), e in zip(batch, encoded) if (s in whole) == replace}
                if part:
                    self._store.write_shards(part, fsync=self.fsync, stored=True,
                                             replace=replace)

    def _chunks_per_shard(self):
        """``{shard: how many of the scale's chunks it holds}``, or None for
        scales of more than MAX_COUNTED_CHUNKS chunks (not counted: their
        whole-shard writes merge, which is only slower)."""
        if self._shard_counts is None:
            grid = self._scale.grid_shape
            if math.prod(grid) > MAX_COUNTED_CHUNKS:
                self._shard_counts = False
            else:
                pos = np.stack(np.meshgrid(*(np.arange(n, dtype=np.uint64) for n in grid),
                                           indexing="ij"), -1).reshape(-1, 3)
                shards, _ = self._store.spec.locate_array(chunk_ids(pos, grid))
                u, n = np.unique(shards, return_counts=True)
                self._shard_counts = dict(zip(u.tolist(), n.tolist()))
        return self._shard_counts or None

    def _shard_batches(self, pairs):
        """*pairs* grouped by shard as ``(grid, chunk id, shard)``, shards
        joined into batches of at least a few chunks per thread (a shard is
        never split)."""
        by_shard = {}
        if pairs:
            shards, _ = self._store.spec.locate_array(np.array([c for _, c in pairs], np.uint64))
            for (g, c), s in zip(pairs, shards.tolist()):
                by_shard.setdefault(s, []).append((g, c, s))
        batches, current = [], []
        for _, group in sorted(by_shard.items()):
            current.extend(group)
            if len(current) >= self.threads * TASKS_PER_THREAD:
                batches.append(current)
                current = []
        if current:
            batches.append(current)
        return batches

    # ------------------------------------------------------------ questions

    def _question_box(self, box):
        if box is None:
            return self.bounds
        try:
            lower, upper = box
        except (TypeError, ValueError):
            raise InvalidParameterError(
                f"box must be ((x0, y0, z0), (x1, y1, z1)), got {box!r}") from None
        lower, upper = tuple(lower), tuple(upper)
        self._check_box(lower, upper)
        return lower, upper

    def _ask(self, lower, upper, question):
        """``question(data, grid, cid, part)`` for every stored chunk that
        meets the box (part: None when the box covers the chunk whole), on
        the threads. Returns ``(answers, absent)``: *absent* counts the
        chunks of the box that are not stored (``missing="error"`` raises
        instead)."""
        grids = self._chunks(lower, upper)
        answers = []

        def ask(grid, data, cid=None):
            if data is None:
                if self.missing == "error":
                    self._missing(grid, cid)
                return
            in_chunk, _, whole = self._overlap(*self._scale.chunk_box(grid), lower, upper)
            answers.append(question(data, grid, cid, None if whole else in_chunk))

        if self.sharding is None:
            def task(batch):
                for g in batch:
                    ask(g, self._store.get(g))
            self._run(task, self._tasks(grids))
        else:
            def task(batch):
                found = self._store.get_many([c for _, c in batch], stored=True)
                for g, c in batch:
                    ask(g, self._unpack(g, c, found.pop(c, None)), c)
            self._run(task, self._shard_tasks(list(zip(grids, self._cids(grids)))))
        return answers, len(grids) - len(answers)

    def labels(self, box=None):
        """The sorted unique labels of each channel in *box* (``(lower,
        upper)``, default: the whole scale): a list of arrays, one per
        channel. compressed_segmentation chunks that the box covers whole
        are answered from their tables and packed indices, the others from
        the blocks the box meets. Absent chunks count as label 0 only when
        ``missing="zero"`` and the box meets one."""
        lower, upper = self._question_box(box)

        def question(data, grid, cid, part):
            return self.codec.labels(data, self._scale.chunk_shape(grid),
                                     self._what(grid, cid), part)

        answers, absent = self._ask(lower, upper, question)
        found = [[a[c] for a in answers] for c in range(self.num_channels)]
        if absent:  # absent chunks read as 0
            for f in found:
                f.append(np.zeros(1, self.dtype))
        return [np.unique(np.concatenate(f)) if f else np.zeros(0, self.dtype) for f in found]

    def contains(self, label, box=None):
        """Whether a voxel in *box* (default: the whole scale) holds *label*
        (an int, or a sequence: any of them), in any channel."""
        from .._labels import label_set
        what = f"scale {self.key!r} contains"
        wanted = label_set(label, self.dtype, what).astype(self.dtype)
        lower, upper = self._question_box(box)

        def question(data, grid, cid, part):
            return self.codec.contains(data, self._scale.chunk_shape(grid), wanted,
                                       self._what(grid, cid), part)

        answers, absent = self._ask(lower, upper, question)
        if absent and wanted.size and wanted[0] == 0:
            return True  # an absent chunk reads as 0
        return any(answers)

    def remap(self, mapping, output, preserve_missing_labels=False, **options):
        """Writes this scale with every label replaced by ``mapping[label]``
        (a dict, or a pair ``(keys, values)``) into the same scale of the
        dataset at *output* (created with this dataset's info if it has no
        info; an existing one must be equal). compressed_segmentation chunks
        have their tables rewritten without decoding a voxel; other
        encodings are decoded, mapped and encoded. A label that the mapping
        lacks raises InvalidParameterError unless *preserve_missing_labels*:
        nothing of that chunk or shard is written, and when *output* is this
        dataset itself (remapped in place) every label is checked before
        anything is written; into another dataset, chunks done before the
        error stay. Each chunk file (or shard) is written atomically, on the
        threads. *options* open the output scale (e.g.
        ``compress="gzip"``). Returns the output :class:`Volume`."""
        from .._labels import mapping as prepare, not_mapped
        from .dataset import create
        what = f"scale {self.key!r} remap"
        keys_values = prepare(mapping, self.dtype, what)
        options.setdefault("threads", self.threads)
        options.setdefault("limits", self.limits)
        target = create(output, self.info).scale(self.key, mode="r+", **options)
        if not preserve_missing_labels and target.storage.url == self.storage.url:
            # In place, a label found missing half way would leave the
            # dataset half remapped: every label is checked first.
            keys = keys_values[0].astype(self.dtype)

            def lacking(data, grid, cid, part):
                labels = np.concatenate(self.codec.labels(
                    data, self._scale.chunk_shape(grid), self._what(grid, cid)))
                return labels[~np.isin(labels, keys)]

            missing = np.concatenate([np.zeros(0, self.dtype)] +
                                     self._ask(*self.bounds, lacking)[0])
            if missing.size:
                raise not_mapped(f"{what} (in place: nothing written)", int(missing.min()))

        def remapped(data, grid, cid=None):
            return self.codec.remap(data, self._scale.chunk_shape(grid), keys_values,
                                    preserve_missing_labels, self._what(grid, cid))

        if self.sharding is None:
            names = {}
            for key in self.storage.list(f"{self.key}/"):
                name = key[len(self.key) + 1:]
                grid = self._scale.grid_of(name[:-3] if name.endswith(".gz") else name)
                if grid is not None:
                    names[grid] = True

            def task(batch):
                for g in batch:
                    data = self._store.get(g)
                    if data is not None:
                        target._store.put(g, remapped(data, g))
            self._run(task, self._tasks(sorted(names, key=lambda g: g[::-1])))
        else:
            store, out_store = self._store, target._store

            def task(shard):
                new = {}
                for cid, stored in store.iter_shard(shard, stored=True):
                    grid = chunk_position(cid, self._scale.grid_shape)
                    if grid is None:
                        raise InvalidFormatError(
                            f"{store.describe(shard)}: chunk {cid} is not on the grid "
                            f"{self._scale.grid_shape} of scale {self.key!r}")
                    data = self._unpack(grid, cid, stored)
                    new[cid] = out_store.encode_data(remapped(data, grid, cid))
                out_store.write_shards(new, fsync=target.fsync, stored=True, replace=True,
                                       threads=1)
            self._run(task, store.list_shards())
        return target

