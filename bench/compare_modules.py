#!/usr/bin/env python3
"""Side-by-side speed of two builds of ngcodec.wasm: compressed_segmentation
decode and encode, timed inside each module.

    python bench/compare_modules.py OLD.wasm NEW.wasm [--rounds N]

Each module gets its own wasmtime Store and Instance (wasmtime-py's public
API only: Engine, Store, Module, Instance, exported Func calls). Inputs are
written to each module's linear memory once, before timing, so host copies
are not measured; what is measured is a batch of back-to-back calls of
ngc_cseg_decode or ngc_cseg_encode (wasmtime-py's per-call overhead is
included and is the same for both modules). Rounds alternate which module
goes first; each row reports the median time per call of each module over
the rounds, and the median and interquartile range of the per-round ratios
new / old (below 1: the new module is faster). Every output is checked: the
decodes against the labels, the encodes by decoding them back.

Chunks (64^3 voxels, 8^3 blocks): the FIB-25 segmentation of
../shared/data (uint64, and the same labels as uint32), a Voronoi-like
volume of many labels (each voxel labelled by the nearest of 2,000 random
seeds, random 64-bit or 32-bit labels), and noise of 100 labels (8-bit
blocks).

Written for issue 10 (the C split into cseg_decode.c / cseg_encode.c /
simd.h): `git show a1b1e05:pyhost/ngcodec/web/ngcodec.wasm > /tmp/old.wasm`.
"""

import argparse
import datetime
import statistics
import struct
import time
from pathlib import Path

import numpy as np
import wasmtime

from machine import describe  # bench/machine.py, beside this script

REPO = Path(__file__).resolve().parents[1]
FIB25 = [REPO.parent / "shared" / "data" / "fib25_64x64x64_uint64.dat"]
FIB25_CSEG = REPO / "pyhost" / "ngcodec" / "data" / "fib25_64x64x64_uint64.cseg8"
BLOCK = (8, 8, 8)
CHUNK_STRUCT = 40  # ngc_chunk: size[3], num_channels, value_bytes, block_size[3], fail_*


class Module:
    """One instance of one .wasm, with its own buffers in linear memory."""

    def __init__(self, path, engine):
        self.path = path
        self.store = wasmtime.Store(engine)
        module = wasmtime.Module(engine, Path(path).read_bytes())
        instance = wasmtime.Instance(self.store, module, [])
        ex = instance.exports(self.store)
        self.memory = ex["memory"]
        self.malloc, self.free = ex["malloc"], ex["free"]
        self.decode = ex["ngc_cseg_decode"]
        self.encode = ex["ngc_cseg_encode"]
        self.bound = ex["ngc_cseg_encode_bound"]
        self.error_name = ex["ngc_error_name"]
        ex["_initialize"](self.store)
        self.chunk = self.alloc(CHUNK_STRUCT)
        self.ret = self.alloc(4)

    def alloc(self, n):
        p = self.malloc(self.store, max(n, 1))
        if p == 0:
            raise MemoryError(f"{self.path}: malloc({n}) failed")
        return p

    def write(self, ptr, data):
        self.memory.write(self.store, bytes(data), ptr)

    def read(self, ptr, n):
        return self.memory.read(self.store, ptr, ptr + n)

    def check(self, status, what):
        if status != 0:
            p = self.error_name(self.store, status)
            name = self.read(p, 40).split(b"\0")[0].decode()
            raise RuntimeError(f"{self.path}: {what} returned {name}")

    def set_chunk(self, labels):
        z, y, x = labels.shape
        self.write(self.chunk, struct.pack("<10I", x, y, z, 1, labels.itemsize, *BLOCK,
                                           0xFFFFFFFF, 0xFFFFFFFF))

    def bound_of(self, labels):
        self.set_chunk(labels)
        self.check(self.bound(self.store, self.chunk, self.ret), "ngc_cseg_encode_bound")
        return struct.unpack("<I", self.read(self.ret, 4))[0]


class Case:
    """One row: a module's buffers for one chunk, decode or encode."""

    def __init__(self, mod, op, labels, encoded):
        self.mod, self.op, self.labels = mod, op, labels
        raw = labels.tobytes()
        self.raw_size = len(raw)
        if op == "decode":
            self.src_size = len(encoded)
            self.src = mod.alloc(self.src_size)
            mod.write(self.src, encoded)
            self.dst_cap = self.raw_size
        else:
            self.src_size = self.raw_size
            self.src = mod.alloc(self.src_size)
            mod.write(self.src, raw)
            self.dst_cap = mod.bound_of(labels)
        self.dst = mod.alloc(self.dst_cap)
        # A scratch decode target for checking encodes.
        self.check_dst = mod.alloc(self.raw_size) if op == "encode" else None

    def run(self, n):
        """n calls; returns seconds per call."""
        m, store = self.mod, self.mod.store
        m.set_chunk(self.labels)
        f = m.decode if self.op == "decode" else m.encode
        args = ((m.chunk, self.src, self.src_size, self.dst, self.dst_cap) if self.op == "decode"
                else (m.chunk, self.src, self.src_size, self.dst, self.dst_cap, m.ret))
        t0 = time.perf_counter()
        for _ in range(n):
            status = f(store, *args)
        t = time.perf_counter() - t0
        m.check(status, f"ngc_cseg_{self.op}")
        return t / n

    def verify(self):
        m = self.mod
        m.set_chunk(self.labels)
        if self.op == "decode":
            m.check(m.decode(m.store, m.chunk, self.src, self.src_size, self.dst, self.dst_cap),
                    "ngc_cseg_decode")
            out = self.read_labels(self.dst)
        else:
            m.check(m.encode(m.store, m.chunk, self.src, self.src_size, self.dst, self.dst_cap,
                             m.ret), "ngc_cseg_encode")
            size = struct.unpack("<I", m.read(m.ret, 4))[0]
            m.check(m.decode(m.store, m.chunk, self.dst, size, self.check_dst, self.raw_size),
                    "ngc_cseg_decode of the encoded chunk")
            out = self.read_labels(self.check_dst)
        if not np.array_equal(out, self.labels):
            raise RuntimeError(f"{m.path}: {self.op} gives wrong labels")

    def read_labels(self, ptr):
        data = self.mod.read(ptr, self.raw_size)
        return np.frombuffer(data, self.labels.dtype).reshape(self.labels.shape)


def fib25():
    for path in FIB25:
        if path.exists():
            return np.fromfile(path, "<u8").reshape(64, 64, 64)
    raise SystemExit(f"compare_modules.py: FIB-25 chunk not found at {FIB25[0]}")


def voronoi(seeds=2000, seed=10):
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, 64, size=(seeds, 3))
    grid = np.stack(np.meshgrid(np.arange(64), np.arange(64), np.arange(64), indexing="ij"),
                    axis=-1).reshape(-1, 3) + 0.5
    nearest = np.empty(len(grid), np.int64)
    for i in range(0, len(grid), 4096):  # brute force in slices: bounded memory
        d = ((grid[i:i + 4096, None, :] - points[None, :, :]) ** 2).sum(axis=-1)
        nearest[i:i + 4096] = d.argmin(axis=1)
    labels = rng.integers(1, 2**63, size=seeds, dtype=np.uint64)
    return labels[nearest].reshape(64, 64, 64)


def noise(count=100, seed=11):
    rng = np.random.default_rng(seed)
    labels = rng.integers(1, 2**63, size=count, dtype=np.uint64)
    return labels[rng.integers(0, count, size=64**3)].reshape(64, 64, 64)


def as_uint32(labels):
    """The same segmentation with 32-bit labels: the labels themselves when
    they fit (FIB-25's do), else each distinct label mapped to a distinct
    32-bit one."""
    if int(labels.max()) < 2**32:
        return labels.astype("<u4")
    _, inverse = np.unique(labels, return_inverse=True)
    mixed = (inverse.astype(np.uint64) * np.uint64(0x9E3779B1)) & np.uint64(0xFFFFFFFF)
    out = mixed.astype("<u4").reshape(labels.shape)
    assert len(np.unique(out)) == len(np.unique(labels))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old", help="the baseline .wasm")
    ap.add_argument("new", help="the .wasm to compare with it")
    ap.add_argument("--rounds", type=int, default=15, help="rounds (default: %(default)s)")
    ap.add_argument("--min-time", type=float, default=0.02,
                    help="seconds per timed batch (default: %(default)s)")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be >= 1")

    engine = wasmtime.Engine()
    mods = [Module(args.old, engine), Module(args.new, engine)]

    fib = fib25()
    vor = voronoi()
    chunks = [("FIB-25 uint64", fib.astype("<u8")), ("FIB-25 uint32", as_uint32(fib)),
              ("Voronoi 2000 uint64", vor.astype("<u8")), ("Voronoi 2000 uint32", as_uint32(vor)),
              ("noise 100 labels uint64", noise().astype("<u8")),
              ("noise 100 labels uint32", as_uint32(noise()))]

    rows = []  # (name, [old case, new case], batch size)
    for name, labels in chunks:
        # The decode input is the same bytes for both modules: the committed
        # FIB-25 encoding, otherwise the old module's encoding.
        if name == "FIB-25 uint64" and FIB25_CSEG.exists():
            encoded = FIB25_CSEG.read_bytes()
        else:
            enc = Case(mods[0], "encode", labels, None)
            enc.verify()
            size = struct.unpack("<I", mods[0].read(mods[0].ret, 4))[0]
            encoded = mods[0].read(enc.dst, size)
        for op in ("decode", "encode"):
            cases = [Case(m, op, labels, encoded) for m in mods]
            for c in cases:
                c.verify()
            per_call = min(c.run(3) for c in cases)
            batch = max(1, int(args.min_time / per_call))
            rows.append((f"{op} {name}", cases, batch))

    times = {name: ([], []) for name, _, _ in rows}
    ratios = {name: [] for name, _, _ in rows}
    for r in range(args.rounds):
        for name, cases, batch in rows:
            order = (0, 1) if r % 2 == 0 else (1, 0)
            t = [0.0, 0.0]
            for i in order:
                t[i] = cases[i].run(batch)
            times[name][0].append(t[0])
            times[name][1].append(t[1])
            ratios[name].append(t[1] / t[0])

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"### ngc_cseg_decode / ngc_cseg_encode: {Path(args.old).name} (old) vs "
          f"{Path(args.new).name} (new)\n")
    print(f"{describe()}, {when}; wasmtime-py, 64^3 voxels, 8^3 blocks, "
          f"{args.rounds} rounds (old/new order alternating), median per call\n")
    print("| row | old µs | new µs | new/old (median of rounds) | IQR of ratios |")
    print("|---|---:|---:|---:|---:|")
    for name, _, batch in rows:
        old_t, new_t = times[name]
        rs = sorted(ratios[name])
        q = statistics.quantiles(rs, n=4) if len(rs) >= 2 else [rs[0], rs[0], rs[0]]
        print(f"| {name} | {statistics.median(old_t) * 1e6:.1f} | "
              f"{statistics.median(new_t) * 1e6:.1f} | {statistics.median(rs):.3f} | "
              f"{q[0]:.3f}-{q[2]:.3f} |")


if __name__ == "__main__":
    main()
