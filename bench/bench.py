#!/usr/bin/env python3
"""Benchmarks ngcodec against its peers, side by side in one process.

    python bench/bench.py [--rounds N] [--quick] [--markdown FILE]

It measures the ngcodec that Python imports: in a checkout, the package
installed from it with ``pip install -e .``.

What is measured, end to end from Python (argument checks, copies in and
out of linear memory and output allocation included):

1. compressed_segmentation decode/encode, uint64 and uint32, 8^3 blocks, on
   the FIB-25 64^3 chunk and on four synthetic Voronoi 64^3 chunks (100-150
   labels, fixed seed), for ngcodec, the ``compressed-segmentation`` package
   (native C++) and neuroglancer-scripts (NumPy; fewer rounds). Targets:
   ngcodec >= 2x the compressed-segmentation package, decode and encode.
2. FIB-25 decode vs a NumPy copy of the decoded array: target <= 4x.
3. An 8^3 uint64 chunk decoded from Python: target <= 15 us.
4. raw encode/decode vs the NumPy one-liners: target >= 0.9x their speed.
5. Compressed sizes vs the compressed-segmentation package: never larger.
6. Two threads decoding different chunks vs one thread: decodes per second
   while both are busy, target speed-up >= 1.8x; and, for information, the
   time of a fixed batch split in two (which also waits for the slower one).
7. Memory: linear memory does not grow once warm; a decode allocates its
   output once (nothing with ``out=``), measured with tracemalloc.
8. Node (if ``node`` is on PATH): bench/bench_node.mjs times the JS
   host on FIB-25 (plus a naive JS decoder for reference).

Implementations alternate round by round (rotating which goes first) and
each timed sample runs with the garbage collector off after a warm-up. The
table gives medians; speed ratios are the median of per-round ratios, so
that both sides of a ratio saw the same moment of a noisy machine.
Targets are reported (PASS/FAIL), never asserted: the exit status is 0
unless something crashed or an implementation returned a wrong result.
"""

import argparse
import datetime
import gc
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import ngcodec

from machine import copy_speed, cpu_model, git_describe, load_average, version_of  # bench/machine.py, beside this script

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED_FIB25 = REPO.parent / "shared/data/fib25_64x64x64_uint64.dat"
BUNDLED_CSEG = Path(ngcodec.__file__).parent / "data/fib25_64x64x64_uint64.cseg8"
NODE_SCRIPT = HERE / "bench_node.mjs"

try:
    import compressed_segmentation as cseg_pkg
except ImportError:  # reported as missing rows, never a crash
    cseg_pkg = None
try:
    from neuroglancer_scripts.chunk_encoding import CompressedSegmentationEncoder
except ImportError:
    CompressedSegmentationEncoder = None

CHUNK = (64, 64, 64)  # (x, y, z)
BLOCK = (8, 8, 8)
SMALL = (8, 8, 8)
SEED = 20250101
VORONOI_CHUNKS = 4
VORONOI_LABELS = (100, 150)

NG = "ngcodec"
CS = "compressed-segmentation"
NS = "neuroglancer-scripts"
SHORT = {CS: "cs", NS: "ngs"}

DEC_TARGET = 2.0
ENC_TARGET = 2.0
COPY_TARGET = 4.0
SMALL_TARGET_US = 15.0
RAW_TARGET = 0.9
THREAD_TARGET = 1.8
OUT_SLACK = 64 << 10  # bytes a decode may allocate besides its output


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------

@dataclass
class Impl:
    name: str
    fn: object
    inner: int = 1   # calls per timed sample
    stride: int = 1  # sampled on rounds r with r % stride == 0


class gc_off:
    """Collects, then keeps the collector off for the timed section."""

    def __enter__(self):
        gc.collect()
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        if self.was:
            gc.enable()
        return False


def warm(fn, calls=3):
    """Warms *fn* up and returns the time of one more call."""
    for _ in range(calls):
        fn()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def inner_for(fn, sample_seconds, cap=2000):
    """Calls per sample so one sample lasts about *sample_seconds*."""
    one = min(warm(fn), warm(fn, 0))
    return max(1, min(cap, round(sample_seconds / max(one, 1e-7))))


def alternate(impls, rounds):
    """Times each implementation once per round (every *stride* rounds),
    rotating the order. Returns {name: {round: seconds per call}}."""
    samples = {imp.name: {} for imp in impls}
    perf = time.perf_counter
    with gc_off():
        for r in range(rounds):
            active = [imp for imp in impls if r % imp.stride == 0]
            k = r % len(active)
            for imp in active[k:] + active[:k]:
                fn, n = imp.fn, imp.inner
                t0 = perf()
                for _ in range(n):
                    fn()
                samples[imp.name][r] = (perf() - t0) / n
    return samples


def median(samples):
    return statistics.median(samples.values())


def paired(samples, num, den):
    """Median over common rounds of samples[num] / samples[den]."""
    a, b = samples[num], samples[den]
    return statistics.median(a[r] / b[r] for r in a if r in b)


def stride_for(rounds, wanted):
    return max(1, math.ceil(rounds / max(1, wanted)))


# --------------------------------------------------------------------------
# Formatting and rows
# --------------------------------------------------------------------------

def fmt_time(seconds):
    us = seconds * 1e6
    if us < 10:
        return f"{us:.2f} µs"
    if us < 1000:
        return f"{us:.1f} µs"
    if us < 1e6:
        return f"{us / 1000:.2f} ms"
    return f"{us / 1e6:.2f} s"


def fmt_rate(nbytes, seconds):
    gbs = nbytes / seconds / 1e9
    return f"{gbs:.3f} GB/s" if gbs < 0.1 else f"{gbs:.2f} GB/s"


def fmt_bytes(n):
    if abs(n) < 10 << 10:
        return f"{n} B"
    if abs(n) < 10 << 20:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1 << 20):.2f} MiB"


def verdict(ok):
    return "PASS" if ok else "FAIL"


@dataclass
class Row:
    key: str
    bench: str
    ngcodec: str = ""
    reference: str = ""
    ratio: str = ""
    target: str = "—"
    result: str = "—"


COLUMNS = ("key", "benchmark", "ngcodec", "reference", "ratio", "target", "result")


def row_cells(row):
    return (row.key, row.bench, row.ngcodec, row.reference, row.ratio, row.target, row.result)


def text_table(rows):
    cells = [COLUMNS] + [row_cells(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(COLUMNS, widths)), line]
    section = None
    for r in rows:
        s = r.key.split(".")[0]
        if section is not None and s != section:
            out.append("")
        section = s
        out.append("  ".join(c.ljust(w) for c, w in zip(row_cells(r), widths)).rstrip())
    return "\n".join(out)


def markdown_table(rows):
    def esc(s):
        return s.replace("|", "\\|") if s else " "
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        out.append("| " + " | ".join(esc(c) for c in row_cells(r)) + " |")
    return "\n".join(out)


# --------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------

def physical_cores():
    try:
        pairs = set()
        phys = core = None
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("physical id"):
                phys = line.split(":", 1)[1].strip()
            elif line.startswith("core id"):
                core = line.split(":", 1)[1].strip()
            elif not line.strip() and core is not None:
                pairs.add((phys, core))
                phys = core = None
        if core is not None:
            pairs.add((phys, core))
        return len(pairs) or None
    except OSError:
        return None


def node_version(node):
    if not node:
        return "not found"
    try:
        return subprocess.run([node, "--version"], capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unusable"


def environment(args, node, fib_source):
    load = "load avg " + load_average()
    phys = physical_cores()
    cores = f"{os.cpu_count()} logical CPUs" + (f" ({phys} cores)" if phys else "")
    return [
        f"Machine: {cpu_model()}, {cores}, NumPy 2 MiB copy {copy_speed():.1f} GB/s, {load} at start",
        f"Python {platform.python_version()}, wasmtime {version_of('wasmtime')}, "
        f"numpy {np.__version__}, compressed-segmentation {version_of('compressed-segmentation')}, "
        f"neuroglancer-scripts {version_of('neuroglancer-scripts')}, Node {node_version(node)}",
        f"ngcodec {ngcodec.__version__} (wasm {'.'.join(map(str, ngcodec.wasm_version()))}) "
        f"from {Path(ngcodec.__file__).parent}, git {git_describe()}",
        f"Date {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}; "
        f"rounds {args.rounds}{' (quick)' if args.quick else ''}; FIB-25 from {fib_source}",
        "Medians; ratios are medians of per-round ratios (implementations alternate round "
        "by round); GB/s = uncompressed bytes / time; end to end from Python, copies included.",
        f"cs = compressed-segmentation {version_of('compressed-segmentation')} (C++), "
        f"ngs = neuroglancer-scripts {version_of('neuroglancer-scripts')} (NumPy); "
        "all decoders read ngcodec's encoding.",
    ]


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

def load_fib25():
    """The FIB-25 chunk as (Z, Y, X) uint64, and where it came from."""
    if SHARED_FIB25.is_file():
        a = np.fromfile(SHARED_FIB25, "<u8")
        if a.size == CHUNK[0] * CHUNK[1] * CHUNK[2]:
            return a.reshape(CHUNK[::-1]), str(SHARED_FIB25)
    buf = BUNDLED_CSEG.read_bytes()
    a = ngcodec.compressed_segmentation.decode(buf, CHUNK, "uint64", BLOCK)[0]
    return a, f"{BUNDLED_CSEG.name} (decoded by ngcodec)"


def distinct_labels(rng, n, dtype):
    info = np.iinfo(dtype)
    labels = np.empty(0, dtype=dtype)
    while labels.size < n:
        more = rng.integers(0, info.max, size=2 * n, dtype=dtype, endpoint=True)
        labels = np.unique(np.concatenate([labels, more]))
    return rng.permutation(labels)[:n]


def voronoi_cells(rng, shape, n_seeds):
    """Index of the nearest of *n_seeds* random seeds, for every voxel."""
    seeds = rng.random((n_seeds, 3)) * np.asarray(shape)
    grid = np.indices(shape, dtype=np.float64).reshape(3, -1).T
    s2 = (seeds ** 2).sum(axis=1)
    nearest = np.empty(grid.shape[0], dtype=np.intp)
    step = 1 << 15
    for start in range(0, grid.shape[0], step):
        d = grid[start:start + step] @ (-2.0 * seeds.T) + s2
        nearest[start:start + step] = np.argmin(d, axis=1)
    return nearest.reshape(shape)


@dataclass
class Input:
    key: str        # e.g. "fib25.u64"
    label: str      # e.g. "FIB-25 64³ uint64"
    dtype: str
    arrays: list    # (Z, Y, X) C-contiguous
    ng_bufs: list = None
    cs_bufs: list = None
    ns_bufs: list = None

    @property
    def nbytes(self):
        return sum(a.nbytes for a in self.arrays)


def make_inputs(fib):
    rng = np.random.default_rng(SEED)
    _, inverse = np.unique(fib, return_inverse=True)
    fib32 = np.ascontiguousarray(inverse.reshape(fib.shape).astype(np.uint32))
    cells, counts = [], []
    for _ in range(VORONOI_CHUNKS):
        n = int(rng.integers(VORONOI_LABELS[0], VORONOI_LABELS[1], endpoint=True))
        cells.append(voronoi_cells(rng, CHUNK[::-1], n))
        counts.append(n)
    vor = {}
    for dtype in ("uint64", "uint32"):
        vor[dtype] = []
        for c, n in zip(cells, counts):
            labels = distinct_labels(rng, n, np.dtype(dtype))
            vor[dtype].append(np.ascontiguousarray(labels[c]))
    vname = f"Voronoi 64³ ×{VORONOI_CHUNKS} ({min(counts)}–{max(counts)} labels)"
    return [
        Input("fib25.u64", "FIB-25 64³ uint64", "uint64", [np.ascontiguousarray(fib)]),
        Input("fib25.u32", "FIB-25 64³ uint32", "uint32", [fib32]),
        Input("voronoi.u64", vname + " uint64", "uint64", vor["uint64"]),
        Input("voronoi.u32", vname + " uint32", "uint32", vor["uint32"]),
    ]


# --------------------------------------------------------------------------
# The implementations
# --------------------------------------------------------------------------

def xyz_of(a):
    return a.shape[::-1]


def ng_encode(a):
    return ngcodec.compressed_segmentation.encode(a, BLOCK)


def ng_decode(buf, a_like, dtype, out=None):
    return ngcodec.compressed_segmentation.decode(buf, xyz_of(a_like), dtype, BLOCK, out=out)


def cs_encode(a):
    return cseg_pkg.compress(a.T, block_size=BLOCK, order="F")


def cs_decode(buf, a_like, dtype):
    return cseg_pkg.decompress(buf, xyz_of(a_like), dtype, BLOCK, order="F").T


_ns_encoders = {}


def ns_encoder(dtype):
    if dtype not in _ns_encoders:
        _ns_encoders[dtype] = CompressedSegmentationEncoder(dtype, 1, list(BLOCK))
    return _ns_encoders[dtype]


def ns_encode(a, dtype):
    return ns_encoder(dtype).encode(a[np.newaxis])


def ns_decode(buf, a_like, dtype):
    return ns_encoder(dtype).decode(buf, xyz_of(a_like))


class WrongResult(Exception):
    pass


def expect_equal(got, want, what):
    got = np.asarray(got).reshape(want.shape)
    if got.dtype != want.dtype or not np.array_equal(got, want):
        raise WrongResult(f"{what}: wrong result")


def prepare(inp):
    """Encodes with every implementation and checks every decoder on
    ngcodec's bytes (which all decoders are timed on)."""
    inp.ng_bufs = [ng_encode(a) for a in inp.arrays]
    for a, buf in zip(inp.arrays, inp.ng_bufs):
        expect_equal(ng_decode(buf, a, inp.dtype), a, f"ngcodec decode {inp.label}")
    if cseg_pkg is not None:
        inp.cs_bufs = [bytes(cs_encode(a)) for a in inp.arrays]
        for a, buf, ref in zip(inp.arrays, inp.ng_bufs, inp.cs_bufs):
            expect_equal(cs_decode(buf, a, inp.dtype), a, f"{CS} decode of ngcodec's {inp.label}")
            expect_equal(ng_decode(ref, a, inp.dtype), a, f"ngcodec decode of {CS}'s {inp.label}")
    if CompressedSegmentationEncoder is not None:
        inp.ns_bufs = [bytes(ns_encode(a, inp.dtype)) for a in inp.arrays]
        for a, buf in zip(inp.arrays, inp.ng_bufs):
            expect_equal(ns_decode(buf, a, inp.dtype), a, f"{NS} decode of ngcodec's {inp.label}")


# --------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------

class Worker(threading.Thread):
    """A thread that runs *fn* either n times (batch) or until told to stop
    (stream), counting completed calls; errors are re-raised by wait()."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn = fn
        self.go, self.done = threading.Event(), threading.Event()
        self.n = None  # None: stream until self.halt
        self.halt = self.stop = False
        self.count = 0
        self.error = None

    def run(self):
        while True:
            self.go.wait()
            self.go.clear()
            if self.stop:
                return
            try:
                if self.n is None:
                    while not self.halt:
                        self.fn()
                        self.count += 1
                else:
                    for _ in range(self.n):
                        self.fn()
            except BaseException as exc:  # reported by the main thread
                self.error = exc
            self.done.set()

    def batch(self, n):
        self.n = n
        self.go.set()

    def stream(self, seconds):
        """Streams for *seconds* and waits for the end (a warm-up)."""
        self.n, self.halt = None, False
        self.go.set()
        time.sleep(seconds)
        self.halt = True
        self.wait()

    def wait(self):
        self.done.wait()
        self.done.clear()
        if self.error is not None:
            raise self.error

    def quit(self):
        self.stop = True
        self.go.set()
        self.join(timeout=60)


def stream_rate(workers, window):
    """Calls per second of *workers* streaming together, counted from their
    completed calls at two instants once all are running; and the CPUs the
    process kept busy meanwhile."""
    for w in workers:
        w.n, w.halt = None, False
        w.go.set()
    time.sleep(window / 10)  # every worker is inside its loop
    c0, t0, p0 = sum(w.count for w in workers), time.perf_counter(), time.process_time()
    time.sleep(window)
    c1, t1, p1 = sum(w.count for w in workers), time.perf_counter(), time.process_time()
    for w in workers:
        w.halt = True
    for w in workers:
        w.wait()
    return (c1 - c0) / (t1 - t0), (p1 - p0) / (t1 - t0)


class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.rounds = args.rounds
        self.sample = 0.0005 if self.quick else 0.002  # seconds per timed sample
        self.rows = []

    def add(self, *args, **kw):
        row = Row(*args, **kw)
        self.rows.append(row)
        print(f"  {row.key:<22} {row.ngcodec:<26} {row.ratio:<24} {row.result}",
              file=sys.stderr, flush=True)

    # 1 ---------------------------------------------------------------------
    def codecs(self, inputs):
        ns_rounds = 1 if self.quick else max(2, self.rounds // 12)
        for inp in inputs:
            arrays, dtype = inp.arrays, inp.dtype
            for op in ("decode", "encode"):
                if op == "decode":
                    fns = {
                        NG: lambda: [ng_decode(b, a, dtype) for a, b in zip(arrays, inp.ng_bufs)],
                        CS: lambda: [cs_decode(b, a, dtype) for a, b in zip(arrays, inp.ng_bufs)],
                        NS: lambda: [ns_decode(b, a, dtype) for a, b in zip(arrays, inp.ng_bufs)],
                    }
                else:
                    fns = {
                        NG: lambda: [ng_encode(a) for a in arrays],
                        CS: lambda: [cs_encode(a) for a in arrays],
                        NS: lambda: [ns_encode(a, dtype) for a in arrays],
                    }
                impls = [Impl(NG, fns[NG], inner_for(fns[NG], self.sample))]
                if cseg_pkg is not None:
                    impls.append(Impl(CS, fns[CS], inner_for(fns[CS], self.sample)))
                if CompressedSegmentationEncoder is not None:
                    fns[NS]()  # one warm-up call: it is slow
                    impls.append(Impl(NS, fns[NS], 1, stride_for(self.rounds, ns_rounds)))
                s = alternate(impls, self.rounds)
                ng_t = median(s[NG])
                ng_txt = f"{fmt_rate(inp.nbytes, ng_t)} ({fmt_time(ng_t)})"
                target = DEC_TARGET if op == "decode" else ENC_TARGET
                for peer in (CS, NS):
                    key = f"1.{op[:3]}.{inp.key}.{SHORT[peer]}"
                    bench = f"{op} {inp.label}"
                    if peer not in s:
                        self.add(key, bench, ng_txt, f"{SHORT[peer]}: not installed")
                        continue
                    t = median(s[peer])
                    n = len(s[peer])
                    ref = (f"{SHORT[peer]} {fmt_rate(inp.nbytes, t)} ({fmt_time(t)}"
                           + (f", {n} round{'s' if n > 1 else ''})" if peer == NS else ")"))
                    ratio = paired(s, peer, NG)
                    if peer == CS:
                        self.add(key, bench, ng_txt, ref, f"{ratio:.2f}× faster",
                                 f"≥ {target:g}×", verdict(ratio >= target))
                    else:
                        self.add(key, bench, ng_txt, ref, f"{ratio:.1f}× faster")

    # 2 ---------------------------------------------------------------------
    def versus_copy(self, fib_inp):
        a, buf = fib_inp.arrays[0], fib_inp.ng_bufs[0]
        decoded = ng_decode(buf, a, "uint64")
        fns = {NG: lambda: ng_decode(buf, a, "uint64"), "copy": decoded.copy}
        s = alternate([Impl(n, f, inner_for(f, self.sample)) for n, f in fns.items()], self.rounds)
        ratio = paired(s, NG, "copy")
        self.add("2.dec.fib25.copy", "decode FIB-25 64³ uint64 vs NumPy a.copy()",
                 f"{fmt_rate(a.nbytes, median(s[NG]))} ({fmt_time(median(s[NG]))})",
                 f"a.copy() {fmt_rate(a.nbytes, median(s['copy']))} ({fmt_time(median(s['copy']))})",
                 f"{ratio:.2f}× copy time", f"≤ {COPY_TARGET:g}× copy", verdict(ratio <= COPY_TARGET))

    # 3 ---------------------------------------------------------------------
    def small_chunk(self, fib):
        # The FIB-25 block with the most labels (the first, on ties).
        bz, by, bx = (n // b for n, b in zip(fib.shape, BLOCK[::-1]))
        blocks = fib.reshape(bz, BLOCK[2], by, BLOCK[1], bx, BLOCK[0]).transpose(0, 2, 4, 1, 3, 5)
        counts = [len(np.unique(blk)) for blk in blocks.reshape(bz * by * bx, -1)]
        z, y, x = np.unravel_index(int(np.argmax(counts)), (bz, by, bx))
        small = np.ascontiguousarray(fib[z * 8:z * 8 + 8, y * 8:y * 8 + 8, x * 8:x * 8 + 8])
        nlabels = len(np.unique(small))
        buf = ng_encode(small)
        out = np.empty((1,) + small.shape, small.dtype)
        expect_equal(ng_decode(buf, small, "uint64"), small, "ngcodec decode 8³")
        fns = {NG: lambda: ng_decode(buf, small, "uint64"),
               "out": lambda: ng_decode(buf, small, "uint64", out=out)}
        if cseg_pkg is not None:
            fns[CS] = lambda: cs_decode(buf, small, "uint64")
        s = alternate([Impl(n, f, inner_for(f, self.sample)) for n, f in fns.items()], self.rounds)
        t = median(s[NG])
        label = f"decode 8³ uint64 FIB-25 block ({nlabels} labels, {len(buf)} B; the busiest)"
        ref = ""
        ratio = ""
        if CS in s:
            ref = f"{SHORT[CS]} {fmt_time(median(s[CS]))}"
            ratio = f"{paired(s, NG, CS):.2f}× {SHORT[CS]} time"
        self.add("3.dec.small.ngcodec", label, fmt_time(t), ref, ratio,
                 f"≤ {SMALL_TARGET_US:g} µs", verdict(t * 1e6 <= SMALL_TARGET_US))
        self.add("3.dec.small.out", "decode 8³ uint64, out= (no allocation)",
                 fmt_time(median(s["out"])))
        self.small = (small, buf)

    # 4 ---------------------------------------------------------------------
    def raw(self, fib):
        a = np.ascontiguousarray(fib)
        shape4 = (1,) + a.shape
        buf = a.astype("<u8").tobytes()
        if ngcodec.raw.encode(a) != buf:
            raise WrongResult("ngcodec.raw.encode: wrong result")
        expect_equal(ngcodec.raw.decode(buf, CHUNK, "uint64"), a, "ngcodec.raw.decode")
        cases = {
            "encode": {NG: lambda: ngcodec.raw.encode(a),
                       "numpy": lambda: a.astype("<u8").tobytes()},
            "decode": {NG: lambda: ngcodec.raw.decode(buf, CHUNK, "uint64"),
                       "numpy": lambda: np.frombuffer(buf, "<u8").reshape(shape4).copy()},
        }
        numpy_code = {"encode": 'a.astype("<u8").tobytes()',
                      "decode": 'np.frombuffer(buf, "<u8").reshape(...).copy()'}
        for op, fns in cases.items():
            s = alternate([Impl(n, f, inner_for(f, self.sample)) for n, f in fns.items()],
                          self.rounds)
            ratio = paired(s, "numpy", NG)
            self.add(f"4.{op[:3]}.raw.fib25", f"raw {op} FIB-25 64³ uint64",
                     f"{fmt_rate(a.nbytes, median(s[NG]))} ({fmt_time(median(s[NG]))})",
                     f"{numpy_code[op]} {fmt_rate(a.nbytes, median(s['numpy']))}",
                     f"{ratio:.2f}× NumPy speed", f"≥ {RAW_TARGET:g}×", verdict(ratio >= RAW_TARGET))

    # 5 ---------------------------------------------------------------------
    def sizes(self, inputs):
        small, small_buf = self.small
        small_inp = Input("small.u64", "8³ uint64 FIB-25 block (busiest)", "uint64", [small],
                          [small_buf],
                          [bytes(cs_encode(small))] if cseg_pkg is not None else None,
                          [bytes(ns_encode(small, "uint64"))]
                          if CompressedSegmentationEncoder is not None else None)
        for inp in inputs + [small_inp]:
            ng_total = sum(len(b) for b in inp.ng_bufs)
            key = f"5.size.{inp.key}"
            ngtxt = f"{ng_total} B ({inp.nbytes / ng_total:.1f}:1)"
            if inp.cs_bufs is None:
                self.add(key, f"compressed size {inp.label}", ngtxt, f"{CS}: not installed")
                continue
            cs_total = sum(len(b) for b in inp.cs_bufs)
            larger = sum(len(n) > len(c) for n, c in zip(inp.ng_bufs, inp.cs_bufs))
            ref = f"{SHORT[CS]} {cs_total} B"
            if inp.ns_bufs is not None:
                ref += f", {SHORT[NS]} {sum(len(b) for b in inp.ns_bufs)} B"
            many = len(inp.ng_bufs) > 1
            ratio = f"{ng_total / cs_total:.4f}× {SHORT[CS]}"
            if many:
                ratio += f"; {larger}/{len(inp.ng_bufs)} larger"
            self.add(key, f"compressed size {inp.label}", ngtxt, ref, ratio,
                     f"≤ {SHORT[CS]}, every chunk", verdict(larger == 0))

    # 6 ---------------------------------------------------------------------
    def threads(self, inputs):
        fib_inp = inputs[0]
        vor_inp = next(i for i in inputs if i.key == "voronoi.u64")

        def pair(first, second):
            """Decodes two chunks, from objects of its own: threads that
            shared one bytes object would make its reference count bounce
            between cores at every call, which users decoding different
            chunks do not pay."""
            (buf1, a1), (buf2, a2) = [(bytes(bytearray(inp.ng_bufs[0])), inp.arrays[0].copy())
                                      for inp in (first, second)]

            def decode_pair():
                ng_decode(buf1, a1, "uint64")
                ng_decode(buf2, a2, "uint64")
            return decode_pair

        # Both threads get the same work in opposite order, so at any time
        # they decode different chunks.
        workers = [Worker(pair(fib_inp, vor_inp)), Worker(pair(vor_inp, fib_inp))]
        for w in workers:
            w.start()
        try:
            self.threads_throughput(workers)
            self.threads_batch(workers)
        finally:
            for w in workers:
                w.quit()

    def threads_throughput(self, workers):
        """Decodes per second of two threads decoding continuously vs one,
        counted over windows in which every thread involved is busy: the
        speed-up of the target."""
        window = 0.01 if self.quick else 0.1
        rounds = 2 if self.quick else max(5, self.rounds // 10)
        ratios, busy = [], []
        for w in workers:  # warm-up: each thread instantiates its own module
            w.stream(window / 4)
        for r in range(rounds):
            order = (True, False) if r % 2 == 0 else (False, True)
            rates = {}
            for both in order:
                rate, cpus = stream_rate(workers if both else workers[:1], window)
                rates[both] = rate
                if both:
                    busy.append(cpus)
            ratios.append(rates[True] / rates[False])
        speedup = statistics.median(ratios)
        self.add("6.threads.decode", "2 threads decoding (FIB-25, Voronoi) uint64 pairs in opposite "
                 "order vs 1 thread: decodes per second over busy windows",
                 f"2 threads: {statistics.median(busy):.2f} CPUs busy",
                 f"1 thread, {rounds} windows of {window * 1000:g} ms each",
                 f"{speedup:.2f}× speed-up", f"≥ {THREAD_TARGET:g}×",
                 verdict(speedup >= THREAD_TARGET))

    def threads_batch(self, workers):
        """Time for a fixed batch split between two threads vs one thread
        doing it all: also pays for whichever thread finishes last."""
        per_thread = 0.004 if self.quick else 0.05
        n = inner_for(workers[0].fn, per_thread, cap=100000)
        rounds = 2 if self.quick else max(3, self.rounds // 6)

        def parallel():
            for w in workers:
                w.batch(n)
            for w in workers:
                w.wait()

        def sequential():
            for w in workers:
                for _ in range(n):
                    w.fn()

        s = alternate([Impl("2 threads", parallel), Impl("1 thread", sequential)], rounds)
        speedup = paired(s, "1 thread", "2 threads")
        self.add("6.threads.batch", f"a batch of 2 × {n} (FIB-25 + Voronoi) uint64 pairs: 2 threads "
                 "vs 1 thread (the last thread to finish counts)",
                 f"2 threads {fmt_time(median(s['2 threads']))}",
                 f"1 thread {fmt_time(median(s['1 thread']))}", f"{speedup:.2f}× speed-up")

    # 7 ---------------------------------------------------------------------
    def memory(self, inputs):
        small, small_buf = self.small
        work = [(inp.dtype, a, b) for inp in inputs for a, b in zip(inp.arrays, inp.ng_bufs)]
        work.append(("uint64", small, small_buf))
        outs = [np.empty((1,) + a.shape, a.dtype) for _, a, _ in work]
        n = 20 if self.quick else 300

        def decodes(count):
            for i in range(count):
                j = i % len(work)
                dtype, a, b = work[j]
                ng_decode(b, a, dtype, out=outs[j] if i // len(work) % 2 else None)

        def encodes(count):
            for i in range(count):
                ng_encode(work[i % len(work)][1])

        decodes(2 * len(work))
        encodes(2 * len(work))
        where, before = linear_memory()
        decodes(n)
        _, mid = linear_memory()
        encodes(n)
        _, after = linear_memory()
        if before is None:
            for key, what in (("7.mem.linear.decode", "decodes"), ("7.mem.linear.encode", "encodes")):
                self.add(key, f"linear memory over {n} {what}", "n/a", where)
        else:
            self.add("7.mem.linear.decode", f"linear memory over {n} decodes (new and out=), "
                     "after warm-up", f"{fmt_bytes(before)} → {fmt_bytes(mid)}", where,
                     f"{mid - before:+d} B", "no growth", verdict(mid == before))
            self.add("7.mem.linear.encode", f"linear memory over {n} encodes, after warm-up",
                     f"{fmt_bytes(mid)} → {fmt_bytes(after)}", where,
                     f"{after - mid:+d} B", "no growth", verdict(after == mid))

        a, buf = inputs[0].arrays[0], inputs[0].ng_bufs[0]
        out = np.empty((1,) + a.shape, a.dtype)
        ng_peak, result = traced_peak(lambda: ng_decode(buf, a, "uint64"))
        ref = ""
        if cseg_pkg is not None:
            cs_peak, _ = traced_peak(lambda: cs_decode(buf, a, "uint64"))
            ref = f"{SHORT[CS]} peak {fmt_bytes(cs_peak)}"
        self.add("7.mem.alloc.decode", "FIB-25 decode: bytes allocated (tracemalloc peak)",
                 f"peak {fmt_bytes(ng_peak)}", ref, f"{ng_peak / a.nbytes:.3f}× output",
                 f"≤ 1 output + {OUT_SLACK >> 10} KiB",
                 verdict(ng_peak <= a.nbytes + OUT_SLACK))
        out_peak, result = traced_peak(lambda: ng_decode(buf, a, "uint64", out=out))
        self.add("7.mem.alloc.out", "FIB-25 decode with out=: bytes allocated",
                 f"peak {fmt_bytes(out_peak)}", "",
                 "returns out" if result is out else "returns a new array",
                 f"≤ {OUT_SLACK >> 10} KiB, returns out",
                 verdict(out_peak <= OUT_SLACK and result is out))

    # 8 ---------------------------------------------------------------------
    def node(self, node):
        if not node:
            for key in NODE_KEYS:
                self.add(key, "Node", "skipped: node not found")
            return
        raw_path = SHARED_FIB25 if SHARED_FIB25.is_file() else None
        rounds = 3 if self.quick else self.rounds
        cmd = [node, str(NODE_SCRIPT), "--cseg", str(BUNDLED_CSEG), "--rounds", str(rounds),
               "--sample-ms", str(self.sample * 1000)]
        if raw_path:
            cmd += ["--raw", str(raw_path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"{NODE_SCRIPT.name} failed ({proc.returncode}):\n{proc.stderr}")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        nbytes = res["bytes"]
        d, e, naive = (res["median_s"][k] for k in ("decode", "encode", "naive_decode"))
        self.add("8.node.dec.fib25", f"Node {res['node']}: decodeCompressedSegmentation "
                 "FIB-25 64³ uint64", f"{fmt_rate(nbytes, d)} ({fmt_time(d)})",
                 f"naive JS decoder {fmt_rate(nbytes, naive)} ({fmt_time(naive)})",
                 f"{res['ratio_naive']:.2f}× faster")
        self.add("8.node.enc.fib25", f"Node {res['node']}: encodeCompressedSegmentation "
                 "FIB-25 64³ uint64", f"{fmt_rate(nbytes, e)} ({fmt_time(e)})",
                 f"{res['encoded_bytes']} B")


NODE_KEYS = ("8.node.dec.fib25", "8.node.enc.fib25")


def linear_memory():
    """(where it was read, bytes of linear memory of this thread's instance
    for the default limits), through ngcodec.runtime's public introspection."""
    from ngcodec.runtime import peek_instance
    where = "ngcodec.runtime.peek_instance().memory_size()"
    inst = peek_instance(ngcodec.get_default_limits())
    if inst is None:
        return "no live instance", None
    return where, inst.memory_size()


def traced_peak(fn):
    """Peak bytes traced by tracemalloc during one call of *fn* (warm)."""
    fn()
    result = None
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return peak, result


def expected_keys():
    """Every row key bench.py prints, in order (tests/test_bench.py uses it)."""
    keys = []
    for inp in ("fib25.u64", "fib25.u32", "voronoi.u64", "voronoi.u32"):
        for op in ("dec", "enc"):
            keys += [f"1.{op}.{inp}.cs", f"1.{op}.{inp}.ngs"]
    keys += ["2.dec.fib25.copy", "3.dec.small.ngcodec", "3.dec.small.out",
             "4.enc.raw.fib25", "4.dec.raw.fib25"]
    keys += [f"5.size.{k}" for k in ("fib25.u64", "fib25.u32", "voronoi.u64", "voronoi.u32",
                                      "small.u64")]
    keys += ["6.threads.decode", "6.threads.batch", "7.mem.linear.decode", "7.mem.linear.encode",
             "7.mem.alloc.decode", "7.mem.alloc.out"]
    keys += list(NODE_KEYS)
    return keys


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=None,
                   help="timed rounds per comparison (default 200, --quick 3); "
                        "neuroglancer-scripts gets about a twelfth of them")
    p.add_argument("--quick", action="store_true",
                   help="a few rounds and short samples: checks the script, not the speed")
    p.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    p.add_argument("--no-node", action="store_true", help="skip the Node rows")
    p.add_argument("--list-rows", action="store_true",
                   help="print the key of every row, one a line, and exit")
    args = p.parse_args(argv)
    if args.list_rows:
        print("\n".join(expected_keys()))
        return 0
    if args.rounds is None:
        args.rounds = 3 if args.quick else 200
    args.rounds = max(1, args.rounds)
    try:
        sys.stdout.reconfigure(encoding="utf-8")
    except (AttributeError, ValueError):
        pass

    node = None if args.no_node else shutil.which("node")
    fib, fib_source = load_fib25()
    header = environment(args, node, fib_source)
    for line in header:
        print(line, file=sys.stderr)
    started = time.perf_counter()

    bench = Bench(args)
    inputs = make_inputs(fib)
    for inp in inputs:
        prepare(inp)
    bench.codecs(inputs)
    bench.versus_copy(inputs[0])
    bench.small_chunk(fib)
    bench.raw(fib)
    bench.sizes(inputs)
    bench.threads(inputs)
    bench.memory(inputs)
    bench.node(node)

    load = ", load avg " + load_average() + " at end"
    header.append(f"Run time {time.perf_counter() - started:.0f} s{load}.")
    table = text_table(bench.rows)
    print("\n".join(header))
    print()
    print(table)
    if args.markdown:
        md = ["# ngcodec benchmark", ""] + [f"- {line}" for line in header] + ["",
                                                                             markdown_table(bench.rows), ""]
        Path(args.markdown).write_text("\n".join(md), encoding="utf-8")
    keys = [r.key for r in bench.rows]
    if keys != expected_keys():
        print(f"warning: rows {keys} differ from expected_keys()", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
