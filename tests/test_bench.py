"""bench/bench.py runs (quick mode) and prints every row.

No timing is asserted here: targets are for the benchmark's table.
"""


import pytest

from tests import common
from tests.common import REPO

pytestmark = [pytest.mark.slow, pytest.mark.node]

BENCH = REPO / "bench" / "bench.py"
RESULTS = ("PASS", "FAIL", "—")


def run(*args, timeout=600):
    return common.run_script(BENCH, *args, timeout=timeout)


def test_bench_quick_prints_every_row(tmp_path):
    listed = run("--list-rows", timeout=120)
    assert listed.returncode == 0, listed.stderr
    keys = listed.stdout.split()
    assert len(keys) == len(set(keys)) > 30

    md = tmp_path / "bench.md"
    proc = run("--quick", "--markdown", str(md))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "differ from expected_keys" not in proc.stderr

    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    printed = [line.split()[0] for line in proc.stdout.splitlines()
               if line.strip() and line.split()[0] in keys]
    assert printed == keys, "rows missing or out of order"
    for key in keys:
        assert lines[key].rstrip().endswith(RESULTS), lines[key]
    for key in keys:  # every target reports PASS or FAIL, not an error
        if "≥" in lines[key] or "≤" in lines[key] or "no growth" in lines[key]:
            assert lines[key].rstrip().endswith(("PASS", "FAIL")), lines[key]

    text = md.read_text(encoding="utf-8")
    assert text.startswith("# ngcodec benchmark")
    assert "Machine:" in text and "wasmtime" in text and "numpy" in text
    for key in keys:
        assert f"| {key} |" in text, key
