#!/usr/bin/env python3
"""Downsampling one 256^3 array by 2x2x2: ngcodec's ngc_downsample kernel
(ngcodec.precomputed.downsample, from Python: copies in and out included)
vs tensorstore's downsample driver over an in-memory array vs NumPy.

    python bench/bench_downsample.py [--rounds N] [--sizes 256,128]

Sizes 256^3 (the issue's case) and 128^3 (a large chunk). At 256^3 the
uint64 input is 128 MiB: the runtime drops an instance whose buffers passed
half of RETAIN_MEMORY_BYTES, so every call starts a fresh instance and
first-touches its linear memory (page faults), which costs more than the
kernel itself; the 128^3 row shows the steady state.

Cases:

- mode on a uint64 segmentation: the FIB-25 64^3 chunk mirror-tiled to
  256^3 (real labels, mostly uniform 2x2x2 blocks);
- mean on a uint8 image: smooth random noise (values do not change the
  work of a mean).

The NumPy implementations are the vectorised one-liners one would write for
2x2x2 (reshape to (..., 8), sort, count equal neighbours; sum in uint16 and
round half to even), not the tests' general reference. Every result is
checked against tensorstore's before timing. Implementations alternate
round by round; the table gives median times and the median of per-round
ratios (other / ngcodec: above 1 means ngcodec is faster).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402

import ngcodec.compressed_segmentation as cseg  # noqa: E402
from ngcodec.precomputed.downsample import downsample  # noqa: E402

FIB25 = machine.REPO / "pyhost" / "ngcodec" / "data" / "fib25_64x64x64_uint64.cseg8"


def segmentation(size):
    fib = cseg.decode(FIB25.read_bytes(), (64, 64, 64), "uint64", (8, 8, 8))[0]
    n = -(-size // 64)
    out = np.empty((n * 64,) * 3, np.uint64)
    for tz in range(n):
        for ty in range(n):
            for tx in range(n):  # mirrored tiles join without seams
                out[tz * 64:(tz + 1) * 64, ty * 64:(ty + 1) * 64, tx * 64:(tx + 1) * 64] = \
                    fib[::(-1) ** tz, ::(-1) ** ty, ::(-1) ** tx]
    return out[:size, :size, :size][np.newaxis].copy()


def image(size, seed=0):
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (size // 8 + 1,) * 3).astype(np.float32)
    smooth = coarse.repeat(8, 0).repeat(8, 1).repeat(8, 2)[:size, :size, :size]
    noisy = smooth + rng.normal(0, 12, (size,) * 3)
    return np.clip(noisy, 0, 255).astype(np.uint8)[np.newaxis]


def numpy_mode_222(a):
    c, z, y, x = a.shape
    b = a.reshape(c, z // 2, 2, y // 2, 2, x // 2, 2).transpose(0, 1, 3, 5, 2, 4, 6)
    s = np.sort(b.reshape(-1, 8), axis=1)
    counts = np.zeros(s.shape, np.uint8)
    for j in range(8):
        counts += s == s[:, j:j + 1]
    best = np.argmax(counts, axis=1)  # first of the most frequent: the smallest
    return s[np.arange(len(s)), best].reshape(c, z // 2, y // 2, x // 2)


def numpy_mean_222_u8(a):
    c, z, y, x = a.shape
    s = a.reshape(c, z // 2, 2, y // 2, 2, x // 2, 2).sum(axis=(2, 4, 6), dtype=np.uint16)
    q, r = s >> 3, s & 7
    return (q + (2 * r + (q & 1) > 8)).astype(np.uint8)


def tensorstore_downsample(a, method):
    import tensorstore as ts
    return ts.downsample(ts.array(a), [1, 2, 2, 2], method).read().result()


def measure(cases, rounds):
    """{name: [seconds per round]}; implementations rotate their order."""
    names = list(cases)
    times = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            t0 = time.perf_counter()
            cases[n]()
            times[n].append(time.perf_counter() - t0)
    return times


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--sizes", default="256,128")
    args = p.parse_args(argv)
    sizes = [int(v) - int(v) % 2 for v in args.sizes.split(",")]

    print(f"# downsample by 2x2x2, {args.rounds} rounds")
    print(f"machine: {machine.describe()}")
    print(f"ngcodec {machine.git_describe()}, tensorstore {machine.version_of('tensorstore')}, "
          f"numpy {np.__version__}")
    print()
    rows = []
    for size, label, make, method, numpy_impl in [
            (size, f"{size}^3 {label}", make, method, impl) for size in sizes
            for label, make, method, impl in (
                ("uint64 segmentation, mode", segmentation, "mode", numpy_mode_222),
                ("uint8 image, mean", image, "mean", numpy_mean_222_u8))]:
        a = make(size)
        want = tensorstore_downsample(a, method)
        for name, got in (("ngcodec", downsample(a, (2, 2, 2), method)),
                          ("numpy", numpy_impl(a))):
            if not np.array_equal(got, want):
                print(f"{label}: {name} differs from tensorstore", file=sys.stderr)
                return 1
        times = measure({"ngcodec": lambda: downsample(a, (2, 2, 2), method),
                         "tensorstore": lambda: tensorstore_downsample(a, method),
                         "numpy": lambda: numpy_impl(a)}, args.rounds)
        med = {n: statistics.median(t) for n, t in times.items()}
        ratio = {n: statistics.median(o / g for o, g in zip(times[n], times["ngcodec"]))
                 for n in ("tensorstore", "numpy")}
        mvox = a.size / 1e6
        rows.append((label, med, ratio, mvox))

    print("| case | ngcodec | tensorstore | numpy | tensorstore / ngcodec | numpy / ngcodec |")
    print("|---|---|---|---|---|---|")
    for label, med, ratio, mvox in rows:
        cells = " | ".join(f"{med[n] * 1e3:.1f} ms ({mvox / med[n]:.0f} Mvox/s)"
                           for n in ("ngcodec", "tensorstore", "numpy"))
        print(f"| {label} | {cells} | {ratio['tensorstore']:.2f}x | {ratio['numpy']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
