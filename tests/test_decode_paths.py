"""Every per-block decoding path of wasm_src/cseg_decode.c (``decode_block``) gives
the right labels, checked against the source arrays (never against
ngcodec's own encoder), on chunks written by independent encoders: the spec
writer ``spec.encode`` and the ``compressed_segmentation``
package.

Paths pinned (a block with bits != 0; "check" means the table has fewer
than 2^bits entries up to the end of the chunk):

- SIMD (``decode_rows_simd``): unchecked, bits 1/2/4, block and visible
  x == y == 8, any block/visible z: byte planes for uint32; word tables for
  uint64 with bits <= 2 (BY_WORDS); for uint64 with bits 4, byte planes of
  the low words when all 16 loaded entries share one high word
  (BY_PLANES_LOW) and of both words when not (BY_PLANES), including tables
  whose only odd high word is the first or the last entry (the bounds of
  the same-high loop);
- fused one-word rows: unchecked, (32 / bits) % block x == 0 (partial x or
  y rows of 8-wide blocks, narrow blocks);
- whole-byte indices read in place: unchecked, bits 8 or 16 otherwise;
- scratch unpack, unchecked and checked (table at the end of the chunk,
  fewer than 2^bits entries), and the per-voxel fallback (block volume >
  32768), unchecked and checked;
- bits 0 (``fill_block``);
- an index past a short final table raises InvalidFormatError, for a
  visible voxel and for a padding voxel.

``common.decode_paths()`` mirrors the dispatch of decode_block from the block headers
alone; it only guards that the data of each test really reaches the paths
the test is about.
"""

import collections

import numpy as np
import pytest

import ngcodec
from ngcodec import compressed_segmentation as cseg

from tests import common, spec

import compressed_segmentation as cs  # noqa: E402  (peer, must be installed)

DTYPES = ["uint32", "uint64"]
BITS = [1, 2, 4]
HIGH = 0xDEADBEEF
HIGH_MODES = ["below32", "one_high", "random64", "last_high_differs", "first_high_differs"]


def path_counts(buf, chunk_size, block_size, dtype, num_channels=1):
    counts = collections.Counter()
    for info in common.decode_paths(buf, chunk_size, block_size, dtype, num_channels):
        counts[info["path"]] += 1
        if info["path"].startswith("simd"):
            counts["simd"] += info["path"] != "simd"
            counts["simd_partial_z"] += info["partial_z"]
    return counts


# --------------------------------------------------------------------------
# Data: per block, k labels and index rows of known shapes
# --------------------------------------------------------------------------

def block_labels(rng, k, dtype, mode):
    """*k* distinct labels of *dtype*, ascending (so label i gets index i in
    a spec table)."""
    if np.dtype(dtype) == np.uint32 or mode == "below32":
        labels = np.sort(common.random_labels(rng, k, "uint32")).astype(dtype)
        return labels
    if mode == "random64":
        return np.sort(common.random_labels(rng, k, "uint64"))
    lows = np.sort(common.random_labels(rng, k, "uint32")).astype(np.uint64)
    labels = np.uint64(HIGH << 32) | lows
    if mode == "last_high_differs" and k > 1:
        labels[-1] = np.uint64((HIGH + 1) << 32) | lows[-1]
    elif mode == "first_high_differs" and k > 1:
        labels[0] = np.uint64((HIGH - 1) << 32) | lows[0]
    else:
        assert mode in ("one_high", "last_high_differs", "first_high_differs"), mode
    return labels


def block_indices(rng, shape, k):
    """(vz, vy, vx) indices in [0, k): rows that are uniform (their value
    cycling through every index), alternating (0 / k-1 or a random pair),
    ramps and random; then every index 0..k-1 is made to appear."""
    vz, vy, vx = shape
    idx = np.empty(shape, np.int64)
    x = np.arange(vx)
    uniform = alternating = 0
    for z in range(vz):
        for y in range(vy):
            kind = int(rng.integers(0, 4))
            if kind == 0:
                idx[z, y] = uniform % k
                uniform += 1
            elif kind == 1:
                if alternating % 2 == 0 or k == 1:
                    a, b = 0, k - 1
                else:
                    a = int(rng.integers(0, k))
                    b = (a + 1 + int(rng.integers(0, k - 1))) % k
                if alternating % 4 >= 2:
                    a, b = b, a
                idx[z, y] = np.where(x % 2, b, a)
                alternating += 1
            elif kind == 2:
                idx[z, y] = (x + int(rng.integers(0, k))) % k
            else:
                idx[z, y] = rng.integers(0, k, size=vx)
    flat = idx.reshape(-1)
    counts = np.bincount(flat, minlength=k)
    for missing in np.flatnonzero(counts == 0):
        for p in rng.permutation(flat.size):
            if counts[flat[p]] > 1:
                counts[flat[p]] -= 1
                flat[p] = missing
                counts[missing] += 1
                break
    assert (counts > 0).all()
    return idx


def patterned(chunk_size, block_size, bits, dtype, *, ks="mixed", modes=("random64",),
              pool=None, seed=0, last=None):
    """A (Z, Y, X) array built block by block.

    ks: "exact" (every block has 2^bits labels) or "mixed" (2^bits, 2^bits,
    then a random count in 1..2^bits, in turn). modes: uint64 label kinds
    used in turn (see block_labels). pool: when set, each block takes one of
    *pool* label sets per (k, mode), so tables are shared. last: a label
    count for the last block, which then gets fresh labels (so with
    tables="last" its table ends the chunk). A block never has more labels
    than visible voxels; each of its k labels appears."""
    rng = np.random.default_rng(seed)
    X, Y, Z = chunk_size
    a = np.zeros((Z, Y, X), dtype=dtype)
    blocks = list(spec.blocks(chunk_size, block_size))
    sets = {}
    for b, (x0, y0, z0), (vx, vy, vz) in blocks:
        if ks == "exact":
            k = 1 << bits
        else:
            k = (1 << bits) if b % 3 < 2 else int(rng.integers(1, (1 << bits) + 1))
        mode = modes[b % len(modes)]
        fresh = pool is None
        if last is not None and b == len(blocks) - 1:
            k, fresh = last, True
        k = min(k, vx * vy * vz)
        if fresh:
            labels = block_labels(rng, k, dtype, mode)
        else:
            choices = sets.setdefault((k, mode), [block_labels(rng, k, dtype, mode)
                                                  for _ in range(pool)])
            labels = choices[int(rng.integers(0, pool))]
        idx = block_indices(rng, (vz, vy, vx), k)
        a[z0:z0 + vz, y0:y0 + vy, x0:x0 + vx] = labels[idx]
        assert np.array_equal(np.unique(labels[idx]), labels)
    return a


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def chunk_of(a):
    """(x, y, z) chunk size of a (C, Z, Y, X) or (Z, Y, X) array."""
    return tuple(a.shape[::-1][:3])


def cs_compress(a, block_size):
    """compressed_segmentation package encoding of a (Z, Y, X) array."""
    return bytes(cs.compress(np.ascontiguousarray(a).T, block_size=tuple(block_size), order="F"))


def assert_decodes(buf, a, block_size, reference=True):
    """ngcodec decodes *buf* to *a* ((C, Z, Y, X) or (Z, Y, X)); with
    *reference*, so does the spec reader (the chunk is valid)."""
    a4 = a if a.ndim == 4 else a[np.newaxis]
    C, Z, Y, X = a4.shape
    got = cseg.decode(buf, (X, Y, Z), a4.dtype, block_size, C)
    assert got.shape == a4.shape
    np.testing.assert_array_equal(got, a4)
    if reference:
        ref = spec.decode(buf, (X, Y, Z), block_size, a4.dtype, C)
        np.testing.assert_array_equal(ref, a4)


def set_index(buf, off, values_offset, pos, bits, value):
    """*buf* with index *pos* (x fastest, full block) of the block whose
    values start at word *values_offset* of the channel at *off* set to
    *value*."""
    w = np.frombuffer(bytes(buf), "<u4").copy()
    per_word = 32 // bits
    word = off + values_offset + pos // per_word
    shift = (pos % per_word) * bits
    mask = ((1 << bits) - 1) << shift
    w[word] = (int(w[word]) & ~mask & 0xFFFFFFFF) | (value << shift)
    return w.tobytes()


# --------------------------------------------------------------------------
# Geometry matrix: full and partial blocks of 8x8xZ
# --------------------------------------------------------------------------

BLOCKS_8x8 = [(8, 8, 8), (8, 8, 4), (8, 8, 16), (8, 8, 1), (8, 8, 3)]


def _chunk(block_size, partial):
    """A chunk of 2x2xN blocks, partial along the axes named in *partial*."""
    bz = block_size[2]
    x = 13 if "x" in partial else 16
    y = 11 if "y" in partial else 16
    z = bz + -(-bz // 2) if "z" in partial else 2 * bz
    return (x, y, z)


# Partial along the named axes (a 1-deep block cannot be partial in z).
GEOMETRIES = [(block, partial) for block in BLOCKS_8x8
              for partial in (["full", "z", "x", "y", "xyz"] if block[2] > 1
                              else ["full", "x", "y", "xy"])]
GEOMETRY_IDS = ["b%dx%dx%d-" % block + partial for block, partial in GEOMETRIES]

ENCODINGS = {
    # name: spec.encode arguments (width: True = forced to the test's bits)
    "natural-first": dict(tables="first"),
    "natural-last-padrand": dict(tables="last", padding="random"),
    "width-last-padrand": dict(tables="last", padding="random", width=True),
    "width-first-unshared": dict(tables="first", width=True, share=False, padding="random"),
}


def _encode(a, block_size, bits, name, seed=0):
    kwargs = dict(ENCODINGS[name])
    if kwargs.pop("width", False):
        kwargs["width"] = bits
    return spec.encode(a[np.newaxis], block_size, seed=seed, **kwargs)


@pytest.mark.parametrize("block_size,partial", GEOMETRIES, ids=GEOMETRY_IDS)
@pytest.mark.parametrize("bits", BITS, ids=lambda b: f"bits{b}")
@pytest.mark.parametrize("dtype", DTYPES)
def test_geometry_matrix(dtype, bits, block_size, partial):
    chunk_size = _chunk(block_size, partial)
    a = patterned(chunk_size, block_size, bits, dtype, modes=HIGH_MODES, pool=2,
                  seed=bits * 100 + GEOMETRIES.index((block_size, partial)))
    seen = collections.Counter()
    for i, name in enumerate(ENCODINGS):
        buf = _encode(a, block_size, bits, name, seed=i)
        assert_decodes(buf, a, block_size)
        counts = path_counts(buf, chunk_size, block_size, dtype)
        if name.startswith("width"):
            assert set(spec.bits_histogram(buf, chunk_size, block_size)) == {bits}
        seen.update(counts)
    buf = cs_compress(a, block_size)
    assert_decodes(buf, a, block_size, reference=False)
    seen.update(path_counts(buf, chunk_size, block_size, dtype))
    # Full 8x8 blocks exist in every geometry here; partial x or y blocks
    # take the fused path (or the scratch one when checked).
    assert seen["simd"] > 0, seen
    if "z" in partial:
        assert seen["simd_partial_z"] > 0, seen
    if "x" in partial or "y" in partial:
        assert seen["fused"] > 0, seen
    if dtype == "uint64" and bits == 4:
        assert seen["simd_same_high"] > 0 and seen["simd_mixed_high"] > 0, seen
    elif dtype == "uint64":
        assert seen["simd_words"] > 0, seen


# --------------------------------------------------------------------------
# uint64 high words in the SIMD path
# --------------------------------------------------------------------------

@pytest.mark.parametrize("block_size", [(8, 8, 8), (8, 8, 3), (8, 8, 1)],
                         ids=lambda b: "b%dx%dx%d" % b)
@pytest.mark.parametrize("mode", HIGH_MODES)
@pytest.mark.parametrize("bits", BITS, ids=lambda b: f"bits{b}")
def test_uint64_high_words(bits, mode, block_size):
    """Every block is a SIMD block with exactly 2^bits labels, every index
    used (so index 2^bits - 1, the last table entry, is read)."""
    bz = block_size[2]
    chunk_size = (16, 16, bz + -(-bz // 2))
    a = patterned(chunk_size, block_size, bits, "uint64", ks="exact", modes=(mode,),
                  seed=7 + bits)
    nblocks = 4 * spec.ceil_div(chunk_size[2], bz)
    for tables in ["first", "last"]:
        for padding in ["zero", "random"]:
            buf = spec.encode(a[np.newaxis], block_size, tables=tables,
                                          padding=padding, seed=bits)
            assert_decodes(buf, a, block_size)
            counts = path_counts(buf, chunk_size, block_size, "uint64")
            if bits <= 2:
                expected = "simd_words"
            elif mode in ("below32", "one_high"):
                expected = "simd_same_high"
            else:
                expected = "simd_mixed_high"
            assert counts[expected] == nblocks, counts
    assert_decodes(cs_compress(a, block_size), a, block_size, reference=False)


def one_block_chunk(index, table, bits):
    """A one-channel chunk of a single block, written from the spec: the
    (bz, by, bx) *index* array packed *bits* wide, then the uint64 *table*
    in the given order (the spec allows any order), which ends the chunk."""
    values = spec.pack_indices(index.reshape(-1).astype(np.uint32), bits)
    table_words = np.frombuffer(np.asarray(table, "<u8").tobytes(), "<u4")
    head = np.array([1, (2 + values.size) | bits << 24, 2], "<u4")
    return np.concatenate([head, values, table_words]).tobytes()


@pytest.mark.parametrize("bits", BITS, ids=lambda b: f"bits{b}")
def test_uint64_one_odd_high_word_at_each_entry(bits):
    """8x8x2 blocks of 2^bits uint64 labels sharing one high word except
    entry i, which differs in one byte of it: every entry i (first and last
    included) and every byte. Tables are unsorted, so the odd entry can sit
    anywhere; its index fills uniform rows, alternates with others, and
    every other index is used too."""
    n = 1 << bits
    x = np.arange(8)
    rng = np.random.default_rng(bits)
    block_size = (8, 8, 2)
    for odd in range(n):
        other = (odd + 1) % n
        plane = np.array([[odd] * 8, np.where(x % 2, odd, other), x % n, (x + 8) % n,
                          [odd] * 8, [other] * 8, (7 - x) % n, np.where(x % 2, 0, n - 1)])
        index = np.stack([plane, plane[rng.permutation(8)]])
        assert np.unique(index).size == n
        lows = common.random_labels(rng, n, "uint32").astype(np.uint64)
        for byte in range(4):
            table = np.uint64(HIGH << 32) | lows
            table[odd] ^= np.uint64(1 << (32 + 8 * byte))
            buf = one_block_chunk(index, table, bits)
            info, = common.decode_paths(buf, (8, 8, 2), block_size, "uint64")
            assert info["path"] == ("simd_words" if bits <= 2 else "simd_mixed_high")
            assert info["table_end"]
            assert_decodes(buf, table[index], block_size)


# --------------------------------------------------------------------------
# Tables at the end of the chunk: checked and exact-length unchecked blocks
# --------------------------------------------------------------------------

@pytest.mark.parametrize("block_size", [(8, 8, 8), (8, 8, 3)], ids=lambda b: "b%dx%dx%d" % b)
@pytest.mark.parametrize("bits", BITS, ids=lambda b: f"bits{b}")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("last", ["exact", "short"])
def test_last_table_ends_chunk(last, dtype, bits, block_size):
    """tables="last", width forced: the last block's fresh table ends the
    chunk. With exactly 2^bits labels it is an unchecked SIMD block reading
    up to the very last byte; with fewer it is checked (scratch path)."""
    bz = block_size[2]
    chunk_size = (16, 16, 2 * bz)
    k_last = (1 << bits) if last == "exact" else (1 << bits) - 1
    a = patterned(chunk_size, block_size, bits, dtype, modes=HIGH_MODES, pool=2,
                  seed=bits + 31, last=k_last)
    for padding in ["zero", "random"]:
        buf = spec.encode(a[np.newaxis], block_size, tables="last", width=bits,
                                      padding=padding, seed=5)
        assert_decodes(buf, a, block_size)
        info = common.decode_paths(buf, chunk_size, block_size, dtype)[-1]
        if last == "exact":
            assert info["path"].startswith("simd") and info["table_end"], info
        else:
            assert info["path"] == "scratch_checked" and info["entries"] == k_last, info


@pytest.mark.parametrize("bits", BITS, ids=lambda b: f"bits{b}")
@pytest.mark.parametrize("dtype", DTYPES)
def test_short_tables_everywhere(dtype, bits):
    """Width 4 on blocks of 1-3 labels, tables last and shared: many blocks
    are checked, on 8x8 and on partial rows, and still decode."""
    chunk_size = (13, 16, 11)
    block_size = (8, 8, 4)
    rng = np.random.default_rng(bits)
    palette = common.random_labels(rng, 5, dtype)
    z, y, x = np.indices(chunk_size[::-1])
    # Each block: at most 2 labels, {p0, p1} or {p3, p4} in a checkerboard.
    a = palette[rng.integers(0, 2, size=z.shape) + (z // 4 + y // 8 + x // 8) % 2 * 3]
    for tables in ["first", "last"]:
        buf = spec.encode(a[np.newaxis], block_size, tables=tables, width=bits,
                                      padding="random")
        assert_decodes(buf, a, block_size)
        counts = path_counts(buf, chunk_size, block_size, dtype)
        if tables == "last" and bits > 1:
            assert counts["scratch_checked"] > 0, counts


# --------------------------------------------------------------------------
# Other paths: fused rows of narrow blocks, scratch, per-voxel
# --------------------------------------------------------------------------

def decodes_every_encoding(a, block_size, bits):
    """Asserts that ngcodec decodes *a* ((Z, Y, X)) from each of ENCODINGS
    and from the compressed_segmentation package; returns the paths taken
    by the blocks of the ENCODINGS chunks."""
    seen = collections.Counter()
    for name in ENCODINGS:
        buf = _encode(a, block_size, bits, name)
        assert_decodes(buf, a, block_size)
        seen.update(path_counts(buf, chunk_of(a), block_size, a.dtype))
    assert_decodes(cs_compress(a, block_size), a, block_size, reference=False)
    return seen


OTHER_BLOCKS = [
    # (block, chunk, path expected per bits)
    ((4, 4, 4), (13, 11, 9), {1: "fused", 2: "fused", 4: "fused"}),
    ((16, 8, 4), (37, 11, 9), {1: "fused", 2: "fused", 4: "scratch"}),
    ((3, 5, 7), (13, 11, 9), {1: "scratch", 2: "scratch", 4: "scratch"}),
    ((64, 64, 9), (64, 64, 9), {1: "per_voxel", 2: "per_voxel", 4: "per_voxel"}),
]


@pytest.mark.parametrize("block_size,chunk_size,expected", OTHER_BLOCKS,
                         ids=["b%dx%dx%d" % c[0] for c in OTHER_BLOCKS])
@pytest.mark.parametrize("bits", BITS, ids=lambda b: f"bits{b}")
@pytest.mark.parametrize("dtype", DTYPES)
def test_other_paths(dtype, bits, block_size, chunk_size, expected):
    a = patterned(chunk_size, block_size, bits, dtype, modes=HIGH_MODES, pool=2,
                  seed=bits + 51, last=(1 << bits) - 1)
    seen = decodes_every_encoding(a, block_size, bits)
    assert seen[expected[bits]] > 0, seen
    if expected[bits] == "per_voxel":
        assert seen["per_voxel_checked"] > 0, seen
    else:
        assert seen["scratch_checked"] > 0, seen


BYTE_CASES = [
    # (bits, block, chunk, path expected where unchecked)
    (8, (8, 8, 8), (16, 16, 16), "bytes"),
    (8, (8, 8, 8), (13, 11, 9), "bytes"),  # partial rows
    (8, (5, 3, 2), (13, 11, 9), "bytes"),
    (8, (4, 4, 4), (13, 11, 9), "fused"),
    (16, (8, 8, 8), (64, 64, 24), "bytes"),
    (16, (2, 2, 2), (13, 11, 9), "fused"),
]


@pytest.mark.parametrize("bits,block_size,chunk_size,expected", BYTE_CASES,
                         ids=["bits%d-b%dx%dx%d-c%dx%dx%d" % ((c[0],) + c[1] + c[2])
                              for c in BYTE_CASES])
@pytest.mark.parametrize("dtype", DTYPES)
def test_whole_byte_indices(dtype, bits, block_size, chunk_size, expected):
    """Blocks of 17-256 (bits 8) and 257+ (bits 16) labels: indices are
    whole bytes, read in place where the table is long enough."""
    a = patterned(chunk_size, block_size, bits, dtype, modes=HIGH_MODES, pool=2,
                  seed=bits + 7, last=2)
    seen = decodes_every_encoding(a, block_size, bits)
    assert seen[expected] > 0, seen
    assert seen["scratch_checked"] > 0, seen


# --------------------------------------------------------------------------
# Multi-channel
# --------------------------------------------------------------------------

@pytest.mark.parametrize("block_size,chunk_size", [((8, 8, 8), (16, 16, 12)),
                                                   ((8, 8, 3), (13, 16, 5))],
                         ids=["b8x8x8", "b8x8x3-partial"])
@pytest.mark.parametrize("tables", ["first", "last"])
@pytest.mark.parametrize("bits", BITS, ids=lambda b: f"bits{b}")
@pytest.mark.parametrize("dtype", DTYPES)
def test_multichannel(dtype, bits, tables, block_size, chunk_size):
    channels = 3 if bits != 2 else 2
    a = np.stack([patterned(chunk_size, block_size, bits, dtype, modes=HIGH_MODES,
                            pool=2 if c % 2 else None, seed=100 * c + bits,
                            last=(1 << bits) - c % 2)
                  for c in range(channels)])
    for width in [None, bits]:
        buf = spec.encode(a, block_size, tables=tables, width=width,
                                      padding="random", seed=3)
        assert_decodes(buf, a, block_size)
        counts = path_counts(buf, chunk_size, block_size, dtype, channels)
        assert counts["simd"] > 0, counts


# --------------------------------------------------------------------------
# Natural data: FIB-25 and Voronoi volumes from the compressed_segmentation
# package and the spec writer
# --------------------------------------------------------------------------

@pytest.mark.parametrize("block_size", BLOCKS_8x8, ids=lambda b: "b%dx%dx%d" % b)
@pytest.mark.parametrize("dtype", DTYPES)
def test_fib25(dtype, block_size, fib25):
    a = fib25
    if dtype == "uint32":
        a = np.unique(a, return_inverse=True)[1].reshape(a.shape).astype(np.uint32)
    seen = collections.Counter()
    for crop in [a, a[:61], a[:61, 3:, 5:]]:
        buf = cs_compress(crop, block_size)
        assert_decodes(buf, crop, block_size, reference=False)
        seen.update(path_counts(buf, chunk_of(crop), block_size, dtype))
    hist = spec.bits_histogram(cs_compress(a, block_size), (64, 64, 64), block_size)
    assert all(hist.get(b, 0) > 0 for b in (0, 1, 2)), hist
    assert seen["simd"] > 0 and seen["fused"] > 0, seen
    if block_size[2] > 1:
        assert seen["simd_partial_z"] > 0, seen


@pytest.mark.parametrize("dtype", DTYPES)
def test_voronoi_and_noise_61_deep(dtype):
    """(64, 64, 61) chunks: Voronoi cells (mostly bits 0-2) and 3/5/16-label
    noise (bits 2 and 4 everywhere), block (8, 8, 8), partial in z."""
    block_size = (8, 8, 8)
    volumes = [common.voronoi((61, 64, 64), 400, dtype, seed=3),
               common.noise((61, 64, 64), 3, dtype, seed=4),
               common.noise((61, 64, 64), 5, dtype, seed=5),
               common.noise((61, 64, 64), 16, dtype, seed=6)]
    seen = collections.Counter()
    for i, a in enumerate(volumes):
        assert_decodes(cs_compress(a, block_size), a, block_size, reference=False)
        for tables in ["first", "last"]:
            buf = spec.encode(a[np.newaxis], block_size, tables=tables,
                                          padding="random", seed=i)
            assert_decodes(buf, a, block_size, reference=False)
            seen.update(path_counts(buf, (64, 64, 61), block_size, dtype))
            seen.update(f"bits{b}" for b in
                        spec.bits_histogram(buf, (64, 64, 61), block_size))
    assert all(seen[f"bits{b}"] for b in (1, 2, 4)), seen
    assert seen["simd_partial_z"] > 0, seen


# --------------------------------------------------------------------------
# Bad table index past a short final table
# --------------------------------------------------------------------------

BAD_INDEX_CASES = [
    # (block, chunk): the last block is partial in z, so it has padding voxels
    ((8, 8, 8), (16, 8, 13)),
    ((8, 8, 3), (8, 16, 5)),
    ((64, 64, 9), (64, 64, 7)),  # per-voxel path
]


@pytest.mark.parametrize("block_size,chunk_size", BAD_INDEX_CASES,
                         ids=["b%dx%dx%d" % c[0] for c in BAD_INDEX_CASES])
@pytest.mark.parametrize("bits", BITS, ids=lambda b: f"bits{b}")
@pytest.mark.parametrize("dtype", DTYPES)
def test_bad_table_index(dtype, bits, block_size, chunk_size):
    k = (1 << bits) - 1  # the last table: one entry short of 2^bits
    a = patterned(chunk_size, block_size, bits, dtype, modes=HIGH_MODES, seed=bits + 71,
                  last=k)
    buf = spec.encode(a[np.newaxis], block_size, tables="last", width=bits)
    assert_decodes(buf, a, block_size)
    info = common.decode_paths(buf, chunk_size, block_size, dtype)[-1]
    assert info["path"] in ("scratch_checked", "per_voxel_checked"), info
    assert info["entries"] == k, info

    (off, rows), = spec.block_headers(buf, chunk_size, block_size)
    values_offset = int(rows[-1, 2])
    bx, by, bz = block_size
    *_, (_, _, (vx, vy, vz)) = spec.blocks(chunk_size, block_size)
    assert vz < bz
    gx, gy, gz = (spec.ceil_div(s, b) for s, b in zip(chunk_size, block_size))
    where = f"block ({gx - 1}, {gy - 1}, {gz - 1})"
    positions = {
        "first": 0,
        "last_visible": ((vz - 1) * by + vy - 1) * bx + vx - 1,
        "padding": (vz * by + by - 1) * bx + bx - 1,
    }
    for name, pos in positions.items():
        # k - 1 is the last entry: valid (a padding index changes nothing).
        ok = set_index(buf, off, values_offset, pos, bits, k - 1)
        expected = a.copy()
        if name != "padding":
            z, y, x = np.unravel_index(pos, (bz, by, bx))
            z0, y0, x0 = ((g - 1) * b for g, b in zip((gz, gy, gx), (bz, by, bx)))
            expected[z0 + z, y0 + y, x0 + x] = spec.table_at(
                buf, off + int(rows[-1, 0]), k, dtype)[k - 1]
        assert_decodes(ok, expected, block_size)
        # k is one past the table.
        bad = set_index(buf, off, values_offset, pos, bits, k)
        with pytest.raises(ngcodec.InvalidFormatError) as info:
            cseg.decode(bad, chunk_size, dtype, block_size)
        assert info.value.status_name == "NGC_ERR_BAD_TABLE_INDEX", name
        assert where in str(info.value), (name, str(info.value))
        with pytest.raises(spec.FormatError):
            spec.decode(bad, chunk_size, block_size, dtype)
    # A valid decode right after the errors still works.
    assert_decodes(buf, a, block_size, reference=False)
