"""The adversarial driver (tests/fuzz/adversarial.py) in its quick mode:
bombs, random bytes, mutated and truncated real chunks, wrong geometry, a
tiny time budget on a large legitimate chunk, eight threads with errors
interleaved, isolation and ``ngcodec verify`` on bombs, each group in its own
subprocess with RSS and wall-clock watchdogs. It must exit 0 (only correct
results, InvalidFormatError or ResourceLimitError)."""

import subprocess
import sys

import pytest

from tests import common

pytestmark = pytest.mark.slow


def run(*args, timeout):
    """``python -m tests.fuzz.adversarial ARGS`` from the repository root."""
    return subprocess.run([sys.executable, "-m", "tests.fuzz.adversarial", *args],
                          capture_output=True, text=True, cwd=common.REPO, timeout=timeout)


def test_adversarial_quick():
    result = run("--quick", "--seed", "0", timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    lines = result.stdout.splitlines()
    assert lines[-1].startswith("PASS"), output
    for group in ("bombs", "random", "mutated", "truncated", "geometry", "time", "threads",
                  "isolation", "verify"):
        assert any(line.startswith(group + " ") for line in lines), (group, output)
    assert "0 other exceptions" in result.stdout


def test_watchdogs_catch_allocation_hang_crash_and_wrong_outcomes():
    """The script's own checks: a touched 200 MiB allocation, a hang, an
    abort and a wrong exception/result each fail their group."""
    result = run("--quick", "--seed", "0", "--groups",
                 "selftest-alloc,selftest-hang,selftest-crash,selftest-wrong", timeout=120)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "FAIL selftest-alloc: LARGE ALLOCATION: peak RSS grew" in out
    assert "FAIL selftest-hang: HANG: no result after 3.0 s" in out
    assert "FAIL selftest-crash: CRASH: killed by signal 6" in out
    assert "FAIL selftest-wrong: 2 unexpected outcome(s)" in out
    assert "unexpected exception builtins.ValueError" in out
    assert out.splitlines()[-1] == "FAIL"
