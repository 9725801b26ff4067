#!/usr/bin/env python3
"""Whole datasets, side by side in one process: ngcodec.precomputed against
tensorstore's neuroglancer_precomputed driver and cloud-volume.

    python bench/bench_datasets.py [--rounds N] [--threads N] [--quick] [--markdown FILE]

Written for issue 11 ("Speed and memory"). Two 512x512x256 uint64
segmentations (--quick: 128x128x128):

- fib25: the real FIB-25 64^3 chunk of ../shared/data, mirror-tiled (so
  labels stay continuous across tiles) on a grid shifted by (23, 41, 17)
  voxels against the chunk grid (so a chunk holds parts of several tiles),
  each tile's labels offset by ``tile << 32`` (no label repeats across tiles);
- voronoi: many labels, each voxel labelled by the nearest of about one seed
  per 1,700 voxels (40,000 seeds at full size; computed at half resolution
  with scipy's cKDTree, then upsampled 2x), random distinct 64-bit labels.

Each is written in four layouts, 64^3 chunks: unsharded and sharded
(``neuroglancer_uint64_sharded_v1``, identity hash, gzip data and minishard
indices, parameters from ``propose_sharding`` with a target of 1/8 of the
scale's bytes, so the scale has 8 shards), each with compressed_segmentation
(8^3 blocks) and raw encoding. The same ``info`` file (written by ngcodec's
``create``) serves all three implementations.

Timed, per layout, for ngcodec, tensorstore and cloud-volume:

1. reading the whole scale (the arrays come back in the same layout: x
   fastest, (X, Y, Z, C); tensorstore with ``read(order="F")``);
2. reading 20 random 100^3 boxes (the same boxes for all), one sample = all 20;
3. writing the whole scale from the same (X, Y, Z, 1) array into an empty
   scale directory (emptied before each round, outside the timing).

Reads use datasets written by tensorstore (neutral input, written once per
layout, untimed). Every read is compared with the source array, and every
written dataset is read back (by tensorstore for ngcodec's, by ngcodec for
the others) and compared: wrong data is an error (exit status 1), never a
row. Targets (ngcodec >= 2x tensorstore's speed and >= 5x cloud-volume's,
reading and writing; ngcodec's peak memory <= the output + 64 MiB) are
reported PASS/FAIL, not asserted.

Threads: every implementation gets N (default: os.cpu_count()): ngcodec
``threads=N``; tensorstore a context with ``data_copy_concurrency`` and
``file_io_concurrency`` limited to N (and no cache pool: nothing is cached
between reads); cloud-volume ``codec_threads=N`` and ``parallel=1`` (its
default; --cv-parallel N: N processes, spawned afresh for every call, which
cost about 2 s per call on the 2-core VM this was written on, so parallel=2
was 20-150x slower than parallel=1 on every operation). cloud-volume writes a sharded scale only one whole
shard per call (its ``_upload_shard``; ``parallel`` does not apply), so its
sharded writes call ``cv[shard box] = ...`` for each shard on a pool of N
threads.

Memory: the peak resident set size of the process (VmHWM, reset through
/proc/self/clear_refs before each measured call) minus the RSS before it,
in a separate untimed call after the timed rounds (steady state: buffers
that a warm implementation keeps, like WebAssembly linear memory, are not
counted). RSS, not tracemalloc: tensorstore and cloud-volume's codecs (and
ngcodec's linear memory) allocate outside Python's allocator, where
tracemalloc sees nothing. With --cv-parallel N > 1, cloud-volume's worker
processes are not in this process's RSS. Before each measured call, freed
heap memory is handed back (malloc_trim), so that reusing it counts.

Files are written under a temporary directory in /tmp (--tmp) and deleted
at the end; they are in the page cache when read (just written), so this
measures decoding and copying, not the disk.

Implementations alternate round by round, rotating which goes first; the
table gives medians, and ratios are medians of per-round ratios.
"""

import argparse
import datetime
import gc
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import ngcodec
import ngcodec.precomputed as ngp
from ngcodec.precomputed.sharded import propose_sharding, shard_boxes

from machine import describe, git_describe, load_average as load, version_of  # bench/machine.py, beside this script

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED_FIB25 = REPO.parent / "shared/data/fib25_64x64x64_uint64.dat"
BUNDLED_CSEG = Path(ngcodec.__file__).parent / "data/fib25_64x64x64_uint64.cseg8"

FULL_SIZE = (512, 512, 256)   # (x, y, z)
QUICK_SIZE = (128, 128, 128)
CHUNK = (64, 64, 64)
BLOCK = (8, 8, 8)
BOX = (100, 100, 100)
N_BOXES = 20
QUICK_BOXES = 4
SEED = 20250111
TILE_SHIFT = (23, 41, 17)     # (x, y, z): the FIB-25 tiles against the chunk grid
VOXELS_PER_SEED = 1700
SHARDS = 8                    # target_shard_bytes = scale bytes / SHARDS

NG, TS, CV = "ngcodec", "tensorstore", "cloud-volume"
IMPLS = (NG, TS, CV)
TS_TARGET = 2.0
CV_TARGET = 5.0
MEM_SLACK = 64 << 20

LAYOUTS = [  # (name, encoding, sharded)
    ("unsharded cseg", "compressed_segmentation", False),
    ("unsharded raw", "raw", False),
    ("sharded gzip cseg", "compressed_segmentation", True),
    ("sharded gzip raw", "raw", True),
]
OPS = ("read", "boxes", "write")
OP_NAMES = {"read": "read whole scale", "boxes": "read {n} random 100³ boxes",
            "write": "write whole scale"}


class WrongData(Exception):
    """An implementation read or wrote data that differ from the source."""


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

def load_fib25():
    """The FIB-25 chunk as (Z, Y, X) uint64, and where it came from."""
    if SHARED_FIB25.is_file():
        a = np.fromfile(SHARED_FIB25, "<u8")
        if a.size == 64 ** 3:
            return a.reshape(64, 64, 64), str(SHARED_FIB25)
    from ngcodec import compressed_segmentation
    a = compressed_segmentation.decode(BUNDLED_CSEG.read_bytes(), (64, 64, 64), np.uint64,
                                       BLOCK)
    return np.asarray(a).reshape(64, 64, 64), f"{BUNDLED_CSEG} (decoded)"


def fib25_volume(fib, size):
    """(Z, Y, X) uint64: *fib* mirror-tiled, shifted by TILE_SHIFT, labels
    offset per tile."""
    x, y, z = size
    sx, sy, sz = TILE_SHIFT
    t = 64
    nt = [math.ceil((n + s) / t) for n, s in zip((x, y, z), TILE_SHIFT)]
    out = np.empty((z, y, x), np.uint64)
    tile_id = 0
    for tz in range(nt[2]):
        for ty in range(nt[1]):
            for tx in range(nt[0]):
                tile = fib[::(-1) ** tz, ::(-1) ** ty, ::(-1) ** tx]  # mirror: continuous
                # the tile's box in volume coordinates, clipped
                lo = [tz * t - sz, ty * t - sy, tx * t - sx]
                src = tuple(slice(max(0, -a), min(t, n - a)) for a, n in zip(lo, (z, y, x)))
                dst = tuple(slice(max(0, a), min(a + t, n)) for a, n in zip(lo, (z, y, x)))
                out[dst] = tile[src] + np.uint64(tile_id << 32)
                tile_id += 1
    return out


def voronoi_volume(size, threads, seed=SEED):
    """(Z, Y, X) uint64: the label of the nearest random seed, at half
    resolution (then upsampled 2x)."""
    from scipy.spatial import cKDTree
    rng = np.random.default_rng(seed)
    x, y, z = size
    hx, hy, hz = x // 2, y // 2, z // 2
    n = max(16, (x * y * z) // VOXELS_PER_SEED)
    points = rng.uniform(0, 1, (n, 3)) * [hz, hy, hx]
    tree = cKDTree(points)
    labels = np.unique(rng.integers(1, 2 ** 63, size=n + 64, dtype=np.uint64))
    labels = rng.permutation(labels)[:n]
    assert labels.size == n
    half = np.empty((hz, hy, hx), np.uint64)
    gy, gx = np.meshgrid(np.arange(hy) + 0.5, np.arange(hx) + 0.5, indexing="ij")
    for k in range(hz):
        q = np.stack([np.full(gy.size, k + 0.5), gy.ravel(), gx.ravel()], axis=1)
        _, nearest = tree.query(q, workers=threads)
        half[k] = labels[nearest].reshape(hy, hx)
    return half.repeat(2, 0).repeat(2, 1).repeat(2, 2), n


def random_boxes(size, n, seed=SEED):
    rng = np.random.default_rng(seed)
    box = [min(b, s) for b, s in zip(BOX, size)]
    out = []
    for _ in range(n):
        lo = tuple(int(rng.integers(0, s - b + 1)) for s, b in zip(size, box))
        out.append((lo, tuple(a + b for a, b in zip(lo, box))))
    return out


def make_info(size, encoding, sharded):
    scale = {"key": "8_8_8", "size": list(size), "resolution": [8, 8, 8],
             "voxel_offset": [0, 0, 0], "chunk_sizes": [list(CHUNK)], "encoding": encoding}
    if encoding == "compressed_segmentation":
        scale["compressed_segmentation_block_size"] = list(BLOCK)
    if sharded:
        nbytes = math.prod(size) * 8
        scale["sharding"] = propose_sharding(scale, np.uint64, 1,
                                             target_shard_bytes=nbytes // SHARDS,
                                             data_encoding="gzip",
                                             minishard_index_encoding="gzip")
    return {"@type": "neuroglancer_multiscale_volume", "type": "segmentation",
            "data_type": "uint64", "num_channels": 1, "scales": [scale]}


# --------------------------------------------------------------------------
# Implementations: open for reading, read whole, read a box, write whole
# --------------------------------------------------------------------------

def write_info(path, info):
    """The same info for all: validated and written by ngcodec's create."""
    ngp.create(path, info, overwrite=True)


def empty_scale(path, info):
    d = Path(path) / info["scales"][0]["key"]
    if d.exists():
        shutil.rmtree(d)


class Ngcodec:
    name = NG

    def __init__(self, threads):
        self.threads = threads

    def open(self, path, write=False):
        return ngp.open(path, 0, mode="r+" if write else "r", threads=self.threads)

    def read(self, vol, lo=None, hi=None):
        if lo is None:
            return vol[...]
        return vol[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]

    def write(self, vol, src, info):
        vol[...] = src


class Tensorstore:
    name = TS

    def __init__(self, threads):
        import tensorstore as ts
        self.ts = ts
        self.context = ts.Context({"data_copy_concurrency": {"limit": threads},
                                   "file_io_concurrency": {"limit": threads},
                                   "cache_pool": {"total_bytes_limit": 0}})

    def open(self, path, write=False):
        spec = {"driver": "neuroglancer_precomputed", "kvstore": f"file://{path}/",
                "scale_index": 0}
        return self.ts.open(spec, context=self.context, read=True, write=write).result()

    def read(self, t, lo=None, hi=None):
        if lo is not None:
            t = t[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        return t.read(order="F").result()

    def write(self, t, src, info):
        t.write(src).result()


class CloudVolume:
    name = CV

    def __init__(self, threads, parallel=1):
        from cloudvolume import CloudVolume as CV_
        self.CV = CV_
        self.threads = threads
        self.parallel = parallel
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="cv-shards")

    def open(self, path, write=False):
        return self.CV(f"file://{path}", mip=0, parallel=self.parallel,
                       codec_threads=self.threads, progress=False, cache=False,
                       compress=False, fill_missing=False, bounded=True, lru_bytes=0)

    def read(self, cv, lo=None, hi=None):
        if lo is None:
            return cv[:, :, :]
        return cv[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]

    def write(self, cv, src, info):
        scale = info["scales"][0]
        if "sharding" not in scale:
            cv[:, :, :] = src
            return
        # one whole shard per call: the only sharded write cloud-volume has
        boxes = [b for bs in shard_boxes(scale, scale["sharding"]).values() for b in bs]

        def one(box):
            (x0, y0, z0), (x1, y1, z1) = box
            cv[x0:x1, y0:y1, z0:z1] = src[x0:x1, y0:y1, z0:z1]
        for f in [self.pool.submit(one, b) for b in boxes]:
            f.result()


# --------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------

class gc_off:
    def __enter__(self):
        gc.collect()
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        if self.was:
            gc.enable()
        return False


def _status_kib(field_name):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) * 1024
    raise OSError(f"no {field_name} in /proc/self/status")


def _trim():
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakRSS:
    """Peak RSS above the RSS at entry: VmHWM after resetting it through
    /proc/self/clear_refs ("5"), or, where that is refused, the largest RSS a
    thread polling /proc/self/statm every millisecond saw."""

    method = None

    def __enter__(self):
        gc.collect()
        _trim()  # freed heap memory back to the system, so reuse of it shows as growth
        self.base = _status_kib("VmRSS")
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            PeakRSS.method = "VmHWM after clear_refs"
            self.poller = None
        except OSError:
            PeakRSS.method = "RSS polled every 1 ms"
            self.peak = self.base
            self.stop = threading.Event()
            page = os.sysconf("SC_PAGE_SIZE")

            def poll():
                while not self.stop.is_set():
                    with open("/proc/self/statm") as f:
                        self.peak = max(self.peak, int(f.read().split()[1]) * page)
                    time.sleep(0.001)
            self.poller = threading.Thread(target=poll, daemon=True)
            self.poller.start()
        return self

    def __exit__(self, *exc):
        if self.poller is None:
            self.peak = _status_kib("VmHWM")
        else:
            self.stop.set()
            self.poller.join()
        self.delta = self.peak - self.base
        return False


def check_equal(got, want, what):
    got = np.asarray(got)
    if got.shape != want.shape or got.dtype != want.dtype or not np.array_equal(got, want):
        bad = "shape/dtype" if got.shape != want.shape or got.dtype != want.dtype else \
            f"{int(np.count_nonzero(got != want))} voxels"
        raise WrongData(f"{what}: differs from the source array ({bad}; got {got.shape} "
                        f"{got.dtype}, want {want.shape} {want.dtype})")


@dataclass
class Result:
    times: dict = field(default_factory=lambda: {i: {} for i in IMPLS})  # impl -> round -> s
    mem: dict = field(default_factory=dict)                                # impl -> bytes
    out_bytes: int = 0
    note: str = ""


def run_case(tag, src, size, layout, impls, rounds, n_boxes, root, log, warm_up=True):
    """Times one dataset x layout. Returns {op: Result}."""
    lname, encoding, sharded = layout
    info = make_info(size, encoding, sharded)
    case_dir = Path(tempfile.mkdtemp(prefix=f"{tag}-{lname.replace(' ', '-')}-", dir=root))
    boxes = random_boxes(size, n_boxes)
    results = {op: Result() for op in OPS}
    results["read"].out_bytes = src.nbytes
    results["boxes"].out_bytes = max(math.prod(b - a for a, b in zip(lo, hi)) * 8
                                     for lo, hi in boxes)
    try:
        # the read input: written once by tensorstore, checked by ngcodec
        rpath = case_dir / "read"
        write_info(rpath, info)
        ts_impl = impls[TS]
        ts_impl.write(ts_impl.open(rpath, write=True), src, info)
        check_equal(impls[NG].read(impls[NG].open(rpath)), src,
                    f"{tag} {lname}: the read input written by tensorstore, read by ngcodec")
        handles = {name: imp.open(rpath) for name, imp in impls.items()}

        wpaths = {name: case_dir / f"write-{name}" for name in impls}
        for name, p in wpaths.items():
            write_info(p, info)

        def read_whole(name):
            imp = impls[name]
            t0 = time.perf_counter()
            a = imp.read(handles[name])
            t = time.perf_counter() - t0
            check_equal(a, src, f"{tag} {lname}: {name} read of the whole scale")
            return t

        def read_boxes(name):
            imp, h = impls[name], handles[name]
            t0 = time.perf_counter()
            got = [imp.read(h, lo, hi) for lo, hi in boxes]
            t = time.perf_counter() - t0
            for (lo, hi), a in zip(boxes, got):
                check_equal(a, src[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]],
                            f"{tag} {lname}: {name} read of box {lo}-{hi}")
            return t

        def write_whole(name):
            imp, p = impls[name], wpaths[name]
            empty_scale(p, info)
            h = imp.open(p, write=True)
            gc.collect()
            t0 = time.perf_counter()
            imp.write(h, src, info)
            t = time.perf_counter() - t0
            checker = TS if name == NG else NG  # another implementation reads it back
            c = impls[checker]
            check_equal(c.read(c.open(p)), src,
                        f"{tag} {lname}: the scale {name} wrote, read back by {checker}")
            return t

        fns = {"read": read_whole, "boxes": read_boxes, "write": write_whole}
        names = list(impls)
        for op in OPS if warm_up else ():  # warm-up: one untimed call each
            for name in names:
                fns[op](name)
        for r in range(rounds):
            k = r % len(names)
            order = names[k:] + names[:k]
            for op in OPS:
                for name in order:
                    with gc_off():
                        results[op].times[name][r] = fns[op](name)
            log(f"  {tag} {lname}: round {r + 1}/{rounds}: " + ", ".join(
                f"{op} " + "/".join(f"{results[op].times[n][r]:.2f}" for n in names)
                for op in OPS) + " s (" + "/".join(names) + ")")

        # memory: one untimed call of each, after the timed rounds
        for name in names:
            imp, h = impls[name], handles[name]
            with PeakRSS() as m:
                a = imp.read(h)
            results["read"].mem[name] = m.delta
            del a
            peak = 0
            for lo, hi in boxes[:5 if warm_up else 1]:
                with PeakRSS() as m:
                    a = imp.read(h, lo, hi)
                peak = max(peak, m.delta)
                del a
            results["boxes"].mem[name] = peak
            p = wpaths[name]
            empty_scale(p, info)
            h = imp.open(p, write=True)
            with PeakRSS() as m:
                imp.write(h, src, info)
            results["write"].mem[name] = m.delta
        del handles
        return results, info
    finally:
        shutil.rmtree(case_dir, ignore_errors=True)


# --------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------

def fmt_time(s):
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def fmt_mib(n):
    return f"{n / (1 << 20):.0f} MiB" if abs(n) >= 10 << 20 else f"{n / (1 << 20):.1f} MiB"


def verdict(ok):
    return "PASS" if ok else "FAIL"


def paired(times, num, den):
    """Median over rounds of times[num] / times[den]."""
    a, b = times[num], times[den]
    return statistics.median(a[r] / b[r] for r in a if r in b)


COLUMNS = ("key", "dataset", "layout", "benchmark", "ngcodec", "tensorstore", "cloud-volume",
           "× ts (≥ 2)", "× cv (≥ 5)", "ngcodec peak mem (≤ out + 64 MiB)", "ts / cv peak mem",
           "result")


def rows_of(tag, lname, op, res, nbytes, n_boxes):
    t = res.times
    ng = statistics.median(t[NG].values())
    ts_ = statistics.median(t[TS].values())
    cv = statistics.median(t[CV].values())
    x_ts = paired(t, TS, NG)
    x_cv = paired(t, CV, NG)
    limit = (res.out_bytes if op != "write" else 0) + MEM_SLACK
    ok_ts, ok_cv, ok_mem = x_ts >= TS_TARGET, x_cv >= CV_TARGET, res.mem[NG] <= limit

    def cell(s):
        return f"{fmt_time(s)} ({nbytes / s / 1e9:.2f} GB/s)"
    key = f"{tag}.{lname.replace(' ', '_')}.{op}"
    out_desc = "out " + fmt_mib(res.out_bytes) if op != "write" else "no output"
    return (key, tag, lname + (res.note and f" ({res.note})"), OP_NAMES[op].format(n=n_boxes), cell(ng), cell(ts_),
            cell(cv),
            f"{x_ts:.2f}× {verdict(ok_ts)}", f"{x_cv:.2f}× {verdict(ok_cv)}",
            f"{fmt_mib(res.mem[NG])} ({out_desc}) {verdict(ok_mem)}",
            f"{fmt_mib(res.mem[TS])} / {fmt_mib(res.mem[CV])}",
            verdict(ok_ts and ok_cv and ok_mem))


def markdown_table(rows):
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    return "\n".join(out)


# --------------------------------------------------------------------------

def _inflater_name():
    from ngcodec.precomputed import storage
    if storage._inflater is zlib:
        return f"the stdlib's zlib {zlib.ZLIB_RUNTIME_VERSION} (no gzip extra)"
    return f"zlib-ng {version_of('zlib-ng')} (the gzip extra)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="threads for every implementation (default: the machine's, "
                         "%(default)s)")
    ap.add_argument("--boxes", type=int, default=N_BOXES,
                    help="random 100^3 boxes (default: %(default)s)")
    ap.add_argument("--quick", action="store_true",
                    help=f"{'x'.join(map(str, QUICK_SIZE))} volumes, 1 round, {QUICK_BOXES} boxes, "
                         "no warm-up: a smoke test, its times mean little")
    ap.add_argument("--markdown", metavar="FILE", help="also write the table there")
    ap.add_argument("--cv-parallel", type=int, default=1,
                    help="cloud-volume's parallel= (processes; default %(default)s: with N > 1 "
                         "it spawns N fresh processes per call, about 2 s each here)")
    ap.add_argument("--tmp", default="/tmp", help="where the datasets are written (a new "
                    "directory there, deleted at the end; default: %(default)s)")
    args = ap.parse_args()
    if args.quick:
        args.rounds = 1
        args.boxes = min(args.boxes, QUICK_BOXES)
    if min(args.rounds, args.threads, args.boxes) < 1:
        ap.error("--rounds, --threads and --boxes must be >= 1")
    size = QUICK_SIZE if args.quick else FULL_SIZE

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    started = datetime.datetime.now().astimezone()
    load_start = load()
    machine = describe()
    fib, fib_source = load_fib25()
    t0 = time.perf_counter()
    vols = {"fib25": fib25_volume(fib, size)}
    vor, n_seeds = voronoi_volume(size, args.threads)
    vols["voronoi"] = vor
    log(f"data: {time.perf_counter() - t0:.1f} s")
    impls = {NG: Ngcodec(args.threads), TS: Tensorstore(args.threads),
             CV: CloudVolume(args.threads, args.cv_parallel)}

    root = tempfile.mkdtemp(prefix="ngcodec-bench-datasets-", dir=args.tmp)
    rows, notes = [], []
    failed = None
    try:
        for tag, a in vols.items():
            src = a.T[..., None]  # (X, Y, Z, 1), x fastest: the layout every reader returns
            nbytes = src.nbytes
            for layout in LAYOUTS:
                res, info = run_case(tag, src, size, layout, impls, args.rounds, args.boxes,
                                     root, log, warm_up=not args.quick)
                if layout[2]:
                    res["write"].note = ""
                    sh = info["scales"][0]["sharding"]
                    spec = (f"preshift_bits {sh['preshift_bits']}, minishard_bits "
                            f"{sh['minishard_bits']}, shard_bits {sh['shard_bits']}")
                    if spec not in notes:
                        notes.append(spec)
                box_bytes = sum(math.prod(b - a for a, b in zip(lo, hi)) * 8
                                for lo, hi in random_boxes(size, args.boxes))
                for op in OPS:
                    rows.append(rows_of(tag, layout[0], op, res[op],
                                        box_bytes if op == "boxes" else nbytes, args.boxes))
    except WrongData as e:
        failed = e
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if failed is not None:
        print(f"bench_datasets.py: WRONG DATA: {failed}", file=sys.stderr)
        return 1

    lines = [
        "# ngcodec dataset benchmark (issue 11)",
        "",
        f"Machine: {machine}; load avg {load_start} at start, {load()} at the end",
        f"Python {platform.python_version()}, numpy {np.__version__}, wasmtime "
        f"{version_of('wasmtime')}, tensorstore {version_of('tensorstore')}, cloud-volume "
        f"{version_of('cloud-volume')} (compressed-segmentation "
        f"{version_of('compressed-segmentation')}), ngcodec {ngcodec.__version__} "
        f"(wasm {'.'.join(map(str, ngcodec.wasm_version()))}), git {git_describe()}; "
        f"ngcodec inflates gzip with {_inflater_name()}",
        f"Date {started.isoformat(timespec='seconds')}; {args.rounds} round(s)"
        f"{' (quick)' if args.quick else ''}; {args.threads} threads for every implementation; "
        f"`python bench/bench_datasets.py{' --quick' if args.quick else ''}"
        f"{'' if args.quick or args.rounds == 3 else f' --rounds {args.rounds}'}`",
        f"Volumes: {'×'.join(map(str, size))} uint64 (X×Y×Z), {fmt_mib(math.prod(size) * 8)}; "
        f"64³ chunks, 8³ cseg blocks; fib25 = FIB-25 64³ chunk ({fib_source}) mirror-tiled "
        f"with per-tile label offsets; voronoi = {n_seeds} seeds, random 64-bit labels. "
        f"Sharded: identity hash, gzip data and minishard indices, "
        f"{'; '.join(notes)} ({SHARDS} shards).",
        "Times: medians (GB/s = uncompressed bytes read or written / time; boxes: "
        f"{args.boxes} of 100³ = {args.boxes * 100 ** 3 * 8 / 2 ** 20:.0f} MiB); "
        "× ts, × cv: ngcodec's speed-up, the median of per-round ratios (implementations alternate round by round). Reads are of datasets "
        "written by tensorstore (in the page cache); every read and every written dataset "
        "is checked against the source.",
        f"Peak memory: {PeakRSS.method or 'n/a'} minus the RSS before the call (process RSS, "
        "since tensorstore, cloud-volume's codecs and WebAssembly linear memory allocate "
        "outside Python's allocator, which tracemalloc sees; cloud-volume's worker "
        "processes are not counted); boxes: the largest of 5 single-box reads; writes: "
        "no output, limit 64 MiB above the source array.",
        f"cloud-volume: parallel={args.cv_parallel}, codec_threads={args.threads}, cache off "
        "(parallel=N>1 spawns N processes per call, which re-import the main module: 2 s per "
        "call here, 40 s for the 20 boxes, so its default 1 is used; its file reads run on "
        "threads either way). It writes sharded scales only one whole shard per "
        "`cv[box] = …` call, so its sharded writes run one call per shard on N threads.",
        "",
        markdown_table(rows),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
