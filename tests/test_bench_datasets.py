"""bench/bench_datasets.py runs (quick mode) and prints every row.

No timing is asserted here: targets are for the benchmark's table. A wrong
read or write makes the benchmark exit 1, which fails this test.
"""


import pytest

from tests import common
from tests.common import REPO

pytestmark = pytest.mark.slow

BENCH = REPO / "bench" / "bench_datasets.py"
DATASETS = ("fib25", "voronoi")
LAYOUTS = ("unsharded_cseg", "unsharded_raw", "sharded_gzip_cseg", "sharded_gzip_raw")
OPS = ("read", "boxes", "write")


def test_bench_datasets_quick_prints_every_row(tmp_path):
    md = tmp_path / "datasets.md"
    proc = common.run_script(BENCH, "--quick", "--markdown", md, "--tmp", tmp_path,
                             timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "WRONG DATA" not in proc.stderr

    text = md.read_text(encoding="utf-8")
    assert text == proc.stdout.rstrip("\n") + "\n" or text.strip() == proc.stdout.strip()
    assert text.startswith("# ngcodec dataset benchmark")
    for needle in ("Machine:", "GB/s", "load avg", "tensorstore", "cloud-volume", "Date "):
        assert needle in text, needle

    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| key "):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows[cells[0]] = cells
    want = [f"{d}.{layout}.{op}" for d in DATASETS for layout in LAYOUTS for op in OPS]
    assert list(rows) == want
    for key, cells in rows.items():
        assert len(cells) == 12, (key, cells)
        assert cells[-1] in ("PASS", "FAIL"), (key, cells)
        for col in (7, 8, 9):  # × ts, × cv, memory: each with its verdict
            assert cells[col].endswith(("PASS", "FAIL")), (key, col, cells[col])

    # the temporary datasets are gone
    assert not any(p.name.startswith("ngcodec-bench-datasets-") for p in tmp_path.iterdir())
