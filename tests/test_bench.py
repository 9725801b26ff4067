"""bench/bench.py runs (quick mode) and prints every row.

No timing is asserted here: targets are for the benchmark's table.
"""


import pytest

from tests import common
from tests.common import REPO

pytestmark = [pytest.mark.slow, pytest.mark.node]

BENCH = REPO / "bench" / "bench.py"
RESULTS = ("PASS", "FAIL", "—")


def test_bench_quick_prints_every_row(tmp_path):
    keys, lines, proc, text = common.bench_rows(BENCH, tmp_path / "bench.md", min_rows=30)
    for key in keys:
        assert lines[key].rstrip().endswith(RESULTS), lines[key]
    for key in keys:  # every target reports PASS or FAIL, not an error
        if "≥" in lines[key] or "≤" in lines[key] or "no growth" in lines[key]:
            assert lines[key].rstrip().endswith(("PASS", "FAIL")), lines[key]

    assert text.startswith("# ngcodec benchmark")
    assert "Machine:" in text and "wasmtime" in text and "numpy" in text
