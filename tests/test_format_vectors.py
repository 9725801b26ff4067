"""Hand-made compressed_segmentation vectors that pin the format.

Every vector below is written word by word from the spec (top comment of
wasm_src/cseg_decode.c, Neuroglancer's compressed_segmentation README): chunk :=
channel offsets, then per channel the block headers (word0 = table offset |
bits << 24, word1 = values offset, offsets in words from the channel start),
tables and packed values. The expected arrays are worked out by hand in the
comments; none comes from ngcodec. Each vector is also read by the spec
reader of tests/spec.py, so a mistake in a vector shows up as a
disagreement there rather than silently pinning ngcodec's behaviour.
"""

import numpy as np
import pytest

import ngcodec
from ngcodec import compressed_segmentation as cseg

from tests import common, spec
from tests.spec import pack_words as words

# name -> (buffer, chunk_size xyz, block_size xyz, dtype, channels,
#          expected (C, Z, Y, X) as nested lists)
VECTORS = {
    # One 4x2x1 block, 0 bits: every voxel is table[0].
    #   channel offset [1]; header: table at 2, bits 0 | values at 3 (= end,
    #   0-bit blocks have no values); table [0xDEADBEEF].
    "zero_bit_block": (
        words(1, 0x00000002, 3, 0xDEADBEEF),
        (4, 2, 1), (4, 2, 1), "uint32", 1,
        [[[[0xDEADBEEF] * 4, [0xDEADBEEF] * 4]]],
    ),
    # One 4x2x1 block, 1 bit, table [7, 9].
    #   voxels (x fastest) 7 9 9 7 / 9 9 7 7 -> indices 0 1 1 0 1 1 0 0
    #   -> bit i = index of voxel i: 0b0011_0110 = 0x36.
    "one_bit_block": (
        words(1, 0x01000002, 4, 7, 9, 0x00000036),
        (4, 2, 1), (4, 2, 1), "uint32", 1,
        [[[[7, 9, 9, 7], [9, 9, 7, 7]]]],
    ),
    # One 4x4x1 block, 2 bits, table [10, 20, 30, 40].
    #   indices 0 1 2 3 | 3 2 1 0 | 1 1 2 2 | 0 3 0 3, two bits each from
    #   the LSB: byte0 = 11 10 01 00 = 0xE4, byte1 = 00 01 10 11 = 0x1B,
    #   byte2 = 10 10 01 01 = 0xA5, byte3 = 11 00 11 00 = 0xCC.
    "two_bit_block": (
        words(1, 0x02000002, 6, 10, 20, 30, 40, 0xCCA51BE4),
        (4, 4, 1), (4, 4, 1), "uint32", 1,
        [[[[10, 20, 30, 40], [40, 30, 20, 10], [20, 20, 30, 30], [10, 40, 10, 40]]]],
    ),
    # One 4x1x1 block, 4 bits, table [100..104], indices 4 0 3 1
    #   -> nibbles from the LSB: 0x1304.
    "four_bit_block": (
        words(1, 0x04000002, 7, 100, 101, 102, 103, 104, 0x00001304),
        (4, 1, 1), (4, 1, 1), "uint32", 1,
        [[[[104, 100, 103, 101]]]],
    ),
    # One 3x1x1 block, 16 bits (wider than needed: allowed), table [7, 8],
    #   indices 1 0 1 -> word0 = 0x0000_0001 (voxels 0, 1), word1 = 1.
    "sixteen_bit_block": (
        words(1, 0x10000002, 4, 7, 8, 0x00000001, 0x00000001),
        (3, 1, 1), (3, 1, 1), "uint32", 1,
        [[[[8, 7, 8]]]],
    ),
    # One 2x1x1 block, 32 bits, table [9, 10, 11], indices 2 0.
    "thirty_two_bit_block": (
        words(1, 0x20000002, 5, 9, 10, 11, 2, 0),
        (2, 1, 1), (2, 1, 1), "uint32", 1,
        [[[[11, 9]]]],
    ),
    # Two 2x1x1 blocks sharing one table [5, 6] written once (before the
    #   values, neuroglancer-scripts style). Block 0: 5 6 -> 0b10 = 2;
    #   block 1: 6 5 -> 0b01 = 1. Headers at 0..3, table at 4, values 6, 7.
    "shared_table_before_values": (
        words(1, 0x01000004, 6, 0x01000004, 7, 5, 6, 2, 1),
        (4, 1, 1), (2, 1, 1), "uint32", 1,
        [[[[5, 6, 6, 5]]]],
    ),
    # The same chunk with the shared table after the values (tensorstore
    #   style): values at 4, 5; table at 6.
    "shared_table_after_values": (
        words(1, 0x01000006, 4, 0x01000006, 5, 2, 1, 5, 6),
        (4, 1, 1), (2, 1, 1), "uint32", 1,
        [[[[5, 6, 6, 5]]]],
    ),
    # Two channels, 2x1x1, one block each. Channel offsets [2, 5].
    #   Channel 0 (words 2..4): 0-bit, table [111] at 2.
    #   Channel 1 (words 5..9): 1-bit, table [1, 2] at 2, values at 4:
    #   indices 1 0 -> 0b01.
    "two_channels": (
        words(2, 5, 0x00000002, 3, 111, 0x01000002, 4, 1, 2, 0x00000001),
        (2, 1, 1), (2, 1, 1), "uint32", 2,
        [[[[111, 111]]], [[[2, 1]]]],
    ),
    # The same two channels stored in the other order: offsets [7, 2].
    #   Channel 1 at words 2..6, channel 0 at words 7..9.
    "two_channels_reversed": (
        words(7, 2, 0x01000002, 4, 1, 2, 0x00000001, 0x00000002, 3, 111),
        (2, 1, 1), (2, 1, 1), "uint32", 2,
        [[[[111, 111]]], [[[2, 1]]]],
    ),
    # uint64 labels are two words, low word first. One 2x1x1 block, 1 bit,
    #   table [0x00000001_00000002, 0xFFFFFFFF_00000000] at 2 (4 words),
    #   values at 6: indices 1 0 -> 0b01.
    "uint64_table_low_word_first": (
        words(1, 0x01000002, 6, 0x00000002, 0x00000001, 0x00000000, 0xFFFFFFFF, 1),
        (2, 1, 1), (2, 1, 1), "uint64", 1,
        [[[[0xFFFFFFFF00000000, 0x0000000100000002]]]],
    ),
    # A 3x1x1 chunk in 2x2x2 blocks: block 1 is partial (1 visible voxel of
    #   8), block 0 has 2 visible voxels. Padding indices are arbitrary as
    #   long as they address the table (which runs to the end of the chunk):
    #   block 0 (1 bit, table [3, 4] at 4, values at 6): visible indices
    #   1 0, padding bits all ones, unused high bits garbage: 0xABCDEFFD.
    #   block 1 (8 bits, table [42, ...] at 7, 3 entries to the end, values
    #   at 8, 9): visible index 0, padding indices 2 and 1: 0x02020100,
    #   0x01010102.
    "partial_block_arbitrary_padding": (
        words(1, 0x01000004, 6, 0x08000007, 8, 3, 4, 0xABCDEFFD, 42,
              0x02020100, 0x01010102),
        (3, 1, 1), (2, 2, 2), "uint32", 1,
        [[[[4, 3, 42]]]],
    ),
    # A 2x2x2 chunk in 2x1x2 blocks pins voxel order inside a block
    #   (x, then y, then z) and block order (x fastest, then y).
    #   Block 0 (y = 0): 2 bits, table [1, 2, 3, 4] at 4, values at 8;
    #   positions (x0 z0, x1 z0, x0 z1, x1 z1) -> indices 0 1 2 3 -> 0xE4.
    #   Block 1 (y = 1): 0 bits, table [9] at 9.
    "block_and_voxel_order": (
        words(1, 0x02000004, 8, 0x00000009, 10, 1, 2, 3, 4, 0x000000E4, 9),
        (2, 2, 2), (2, 1, 2), "uint32", 1,
        [[[[1, 2], [9, 9]], [[3, 4], [9, 9]]]],
    ),
    # A table runs to the end of the chunk (as in Neuroglancer and
    #   tensorstore): table [77] at 2, values at 3 are indices 0 1 -> 0b10;
    #   index 1 reads word 3 (the values word itself, = 2) as a label.
    "table_runs_to_end_of_chunk": (
        words(1, 0x01000002, 3, 77, 0x00000002),
        (2, 1, 1), (2, 1, 1), "uint32", 1,
        [[[[77, 2]]]],
    ),
}


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_hand_made_vector_decodes(name):
    buf, chunk_size, block_size, dtype, channels, expected = VECTORS[name]
    expected = np.array(expected, dtype=dtype)
    assert expected.shape == (channels, chunk_size[2], chunk_size[1], chunk_size[0])
    # The vector agrees with the spec reader, so it is a correct vector.
    assert np.array_equal(
        spec.decode(buf, chunk_size, block_size, dtype, channels), expected)
    got = cseg.decode(buf, chunk_size, dtype, block_size, channels)
    assert got.dtype == np.dtype(dtype).newbyteorder("<")
    assert got.shape == expected.shape
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_hand_made_vector_through_chunk_encoding(name):
    buf, chunk_size, block_size, dtype, channels, expected = VECTORS[name]
    encoder = ngcodec.chunk_encoding.get_encoder(
        {"data_type": dtype, "num_channels": channels},
        {"encoding": "compressed_segmentation",
         "compressed_segmentation_block_size": list(block_size)})
    got = encoder.decode(bytearray(buf), chunk_size)
    assert np.array_equal(got, np.array(expected, dtype=dtype))


def test_hand_made_vectors_decode_in_neuroglancer_scripts():
    """The vectors are valid for an independent decoder too (those it can
    read: it limits a table to 2**bits entries and a channel to the bytes
    before the next channel's offset)."""
    from neuroglancer_scripts.chunk_encoding import CompressedSegmentationEncoder

    for name in ("one_bit_block", "two_bit_block", "four_bit_block",
                 "shared_table_before_values", "shared_table_after_values",
                 "uint64_table_low_word_first", "block_and_voxel_order",
                 "zero_bit_block", "two_channels"):
        buf, chunk_size, block_size, dtype, channels, expected = VECTORS[name]
        got = CompressedSegmentationEncoder(dtype, channels, list(block_size)).decode(
            buf, chunk_size)
        assert np.array_equal(got, np.array(expected, dtype=dtype)), name


# --------------------------------------------------------------------------
# The encoder's output, parsed with the spec reader
# --------------------------------------------------------------------------

def _tiny_inputs():
    """(name, (C, Z, Y, X) array, block_size) chosen by hand."""
    u32, u64 = np.uint32, np.uint64
    cases = [
        ("single_voxel", np.array([[[[5]]]], u32), (1, 1, 1)),
        ("constant", np.full((1, 2, 3, 4), 7, u64), (2, 2, 2)),
        ("two_labels", np.array([[[[1, 2, 2, 1]]]], u32), (4, 1, 1)),
        ("three_labels", np.array([[[[9, 3, 6, 3]]]], u32), (4, 1, 1)),
        ("five_labels", np.array([[[[50, 40, 30, 20, 10, 10, 20, 30]]]], u64),
         (8, 1, 1)),
        ("uint64_high_words", np.array(
            [[[[1 << 63, 1, (1 << 32) + 1, 1 << 32]]]], u64), (2, 1, 1)),
        ("labels_in_reverse_order", np.arange(16, 0, -1, dtype=u32).reshape(1, 1, 4, 4),
         (4, 4, 1)),
    ]
    # 17 labels in a 4x4x2 block: 8 bits (16 would only need 4).
    cases.append(("seventeen_labels",
                  (np.arange(32, dtype=u32) % 17 * 1000).reshape(1, 2, 4, 4), (4, 4, 2)))
    # 300 labels in one 8x8x8 block: 16 bits.
    cases.append(("three_hundred_labels",
                  (np.arange(512, dtype=u64) % 300 + (1 << 40)).reshape(1, 8, 8, 8), (8, 8, 8)))
    # Four blocks with the same two labels in different arrangements share
    # one table; a fifth block has its own table.
    a = np.array([[[[1, 2, 2, 1, 1, 1, 2, 2, 2, 1]]]], u32)
    a[0, 0, 0, 8:] = (3, 4)
    cases.append(("shared_tables", a, (2, 1, 1)))
    # Partial edge blocks in every direction.
    cases.append(("partial_edges", common.noise((3, 5, 7), 3, "uint32", seed=1)[np.newaxis],
                  (2, 2, 2)))
    # Two channels whose tables are equal: each channel stores its own.
    b = np.array([[[[4, 5, 4, 5]]]] * 2, u64)
    cases.append(("two_channels_same_tables", b, (2, 1, 1)))
    return cases


@pytest.mark.parametrize("name,array,block_size", _tiny_inputs(),
                         ids=[c[0] for c in _tiny_inputs()])
def test_encoder_output_is_structurally_right(name, array, block_size):
    buf = cseg.encode(array, block_size)
    C = array.shape[0]
    n = len(buf) // 4
    assert len(buf) % 4 == 0
    offsets = np.frombuffer(buf[:4 * C], "<u4")
    assert all(C <= o <= n for o in offsets.tolist())
    hist = common.check_encoder_structure(buf, array, block_size)
    assert sum(hist.values()) == C * np.prod(
        [spec.ceil_div(s, b) for s, b in zip(array.shape[:0:-1], block_size)])


def test_encoder_hand_checked_words():
    """Two labels in one 4x1x1 block, written out by hand: offsets [1];
    header = table offset, 1 bit | values offset; table [3, 8] ascending;
    voxels 8 3 3 8 -> indices 1 0 0 1 -> 0b1001. The spec lets the table
    come before or after the values; either layout is accepted."""
    buf = cseg.encode(np.array([[[8, 3, 3, 8]]], np.uint32), (4, 1, 1))
    assert buf in (words(1, 0x01000002, 4, 3, 8, 0b1001),   # table first
                   words(1, 0x01000003, 2, 0b1001, 3, 8))   # values first


def test_encoder_stores_an_identical_table_once():
    # Blocks 0, 1, 3 hold {1, 2}; block 2 holds {3}: two tables in all.
    a = np.array([[[1, 2, 2, 1, 3, 3, 1, 2]]], np.uint32)
    buf = cseg.encode(a, (2, 1, 1))
    (_, rows), = spec.block_headers(buf, (8, 1, 1), (2, 1, 1))
    table_offsets = rows[:, 0].tolist()
    assert table_offsets[0] == table_offsets[1] == table_offsets[3] != table_offsets[2]
    assert rows[:, 1].tolist() == [1, 1, 0, 1]
    # 1 offset + 8 header words + 2 tables (2 + 1 words) + 3 value words.
    assert len(buf) == 4 * (1 + 8 + 3 + 3)


def test_encoder_chooses_smallest_width_for_each_label_count():
    """A 16x16x1 block holding the first k labels of 0..255 for k = 1..256
    (boundary counts 2**b and 2**b + 1) gets min_bits(k) bits."""
    for k in (1, 2, 3, 4, 5, 16, 17, 255, 256):
        a = (np.arange(256, dtype=np.uint32) % k).reshape(1, 1, 16, 16)
        buf = cseg.encode(a, (16, 16, 1))
        (_, rows), = spec.block_headers(buf, (16, 16, 1), (16, 16, 1))
        assert rows[0, 1] == {1: 0, 2: 1, 3: 2, 4: 2, 5: 4, 16: 4, 17: 8, 255: 8, 256: 8}[k]
    a = np.arange(257, dtype=np.uint32).reshape(1, 1, 1, 257)
    buf = cseg.encode(a, (257, 1, 1))
    assert spec.block_headers(buf, (257, 1, 1), (257, 1, 1))[0][1][0, 1] == 16


# --------------------------------------------------------------------------
# Layouts ngcodec's encoder does not write, from the spec writer
# --------------------------------------------------------------------------

LAYOUT_BLOCKS = [(1, 1, 1), (2, 2, 2), (3, 1, 2), (4, 2, 1), (8, 8, 8), (16, 4, 2),
                 (32, 2, 1), (5, 3, 3)]


@pytest.mark.parametrize("padding", ["zero", "random"])
@pytest.mark.parametrize("tables", ["first", "last"])
@pytest.mark.parametrize("block_size", LAYOUT_BLOCKS, ids=lambda b: "b%dx%dx%d" % b)
@pytest.mark.parametrize("width", [None, 1, 2, 4, 8, 16, 32])
def test_decode_spec_written_layouts(width, block_size, tables, padding):
    """Chunks written by the spec writer of tests/spec.py with tables first or
    last (so the last table ends the chunk), padding indices zero or random
    (inside the table), and every block at one fixed width (None: the
    smallest). Chunk sizes leave partial edge blocks in every direction."""
    labels = 2 if width in (None, 1) else min(1 << width, 300)
    chunk_size = tuple(2 * b - 1 if b > 1 else 3 for b in block_size)
    X, Y, Z = chunk_size
    base = common.noise((Z, Y, X), labels, "uint32", seed=7)[np.newaxis]
    for dtype in ("uint32", "uint64"):
        a = base.astype(dtype)
        buf = spec.encode(a, block_size, tables=tables, padding=padding,
                                      width=width, seed=3)
        out = cseg.decode(buf, chunk_size, dtype, block_size)
        assert np.array_equal(out, a)


@pytest.mark.parametrize("block_size", [(32, 32, 32), (64, 64, 8), (33, 32, 32), (64, 64, 64)],
                         ids=lambda b: "b%dx%dx%d" % b)
@pytest.mark.parametrize("width", [1, 8, 32])
def test_decode_large_blocks(width, block_size):
    """Blocks of 2**15 voxels and more, whole and partial."""
    X, Y, Z = block_size
    a = common.noise((Z + 3, Y, X - 5), 2 if width == 1 else 200, "uint64", seed=width)
    a = a[np.newaxis]
    buf = spec.encode(a, block_size, tables="last", padding="random",
                                  width=width, seed=1)
    out = cseg.decode(buf, (X - 5, Y, Z + 3), "uint64", block_size)
    assert np.array_equal(out, a)


@pytest.mark.parametrize("tables", ["first", "last"])
@pytest.mark.parametrize("share", [True, False])
def test_spec_writer_agrees_with_compressed_segmentation(tables, share):
    """The spec writer is itself checked against an independent decoder."""
    import compressed_segmentation

    a = common.voronoi((13, 17, 19), 40, "uint64", seed=4)
    buf = spec.encode(a[np.newaxis], (4, 4, 4), tables=tables,
                                  padding="random", share=share)
    out = compressed_segmentation.decompress(buf, (19, 17, 13), np.uint64, (4, 4, 4),
                                             order="F")
    assert np.array_equal(np.asarray(out).T, a)
    assert np.array_equal(cseg.decode(buf, (19, 17, 13), "uint64", (4, 4, 4))[0], a)


def test_decode_multichannel_spec_layouts():
    a = np.stack([common.noise((5, 6, 7), k, "uint32", seed=k) for k in (1, 2, 5, 300)])
    for tables in ("first", "last"):
        buf = spec.encode(a, (4, 4, 4), tables=tables, padding="random",
                                      share=False)
        assert np.array_equal(cseg.decode(buf, (7, 6, 5), "uint32", (4, 4, 4), 4), a)
