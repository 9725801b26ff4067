"""bench/bench_convert.py runs (quick mode) and prints every table.

No timing is asserted here: targets are for the benchmark's tables. A wrong
scale 0 (any implementation), or Dask outputs that differ between 1 and 2
workers, make the benchmark exit 1, which fails this test.
"""


import pytest

from tests import common
from tests.common import REPO

pytestmark = pytest.mark.slow

BENCH = REPO / "bench" / "bench_convert.py"
CONVERSIONS = ("seg.cseg.unsharded", "seg.cseg.sharded", "image.jpeg.unsharded",
               "image.raw.unsharded")


def _rows(text):
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| key "):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows[cells[0]] = cells
    return rows


def test_bench_convert_quick_prints_its_tables(tmp_path):
    md = tmp_path / "convert.md"
    proc = common.run_script(BENCH, "--quick", "--markdown", md, "--tmp", tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "WRONG DATA" not in proc.stderr

    text = md.read_text(encoding="utf-8")
    assert text.strip() == proc.stdout.strip()
    assert text.startswith("# ngcodec convert benchmark")
    for needle in ("Machine:", "load avg", "tensorstore", "neuroglancer-scripts", "Date ",
                   "## Conversion time", "## Dask", "## Memory", "Checks"):
        assert needle in text, needle

    rows = _rows(text)
    for key in CONVERSIONS:
        cells = rows[key]
        assert len(cells) == 9, (key, cells)
        assert cells[-1] in ("PASS", "FAIL"), (key, cells)
        assert cells[6].endswith(("PASS", "FAIL")), (key, cells[6])
        assert "MB/s" in cells[2] and "MB/s" in cells[3], cells
    # neuroglancer-scripts ran where it is compared (not on the sharded row)
    for key in ("seg.cseg.unsharded", "image.jpeg.unsharded", "image.raw.unsharded"):
        assert rows[key][4] != "—" and rows[key][5] != "—", rows[key]
        assert rows[key][7].split()[1] in ("PASS", "FAIL"), rows[key]
    # scale 0 of every output was checked, and ngcodec's lower scales equal tensorstore's
    assert "scale 0: ngcodec = input, tensorstore = input" in text
    assert "ngcodec vs tensorstore (mode): s1: equal" in text
    assert "ngcodec vs tensorstore (mean): s1: equal" in text

    dask = rows["dask.cseg.unsharded"]
    assert dask[3].endswith(("PASS", "FAIL")) and dask[4] == "identical", dask
    for key in ("memory.unsharded", "memory.sharded"):
        assert rows[key][-1] in ("PASS", "FAIL") and "MiB" in rows[key][3], rows[key]

    # the temporary files are gone
    assert not any(p.name.startswith("ngcodec-bench-convert-") for p in tmp_path.iterdir())
