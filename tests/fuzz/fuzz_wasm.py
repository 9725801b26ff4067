"""Differential fuzzing of ngcodec.wasm's WebAssembly-only decode/encode paths.

tests/fuzz/fuzz.sh's libFuzzer harnesses compile wasm_src natively, so they
never reach the ``#ifdef __wasm_simd128__`` code (wasm_src/simd.h). This
drives the real .wasm through ``ngcodec.compressed_segmentation``. Decodes:
chunks from the spec writer ``tests.spec.encode`` taking the SIMD path
(8x8xN blocks, bits 1/2/4, tables of exactly 2^bits and more entries,
uint32/uint64 labels sharing or not a 32-bit half) or the in-place 8/16-bit
path (17-256 or 257+ labels a block, or widths forced to 8/16, with trailing
words so tables count 2^bits entries); partial blocks, 1-2 channels, tables
first/last, shared or not, random padding; each decoded clean and after 3-8
mutations (bit flips in values, bits, table/values offsets, table entries,
channel offsets; truncation; appending). Both refuse (ngcodec only with
InvalidFormatError) or both give the same array as the spec reader
``tests.spec.decode``. Encodes must pass ``tests.common.check_encoder_structure``
and decode back exactly.

Usage, from the repository root::

    python -m tests.fuzz.fuzz_wasm [--seconds 60] [--seed 1] [--save DIR]
    python -m tests.fuzz.fuzz_wasm --seed 23 --case 4711   # rerun one case

Prints a one-screen summary; exits 1 on any mismatch or unexpected exception.
Mismatching decode inputs are saved minimised (trailing words dropped, words
zeroed while the disagreement stays) with a .json; failing encodes as .npy.
"""

import collections
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import ngcodec
from ngcodec import compressed_segmentation as cseg

from tests import common, spec
from tests.fuzz import campaign

DTYPES = ("uint32", "uint64")
SIMD_COUNTS = [1, 2, 2, 3, 4, 4, 5, 7, 8, 9, 15, 16, 16, 17, 20]  # at and around 2^bits
SPECIAL = {"uint32": [0, 2**32 - 1, 1 << 31, 2**31 - 1, 1, 0xFF, 0xFF00FF00, 0x00FF00FF],
           "uint64": [0, 2**64 - 1, 2**32 - 1, 1 << 32, 0xFFFFFFFF00000000, 1 << 63,
                      0x1FFFFFFFF, 1 << 48, 2 << 48]}
ANY_BITS = [0, 1, 2, 3, 4, 5, 8, 16, 32, 33, 255]  # valid and not
HEADER_EDITS = {  # (rng, h0 = bits << 24 | table offset, h1 = values offset) -> (h0, h1)
    "bits": lambda r, h0, h1: (h0 & 0xFFFFFF | int(r.choice(ANY_BITS)) << 24, h1),
    "bitsfield": lambda r, h0, h1: (h0 ^ 1 << int(r.integers(24, 32)), h1),
    "toff": lambda r, h0, h1: (h0 ^ 1 << int(r.integers(0, 24)), h1),
    "toff_small": lambda r, h0, h1: (h0 >> 24 << 24 | (h0 + int(r.integers(-3, 4))) & 0xFFFFFF, h1),
    "voff": lambda r, h0, h1: (h0, h1 ^ 1 << int(r.integers(0, 32))),
    "voff_small": lambda r, h0, h1: (h0, (h1 + int(r.integers(-3, 4))) & 0xFFFFFFFF)}
BLOCK_MUTATIONS = tuple(HEADER_EDITS) + ("values", "table")
WHOLE_MUTATIONS = ("randbit", "chanoff", "truncate", "append")
MINIMISE_FIRST, MINIMISE_SECONDS = 5, 10.0


def label_pool(rng, dtype, k):
    """*k* distinct labels of *dtype* in one of several styles: the SIMD decoder
    skips the high-word lookup of uint64 tables sharing one high word, and
    byte-plane lookups depend on which bytes differ."""
    def u32(n):
        return rng.integers(0, 1 << 32, size=n, dtype=np.uint64)
    styles = ["random", "small", "special"] + (
        ["below32", "same_high", "same_low", "one_high_differs"] if dtype == "uint64" else [])
    for _ in range(10):
        style = styles[int(rng.integers(0, len(styles)))]
        if style == "random":
            p = u32(k) if dtype == "uint32" else u32(k) << np.uint64(32) | u32(k)
        elif style == "small":
            p = rng.integers(0, max(40, 2 * k), size=k, dtype=np.uint64)
        elif style == "special":
            p = rng.permutation(np.concatenate([np.array(SPECIAL[dtype], np.uint64), u32(k)]))[:k]
        elif style == "below32":
            p = u32(k)
        elif style == "same_low":
            p = u32(k) << np.uint64(32) | u32(1)
        else:  # same_high, one_high_differs
            p = u32(1) << np.uint64(32) | u32(k)
            if style == "one_high_differs":
                p[int(rng.integers(0, k))] ^= np.uint64(1) << np.uint64(int(rng.integers(32, 64)))
        p = np.unique(p.astype(dtype))
        if p.size == k:
            return rng.permutation(p)
    return np.arange(k, dtype=dtype)


def block_indices(rng, k, shape, cover):
    """Table indices of a (vz, vy, vx) block in a pattern the row decoders and
    encoders treat differently. *cover*: all k labels occur, so the block's
    width is the smallest for k."""
    nvis, vx = int(np.prod(shape)), shape[2]
    mode = int(rng.integers(0, 6))
    if mode == 0:
        idx = rng.integers(0, k, size=nvis)
    elif mode == 1:  # a transition at every voxel
        idx = np.arange(nvis) % k
    elif mode == 2:  # uniform rows
        idx = np.repeat(rng.integers(0, k, size=nvis // vx), vx)
    elif mode == 3:  # blobs
        idx = np.sort(rng.integers(0, k, size=nvis))
    elif mode == 4:  # rows of a few labels each
        idx = np.concatenate([rng.choice(rng.integers(0, k, size=int(rng.integers(1, 4))), size=vx)
                              for _ in range(nvis // vx)])
    else:  # two labels alternating
        idx = rng.integers(0, k, size=2)[np.arange(nvis) % 2]
    if cover and nvis >= k:
        idx[rng.permutation(nvis)[:k]] = np.arange(k)
    return idx.reshape(shape)


def volume(rng, dtype, chunk, block, channels, profile, cover=True):
    """(C, Z, Y, X) labels, each block with its own label count and pool:
    profile "simd", bits 1/2/4 at and around 2^bits; "bytes", a third of
    blocks so, the rest 17-256 (bits 8) or 257+ (bits 16) labels."""
    a = np.zeros((channels,) + tuple(chunk[::-1]), dtype=dtype)
    for c in range(channels):
        for _, (x0, y0, z0), (vx, vy, vz) in spec.blocks(chunk, block):
            nvis, r = vx * vy * vz, rng.random() if profile == "bytes" else 0.0
            k = int(rng.choice(SIMD_COUNTS) if r < 1 / 3 else rng.integers(17, 257)
                    if r < 2 / 3 or nvis < 257 else rng.integers(257, nvis + 1))
            idx = block_indices(rng, min(k, nvis), (vz, vy, vx), cover)
            a[c, z0:z0 + vz, y0:y0 + vy, x0:x0 + vx] = label_pool(rng, dtype, min(k, nvis))[idx]
    return a


def extent(rng, block, p):
    """1-2 blocks of *block* voxels, the last one partial with probability *p*."""
    cut = int(rng.integers(1, block)) if block > 1 and rng.random() < p else 0
    return int(rng.integers(1, 3)) * block - cut


def trailing_words(rng, buf, vw):
    """Trailing data (the spec allows it): a few random words, or enough that
    every table counts 2^8 or 2^16 entries up to the end, so 8/16-bit blocks
    are not checked and take the in-place path."""
    n = int(rng.choice([0, 0, 0, 0, 0, 1, 3, 256 * vw, 256 * vw, 65536 * vw]))
    return buf + rng.integers(0, 1 << 32, size=n, dtype=np.uint64).astype("<u4").tobytes()


def paths(buf, geom):
    """{(path, bits): blocks} of a chunk whose headers parse, with path the
    branch of decode_block that decodes it, coarsened: simd (any lookup
    kind), checked (a short table), fill, fused, bytes, scratch."""
    counts = collections.Counter()
    for info in common.decode_paths(buf, *geom):
        path = info["path"]
        path = ("checked" if path.endswith("_checked") else "simd" if path.startswith("simd")
                else "scratch" if path == "per_voxel" else path)
        counts[path, info["bits"]] += 1
    return counts


def mutate(rng, buf, geom, heads):
    """A copy of a clean chunk (block headers *heads*) with 1-3 mutations, and
    their names."""
    chunk, block, dtype, channels = geom
    w = bytearray(buf)
    kinds = [str(rng.choice(BLOCK_MUTATIONS + WHOLE_MUTATIONS)) for _ in range(rng.integers(1, 4))]
    for kind in kinds:
        if kind in BLOCK_MUTATIONS:
            mutate_block(rng, w, kind, heads, int(np.prod(block)), np.dtype(dtype).itemsize // 4)
        elif kind == "randbit":
            i = int(rng.integers(0, 8 * len(w)))
            w[i // 8] ^= 1 << i % 8
        elif kind == "chanoff":
            c = 4 * int(rng.integers(0, channels))
            v = int.from_bytes(w[c:c + 4], "little") + int(rng.integers(-3, 4))
            w[c:c + 4] = (v & 0xFFFFFFFF).to_bytes(4, "little")
    if "truncate" in kinds:
        cut = int(rng.integers(1, min(len(w), 64) + 1))
        del w[len(w) - (cut - cut % 4 if rng.integers(0, 2) else cut):]  # mostly whole words
    if "append" in kinds:
        w += rng.integers(0, 256, size=int(rng.choice([1, 4, 8, 16, 64])), dtype=np.uint8).tobytes()
    return bytes(w), kinds


def mutate_block(rng, w, kind, heads, volume, vw):
    """Edits one block's header, or flips a bit of its values or table, in place."""
    off, rows = heads[int(rng.integers(0, len(heads)))]
    b = int(rng.integers(0, rows.shape[0]))
    toff, bits, voff = (int(v) for v in rows[b])
    if kind in HEADER_EDITS:
        pos = 4 * (off + 2 * b)
        h0, h1 = (int.from_bytes(w[p:p + 4], "little") for p in (pos, pos + 4))
        h0, h1 = HEADER_EDITS[kind](rng, h0, h1)
        w[pos:pos + 8] = h0.to_bytes(4, "little") + h1.to_bytes(4, "little")
        return
    if kind == "values":
        i = off + voff + int(rng.integers(0, max(1, (bits * volume + 31) // 32)))
    else:  # a table entry (the first 300 of a wide table)
        i = off + toff + int(rng.integers(0, min(1 << bits, 300) * vw))
    if 4 * i + 4 <= len(w):
        w[4 * i + int(rng.integers(0, 4))] ^= 1 << int(rng.integers(0, 8))


def outcome(call, refusal):
    """("ok", array), ("refused", why) on *refusal*, or ("exception", what)."""
    try:
        return "ok", call()
    except refusal as e:
        return "refused", str(e)
    except Exception as e:  # noqa: BLE001 - any other exception is a finding
        return "exception", f"{type(e).__module__}.{type(e).__name__}: {e}"


def decode_both(decode, buf, geom):
    """The outcomes of the reference decoder and of *decode* (ngcodec's)."""
    chunk, block, dtype, channels = geom
    return (outcome(lambda: spec.decode(buf, chunk, block, dtype, channels),
                    spec.FormatError),
            outcome(lambda: decode(buf, chunk, dtype, block, channels), ngcodec.InvalidFormatError))


def compare(ref, got):
    """None when ngcodec's outcome *got* agrees with the reference's *ref*
    (each ("ok", array), ("refused", why) or ("exception", what)), else what
    differs."""
    if ref[0] != got[0]:
        return f"reference {ref[0]}, ngcodec {got[0]}" + ("" if got[0] == "ok" else f" ({got[1]})")
    if ref[0] != "ok" or ref[1].shape == got[1].shape and np.array_equal(ref[1], got[1]):
        return None
    if ref[1].shape != got[1].shape:
        return f"shapes {ref[1].shape} != {got[1].shape}"
    diffs = [(tuple(int(i) for i in d), int(ref[1][tuple(d)]), int(got[1][tuple(d)]))
             for d in np.argwhere(ref[1] != got[1])[:5]]
    return f"arrays differ, ((c, z, y, x), reference, ngcodec): {diffs}"


def minimise(buf, fails, seconds):
    """A smaller *buf* for which fails(buf) still holds: trailing words
    dropped, then runs of words zeroed (1024 down to 1), for up to *seconds*."""
    deadline = time.monotonic() + seconds
    w = bytearray(buf)
    step = len(w) // 8 * 4
    while step >= 4 and time.monotonic() < deadline:
        if fails(bytes(w[:-step])):
            del w[-step:]
        else:
            step = step // 8 * 4
    for run in (1024, 64, 8, 1):
        for i in range(0, len(w) // 4 * 4, 4 * run):
            trial = bytearray(w)
            trial[i:i + 4 * run] = bytes(len(trial[i:i + 4 * run]))
            if trial != w and time.monotonic() < deadline and fails(bytes(trial)):
                w = trial
    return bytes(w)


class Campaign(campaign.Campaign):
    """Runs cases, counts what they did and saves what disagreed. *decode*
    stands in for ngcodec's decoder (the tests pass a wrong one)."""
    harness_errors = "unexpected exceptions"

    def __init__(self, seed, save_dir=None, decode=cseg.decode):
        super().__init__(seed, save_dir)
        self.decode = decode

    def check_decode(self, buf, geom, expected=None):
        """Decodes *buf* both ways (and checks against *expected*, if given);
        returns ngcodec's outcome kind."""
        ref, got = decode_both(self.decode, buf, geom)
        problem = compare(ref, got) or (expected is not None and compare(("ok", expected), got))
        self.counts["decode " + ("MISMATCH" if problem else "same array" if ref[0] == "ok"
                                 else "both refuse")] += 1
        if problem:
            def fails(b):  # the same disagreement: the same outcome kinds
                r, g = decode_both(self.decode, b, geom)
                return (r[0], g[0]) == (ref[0], got[0]) and bool(compare(r, g))
            small = buf if expected is not None or len(self.failures) >= MINIMISE_FIRST \
                else minimise(buf, fails, MINIMISE_SECONDS)
            meta = dict(zip(("chunk", "block", "dtype", "channels"), geom), bytes=len(small),
                        original_bytes=len(buf))
            self.fail("decode", problem, meta, lambda p: p.with_suffix(".bin").write_bytes(small))
        return got[0]

    def fail(self, kind, problem, meta, write):
        """Records a failure; saves its input (*write*(path stem)) and a .json."""
        if self.save_dir is None:
            self.save_dir = Path(tempfile.mkdtemp(prefix="fuzz_wasm_"))
        stem = Path(self.save_dir) / f"{kind}_seed{self.seed}_case{self.case}_{len(self.failures)}"
        stem.parent.mkdir(parents=True, exist_ok=True)
        write(stem)
        meta.update(kind=kind, problem=problem, seed=self.seed, case=self.case)
        stem.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
        self.failures.append(f"{stem.name}: {problem[:300]}")

    def decode_case(self, rng):
        dtype, nz, r = DTYPES[int(rng.integers(0, 2))], int(rng.integers(1, 17)), rng.random()
        block = ((8, 8, nz) if r < 0.7 else (8, int(rng.choice([1, 4, 7, 8, 9, 16])), nz)
                 if r < 0.85 else (int(rng.choice([4, 7, 8, 16])), 8, nz))
        chunk = tuple(extent(rng, b, p) for b, p in zip(block, (0.15, 0.15, 0.5)))
        geom = (chunk, block, dtype, 1 if rng.random() < 0.8 else 2)
        a = volume(rng, dtype, chunk, block, geom[3], "bytes" if rng.random() < 0.25 else "simd")
        opts = dict(tables=str(rng.choice(["last", "first"])), share=bool(rng.integers(0, 2)),
                    padding=str(rng.choice(["zero", "random"])), seed=int(rng.integers(0, 1 << 30)))
        if rng.random() < 0.3:  # a fixed width, at least what the fullest block needs
            need = max(spec.min_bits(np.unique(a[c, z0:z0 + vz, y0:y0 + vy, x0:x0 + vx]).size)
                       for c in range(geom[3])
                       for _, (x0, y0, z0), (vx, vy, vz) in spec.blocks(chunk, block))
            opts["width"] = int(rng.choice([b for b in (1, 2, 4, 8, 16, 32) if b >= need]))
        buf = trailing_words(rng, spec.encode(a, block, **opts), a.itemsize // 4)
        for (path, bits), n in paths(buf, geom).items():
            self.counts[f"path {path} bits{bits}/{dtype}"] += n
        self.counts["cases clean"] += 1
        self.counts["clean ngcodec " + self.check_decode(buf, geom, expected=a)] += 1
        heads = spec.block_headers(buf, chunk, block, geom[3])
        for _ in range(int(rng.integers(3, 9))):
            mutated, kinds = mutate(rng, buf, geom, heads)
            self.counts["cases mutated"] += 1
            self.counts.update("mutation " + k for k in kinds)
            self.check_decode(mutated, geom)

    def encode_case(self, rng):
        dtype, nz, r = DTYPES[int(rng.integers(0, 2))], int(rng.integers(1, 17)), rng.random()
        block = ((8, 8, nz) if r < 0.6 else (8, int(rng.integers(1, 17)), nz) if r < 0.8
                 else (int(rng.choice([8, 16])), int(rng.integers(1, 17)), nz))
        chunk = tuple(extent(rng, b, p) for b, p in zip(block, (0.1, 0.2, 0.3)))
        if block[0] == 16 and rng.random() < 0.5:  # a last block of 8 visible columns
            chunk = (int(rng.integers(1, 3)) * 16 - 8,) + chunk[1:]
        channels = 1 if rng.random() < 0.85 else 2
        a = volume(rng, dtype, chunk, block, channels, "bytes" if rng.random() < 0.1 else "simd",
                   cover=False)
        arr = a[0] if channels == 1 and rng.random() < 0.5 else a  # (Z, Y, X) too
        self.counts["cases encode"] += 1
        try:
            buf = cseg.encode(arr, block)
            for bits, n in common.check_encoder_structure(buf, a, block).items():
                self.counts[f"encoded blocks bits{bits}"] += n
            got = cseg.decode(buf, chunk, dtype, block, channels)
            assert np.array_equal(got, a), "ngcodec's decode of its own encoding differs"
            self.counts["encode exact"] += 1
        except (AssertionError, ngcodec.NgcodecError) as e:
            self.counts["encode FAILED"] += 1
            self.fail("encode", f"{type(e).__name__}: {e}", dict(block=block, shape=arr.shape),
                      lambda p: np.save(p.with_suffix(".npy"), arr))

    def run_case(self, rng):
        """Even cases decode, odd ones encode."""
        (self.decode_case if self.case % 2 == 0 else self.encode_case)(rng)

    def summary_lines(self, seconds):
        c = self.counts
        wasm = Path(ngcodec.__file__).parent / "web" / "ngcodec.wasm"  # its one home
        lines = [f"fuzz_wasm seed {self.seed}: {seconds:.1f} s, .wasm sha256 "
                 f"{hashlib.sha256(wasm.read_bytes()).hexdigest()[:12]}",
                 f"cases: {c['cases clean']} clean decodes, {c['cases mutated']} mutated decodes, "
                 f"{c['cases encode']} encodes"]
        for prefix in ("decode ", "clean ngcodec ", "mutation ", "encoded blocks "):
            items = sorted((k[len(prefix):], v) for k, v in c.items() if k.startswith(prefix))
            lines.append(prefix.strip() + ": " + ", ".join(f"{k} {v}" for k, v in items))
        for path, label, widths in (("simd", "SIMD-path blocks", (1, 2, 4)),
                                    ("bytes", "in-place 8/16-bit blocks", (8, 16))):
            lines.append(f"{label} (clean chunks): " + "  ".join(
                f"bits{b}/{d} {c[f'path {path} bits{b}/{d}']}" for b in widths for d in DTYPES))
        lines.append(f"encodes exact: {c['encode exact']}, failed: {c['encode FAILED']}")
        lines.append(f"mismatches: {c['decode MISMATCH'] + c['encode FAILED']}, "
                     f"unexpected exceptions: {c['unexpected exceptions']}")
        return lines


def main(argv=None):
    return campaign.main(lambda a: Campaign(a.seed, a.save), argv, __doc__,
                         "where to write mismatching inputs")


if __name__ == "__main__":
    sys.exit(main())
