"""The shard reader's fuzzer (tests/fuzz/fuzz_shards.py) briefly (5 s) and
longer (30 s, slow), plus proof that its checks can fail: stores that give
wrong bytes, raise the wrong exception, hang or allocate too much are
caught."""

import collections
import json
import re
import subprocess
import sys
import time

import pytest

from ngcodec.precomputed.sharded import ShardedStore
from ngcodec.precomputed.storage import LocalStorage
from tests import common
from tests.fuzz import fuzz_shards as fs

pytest.importorskip("tensorstore")


def run(seconds, seed):
    result = subprocess.run([sys.executable, "-m", "tests.fuzz.fuzz_shards", "--seconds",
                             str(seconds), "--seed", str(seed)], capture_output=True, text=True,
                            cwd=common.REPO, timeout=seconds + 120)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert out.splitlines()[-1] == "PASS", out
    assert "failures: 0, harness exceptions: 0" in out, out
    counts = {k: int(v) for k, v in re.findall(r"([a-z_]+(?: [a-z]+)*) (\d+)", out)}
    # Every kind of mutation ran, and the peer answered on some chunks.
    for kind in fs.MUTATIONS:
        if kind != "gzip_garbage" or seconds > 5:
            assert re.search(rf"\b{kind} [1-9]", out), out
    assert counts["agrees"] > 0 and int(re.search(r"(\d+) cases", out).group(1)) > 20, out
    assert re.search(r"shards: [1-9]\d* sound, [1-9]\d* damaged", out), out
    return out


def test_fuzz_shards_5_seconds():
    run(5, 7)


@pytest.mark.slow
def test_fuzz_shards_30_seconds():
    out = run(30, 8)
    assert re.search(r"gzip_bomb [1-9]", out) and re.search(r"gzip_to_zlib [1-9]", out), out


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    return fs.make_seeds(3, tmp_path_factory.mktemp("seeds"))


def campaign(tmp_path, seeds, store_class, **kw):
    c = fs.Campaign.__new__(fs.Campaign)  # the seeds made once for all these tests
    c.seed, c.save_dir, c.case_seconds = 3, tmp_path, kw.get("case_seconds", 5.0)
    c.make_store = lambda root, sp: store_class(LocalStorage(root), fs.KEY, sp, limits=fs.LIMITS)
    c.peer, c.counts, c.failures, c.case = True, collections.Counter(), [], None
    c.work = tmp_path / "work"
    c.seeds = seeds
    c.parts = [fs.structure(d, sp) for sp, _, d, _ in seeds]
    return c


class WrongBytes(ShardedStore):
    def get(self, cid, stored=False):
        v = super().get(cid, stored)
        return v + b"!" if v is not None else v


class StrayException(ShardedStore):
    def check_shard(self, shard, **kw):
        raise IndexError("list index out of range")


class Hangs(ShardedStore):
    def iter_shard(self, shard, stored=False):
        time.sleep(3)
        return iter(())


class Allocates(ShardedStore):
    def get_many(self, cids, stored=False):
        blob = bytearray(fs.MEMORY_CAP + (1 << 20))  # noqa: F841 - the allocation is the point
        return super().get_many(cids, stored)


@pytest.mark.parametrize("store_class, problem", [
    (ShardedStore, None),
    (WrongBytes, r"ngcodec value, tensorstore value \(different bytes\)"),
    (StrayException, r"check_shard: unexpected IndexError"),
    (Hangs, r"iter_shard: no result within 0.5 s \(hang\)"),
    (Allocates, r"get_many: allocated \d+ bytes"),
])
def test_checker_catches_broken_stores(tmp_path, seeds, store_class, problem):
    c = campaign(tmp_path, seeds, store_class, case_seconds=0.5)
    for case in range(6):
        c.run(0, only_case=case)
    if problem is None:
        assert c.failures == [] and c.summary(0.0)[-1] == "PASS"
        return
    assert c.failures and c.summary(0.0)[-1] == "FAIL"
    saved = sorted(p for p in tmp_path.iterdir() if p.is_file())
    assert {p.suffix for p in saved} == {".shard", ".json"}, saved
    problems = [q for p in saved if p.suffix == ".json"
                for q in json.loads(p.read_text())["problems"]]
    assert any(re.search(problem, q) for q in problems), problems
