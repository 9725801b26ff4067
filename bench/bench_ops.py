#!/usr/bin/env python3
"""Questions asked of compressed_segmentation chunks without decoding them
(issue 14): ngcodec against seung-lab's ``compressed-segmentation``
package, side by side in one process, on the same bytes.

    python bench/bench_ops.py [--rounds N] [--quick] [--markdown FILE]
                              [--threads N] [--tmp DIR] [--no-dataset]

Chunks (64^3, 8^3 blocks, one channel), each in uint64 and uint32:

- fib25: the FIB-25 64^3 chunk (uint32: its labels renumbered 0..n-1, as
  bench/bench.py does);
- voronoi: bench/bench.py's Voronoi generator with 3,000 cells (--quick:
  400), random distinct labels of the dtype.

Each chunk is encoded once by each library (``cs`` = seung-lab's encoder,
``ng`` = ngcodec's) and every operation is timed on both encodings, each
library reading the same bytes. Rows (ratio = seung-lab time / ngcodec
time, the median of per-round ratios; implementations alternate round by
round):

- labels: ``cseg.labels`` vs ``ngcodec.compressed_segmentation.labels``;
- remap.all: a dict mapping every label of the chunk to a new one
  (``preserve_missing_labels=False``); remap.ten: a dict of 10 of its labels
  (``preserve_missing_labels=True``); both libraries get the same dict;
- get: 1,000 random voxels, one call each: ``arr[x, y, z]`` of one
  ``CompressedSegmentationArray`` vs ``read_voxel``; times are per call;
  get.batch: the same voxels, ngcodec answering them in one ``read_voxels``
  call (the API for random voxels), times per voxel;
- contains.present / contains.absent: ``label in
  CompressedSegmentationArray(...)`` (a new one per question: it caches its
  labels) vs ``contains``. The present label is the one whose first block
  comes last in the chunk; the absent one lies between present labels when
  there is such a gap.

Targets (issue 14): >= 3x for labels, get and contains, >= 10x for remap.
Every answer of both libraries is checked against the other's and against
NumPy on the decoded chunk (remapped chunks are decoded by both libraries
and compared with the mapping applied by NumPy); a wrong answer stops the
benchmark with exit status 1.

The "module" figure in the ngcodec column is the time spent inside the
WebAssembly exports per call (measured in a separate, instrumented pass);
the rest is the Python host: argument checks, copies into and out of
linear memory. Section "overhead" separates the host's fixed cost per call.

Dataset: a 512x512x256 uint64 volume (--quick: 128^3) of mirror-tiled
FIB-25 (bench/bench_datasets.py's generator), unsharded
compressed_segmentation, 64^3 chunks, in a temporary directory, remapped
with a mapping of all its labels: ``Volume.remap(mapping, out)`` vs
decode-map-encode with ngcodec itself (read 64-voxel z slabs with
``vol[...]``, map with ``np.searchsorted``, write the slab into a new
dataset). Both outputs are read back and checked. Target >= 10x. N threads
(default 2) for both.
"""

import argparse
import datetime
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import ngcodec
import ngcodec.compressed_segmentation as ncs
import ngcodec.precomputed as ngp
from ngcodec.runtime import instance as _instance

# bench/*.py, beside this script: the timing helpers and the generators are shared
from bench import (Impl, Row, alternate, distinct_labels, fmt_time, gc_off, inner_for,
                   load_fib25, markdown_table, median, paired, text_table, verdict,
                   voronoi_cells)
from machine import describe, git_describe, load_average, version_of

try:
    import compressed_segmentation as cseg
except ImportError:
    cseg = None

CHUNK = (64, 64, 64)  # (x, y, z)
BLOCK = (8, 8, 8)
SEED = 20261207
VORONOI_CELLS = 3000
QUICK_CELLS = 400
N_VOXELS = 1000
N_TEN = 10
DATASET_SIZE = (512, 512, 256)  # (x, y, z)
QUICK_DATASET_SIZE = (128, 128, 128)

TARGETS = {"labels": 3.0, "remap.all": 10.0, "remap.ten": 10.0, "get": 3.0, "get.batch": 3.0,
           "contains.present": 3.0, "contains.absent": 3.0}
DATASET_TARGET = 10.0
INPUTS = ("fib25.u64", "fib25.u32", "voronoi.u64", "voronoi.u32")
ENCODINGS = ("cs", "ng")
OPS = tuple(TARGETS)
OVERHEAD_KEYS = ("overhead.export", "overhead.session", "overhead.voxel.tiny",
                 "overhead.voxel.chunk")
DATASET_KEY = "dataset.remap.fib25.u64"

NG, CS = "ngcodec", "cseg"


class WrongAnswer(Exception):
    pass


def check(ok, what):
    if not ok:
        raise WrongAnswer(what)


# --------------------------------------------------------------------------
# Time spent inside the module: Instance.call wrapped for one untimed pass
# --------------------------------------------------------------------------

def module_time(fn, calls):
    """Seconds per call of *fn* spent inside WebAssembly exports: the median
    over *calls* calls (each timed alone, so a descheduled moment spoils one
    sample, not the figure)."""
    orig = _instance.Instance.call
    spent = [0.0]
    perf = time.perf_counter

    def call(self, name, *args):
        t0 = perf()
        try:
            return orig(self, name, *args)
        finally:
            spent[0] += perf() - t0

    fn()
    samples = []
    _instance.Instance.call = call
    try:
        with gc_off():
            for _ in range(calls):
                spent[0] = 0.0
                fn()
                samples.append(spent[0])
    finally:
        _instance.Instance.call = orig
    return statistics.median(samples)


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------

class Chunk:
    """One chunk: the (Z, Y, X) array and both encodings, each read back by
    both libraries."""

    def __init__(self, key, label, a):
        self.key, self.label, self.a = key, label, np.ascontiguousarray(a)
        self.dtype = self.a.dtype.name
        self.labels = np.unique(self.a)
        self.bufs = {"ng": ncs.encode(self.a, BLOCK),
                     "cs": bytes(cseg.compress(self.a.T, block_size=BLOCK, order="F"))}
        for enc, buf in self.bufs.items():
            self.check_decodes(buf, f"{enc}-encoded {label}")

    def check_decodes(self, buf, what, want=None):
        want = self.a if want is None else want
        got = ncs.decode(buf, CHUNK, self.dtype, BLOCK)[0]
        check(got.dtype == want.dtype and np.array_equal(got, want), f"ngcodec decode of {what}")
        got = cseg.decompress(bytes(buf), CHUNK, self.dtype, BLOCK, order="F").T
        check(got.dtype == want.dtype and np.array_equal(got, want), f"cseg decode of {what}")


def make_chunks(quick):
    rng = np.random.default_rng(SEED)
    fib, fib_source = load_fib25()
    _, inverse = np.unique(fib, return_inverse=True)
    fib32 = inverse.reshape(fib.shape).astype(np.uint32)
    cells = QUICK_CELLS if quick else VORONOI_CELLS
    nearest = voronoi_cells(rng, CHUNK[::-1], cells)
    chunks = [Chunk("fib25.u64", "FIB-25 64³ uint64", fib),
              Chunk("fib25.u32", "FIB-25 64³ uint32 (renumbered)", fib32)]
    for dtype in ("uint64", "uint32"):
        labels = distinct_labels(rng, cells, np.dtype(dtype))
        chunks.append(Chunk("voronoi.u" + dtype[4:],
                            f"Voronoi 64³ {dtype} ({cells} labels)", labels[nearest]))
    return chunks, fib, fib_source


def present_label(c):
    """The label whose first block (x fastest, as blocks are stored) is last."""
    z, y, x = (n // b for n, b in zip(c.a.shape, BLOCK[::-1]))
    blocks = c.a.reshape(z, BLOCK[2], y, BLOCK[1], x, BLOCK[0]).transpose(0, 2, 4, 1, 3, 5)
    first = {}
    for i, blk in enumerate(blocks.reshape(z * y * x, -1)):
        for lab in np.unique(blk):
            first.setdefault(int(lab), i)
    return max(first, key=lambda k: (first[k], k))


def absent_label(c):
    labs = [int(v) for v in c.labels]
    gaps = [a + 1 for a, b in zip(labs, labs[1:]) if b > a + 1]
    if gaps:
        return gaps[len(gaps) // 2]
    top = np.iinfo(c.a.dtype).max
    return labs[-1] + 1 if labs[-1] < top else labs[0] - 1


def new_labels(rng, n, dtype):
    return [int(v) for v in distinct_labels(rng, n, np.dtype(dtype))]


def apply_numpy(a, keys, values, preserve):
    """*a* with keys (sorted uint64) mapped to values, by NumPy."""
    flat = a.reshape(-1).astype(np.uint64)
    pos = np.searchsorted(keys, flat).clip(0, max(keys.size - 1, 0))
    hit = keys[pos] == flat
    check(preserve or hit.all(), "mapping covers every label")
    out = flat.copy()
    out[hit] = values[pos[hit]]
    return out.astype(a.dtype).reshape(a.shape)


# --------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.rounds = args.rounds
        self.sample = 0.0005 if args.quick else 0.004  # seconds per timed sample
        self.rows = []
        self.summary = {}  # (op, input) -> {enc: ratio}

    def add(self, *args, **kw):
        row = Row(*args, **kw)
        self.rows.append(row)
        print(f"  {row.key:<34} {row.ngcodec:<30} {row.reference:<22} {row.ratio:<14} "
              f"{row.result}", file=sys.stderr, flush=True)

    def compare(self, key, bench, fns, per=1, module_calls=21, op=None, inp=None, enc=None):
        """Times {NG: fn, CS: fn} (each call doing *per* operations) and adds
        the row with ratio CS / NG."""
        impls = [Impl(name, fn, inner_for(fn, self.sample, cap=500)) for name, fn in fns.items()]
        s = alternate(impls, self.rounds)
        ng_t, cs_t = median(s[NG]) / per, median(s[CS]) / per
        mod = module_time(fns[NG], module_calls) / per
        ratio = paired(s, CS, NG)
        target = TARGETS.get(op)
        self.add(key, bench, f"{fmt_time(ng_t)} (module {fmt_time(mod)})", f"cs {fmt_time(cs_t)}",
                 f"{ratio:.2f}× faster", f"≥ {target:g}×" if target else "—",
                 verdict(ratio >= target) if target else "—")
        if op is not None:
            self.summary.setdefault((op, inp), {})[enc] = ratio
        return ratio

    # -- chunks -------------------------------------------------------------
    def chunk_ops(self, c, rng):
        dtype, a = c.dtype, c.a
        every = {lab: v for lab, v in zip((int(x) for x in c.labels),
                                          new_labels(rng, c.labels.size, dtype))}
        ten_keys = sorted(int(x) for x in rng.choice(c.labels, min(N_TEN, c.labels.size),
                                                     replace=False))
        ten = dict(zip(ten_keys, new_labels(rng, len(ten_keys), dtype)))
        positions = [(int(x), int(y), int(z)) for x, y, z in
                     zip(*(rng.integers(0, n, N_VOXELS) for n in CHUNK))]
        want_voxels = [a[z, y, x] for x, y, z in positions]
        present, absent = present_label(c), absent_label(c)
        check(present in every and absent not in every, "contains labels chosen")

        for enc in ENCODINGS:
            buf = c.bufs[enc]
            tag = f"{c.key}.{enc}"
            on = f"{c.label}, {enc}-encoded"

            # labels
            got_ng = ncs.labels(buf, CHUNK, dtype, BLOCK)[0]
            got_cs = np.asarray(cseg.labels(buf, CHUNK, dtype, BLOCK))
            check(got_ng.dtype == a.dtype and np.array_equal(got_ng, c.labels),
                  f"ngcodec labels {tag}")
            check(np.array_equal(got_cs.astype(a.dtype), c.labels), f"cseg labels {tag}")
            self.compare(f"labels.{tag}", f"labels: {on} ({c.labels.size} labels)",
                         {NG: lambda: ncs.labels(buf, CHUNK, dtype, BLOCK),
                          CS: lambda: cseg.labels(buf, CHUNK, dtype, BLOCK)},
                         op="labels", inp=c.key, enc=enc)

            # remap
            for op, mapping, preserve in (("remap.all", every, False), ("remap.ten", ten, True)):
                keys = np.array(sorted(mapping), np.uint64)
                values = np.array([mapping[int(k)] for k in keys], np.uint64)
                want = apply_numpy(a, keys, values, preserve)
                out_ng = ncs.remap(buf, CHUNK, dtype, BLOCK, mapping,
                                   preserve_missing_labels=preserve)
                out_cs = cseg.remap(buf, CHUNK, dtype, mapping,
                                    preserve_missing_labels=preserve, block_size=BLOCK)
                c.check_decodes(out_ng, f"ngcodec {op} of {tag}", want)
                c.check_decodes(out_cs, f"cseg {op} of {tag}", want)
                what = (f"remap, dict of every label ({len(mapping)})" if op == "remap.all" else
                        f"remap, dict of {len(mapping)} labels, preserve_missing_labels=True")
                self.compare(f"{op}.{tag}", f"{what}: {on}",
                             {NG: lambda m=mapping, p=preserve: ncs.remap(
                                 buf, CHUNK, dtype, BLOCK, m, preserve_missing_labels=p),
                              CS: lambda m=mapping, p=preserve: cseg.remap(
                                  buf, CHUNK, dtype, m, preserve_missing_labels=p,
                                  block_size=BLOCK)},
                             op=op, inp=c.key, enc=enc)

            # get / read_voxel
            arr = cseg.CompressedSegmentationArray(buf, CHUNK, dtype, BLOCK)
            got_ng = [ncs.read_voxel(buf, CHUNK, dtype, BLOCK, p) for p in positions]
            got_cs = [arr[p] for p in positions]
            check(all(g == w and g.dtype == a.dtype for g, w in zip(got_ng, want_voxels)),
                  f"ngcodec read_voxel {tag}")
            check(all(int(g) == int(w) for g, w in zip(got_cs, want_voxels)),
                  f"cseg get {tag}")

            def ng_get():
                for p in positions:
                    ncs.read_voxel(buf, CHUNK, dtype, BLOCK, p)

            def cs_get():
                for p in positions:
                    arr[p]

            self.compare(f"get.{tag}", f"read_voxel vs arr[x, y, z], {N_VOXELS} random voxels, "
                         f"per call: {on}", {NG: ng_get, CS: cs_get}, per=N_VOXELS,
                         module_calls=3, op="get", inp=c.key, enc=enc)

            # the same voxels in one call: read_voxels
            points = np.array(positions)
            check(np.array_equal(ncs.read_voxels(buf, CHUNK, dtype, BLOCK, points),
                                 np.array(want_voxels, a.dtype)), f"ngcodec read_voxels {tag}")
            self.compare(f"get.batch.{tag}", f"read_voxels (one call) vs arr[x, y, z], "
                         f"{N_VOXELS} random voxels, per voxel: {on}",
                         {NG: lambda: ncs.read_voxels(buf, CHUNK, dtype, BLOCK, points),
                          CS: cs_get}, per=N_VOXELS, module_calls=1, op="get.batch",
                         inp=c.key, enc=enc)

            # contains
            for op, lab in (("contains.present", present), ("contains.absent", absent)):
                want_in = bool((a == lab).any())
                check(want_in == (op == "contains.present"), f"NumPy contains {tag}")
                check(ncs.contains(buf, CHUNK, dtype, BLOCK, lab) is want_in,
                      f"ngcodec contains {lab} {tag}")
                check((lab in cseg.CompressedSegmentationArray(buf, CHUNK, dtype, BLOCK))
                      == want_in, f"cseg contains {lab} {tag}")
                self.compare(f"{op}.{tag}", f"contains {op.split('.')[1]} label {lab}: {on}",
                             {NG: lambda lab=lab: ncs.contains(buf, CHUNK, dtype, BLOCK, lab),
                              CS: lambda lab=lab: lab in cseg.CompressedSegmentationArray(
                                  buf, CHUNK, dtype, BLOCK)},
                             op=op, inp=c.key, enc=enc)

    # -- per-call overhead ----------------------------------------------------
    def overhead(self, chunks):
        from ngcodec.runtime.pool import session
        with session("overhead", decoding=False) as inst:
            export = inst.fn["ngc_version"]

        def timed(fn, per=1):
            s = alternate([Impl("x", fn, inner_for(fn, self.sample, cap=20000))], self.rounds)
            return median(s["x"]) / per

        t = timed(export)
        self.add("overhead.export", "bare call of a trivial export (ngc_version) from Python",
                 fmt_time(t), "", "", "—", "—")
        t = timed(ngcodec.runtime.version)
        self.add("overhead.session", "ngcodec.runtime.version(): thread's instance + one export "
                 "call", fmt_time(t), "", "", "—", "—")
        tiny = np.full((8, 8, 8), 7, np.uint64)
        tbuf = ncs.encode(tiny, BLOCK)
        check(ncs.read_voxel(tbuf, (8, 8, 8), "uint64", BLOCK, (1, 2, 3)) == 7, "tiny voxel")
        t = timed(lambda: ncs.read_voxel(tbuf, (8, 8, 8), "uint64", BLOCK, (1, 2, 3)))
        mod = module_time(lambda: ncs.read_voxel(tbuf, (8, 8, 8), "uint64", BLOCK, (1, 2, 3)),
                          200)
        self.add("overhead.voxel.tiny", f"read_voxel of an 8³ one-label uint64 chunk "
                 f"({len(tbuf)} B): the API's floor", f"{fmt_time(t)} (module {fmt_time(mod)})",
                 "", "", "—", "—")
        big = max(chunks, key=lambda c: len(c.bufs["cs"]))
        buf = big.bufs["cs"]
        t = timed(lambda: ncs.read_voxel(buf, CHUNK, big.dtype, BLOCK, (33, 17, 5)))
        copy = timed(lambda: np.frombuffer(buf, np.uint8).copy())
        self.add("overhead.voxel.chunk", f"read_voxel of {big.label} ({len(buf)} B), vs one "
                 "NumPy copy of the chunk (read_voxel copies the whole chunk into linear memory)",
                 fmt_time(t), f"copy {fmt_time(copy)}", "", "—", "—")

    # -- dataset ----------------------------------------------------------------
    def dataset(self, fib, root):
        from bench_datasets import fib25_volume
        size = QUICK_DATASET_SIZE if self.args.quick else DATASET_SIZE
        threads = self.args.threads
        src = fib25_volume(fib, size)  # (Z, Y, X)
        keys = np.unique(src)
        rng = np.random.default_rng(SEED + 1)
        values = np.asarray(distinct_labels(rng, keys.size, np.dtype(np.uint64)))
        want = values[np.searchsorted(keys, src)]
        scale = {"key": "8_8_8", "size": list(size), "resolution": [8, 8, 8],
                 "voxel_offset": [0, 0, 0], "chunk_sizes": [list(CHUNK)],
                 "encoding": "compressed_segmentation",
                 "compressed_segmentation_block_size": list(BLOCK)}
        info = {"@type": "neuroglancer_multiscale_volume", "type": "segmentation",
                "data_type": "uint64", "num_channels": 1, "scales": [scale]}
        root = Path(root)
        vol = ngp.create(root / "src", info).scale(0, threads=threads)
        vol[...] = src.T
        vol = ngp.open(root / "src", 0, threads=threads)
        x, y, z = size
        slab = CHUNK[2]
        parts = {"read": 0.0, "map": 0.0, "write": 0.0}

        def remap():
            vol.remap((keys, values), root / "remap")

        def decode_map_encode():
            out = ngp.create(root / "dme", info).scale(0, threads=threads)
            perf = time.perf_counter
            for z0 in range(0, z, slab):
                t0 = perf()
                a = vol[0:x, 0:y, z0:z0 + slab].T  # (C, Z, Y, X), C-contiguous
                t1 = perf()
                mapped = values[np.searchsorted(keys, a)]
                t2 = perf()
                out[0:x, 0:y, z0:z0 + slab] = mapped.T
                t3 = perf()
                parts["read"] += t1 - t0
                parts["map"] += t2 - t1
                parts["write"] += t3 - t2

        remap()
        decode_map_encode()
        for name in ("remap", "dme"):
            got = ngp.open(root / name, 0, threads=threads)[...]
            check(np.array_equal(got[..., 0].T, want), f"dataset {name} output")
        rounds = 1 if self.args.quick else 3
        for k in parts:
            parts[k] = 0.0
        s = alternate([Impl("remap", remap), Impl("dme", decode_map_encode)], rounds)
        ratio = paired(s, "dme", "remap")
        n = len(s["dme"])
        dme_parts = ", ".join(f"{k} {fmt_time(v / n)}" for k, v in parts.items())
        io_only = (parts["read"] + parts["write"]) / n / median(s["remap"])
        mib = src.nbytes / (1 << 20)
        chunks = int(np.prod([-(-a // b) for a, b in zip(size, CHUNK)]))
        self.add(DATASET_KEY, f"Volume.remap, mapping of all {keys.size} labels, "
                 f"{'×'.join(map(str, size))} uint64 FIB-25 tiles ({mib:.0f} MiB, {chunks} "
                 f"unsharded cseg chunks), {threads} threads, vs decode-map-encode with ngcodec "
                 f"(z slabs of {slab}: vol[...], np.searchsorted, vol[...] = ...)",
                 f"{fmt_time(median(s['remap']))}",
                 f"d-m-e {fmt_time(median(s['dme']))} ({dme_parts})",
                 f"{ratio:.2f}× faster ({io_only:.1f}× read + write alone)",
                 f"≥ {DATASET_TARGET:g}×", verdict(ratio >= DATASET_TARGET))
        for name in ("remap", "dme"):
            check(np.array_equal(ngp.open(root / name, 0, threads=threads)[...][..., 0].T, want),
                  f"dataset {name} output after the timed rounds")


def summary_table(bench):
    """op × input: the ratios on cs / ng bytes, with the verdict on both."""
    head = "| operation (target) | " + " | ".join(INPUTS) + " |"
    out = [head, "|---" * (len(INPUTS) + 1) + "|"]
    for op in OPS:
        cells = []
        for inp in INPUTS:
            r = bench.summary.get((op, inp), {})
            if not r:
                cells.append(" ")
                continue
            ok = all(v >= TARGETS[op] for v in r.values())
            cells.append(" / ".join(f"{r[e]:.2f}×" for e in ENCODINGS if e in r)
                         + f" {verdict(ok)}")
        out.append(f"| {op} (≥ {TARGETS[op]:g}×) | " + " | ".join(cells) + " |")
    return "\n".join(out)


def expected_keys(dataset=True):
    keys = [f"{op}.{inp}.{enc}" for inp in INPUTS for enc in ENCODINGS for op in OPS]
    keys += list(OVERHEAD_KEYS)
    if dataset:
        keys.append(DATASET_KEY)
    return keys


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=None,
                   help="timed rounds per row (default 40, --quick 3)")
    p.add_argument("--quick", action="store_true",
                   help="few rounds, short samples, 400 Voronoi cells, a 128³ dataset: "
                        "checks the script, not the speed")
    p.add_argument("--markdown", metavar="FILE", help="also write the tables as Markdown")
    p.add_argument("--threads", type=int, default=2, help="threads of the dataset row")
    p.add_argument("--tmp", default=None, help="where the dataset is written (deleted after)")
    p.add_argument("--no-dataset", action="store_true", help="skip the dataset row")
    p.add_argument("--list-rows", action="store_true", help="print every row key and exit")
    args = p.parse_args(argv)
    if args.list_rows:
        print("\n".join(expected_keys(not args.no_dataset)))
        return 0
    if args.rounds is None:
        args.rounds = 3 if args.quick else 40
    args.rounds = max(1, args.rounds)
    try:
        sys.stdout.reconfigure(encoding="utf-8")
    except (AttributeError, ValueError):
        pass
    if cseg is None:
        print("bench_ops.py needs the compressed-segmentation package", file=sys.stderr)
        return 2

    header = [
        f"Machine: {describe()}, load avg {load_average()} at start",
        f"Python {platform.python_version()}, wasmtime {version_of('wasmtime')}, numpy "
        f"{np.__version__}, compressed-segmentation {version_of('compressed-segmentation')}, "
        f"ngcodec {ngcodec.__version__} (wasm {'.'.join(map(str, ngcodec.wasm_version()))}), "
        f"git {git_describe()}",
    ]
    for line in header:
        print(line, file=sys.stderr)
    started = time.perf_counter()
    bench = Bench(args)
    chunks, fib, fib_source = make_chunks(args.quick)
    header.append(
        f"Date {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}; "
        f"rounds {args.rounds}{' (quick)' if args.quick else ''}; FIB-25 from {fib_source}; "
        f"`python bench/bench_ops.py{' --quick' if args.quick else ''}`")
    header.append(
        "Chunks 64³, 8³ blocks, one channel; ng = ngcodec's encoding, cs = seung-lab's (both "
        "libraries read the same bytes in each row); cs = compressed-segmentation "
        f"{version_of('compressed-segmentation')}. Medians of per-call times; ratio = cs time "
        "/ ngcodec time, median of per-round ratios (implementations alternate round by round); "
        "module = time inside the WebAssembly exports, the rest is the Python host. Every "
        "answer checked against the other library and NumPy on the decoded chunk.")
    rng = np.random.default_rng(SEED + 2)
    try:
        for c in chunks:
            bench.chunk_ops(c, rng)
        bench.overhead(chunks)
        if not args.no_dataset:
            root = tempfile.mkdtemp(prefix="ngcodec-bench-ops-", dir=args.tmp)
            try:
                bench.dataset(fib, root)
            finally:
                shutil.rmtree(root, ignore_errors=True)
    except WrongAnswer as exc:
        print(f"WRONG ANSWER: {exc}", file=sys.stderr)
        return 1
    header.append(f"Run time {time.perf_counter() - started:.0f} s, load avg {load_average()} at the end.")
    print("\n".join(header))
    print()
    print(text_table(bench.rows))
    print()
    print(summary_table(bench))
    if args.markdown:
        md = (["# ngcodec compressed-domain operations vs compressed-segmentation (issue 14)", ""]
              + [f"- {line}" for line in header]
              + ["", "Summary: ratio (cs time / ngcodec time) on cs-encoded / ng-encoded bytes.",
                 "", summary_table(bench), "", markdown_table(bench.rows), ""])
        Path(args.markdown).write_text("\n".join(md), encoding="utf-8")
    keys = [r.key for r in bench.rows]
    if keys != expected_keys(not args.no_dataset):
        print("warning: rows differ from expected_keys()", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
