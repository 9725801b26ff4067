"""The calls that ask questions of a compressed_segmentation chunk (box
decode, label counts, contains, mask, remap): each copies the chunk and its
arguments in, runs one export and copies the answer out, as
:func:`ngcodec.runtime.decode` does for a whole chunk.

Arguments travel in the call's input buffer after the chunk itself:
``[chunk, padded to 8][arrays][struct]``, the struct holding the arrays'
pointers first; answers come back in the output buffer. The structs are
those of ngcodec.h.
"""

import struct

import numpy as np

from ..errors import CODE
from .pool import run

_NOTHING = struct.Struct("")  # a call that takes no struct
_BOX = struct.Struct("<6I")  # ngc_box
_POINTS = struct.Struct("<3I")  # ngc_points: xyz, count, channel
_LABELS = struct.Struct("<2I")  # ngc_labels: labels, count
_MAPPING = struct.Struct("<4IQ")  # ngc_mapping: keys, values, count, flags, missing
_COUNT = np.dtype([("label", "<u8"), ("count", "<u8")])  # ngc_label_count

_TOO_SMALL = CODE["NGC_ERR_DST_TOO_SMALL"]
_NOT_MAPPED = CODE["NGC_ERR_NOT_MAPPED"]


def _fail(inst, status, what, chunk, used):
    from . import _fail as fail  # the one place error turns into an exception
    fail(inst, status, what, chunk, used)


def _args(inst, src, src_size, arrays, tail, dst_size):
    """Copies the chunk, then each array, then the struct *tail* = (a
    struct.Struct, its fields after the arrays' pointers) packed with those
    pointers first, into the input buffer; returns (src_ptr, struct_ptr,
    dst_ptr)."""
    struct_, fields = tail
    pos = -(-src_size // 8) * 8
    offsets = []
    for a in arrays:
        offsets.append(pos)
        pos += a.nbytes
    s, d = inst.buffers(pos + struct_.size, dst_size)
    inst.write(s, src, src_size)
    for a, off in zip(arrays, offsets):
        inst.write(s + off, a, a.nbytes)
    packed = struct_.pack(*(s + off for off in offsets), *fields)
    inst.write(s + pos, packed, len(packed))
    return s, s + pos, d


def decode_box(chunk, box, src, src_size, out, *, what, limits):
    """Decodes box ``((x0, y0, z0), (x1, y1, z1))`` into *out*."""
    nbytes = out.nbytes

    def body(inst):
        used = inst.used
        inst.set_chunk(chunk)
        s, b, d = _args(inst, src, src_size, (), (_BOX, (*box[0], *box[1])), nbytes)
        status = inst.call("ngc_cseg_decode_box", inst.chunk_ptr, b, s, src_size, d, nbytes)
        if status < 0:
            _fail(inst, status, what, chunk, used)
        inst.read_into(d, out)
        return out

    return run(what, True, limits, body)


def read_voxels(chunk, points, channel, src, src_size, out, *, what, limits):
    """The labels at *points* ((N, 3) uint32 x, y, z, C-contiguous) of
    *channel* into *out* (N values of the chunk's dtype)."""
    nbytes = out.nbytes

    def body(inst):
        used = inst.used
        inst.set_chunk(chunk)
        s, t, d = _args(inst, src, src_size, (points,), (_POINTS, (len(points), channel)),
                        nbytes)
        status = inst.call("ngc_cseg_read_voxels", inst.chunk_ptr, t, s, src_size, d, nbytes)
        if status < 0:
            _fail(inst, status, what, chunk, used)
        inst.read_into(d, out)
        return out

    return run(what, True, limits, body)


def label_counts(chunk, src, src_size, *, what, limits, capacity=4096):
    """[(labels, counts)] per channel: uint64 arrays, labels ascending."""
    channels = chunk.num_channels

    def body(inst):
        nonlocal capacity
        used = inst.used
        inst.set_chunk(chunk)
        while True:
            dst_size = capacity * _COUNT.itemsize + 4 * channels
            s, _, d = _args(inst, src, src_size, (), (_NOTHING, ()), dst_size)
            ends_ptr = d + capacity * _COUNT.itemsize
            status = inst.call("ngc_cseg_label_counts", inst.chunk_ptr, s, src_size, d,
                               capacity, ends_ptr, inst.ret_ptr)
            if status == _TOO_SMALL:
                capacity = inst.read_u32(inst.ret_ptr)  # the exact need: once more
                continue
            if status < 0:
                _fail(inst, status, what, chunk, used)
            total = inst.read_u32(inst.ret_ptr)
            pairs = np.empty(total, _COUNT)
            inst.read_into(d, pairs.view(np.uint8))
            ends = np.empty(channels, np.uint32)
            inst.read_into(ends_ptr, ends)
            break
        starts = np.concatenate(([0], ends[:-1]))
        return [(pairs["label"][a:b].copy(), pairs["count"][a:b].copy())
                for a, b in zip(starts, ends)]

    return run(what, True, limits, body)


def contains(chunk, src, src_size, labels, *, what, limits):
    """A bool per channel: does a voxel hold one of *labels* (sorted uint64)?"""
    channels = chunk.num_channels

    def body(inst):
        used = inst.used
        inst.set_chunk(chunk)
        s, t, d = _args(inst, src, src_size, (labels,), (_LABELS, (labels.size,)), channels)
        status = inst.call("ngc_cseg_contains", inst.chunk_ptr, s, src_size, t, d)
        if status < 0:
            _fail(inst, status, what, chunk, used)
        found = np.empty(channels, np.uint8)
        inst.read_into(d, found)
        return found.astype(bool)

    return run(what, True, limits, body)


def mask(chunk, src, src_size, labels, out, *, what, limits):
    """Fills the bool array *out* (C, Z, Y, X): voxels holding one of *labels*."""
    nbytes = out.nbytes

    def body(inst):
        used = inst.used
        inst.set_chunk(chunk)
        s, t, d = _args(inst, src, src_size, (labels,), (_LABELS, (labels.size,)), nbytes)
        status = inst.call("ngc_cseg_mask", inst.chunk_ptr, s, src_size, t, d, nbytes)
        if status < 0:
            _fail(inst, status, what, chunk, used)
        inst.read_into(d, out.view(np.uint8))
        return out

    return run(what, True, limits, body)


def remap(chunk, src, src_size, keys, values, preserve, *, what, limits, mutable=False):
    """The chunk with its tables mapped (keys sorted uint64, values uint64).
    Returns bytes, or raises with ``status_name`` NGC_ERR_NOT_MAPPED (its
    ``label`` attribute the missing label) or NGC_ERR_TABLE_OVERLAP."""

    def body(inst):
        used = inst.used
        inst.set_chunk(chunk)
        s, t, d = _args(inst, src, src_size, (keys, values),
                        (_MAPPING, (keys.size, int(preserve), 0)), src_size)
        status = inst.call("ngc_cseg_remap", inst.chunk_ptr, s, src_size, t, d, src_size)
        if status == _NOT_MAPPED:
            label = inst.read_u64(t + _MAPPING.size - 8)
            try:
                _fail(inst, status, what, chunk, used)
            except Exception as exc:
                exc.label = label
                raise
        if status < 0:
            _fail(inst, status, what, chunk, used)
        return inst.read_bytes(d, src_size, mutable=mutable)

    return run(what, True, limits, body)
