"""(Re)generates the seed corpus of the libFuzzer harnesses, deterministically.

    python -m tests.fuzz.make_corpus      # from the repository root

writes tests/fuzz/corpus/<harness>/<name> (and deletes files of those folders
that it did not write). Each file is the harness's parameter header followed
by its payload (see the top comment of each harness):

- fuzz_cseg_decode: the FIB-25 chunk as compressed (64^3 uint64, 8^3 blocks);
  small chunks written by the `compressed_segmentation` package (uint32,
  uint64, 0 to 16-bit blocks, anisotropic and partial edge blocks, three
  channels joined under a channel offset header); chunks written from the
  spec by tests/spec.py in layouts neither encoder writes (tables last,
  random padding indices, fixed 16- and 32-bit widths, unshared tables).
- fuzz_cseg_encode: geometries x label modes that reach every bit width,
  labels that differ only in their top bits, and a 16^3 crop of FIB-25
  (low 16 bits of each label).
- fuzz_raw: a few valid and invalid raw chunks.

Needs numpy and compressed-segmentation (the test extras).
"""

import struct
from pathlib import Path

import compressed_segmentation as cs
import numpy as np

from tests import common, spec

HERE = Path(__file__).resolve().parent
REPO = common.REPO

CORPUS = HERE / "corpus"
FIB25_CSEG = REPO / "pyhost" / "ngcodec" / "data" / "fib25_64x64x64_uint64.cseg8"


def decode_header(chunk_size, block_size, dtype, channels=1, shift=0, small=0):
    """The 8-byte header of fuzz_cseg_decode.c."""
    x, y, z = chunk_size
    bx, by, bz = block_size
    assert all(0 <= s <= 70 for s in chunk_size) and all(1 <= b <= 70 for b in block_size)
    flags = (np.dtype(dtype).itemsize == 8) | (channels - 1) << 1 | shift << 3
    return bytes([x, y, z, bx - 1, by - 1, bz - 1, flags, small])


def encode_header(chunk_size, block_size, dtype, mode, p=0, channels=1, shift=0,
                  scramble=False, invert=False, high=False, small=0):
    """The 10-byte header of fuzz_cseg_encode.c."""
    x, y, z = chunk_size
    bx, by, bz = block_size
    flags = ((np.dtype(dtype).itemsize == 8) | (channels - 1) << 1 | shift << 3
             | scramble << 5 | invert << 6 | high << 7)
    return bytes([x, y, z, bx - 1, by - 1, bz - 1, flags, mode | p << 3, small, 0])


def cs_compress(a, block_size):
    """compressed-segmentation's encoding of a (Z, Y, X) array."""
    return bytes(cs.compress(np.ascontiguousarray(a).T, block_size=tuple(block_size),
                             order="F"))


def cs_channels(a, block_size):
    """A (C, Z, Y, X) array as compressed-segmentation per-channel chunks
    joined under one channel offset header (the package does not round-trip
    4-D input itself)."""
    bodies = [cs_compress(a[c], block_size)[4:] for c in range(a.shape[0])]
    offsets, pos = [], a.shape[0]
    for body in bodies:
        offsets.append(pos)
        pos += len(body) // 4
    return struct.pack(f"<{len(offsets)}I", *offsets) + b"".join(bodies)


def labels(rng, shape, k, dtype, spread=True):
    """(Z, Y, X) labels drawn from k distinct values (spanning the dtype's
    range when spread)."""
    if spread:
        table = common.random_labels(rng, k, dtype)
    else:
        table = np.arange(k, dtype=dtype)
    return table[rng.integers(0, k, size=shape)]


def zyx(chunk_size):
    return tuple(reversed(chunk_size))


def decode_corpus():
    out = {}
    out["fib25_64_u64_b8"] = (decode_header((64, 64, 64), (8, 8, 8), "uint64")
                              + FIB25_CSEG.read_bytes())
    rng = np.random.default_rng(1)
    # (name, chunk (x, y, z), block (x, y, z), dtype, distinct labels)
    cases = [
        ("cs_u32_0bit", (8, 8, 8), (8, 8, 8), "uint32", 1),
        ("cs_u32_1bit_partial", (13, 10, 7), (8, 8, 8), "uint32", 2),
        ("cs_u64_2bit_partial", (11, 9, 6), (4, 4, 4), "uint64", 4),
        ("cs_u64_4bit_aniso", (20, 12, 9), (16, 8, 4), "uint64", 16),
        ("cs_u32_8bit", (16, 16, 8), (8, 8, 8), "uint32", 200),
        ("cs_u64_16bit", (16, 16, 16), (16, 16, 16), "uint64", 1000),
        ("cs_u32_odd_blocks", (17, 5, 23), (3, 5, 7), "uint32", 3),
        ("cs_u64_1voxel_blocks", (4, 3, 2), (1, 1, 1), "uint64", 5),
        ("cs_u32_block_gt_chunk", (5, 6, 7), (9, 10, 11), "uint32", 6),
    ]
    for name, size, block, dtype, k in cases:
        a = labels(rng, zyx(size), k, dtype)
        out[name] = decode_header(size, block, dtype) + cs_compress(a, block)
    for dtype, tag in [("uint32", "u32"), ("uint64", "u64")]:
        a = np.stack([labels(rng, zyx((9, 11, 13)), k, dtype) for k in (1, 3, 40)])
        out[f"cs_{tag}_3channels"] = (decode_header((9, 11, 13), (8, 8, 8), dtype, 3)
                                      + cs_channels(a, (8, 8, 8)))
    # Layouts from the spec writer (tests/spec.py); the header's shift field
    # puts the chunk 1..3 bytes past malloc's alignment.
    a = labels(rng, (1,) + zyx((10, 7, 5)), 3, "uint64")
    out["spec_u64_tables_last_random_padding"] = (
        decode_header((10, 7, 5), (4, 4, 4), "uint64", shift=1)
        + spec.encode(a, (4, 4, 4), tables="last", padding="random"))
    a = labels(rng, (1,) + zyx((3, 2, 2)), 12, "uint32")
    out["spec_u32_fixed32"] = (decode_header((3, 2, 2), (1, 1, 1), "uint32", shift=2)
                               + spec.encode(a, (1, 1, 1), width=32))
    a = labels(rng, (2,) + zyx((6, 4, 3)), 4, "uint64")
    out["spec_u64_fixed16_unshared_2ch"] = (
        decode_header((6, 4, 3), (2, 2, 3), "uint64", 2, shift=3)
        + spec.encode(a, (2, 2, 3), width=16, share=False, tables="first"))
    out["empty_chunk_0x0x0"] = decode_header((0, 0, 0), (8, 8, 8), "uint32") + bytes(4)
    return out


def encode_corpus():
    out = {}
    g8 = dict(chunk_size=(16, 16, 16), block_size=(8, 8, 8))
    data = bytes(range(256))
    for mode in range(8):
        for dtype, tag in [("uint32", "u32"), ("uint64", "u64")]:
            out[f"mode{mode}_{tag}"] = encode_header(dtype=dtype, mode=mode, p=3, **g8) + data
    out["mode1_one_label"] = encode_header(dtype="uint32", mode=1, p=0, **g8) + data
    out["mode1_16_labels"] = encode_header(dtype="uint64", mode=1, p=15, **g8) + data
    out["mode1_two_labels_scrambled"] = encode_header(
        dtype="uint64", mode=1, p=1, scramble=True, invert=True, **g8) + data
    out["partial_aniso_3ch"] = encode_header(
        (19, 13, 7), (16, 8, 4), "uint64", mode=5, p=2, channels=3, shift=1) + data
    # 41^3 blocks of 68921 distinct labels: 32-bit blocks.
    out["bits32_41cubed"] = encode_header(
        (41, 41, 41), (41, 41, 41), "uint32", mode=2, p=0) + bytes(4)
    # >256 labels per 16^3 block: 16-bit blocks.
    out["bits16_mode3"] = encode_header(
        (16, 16, 16), (16, 16, 16), "uint64", mode=3, scramble=True) + bytes(
            np.random.default_rng(2).integers(0, 256, 4096, dtype=np.uint8))
    # Labels that differ only in their top 16 bits (k << 48).
    out["high48_one_block"] = encode_header(
        (16, 16, 16), (16, 16, 16), "uint64", mode=2, high=True) + bytes(1)
    out["high48_runs_inverted"] = encode_header(
        (16, 16, 16), (4, 4, 4), "uint64", mode=4, p=2, high=True, invert=True) + data
    out["zero_size"] = encode_header((0, 5, 5), (8, 8, 8), "uint64", mode=0) + data[:4]
    fib = common.fib25()[:16, :16, :16].astype("<u2")
    out["fib25_16_low16"] = encode_header((16, 16, 16), (8, 8, 8), "uint32", mode=3) + fib.tobytes()
    return out


def raw_corpus():
    def header(size, value_bytes, channels, shift=0, small=0):
        return bytes(list(size) + [value_bytes, channels | shift << 2, small])
    out = {}
    out["u8_4x3x2"] = header((4, 3, 2), 1, 1) + bytes(range(24))
    out["u64_2x2x2_3ch"] = header((2, 2, 2), 8, 3, shift=1, small=128) + bytes(range(192))
    out["u16_wrong_size"] = header((3, 3, 3), 2, 1) + bytes(50)
    out["bad_width_3"] = header((1, 1, 1), 3, 1) + bytes(3)
    out["zero_channels"] = header((1, 1, 1), 4, 0) + bytes(4)
    return out


def main():
    total = 0
    for harness, files in [("fuzz_cseg_decode", decode_corpus()),
                           ("fuzz_cseg_encode", encode_corpus()),
                           ("fuzz_raw", raw_corpus())]:
        folder = CORPUS / harness
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            if old.name not in files:
                old.unlink()
        for name, blob in sorted(files.items()):
            (folder / name).write_bytes(blob)
            total += len(blob)
        print(f"{folder.relative_to(REPO)}: {len(files)} files")
    print(f"{total} bytes in all")


if __name__ == "__main__":
    main()
