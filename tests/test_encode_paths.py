"""The encoder's per-block paths (wasm_src/cseg_encode.c, encode_block), each
checked with the structure checker of tests/common.py (over the spec reader
of tests/spec.py) and with the compressed-segmentation package where it
applies:

- rows of 8 voxels equal to the previous label (one SIMD compare);
- rows whose labels the block has all seen (SIMD match against up to 16
  known labels), including uint64 labels equal in one 32-bit half;
- rows that bring a new label mid-row, and blocks past 16 labels (per
  voxel, through the hash set);
- packing: 16 indices a step for full blocks of <= 16 labels whose volume
  is a multiple of 32, word by word otherwise, scattered for edge blocks.
"""

import numpy as np
import pytest

import compressed_segmentation as cseg_pkg
import ngcodec

from tests.common import check_encoder_structure, fib25

encode = ngcodec.compressed_segmentation.encode

U64_EDGE = np.array([0, 1, 0xFFFFFFFF, 1 << 32, (1 << 32) | 1, (1 << 64) - 1,
                     0xFFFFFFFF00000000, 0x00000001FFFFFFFF], dtype=np.uint64)


def _check(a, block_size):
    """Encodes (Z, Y, X) *a*; the structure checker decodes it with the spec
    reader; the peer package decodes it too and agrees on the size."""
    buf = encode(a, block_size)
    check_encoder_structure(buf, a, block_size)
    X, Y, Z = a.shape[::-1]
    theirs = cseg_pkg.decompress(buf, (X, Y, Z), a.dtype, block_size, order="F").T
    np.testing.assert_array_equal(theirs, a)
    assert len(buf) <= len(cseg_pkg.compress(a.T, block_size=block_size, order="F"))
    return buf


def _blocks_of(rows, shape, dtype):
    """A volume tiled with the (8, 8)-row pattern *rows* (8 x 8 labels per
    plane), varied per plane by rolling."""
    z, y, x = shape
    plane = np.asarray(rows, dtype=dtype)
    vol = np.empty(shape, dtype=dtype)
    for k in range(z):
        vol[k] = np.roll(np.tile(plane, (y // 8 + 1, x // 8 + 1))[:y, :x], k % 3, axis=1)
    return vol


@pytest.mark.parametrize("dtype", ["uint32", "uint64"])
@pytest.mark.parametrize("block_size", [(8, 8, 8), (8, 8, 3), (8, 8, 1), (4, 4, 4), (5, 5, 5)],
                         ids=lambda b: "x".join(map(str, b)))
@pytest.mark.parametrize("labels", [1, 2, 3, 4, 5, 15, 16, 17, 40])
def test_alternating_rows_with_k_labels(dtype, block_size, labels):
    """Every voxel differs from its left neighbour: rows are all transitions."""
    rng = np.random.default_rng(labels)
    info = np.iinfo(dtype)
    pool = np.unique(rng.integers(0, info.max, size=4 * labels, dtype=dtype, endpoint=True))
    pool = rng.permutation(pool)[:labels]
    shape = (16, 24, 32)
    index = (np.arange(np.prod(shape)) * 7 + np.arange(np.prod(shape)) // 8) % labels
    _check(pool[index.reshape(shape)], block_size)


@pytest.mark.parametrize("block_size", [(8, 8, 8), (8, 8, 4)], ids=lambda b: "x".join(map(str, b)))
def test_uint64_labels_equal_in_one_half(block_size):
    """Labels equal in their low or high 32 bits share rows: a 32-bit
    compare would merge them."""
    rng = np.random.default_rng(1)
    a = rng.choice(U64_EDGE, size=(16, 16, 16))
    _check(a, block_size)
    # Blobby rows of the same labels (known-label matches, not transitions).
    _check(_blocks_of(np.repeat(U64_EDGE.reshape(8, 1), 8, axis=1), (16, 16, 16), np.uint64),
           block_size)


@pytest.mark.parametrize("dtype", ["uint32", "uint64"])
def test_new_label_mid_row_after_known_rows(dtype):
    """Row 0 teaches the block labels A and B; later rows mix them and then
    bring C, D in the middle of a row: the known-label match must give up
    and the labels still get their own, sorted, table entries."""
    A, B, C, D = (np.array([900, 7, 300, 5], dtype=dtype)
                  + (np.array(0x1234 << 40, dtype=dtype) if dtype == "uint64" else 0))
    rows = [[A] * 4 + [B] * 4,
            [A, B] * 4,
            [B] * 8,
            [A, A, C, A, B, B, B, B],
            [C] * 8,
            [A, B, C, D, A, B, C, D],
            [D] * 3 + [A] * 5,
            [B, A] * 4]
    a = np.broadcast_to(np.asarray(rows, dtype=dtype), (8, 8, 8)).copy()
    a[5] = D  # a uniform plane between varied ones
    _check(a, (8, 8, 8))
    _check(np.tile(a, (2, 2, 2))[:13, :11, :16], (8, 8, 8))  # partial edge blocks


@pytest.mark.parametrize("dtype", ["uint32", "uint64"])
@pytest.mark.parametrize("bits", [1, 2, 4])
def test_every_index_in_every_position(dtype, bits):
    """Each of the 2^bits table positions appears at every voxel position
    of a row pair, so every packed field of the 16-voxel steps is used."""
    k = 1 << bits
    rng = np.random.default_rng(bits)
    labels = np.sort(rng.choice(np.arange(1, 10 ** 6, dtype=dtype), size=k, replace=False))
    pos = np.arange(8 * 8 * 8).reshape(8, 8, 8)
    blocks = [labels[(pos + shift) % k] for shift in range(k)]
    a = np.concatenate(blocks, axis=2)  # one block per shift along x
    buf = _check(a, (8, 8, 8))
    assert len(buf) > 0


@pytest.mark.parametrize("dtype", ["uint32", "uint64"])
def test_fib25_every_path(dtype):
    a = fib25()
    if dtype == "uint32":
        a = np.unique(a, return_inverse=True)[1].reshape(a.shape).astype(np.uint32)
    for block_size in [(8, 8, 8), (8, 8, 4), (4, 4, 4), (16, 16, 16)]:
        _check(a, block_size)
    _check(a[:61, :59, :57].copy(), (8, 8, 8))
