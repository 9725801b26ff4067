"""The differential campaign against the .wasm's own decode paths
(tests/fuzz/fuzz_wasm.py), briefly: the SIMD row decoder (bits 1/2/4,
uint32 and uint64) and the in-place 8/16-bit path must be reached, mutated
chunks decoded, and ngcodec must agree with the spec reader on everything.
Plus proof that its checker can fail."""

import re
import subprocess
import sys

import numpy as np
import pytest

from tests import common, spec
from tests.fuzz import fuzz_wasm as fw


@pytest.mark.slow
def test_campaign_8_seconds():
    result = subprocess.run([sys.executable, "-m", "tests.fuzz.fuzz_wasm", "--seconds", "8",
                             "--seed", "5"], capture_output=True, text=True, cwd=common.REPO,
                            timeout=120)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert out.splitlines()[-1] == "PASS", out
    assert "mismatches: 0, unexpected exceptions: 0" in out, out
    assert int(re.search(r"(\d+) mutated decodes", out).group(1)) > 0, out
    simd = dict(re.findall(r"(bits\d+/uint\d+) (\d+)", re.search(r"SIMD-path blocks.*", out).group()))
    in_place = dict(re.findall(r"(bits\d+/uint\d+) (\d+)",
                               re.search(r"in-place 8/16-bit blocks.*", out).group()))
    for bits in (1, 2, 4):
        for dtype in ("uint32", "uint64"):
            assert int(simd[f"bits{bits}/{dtype}"]) > 0, out
    for bits in (8, 16):
        assert sum(int(v) for k, v in in_place.items() if k.startswith(f"bits{bits}/")) > 0, out


def test_checker_reports_wrong_results(tmp_path):
    """compare() flags a wrong array, a wrong acceptance or refusal and any
    other exception; a campaign whose "ngcodec" decoder is off by one voxel
    records the mismatch and saves the minimised input with its geometry."""
    a = np.arange(2 * 8 * 8, dtype=np.uint32).reshape(1, 2, 8, 8) % 5
    geom = ((8, 8, 2), (8, 8, 2), "uint32", 1)
    buf = spec.encode(a, geom[1])
    ref, got = fw.decode_both(fw.cseg.decode, buf, geom)
    assert fw.compare(ref, got) is None and np.array_equal(got[1], a)
    wrong = a.copy()
    wrong[0, 1, 2, 3] += 1
    assert "arrays differ" in fw.compare(ref, ("ok", wrong))
    assert fw.compare(ref, ("refused", "bad")) == "reference ok, ngcodec refused (bad)"
    assert fw.compare(("refused", "bad"), ("ok", a)) == "reference refused, ngcodec ok"
    assert "ngcodec exception" in fw.compare(ref, ("exception", "ResourceLimitError: x"))

    def off_by_one(*args):
        out = fw.cseg.decode(*args)
        out.reshape(-1)[0] += 1
        return out

    campaign = fw.Campaign(seed=0, save_dir=tmp_path, decode=off_by_one)
    campaign.case = 0
    assert campaign.check_decode(buf, geom) == "ok"
    assert campaign.counts["decode MISMATCH"] == 1 and len(campaign.failures) == 1
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved == ["decode_seed0_case0_0.bin", "decode_seed0_case0_0.json"], saved
    assert len((tmp_path / saved[0]).read_bytes()) <= len(buf)
    assert campaign.summary(0.0)[-1] == "FAIL"
