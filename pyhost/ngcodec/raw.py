"""Neuroglancer's raw encoding: the little-endian array itself.

The module validates the geometry (``ngc_decoded_size``: overflow and the
4 GiB bound, cached per geometry) and NumPy moves the bytes: routing the
bytes through linear memory would triple the copies of what is one memcpy.
"""

import functools

import numpy as np

from . import _geometry as geo
from . import runtime
from .errors import error_for_status
from .limits import resolve

__all__ = ["encode", "decode", "view", "DTYPES"]

DTYPES = geo.PRECOMPUTED_DTYPES


@functools.lru_cache(maxsize=256)
def decoded_size(chunk_size, num_channels, itemsize, what):
    """Bytes of a raw chunk, as the module computes and bounds it (the host
    checks the bound first, to name the size)."""
    geo.decoded_nbytes(num_channels, chunk_size, itemsize, what)
    return runtime.query("ngc_decoded_size", runtime.Chunk(chunk_size, num_channels, itemsize),
                         what=what)


def encode(array, *, limits=None):
    """Encodes a (C, Z, Y, X) or (Z, Y, X) array of a precomputed data type
    as bytes (little-endian, x fastest). *limits* caps the output size."""
    what = "raw encode"
    a = geo.array_4d(array, what)
    dtype = geo.little_endian(a.dtype, DTYPES, what)
    c, z, y, x = a.shape
    runtime.check_memory(resolve(limits), decoded_size((x, y, z), c, dtype.itemsize, what), what)
    return a.astype(dtype, copy=False).tobytes()


def view(buf, chunk_size, dtype, num_channels=1, *, limits=None):
    """A read-only (C, Z, Y, X) view of a raw chunk's bytes, checked as
    :func:`decode` checks them, with no copy: for callers that copy a part
    of the chunk anyway (a box's edge), one copy instead of two."""
    what = "raw decode"
    chunk_size = geo.xyz(chunk_size, "chunk size", 0, what)
    num_channels = geo.channels(num_channels, what)
    dtype = geo.little_endian(dtype, DTYPES, what)
    data = geo.as_bytes(buf, what)
    size = len(data) if type(data) is bytes else data.size
    expected = decoded_size(chunk_size, num_channels, dtype.itemsize, what)
    runtime.check_memory(resolve(limits), expected, what)
    if size != expected:
        raise error_for_status("NGC_ERR_SIZE_MISMATCH", what, f" ({size} bytes, expected {expected} for "
                               f"{num_channels} channel(s) of {chunk_size} {dtype.name})")
    shape = (num_channels, chunk_size[2], chunk_size[1], chunk_size[0])
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def decode(buf, chunk_size, dtype, num_channels=1, out=None, *, limits=None):
    """Decodes a raw chunk into a new (or the given *out*, any writable view
    of that shape and dtype) (C, Z, Y, X) array. *limits* caps the declared
    size (see :class:`ngcodec.Limits`)."""
    decoded = view(buf, chunk_size, dtype, num_channels, limits=limits)
    if out is None:
        return decoded.copy()
    geo.output_array(out, decoded.shape, decoded.dtype, "raw decode")[...] = decoded
    return out
