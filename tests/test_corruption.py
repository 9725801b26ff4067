"""One named test per kind of damage to a compressed_segmentation chunk.

Each damaged chunk must raise ``ngcodec.InvalidFormatError`` naming the
status and, where it applies, the channel and block; the spec reader of
tests/common.py must reject it too (so the damage is real); and the next
valid decode in the same thread must still work.
"""

import numpy as np
import pytest

from tests import common, spec
import ngcodec
from tests.spec import pack_words as words
from ngcodec import compressed_segmentation as cseg

# Two channels of a 4x1x1 uint32 chunk in 2x1x1 blocks, written by hand.
# Channel offsets [2, 10]. Each channel (8 words): headers of block 0
# (table at 4, 1 bit; values at 6) and block 1 (table at 4, 1 bit; values at
# 7), a shared table of two labels at 4, values 0b10 (block 0: table[0],
# table[1]) and 0b01 (block 1: table[1], table[0]).
BASE = words(2, 10,
             0x01000004, 6, 0x01000004, 7, 5, 6, 0b10, 0b01,
             0x01000004, 6, 0x01000004, 7, 7, 8, 0b10, 0b01)
GEOMETRY = dict(chunk_size=(4, 1, 1), dtype="uint32", block_size=(2, 1, 1), num_channels=2)
EXPECTED = np.array([[[[5, 6, 6, 5]]], [[[7, 8, 8, 7]]]], dtype=np.uint32)

# Word indices into BASE.
CH1_OFFSET = 1
CH1 = 10                      # channel 1 starts here; it has 8 words
CH1_B1_WORD0, CH1_B1_WORD1 = CH1 + 2, CH1 + 3
CH1_WORDS = 8


def with_words(buf, **changes):
    """*buf* with word i replaced for each w<i>=value."""
    w = list(np.frombuffer(buf, "<u4").tolist())
    for key, value in changes.items():
        w[int(key[1:])] = value
    return words(*w)


def decode(buf, geometry=GEOMETRY):
    return cseg.decode(buf, **geometry)


def expect_invalid(buf, status_name, mentions=(), geometry=GEOMETRY):
    """Asserts that *buf* is rejected with *status_name*, then that a valid
    chunk still decodes in this thread."""
    with pytest.raises(ngcodec.InvalidFormatError) as info:
        decode(buf, geometry)
    exc = info.value
    assert isinstance(exc, ngcodec.chunk_encoding.InvalidFormatError)
    assert isinstance(exc, ngcodec.NgcodecError)
    assert exc.status_name == status_name
    message = str(exc)
    assert status_name in message
    for text in mentions:
        assert text in message, f"{text!r} not in {message!r}"
    with pytest.raises(spec.FormatError):
        spec.decode(buf, geometry["chunk_size"], geometry["block_size"],
                                geometry["dtype"], geometry["num_channels"])
    assert np.array_equal(decode(BASE), EXPECTED)
    return exc


def test_base_vector_is_valid():
    assert np.array_equal(decode(BASE), EXPECTED)
    assert np.array_equal(spec.decode(BASE, (4, 1, 1), (2, 1, 1), "uint32", 2),
                          EXPECTED)


def test_exception_classes_are_the_same_object():
    assert ngcodec.InvalidFormatError is ngcodec.chunk_encoding.InvalidFormatError
    assert ngcodec.InvalidFormatError is ngcodec.errors.InvalidFormatError


# -- headers ---------------------------------------------------------------

@pytest.mark.parametrize("nbytes", [0, 4])
def test_truncated_channel_offsets(nbytes):
    # Two channels need two offset words; the place is the first channel
    # whose word is missing.
    exc = expect_invalid(BASE[:nbytes], "NGC_ERR_TRUNCATED", [f"(channel {nbytes // 4})"])
    assert exc.status == ngcodec.errors.CODE["NGC_ERR_TRUNCATED"]
    assert (exc.channel, exc.block) == (nbytes // 4, None)


def test_truncated_channel_offsets_three_channels():
    geometry = dict(GEOMETRY, num_channels=3)
    exc = expect_invalid(words(3, 3), "NGC_ERR_TRUNCATED", ["(channel 2)"], geometry)
    assert (exc.channel, exc.block) == (2, None)


def test_truncated_block_headers():
    # Channel 1 keeps 3 of its 4 header words.
    expect_invalid(BASE[:4 * (CH1 + 3)], "NGC_ERR_TRUNCATED", ["channel 1"])


def test_truncated_block_headers_by_channel_offset():
    # Channel 1 starts 3 words before the end: its headers cannot fit.
    buf = with_words(BASE, **{f"w{CH1_OFFSET}": len(BASE) // 4 - 3})
    expect_invalid(buf, "NGC_ERR_TRUNCATED", ["channel 1"])


def test_truncated_first_channel_headers():
    expect_invalid(BASE[:4 * 5], "NGC_ERR_TRUNCATED", ["channel 0"])


@pytest.mark.parametrize("extra", [1, 2, 3])
def test_size_not_a_multiple_of_4(extra):
    expect_invalid(BASE + b"\0" * extra, "NGC_ERR_UNALIGNED")


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_size_not_a_multiple_of_4_truncated(cut):
    expect_invalid(BASE[:-cut], "NGC_ERR_UNALIGNED")


# -- block headers -----------------------------------------------------------

@pytest.mark.parametrize("bits", [3, 5, 6, 7, 9, 31, 33, 64, 128, 255])
def test_bad_bit_width(bits):
    buf = with_words(BASE, **{f"w{CH1_B1_WORD0}": bits << 24 | 4})
    expect_invalid(buf, "NGC_ERR_BAD_BITS", ["channel 1", "block (1, 0, 0)"])


@pytest.mark.parametrize("table_offset", [CH1_WORDS + 1, 1000, 0xFFFFFF])
def test_table_offset_out_of_range(table_offset):
    buf = with_words(BASE, **{f"w{CH1_B1_WORD0}": 1 << 24 | table_offset})
    expect_invalid(buf, "NGC_ERR_BAD_TABLE_OFFSET", ["channel 1", "block (1, 0, 0)"])


def test_table_offset_out_of_range_zero_bits():
    buf = with_words(BASE, **{f"w{CH1_B1_WORD0}": CH1_WORDS + 1})
    expect_invalid(buf, "NGC_ERR_BAD_TABLE_OFFSET", ["channel 1", "block (1, 0, 0)"])


@pytest.mark.parametrize("values_offset", [CH1_WORDS + 1, 1 << 24, 0xFFFFFFFF])
def test_values_offset_out_of_range(values_offset):
    buf = with_words(BASE, **{f"w{CH1_B1_WORD1}": values_offset})
    expect_invalid(buf, "NGC_ERR_BAD_VALUES_OFFSET", ["channel 1", "block (1, 0, 0)"])


def test_values_offset_at_end_of_chunk():
    # A 1-bit block needs one word of values; none is left at the very end.
    buf = with_words(BASE, **{f"w{CH1_B1_WORD1}": CH1_WORDS})
    expect_invalid(buf, "NGC_ERR_BAD_VALUES_OFFSET", ["channel 1", "block (1, 0, 0)"])


def test_values_run_past_end():
    # 32 bits x 2 voxels = 2 words starting at the last word of the chunk.
    buf = with_words(BASE, **{f"w{CH1_B1_WORD0}": 32 << 24 | 4,
                              f"w{CH1_B1_WORD1}": CH1_WORDS - 1})
    expect_invalid(buf, "NGC_ERR_BAD_VALUES_OFFSET", ["channel 1", "block (1, 0, 0)"])


def test_values_run_past_end_large_block():
    """A 64x64x64 block of 32-bit values needs 262144 words: a header that
    claims them in a small chunk must be rejected without any wrap-around."""
    buf = words(1, 32 << 24 | 2, 3, 9, 0)
    geometry = dict(chunk_size=(64, 64, 64), dtype="uint64", block_size=(64, 64, 64),
                    num_channels=1)
    expect_invalid(buf, "NGC_ERR_BAD_VALUES_OFFSET", ["channel 0", "block (0, 0, 0)"],
                   geometry)


def test_table_index_past_the_table():
    # Block 1 of channel 1: 2 bits, table at word 6 (the last two words of
    # the chunk: entries [0b10, 0b01]), values at word 6 = 0b10 -> first
    # voxel has index 2, past the 2-entry table.
    buf = with_words(BASE, **{f"w{CH1_B1_WORD0}": 2 << 24 | 6, f"w{CH1_B1_WORD1}": 6})
    expect_invalid(buf, "NGC_ERR_BAD_TABLE_INDEX", ["channel 1", "block (1, 0, 0)"])


def test_table_index_past_the_table_uint64():
    # uint64: a table of one label (2 words) at the end of the chunk; values
    # 0b10 -> the second voxel has index 1, past the table.
    buf = words(1, 0x01000003, 2, 0b10, 0x1234, 0)
    geometry = dict(chunk_size=(2, 1, 1), dtype="uint64", block_size=(2, 1, 1),
                    num_channels=1)
    expect_invalid(buf, "NGC_ERR_BAD_TABLE_INDEX", ["channel 0", "block (0, 0, 0)"],
                   geometry)


def test_padding_index_past_the_table():
    # A 3x1x1 chunk in 2x2x2 blocks; block 1 shows one voxel (index 0 into a
    # table [42] that, running to the end, has 3 entries) and its padding
    # voxels hold index 255. Every index of a block must address the table,
    # padding included, as neuroglancer-scripts requires (its own test
    # relies on it); tensorstore checks visible voxels only and reads this.
    buf = words(1, 0x01000004, 6, 0x08000007, 8, 3, 4, 0xABCDEFFD, 42,
                0xFFFFFF00, 0xFFFFFFFF)
    geometry = dict(chunk_size=(3, 1, 1), dtype="uint32", block_size=(2, 2, 2),
                    num_channels=1)
    expect_invalid(buf, "NGC_ERR_BAD_TABLE_INDEX", ["channel 0", "block (1, 0, 0)"], geometry)


def test_table_offset_at_end_of_chunk_with_values():
    # A 1-bit block whose table starts at the very end has no entries.
    buf = with_words(BASE, **{f"w{CH1_B1_WORD0}": 1 << 24 | CH1_WORDS})
    expect_invalid(buf, "NGC_ERR_BAD_TABLE_INDEX", ["channel 1", "block (1, 0, 0)"])


def test_zero_bit_block_with_empty_table():
    buf = with_words(BASE, **{f"w{CH1_B1_WORD0}": CH1_WORDS})
    expect_invalid(buf, "NGC_ERR_EMPTY_TABLE", ["channel 1", "block (1, 0, 0)"])


def test_zero_bit_block_with_half_a_uint64_label():
    # uint64 table offset at the last word: less than one label left.
    buf = words(1, 0x00000002, 3, 0x55)
    geometry = dict(chunk_size=(2, 1, 1), dtype="uint64", block_size=(2, 1, 1),
                    num_channels=1)
    expect_invalid(buf, "NGC_ERR_EMPTY_TABLE", ["channel 0", "block (0, 0, 0)"], geometry)


@pytest.mark.parametrize("offset", [len(BASE) // 4 + 1, 1 << 24, 0xFFFFFFFF])
def test_channel_offset_out_of_range(offset):
    buf = with_words(BASE, **{f"w{CH1_OFFSET}": offset})
    expect_invalid(buf, "NGC_ERR_BAD_CHANNEL_OFFSET", ["channel 1"])


def test_block_coordinates_in_message():
    """The failing block is named by its (x, y, z) grid position: block 5 of
    a 2x2x2 grid is (1, 0, 1). The chunk comes from the compressed-segmentation
    package; its block 5 header gets bits = 3."""
    import compressed_segmentation

    a = common.noise((4, 4, 4), 3, "uint32", seed=3)
    buf = bytearray(compressed_segmentation.compress(a.T, block_size=(2, 2, 2), order="F"))
    geometry = dict(chunk_size=(4, 4, 4), dtype="uint32", block_size=(2, 2, 2),
                    num_channels=1)
    assert np.array_equal(decode(bytes(buf), geometry)[0], a)
    channel = int(np.frombuffer(buf[:4], "<u4")[0])
    buf[4 * (channel + 2 * 5) + 3] = 3
    expect_invalid(bytes(buf), "NGC_ERR_BAD_BITS", ["channel 0", "block (1, 0, 1)"], geometry)


# -- raw ---------------------------------------------------------------------

@pytest.mark.parametrize("size", [0, 7, 9, 16])
def test_raw_size_mismatch(size):
    with pytest.raises(ngcodec.InvalidFormatError) as info:
        ngcodec.raw.decode(b"\1" * size, (2, 2, 2), "uint8")
    assert info.value.status_name == "NGC_ERR_SIZE_MISMATCH"
    assert "NGC_ERR_SIZE_MISMATCH" in str(info.value)
    assert np.array_equal(ngcodec.raw.decode(b"\1" * 8, (2, 2, 2), "uint8"),
                          np.ones((1, 2, 2, 2), np.uint8))


def test_raw_size_mismatch_multichannel_uint64():
    with pytest.raises(ngcodec.InvalidFormatError) as info:
        ngcodec.raw.decode(bytes(8 * 2 * 3), (3, 1, 1), "uint64", num_channels=3)
    assert info.value.status_name == "NGC_ERR_SIZE_MISMATCH"


# -- damaged real chunks -------------------------------------------------------

def _fib25_encodings():
    import compressed_segmentation

    a = common.fib25()
    return {
        "ngcodec": cseg.encode(a, (8, 8, 8)),
        "compressed_segmentation": bytes(
            compressed_segmentation.compress(a.T, block_size=(8, 8, 8), order="F")),
    }


def _decode_both(buf):
    """(ngcodec result or None, spec reader result or None)."""
    try:
        ref = spec.decode(buf, (64, 64, 64), (8, 8, 8), "uint64")
    except spec.FormatError:
        ref = None
    try:
        got = cseg.decode(buf, (64, 64, 64), "uint64", (8, 8, 8))
    except ngcodec.InvalidFormatError:
        got = None
    return got, ref


def _assert_same_outcome(buf, what):
    """Decodes *buf* with ngcodec and the spec reader; both must reject it
    (ngcodec with InvalidFormatError, nothing else) or both give the same
    array. Returns ngcodec's array or None."""
    got, ref = _decode_both(buf)
    if ref is None:
        assert got is None, f"{what}: ngcodec accepted a chunk the spec rejects"
    else:
        assert got is not None, f"{what}: ngcodec rejected a chunk the spec accepts"
        assert got.shape == (1, 64, 64, 64) and got.dtype == np.dtype("<u8")
        assert np.array_equal(got, ref), f"{what}: wrong array"
    return got


@pytest.mark.parametrize("source", ["ngcodec", "compressed_segmentation"])
def test_truncated_fib25(source, fib25):
    buf = _fib25_encodings()[source]
    assert np.array_equal(cseg.decode(buf, (64, 64, 64), "uint64", (8, 8, 8))[0], fib25)
    n = len(buf)
    lengths = sorted(set(range(0, 80)) | set(range(80, n, 997)) | set(range(n - 40, n))
                     | {4 * 1025, 4 * 1025 - 4, 4 * 1025 + 4})
    rejected = 0
    for length in lengths:
        got = _assert_same_outcome(buf[:length], f"truncated to {length}")
        rejected += got is None
    # Dropping the last word removes values of the last block: every
    # truncation here is damage.
    assert rejected == len(lengths)
    assert np.array_equal(cseg.decode(buf, (64, 64, 64), "uint64", (8, 8, 8))[0], fib25)


@pytest.mark.parametrize("source", ["ngcodec", "compressed_segmentation"])
def test_byte_flips_fib25(source, fib25):
    buf = _fib25_encodings()[source]
    rng = np.random.default_rng(20240611)
    header_bytes = 4 + 8 * 512
    outcomes = {"rejected": 0, "decoded": 0}
    for trial in range(150):
        damaged = bytearray(buf)
        for _ in range(int(rng.integers(1, 4))):
            # Half the damage lands in the channel/block headers.
            limit = header_bytes if trial % 2 else len(buf)
            pos = int(rng.integers(0, limit))
            damaged[pos] ^= int(rng.integers(1, 256))
        damaged = bytes(damaged)
        got = _assert_same_outcome(damaged, f"trial {trial}")
        outcomes["rejected" if got is None else "decoded"] += 1
    # Both kinds of outcome occur, so both paths are exercised.
    assert outcomes["rejected"] > 10 and outcomes["decoded"] > 10, outcomes
    assert np.array_equal(cseg.decode(buf, (64, 64, 64), "uint64", (8, 8, 8))[0], fib25)


def test_errors_do_not_leak_into_later_decodes(fib25):
    """Alternating damaged and valid chunks in one thread: every valid one
    decodes exactly."""
    buf = cseg.encode(fib25, (8, 8, 8))
    damaged = [buf[:-4], buf + b"\0", with_words(buf[:64], w0=10 ** 9) + buf[64:],
               bytes([255]) * 8 + buf[8:]]
    for bad in damaged * 3:
        with pytest.raises(ngcodec.InvalidFormatError):
            cseg.decode(bad, (64, 64, 64), "uint64", (8, 8, 8))
        assert np.array_equal(cseg.decode(buf, (64, 64, 64), "uint64", (8, 8, 8))[0], fib25)
