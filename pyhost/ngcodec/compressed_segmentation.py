"""Neuroglancer's compressed_segmentation encoding, run in ngcodec.wasm.

>>> buf = encode(labels, block_size=(8, 8, 8))          # (C, Z, Y, X) or (Z, Y, X)
>>> labels = decode(buf, chunk_size=(64, 64, 64), dtype="uint64",
...                 block_size=(8, 8, 8))               # (C, Z, Y, X)

Sizes are (x, y, z); arrays are (C, Z, Y, X); uint32 and uint64 labels.
"""

from typing import NamedTuple

import numpy as np

from . import _geometry as geo
from . import _labels
from . import runtime
from .errors import NgcodecError
from .limits import resolve
from .runtime import questions

__all__ = ["encode", "decode", "labels", "counts", "contains", "mask", "read_box",
           "read_voxel", "read_voxels", "remap", "DTYPES"]

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
    call = _prelude(what, buf, chunk_size, dtype, block_size, num_channels, limits,
                    decoded=True)  # bombs stop here
    x, y, z = call.chunk.size
    out = geo.output_array(out, (call.chunk.num_channels, z, y, x), call.dtype, what)
    # One call: the module re-derives and checks the size from the geometry.
    return runtime.decode("ngc_cseg_decode", call.chunk, call.src, call.src_size, out,
                          what=what, limits=call.limits)


# ---------------------------------------------------------------------------
# Questions answered on the compressed chunk (labels, counts, contains, mask,
# remap, voxel and box reads). Each makes the checks decode makes, so a chunk
# that decode refuses is refused here with the same error and place.
# ---------------------------------------------------------------------------

class _Call(NamedTuple):
    """The checked arguments every question shares."""
    chunk: runtime.Chunk
    dtype: np.dtype
    src: object
    src_size: int
    limits: object
    what: str


def _prelude(what, buf, chunk_size, dtype, block_size, num_channels, limits, decoded=False):
    """The arguments of decode and of every question, checked; with
    *decoded*, the decoded chunk counts against the memory limit too."""
    chunk_size = geo.xyz(chunk_size, "chunk size", 0, what)
    block_size = geo.xyz(block_size, "block size", 1, what)
    num_channels = geo.channels(num_channels, what)
    dtype = geo.little_endian(dtype, DTYPES, what)
    src = geo.as_bytes(buf, what)
    src_size = len(src) if type(src) is bytes else src.size
    nbytes = geo.decoded_nbytes(num_channels, chunk_size, dtype.itemsize, what)
    limits = resolve(limits)
    runtime.check_memory(limits, src_size + (nbytes if decoded else 0), what)
    return _Call(runtime.Chunk(chunk_size, num_channels, dtype.itemsize, block_size),
                 dtype, src, src_size, limits, what)


def counts(buf, chunk_size, dtype, block_size, num_channels=1, *, limits=None):
    """The labels of each channel with their voxel counts: a list of
    ``(labels, counts)`` pairs, one per channel, labels ascending (of
    *dtype*), counts uint64. Only labels that visible voxels hold are
    listed, whatever else an encoder left in its tables."""
    call = _prelude("compressed_segmentation counts", buf, chunk_size, dtype, block_size,
                    num_channels, limits)
    pairs = questions.label_counts(call.chunk, call.src, call.src_size,
                                   what=call.what, limits=call.limits)
    return [(labels.astype(call.dtype), n) for labels, n in pairs]


def labels(buf, chunk_size, dtype, block_size, num_channels=1, *, limits=None):
    """The sorted unique labels of each channel (a list of arrays of
    *dtype*, one per channel): those the chunk's voxels hold, found from
    the packed indices, never by decoding voxels."""
    call = _prelude("compressed_segmentation labels", buf, chunk_size, dtype, block_size,
                    num_channels, limits)
    pairs = questions.label_counts(call.chunk, call.src, call.src_size,
                                   what=call.what, limits=call.limits)
    return [labels.astype(call.dtype) for labels, _ in pairs]


def contains(buf, chunk_size, dtype, block_size, label, num_channels=1, *,
             per_channel=False, limits=None):
    """Whether a voxel holds *label* (an int, or a sequence: any of them).
    A bool, or with *per_channel* a bool array with one entry per channel.
    Blocks whose tables cannot hold the label are ruled out unread."""
    what = "compressed_segmentation contains"
    call = _prelude(what, buf, chunk_size, dtype, block_size, num_channels, limits)
    wanted = _labels.label_set(label, call.dtype, what)
    found = questions.contains(call.chunk, call.src, call.src_size, wanted,
                               what=what, limits=call.limits)
    return found if per_channel else bool(found.any())


def mask(buf, chunk_size, dtype, block_size, labels, num_channels=1, *, limits=None):
    """A bool (C, Z, Y, X) array: True where a voxel holds one of *labels*
    (an int or a sequence)."""
    what = "compressed_segmentation mask"
    call = _prelude(what, buf, chunk_size, dtype, block_size, num_channels, limits)
    x, y, z = call.chunk.size
    out = np.empty((call.chunk.num_channels, z, y, x), dtype=bool)
    runtime.check_memory(call.limits, call.src_size + out.nbytes, what)
    wanted = _labels.label_set(labels, call.dtype, what)
    return questions.mask(call.chunk, call.src, call.src_size, wanted, out,
                          what=what, limits=call.limits)


def read_box(buf, chunk_size, dtype, block_size, box, num_channels=1, out=None, *,
             limits=None):
    """The voxels of *box* ``((x0, y0, z0), (x1, y1, z1))`` (upper bound
    excluded, inside the chunk) as a (C, z1 - z0, y1 - y0, x1 - x0) array,
    decoding only the blocks the box meets. *out*: as for :func:`decode`."""
    what = "compressed_segmentation read_box"
    call = _prelude(what, buf, chunk_size, dtype, block_size, num_channels, limits)
    lower, upper = _box(box, call.chunk.size, what)
    shape = (call.chunk.num_channels,) + tuple(hi - lo for lo, hi in zip(lower, upper))[::-1]
    out = geo.output_array(out, shape, call.dtype, what)
    runtime.check_memory(call.limits, call.src_size + out.nbytes, what)
    return questions.decode_box(call.chunk, (lower, upper), call.src, call.src_size, out,
                                what=what, limits=call.limits)


def read_voxels(buf, chunk_size, dtype, block_size, positions, num_channels=1, channel=0, *,
                limits=None):
    """The labels at *positions* (an (N, 3) array of ``(x, y, z)``, or a
    flat sequence of 3N coordinates) of
    *channel*, as an array of N values of *dtype*, in one call: each is read
    from its block's packed index and table, no block is decoded."""
    what = "compressed_segmentation read_voxels"
    call = _prelude(what, buf, chunk_size, dtype, block_size, num_channels, limits)
    channel = _channel(channel, call.chunk.num_channels, what)
    wrong = geo.param_error(what, "positions must be an (N, 3) array of integers (x, y, z)")
    try:
        p = np.asarray(positions)
    except ValueError:  # ragged
        raise wrong from None
    if p.ndim == 1 and p.size % 3 == 0:  # flat x, y, z, x, y, z, ... (as in JS)
        p = p.reshape(-1, 3)
    if p.size == 0 and p.ndim <= 2 and p.shape[-1:] in ((0,), (3,)):
        p = p.reshape(0, 3).astype(np.int64)
    if p.ndim != 2 or p.shape[1] != 3 or p.dtype.kind not in "ui":
        raise wrong
    size = np.array(call.chunk.size, dtype=np.int64)
    outside = (p < 0) | (p >= size)
    if outside.any():
        bad = tuple(int(v) for v in p[np.flatnonzero(outside.any(axis=1))[0]])
        raise geo.param_error(what, f"position {bad} is outside the chunk "
                                    f"(0, 0, 0)..{tuple(call.chunk.size)}")
    points = np.ascontiguousarray(p, dtype="<u4")
    out = np.empty(len(points), call.dtype)
    runtime.check_memory(call.limits, call.src_size + points.nbytes + out.nbytes, what)
    return questions.read_voxels(call.chunk, points, channel, call.src, call.src_size, out,
                                 what=what, limits=call.limits)


def read_voxel(buf, chunk_size, dtype, block_size, position, num_channels=1, channel=0, *,
               limits=None):
    """The label at *position* ``(x, y, z)`` of *channel* (a NumPy scalar of
    *dtype*), read from its block's packed index and table. For many voxels
    of one chunk, :func:`read_voxels` answers them all in one call."""
    what = "compressed_segmentation read_voxel"
    call = _prelude(what, buf, chunk_size, dtype, block_size, num_channels, limits)
    channel = _channel(channel, call.chunk.num_channels, what)
    position = geo.xyz(position, "position", 0, what)
    if any(p >= s for p, s in zip(position, call.chunk.size)):
        raise geo.param_error(what, f"position {position} is outside the chunk "
                                    f"(0, 0, 0)..{tuple(call.chunk.size)}")
    out = np.empty(1, call.dtype)
    return questions.read_voxels(call.chunk, np.array([position], "<u4"), channel, call.src,
                                 call.src_size, out, what=what, limits=call.limits)[0]


def _channel(channel, num_channels, what):
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) \
            or not 0 <= channel < num_channels:
        raise geo.param_error(what, f"channel must be in [0, {num_channels}), got {channel!r}")
    return int(channel)


def _box(box, size, what):
    try:
        lower, upper = box
    except (TypeError, ValueError):
        raise geo.param_error(what, f"box must be ((x0, y0, z0), (x1, y1, z1)), "
                                    f"got {box!r}") from None
    lower = geo.xyz(lower, "box lower corner", 0, what)
    upper = geo.xyz(upper, "box upper corner", 0, what)
    if any(lo > hi or hi > s for lo, hi, s in zip(lower, upper, size)):
        raise geo.param_error(what, f"box {lower}..{upper} is not inside the chunk "
                                    f"(0, 0, 0)..{tuple(size)}")
    return lower, upper


def remap(buf, chunk_size, dtype, block_size, mapping, num_channels=1, *,
          preserve_missing_labels=False, mutable=False, limits=None):
    """The chunk with every label replaced by ``mapping[label]`` (a dict,
    or a pair of arrays ``(keys, values)``), by rewriting its lookup tables:
    the packed indices are copied unchanged, so no voxel is decoded. A label
    that voxels hold but the mapping lacks raises InvalidParameterError,
    unless *preserve_missing_labels* keeps it. Returns ``bytes``
    (``bytearray`` when *mutable*)."""
    what = "compressed_segmentation remap"
    call = _prelude(what, buf, chunk_size, dtype, block_size, num_channels, limits)
    keys, values = _labels.mapping(mapping, call.dtype, what)
    try:
        return questions.remap(call.chunk, call.src, call.src_size, keys, values,
                               preserve_missing_labels, what=what, limits=call.limits,
                               mutable=mutable)
    except NgcodecError as exc:
        if exc.status_name == "NGC_ERR_NOT_MAPPED":
            raise _labels.not_mapped(what, exc.label) from None
        if exc.status_name != "NGC_ERR_TABLE_OVERLAP":
            raise
    # A valid chunk whose tables overlap other data (no encoder we know of
    # writes one): decode, map and encode it.
    chunk = call.chunk
    labels_ = decode(call.src, chunk.size, call.dtype, chunk.block_size, chunk.num_channels,
                     limits=call.limits)
    _labels.apply(keys, values, labels_, preserve_missing_labels, what)
    return encode(labels_, chunk.block_size, mutable=mutable, limits=call.limits)
