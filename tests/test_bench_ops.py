"""bench/bench_ops.py (issue 14's benchmark) runs in quick mode and prints
every row.

No timing is asserted here: targets are for the benchmark's table. A wrong
answer from either library makes the benchmark exit 1, which fails this
test.
"""


import pytest

from tests import common
from tests.common import REPO

pytestmark = pytest.mark.slow

BENCH = REPO / "bench" / "bench_ops.py"


def run(*args, timeout=600):
    return common.run_script(BENCH, *args, timeout=timeout)


def test_bench_ops_quick_prints_every_row(tmp_path):
    listed = run("--list-rows", timeout=120)
    assert listed.returncode == 0, listed.stderr
    keys = listed.stdout.split()
    assert len(keys) == len(set(keys)) > 50

    md = tmp_path / "ops.md"
    proc = run("--quick", "--markdown", str(md), "--tmp", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "WRONG ANSWER" not in proc.stderr
    assert "differ from expected_keys" not in proc.stderr

    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    printed = [line.split()[0] for line in proc.stdout.splitlines()
               if line.strip() and line.split()[0] in keys]
    assert printed == keys, "rows missing or out of order"
    for key in keys:
        line = lines[key].rstrip()
        if "≥" in line:  # every target reports PASS or FAIL with its ratio
            assert line.endswith(("PASS", "FAIL")), line
            assert "× faster" in line, line
        else:
            assert line.endswith("—"), line

    text = md.read_text(encoding="utf-8")
    assert text.startswith("# ngcodec compressed-domain operations")
    for needle in ("Machine:", "NumPy 2 MiB copy", "wasmtime", "compressed-segmentation",
                   "| operation (target) |"):
        assert needle in text, needle
    for key in keys:
        assert f"| {key} |" in text, key

    # the temporary dataset is gone
    assert not any(p.name.startswith("ngcodec-bench-ops-") for p in tmp_path.iterdir())
