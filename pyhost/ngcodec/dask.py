"""Precomputed scales as Dask arrays, for work that one machine cannot do alone.

>>> a = ngcodec.dask.from_precomputed("/data/seg", scale=0)   # dask.array (X, Y, Z, C)
>>> ngcodec.dask.to_precomputed(a.map_blocks(f), "/data/out", scale=0)

Both work on the threaded, multiprocessing and ``distributed`` schedulers:
a task carries the dataset's path and scale, never an open Volume, and
opens the scale itself (each worker process compiles ngcodec.wasm once,
from the disk cache of :mod:`ngcodec.runtime.loader`).

The blocks follow the files. Unsharded scales: one block per chunk-aligned
region (a multiple of the chunk size), so no two tasks write one chunk file.
Sharded scales: the blocks are the cells of chunks that land in one shard
(with :func:`~ngcodec.precomputed.sharded.propose_sharding`'s parameters, a
cell is a whole shard), and :func:`to_precomputed` makes one task per shard
file, which encodes every chunk of its cells and writes the shard once.

Needs ``pip install "ngcodec[dask]"``.
"""

import math

import numpy as np

from .errors import InvalidParameterError
from . import precomputed

try:
    import dask
    import dask.array as da
except ImportError:  # pragma: no cover - the message is the point
    raise ImportError(
        'ngcodec.dask needs Dask: pip install "ngcodec[dask]"') from None

__all__ = ["from_precomputed", "to_precomputed", "block_shape"]

# Unsharded blocks grow to about this many bytes (whole chunks per axis):
# big enough that a task's overhead is small, small enough to spread work.
TARGET_BLOCK_BYTES = 64 << 20


def _open(path, scale, mode, options):
    # threads=1: Dask's workers are the parallelism.
    return precomputed.open(path, scale=scale, mode=mode, threads=1, **options)


def block_shape(vol):
    """The (x, y, z) voxels of one block of *vol*'s Dask arrays: a shard's
    cell for sharded scales, else whole chunks up to TARGET_BLOCK_BYTES."""
    cs = vol.chunk_size
    if vol.sharding is not None:
        from .precomputed.sharded import shard_cell
        cell = shard_cell(vol.scale_info, vol.sharding)
        return tuple(c * n for c, n in zip(cs, cell))
    chunk_bytes = math.prod(cs) * vol.dtype.itemsize * vol.num_channels
    n = [1, 1, 1]
    while chunk_bytes * math.prod(n) * 2 <= TARGET_BLOCK_BYTES:
        grown = False
        for axis in range(3):  # grow the axis with the fewest chunks so far
            axis = min(range(3), key=lambda a: n[a] * cs[a])
            if n[axis] * cs[axis] < vol.size[axis]:
                n[axis] *= 2
                grown = True
                break
        if not grown:
            break
    return tuple(min(c * k, s) for c, k, s in zip(cs, n, vol.size))


def _chunks(size, block):
    """Dask chunks of one axis: *block* each, the last one clipped."""
    return tuple(min(block, size - a) for a in range(0, size, block)) or (0,)


class _Reader:
    """What ``da.from_array`` slices: the scale, opened in each process."""

    def __init__(self, path, scale, options, shape, dtype):
        self.path, self.scale, self.options = path, scale, options
        self.shape, self.dtype, self.ndim = shape, dtype, 4
        self._vol = None

    def __getstate__(self):
        return {**self.__dict__, "_vol": None}

    def __getitem__(self, key):
        if self._vol is None:
            self._vol = _open(self.path, self.scale, "r", self.options)
        lo, hi = self._vol.bounds
        box_lo, box_hi = [], []
        for k, o, n in zip(key[:3], lo, self.shape):
            start, stop, _ = k.indices(n)
            box_lo.append(o + start)
            box_hi.append(o + stop)
        return np.asarray(self._vol.read(tuple(box_lo), tuple(box_hi)))[..., key[3]]


def from_precomputed(path, scale=0, **options):
    """Scale *scale* of the dataset at *path* as a ``dask.array`` of shape
    ``(X, Y, Z, C)``; index 0 is the scale's ``voxel_offset``. *options*
    open the scale in each task (``missing``, ``limits``,
    ``storage_options``...)."""
    vol = _open(path, scale, "r", options)
    block = block_shape(vol)
    reader = _Reader(path, scale, options, vol.shape, vol.dtype)
    chunks = tuple(_chunks(n, b) for n, b in zip(vol.size, block)) + ((vol.num_channels,),)
    return da.from_array(reader, chunks=chunks, asarray=False, fancy=False, lock=False,
                         name=f"ngcodec-{vol.storage.url}-{vol.key}")


def _write_region(path, scale, options, boxes, *blocks):
    """Writes each block into its box; for a sharded scale all boxes lie in
    one shard, written once."""
    vol = _open(path, scale, "r+", options)
    if vol.sharding is None:
        for (lo, hi), block in zip(boxes, blocks):
            vol.write(lo, hi, block)
        return len(boxes)
    return vol.write_boxes(boxes, blocks)


def to_precomputed(array, path, scale=0, compute=True, **options):
    """Writes *array* (``(X, Y, Z, C)``, or ``(X, Y, Z)`` for one channel,
    covering the whole scale) into scale *scale* of the existing dataset at
    *path*. The array is rechunked to the scale's blocks (:func:`block_shape`)
    where it is not aligned to them, and written with one task per block
    (unsharded) or per shard file (sharded): no two tasks write one file.
    Returns the number of boxes written, or a ``dask.delayed`` object to
    compute when *compute* is False."""
    vol = _open(path, scale, "r+", options)
    if not isinstance(array, da.Array):
        array = da.asarray(array)
    if array.ndim == 3:
        array = array[..., None]
    if array.shape != vol.shape:
        raise InvalidParameterError(
            f"the array has shape {array.shape}; scale {vol.key!r} of {vol.storage.url} is "
            f"{vol.shape} (X, Y, Z, C): to_precomputed writes whole scales")
    if not np.can_cast(array.dtype, vol.dtype, "same_kind"):
        raise InvalidParameterError(
            f"cannot write {array.dtype} values into a {vol.dtype.name} scale (cast them first)")
    block = block_shape(vol)
    array = array.rechunk(tuple(_chunks(n, b) for n, b in zip(vol.size, block)) + (-1,))
    lo0 = vol.voxel_offset
    blocks = array.to_delayed().reshape(-1)
    starts = [np.cumsum((0,) + c[:-1]) for c in array.chunks[:3]]
    boxes = []
    for ix, x in enumerate(starts[0]):
        for iy, y in enumerate(starts[1]):
            for iz, z in enumerate(starts[2]):
                lo = (lo0[0] + int(x), lo0[1] + int(y), lo0[2] + int(z))
                shape = (array.chunks[0][ix], array.chunks[1][iy], array.chunks[2][iz])
                boxes.append((lo, tuple(a + n for a, n in zip(lo, shape))))
    # to_delayed's order is C order over (x, y, z, c) blocks: the same as boxes.
    groups = [[i] for i in range(len(boxes))]
    if vol.sharding is not None:
        from .precomputed.sharded import shard_boxes
        index = {b: i for i, b in enumerate(boxes)}
        groups = [[index[b] for b in bs]
                  for bs in shard_boxes(vol.scale_info, vol.sharding).values()]
    write = dask.delayed(_write_region, pure=False)
    tasks = [write(path, scale, options, [boxes[i] for i in g], *[blocks[i] for i in g])
             for g in groups]
    total = dask.delayed(sum)(tasks)
    return total.compute() if compute else total
