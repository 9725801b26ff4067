"""ngcodec convert on a Dask cluster (a distributed LocalCluster of two
worker processes): the same dataset as the local path, file for file, the
resume record included."""

import subprocess
import sys

import numpy as np
import pytest

import ngcodec
from tests.test_convert import check, files, labels

pytestmark = pytest.mark.slow  # a cluster of two processes


@pytest.mark.parametrize("sharded", [False, True])
def test_dask_path_gives_the_local_dataset(tmp_path, dask_cluster, sharded):
    a = labels("uint64", size=(45, 38, 29))
    np.save(tmp_path / "in.npy", a)
    options = dict(chunk_size=(8, 8, 8), sharded=sharded, progress=False)
    if sharded:
        options["shard_bytes"] = 32 << 10  # several shards, so several tasks
    ngcodec.convert(tmp_path / "in.npy", tmp_path / "local", **options)
    result = ngcodec.convert(tmp_path / "in.npy", tmp_path / "dask", dask=dask_cluster,
                             **options)
    assert result.units_done > 4
    assert files(tmp_path / "dask") == files(tmp_path / "local")
    check(tmp_path / "dask", a)


def test_dask_path_with_an_array_source_and_the_cli(tmp_path, dask_cluster):
    a = labels("uint32", size=(30, 20, 17), seed=3)
    ngcodec.convert(a, tmp_path / "local", chunk_size=(8, 8, 8), progress=False)
    ngcodec.convert(a, tmp_path / "dask", chunk_size=(8, 8, 8), progress=False,
                    dask=dask_cluster)  # the array is scattered to the workers
    assert files(tmp_path / "dask") == files(tmp_path / "local")
    np.save(tmp_path / "in.npy", a)
    p = subprocess.run([sys.executable, "-m", "ngcodec.cli", "convert", str(tmp_path / "in.npy"),
                        str(tmp_path / "cli"), "--chunk-size", "8,8,8", "--dask", dask_cluster],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    ngcodec.convert(tmp_path / "in.npy", tmp_path / "cli-local", chunk_size=(8, 8, 8),
                    progress=False)
    assert files(tmp_path / "cli") == files(tmp_path / "cli-local")
