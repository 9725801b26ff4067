"""compressed_segmentation as a zarr-python 3 array-to-bytes codec.

>>> zarr.create_array(store, shape=(256, 512, 512), chunks=(64, 64, 64), dtype="uint64",
...                   serializer={"name": "ngcodec.compressed_segmentation",
...                               "configuration": {"block_shape": [8, 8, 8]}},
...                   compressors=[{"name": "zstd", "configuration": {"level": 3}}])

The array's last three axes are z, y, x; an optional fourth, leading axis is
the channel. Each encoded chunk is exactly Neuroglancer's compressed_segmentation
chunk (no header: zarr's metadata gives shape and dtype), so a precomputed
chunk and a zarr chunk of the same labels are interchangeable bytes.

Partial decoding: when this codec is the whole chain (alone in an array, or
as the inner codec of ``sharding_indexed``), reading part of a chunk decodes
only the blocks that part touches (:func:`ngcodec.compressed_segmentation.read_box`).
With bytes-to-bytes codecs after it, zarr decodes whole chunks, as it does
for every codec. docs/ZARR.md specifies the codec.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
from zarr.abc.codec import ArrayBytesCodec, ArrayBytesCodecPartialDecodeMixin
from zarr.core.common import parse_named_configuration

from .. import compressed_segmentation as cseg
from . import _common

__all__ = ["CompressedSegmentationCodec", "NAME"]

NAME = "ngcodec.compressed_segmentation"
_WHAT = f"zarr codec {NAME}"

# Partial reads of at most this many voxels (the bounding box, every channel:
# read_box decodes them all)
# decode on the event loop's thread; larger ones in a worker thread, so
# that the chunks of one read decode in parallel.
INLINE_VOXELS = 1 << 16


@dataclass(frozen=True)
class CompressedSegmentationCodec(ArrayBytesCodecPartialDecodeMixin, ArrayBytesCodec):
    """Neuroglancer's compressed_segmentation for uint32/uint64 arrays of
    3 axes (z, y, x) or 4 (c, z, y, x). *block_shape* is (z, y, x)."""

    is_fixed_size = False

    block_shape: tuple[int, int, int] = _common.DEFAULT_BLOCK_SHAPE

    def __init__(self, *, block_shape=_common.DEFAULT_BLOCK_SHAPE) -> None:
        object.__setattr__(self, "block_shape", _common.block_shape(block_shape, _WHAT))

    @classmethod
    def from_dict(cls, data):
        _, configuration = parse_named_configuration(data, NAME, require_configuration=False)
        configuration = dict(configuration or {})
        unknown = set(configuration) - {"block_shape"}
        if unknown:
            raise ValueError(f"{_WHAT}: unknown configuration keys {sorted(unknown)}")
        return cls(**configuration)

    def to_dict(self):
        return {"name": NAME, "configuration": {"block_shape": list(self.block_shape)}}

    @property
    def _block_size(self):
        bz, by, bx = self.block_shape
        return (bx, by, bz)

    def validate(self, *, shape, dtype, chunk_grid) -> None:
        _common.dtype_of(dtype.to_native_dtype(), _WHAT)
        _common.geometry(shape, _WHAT)

    def compute_encoded_size(self, input_byte_length, chunk_spec):
        raise NotImplementedError  # the size depends on the labels

    # -- whole chunks ------------------------------------------------------

    def _decode_sync(self, chunk_bytes, chunk_spec):
        chunk_size, channels = _common.geometry(chunk_spec.shape, _WHAT)
        dtype = _common.dtype_of(chunk_spec.dtype.to_native_dtype(), _WHAT)
        labels = cseg.decode(chunk_bytes.as_numpy_array(), chunk_size, dtype,
                             self._block_size, channels)
        return self._nd(labels.reshape(chunk_spec.shape), dtype, chunk_spec)

    def _encode_sync(self, chunk_array, chunk_spec):
        a = chunk_array.as_numpy_array()
        if a.ndim not in (3, 4):
            _common.geometry(a.shape, _WHAT)  # raises, naming the shape
        return chunk_spec.prototype.buffer.from_bytes(cseg.encode(a, self._block_size))

    async def _decode_single(self, chunk_bytes, chunk_spec):
        # The module runs without the GIL: chunks decode in parallel threads.
        return await asyncio.to_thread(self._decode_sync, chunk_bytes, chunk_spec)

    async def _encode_single(self, chunk_array, chunk_spec):
        return await asyncio.to_thread(self._encode_sync, chunk_array, chunk_spec)

    # -- part of a chunk ---------------------------------------------------

    async def _decode_partial_single(self, byte_getter, selection, chunk_spec):
        chunk_bytes = await byte_getter.get(prototype=chunk_spec.prototype)
        if chunk_bytes is None:
            return None
        bounds, _ = bounding_box(_as_tuple(selection), chunk_spec.shape)
        channels = chunk_spec.shape[0] if len(chunk_spec.shape) == 4 else 1
        voxels = channels * np.prod([hi - lo for lo, hi in bounds[-3:]], dtype=np.float64)
        if voxels <= INLINE_VOXELS:
            # A few blocks decode faster than a hop to a worker thread: a
            # 32^3 box decodes in ~50 us; inline, a random 32^3 box read
            # through zarr took 1.51 ms instead of 1.79 ms (2-CPU VM).
            return self._decode_selection(chunk_bytes, selection, chunk_spec)
        return await asyncio.to_thread(self._decode_selection, chunk_bytes, selection,
                                       chunk_spec)

    def _decode_selection(self, chunk_bytes, selection, chunk_spec):
        """``chunk[selection]``, decoding only the blocks of its bounding box."""
        chunk_size, channels = _common.geometry(chunk_spec.shape, _WHAT)
        dtype = _common.dtype_of(chunk_spec.dtype.to_native_dtype(), _WHAT)
        bounds, relative = bounding_box(_as_tuple(selection), chunk_spec.shape)
        spatial = bounds[-3:]  # (z, y, x) ranges
        lower = tuple(lo for lo, _ in reversed(spatial))
        upper = tuple(hi for _, hi in reversed(spatial))
        box = cseg.read_box(chunk_bytes.as_numpy_array(), chunk_size, dtype, self._block_size,
                            (lower, upper), channels)  # (C, z, y, x) of the box
        if len(chunk_spec.shape) == 3:
            box = box[0]
        else:  # the channel axis: every channel was decoded, keep the selected span
            c0, c1 = bounds[0]
            box = box[c0:c1]
        return self._nd(box[relative], dtype, chunk_spec)

    @staticmethod
    def _nd(labels, dtype, chunk_spec):
        native = chunk_spec.dtype.to_native_dtype()
        if labels.dtype != native:  # a big-endian host, or a dtype spelled differently
            labels = labels.astype(native)
        return chunk_spec.prototype.nd_buffer.from_ndarray_like(labels)


def _as_tuple(selection):
    return selection if isinstance(selection, tuple) else (selection,)


def bounding_box(selection, shape):
    """For a zarr chunk selection (one int, slice, int array or bool array
    per axis), ``(bounds, relative)``: the ``[lo, hi)`` range each axis
    touches, and the same selection relative to those ranges (so that
    ``chunk[selection] == chunk[box][relative]``)."""
    bounds, relative = [], []
    selection = tuple(selection) + (slice(None),) * (len(shape) - len(selection))
    for sel, size in zip(selection, shape):
        if isinstance(sel, (int, np.integer)) and not isinstance(sel, bool):
            i = int(sel) + size if sel < 0 else int(sel)
            bounds.append((i, i + 1))
            relative.append(0)
        elif isinstance(sel, slice):
            start, stop, step = sel.indices(size)
            picked = range(start, stop, step)
            if not picked:
                bounds.append((0, 0))
                relative.append(slice(0, 0))
                continue
            lo, hi = min(picked[0], picked[-1]), max(picked[0], picked[-1]) + 1
            bounds.append((lo, hi))
            end = picked[-1] - lo + (1 if step > 0 else -1)
            relative.append(slice(picked[0] - lo, end if end >= 0 else None, step))
        elif isinstance(sel, np.ndarray) and sel.dtype == bool:
            hits = np.flatnonzero(sel)
            lo, hi = (int(hits[0]), int(hits[-1]) + 1) if hits.size else (0, 0)
            bounds.append((lo, hi))
            relative.append(sel[lo:hi])
        elif isinstance(sel, np.ndarray) and sel.dtype.kind in "iu":
            if sel.size:
                index = np.where(sel < 0, sel + size, sel)
                lo, hi = int(index.min()), int(index.max()) + 1
                bounds.append((lo, hi))
                relative.append(index - lo)
            else:
                bounds.append((0, 0))
                relative.append(sel)
        else:  # anything else: the whole axis, the selection as given
            bounds.append((0, size))
            relative.append(sel)
    return bounds, tuple(relative)
