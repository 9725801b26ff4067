"""ngcodec against two independent implementations of compressed_segmentation:
the ``compressed-segmentation`` package (seung-lab; Neuroglancer's C++
encoder) and neuroglancer-scripts (pure Python).

Each peer decodes what ngcodec encodes and ngcodec decodes what each peer
encodes. The peers lay chunks out differently (table placement, padding), so
bytes are never compared between implementations, only arrays.

The peers are test requirements (pyproject's ``test`` extra): if one is
missing, these tests fail rather than skip.

Axis conventions: ngcodec arrays are (C, Z, Y, X); compressed-segmentation
indexes (x, y, z[, c]), hence the transposes with order="F".
"""

import numpy as np
import pytest

from tests import common, spec
from ngcodec import compressed_segmentation as cseg

import compressed_segmentation as cs  # noqa: E402  (peer, must be installed)
from neuroglancer_scripts.chunk_encoding import (  # noqa: E402
    CompressedSegmentationEncoder as NgsEncoder,
)

DTYPES = ["uint32", "uint64"]


def cs_compress(a, block_size):
    """compressed-segmentation encoding of a (Z, Y, X) array."""
    return bytes(cs.compress(np.ascontiguousarray(a).T, block_size=tuple(block_size),
                             order="F"))


def cs_decompress(buf, a_shape, dtype, block_size, channels=1):
    """compressed-segmentation decoding to (C, Z, Y, X)."""
    _, Z, Y, X = a_shape
    if channels == 1:
        out = cs.decompress(bytes(buf), (X, Y, Z), np.dtype(dtype).type,
                            tuple(block_size), order="F")
        return np.asarray(out).T[np.newaxis]
    out = cs.decompress(bytes(buf), (X, Y, Z, channels), np.dtype(dtype).type,
                        tuple(block_size), order="F")
    return np.asarray(out).transpose(3, 2, 1, 0)


def _cases():
    """(name, (C, Z, Y, X) array, block_size)."""
    fib = common.fib25()
    many = common.voronoi((40, 48, 64), 3000, "uint64", seed=21)
    many32 = common.voronoi((40, 48, 64), 3000, "uint32", seed=22)
    aniso = common.voronoi((16, 64, 64), 130, "uint32", seed=23, spacing=(4, 1, 1))
    cases = [
        ("fib25_8x8x8", fib, (8, 8, 8)),
        ("fib25_16x8x4", fib, (16, 8, 4)),
        ("fib25_4x4x4", fib, (4, 4, 4)),
        ("fib25_64x64x64", fib, (64, 64, 64)),
        ("fib25_uint32_8x8x8", fib.astype(np.uint32), (8, 8, 8)),
        # Partial edge blocks: a 61x37x50 crop (x, y, z).
        ("fib25_partial_8x8x8", fib[3:53, 10:47, 2:63], (8, 8, 8)),
        ("fib25_partial_16x8x4", fib[:50, :37, :61], (16, 8, 4)),
        ("fib25_partial_uint32_5x3x7", fib[:29, :31, :33].astype(np.uint32), (5, 3, 7)),
        ("fib25_partial_uint32_6x6x6", fib[:29, :31, :33].astype(np.uint32), (6, 6, 6)),
        ("voronoi_3000_uint64_8x8x8", many, (8, 8, 8)),
        ("voronoi_3000_uint32_16x8x4", many32, (16, 8, 4)),
        ("voronoi_3000_uint64_partial", many[:37, :45, :59], (8, 8, 8)),
        ("voronoi_anisotropic_uint32_8x8x2", aniso, (8, 8, 2)),
        ("noise_16bit_uint64", common.noise((16, 16, 16), 1 << 20, "uint64", seed=24), (8, 8, 8)),
        ("noise_5_uint32_partial", common.noise((13, 7, 5), 5, "uint32", seed=25), (4, 4, 4)),
    ]
    return cases


CASES = _cases()
IDS = [c[0] for c in CASES]


def _case(name):
    _, a, block_size = CASES[IDS.index(name)]
    return np.ascontiguousarray(a)[np.newaxis], block_size


def _chunk_size(a):
    return a.shape[:0:-1]  # (X, Y, Z)


# -- compressed-segmentation package -----------------------------------------

@pytest.mark.parametrize("name", IDS)
def test_compressed_segmentation_decodes_ngcodec(name):
    a, block_size = _case(name)
    buf = cseg.encode(a, block_size)
    out = cs_decompress(buf, a.shape, a.dtype, block_size)
    assert np.array_equal(out, a)


@pytest.mark.parametrize("name", IDS)
def test_ngcodec_decodes_compressed_segmentation(name):
    a, block_size = _case(name)
    buf = cs_compress(a[0], block_size)
    out = cseg.decode(buf, _chunk_size(a), a.dtype, block_size)
    assert np.array_equal(out, a)


@pytest.mark.parametrize("name", IDS)
def test_ngcodec_never_larger_than_compressed_segmentation(name):
    """Both store identical tables once per channel and pick the smallest
    width per block, so ngcodec's chunk is never the bigger one."""
    a, block_size = _case(name)
    ours = len(cseg.encode(a, block_size))
    theirs = len(cs_compress(a[0], block_size))
    assert ours <= theirs, f"ngcodec {ours} bytes, compressed-segmentation {theirs}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_compressed_segmentation_decodes_ngcodec_multichannel(dtype):
    a = np.stack([common.voronoi((20, 30, 40), 130, dtype, seed=s) for s in range(3)])
    a[1] = a[0]  # equal tables in two channels
    for block_size in [(8, 8, 8), (16, 8, 4), (3, 3, 3)]:
        buf = cseg.encode(a, block_size)
        out = cs_decompress(buf, a.shape, dtype, block_size, channels=3)
        assert np.array_equal(out, a)


@pytest.mark.parametrize("dtype", DTYPES)
def test_ngcodec_decodes_compressed_segmentation_channels(dtype):
    """compressed-segmentation 2.3.3 does not round-trip 4-D input itself, so
    its per-channel chunks are joined under a channel offset header written
    here from the spec: offsets in words from the start of the chunk."""
    a = np.stack([common.voronoi((13, 30, 41), 130, dtype, seed=s) for s in range(3)])
    block_size = (8, 8, 8)
    channels = [cs_compress(a[c], block_size) for c in range(3)]
    # Each per-channel chunk starts with its own 1-word channel offset header.
    bodies = [ch[4:] for ch in channels]
    for ch in channels:
        assert np.frombuffer(ch[:4], "<u4")[0] == 1
    offsets, pos = [], 3
    for body in bodies:
        offsets.append(pos)
        pos += len(body) // 4
    buf = spec.pack_words(*offsets) + b"".join(bodies)
    out = cseg.decode(buf, (41, 30, 13), dtype, block_size, 3)
    assert np.array_equal(out, a)


# -- neuroglancer-scripts -------------------------------------------------------
#
# neuroglancer-scripts 1.2.0 only handles cubic blocks: its encoder compares
# a (z, y, x) block shape with the (x, y, z) block size (and pads to the
# wrong shape), and its decoder fills 0-bit blocks with an (x, y, z)-shaped
# array. The anisotropic cases are therefore left to compressed-segmentation
# and tensorstore.

NGS_IDS = [name for name, _, b in CASES if b[0] == b[1] == b[2]]


@pytest.mark.parametrize("name", NGS_IDS)
def test_neuroglancer_scripts_decodes_ngcodec(name):
    a, block_size = _case(name)
    buf = cseg.encode(a, block_size)
    out = NgsEncoder(a.dtype.name, 1, list(block_size)).decode(buf, _chunk_size(a))
    assert np.array_equal(out, a)


@pytest.mark.parametrize("name", NGS_IDS)
def test_ngcodec_decodes_neuroglancer_scripts(name):
    a, block_size = _case(name)
    buf = NgsEncoder(a.dtype.name, 1, list(block_size)).encode(a)
    out = cseg.decode(bytes(buf), _chunk_size(a), a.dtype, block_size)
    assert np.array_equal(out, a)


@pytest.mark.parametrize("dtype", DTYPES)
def test_neuroglancer_scripts_multichannel_both_ways(dtype):
    a = np.stack([common.voronoi((13, 30, 41), 130, dtype, seed=s) for s in range(3)])
    a[2] = a[0]
    for block_size in [(8, 8, 8), (5, 5, 5)]:
        ngs = NgsEncoder(dtype, 3, list(block_size))
        ours = cseg.encode(a, block_size)
        assert np.array_equal(ngs.decode(ours, (41, 30, 13)), a)
        theirs = bytes(ngs.encode(a))
        assert np.array_equal(cseg.decode(theirs, (41, 30, 13), dtype, block_size, 3), a)


def test_peers_agree_with_each_other_on_fib25(fib25):
    """Sanity of the harness: the two peers decode each other's FIB-25."""
    a = fib25[np.newaxis]
    ngs = NgsEncoder("uint64", 1, [8, 8, 8])
    assert np.array_equal(ngs.decode(cs_compress(fib25, (8, 8, 8)), (64, 64, 64)), a)
    assert np.array_equal(cs_decompress(bytes(ngs.encode(a)), a.shape, "uint64", (8, 8, 8)), a)
