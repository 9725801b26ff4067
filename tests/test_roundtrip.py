"""Round trips through ngcodec's direct API (compressed_segmentation and raw).

Every encoded chunk is also read by the spec reader of tests/spec.py or has
its block headers parsed, so a round trip cannot pass by the encoder and the
decoder agreeing on a wrong format.
"""

import numpy as np
import pytest

import ngcodec
from ngcodec import compressed_segmentation as cseg
from ngcodec import raw

from tests import common, spec

DTYPES = ["uint32", "uint64"]
BLOCK_SIZES = [(8, 8, 8), (16, 8, 4), (2, 2, 2), (64, 64, 64), (1, 1, 1), (3, 5, 7)]
CHUNK_SIZES = [
    (64, 64, 64),  # multiple of every block size above but (3, 5, 7)
    (32, 16, 8),   # exact multiple of (8, 8, 8), (16, 8, 4), (2, 2, 2)
    (11, 50, 64),  # partial edge blocks in x and y
    (13, 7, 5),    # partial edge blocks everywhere
    (1, 1, 37),    # thin chunks
    (64, 1, 1),
    (1, 40, 1),
]


def _volume(chunk_size, dtype, channels, kind, seed=0):
    """(C, Z, Y, X) test data; channels differ."""
    x, y, z = chunk_size
    out = []
    for c in range(channels):
        if kind == "voronoi":
            out.append(common.voronoi((z, y, x), 130, dtype, seed=seed + c))
        else:  # "noise": 5 labels, several bits per block
            out.append(common.noise((z, y, x), 5, dtype, seed=seed + c))
    return np.stack(out)


def _roundtrip(a, block_size):
    """Encodes *a*, checks the headers with the spec reader, decodes and
    compares. Returns the encoded chunk."""
    buf = cseg.encode(a, block_size)
    assert isinstance(buf, bytes)
    C, Z, Y, X = a.shape
    hist = spec.bits_histogram(buf, (X, Y, Z), block_size, C)
    nblocks = np.prod([spec.ceil_div(s, b) for s, b in zip((X, Y, Z), block_size)])
    assert sum(hist.values()) == C * nblocks
    assert set(hist) <= set(spec.VALID_BITS)
    out = cseg.decode(buf, (X, Y, Z), a.dtype, block_size, C)
    assert out.shape == a.shape
    assert out.dtype == a.dtype.newbyteorder("<")
    assert np.array_equal(out, a)
    if a.size <= 20000 and C * nblocks <= 3000:
        common.check_encoder_structure(buf, a, block_size)
    return buf


@pytest.mark.parametrize("block_size", BLOCK_SIZES, ids=lambda b: "b%dx%dx%d" % b)
@pytest.mark.parametrize("chunk_size", CHUNK_SIZES, ids=lambda c: "c%dx%dx%d" % c)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_roundtrip_matrix(dtype, channels, chunk_size, block_size):
    # Alternate the data kind over the matrix so both occur for every
    # block size and chunk size without doubling the run time.
    kind = ("voronoi", "noise")[(BLOCK_SIZES.index(block_size)
                                 + CHUNK_SIZES.index(chunk_size) + channels) % 2]
    a = _volume(chunk_size, dtype, channels, kind)
    _roundtrip(a, block_size)


@pytest.mark.parametrize("kind", ["voronoi", "noise"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_roundtrip_fib25_like_volumes(dtype, kind):
    a = _volume((64, 64, 64), dtype, 1, kind, seed=11)
    for block_size in [(8, 8, 8), (4, 4, 4), (16, 16, 16), (32, 8, 2)]:
        _roundtrip(a, block_size)


@pytest.mark.parametrize("block_size", [(8, 8, 8), (16, 8, 4), (4, 4, 1), (64, 64, 64)])
def test_roundtrip_fib25(fib25, block_size):
    buf = _roundtrip(fib25[np.newaxis], block_size)
    if block_size == (8, 8, 8):
        assert len(buf) < fib25.nbytes / 20  # about 29x smaller, says data/README


@pytest.mark.slow  # about 5 s: 4,096 labels per block through every decoder
def test_roundtrip_thousands_of_labels():
    for dtype in DTYPES:
        a = common.voronoi((48, 40, 64), 3000, dtype, seed=5)
        assert len(np.unique(a)) > 2900
        _roundtrip(a[np.newaxis], (8, 8, 8))
        _roundtrip(a[np.newaxis], (16, 8, 4))


# Noise with this many labels gives blocks of this many bits.
WIDTHS = {0: 1, 1: 2, 2: 4, 4: 16, 8: 256, 16: 1 << 20}


@pytest.mark.parametrize("bits", spec.VALID_BITS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_bit_width(dtype, bits):
    if bits == 32:
        # More than 2**16 distinct labels in one 64x64x32 block; uint32 and
        # uint64 labels drawn from their whole ranges.
        a = common.noise((32, 64, 64), 1 << 30, dtype, seed=32)[np.newaxis]
        block_size = (64, 64, 32)
    else:
        # 16^3 chunk of 8^3 blocks (512 voxels each).
        a = common.noise((16, 16, 16), WIDTHS[bits], dtype, seed=bits)[np.newaxis]
        block_size = (8, 8, 8)
    buf = _roundtrip(a, block_size)
    hist = common.check_encoder_structure(buf, a, block_size)
    assert set(hist) == {bits}, hist


def test_six_bit_widths_in_one_chunk():
    """One uint64 chunk of 8x8x8 blocks of 0, 1, 2, 4, 8 and 16 bits side by
    side, with a partial edge block."""
    blocks = [common.noise((8, 8, 8), WIDTHS[bits], "uint64", seed=100 + bits)
              for bits in (0, 1, 2, 4, 8, 16)]
    a = np.concatenate(blocks, axis=2)[:, :7, :45]  # (8, 7, 45): partial in x, y
    buf = _roundtrip(a[np.newaxis], (8, 8, 8))
    (_, rows), = spec.block_headers(buf, (45, 7, 8), (8, 8, 8))
    assert rows[:, 1].tolist() == [0, 1, 2, 4, 8, 16]


def test_zero_and_thirty_two_bit_blocks_in_one_chunk():
    a = np.zeros((32, 64, 128), np.uint32)
    a[:, :, 64:] = common.noise((32, 64, 64), 1 << 30, "uint32", seed=7)
    buf = _roundtrip(a[np.newaxis], (64, 64, 32))
    (_, rows), = spec.block_headers(buf, (128, 64, 32), (64, 64, 32))
    assert rows[:, 1].tolist() == [0, 32]


def test_zero_sized_chunks():
    for shape in [(1, 0, 4, 4), (2, 4, 0, 4), (1, 4, 4, 0)]:
        a = np.zeros(shape, np.uint64)
        buf = cseg.encode(a, (2, 2, 2))
        C, Z, Y, X = shape
        # Only the channel offsets: no blocks.
        assert len(buf) == 4 * C
        out = cseg.decode(buf, (X, Y, Z), "uint64", (2, 2, 2), C)
        assert out.shape == shape


def test_single_voxel_blocks_many_channels():
    a = common.noise((3, 4, 5), 7, "uint32", seed=9)
    a = np.stack([a + c for c in range(7)])
    _roundtrip(a, (1, 1, 1))


def test_three_dimensional_input_gets_one_channel():
    a = common.voronoi((9, 10, 11), 20, "uint64")
    buf = cseg.encode(a, (4, 4, 4))
    assert buf == cseg.encode(a[np.newaxis], (4, 4, 4))
    out = cseg.decode(buf, (11, 10, 9), "uint64", (4, 4, 4))
    assert out.shape == (1, 9, 10, 11)
    assert np.array_equal(out[0], a)


# -- input layouts -------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_big_endian_input(dtype):
    a = _volume((13, 7, 5), dtype, 2, "noise", seed=4)
    big = a.astype(np.dtype(dtype).newbyteorder(">"))
    assert big.dtype.byteorder == ">"
    buf = cseg.encode(big, (4, 4, 4))
    assert buf == cseg.encode(a, (4, 4, 4))
    out = cseg.decode(buf, (13, 7, 5), dtype, (4, 4, 4), 2)
    assert out.dtype.byteorder in ("<", "=") and out.dtype.newbyteorder("<") == out.dtype
    assert np.array_equal(out, a)
    common.check_encoder_structure(buf, a, (4, 4, 4))


def _non_contiguous_views():
    base = common.noise((2 * 12, 2 * 10, 2 * 14), 6, "uint64", seed=8)
    big = np.stack([base, base[::-1], base + 1])     # (3, 24, 20, 28)
    return {
        "strided_x": big[:, :, :, ::2],
        "strided_all": big[:, ::2, ::2, ::2],
        "reversed": big[:, ::-1, :, ::-1],
        "transposed": np.ascontiguousarray(big.transpose(0, 3, 2, 1)).transpose(0, 3, 2, 1),
        "fortran_order": np.asfortranarray(big),
        "every_other_channel": big[::2],
        "inner_slice": big[:, 3:-2, 1:-4, 5:-1],
        "swapped_axes_3d": np.ascontiguousarray(base.T).T,
    }


@pytest.mark.parametrize("name", sorted(_non_contiguous_views()))
def test_non_contiguous_input(name):
    view = _non_contiguous_views()[name]
    assert not view.flags.c_contiguous
    expected = np.ascontiguousarray(view)
    buf = cseg.encode(view, (4, 4, 4))
    assert buf == cseg.encode(expected, (4, 4, 4))
    if expected.ndim == 3:
        expected = expected[np.newaxis]
    C, Z, Y, X = expected.shape
    out = cseg.decode(buf, (X, Y, Z), "uint64", (4, 4, 4), C)
    assert np.array_equal(out, expected)
    assert np.array_equal(spec.decode(buf, (X, Y, Z), (4, 4, 4), "uint64", C),
                          expected)


def test_non_contiguous_uint32_raw():
    a = common.noise((6, 7, 8), 1000, "uint32", seed=1)
    view = a[::-1, ::2, 1::3]
    assert raw.encode(view) == np.ascontiguousarray(view).astype("<u4").tobytes()


@pytest.mark.parametrize("make", [bytes, bytearray, memoryview,
                                  lambda b: np.frombuffer(b, np.uint8),
                                  lambda b: np.frombuffer(b, "<u4")])
def test_decode_accepts_bytes_like(make):
    a = common.voronoi((5, 6, 7), 10, "uint32")
    buf = cseg.encode(a, (2, 3, 4))
    out = cseg.decode(make(buf), (7, 6, 5), "uint32", (2, 3, 4))
    assert np.array_equal(out[0], a)


def test_encode_mutable_returns_bytearray():
    a = common.voronoi((5, 6, 7), 10, "uint32")
    assert isinstance(cseg.encode(a, (2, 3, 4), mutable=True), bytearray)
    assert cseg.encode(a, (2, 3, 4), mutable=True) == cseg.encode(a, (2, 3, 4))


def test_decode_returns_a_fresh_writable_array():
    a = common.voronoi((5, 6, 7), 10, "uint64")
    buf = cseg.encode(a, (2, 2, 2))
    first = cseg.decode(buf, (7, 6, 5), "uint64", (2, 2, 2))
    second = cseg.decode(buf, (7, 6, 5), "uint64", (2, 2, 2))
    assert first.flags.writeable
    first[...] = 0
    assert np.array_equal(second[0], a)
    assert np.array_equal(cseg.decode(buf, (7, 6, 5), "uint64", (2, 2, 2))[0], a)


# -- out= ----------------------------------------------------------------------

def test_out_parameter_fills_and_returns_it():
    a = _volume((13, 7, 5), "uint64", 2, "voronoi")
    buf = cseg.encode(a, (4, 4, 4))
    out = np.full(a.shape, 12345, dtype="<u8")
    result = cseg.decode(buf, (13, 7, 5), "uint64", (4, 4, 4), 2, out=out)
    assert result is out
    assert np.array_equal(out, a)


def test_out_parameter_uint32():
    a = _volume((8, 8, 8), "uint32", 1, "noise")
    buf = cseg.encode(a, (8, 8, 8))
    out = np.zeros(a.shape, dtype=np.uint32)
    assert cseg.decode(buf, (8, 8, 8), "uint32", (8, 8, 8), out=out) is out
    assert np.array_equal(out, a)


@pytest.mark.parametrize("dtype", ["uint32", "uint64"])
def test_out_parameter_may_be_a_strided_view(dtype):
    """A Volume decodes each chunk straight into its place in a larger
    (X, Y, Z, C) output: out= takes sliced and transposed views."""
    a = _volume((13, 7, 5), dtype, 2, "voronoi")
    buf = cseg.encode(a, (4, 4, 4))
    big = np.zeros((3, 9, 8, 30), dtype)
    view = big[1:, 2:7, :7, 3:29:2]
    assert cseg.decode(buf, (13, 7, 5), dtype, (4, 4, 4), 2, out=view) is view
    assert np.array_equal(view, a)
    untouched = big.copy()
    untouched[1:, 2:7, :7, 3:29:2] = 0
    assert not untouched.any(), "decode wrote outside the view"
    xyzc = np.zeros((13, 7, 5, 2), dtype)  # (X, Y, Z, C): out is its transpose
    cseg.decode(buf, (13, 7, 5), dtype, (4, 4, 4), 2, out=xyzc.T)
    assert np.array_equal(xyzc.T, a)
    raw_out = np.zeros((13, 7, 5, 2), dtype)
    raw.decode(raw.encode(a), (13, 7, 5), dtype, 2, out=raw_out.T)
    assert np.array_equal(raw_out.T, a)


@pytest.mark.parametrize("layout", ["transposed", "sliced", "big_endian"])
def test_encode_takes_any_layout(layout):
    a = _volume((13, 7, 5), "uint64", 2, "voronoi")
    if layout == "transposed":
        view = np.ascontiguousarray(a.T).T
    elif layout == "sliced":
        view = np.repeat(a, 2, axis=3)[..., ::2]
    else:
        view = a.astype(">u8")
    assert not view.flags.c_contiguous or view.dtype.byteorder == ">"
    assert cseg.encode(view, (4, 4, 4)) == cseg.encode(a, (4, 4, 4))


@pytest.mark.parametrize("bad_out", [
    np.zeros((1, 5, 7, 13), "<u8"),          # channels missing
    np.zeros((2, 13, 7, 5), "<u8"),          # x and z swapped
    np.zeros((2, 5, 7, 13), "<u4"),          # wrong dtype
    np.zeros((2, 5, 7, 13), "<i8"),          # signed
    np.zeros((2, 5, 7, 13), ">u8"),          # big-endian
    np.zeros(2 * 5 * 7 * 13, "<u8"),          # flat
    np.broadcast_to(np.zeros(13, "<u8"), (2, 5, 7, 13)),  # read-only
], ids=["channels", "axes", "uint32", "int64", "big_endian", "flat", "read_only"])
def test_out_parameter_wrong_array_raises(bad_out):
    a = _volume((13, 7, 5), "uint64", 2, "voronoi")
    buf = cseg.encode(a, (4, 4, 4))
    with pytest.raises(ngcodec.InvalidParameterError):
        cseg.decode(buf, (13, 7, 5), "uint64", (4, 4, 4), 2, out=bad_out)
    with pytest.raises(ValueError):
        cseg.decode(buf, (13, 7, 5), "uint64", (4, 4, 4), 2, out=bad_out)


def test_out_parameter_read_only_raises():
    a = _volume((4, 4, 4), "uint64", 1, "noise")
    buf = cseg.encode(a, (4, 4, 4))
    out = np.zeros(a.shape, "<u8")
    out.flags.writeable = False
    with pytest.raises(ngcodec.InvalidParameterError):
        cseg.decode(buf, (4, 4, 4), "uint64", (4, 4, 4), out=out)
    assert not out.any()


def test_out_parameter_raw():
    a = np.arange(2 * 3 * 4 * 5, dtype="<u2").reshape(2, 5, 4, 3)
    out = np.zeros_like(a)
    assert raw.decode(a.tobytes(), (3, 4, 5), "uint16", 2, out=out) is out
    assert np.array_equal(out, a)
    with pytest.raises(ngcodec.InvalidParameterError):
        raw.decode(a.tobytes(), (3, 4, 5), "uint16", 2, out=np.zeros((2, 5, 4, 3), "<i2"))


# -- parameters ------------------------------------------------------------------

@pytest.mark.parametrize("block_size", [(0, 8, 8), (8, 8), (8, 8, 8, 8), (-1, 2, 2), "abc"])
def test_bad_block_size(block_size):
    a = np.zeros((4, 4, 4), np.uint32)
    with pytest.raises(ngcodec.InvalidParameterError):
        cseg.encode(a, block_size)
    with pytest.raises(ngcodec.InvalidParameterError):
        cseg.decode(b"\0" * 4, (4, 4, 4), "uint32", block_size)


@pytest.mark.parametrize("dtype", ["uint8", "int32", "int64", "float32", "uint16"])
def test_cseg_rejects_other_dtypes(dtype):
    with pytest.raises(ngcodec.InvalidParameterError):
        cseg.encode(np.zeros((2, 2, 2), dtype), (2, 2, 2))
    with pytest.raises(ngcodec.InvalidParameterError):
        cseg.decode(b"\0" * 4, (2, 2, 2), dtype, (2, 2, 2))


@pytest.mark.parametrize("ndim", [1, 2, 5])
def test_cseg_rejects_other_ranks(ndim):
    with pytest.raises(ngcodec.InvalidParameterError):
        cseg.encode(np.zeros((2,) * ndim, np.uint32), (2, 2, 2))


# -- raw -----------------------------------------------------------------------

def _raw_data(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        a = rng.standard_normal(shape).astype(dtype)
        a.flat[:3] = (np.inf, -0.0, np.finfo(dtype).max)
        return a
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    a.flat[:2] = (info.min, info.max)
    return a


def test_raw_dtypes_are_the_precomputed_types():
    assert set(raw.DTYPES) >= {"uint8", "uint16", "uint32", "uint64", "float32"}


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", raw.DTYPES)
def test_raw_roundtrip(dtype, channels):
    a = _raw_data(dtype, (channels, 5, 6, 7))
    buf = raw.encode(a)
    assert isinstance(buf, bytes)
    # x fastest, little-endian: the C-order bytes of the (C, Z, Y, X) array.
    assert buf == a.astype(np.dtype(dtype).newbyteorder("<")).tobytes()
    assert len(buf) == a.size * a.dtype.itemsize
    out = raw.decode(buf, (7, 6, 5), dtype, channels)
    assert out.shape == a.shape
    assert out.dtype == np.dtype(dtype).newbyteorder("<")
    assert np.array_equal(out, a, equal_nan=False)


@pytest.mark.parametrize("dtype", raw.DTYPES)
def test_raw_big_endian_and_strided_input(dtype):
    a = _raw_data(dtype, (2, 6, 8, 10), seed=3)
    big = a.astype(np.dtype(dtype).newbyteorder(">"))[:, ::2, :, ::-1]
    expected = np.ascontiguousarray(a[:, ::2, :, ::-1])
    buf = raw.encode(big)
    assert buf == expected.astype(np.dtype(dtype).newbyteorder("<")).tobytes()
    assert np.array_equal(raw.decode(buf, (10, 8, 3), dtype, 2), expected)


def test_raw_hand_made_bytes():
    # uint16 x fastest, little-endian: (x, y) = (0,0) (1,0) (0,1) (1,1).
    buf = bytes([0x01, 0x00, 0x02, 0x01, 0xFF, 0xFF, 0x00, 0x80])
    out = raw.decode(buf, (2, 2, 1), "uint16")
    assert out.tolist() == [[[[1, 0x0102], [0xFFFF, 0x8000]]]]
    out = raw.decode(buf, (1, 1, 1), "uint64")
    assert out.tolist() == [[[[0x8000FFFF01020001]]]]
    out = raw.decode(buf, (2, 1, 1), "float32")
    assert out[0, 0, 0, 0] == np.frombuffer(buf[:4], "<f4")[0]


@pytest.mark.parametrize("dtype", ["int64", "float64", "complex64", "bool"])
def test_raw_rejects_other_dtypes(dtype):
    with pytest.raises(ngcodec.InvalidParameterError):
        raw.encode(np.zeros((1, 2, 2, 2), dtype))


def test_raw_zero_sized():
    a = np.zeros((1, 0, 3, 3), np.uint8)
    assert raw.encode(a) == b""
    assert raw.decode(b"", (3, 3, 0), "uint8").shape == (1, 0, 3, 3)


def test_threads_decode_independently(fib25):
    """Each thread has its own module instance: concurrent decodes of
    different chunks all come back right."""
    from concurrent.futures import ThreadPoolExecutor

    vols = [fib25, common.voronoi((64, 64, 64), 130, "uint64", seed=2),
            common.noise((64, 64, 64), 40, "uint64", seed=3)]
    bufs = [cseg.encode(v, (8, 8, 8)) for v in vols]

    def work(i):
        return np.array_equal(cseg.decode(bufs[i % 3], (64, 64, 64), "uint64", (8, 8, 8))[0],
                              vols[i % 3])

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(24)))


def test_offsets_at_the_24_bit_limit():
    """Offsets are 24-bit: with 1x1x1 blocks of one label, the single shared
    table follows 2 header words per block. 2**23 - 1 blocks put it at word
    2**24 - 2 (fits); 2**23 blocks would put it at 2**24, which the encoder
    must refuse rather than write a truncated header."""
    a = np.full((1, 47, 178481), 9, np.uint32)  # 47 * 178481 = 2**23 - 1 voxels
    buf = cseg.encode(a, (1, 1, 1))
    head = np.frombuffer(buf, "<u4", count=3)
    assert head[0] == 1
    assert head[1] == (1 << 24) - 2          # table offset, 0 bits
    assert len(buf) == 4 * (1 + 2 * ((1 << 23) - 1) + 1)
    assert np.frombuffer(buf, "<u4", count=1, offset=len(buf) - 4)[0] == 9
    out = cseg.decode(buf, (178481, 47, 1), "uint32", (1, 1, 1))
    assert (out == 9).all()
    del out, buf
    too_big = np.full((1, 128, 1 << 16), 9, np.uint32)  # 2**23 voxels
    with pytest.raises(ngcodec.InvalidParameterError) as info:
        cseg.encode(too_big, (1, 1, 1))
    assert info.value.status_name == "NGC_ERR_OFFSET_OVERFLOW"
