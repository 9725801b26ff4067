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


def test_bench_ops_quick_prints_every_row(tmp_path):
    keys, lines, proc, text = common.bench_rows(BENCH, tmp_path / "ops.md", "--tmp",
                                                str(tmp_path), min_rows=50)
    assert "WRONG ANSWER" not in proc.stderr
    for key in keys:
        line = lines[key].rstrip()
        if "≥" in line:  # every target reports PASS or FAIL with its ratio
            assert line.endswith(("PASS", "FAIL")), line
            assert "× faster" in line, line
        else:
            assert line.endswith("—"), line

    assert text.startswith("# ngcodec compressed-domain operations")
    for needle in ("Machine:", "NumPy 2 MiB copy", "wasmtime", "compressed-segmentation",
                   "| operation (target) |"):
        assert needle in text, needle

    # the temporary dataset is gone
    assert not any(p.name.startswith("ngcodec-bench-ops-") for p in tmp_path.iterdir())
