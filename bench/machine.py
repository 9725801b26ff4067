"""What every benchmark table records about where it ran: the CPU model and
the speed of a NumPy copy of 2 MiB (these VMs change kind between sessions,
and ratios move with them), package versions and the git commit."""

import importlib.metadata
import platform
import subprocess
import time
from pathlib import Path

import numpy as np


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def copy_speed(nbytes=2 << 20, rounds=200):
    """GB/s of ``a.copy()`` for an array of *nbytes* (the median round)."""
    a = np.ones(nbytes // 8, np.uint64)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        a.copy()
        times.append(time.perf_counter() - t0)
    times.sort()
    return nbytes / times[len(times) // 2] / 1e9


def load_average():
    """The 1, 5 and 15 minute load averages, "0.52 0.61 0.70" ("n/a" where
    the system has none): the machines are shared, so tables record it."""
    import os
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def describe():
    """One line: "CPU, N logical CPUs, NumPy 2 MiB copy X GB/s"."""
    import os
    return f"{cpu_model()}, {os.cpu_count()} logical CPUs, NumPy 2 MiB copy {copy_speed():.1f} GB/s"


REPO = Path(__file__).resolve().parents[1]


def version_of(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def git_describe():
    """The checkout's short commit, with "+ uncommitted changes" if dirty."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head + (" + uncommitted changes" if dirty else "") if head else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
