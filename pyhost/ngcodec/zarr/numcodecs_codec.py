"""compressed_segmentation as a numcodecs codec.

>>> import numcodecs
>>> codec = numcodecs.get_codec({"id": "ngcodec_compressed_segmentation"})
>>> buf = codec.encode(labels)        # a (Z, Y, X) or (C, Z, Y, X) uint32/uint64 array
>>> codec.decode(buf)                 # the same array: the bytes carry shape and dtype

numcodecs hands ``decode`` nothing but bytes, so each encoded buffer starts
with a 36-byte header (magic, version, dtype, block size, chunk size,
channels) followed by the Neuroglancer compressed_segmentation chunk,
byte for byte what a precomputed dataset stores. docs/ZARR.md specifies it.

To encode raw bytes (what numcodecs' generic helpers pass), give the
configuration a ``shape`` and ``dtype``; arrays of uint32/uint64 with 3 or 4
axes need neither.
"""

import struct

import numpy as np
from numcodecs.abc import Codec
from numcodecs.compat import ensure_contiguous_ndarray

from .. import compressed_segmentation as cseg
from ..errors import InvalidFormatError
from . import _common

__all__ = ["CompressedSegmentation", "CODEC_ID", "MAGIC", "HEADER", "pack_header",
           "unpack_header"]

CODEC_ID = "ngcodec_compressed_segmentation"

MAGIC = b"NGCS"
VERSION = 1
# magic, version, bytes per label, axes of the array, reserved (0),
# block size x, y, z, chunk size x, y, z, channels; little-endian.
HEADER = struct.Struct("<4sBBBB3I3II")
assert HEADER.size == 36  # a multiple of 4: the chunk after it stays 32-bit aligned

_WHAT = f"numcodecs {CODEC_ID}"


def pack_header(dtype, ndim, block_size, chunk_size, num_channels):
    """The header of an encoded buffer; sizes are (x, y, z)."""
    return HEADER.pack(MAGIC, VERSION, np.dtype(dtype).itemsize, ndim, 0,
                       *block_size, *chunk_size, num_channels)


def unpack_header(buf):
    """``(dtype, ndim, block_size, chunk_size, num_channels)`` of an encoded
    buffer (a uint8 array or bytes), checked; InvalidFormatError otherwise."""
    if len(buf) < HEADER.size:
        raise InvalidFormatError(f"{_WHAT} decode: {len(buf)} bytes is shorter than the "
                                 f"{HEADER.size}-byte header (truncated?)")
    (magic, version, itemsize, ndim, reserved, bx, by, bz, cx, cy, cz,
     channels) = HEADER.unpack_from(buf, 0)
    if magic != MAGIC:
        raise InvalidFormatError(f"{_WHAT} decode: the buffer does not start with "
                                 f"{MAGIC!r} (got {bytes(magic)!r})")
    if version != VERSION:
        raise InvalidFormatError(f"{_WHAT} decode: header version {version} is not "
                                 f"supported (this reader knows version {VERSION})")
    problems = []
    if itemsize not in (4, 8):
        problems.append(f"bytes per label {itemsize} (4 or 8)")
    if ndim not in (3, 4):
        problems.append(f"axes {ndim} (3 or 4)")
    elif ndim == 3 and channels != 1:
        problems.append(f"{channels} channels for a 3-axis array (1)")
    if reserved:
        problems.append(f"reserved byte {reserved} (0)")
    if min(bx, by, bz) < 1:
        problems.append(f"block size ({bx}, {by}, {bz}) (each >= 1)")
    if channels < 1:
        problems.append("0 channels (>= 1)")
    if problems:
        raise InvalidFormatError(f"{_WHAT} decode: bad header: " + ", ".join(problems))
    dtype = np.dtype("<u4" if itemsize == 4 else "<u8")
    return dtype, ndim, (bx, by, bz), (cx, cy, cz), channels


def _shape(chunk_size, num_channels, ndim):
    x, y, z = chunk_size
    return (z, y, x) if ndim == 3 else (num_channels, z, y, x)


class CompressedSegmentation(Codec):
    """Neuroglancer's compressed_segmentation for uint32/uint64 label arrays.

    Parameters
    ----------
    block_shape : 3 ints, (z, y, x)
        The encoding block (Neuroglancer's ``compressed_segmentation_block_size``
        reversed). Default (8, 8, 8).
    dtype : "uint32", "uint64" or None
        Only needed to encode raw bytes; an array brings its own.
    shape : 3 or 4 ints, (z, y, x) or (c, z, y, x), or None
        Only needed to encode raw bytes (or arrays of another shape with as
        many labels, which are then read as C-order buffers of this shape).
    """

    codec_id = CODEC_ID

    def __init__(self, block_shape=_common.DEFAULT_BLOCK_SHAPE, dtype=None, shape=None):
        self.block_shape = list(_common.block_shape(block_shape, _WHAT))
        self.dtype = None if dtype is None else _common.dtype_of(dtype, _WHAT).name
        if shape is not None:
            shape = [int(s) for s in shape]
            _common.geometry(shape, _WHAT)
            if any(s < 0 for s in shape):
                raise ValueError(f"{_WHAT}: shape must not be negative, got {shape}")
        self.shape = shape

    def __repr__(self):
        parts = [f"block_shape={self.block_shape!r}"]
        if self.dtype is not None:
            parts.append(f"dtype={self.dtype!r}")
        if self.shape is not None:
            parts.append(f"shape={self.shape!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    @property
    def _block_size(self):
        bz, by, bx = self.block_shape
        return (bx, by, bz)

    def _array(self, buf):
        """The labels to encode, as an array of 3 or 4 axes."""
        if isinstance(buf, np.ndarray) and buf.dtype.name in _common.DTYPES \
                and buf.ndim in (3, 4) and (self.shape is None or list(buf.shape) == self.shape):
            if self.dtype is not None and buf.dtype.name != self.dtype:
                raise ValueError(f"{_WHAT} encode: the array is {buf.dtype.name} but the "
                                 f"codec is configured for {self.dtype}")
            return buf
        if self.shape is None or self.dtype is None:
            what = (f"a {buf.dtype.name} array of shape {buf.shape}"
                    if isinstance(buf, np.ndarray) else f"a {type(buf).__name__}")
            raise ValueError(f"{_WHAT} encode: got {what}; encode a uint32/uint64 array "
                             f"of 3 axes (z, y, x) or 4 (c, z, y, x), or configure the "
                             f"codec's shape and dtype to encode raw buffers")
        raw = ensure_contiguous_ndarray(buf).reshape(-1).view(np.uint8)
        dtype = np.dtype(self.dtype).newbyteorder("<")
        expected = int(np.prod(self.shape)) * dtype.itemsize
        if raw.size != expected:
            raise ValueError(f"{_WHAT} encode: {raw.size} bytes, but shape {self.shape} "
                             f"of {self.dtype} takes {expected}")
        return raw.view(dtype).reshape(self.shape)

    def encode(self, buf):
        a = self._array(buf)
        ndim = a.ndim
        (x, y, z), c = _common.geometry(a.shape, _WHAT)
        body = cseg.encode(a, self._block_size)
        return pack_header(a.dtype, ndim, self._block_size, (x, y, z), c) + body

    def decode(self, buf, out=None):
        src = ensure_contiguous_ndarray(buf).reshape(-1).view(np.uint8)
        dtype, ndim, block_size, chunk_size, channels = unpack_header(src)
        body = src[HEADER.size:]
        x, y, z = chunk_size
        shape4 = (channels, z, y, x)
        if out is None:
            labels = cseg.decode(body, chunk_size, dtype, block_size, channels)
            return labels.reshape(_shape(chunk_size, channels, ndim))
        if isinstance(out, np.ndarray) and out.dtype == dtype and out.flags.c_contiguous \
                and out.size == channels * z * y * x:
            target = out.reshape(shape4)  # a view: C-contiguous
        else:
            flat = ensure_contiguous_ndarray(out).reshape(-1).view(np.uint8)
            nbytes = channels * z * y * x * dtype.itemsize
            if flat.size != nbytes:
                raise ValueError(f"{_WHAT} decode: out holds {flat.size} bytes, the chunk "
                                 f"decodes to {nbytes}")
            target = flat.view(dtype).reshape(shape4)
        cseg.decode(body, chunk_size, dtype, block_size, channels, out=target)
        return out
