"""ngcodec.dask: scales as Dask arrays, read and written on the threaded,
multiprocessing and distributed schedulers (a LocalCluster of two worker
processes). What Dask writes must be the dataset that Volume writes, file for
file."""

import importlib
import sys

import dask
import numpy as np
import pytest
from distributed import Client

import ngcodec
import ngcodec.dask as nd
import ngcodec.precomputed as ngp
from ngcodec.precomputed.sharded import propose_sharding
from tests import common

MURMUR = {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 2,
          "hash": "murmurhash3_x86_128", "minishard_bits": 1, "shard_bits": 2,
          "minishard_index_encoding": "gzip", "data_encoding": "gzip"}


def _info(layout, dtype="uint64", encoding="compressed_segmentation"):
    scale = {"key": "s0", "size": [80, 90, 100], "resolution": [8, 8, 8],
             "voxel_offset": [3, -2, 5], "chunk_sizes": [[16, 16, 16]], "encoding": encoding}
    if encoding == "compressed_segmentation":
        scale["compressed_segmentation_block_size"] = [8, 8, 8]
    if layout == "murmurhash":
        scale["sharding"] = MURMUR
    elif layout == "proposed":
        scale["sharding"] = propose_sharding(scale, dtype, 1, target_shard_bytes=1 << 20)
    return {"type": "segmentation", "data_type": dtype, "num_channels": 1, "scales": [scale]}


def _labels():
    return np.ascontiguousarray(np.tile(common.fib25(), (2, 2, 2))[:100, :90, :80].T)  # X Y Z


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def cluster(dask_cluster):
    with Client(dask_cluster) as client:  # the default scheduler while it lives
        yield client


LAYOUTS = ["unsharded", "murmurhash", "proposed"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_from_precomputed_reads_the_scale_on_its_grid(layout, tmp_path):
    vol = ngp.create(tmp_path / "d", _info(layout)).scale(0)
    a = _labels()
    vol[...] = a
    x = nd.from_precomputed(tmp_path / "d")
    assert x.shape == (80, 90, 100, 1) and x.dtype == np.uint64
    block = nd.block_shape(vol)
    for axis in range(3):  # every block boundary is a chunk (or cell) boundary
        assert all(c % vol.chunk_size[axis] == 0 for c in x.chunks[axis][:-1])
        assert x.chunks[axis][0] == block[axis]
    assert np.array_equal(x.compute()[..., 0], a)
    assert np.array_equal(x[7:50, 3:33, 60:99].compute()[..., 0], a[7:50, 3:33, 60:99])


@pytest.mark.slow
@pytest.mark.parametrize("scheduler", ["threads", "processes", "distributed"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_to_precomputed_writes_what_volume_writes(layout, scheduler, tmp_path, request):
    a = _labels()
    ngp.create(tmp_path / "volume", _info(layout)).scale(0)[...] = a
    ngp.create(tmp_path / "dask", _info(layout))
    x = dask.array.from_array(a, chunks=(23, 40, 37))  # not aligned: rechunked
    if scheduler == "distributed":
        request.getfixturevalue("cluster")  # the default scheduler while it lives
        written = nd.to_precomputed(x, tmp_path / "dask")
    else:
        with dask.config.set(scheduler=scheduler):
            written = nd.to_precomputed(x, tmp_path / "dask")
    assert written >= 1
    assert _files(tmp_path / "dask") == _files(tmp_path / "volume")


def test_one_task_per_shard_file(tmp_path):
    """Under murmurhash a shard's chunks are scattered: its cells go to one
    task, which writes the shard once (so no two tasks write one file)."""
    ngp.create(tmp_path / "d", _info("murmurhash"))
    x = dask.array.from_array(_labels(), chunks=(16, 16, 16))
    delayed = nd.to_precomputed(x, tmp_path / "d", compute=False)
    graph = dict(delayed.__dask_graph__())
    writers = [k for k in graph if str(k).startswith("_write_region")]
    shards = ngp.open(tmp_path / "d")._store
    assert len(writers) == 2 ** MURMUR["shard_bits"]
    delayed.compute()
    assert len(shards.list_shards()) == len(writers)


def test_dask_round_trip_through_a_map(tmp_path):
    """The users' loop: read, compute on blocks, write another dataset."""
    ngp.create(tmp_path / "src", _info("proposed")).scale(0)[...] = _labels()
    ngp.create(tmp_path / "out", _info("unsharded"))
    x = nd.from_precomputed(tmp_path / "src")
    nd.to_precomputed(x % np.uint64(7), tmp_path / "out")
    assert np.array_equal(ngp.open(tmp_path / "out")[...][..., 0], _labels() % 7)


def test_to_precomputed_refuses_what_does_not_fit(tmp_path):
    ngp.create(tmp_path / "d", _info("unsharded"))
    with pytest.raises(ngcodec.InvalidParameterError, match="whole scales"):
        nd.to_precomputed(np.zeros((10, 10, 10), np.uint64), tmp_path / "d")
    with pytest.raises(ngcodec.InvalidParameterError, match="float"):
        nd.to_precomputed(np.zeros((80, 90, 100), np.float32), tmp_path / "d")


def test_missing_dask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.array", None)
    monkeypatch.delitem(sys.modules, "ngcodec.dask")
    with pytest.raises(ImportError, match=r'pip install "ngcodec\[dask\]"'):
        importlib.import_module("ngcodec.dask")
