"""The compressed_segmentation format, read and written from Neuroglancer's
description of it (google/neuroglancer, src/sliceview/compressed_segmentation/
README.md), independently of ngcodec: no ngcodec import, only NumPy.

This is the one reference reader and writer of the test suite and of the
tools that check ngcodec against the spec (tests/fuzz/fuzz_wasm.py,
tests/fuzz/adversarial.py, tests/fuzz/make_corpus.py).

The format, in 32-bit little-endian words. A chunk of C channels starts with
C channel offsets (words from the start of the chunk); each channel, at its
offset, holds one 2-word header per block, x fastest, then tables and
values anywhere after (offsets below are in words from the channel start):

    word 0: table offset (bits 0-23) | encoding bits (bits 24-31)
    word 1: values offset

A block of ``bits`` (0, 1, 2, 4, 8, 16 or 32) stores one index per voxel of
the whole block (edge blocks are padded), packed from the least significant
bit of each word, ``32 // bits`` to a word; the index picks a label of the
block's table (uint32: one word per entry, uint64: two, low word first).
A 0-bit block has no values: every voxel is table entry 0.

Conventions: arrays are (C, Z, Y, X); chunk and block sizes are (x, y, z).
"""

import struct

import numpy as np

VALID_BITS = (0, 1, 2, 4, 8, 16, 32)


class FormatError(Exception):
    """The spec reader rejects the chunk."""


def ceil_div(a, b):
    return -(-a // b)


def min_bits(count):
    """The smallest valid encoding width for a table of *count* labels."""
    for bits in VALID_BITS:
        if (1 << bits) >= count:
            return bits
    raise AssertionError(f"{count} labels do not fit in 32 bits")


def block_count(chunk_size, block_size):
    """Blocks per channel of a chunk (edge blocks included)."""
    n = 1
    for s, b in zip(chunk_size, block_size):
        n *= ceil_div(s, b)
    return n


def blocks(chunk_size, block_size):
    """(block index, (x0, y0, z0), visible (vx, vy, vz)) of every block, x fastest."""
    X, Y, Z = chunk_size
    bx, by, bz = block_size
    b = 0
    for z0 in range(0, Z, bz):
        for y0 in range(0, Y, by):
            for x0 in range(0, X, bx):
                yield b, (x0, y0, z0), (min(bx, X - x0), min(by, Y - y0), min(bz, Z - z0))
                b += 1


def pack_words(*words):
    """Little-endian uint32 words as bytes."""
    return struct.pack(f"<{len(words)}I", *words)


def pack_indices(index, bits):
    """Packs uint32 indices *bits* wide from the LSB of each word."""
    per_word = 32 // bits
    padded = np.zeros(ceil_div(index.size, per_word) * per_word, dtype=np.uint64)
    padded[:index.size] = index
    padded = padded.reshape(-1, per_word)
    shifts = np.arange(per_word, dtype=np.uint64) * np.uint64(bits)
    return (padded << shifts).sum(axis=1, dtype=np.uint64).astype("<u4")


def unpack_indices(words, bits, count):
    """The first *count* indices packed *bits* wide in uint32 *words*."""
    per_word = 32 // bits
    shifts = (np.arange(per_word, dtype=np.uint32) * bits).astype(np.uint32)
    mask = np.uint32(0xFFFFFFFF if bits == 32 else (1 << bits) - 1)
    return ((words[:, np.newaxis] >> shifts) & mask).reshape(-1)[:count]


# --------------------------------------------------------------------------
# Reader
# --------------------------------------------------------------------------

def _words(buf):
    buf = bytes(buf)
    if len(buf) % 4:
        raise FormatError("size is not a multiple of 4")
    return np.frombuffer(buf, dtype="<u4")


def block_headers(buf, chunk_size, block_size, num_channels=1):
    """Per channel: (channel offset, array of (table_offset, bits,
    values_offset) rows, x fastest). Raises FormatError when the headers do
    not fit in *buf*."""
    w = _words(buf)
    n = w.size
    if n < num_channels:
        raise FormatError("shorter than the channel offsets")
    nb = block_count(chunk_size, block_size)
    result = []
    for c in range(num_channels):
        off = int(w[c])
        if off > n:
            raise FormatError(f"channel {c} offset past the end")
        if n - off < 2 * nb:
            raise FormatError(f"channel {c} block headers truncated")
        h = w[off:off + 2 * nb].reshape(nb, 2).astype(np.int64)
        rows = np.stack([h[:, 0] & 0xFFFFFF, h[:, 0] >> 24, h[:, 1]], axis=1)
        result.append((off, rows))
    return result


def bits_histogram(buf, chunk_size, block_size, num_channels=1):
    """{bits: number of blocks} over all channels."""
    hist = {}
    for _, rows in block_headers(buf, chunk_size, block_size, num_channels):
        values, counts = np.unique(rows[:, 1], return_counts=True)
        for v, k in zip(values.tolist(), counts.tolist()):
            hist[v] = hist.get(v, 0) + k
    return hist


def table_at(buf, offset_words, count, dtype):
    """*count* labels of *dtype* starting at word *offset_words*."""
    dtype = np.dtype(dtype).newbyteorder("<")
    return np.frombuffer(bytes(buf), dtype=dtype, count=count, offset=4 * offset_words)


def decode(buf, chunk_size, block_size, dtype, num_channels=1):
    """Decodes a chunk into a (C, Z, Y, X) array, or raises FormatError.

    Accepts exactly what the spec accepts: size multiple of 4; channel
    offsets and block headers inside; bits valid; table offset and the whole
    values run inside the chunk; every index of the block, padding voxels
    included (as neuroglancer-scripts checks; tensorstore checks visible
    voxels only), below the number of table entries left up to the end of
    the chunk; a 0-bit block has at least one entry. Trailing words are
    allowed.
    """
    dtype = np.dtype(dtype).newbyteorder("<")
    vw = dtype.itemsize // 4
    w = _words(buf)
    raw = w.tobytes()
    n = w.size
    X, Y, Z = chunk_size
    bx, by, bz = block_size
    volume = bx * by * bz
    headers = block_headers(buf, chunk_size, block_size, num_channels)
    out = np.zeros((num_channels, Z, Y, X), dtype=dtype)
    for c, (off, rows) in enumerate(headers):
        m = n - off
        for b, (x0, y0, z0), (vx, vy, vz) in blocks(chunk_size, block_size):
            table_offset, bits, values_offset = (int(v) for v in rows[b])
            if bits not in VALID_BITS:
                raise FormatError(f"channel {c} block {b}: bits {bits}")
            if table_offset > m:
                raise FormatError(f"channel {c} block {b}: table offset")
            nwords = (bits * volume + 31) // 32
            if values_offset > m or values_offset + nwords > m:
                raise FormatError(f"channel {c} block {b}: values offset")
            entries = (m - table_offset) // vw
            target = out[c, z0:z0 + vz, y0:y0 + vy, x0:x0 + vx]
            if bits == 0:
                if entries == 0:
                    raise FormatError(f"channel {c} block {b}: empty table")
                index = np.zeros((vz, vy, vx), dtype=np.int64)
            else:
                start = off + values_offset
                full = unpack_indices(w[start:start + nwords], bits, volume)
                if int(full.max()) >= entries:
                    raise FormatError(f"channel {c} block {b}: table index")
                index = full.reshape(bz, by, bx)[:vz, :vy, :vx].astype(np.int64)
            top = int(index.max()) + 1
            if top > entries:
                raise FormatError(f"channel {c} block {b}: table index")
            table = np.frombuffer(raw, dtype=dtype, count=top,
                                  offset=4 * (off + table_offset))
            target[...] = table[index]
    return out


# --------------------------------------------------------------------------
# Writer (every layout the spec allows, including ones ngcodec does not write)
# --------------------------------------------------------------------------

def encode(array, block_size, tables="last", padding="zero", width=None,
           share=True, seed=0):
    """Encodes a (C, Z, Y, X) uint32/uint64 array, as the spec allows:

    - tables="last": all values first, then the tables (tensorstore's
      layout), so the last table ends the chunk; "first": each table just
      before its block's values.
    - padding="zero" | "random": indices of padding voxels (random ones stay
      inside the block's table).
    - width: a fixed number of bits >= what each block needs (None: the
      smallest valid width).
    - share: store identical tables of a channel once.
    """
    a = np.asarray(array)
    C, Z, Y, X = a.shape
    dtype = a.dtype.newbyteorder("<")
    rng = np.random.default_rng(seed)
    bx, by, bz = block_size
    chunks = []
    for c in range(C):
        block_list = list(blocks((X, Y, Z), block_size))
        headers = np.zeros((len(block_list), 2), dtype=np.uint64)
        values, table_list, table_of = [], [], {}
        for b, (x0, y0, z0), (vx, vy, vz) in block_list:
            labels, inverse = np.unique(a[c, z0:z0 + vz, y0:y0 + vy, x0:x0 + vx],
                                        return_inverse=True)
            bits = min_bits(labels.size) if width is None else width
            assert (1 << bits) >= labels.size
            if padding == "random":
                index = rng.integers(0, labels.size, size=(bz, by, bx)).astype(np.uint32)
            else:
                index = np.zeros((bz, by, bx), np.uint32)
            index[:vz, :vy, :vx] = inverse.reshape(vz, vy, vx)
            packed = pack_indices(index.reshape(-1), bits) if bits else np.zeros(0, "<u4")
            key = labels.astype(dtype).tobytes()
            if not share or key not in table_of:
                table_of[key] = len(table_list)
                table_list.append(np.frombuffer(key, "<u4"))
            values.append(packed)
            headers[b] = (table_of[key], bits)
        nb = len(block_list)
        pos = 2 * nb
        table_pos, value_pos, body = {}, [], []
        if tables == "first":
            # Each new table right before the values of the block that
            # introduces it.
            seen = set()
            for b in range(nb):
                t = int(headers[b, 0])
                if t not in seen:
                    seen.add(t)
                    table_pos[t] = pos
                    body.append(table_list[t])
                    pos += table_list[t].size
                value_pos.append(pos)
                body.append(values[b])
                pos += values[b].size
        else:
            for b in range(nb):
                value_pos.append(pos)
                body.append(values[b])
                pos += values[b].size
            for t, table in enumerate(table_list):
                table_pos[t] = pos
                body.append(table)
                pos += table.size
        head = np.zeros(2 * nb, "<u4")
        for b in range(nb):
            head[2 * b] = table_pos[int(headers[b, 0])] | int(headers[b, 1]) << 24
            head[2 * b + 1] = value_pos[b]
        chunks.append(np.concatenate([head] + body).astype("<u4"))
    offsets, pos = [], C
    for ch in chunks:
        offsets.append(pos)
        pos += ch.size
    return np.concatenate([np.array(offsets, "<u4")] + chunks).astype("<u4").tobytes()
