#!/usr/bin/env python3
"""What the sandbox costs: FIB-25 decode/encode and a 128 MiB decode with
no limits, a memory cap only, and a memory cap plus an epoch deadline.

    python bench/sandbox_cost.py [--rounds N]

Best of N interleaved rounds; each mode keeps its instance between calls,
as in steady use. Prints the table of docs/SANDBOX.md ("What the sandbox
costs").
"""

import argparse
import sys
import time

import numpy as np

import ngcodec
from ngcodec import Limits
from ngcodec.cli import FIB25_CHUNK  # the package's copy of the FIB-25 chunk

MODES = (("limits=None", None),
         ("Limits(seconds=None) (memory cap only)", Limits(seconds=None)),
         ("Limits() (memory cap + epoch deadline)", Limits()))


def best(fn, rounds):
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=15)
    args = p.parse_args(argv)
    cseg = ngcodec.compressed_segmentation
    fib = cseg.decode(FIB25_CHUNK.read_bytes(), (64, 64, 64), "uint64", (8, 8, 8))[0]
    big = np.tile(fib, (4, 4, 4))
    buf, big_buf = cseg.encode(fib, (8, 8, 8)), cseg.encode(big, (8, 8, 8))
    calls = {
        "decode FIB-25 64³ uint64 (2 MiB)":
            lambda lim: cseg.decode(buf, (64, 64, 64), "uint64", (8, 8, 8), limits=lim),
        "encode FIB-25 64³ uint64": lambda lim: cseg.encode(fib, (8, 8, 8), limits=lim),
        "decode 256³ uint64 (FIB-25 tiled, 128 MiB)":
            lambda lim: cseg.decode(big_buf, (256, 256, 256), "uint64", (8, 8, 8), limits=lim),
    }
    print("| call | " + " | ".join(f"`{code}` {rest}".rstrip() for code, rest in
                                  (name.partition(" ")[::2] for name, _ in MODES)) + " |")
    print("|---" * (len(MODES) + 1) + "|")
    for label, call in calls.items():
        results = {name: [] for name, _ in MODES}
        for name, lim in MODES:  # warm each mode's instance
            call(lim)
        rounds = args.rounds if "128 MiB" not in label else max(3, args.rounds // 3)
        for _ in range(rounds):  # interleaved: one call of each mode per round
            for name, lim in MODES:
                results[name].append(best(lambda: call(lim), 1))
        base = min(results[MODES[0][0]])
        cells = []
        for name, _ in MODES:
            t = min(results[name])
            ratio = "" if name == MODES[0][0] else f" ({t / base:.2f}×)"
            cells.append(f"{t * 1e3:.3f} ms{ratio}")
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
