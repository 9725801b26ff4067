"""Neuroglancer's compressed_segmentation encoding, run in ngcodec.wasm.

>>> buf = encode(labels, block_size=(8, 8, 8))          # (C, Z, Y, X) or (Z, Y, X)
>>> labels = decode(buf, chunk_size=(64, 64, 64), dtype="uint64",
...                 block_size=(8, 8, 8))               # (C, Z, Y, X)

Sizes are (x, y, z); arrays are (C, Z, Y, X); uint32 and uint64 labels.
"""

import numpy as np

from . import _geometry as geo
from ._runtime import KeptMemory, check, check_memory, run
from .limits import resolve
from .errors import InvalidParameterError

__all__ = ["encode", "decode", "DTYPES"]

DTYPES = ("uint32", "uint64")
NGC_ERR_NO_MEMORY = -14


def encode(array, block_size, *, mutable=False, limits=None):
    """Encodes a (C, Z, Y, X) or (Z, Y, X) uint32/uint64 array.

    Returns ``bytes`` (``bytearray`` when *mutable*). *limits*: see
    :class:`ngcodec.Limits`.
    """
    block_size = geo.xyz(block_size, "block_size", 1)
    a = np.asarray(array)
    if a.ndim == 3:
        a = a[np.newaxis]
    if a.ndim != 4:
        raise InvalidParameterError(
            f"compressed_segmentation encode: expected a 3-D or 4-D array, got {a.ndim}-D")
    dtype = geo.little_endian(a.dtype, DTYPES, "compressed_segmentation encode")
    a = np.ascontiguousarray(a, dtype=dtype)
    c, z, y, x = a.shape
    what = "compressed_segmentation encode"
    limits = resolve(limits)
    check_memory(limits, a.nbytes, what)

    def body(inst):
        used = inst.used
        inst.set_chunk((x, y, z), c, dtype.itemsize, block_size)
        check(inst.call("ngc_cseg_encode_bound", inst.chunk_ptr, inst.ret_ptr), what)
        bound = inst.read_u32(inst.ret_ptr)
        src, dst = inst.buffers(a.nbytes, bound)
        inst.write(src, a, a.nbytes)
        status = inst.call("ngc_cseg_encode", inst.chunk_ptr, src, a.nbytes, dst, bound,
                           inst.ret_ptr)
        if status == NGC_ERR_NO_MEMORY and used:  # the scratch did not fit
            raise KeptMemory(f"{what}: out of memory for the encoder's scratch")
        check(status, what)
        return inst.read_bytes(dst, inst.read_u32(inst.ret_ptr), mutable=mutable)

    return run(what, False, limits, body)


_NO_PLACE = 0xFFFFFFFF  # NGC_NO_PLACE: the error is not about a channel/block


def _where(inst, status, chunk_size, block_size):
    """Which channel and block a decoding error is about."""
    if status == -5 or not -11 <= status <= -4:
        return ""  # about the whole buffer (UNALIGNED) or not about the data
    channel, block = inst.failure_place()
    if channel == _NO_PLACE:
        return " (in the channel offsets header)"
    if block == _NO_PLACE:
        return f" (channel {channel})"
    gx = -(-chunk_size[0] // block_size[0])
    gy = -(-chunk_size[1] // block_size[1])
    bx, by, bz = block % gx, block // gx % gy, block // (gx * gy)
    return f" (channel {channel}, block ({bx}, {by}, {bz}) in x, y, z)"


def decode(buf, chunk_size, dtype, block_size, num_channels=1, out=None, *, limits=None):
    """Decodes a chunk into a new (or the given *out*) (C, Z, Y, X) array of
    the little-endian *dtype*. Raises InvalidFormatError for bad data and
    ResourceLimitError past *limits* (see :class:`ngcodec.Limits`)."""
    what = "compressed_segmentation decode"
    chunk_size = geo.xyz(chunk_size, "chunk_size", 0)
    block_size = geo.xyz(block_size, "block_size", 1)
    num_channels = geo.channels(num_channels)
    dtype = geo.little_endian(dtype, DTYPES, what)
    src_bytes = geo.as_bytes(buf, what)
    src_size = len(src_bytes) if type(src_bytes) is bytes else src_bytes.size
    x, y, z = chunk_size
    nbytes = geo.decoded_nbytes(num_channels, chunk_size, dtype.itemsize, what)
    limits = resolve(limits)
    check_memory(limits, nbytes + src_size, what)  # bombs stop here
    out = geo.output_array(out, (num_channels, z, y, x), dtype, what)

    # One call: the module re-derives and checks the size from the geometry.
    def body(inst):
        inst.set_chunk(chunk_size, num_channels, dtype.itemsize, block_size)
        src, dst = inst.buffers(src_size, nbytes)
        inst.write(src, src_bytes, src_size)
        status = inst.call("ngc_cseg_decode", inst.chunk_ptr, src, src_size, dst, nbytes)
        if status < 0:
            check(status, what, _where(inst, status, chunk_size, block_size))
        inst.read_into(dst, out)
        return out

    return run(what, True, limits, body)
