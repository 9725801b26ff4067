"""Shared helpers of the correctness suite: data paths, synthetic label
volumes, and a small compressed_segmentation reader written from the format
spec (the top comment of wasm_src/cseg.c), independent of ngcodec.

Conventions: arrays are (C, Z, Y, X) or (Z, Y, X); chunk and block sizes are
(x, y, z).
"""

import functools
import struct
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SHARED = Path(__file__).resolve().parents[2] / "shared"
DATA = SHARED / "data"
FIB25_PATH = DATA / "fib25_64x64x64_uint64.dat"
BUNDLED_FIB25 = REPO / "pyhost" / "ngcodec" / "data" / "fib25_64x64x64_uint64.cseg8"

VALID_BITS = (0, 1, 2, 4, 8, 16, 32)


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _fib25():
    if FIB25_PATH.exists():
        a = np.fromfile(FIB25_PATH, "<u8")
        assert a.size == 64 ** 3, f"{FIB25_PATH} has {a.size} values, expected 64**3"
        a = a.reshape(64, 64, 64)
    else:  # a checkout without ../shared: the package's copy, read by the spec reader
        a = reference_decode(BUNDLED_FIB25.read_bytes(), (64, 64, 64), (8, 8, 8), "uint64")[0]
        assert np.unique(a).size == 52, "the bundled FIB-25 chunk should hold 52 labels"
    a.flags.writeable = False
    return a


def fib25():
    """The FIB-25 64^3 chunk as a fresh (Z, Y, X) uint64 array."""
    return _fib25().copy()


def random_labels(rng, n, dtype):
    """*n* distinct random labels of *dtype* spanning its whole range."""
    dtype = np.dtype(dtype)
    high = 1 << (8 * dtype.itemsize)
    labels = np.empty(0, dtype=dtype)
    while labels.size < n:
        more = rng.integers(0, high, size=2 * n + 8, dtype=dtype, endpoint=False)
        labels = np.unique(np.concatenate([labels, more]))
    return rng.permutation(labels)[:n]


@functools.lru_cache(maxsize=32)
def _voronoi(shape, n_seeds, dtype, seed, spacing):
    rng = np.random.default_rng(seed)
    spacing = np.asarray(spacing, dtype=np.float32)
    seeds = (rng.random((n_seeds, 3)) * np.asarray(shape)).astype(np.float32) * spacing
    labels = random_labels(rng, n_seeds, dtype)
    grid = np.indices(shape, dtype=np.float32).reshape(3, -1).T * spacing
    # |p - s|^2 = |p|^2 - 2 p.s + |s|^2; |p|^2 is the same for every seed.
    minus_2s = np.ascontiguousarray(-2.0 * seeds.T)
    s2 = (seeds ** 2).sum(axis=1)
    nearest = np.empty(grid.shape[0], dtype=np.int64)
    step = max(1, (1 << 21) // n_seeds)
    for start in range(0, grid.shape[0], step):
        d = grid[start:start + step] @ minus_2s
        d += s2
        nearest[start:start + step] = np.argmin(d, axis=1)
    a = labels[nearest].reshape(shape)
    a.flags.writeable = False
    return a


def voronoi(shape, n_seeds, dtype="uint64", seed=0, spacing=(1, 1, 1)):
    """A (Z, Y, X) label volume: *n_seeds* random seeds with distinct random
    labels; each voxel takes the label of its nearest seed (distances scaled
    by *spacing*, given as (z, y, x), for anisotropic cells)."""
    return _voronoi(tuple(int(s) for s in shape), int(n_seeds), np.dtype(dtype).name, int(seed),
                    tuple(float(s) for s in spacing)).copy()


def noise(shape, k, dtype="uint64", seed=0):
    """A (Z, Y, X) volume where each voxel is one of *k* random labels.

    When *k* is far above the number of voxels, each voxel simply gets a
    random label of the whole dtype range (nearly all distinct) instead of
    drawing a palette of *k* labels first."""
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    dtype = np.dtype(dtype)
    if k >= 4 * int(np.prod(shape)):
        return rng.integers(0, 1 << (8 * dtype.itemsize), size=shape, dtype=dtype)
    palette = random_labels(rng, k, dtype)
    return palette[rng.integers(0, k, size=shape)]


def min_bits(count):
    """The smallest valid encoding width for a table of *count* labels."""
    for bits in VALID_BITS:
        if (1 << bits) >= count:
            return bits
    raise AssertionError(f"{count} labels do not fit in 32 bits")


def ceil_div(a, b):
    return -(-a // b)


# --------------------------------------------------------------------------
# A reader of the compressed_segmentation format, from the spec
# --------------------------------------------------------------------------

class FormatError(Exception):
    """The reference reader rejects the chunk."""


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
    nb = 1
    for s, b in zip(chunk_size, block_size):
        nb *= ceil_div(s, b)
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


def _blocks(chunk_size, block_size):
    """(block index, (x0, y0, z0), visible (vx, vy, vz)), x fastest."""
    X, Y, Z = chunk_size
    bx, by, bz = block_size
    b = 0
    for z0 in range(0, Z, bz):
        for y0 in range(0, Y, by):
            for x0 in range(0, X, bx):
                yield b, (x0, y0, z0), (min(bx, X - x0), min(by, Y - y0), min(bz, Z - z0))
                b += 1


def _unpack(words, bits, count):
    per_word = 32 // bits
    shifts = (np.arange(per_word, dtype=np.uint32) * bits).astype(np.uint32)
    mask = np.uint32(0xFFFFFFFF if bits == 32 else (1 << bits) - 1)
    return ((words[:, np.newaxis] >> shifts) & mask).reshape(-1)[:count]


def reference_decode(buf, chunk_size, block_size, dtype, num_channels=1):
    """Decodes a chunk into a (C, Z, Y, X) array, or raises FormatError.

    Accepts exactly what the spec accepts: size multiple of 4; channel
    offsets and block headers inside; bits valid; table offset and the whole
    values run inside the chunk; every index of the block, padding voxels
    included (as neuroglancer-scripts checks; tensorstore checks visible
    voxels only), below the number of table entries left up to the end of
    the chunk; a 0-bit block has at least one entry.
    """
    dtype = np.dtype(dtype).newbyteorder("<")
    vw = dtype.itemsize // 4
    w = _words(buf)
    raw = w.tobytes()
    n = w.size
    X, Y, Z = chunk_size
    bx, by, bz = block_size
    volume = bx * by * bz
    out = np.zeros((num_channels, Z, Y, X), dtype=dtype)
    headers = block_headers(buf, chunk_size, block_size, num_channels)
    for c, (off, rows) in enumerate(headers):
        m = n - off
        for b, (x0, y0, z0), (vx, vy, vz) in _blocks(chunk_size, block_size):
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
                packed = w[start:start + nwords]
                full = _unpack(packed, bits, volume)
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


def table_at(buf, offset_words, count, dtype):
    """*count* labels of *dtype* starting at word *offset_words*."""
    dtype = np.dtype(dtype).newbyteorder("<")
    return np.frombuffer(bytes(buf), dtype=dtype, count=count, offset=4 * offset_words)


def check_encoder_structure(buf, array, block_size):
    """Asserts that *buf* is a compact, well-formed encoding of *array*
    ((C, Z, Y, X) or (Z, Y, X)) as the spec and ngcodec's encoder choices
    say: each block uses the smallest valid width for its distinct visible
    labels; its table is exactly those labels, ascending; identical tables
    are stored once per channel; every offset is below 2**24; the chunk holds
    nothing but channel offsets, block headers, tables and values; and the
    reference reader decodes it back to *array*.

    Returns the {bits: count} histogram."""
    a = np.asarray(array)
    if a.ndim == 3:
        a = a[np.newaxis]
    C, Z, Y, X = a.shape
    chunk_size = (X, Y, Z)
    dtype = a.dtype.newbyteorder("<")
    vw = dtype.itemsize // 4
    bx, by, bz = block_size
    volume = bx * by * bz
    assert len(buf) % 4 == 0
    n = len(buf) // 4
    headers = block_headers(buf, chunk_size, block_size, C)
    expected_words = C
    hist = {}
    for c, (off, rows) in enumerate(headers):
        tables = {}  # table content -> offset
        expected_words += 2 * rows.shape[0]
        for b, (x0, y0, z0), (vx, vy, vz) in _blocks(chunk_size, block_size):
            table_offset, bits, values_offset = (int(v) for v in rows[b])
            hist[bits] = hist.get(bits, 0) + 1
            labels = np.unique(a[c, z0:z0 + vz, y0:y0 + vy, x0:x0 + vx])
            assert bits == min_bits(labels.size), (
                f"channel {c} block {b}: {labels.size} labels encoded with {bits} bits")
            assert table_offset < 1 << 24 and values_offset < 1 << 24
            assert off + table_offset + labels.size * vw <= n
            table = table_at(buf, off + table_offset, labels.size, dtype)
            assert np.array_equal(table, labels), (
                f"channel {c} block {b}: table {table} is not the sorted labels {labels}")
            key = table.tobytes()
            if key in tables:
                assert tables[key] == table_offset, (
                    f"channel {c} block {b}: identical table stored twice "
                    f"(offsets {tables[key]} and {table_offset})")
            else:
                tables[key] = table_offset
                expected_words += labels.size * vw
            expected_words += (bits * volume + 31) // 32
    assert n == expected_words, f"chunk has {n} words, a compact encoding has {expected_words}"
    decoded = reference_decode(buf, chunk_size, block_size, dtype, C)
    assert np.array_equal(decoded, a)
    return hist


DECODER_SCRATCH_INDICES = 32768  # SCRATCH_INDICES in cseg.c


def decode_paths(buf, chunk_size, block_size, dtype, num_channels=1):
    """Which branch of decode_block (wasm_src/cseg.c) decodes each block,
    worked out from the chunk's bytes alone (keep it in step with the C):
    per block, a dict of channel, block, bits, path, entries (table entries
    up to the end of the channel), partial_z, table_end (the table's 2^bits
    entries end exactly at the end of the chunk). Paths: fill, simd,
    simd_words, simd_same_high, simd_mixed_high, fused, bytes, scratch,
    scratch_checked, per_voxel, per_voxel_checked."""
    vw = np.dtype(dtype).itemsize // 4
    w = np.frombuffer(bytes(buf), "<u4")
    n = w.size
    bx, by, bz = block_size
    volume = bx * by * bz
    out = []
    for c, (off, rows) in enumerate(block_headers(buf, chunk_size, block_size, num_channels)):
        m = n - off
        for b, _, (vx, vy, vz) in _blocks(chunk_size, block_size):
            table_offset, bits, _ = (int(v) for v in rows[b])
            entries = (m - table_offset) // vw
            info = dict(channel=c, block=b, bits=bits, entries=entries, partial_z=vz < bz,
                        table_end=bits != 0 and table_offset + (vw << bits) == m)
            check = entries < (1 << bits)
            if bits == 0:
                path = "fill"
            elif not check and bits <= 4 and bx == vx == 8 and by == vy == 8:
                if vw == 1:
                    path = "simd"
                elif bits <= 2:
                    path = "simd_words"
                else:
                    start = off + table_offset
                    highs = w[start + 1:start + 2 * (1 << bits):2]
                    path = "simd_same_high" if (highs == highs[0]).all() else "simd_mixed_high"
            elif not check and (32 // bits) % bx == 0:
                path = "fused"
            elif not check and bits in (8, 16):
                path = "bytes"
            elif volume <= DECODER_SCRATCH_INDICES:
                path = "scratch_checked" if check else "scratch"
            else:
                path = "per_voxel_checked" if check else "per_voxel"
            info["path"] = path
            out.append(info)
    return out


def pack_words(*words):
    """Little-endian uint32 words as bytes."""
    return struct.pack(f"<{len(words)}I", *words)


# --------------------------------------------------------------------------
# A writer of the format, from the spec (for layouts ngcodec does not write)
# --------------------------------------------------------------------------

def _pack(index, bits):
    """Packs uint32 indices *bits* wide from the LSB of each word."""
    per_word = 32 // bits
    padded = np.zeros(ceil_div(index.size, per_word) * per_word, dtype=np.uint64)
    padded[:index.size] = index
    padded = padded.reshape(-1, per_word)
    shifts = np.arange(per_word, dtype=np.uint64) * np.uint64(bits)
    return (padded << shifts).sum(axis=1, dtype=np.uint64).astype("<u4")


def reference_encode(array, block_size, tables="last", padding="zero", width=None,
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
        blocks = list(_blocks((X, Y, Z), block_size))
        headers = np.zeros((len(blocks), 2), dtype=np.uint64)
        values, table_list, table_of = [], [], {}
        for b, (x0, y0, z0), (vx, vy, vz) in blocks:
            labels, inverse = np.unique(a[c, z0:z0 + vz, y0:y0 + vy, x0:x0 + vx],
                                        return_inverse=True)
            bits = min_bits(labels.size) if width is None else width
            assert (1 << bits) >= labels.size
            if padding == "random":
                index = rng.integers(0, labels.size, size=(bz, by, bx)).astype(np.uint32)
            else:
                index = np.zeros((bz, by, bx), np.uint32)
            index[:vz, :vy, :vx] = inverse.reshape(vz, vy, vx)
            packed = _pack(index.reshape(-1), bits) if bits else np.zeros(0, "<u4")
            key = labels.astype(dtype).tobytes()
            if not share or key not in table_of:
                table_of[key] = len(table_list)
                table_list.append(np.frombuffer(key, "<u4"))
            values.append(packed)
            headers[b] = (table_of[key], bits)
        nb = len(blocks)
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
