#!/usr/bin/env python3
"""compressed_segmentation as a zarr v3 codec, side by side with zarr's own
codec chains.

    python bench/bench_zarr.py [--rounds N] [--boxes N] [--quick] [--markdown FILE]

Written for issue 15 ("Speed and size"). Two 512x512x256 uint64
segmentations (--quick: 128x128x128), built as bench/bench_datasets.py
builds them:

- fib25: the FIB-25 64^3 chunk (ngcodec's bundled .cseg8, decoded),
  mirror-tiled on a grid shifted against the chunk grid, labels offset per
  tile (FIB-25-like);
- voronoi: many labels, about one per 1,700 voxels, random 64-bit labels.

Each is written as a zarr v3 array on local disk, 64^3 chunks, with:

- ``cseg``: ``ngcodec.compressed_segmentation`` (8^3 blocks) alone;
- ``cseg+zstd``: the same followed by zstd (zarr's default level);
- ``zstd``: zarr-python's default chain for uint64 (bytes + zstd);
- ``blosc-lz4``: bytes + blosc (lz4, clevel 5, byte shuffle);
- ``bytes``: bytes alone, no compression: the ceiling zarr-python's own
  per-chunk work sets for any codec;
- ``cseg sharded``, ``zstd sharded``: cseg alone, or bytes + zstd, as the
  inner codecs of ``sharding_indexed`` (256^3 shards of 64^3 inner chunks).

Measured per chain: bytes on disk (every chunk file), writing the whole
array (``z[...] = data`` into a fresh array), reading it (into one
preallocated, already touched array, ``get_basic_selection(..., out=)``: on
the VMs this was written on, first touches of fresh memory cost up to 37 us
per page in the kernel, which made a full read's time depend on the state of
the allocator more than on the codec), and
reading random 32^3 boxes (the same boxes for every chain, anywhere in the
volume; one sample = all of them, reported per box). Every read is compared
with the source. Ratios are against ``zstd`` (zarr's default): size (smaller
is better), and speed-ups (x zstd, larger is better). Files are in the page
cache when read (just written): this measures codecs and zarr, not the disk.
Chains alternate within a round; each time is the best of the rounds (the
VMs this runs on are shared: the best round is the one least disturbed by
other work; the load average is recorded).

Targets of the issue (reported, not asserted): cseg+zstd smaller than zstd;
cseg full reads >= 1.5x zstd; cseg random 32^3 box reads >= 3x zstd.
"""

import argparse
import datetime
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # machine.py and bench_datasets.py, beside this script

import zarr  # noqa: E402
from zarr.core.buffer.cpu import NDBuffer  # noqa: E402

import ngcodec  # noqa: E402
from ngcodec import compressed_segmentation as cseg  # noqa: E402
from bench_datasets import fib25_volume, voronoi_volume  # noqa: E402
from machine import describe, git_describe, load_average, version_of  # noqa: E402

BUNDLED_CSEG = Path(ngcodec.__file__).parent / "data" / "fib25_64x64x64_uint64.cseg8"
FULL_SIZE = (512, 512, 256)  # (x, y, z)
QUICK_SIZE = (128, 128, 128)
CHUNKS = (64, 64, 64)
SHARDS = (256, 256, 256)
BOX = 32
SEED = 20251215

CSEG = {"name": "ngcodec.compressed_segmentation", "configuration": {"block_shape": [8, 8, 8]}}
BYTES = {"name": "bytes", "configuration": {"endian": "little"}}
ZSTD = {"name": "zstd", "configuration": {"level": 0, "checksum": False}}
BLOSC_LZ4 = {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle",
                                                "typesize": 8, "blocksize": 0}}

# name: (serializer, compressors, shards)
CHAINS = {
    "cseg": (CSEG, None, None),
    "cseg+zstd": (CSEG, [ZSTD], None),
    "zstd": (BYTES, [ZSTD], None),
    "blosc-lz4": (BYTES, [BLOSC_LZ4], None),
    "bytes": (BYTES, None, None),
    "cseg sharded": (CSEG, None, SHARDS),
    "zstd sharded": (BYTES, [ZSTD], SHARDS),
}
REFERENCE = "zstd"


def fib25():
    a = cseg.decode(BUNDLED_CSEG.read_bytes(), (64, 64, 64), "uint64", (8, 8, 8))
    return np.asarray(a[0])


def random_boxes(shape, n, seed=SEED):
    rng = np.random.default_rng(seed)
    boxes = []
    for _ in range(n):
        lo = [int(rng.integers(0, s - BOX + 1)) for s in shape]
        boxes.append(tuple(slice(a, a + BOX) for a in lo))
    return boxes


def disk_bytes(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()
               and f.name != "zarr.json")


def create(path, data, chain):
    serializer, compressors, shards = CHAINS[chain]
    chunks = tuple(min(c, s) for c, s in zip(CHUNKS, data.shape))
    if shards is not None:
        shards = tuple(min(c, s) for c, s in zip(shards, data.shape))
    return zarr.create_array(zarr.storage.LocalStore(path), shape=data.shape, chunks=chunks,
                             shards=shards, dtype=data.dtype, serializer=serializer,
                             compressors=compressors, fill_value=0, overwrite=True)


def run_round(chain, data, boxes, root, results, out):
    path = root / chain.replace(" ", "_").replace("+", "_")
    shutil.rmtree(path, ignore_errors=True)
    z = create(path, data, chain)
    t0 = time.perf_counter()
    z[...] = data
    results["write"].append(time.perf_counter() - t0)
    results["bytes"] = disk_bytes(path)

    z = zarr.open_array(zarr.storage.LocalStore(path, read_only=True))
    out.fill(1)  # not the data; every page touched before the timing
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    z.get_basic_selection(Ellipsis, out=NDBuffer.from_numpy_array(out))
    results["read"].append(time.perf_counter() - t0)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    results["read_cpu"].append((ru1.ru_utime - ru0.ru_utime, ru1.ru_stime - ru0.ru_stime))
    if not np.array_equal(out, data):
        raise SystemExit(f"WRONG DATA: {chain}: the full read differs from the source")

    t0 = time.perf_counter()
    parts = [z[box] for box in boxes]
    results["boxes"].append(time.perf_counter() - t0)
    for box, part in zip(boxes, parts):
        if not np.array_equal(part, data[box]):
            raise SystemExit(f"WRONG DATA: {chain}: box {box} differs from the source")


def fmt_time(s):
    return f"{s * 1e3:.0f} ms" if s >= 0.1 else f"{s * 1e3:.1f} ms" if s >= 1e-3 else \
        f"{s * 1e6:.0f} µs"


def fmt_bytes(n):
    return f"{n:,}" if n < 10 << 20 else f"{n / 2 ** 20:.1f} MiB"


def verdict(ok):
    return "PASS" if ok else "FAIL"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--boxes", type=int, default=200, help="random 32^3 boxes per sample")
    ap.add_argument("--quick", action="store_true", help="128^3 volumes, 1 round, 20 boxes")
    ap.add_argument("--markdown", type=Path, help="also write the report to this file")
    ap.add_argument("--tmp", type=Path, default=None, help="where to write the arrays")
    ap.add_argument("--datasets", default="fib25,voronoi")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.boxes = 1, 20
    size = QUICK_SIZE if args.quick else FULL_SIZE
    x, y, z = size

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    volumes = {}
    for name in args.datasets.split(","):
        if name == "fib25":
            volumes[name] = (fib25_volume(fib25(), size), "FIB-25 64³ chunk mirror-tiled")
        elif name == "voronoi":
            v, n = voronoi_volume(size, os.cpu_count() or 1)
            volumes[name] = (v, f"{n} Voronoi cells, random 64-bit labels")
        else:
            raise SystemExit(f"unknown dataset {name!r}")
        log(f"{name}: {volumes[name][0].shape} {np.unique(volumes[name][0]).size} labels")

    root = Path(tempfile.mkdtemp(prefix="bench_zarr_", dir=args.tmp))
    started = datetime.datetime.now(datetime.timezone.utc)
    machine = describe()
    load_start = load_average()
    rows = []
    try:
        for name, (data, what) in volumes.items():
            boxes = random_boxes(data.shape, args.boxes)
            out = np.empty_like(data)  # full reads land here (see the module's docstring)
            res = {c: {"write": [], "read": [], "read_cpu": [], "boxes": [], "bytes": 0}
                   for c in CHAINS}
            for r in range(args.rounds):
                order = list(CHAINS)[r % len(CHAINS):] + list(CHAINS)[:r % len(CHAINS)]
                for chain in order:
                    run_round(chain, data, boxes, root, res[chain], out)
                    log(f"{name} round {r + 1}: {chain}: write {res[chain]['write'][-1]:.3f} s, "
                        f"read {res[chain]['read'][-1]:.3f} s, boxes {res[chain]['boxes'][-1]:.3f} s")
            ref = {k: min(res[REFERENCE][k]) for k in ("write", "read", "boxes")}
            for chain in CHAINS:
                m = {k: min(res[chain][k]) for k in ("write", "read", "boxes")}
                best = res[chain]["read"].index(m["read"])
                user, system = res[chain]["read_cpu"][best]
                rows.append({
                    "dataset": name, "chain": chain, "bytes": res[chain]["bytes"],
                    "size_ratio": res[chain]["bytes"] / res[REFERENCE]["bytes"],
                    "write": m["write"], "read": m["read"], "box": m["boxes"] / len(boxes),
                    "user": user, "sys": system,
                    "x_write": ref["write"] / m["write"], "x_read": ref["read"] / m["read"],
                    "x_box": ref["boxes"] / m["boxes"], "nbytes": data.nbytes,
                })
    finally:
        shutil.rmtree(root, ignore_errors=True)

    gb = lambda n, s: f"{n / s / 1e9:.2f} GB/s"  # noqa: E731
    lines = [
        "# ngcodec zarr benchmark (issue 15)",
        "",
        f"Machine: {machine}; load avg {load_start} at the start, "
        f"{load_average()} at the end",
        f"Python {sys.version.split()[0]}, numpy {np.__version__}, zarr {version_of('zarr')}, "
        f"numcodecs {version_of('numcodecs')}, wasmtime {version_of('wasmtime')}, "
        f"ngcodec {ngcodec.__version__} (wasm {'.'.join(map(str, ngcodec.wasm_version()))}), git {git_describe()}",
        f"Date {started.isoformat(timespec='seconds')}; {args.rounds} round(s), best of them; "
        f"`python bench/bench_zarr.py{' --quick' if args.quick else ''}`",
        f"Volumes: {x}×{y}×{z} uint64 (X×Y×Z), {x * y * z * 8 / 2 ** 20:.0f} MiB, as zarr v3 "
        f"arrays of shape (z, y, x) on local disk (page cache), {CHUNKS[0]}³ chunks; "
        + "; ".join(f"{n} = {w}" for n, (_, w) in volumes.items()) + ".",
        f"Chains: cseg = ngcodec.compressed_segmentation (8³ blocks); zstd = zarr's default "
        f"(bytes + zstd level 0 = its default 3); blosc-lz4 = bytes + blosc lz4 clevel 5 byte "
        f"shuffle; bytes = no compression; cseg sharded, zstd sharded = those chains inside "
        f"sharding_indexed ({SHARDS[0]}³ shards of {CHUNKS[0]}³). Full reads go into one "
        f"preallocated array (`get_basic_selection(..., out=)`); read CPU = user / system "
        f"seconds of the whole process during the best read. Boxes: {args.boxes} random 32³ "
        f"boxes, time per box.",
        f"Ratios against {REFERENCE}: size (smaller is better), × = speed-up (larger is better).",
        "",
        "| dataset | chain | bytes on disk | size vs zstd | write | read | read GB/s "
        "| read CPU user / sys | 32³ box | × zstd write | × zstd read | × zstd box |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['chain']} | {fmt_bytes(r['bytes'])} | {r['size_ratio']:.3f} "
            f"| {fmt_time(r['write'])} ({gb(r['nbytes'], r['write'])}) | {fmt_time(r['read'])} "
            f"| {gb(r['nbytes'], r['read'])} | {r['user']:.2f} / {r['sys']:.2f} s "
            f"| {fmt_time(r['box'])} | {r['x_write']:.2f}× "
            f"| {r['x_read']:.2f}× | {r['x_box']:.2f}× |")
    lines += ["", "Targets (issue 15):", ""]
    for name in volumes:
        by = {r["chain"]: r for r in rows if r["dataset"] == name}
        lines += [
            f"- {name}: cseg+zstd smaller than zstd: {by['cseg+zstd']['bytes']:,} vs "
            f"{by['zstd']['bytes']:,} bytes "
            f"({by['cseg+zstd']['size_ratio']:.2f}×) {verdict(by['cseg+zstd']['size_ratio'] < 1)}; "
            f"cseg full read ≥ 1.5× zstd: {by['cseg']['x_read']:.2f}× "
            f"{verdict(by['cseg']['x_read'] >= 1.5)}; "
            f"cseg random 32³ boxes ≥ 3× zstd: {by['cseg']['x_box']:.2f}× "
            f"{verdict(by['cseg']['x_box'] >= 3)} (bytes, no codec at all: read "
            f"{by['bytes']['x_read']:.2f}×, boxes {by['bytes']['x_box']:.2f}×)"]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
