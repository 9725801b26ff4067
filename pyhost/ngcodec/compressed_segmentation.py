"""Neuroglancer's compressed_segmentation encoding, run in ngcodec.wasm.

>>> buf = encode(labels, block_size=(8, 8, 8))          # (C, Z, Y, X) or (Z, Y, X)
>>> labels = decode(buf, chunk_size=(64, 64, 64), dtype="uint64",
...                 block_size=(8, 8, 8))               # (C, Z, Y, X)

Sizes are (x, y, z); arrays are (C, Z, Y, X); uint32 and uint64 labels.
"""

from . import _geometry as geo
from . import runtime
from .limits import resolve

__all__ = ["encode", "decode", "DTYPES"]

DTYPES = ("uint32", "uint64")


def encode(array, block_size, *, mutable=False, limits=None):
    """Encodes a (C, Z, Y, X) or (Z, Y, X) uint32/uint64 array (any layout:
    a transposed or sliced view is copied into the module once).

    Returns ``bytes`` (``bytearray`` when *mutable*). *limits*: see
    :class:`ngcodec.Limits`.
    """
    what = "compressed_segmentation encode"
    block_size = geo.xyz(block_size, "block size", 1, what)
    a = geo.array_4d(array, what)
    dtype = geo.little_endian(a.dtype, DTYPES, what)
    c, z, y, x = a.shape
    limits = resolve(limits)
    runtime.check_memory(limits, a.size * dtype.itemsize, what)
    return runtime.encode("ngc_cseg_encode", "ngc_cseg_encode_bound",
                          runtime.Chunk((x, y, z), c, dtype.itemsize, block_size), a, dtype,
                          what=what, limits=limits, mutable=mutable)


def decode(buf, chunk_size, dtype, block_size, num_channels=1, out=None, *, limits=None):
    """Decodes a chunk into a new (or the given *out*) (C, Z, Y, X) array of
    the little-endian *dtype*. *out* may be any writable view of that shape
    and dtype (a slice of a larger volume): the chunk is copied straight
    from the module into it. Raises InvalidFormatError for bad data and
    ResourceLimitError past *limits* (see :class:`ngcodec.Limits`)."""
    what = "compressed_segmentation decode"
    chunk_size = geo.xyz(chunk_size, "chunk size", 0, what)
    block_size = geo.xyz(block_size, "block size", 1, what)
    num_channels = geo.channels(num_channels, what)
    dtype = geo.little_endian(dtype, DTYPES, what)
    src = geo.as_bytes(buf, what)
    src_size = len(src) if type(src) is bytes else src.size
    x, y, z = chunk_size
    nbytes = geo.decoded_nbytes(num_channels, chunk_size, dtype.itemsize, what)
    limits = resolve(limits)
    runtime.check_memory(limits, nbytes + src_size, what)  # bombs stop here
    out = geo.output_array(out, (num_channels, z, y, x), dtype, what)
    # One call: the module re-derives and checks the size from the geometry.
    return runtime.decode("ngc_cseg_decode",
                          runtime.Chunk(chunk_size, num_channels, dtype.itemsize, block_size),
                          src, src_size, out, what=what, limits=limits)
