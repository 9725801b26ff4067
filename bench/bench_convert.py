#!/usr/bin/env python3
"""``ngcodec convert`` against its peers: a volume into a multi-scale
precomputed dataset, on one machine, side by side.

    python bench/bench_convert.py [--rounds N] [--jobs N] [--quick] [--markdown FILE]
                                  [--ngs-size X,Y,Z] [--tmp DIR] [--skip PART,...]

Written for issue 12 ("Speed and memory"). Four parts:

1. segmentation: a 512x512x256 uint64 ``.npy`` (--quick: 128x128x64), the
   FIB-25 64^3 chunk (bundled, decoded) mirror-tiled on a grid shifted by
   (23, 41, 17) voxels, each tile's labels offset by ``tile << 32``, stored
   x fastest ((X, Y, Z) in Fortran order, the axes ``ngcodec convert`` takes
   for a ``.npy``), into compressed_segmentation (64^3 chunks, 8^3 blocks,
   resolution 8 nm, ngcodec's default scales: until one chunk holds the
   scale, 4 scales here), unsharded and sharded, by:

   - ngcodec: ``ngcodec.convert(npy, out, jobs=N)`` in this process;
   - tensorstore: a script in this process: scale 0 written from the
     memory-mapped ``.npy`` with the ``neuroglancer_precomputed`` driver,
     then each lower scale written from the ``downsample`` driver (method
     "mode" for segmentation, "mean" for images) on the previous scale as
     written; the scales' metadata (keys, sizes, chunking, sharding) are the
     ones ngcodec's plan makes; ``data_copy_concurrency`` and
     ``file_io_concurrency`` limited to N, no cache pool;
   - neuroglancer-scripts 1.2.0's own pipeline, its console scripts in
     subprocesses: ``volume-to-precomputed --generate-info`` (it reads NIfTI
     only, so it gets a ``.nii`` of the same array, written untimed), then
     ``generate-scales-info`` (its info extended, by this script, to
     ngcodec's number of scales where it stops earlier: it stops when the
     volume fits in two chunks), ``volume-to-precomputed --flat --no-gzip``
     (scale 0; ``--flat`` is Neuroglancer's layout; ``--no-gzip`` since the
     others write no gzip) and ``compute-scales --flat --no-gzip`` (default
     ``--downscaling-method auto``: stride for segmentation, average for
     images). Run twice: with its own codecs, and with ngcodec's
     (``ngcodec.chunk_encoding`` put in ``sys.modules`` as
     ``neuroglancer_scripts.chunk_encoding`` before its code is imported).
     It is single-threaded. When it would take too long, it runs on a
     smaller volume (--ngs-size) and its time is scaled by voxels (said in
     the table).

2. image: a 512x512x256 uint8 smooth random field (Gaussian-filtered
   noise, sigma 3, plus a little fine noise), jpeg (quality 95 everywhere)
   and raw, mean downsampling: the same three. ngcodec makes the lower
   jpeg scales from the voxels before encoding (igneous's way),
   tensorstore from the stored JPEG of the scale before, so their lower
   scales differ by JPEG's loss: the checks give each one's PSNR against
   the exact mean pyramid of the input.

   Wall times: ngcodec and tensorstore alternate round by round (median of
   --rounds, ratios = median of per-round tensorstore / ngcodec);
   neuroglancer-scripts runs once. Targets (issue 12): ngcodec >= 3x
   tensorstore and >= 20x neuroglancer-scripts, reported PASS/FAIL.

   Checks: scale 0 of every output, read with ``ngcodec.precomputed``,
   equals the input (jpeg: max |difference| and PSNR instead); every lower
   scale of ngcodec is compared voxel for voxel with tensorstore's, and
   neuroglancer-scripts' lower scales with ngcodec's and with striding of
   its own previous scale (which tells which rule it used). Wrong scale 0
   data is an error (exit status 1), never a row.

3. memory: ``ngcodec convert`` (the CLI, a child process) of a 2 GiB
   ``.npy`` (1024x1024x512 uint32 labels, the same tiling; --quick: 16 MiB)
   into compressed_segmentation, unsharded and ``--sharded``: the child's
   peak RSS from GNU ``/usr/bin/time -f %M`` (the kernel's ru_maxrss of
   its child). Target < 1 GiB. The
   file is written in --tmp and deleted afterwards.

4. Dask: ``ngcodec.convert(npy, out, dask=ADDRESS)`` of the part-1 volume
   on a ``distributed.LocalCluster`` of 2 worker processes (1 thread each)
   against one of 1 worker process (both started before timing, each
   warmed up by a small conversion); rounds alternate. Target: >= 1.6x.

Outputs are written under a new temporary directory in --tmp (default
/tmp), deleted at the end. The load average is recorded: the machine this
was written on has 2 cores that other sessions share.
"""

import argparse
import datetime
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import ngcodec
import ngcodec.precomputed as ngp
from ngcodec import compressed_segmentation as cseg

from machine import describe, git_describe, load_average as load, version_of  # bench/machine.py

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BUNDLED_CSEG = Path(ngcodec.__file__).parent / "data/fib25_64x64x64_uint64.cseg8"

FULL_SIZE = (512, 512, 256)       # (x, y, z)
QUICK_SIZE = (128, 128, 64)
MEM_SIZE = (1024, 1024, 512)      # uint32: 2 GiB
QUICK_MEM_SIZE = (256, 256, 64)   # uint32: 16 MiB
MEM_LIMIT = 1 << 30
TIME = "/usr/bin/time"  # GNU time: -f %M, the child's peak RSS in KiB
CHUNK = (64, 64, 64)
BLOCK = (8, 8, 8)
RESOLUTION = (8, 8, 8)
TILE_SHIFT = (23, 41, 17)
SEED = 20261207
JPEG_QUALITY = 95
TS_TARGET = 3.0
NGS_TARGET = 20.0
DASK_TARGET = 1.6

NG, TS, NGS, NGS_NG = "ngcodec", "tensorstore", "neuroglancer-scripts", \
    "neuroglancer-scripts + ngcodec codecs"
PARTS = ("seg", "image", "memory", "dask")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def fmt_time(s):
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def fmt_mib(n):
    return f"{n / (1 << 20):.0f} MiB"


def verdict(ok):
    return "PASS" if ok else "FAIL"


class WrongData(Exception):
    """An output's scale 0 differs from the input."""


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

def fib25():
    """The bundled FIB-25 64^3 chunk, (Z, Y, X) uint64."""
    a = cseg.decode(BUNDLED_CSEG.read_bytes(), (64, 64, 64), np.uint64, BLOCK)
    return np.asarray(a).reshape(64, 64, 64)


def seg_slab(fib, size, z0, z1, dtype):
    """Rows z0..z1 of the tiled segmentation, (z1 - z0, Y, X) of *dtype*:
    *fib* mirror-tiled (labels continuous across tiles), the tile grid
    shifted by TILE_SHIFT; uint64: label + (tile << 32); uint32: tile * 64
    + the label's index in the chunk + 1 (the chunk has 52 labels)."""
    x, y, z = size
    sx, sy, sz = TILE_SHIFT
    t = 64
    nt = [math.ceil((n + s) / t) for n, s in zip((x, y, z), TILE_SHIFT)]
    if np.dtype(dtype) == np.uint64:
        base = fib
    else:
        _, inv = np.unique(fib, return_inverse=True)
        base = (inv.reshape(fib.shape) + 1).astype(dtype)
    out = np.empty((z1 - z0, y, x), dtype)
    for tz in range(nt[2]):
        lz = tz * t - sz
        if lz + t <= z0 or lz >= z1:
            continue
        for ty in range(nt[1]):
            for tx in range(nt[0]):
                tile_id = (tz * nt[1] + ty) * nt[0] + tx
                tile = base[::(-1) ** tz, ::(-1) ** ty, ::(-1) ** tx]
                lo = [lz, ty * t - sy, tx * t - sx]
                hi_clip = (z1, y, x)
                lo_clip = (z0, 0, 0)
                src = tuple(slice(max(0, c - a), min(t, n - a))
                            for a, c, n in zip(lo, lo_clip, hi_clip))
                dst = tuple(slice(max(c, a) - c, min(a + t, n) - c)
                            for a, c, n in zip(lo, lo_clip, hi_clip))
                if np.dtype(dtype) == np.uint64:
                    out[dst] = tile[src] + np.uint64(tile_id << 32)
                else:
                    out[dst] = tile[src] + dtype(tile_id * 64)
    return out


def write_npy(path, size, dtype, slab_fn, slab=64):
    """An (X, Y, Z) Fortran-order .npy written z slab by z slab (never
    whole in memory); returns its path."""
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=tuple(size),
                                   fortran_order=True)
    zyx = mm.T
    for z0 in range(0, size[2], slab):
        z1 = min(size[2], z0 + slab)
        zyx[z0:z1] = slab_fn(z0, z1)
    mm.flush()
    del zyx, mm
    return path


def smooth_image(size, seed=SEED):
    """(Z, Y, X) uint8: Gaussian-filtered noise (sigma 3) stretched to
    about 128 +- 40, plus uniform noise of +-2."""
    from scipy.ndimage import gaussian_filter
    x, y, z = size
    rng = np.random.default_rng(seed)
    f = gaussian_filter(rng.standard_normal((z, y, x), dtype=np.float32), 3.0)
    f *= 40.0 / max(float(f.std()), 1e-6)
    f += 128.0
    f += rng.uniform(-2, 2, f.shape).astype(np.float32)
    return np.clip(np.rint(f), 0, 255).astype(np.uint8)


def write_nifti(path, xyz):
    """The same (X, Y, Z) array as NIfTI (what volume-to-precomputed reads),
    voxel size 8 nm (NIfTI is in mm)."""
    import nibabel
    affine = np.diag([r * 1e-6 for r in RESOLUTION] + [1.0])
    a = np.asarray(xyz)
    nibabel.save(nibabel.Nifti1Image(a, affine, dtype=a.dtype), str(path))
    return path


# --------------------------------------------------------------------------
# The implementations
# --------------------------------------------------------------------------

def cpu_seconds():
    """User + system CPU seconds of this process (all its threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def ngcodec_convert(npy, out, encoding, sharded, jobs, **kw):
    t0 = time.perf_counter()
    ngcodec.convert(str(npy), str(out), encoding=encoding, sharded=sharded, jobs=jobs,
                    resolution=RESOLUTION, chunk_size=CHUNK, block_size=BLOCK,
                    progress=False, **kw)
    return time.perf_counter() - t0


def timed(fn, *a, **kw):
    """(wall seconds, CPU seconds) of fn(*a, **kw) in this process."""
    c0, t0 = cpu_seconds(), time.perf_counter()
    fn(*a, **kw)
    return time.perf_counter() - t0, cpu_seconds() - c0


def ngcodec_info(npy, encoding, sharded):
    """The info (and per-scale factors) ngcodec's plan makes: what the
    tensorstore script writes."""
    from ngcodec.convert.inputs import open_source
    from ngcodec.convert.plan import make_plan
    src = open_source(str(npy))
    try:
        plan = make_plan(src, encoding=encoding, sharded=sharded, resolution=RESOLUTION,
                         chunk_size=CHUNK, block_size=BLOCK,
                         jpeg_quality=JPEG_QUALITY if encoding == "jpeg" else None)
    finally:
        if hasattr(src, "close"):
            src.close()
    return plan.info, [tuple(f) for f in plan.factors], plan.method


class TensorstoreScript:
    """Scale 0 from the .npy, then each scale from ``ts.downsample`` of the
    one before it, as written."""

    def __init__(self, jobs):
        import tensorstore as ts
        self.ts = ts
        self.jobs = jobs

    def __call__(self, npy, out, info, factors, method):
        ts = self.ts
        t0 = time.perf_counter()
        ctx = ts.Context({"data_copy_concurrency": {"limit": self.jobs},
                          "file_io_concurrency": {"limit": self.jobs},
                          "cache_pool": {"total_bytes_limit": 0}})
        src = np.load(npy, mmap_mode="r")  # (X, Y, Z), x fastest
        prev = None
        for i, s in enumerate(info["scales"]):
            sm = {"key": s["key"], "size": s["size"], "resolution": s["resolution"],
                  "voxel_offset": s["voxel_offset"], "chunk_size": s["chunk_sizes"][0],
                  "encoding": s["encoding"]}
            if "compressed_segmentation_block_size" in s:
                sm["compressed_segmentation_block_size"] = \
                    s["compressed_segmentation_block_size"]
            if s["encoding"] == "jpeg":
                sm["jpeg_quality"] = JPEG_QUALITY
            if s.get("sharding"):
                sm["sharding"] = s["sharding"]
            spec = {"driver": "neuroglancer_precomputed",
                    "kvstore": {"driver": "file", "path": str(out) + "/"},
                    "multiscale_metadata": {"type": info["type"],
                                            "data_type": info["data_type"],
                                            "num_channels": info["num_channels"]},
                    "scale_metadata": sm}
            t = ts.open(spec, create=True, open=i > 0, context=ctx).result()
            if i == 0:
                t.write(src[..., None]).result()
            else:
                fx, fy, fz = factors[i - 1]
                t.write(ts.downsample(prev, [fx, fy, fz, 1], method)).result()
            prev = t
        del src
        return time.perf_counter() - t0


# neuroglancer-scripts: its console scripts' main()s, optionally with
# ngcodec's chunk_encoding in its place. main(argv=sys.argv) binds argv at
# definition, so argv is passed explicitly.
NGS_WRAPPER = r"""
import importlib, os, sys
if os.environ.get("BENCH_NGS_CODECS") == "ngcodec":
    import neuroglancer_scripts
    import ngcodec.chunk_encoding as ce
    sys.modules["neuroglancer_scripts.chunk_encoding"] = ce
    neuroglancer_scripts.chunk_encoding = ce
mod, args = sys.argv[1], sys.argv[2:]
m = importlib.import_module("neuroglancer_scripts.scripts." + mod)
if os.environ.get("BENCH_NGS_CODECS") == "ngcodec":
    import neuroglancer_scripts.precomputed_io as pio
    assert pio.chunk_encoding is sys.modules["ngcodec.chunk_encoding"], "not swapped"
sys.exit(m.main([mod] + args))
"""


def _ngs_step(mod, args, codecs, logfile):
    env = dict(os.environ)
    env["BENCH_NGS_CODECS"] = codecs
    with open(logfile, "ab") as f:
        p = subprocess.run([sys.executable, "-c", NGS_WRAPPER, mod, *map(str, args)],
                           stdout=f, stderr=f, env=env)
    if p.returncode not in (0, 4):  # 4: "imperfect dtype" warning of --generate-info
        raise RuntimeError(f"neuroglancer-scripts {mod} {args} exited {p.returncode}; "
                           f"see {logfile}:\n" + Path(logfile).read_text()[-3000:])


def _extend_scales(info, n):
    """Adds dyadic scales (its rule for one more level) until *n*."""
    while len(info["scales"]) < n:
        last = info["scales"][-1]
        s = json.loads(json.dumps(last))
        s["resolution"] = [r * 2 for r in last["resolution"]]
        s["size"] = [-(-v // 2) for v in last["size"]]
        s["key"] = f"{min(s['resolution']):g}nm"
        info["scales"].append(s)
    return info


def ngs_pipeline(nii, out, type_, encoding, n_scales, codecs, logfile):
    """Its four steps; returns (seconds, number of scales its
    generate-scales-info chose)."""
    t0 = time.perf_counter()
    _ngs_step("volume_to_precomputed", ["--generate-info", nii, out], codecs, logfile)
    _ngs_step("generate_scales_info", ["--type", type_, "--encoding", encoding,
                                       Path(out) / "info_fullres.json", out], codecs, logfile)
    info_path = Path(out) / "info"
    info = json.loads(info_path.read_text())
    chosen = len(info["scales"])
    if chosen < n_scales:
        info_path.write_text(json.dumps(_extend_scales(info, n_scales), indent=1))
    _ngs_step("volume_to_precomputed", ["--flat", "--no-gzip", nii, out], codecs, logfile)
    _ngs_step("compute_scales", ["--flat", "--no-gzip", out], codecs, logfile)
    return time.perf_counter() - t0, chosen


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------

def read_scale(path, i):
    """(X, Y, Z) of scale *i* of the dataset at *path*."""
    v = ngp.open(str(path), i, mode="r", missing="error")
    return np.asarray(v[...])[..., 0]


def n_scales(path):
    return len(json.loads((Path(path) / "info").read_text())["scales"])


def check_scale0(path, want, what, lossy):
    got = read_scale(path, 0)
    if got.shape != want.shape:
        raise WrongData(f"{what}: scale 0 has shape {got.shape}, want {want.shape}")
    if lossy:
        d = np.abs(got.astype(np.int16) - want.astype(np.int16))
        mse = float(np.mean(d.astype(np.float64) ** 2))
        psnr = 10 * math.log10(255 ** 2 / mse) if mse else float("inf")
        if psnr < 30:
            raise WrongData(f"{what}: scale 0 PSNR {psnr:.1f} dB against the input")
        return f"max |Δ| {int(d.max())}, PSNR {psnr:.1f} dB"
    if not np.array_equal(got, want):
        raise WrongData(f"{what}: scale 0 differs from the input in "
                        f"{int(np.count_nonzero(got != want))} voxels")
    return "= input"


def compare_scales(a_path, b_path, first=1):
    """Per lower scale: (key-less index, voxels differing, voxels, max |Δ|)."""
    out = []
    for i in range(first, min(n_scales(a_path), n_scales(b_path))):
        a, b = read_scale(a_path, i), read_scale(b_path, i)
        if a.shape != b.shape:
            out.append((i, None, a.size, None))
            continue
        ne = a != b
        mx = int(np.abs(a.astype(np.int64) - b.astype(np.int64)).max()) \
            if a.dtype.itemsize < 8 else None
        out.append((i, int(np.count_nonzero(ne)), a.size, mx))
    return out


def pyramid_psnr(want_xyz, factors, *paths):
    """Per lower scale, the PSNR of each dataset's scale against the mean
    downsampling of the input itself (no JPEG between the scales)."""
    from ngcodec.precomputed.downsample import downsample
    exact = np.asarray(want_xyz)
    exact = exact[..., None] if exact.ndim == 3 else exact
    parts = []
    for i, f in enumerate(factors, 1):
        exact = downsample(np.ascontiguousarray(exact.T), f, "mean").T
        cells = []
        for p in paths:
            mse = float(np.mean((read_scale(p, i).astype(np.float64) - exact[..., 0]) ** 2))
            cells.append(f"{10 * math.log10(255 ** 2 / mse):.1f}" if mse else "inf")
        parts.append(f"s{i}: {' / '.join(cells)} dB")
    return "; ".join(parts)


def stride_check(path):
    """Per lower scale of *path*: voxels differing from its previous scale
    taken every 2nd voxel (neuroglancer-scripts' 'stride')."""
    out = []
    for i in range(1, n_scales(path)):
        prev, cur = read_scale(path, i - 1), read_scale(path, i)
        s = prev[::2, ::2, ::2][:cur.shape[0], :cur.shape[1], :cur.shape[2]]
        out.append(int(np.count_nonzero(s != cur)))
    return out


def fmt_cmp(rows):
    parts = []
    for i, ne, n, mx in rows:
        if ne is None:
            parts.append(f"s{i}: other shape")
        elif ne == 0:
            parts.append(f"s{i}: equal")
        else:
            parts.append(f"s{i}: {ne:,} of {n:,} differ ({100 * ne / n:.2f}%"
                         + (f", max |Δ| {mx}" if mx is not None else "") + ")")
    return "; ".join(parts)


# --------------------------------------------------------------------------
# Parts 1 and 2
# --------------------------------------------------------------------------

def run_conversion_case(case, root, npy, nii, ngs_nii, ngs_scale, want_xyz, type_, encoding,
                        sharded, args, ts_script, notes, run_ngs):
    """One row: ngcodec and tensorstore alternating for --rounds, then
    neuroglancer-scripts (own codecs, ngcodec's codecs) once each."""
    lossy = encoding == "jpeg"
    info, factors, method = ngcodec_info(npy, encoding, sharded)
    ns = len(info["scales"])
    d = {name: Path(root) / f"{case}-{name.split()[0]}" for name in (NG, TS)}
    times = {NG: [], TS: []}
    cpu = {NG: [], TS: []}

    def fresh(p):
        shutil.rmtree(p, ignore_errors=True)

    # warm-up (untimed): the module compiled, the .npy in the page cache
    fresh(d[NG])
    ngcodec_convert(npy, d[NG], encoding, sharded, args.jobs)
    for r in range(args.rounds):
        order = (NG, TS) if r % 2 == 0 else (TS, NG)
        for name in order:
            fresh(d[name])
            if name == NG:
                w, c = timed(ngcodec_convert, npy, d[NG], encoding, sharded, args.jobs)
            else:
                w, c = timed(ts_script, npy, d[TS], info, factors, method)
            times[name].append(w)
            cpu[name].append(c)
        log(f"  {case}: round {r + 1}/{args.rounds}: ngcodec {times[NG][-1]:.2f} s, "
            f"tensorstore {times[TS][-1]:.2f} s")
    checks = []
    checks.append(f"scale 0: ngcodec {check_scale0(d[NG], want_xyz, f'{case} ngcodec', lossy)}, "
                  f"tensorstore {check_scale0(d[TS], want_xyz, f'{case} tensorstore', lossy)}")
    if n_scales(d[NG]) != ns or n_scales(d[TS]) != ns:
        raise WrongData(f"{case}: scales: ngcodec {n_scales(d[NG])}, tensorstore "
                        f"{n_scales(d[TS])}, planned {ns}")
    checks.append(f"ngcodec vs tensorstore ({method}): {fmt_cmp(compare_scales(d[NG], d[TS]))}")
    if lossy:
        checks.append(f"ngcodec vs tensorstore, scale 0: {fmt_cmp(compare_scales(d[NG], d[TS], 0)[:1])}")
        checks.append("PSNR of each lower scale against the exact mean pyramid of the input "
                      f"(ngcodec / tensorstore): {pyramid_psnr(want_xyz, factors, d[NG], d[TS])}")

    ngs_times = {}
    if run_ngs:
        for name, codecs in ((NGS, "own"), (NGS_NG, "ngcodec")):
            p = Path(root) / f"{case}-ngs-{codecs}"
            fresh(p)
            secs, chosen = ngs_pipeline(ngs_nii, p, type_, encoding, ns, codecs,
                                        Path(root) / f"{case}-ngs-{codecs}.log")
            ngs_times[name] = secs
            log(f"  {case}: {name}: {secs:.2f} s"
                + (f" on {'x'.join(map(str, ngs_scale[1]))}" if ngs_scale[0] != 1 else ""))
            if chosen < ns:
                note = (f"neuroglancer-scripts' generate-scales-info chose {chosen} scales for "
                        f"{'x'.join(map(str, ngs_scale[1]))}; its info was extended to {ns} "
                        "(one more dyadic level each) to match ngcodec's")
                if note not in notes:
                    notes.append(note)
            if ngs_scale[0] == 1:
                checks.append(f"{name}: scale 0 "
                              f"{check_scale0(p, want_xyz, f'{case} {name}', lossy)}; vs "
                              f"ngcodec: {fmt_cmp(compare_scales(p, d[NG]))}; lower scales vs "
                              f"striding its previous scale: "
                              + ", ".join(f"s{i + 1}: {n:,} differ"
                                          for i, n in enumerate(stride_check(p))))
            else:
                want_small = np.asarray(np.load(ngs_nii.with_suffix(".npy"), mmap_mode="r"))
                checks.append(f"{name} (on {'x'.join(map(str, ngs_scale[1]))}): scale 0 "
                              f"{check_scale0(p, want_small, f'{case} {name}', lossy)}; lower "
                              f"scales vs striding its previous scale: "
                              + ", ".join(f"s{i + 1}: {n:,} differ"
                                          for i, n in enumerate(stride_check(p))))
            fresh(p)
    for p in d.values():
        fresh(p)
    return times, cpu, ngs_times, checks


def conversion_row(case, desc, times, cpu, ngs_times, ngs_scale, voxels, nbytes):
    ng = statistics.median(times[NG])
    ts_ = statistics.median(times[TS])
    x_ts = statistics.median(t / n for t, n in zip(times[TS], times[NG]))

    def cell(s, c):
        return f"{fmt_time(s)} ({nbytes / s / 1e6:.0f} MB/s; CPU {c:.2f} s)"
    row = [case, desc, cell(ng, statistics.median(cpu[NG])),
           cell(ts_, statistics.median(cpu[TS]))]
    x_ngs = []
    for name in (NGS, NGS_NG):
        if name in ngs_times:
            s = ngs_times[name] * ngs_scale[0]
            scaled = f" (×{ngs_scale[0]:g} from {'×'.join(map(str, ngs_scale[1]))})" \
                if ngs_scale[0] != 1 else ""
            row.append(f"{fmt_time(s)}{scaled}")
            x_ngs.append(s / ng)
        else:
            row.append("—")
    row.append(f"{x_ts:.2f}× {verdict(x_ts >= TS_TARGET)}")
    if x_ngs:
        row.append(f"{x_ngs[0]:.1f}× {verdict(x_ngs[0] >= NGS_TARGET)}"
                   + (f" ({x_ngs[1]:.1f}× with ngcodec codecs)" if len(x_ngs) > 1 else ""))
    else:
        row.append("—")
    ok = x_ts >= TS_TARGET and (not x_ngs or x_ngs[0] >= NGS_TARGET)
    row.append(verdict(ok))
    return row


CONV_COLUMNS = ("key", "case", "ngcodec", "tensorstore", "neuroglancer-scripts",
                "neuroglancer-scripts + ngcodec codecs", "× ts (≥ 3)", "× ngs (≥ 20)", "result")


# --------------------------------------------------------------------------
# Part 3: memory
# --------------------------------------------------------------------------

def child_peak_rss(argv):
    """(seconds, peak RSS in bytes, returncode, stderr) of a child process:
    ``/usr/bin/time -f %M`` (its child's ru_maxrss from wait4). Not this
    process's own wait4: a child forked from here starts with this
    process's high-water mark (Linux carries it across fork and exec), so
    it would report at least the benchmark's own RSS."""
    with tempfile.TemporaryDirectory() as d:
        report = Path(d) / "time.txt"
        t0 = time.perf_counter()
        with tempfile.TemporaryFile() as err:
            p = subprocess.run([TIME, "-f", "%M", "-o", str(report)] + argv,
                               stdout=subprocess.DEVNULL, stderr=err)
            secs = time.perf_counter() - t0
            err.seek(0)
            text = err.read().decode(errors="replace")
        lines = report.read_text().split()
    return secs, int(lines[-1]) * 1024, p.returncode, text


def run_memory(root, size, fib):
    nbytes = math.prod(size) * 4
    free = shutil.disk_usage(root).free
    if free < 3 * nbytes:
        raise RuntimeError(f"{root}: {free / 2 ** 30:.1f} GiB free, the memory part needs "
                           f"{3 * nbytes / 2 ** 30:.1f} GiB")
    npy = Path(root) / "mem-input.npy"
    t0 = time.perf_counter()
    write_npy(npy, size, np.uint32, lambda z0, z1: seg_slab(fib, size, z0, z1, np.uint32))
    log(f"memory: {npy} ({nbytes / 2 ** 30:.2f} GiB) written in {time.perf_counter() - t0:.1f} s")
    rows = []
    try:
        for sharded in (False, True):
            out = Path(root) / f"mem-{'sharded' if sharded else 'unsharded'}"
            argv = [sys.executable, "-c", "import sys; from ngcodec.cli import main; "
                    "sys.exit(main())", "convert", str(npy), str(out), "--no-progress",
                    "--resolution", "8,8,8"] + (["--sharded"] if sharded else [])
            la = load()
            secs, peak, rc, err = child_peak_rss(argv)
            if rc != 0:
                raise RuntimeError(f"ngcodec convert exited {rc}: {err[-3000:]}")
            ns = n_scales(out)
            stored = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
            log(f"memory: {'sharded' if sharded else 'unsharded'}: {secs:.1f} s, peak RSS "
                f"{fmt_mib(peak)}")
            rows.append([f"memory.{'sharded' if sharded else 'unsharded'}",
                         f"{'×'.join(map(str, size))} uint32 .npy ({nbytes / 2 ** 30:.2f} GiB) "
                         f"→ {ns} scales cseg{', sharded' if sharded else ''} "
                         f"({stored / 2 ** 20:.0f} MiB written)",
                         fmt_time(secs), fmt_mib(peak), la,
                         f"{verdict(peak < MEM_LIMIT)}"])
            shutil.rmtree(out, ignore_errors=True)
    finally:
        npy.unlink(missing_ok=True)
    return rows


MEM_COLUMNS = ("key", "conversion (`ngcodec convert`, defaults: --jobs 2, --memory 512M)",
               "wall time", "peak RSS (< 1 GiB)", "load avg before", "result")


# --------------------------------------------------------------------------
# Part 4: Dask
# --------------------------------------------------------------------------

def run_dask(root, npy, small_npy, rounds):
    import logging
    from distributed import LocalCluster
    logging.getLogger("distributed").setLevel(logging.ERROR)
    clusters = {}
    rows = []
    times = {1: [], 2: []}
    loads = [load()]
    try:
        for n in (1, 2):
            clusters[n] = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
        for n, c in clusters.items():  # warm-up: every worker compiles the module
            out = Path(root) / f"dask-warm-{n}"
            ngcodec.convert(str(small_npy), str(out), dask=c.scheduler_address,
                            progress=False, resolution=RESOLUTION)
            shutil.rmtree(out, ignore_errors=True)
        for r in range(rounds):
            for n in ((1, 2) if r % 2 == 0 else (2, 1)):
                out = Path(root) / f"dask-{n}"
                shutil.rmtree(out, ignore_errors=True)
                t0 = time.perf_counter()
                ngcodec.convert(str(npy), str(out), dask=clusters[n].scheduler_address,
                                progress=False, resolution=RESOLUTION, chunk_size=CHUNK,
                                block_size=BLOCK)
                times[n].append(time.perf_counter() - t0)
            log(f"  dask round {r + 1}/{rounds}: 1 worker {times[1][-1]:.2f} s, 2 workers "
                f"{times[2][-1]:.2f} s (load {load()})")
            loads.append(load())
        # reference: the local path (threads, no Dask), jobs=1 against jobs=2
        local = {1: [], 2: []}
        for r in range(rounds):
            for n in ((1, 2) if r % 2 == 0 else (2, 1)):
                out = Path(root) / f"local-{n}"
                shutil.rmtree(out, ignore_errors=True)
                local[n].append(ngcodec_convert(npy, out, "compressed_segmentation", False, n))
                shutil.rmtree(out, ignore_errors=True)
        loads.append(load())
        # the two outputs are the same files
        a, b = Path(root) / "dask-1", Path(root) / "dask-2"
        fa = {p.relative_to(a): p.read_bytes() for p in a.rglob("*") if p.is_file()}
        fb = {p.relative_to(b): p.read_bytes() for p in b.rglob("*") if p.is_file()}
        same = fa == fb
    finally:
        for c in clusters.values():
            c.close()
        for n in (1, 2):
            shutil.rmtree(Path(root) / f"dask-{n}", ignore_errors=True)
    speedup = statistics.median(t1 / t2 for t1, t2 in zip(times[1], times[2]))
    t1, t2 = statistics.median(times[1]), statistics.median(times[2])
    rows.append(["dask.cseg.unsharded", fmt_time(t1), fmt_time(t2),
                 f"{speedup:.2f}× {verdict(speedup >= DASK_TARGET)}",
                 "identical" if same else "DIFFERENT FILES", " → ".join(loads)])
    sp = statistics.median(a / b for a, b in zip(local[1], local[2]))
    rows.append(["local.cseg.unsharded (reference: threads, no Dask; jobs=1 / jobs=2)",
                 fmt_time(statistics.median(local[1])), fmt_time(statistics.median(local[2])),
                 f"{sp:.2f}× (no target)", "—", "—"])
    return rows, same


DASK_COLUMNS = ("key", "1 worker process", "2 worker processes", "speed-up (≥ 1.6)",
                "outputs", "load avg (start → after each round)")


# --------------------------------------------------------------------------

def markdown_table(columns, rows):
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        out.append("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
    return "\n".join(out)


def _size(text):
    v = tuple(int(p) for p in text.replace("x", ",").split(","))
    if len(v) != 3 or min(v) < 1:
        raise argparse.ArgumentTypeError(f"expected X,Y,Z, got {text!r}")
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3,
                    help="timed rounds of ngcodec and tensorstore, and of the Dask part "
                         "(default: %(default)s)")
    ap.add_argument("--jobs", type=int, default=2,
                    help="ngcodec's jobs= and tensorstore's concurrency limits "
                         "(default: %(default)s)")
    ap.add_argument("--quick", action="store_true",
                    help=f"{'x'.join(map(str, QUICK_SIZE))} volumes, 1 round, a 16 MiB memory "
                         "case: a smoke test, its times mean little")
    ap.add_argument("--ngs-size", type=_size, metavar="X,Y,Z",
                    help="run neuroglancer-scripts on a volume of this size (the same tiling "
                         "or field) and scale its times by voxels (default: the full size)")
    ap.add_argument("--skip", default="",
                    help=f"comma-separated parts to skip ({', '.join(PARTS)}; 'ngs' skips "
                         "neuroglancer-scripts)")
    ap.add_argument("--markdown", metavar="FILE", help="also write the report there")
    ap.add_argument("--tmp", default="/tmp", help="where everything is written (a new "
                    "directory, deleted at the end; default: %(default)s)")
    args = ap.parse_args()
    skip = {s for s in args.skip.split(",") if s}
    if skip - set(PARTS) - {"ngs"}:
        ap.error(f"--skip: unknown part(s) {', '.join(sorted(skip - set(PARTS) - {'ngs'}))}")
    if args.quick:
        args.rounds = 1
    if min(args.rounds, args.jobs) < 1:
        ap.error("--rounds and --jobs must be >= 1")
    size = QUICK_SIZE if args.quick else FULL_SIZE
    ngs_size = args.ngs_size or size
    ngs_factor = math.prod(size) / math.prod(ngs_size)
    ngs_scale = (ngs_factor, ngs_size)

    started = datetime.datetime.now().astimezone()
    load_start = load()
    machine = describe()
    root = Path(tempfile.mkdtemp(prefix="ngcodec-bench-convert-", dir=args.tmp))
    fib = fib25()
    ts_script = TensorstoreScript(args.jobs)
    conv_rows, checks, notes, mem_rows, dask_rows = [], [], [], [], []
    failed = None
    n_default = "?"
    try:
        # ---- data
        t0 = time.perf_counter()
        seg_npy = write_npy(root / "seg.npy", size, np.uint64,
                            lambda z0, z1: seg_slab(fib, size, z0, z1, np.uint64))
        seg = np.load(seg_npy, mmap_mode="r")
        n_default = len(ngcodec_info(seg_npy, "compressed_segmentation", False)[0]["scales"])
        seg_nii = root / "seg.nii"
        ngs_seg_nii = root / "seg-ngs.nii"
        run_ngs = "ngs" not in skip
        if "seg" not in skip and run_ngs:
            if ngs_factor == 1:
                write_nifti(seg_nii, seg)
                ngs_seg_nii = seg_nii
            else:
                small = write_npy(root / "seg-ngs.npy", ngs_size, np.uint64,
                                  lambda z0, z1: seg_slab(fib, ngs_size, z0, z1, np.uint64))
                write_nifti(ngs_seg_nii, np.load(small))
        img_zyx = smooth_image(size) if "image" not in skip else None
        if img_zyx is not None:
            img_npy = root / "img.npy"
            np.save(img_npy, img_zyx.T)  # (X, Y, Z), Fortran order
            img = img_zyx.T
            img_nii = root / "img.nii"
            ngs_img_nii = img_nii
            if run_ngs:
                write_nifti(img_nii, img)
                if ngs_factor != 1:
                    small = smooth_image(ngs_size).T
                    ngs_img_nii = root / "img-ngs.nii"
                    np.save(root / "img-ngs.npy", small)
                    write_nifti(ngs_img_nii, small)
        log(f"data: {time.perf_counter() - t0:.1f} s")

        # ---- parts 1 and 2
        cases = []
        if "seg" not in skip:
            cases += [("seg.cseg.unsharded", "segmentation uint64 → compressed_segmentation, "
                       "mode", seg_npy, seg_nii, ngs_seg_nii, seg, "segmentation",
                       "compressed_segmentation", False, run_ngs),
                      ("seg.cseg.sharded", "the same, sharded (ngcodec's proposal; "
                       "tensorstore the same spec)", seg_npy, seg_nii, ngs_seg_nii, seg,
                       "segmentation", "compressed_segmentation", True, False)]
        if img_zyx is not None:
            cases += [("image.jpeg.unsharded", "image uint8 → jpeg (quality 95), mean",
                       img_npy, img_nii, ngs_img_nii, img, "image", "jpeg", False, run_ngs),
                      ("image.raw.unsharded", "image uint8 → raw, mean", img_npy, img_nii,
                       ngs_img_nii, img, "image", "raw", False, run_ngs)]
        for (case, desc, npy, nii, ngs_nii, want, type_, encoding, sharded, do_ngs) in cases:
            la = load()
            times, cpu, ngs_times, cks = run_conversion_case(
                case, root, npy, nii, ngs_nii, ngs_scale, np.asarray(want), type_, encoding,
                sharded, args, ts_script, notes, do_ngs)
            w = np.dtype(np.asarray(want[:1, :1, :1]).dtype).itemsize
            conv_rows.append(conversion_row(case, desc, times, cpu, ngs_times, ngs_scale,
                                            math.prod(size), math.prod(size) * w))
            checks.append((case, la, cks))

        # ---- part 4 (before the memory part frees the page cache of its 2 GiB)
        if "dask" not in skip:
            small = write_npy(root / "dask-warm.npy", (128, 128, 64), np.uint64,
                              lambda z0, z1: seg_slab(fib, (128, 128, 64), z0, z1, np.uint64))
            dask_rows, same = run_dask(root, seg_npy, small, args.rounds)
            if not same:
                raise WrongData("dask: 1 and 2 workers wrote different files")
        del seg
        # ---- part 3
        if "memory" not in skip:
            mem_rows = run_memory(root, QUICK_MEM_SIZE if args.quick else MEM_SIZE, fib)
    except WrongData as e:
        failed = e
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if failed is not None:
        print(f"bench_convert.py: WRONG DATA: {failed}", file=sys.stderr)
        return 1

    cmd = "python bench/bench_convert.py" + " ".join(
        [""] + (["--quick"] if args.quick else [])
        + ([f"--rounds {args.rounds}"] if not args.quick and args.rounds != 3 else [])
        + ([f"--ngs-size {','.join(map(str, args.ngs_size))}"] if args.ngs_size else [])
        + ([f"--skip {args.skip}"] if args.skip else []))
    lines = [
        "# ngcodec convert benchmark (issue 12)",
        "",
        f"Machine: {machine}; load avg {load_start} at start, {load()} at the end",
        f"Python {platform.python_version()}, numpy {np.__version__}, wasmtime "
        f"{version_of('wasmtime')}, tensorstore {version_of('tensorstore')}, "
        f"neuroglancer-scripts {version_of('neuroglancer-scripts')}, distributed "
        f"{version_of('distributed')}, ngcodec {ngcodec.__version__} "
        f"(wasm {'.'.join(map(str, ngcodec.wasm_version()))}), git {git_describe()}",
        f"Date {started.isoformat(timespec='seconds')}; {args.rounds} round(s)"
        f"{' (quick)' if args.quick else ''}; `{cmd}`",
        f"Volumes: {'×'.join(map(str, size))} (X×Y×Z) `.npy`, x fastest; segmentation uint64 "
        f"({math.prod(size) * 8 / 2 ** 20:.0f} MiB: FIB-25 64³ chunk mirror-tiled, per-tile "
        f"labels), image uint8 ({math.prod(size) / 2 ** 20:.0f} MiB: smoothed noise). "
        "64³ chunks, 8³ cseg blocks, resolution 8 nm, every implementation writes "
        "ngcodec's default scales (until one chunk holds the scale: "
        f"{n_default} here), "
        "factors 2×2×2, no gzip.",
        f"ngcodec: `ngcodec.convert(npy, out, jobs={args.jobs})` in this process (warmed up by "
        f"one untimed run); tensorstore: its `neuroglancer_precomputed` driver writes scale 0 "
        f"from the memory-mapped `.npy`, then each scale from `ts.downsample(previous, "
        f"method)` (mode / mean), concurrency limits {args.jobs}, in this process; both "
        "alternate round by round, times are medians, × ts is the median of per-round "
        "ratios. neuroglancer-scripts (single-threaded, once): `volume-to-precomputed "
        "--generate-info`, `generate-scales-info`, `volume-to-precomputed --flat --no-gzip`, "
        "`compute-scales --flat --no-gzip` as subprocesses from a NIfTI copy of the same "
        "array (written untimed: it reads NIfTI only), with its own codecs and with "
        "`ngcodec.chunk_encoding` swapped in for `neuroglancer_scripts.chunk_encoding`; "
        "× ngs is neuroglancer-scripts' time (own codecs) / ngcodec's, in parentheses "
        "neuroglancer-scripts with ngcodec's codecs / ngcodec's. CPU: user + system seconds "
        "of this process during the run (the machine is shared: CPU time is steadier than "
        "wall time under load).",
    ]
    for n in notes:
        lines.append(f"Note: {n}.")
    if conv_rows:
        lines += ["", "## Conversion time", "", markdown_table(CONV_COLUMNS, conv_rows), "",
                  "Checks (every scale read back with `ngcodec.precomputed`; s1, s2… are the "
                  "lower scales):", ""]
        for case, la, cks in checks:
            lines.append(f"- **{case}** (load avg before: {la}):")
            for c in cks:
                lines.append(f"  - {c}")
    if dask_rows:
        lines += ["", "## Dask", "",
                  f"`ngcodec.convert(npy, out, dask=address)` of the {'×'.join(map(str, size))} "
                  f"uint64 segmentation ({n_default} scales, unsharded) on a `distributed.LocalCluster` "
                  "of worker processes with 1 thread each; both clusters run during the timing "
                  f"(the idle one waits), rounds alternate, medians of {args.rounds}; "
                  "the speed-up is the median of per-round ratios. The machine has "
                  f"{os.cpu_count()} logical CPUs.", "",
                  markdown_table(DASK_COLUMNS, dask_rows)]
    if mem_rows:
        lines += ["", "## Memory", "",
                  "Peak resident memory of the `ngcodec convert` child process (GNU "
                  "`/usr/bin/time -f %M`: the kernel's high-water mark of its RSS; the input is read "
                  "with `preadv`, not mapped, so none of it is file pages of the input).", "",
                  markdown_table(MEM_COLUMNS, mem_rows)]
    lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
