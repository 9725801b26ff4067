"""Volume.labels, Volume.contains and Volume.remap on whole datasets,
sharded and unsharded, against NumPy on the volume that was written; the
remapped datasets are read back by tensorstore (a peer)."""

import json

import numpy as np
import pytest
import tensorstore as ts

import ngcodec
import ngcodec.precomputed as ngp
from tests import common

SHARDING = {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 1,
            "hash": "murmurhash3_x86_128", "minishard_bits": 1, "shard_bits": 2,
            "minishard_index_encoding": "gzip", "data_encoding": "gzip"}
OFFSET = (3, -2, 5)


def _info(dtype, encoding, sharded, channels=1):
    scale = {"key": "s0", "size": [90, 100, 70], "resolution": [8, 8, 8],
             "voxel_offset": list(OFFSET), "chunk_sizes": [[32, 32, 32]], "encoding": encoding}
    if encoding == "compressed_segmentation":
        scale["compressed_segmentation_block_size"] = [8, 8, 8]
    if sharded:
        scale["sharding"] = SHARDING
    return {"type": "segmentation", "data_type": dtype, "num_channels": channels,
            "scales": [scale]}


def _labels(dtype, channels=1):
    """(X, Y, Z, C) labels: FIB-25 tiles, high-bit ids for uint64."""
    fib = common.fib25()  # (Z, Y, X)
    a = np.tile(fib, (2, 2, 2))[:70, :100, :90].astype(dtype)
    if dtype == "uint64":
        a = a + np.uint64(720575940379279360)
    a = np.stack([a + np.array(c, dtype) for c in range(channels)])
    return a.transpose(3, 2, 1, 0)


def _volume(tmp_path, dtype, encoding, sharded, channels=1, name="src"):
    vol = ngp.create(tmp_path / name, _info(dtype, encoding, sharded, channels)).scale(0)
    a = _labels(dtype, channels)
    lo, hi = vol.bounds
    vol[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = a
    return vol, a


LAYOUTS = [("uint64", "compressed_segmentation", False), ("uint64", "compressed_segmentation", True),
           ("uint32", "compressed_segmentation", False), ("uint32", "raw", True)]
IDS = ["-".join((d, e, "sharded" if s else "unsharded")) for d, e, s in LAYOUTS]


def _box(vol, rng):
    lo, hi = vol.bounds
    a = [int(rng.integers(l, h)) for l, h in zip(lo, hi)]
    b = [int(rng.integers(x + 1, h + 1)) for x, h in zip(a, hi)]
    return tuple(a), tuple(b)


def _sub(a, vol, box):
    (x0, y0, z0), (x1, y1, z1) = box
    o = vol.voxel_offset
    return a[x0 - o[0]:x1 - o[0], y0 - o[1]:y1 - o[1], z0 - o[2]:z1 - o[2]]


@pytest.mark.parametrize("layout", LAYOUTS, ids=IDS)
def test_labels_and_contains_equal_numpy(layout, tmp_path):
    vol, a = _volume(tmp_path, *layout)
    assert np.array_equal(vol.labels()[0], np.unique(a))
    rng = np.random.default_rng(3)
    for _ in range(6):
        box = _box(vol, rng)
        sub = _sub(a, vol, box)
        assert np.array_equal(vol.labels(box)[0], np.unique(sub))
        inside = sub.flat[int(rng.integers(0, sub.size))]
        outside = np.setdiff1d(np.unique(a), np.unique(sub))
        assert vol.contains(int(inside), box)
        if outside.size:
            assert not vol.contains(int(outside[0]), box)
            assert vol.contains([int(outside[0]), int(inside)], box)
    assert not vol.contains(12345, vol.bounds)


def test_absent_chunks_read_as_zero(tmp_path):
    vol = ngp.create(tmp_path / "d", _info("uint64", "compressed_segmentation", False)).scale(0)
    vol[3:35, -2:30, 5:37] = 7  # one chunk of the 3x4x3 grid
    assert vol.labels()[0].tolist() == [0, 7]
    assert vol.contains(0) and vol.contains(7) and not vol.contains(8)
    assert vol.labels(((3, -2, 5), (35, 30, 37)))[0].tolist() == [7]
    assert not vol.contains(0, ((3, -2, 5), (35, 30, 37)))
    strict = ngp.open(tmp_path / "d", missing="error")
    with pytest.raises(ngp.MissingChunkError):
        strict.labels()


def test_multichannel_labels_per_channel(tmp_path):
    vol, a = _volume(tmp_path, "uint32", "compressed_segmentation", False, channels=2)
    got = vol.labels()
    assert len(got) == 2
    for c in range(2):
        assert np.array_equal(got[c], np.unique(a[..., c]))


def _ts_read(path):
    store = ts.open({"driver": "neuroglancer_precomputed",
                     "kvstore": {"driver": "file", "path": str(path) + "/"}}).result()
    return np.asarray(store.read().result())  # (x, y, z, c)


@pytest.mark.parametrize("layout", LAYOUTS, ids=IDS)
def test_remap_writes_the_mapped_dataset(layout, tmp_path):
    vol, a = _volume(tmp_path, *layout)
    u = np.unique(a)
    values = (u * np.array(3, u.dtype) + np.array(1, u.dtype)) % np.array(1000, u.dtype)
    out = vol.remap((u, values), tmp_path / "out")
    expected = values[np.searchsorted(u, a)]
    assert np.array_equal(_ts_read(tmp_path / "out"), expected)  # a peer reads it
    assert np.array_equal(out[...], expected)
    assert json.loads((tmp_path / "out" / "info").read_text()) == \
        json.loads((tmp_path / "src" / "info").read_text())
    src_files = sorted(p.relative_to(tmp_path / "src") for p in (tmp_path / "src").rglob("*"))
    out_files = sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*"))
    assert src_files == out_files  # the same chunks or shards, nothing else


def test_remap_with_missing_labels(tmp_path):
    vol, a = _volume(tmp_path, "uint64", "compressed_segmentation", True)
    u = np.unique(a)
    with pytest.raises(ngcodec.InvalidParameterError, match="NGC_ERR_NOT_MAPPED"):
        vol.remap({int(u[0]): 1}, tmp_path / "out")
    out = vol.remap({int(u[0]): 1}, tmp_path / "out2", preserve_missing_labels=True)
    assert np.array_equal(out[...], np.where(a == u[0], np.uint64(1), a))


def test_remap_in_place_checks_every_label_before_writing(tmp_path):
    vol, a = _volume(tmp_path, "uint64", "compressed_segmentation", False)
    before = {p.name: p.read_bytes() for p in (tmp_path / "src" / "s0").iterdir()}
    u = np.unique(a)
    partial = dict(zip(u[:-1].tolist(), u[:-1].tolist()))  # lacks the largest label
    with pytest.raises(ngcodec.InvalidParameterError, match="nothing written"):
        vol.remap(partial, tmp_path / "src")
    assert {p.name: p.read_bytes() for p in (tmp_path / "src" / "s0").iterdir()} == before
    merged = vol.remap((u, np.full_like(u, 5)), tmp_path / "src")
    assert np.unique(merged[...]).tolist() == [5]


def test_remap_refuses_an_output_holding_another_dataset(tmp_path):
    vol, _ = _volume(tmp_path, "uint64", "compressed_segmentation", False)
    ngp.create(tmp_path / "other", _info("uint32", "raw", False))
    with pytest.raises(ngp.InfoExistsError):
        vol.remap({}, tmp_path / "other", preserve_missing_labels=True)
