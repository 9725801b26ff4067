"""Datasets across implementations: what tensorstore's neuroglancer_precomputed driver
and cloud-volume write, ngcodec reads identically (whole and in random boxes), and
what ngcodec writes, they read identically.

Every volume is 70x50x40 voxels in chunks of 32x32x16 (edge chunks on every axis)
at voxel_offset (3, -5, 7); labels are Voronoi cells with random uint32/uint64
labels, so chunks hold many labels.
"""

import os

import numpy as np
import pytest

import ngcodec.precomputed as ngp
from tests import common

import tensorstore as ts  # the test extra installs it: never skipped

SIZE = (70, 50, 40)
CHUNK = (32, 32, 16)
OFFSET = (3, -5, 7)
UPPER = tuple(o + s for o, s in zip(OFFSET, SIZE))


def sharding(hash, minishard_index_encoding, data_encoding, preshift=1):
    return {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": preshift, "hash": hash,
            "minishard_bits": 1, "shard_bits": 2,
            "minishard_index_encoding": minishard_index_encoding, "data_encoding": data_encoding}


# (id, dtype, channels, encoding, sharding)
KINDS = [
    ("raw-uint16-3ch", "uint16", 3, "raw", None),
    ("cseg-uint64", "uint64", 1, "compressed_segmentation", None),
    ("cseg-uint32-2ch", "uint32", 2, "compressed_segmentation", None),
    ("raw-float32", "float32", 1, "raw", None),
    ("sharded-identity-gzip-cseg-uint64", "uint64", 1, "compressed_segmentation",
     sharding("identity", "gzip", "gzip")),
    ("sharded-murmur-gzip-raw-uint32", "uint32", 1, "raw",
     sharding("murmurhash3_x86_128", "gzip", "gzip")),
    ("sharded-murmur-rawindex-gzipdata-cseg-uint64-2ch", "uint64", 2, "compressed_segmentation",
     sharding("murmurhash3_x86_128", "raw", "gzip", preshift=0)),
    ("sharded-identity-raw-raw-int8", "int8", 1, "raw", sharding("identity", "raw", "raw")),
]
IDS = [k[0] for k in KINDS]


def data(dtype, channels, seed=0):
    """(X, Y, Z, C) Voronoi labels; signed and float types from the same bits/values."""
    dt = np.dtype(dtype)
    unsigned = "uint32" if dt.kind == "f" else f"uint{8 * dt.itemsize}"
    seeds = 300 if dt.itemsize > 1 else 200  # distinct labels: at most 256 in 8 bits
    a = np.stack([common.voronoi(SIZE[::-1], seeds, unsigned, seed=seed + c, spacing=(4, 1, 1)).T
                  for c in range(channels)], axis=-1)
    return a.astype(dt) if dt.kind == "f" else a.view(dt)


def boxes(n, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        lo = [int(rng.integers(a, b)) for a, b in zip(OFFSET, UPPER)]
        hi = [int(rng.integers(x + 1, b + 1)) for x, b in zip(lo, UPPER)]
        out.append((tuple(lo), tuple(hi)))
    return out


def sl(lo, hi):
    return tuple(slice(a, b) for a, b in zip(lo, hi))


def rel(lo, hi):
    return tuple(slice(a - o, b - o) for a, b, o in zip(lo, hi, OFFSET))


def ngcodec_info(dtype, channels, encoding, shard):
    scale = {"key": "4_4_40", "size": list(SIZE), "resolution": [4, 4, 40],
             "voxel_offset": list(OFFSET), "chunk_sizes": [list(CHUNK)], "encoding": encoding}
    if encoding == "compressed_segmentation":
        scale["compressed_segmentation_block_size"] = [8, 8, 8]
    if shard:
        scale["sharding"] = shard
    return {"@type": "neuroglancer_multiscale_volume",
            "type": "image" if encoding in ("raw", "jpeg") else "segmentation",
            "data_type": dtype, "num_channels": channels, "scales": [scale]}


def ts_spec(path, dtype, channels, encoding, shard, create):
    scale = {"size": list(SIZE), "resolution": [4, 4, 40], "voxel_offset": list(OFFSET),
             "chunk_size": list(CHUNK), "encoding": encoding}
    if encoding == "compressed_segmentation":
        scale["compressed_segmentation_block_size"] = [8, 8, 8]
    if shard:
        scale["sharding"] = shard
    spec = {"driver": "neuroglancer_precomputed", "kvstore": f"file://{path}/"}
    if create:
        spec.update(create=True, scale_metadata=scale, multiscale_metadata={
            "type": "segmentation" if encoding == "compressed_segmentation" else "image",
            "data_type": dtype, "num_channels": channels})
    return spec


def check_same(vol, ref, peer_box=None):
    """*vol* (an ngcodec Volume) holds *ref* (X, Y, Z, C), whole and in random
    boxes; *peer_box(lo, hi)* (the peer's read) agrees box by box."""
    assert vol.shape == ref.shape and vol.dtype == ref.dtype
    assert vol.bounds == (OFFSET, UPPER)
    assert np.array_equal(vol[...], ref)
    for lo, hi in boxes(8):
        got = vol[sl(lo, hi)]
        assert np.array_equal(got, ref[rel(lo, hi)]), (lo, hi)
        if peer_box is not None:
            assert np.array_equal(got, peer_box(lo, hi)), (lo, hi)


# ------------------------------------------------------------ tensorstore

@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_tensorstore_writes_ngcodec_reads(tmp_path, kind):
    _, dtype, channels, encoding, shard = kind
    ref = data(dtype, channels)
    t = ts.open(ts_spec(tmp_path, dtype, channels, encoding, shard, True)).result()
    assert t.domain.inclusive_min[:3] == OFFSET
    t[...] = ref
    vol = ngp.open(tmp_path, threads=2)
    assert vol.sharding == (shard and {**shard})
    check_same(vol, ref, lambda lo, hi: t[sl(lo, hi)].read().result())
    if shard:
        assert all(n.endswith(".shard") for n in os.listdir(tmp_path / vol.key))


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_ngcodec_writes_tensorstore_reads(tmp_path, kind):
    _, dtype, channels, encoding, shard = kind
    ref = data(dtype, channels, seed=5)
    vol = ngp.create(tmp_path, ngcodec_info(dtype, channels, encoding, shard)).scale(0)
    vol[...] = ref
    t = ts.open(ts_spec(tmp_path, dtype, channels, encoding, shard, False)).result()
    assert t.domain.inclusive_min[:3] == OFFSET and t.shape == ref.shape
    assert np.array_equal(t.read().result(), ref)
    for lo, hi in boxes(8, seed=1):
        assert np.array_equal(t[sl(lo, hi)].read().result(), ref[rel(lo, hi)]), (lo, hi)


def test_partial_writes_tensorstore_reads(tmp_path):
    """Partial-chunk and partial-shard rewrites by ngcodec, read by tensorstore."""
    shard = sharding("murmurhash3_x86_128", "gzip", "gzip")
    ref = data("uint64", 1, seed=2)
    vol = ngp.create(tmp_path, ngcodec_info("uint64", 1, "compressed_segmentation", shard)).scale(0)
    vol[...] = ref
    model = ref.copy()
    rng = np.random.default_rng(3)
    for lo, hi in boxes(6, seed=4):
        value = rng.integers(0, 1 << 64, tuple(b - a for a, b in zip(lo, hi)) + (1,),
                             dtype=np.uint64)
        vol[sl(lo, hi)] = value
        model[rel(lo, hi)] = value
    t = ts.open(ts_spec(tmp_path, "uint64", 1, "compressed_segmentation", shard, False)).result()
    assert np.array_equal(t.read().result(), model)


def test_tensorstore_jpeg(tmp_path):
    """JPEG chunks written by tensorstore: ngcodec decodes what tensorstore decodes."""
    x, y, z = np.meshgrid(*(np.arange(n) for n in SIZE), indexing="ij")
    ref = ((x * 3 + y * 2 + z) % 256).astype(np.uint8)[..., None]
    t = ts.open(ts_spec(tmp_path, "uint8", 1, "jpeg", None, True)).result()
    t[...] = ref
    theirs = t.read().result()
    ours = ngp.open(tmp_path)[...]
    assert np.abs(ours.astype(int) - theirs).max() <= 1


def test_ngcodec_jpeg_is_baseline_and_tensorstore_reads_it(tmp_path):
    """Datasets are written as baseline JPEG (docs/DATASETS.md); tensorstore
    decodes ngcodec's JPEG chunks to what ngcodec decodes."""
    x, y, z = np.meshgrid(*(np.arange(n) for n in SIZE), indexing="ij")
    ref = np.stack([(x * 3 + y * 2 + z) % 256, (x + 5 * z) % 256, y * 4 % 256],
                   -1).astype(np.uint8)
    info = {"@type": "neuroglancer_multiscale_volume", "type": "image", "data_type": "uint8",
            "num_channels": 3, "scales": [{"key": "s0", "size": list(SIZE),
                                           "resolution": [4, 4, 40],
                                           "voxel_offset": list(OFFSET),
                                           "chunk_sizes": [list(CHUNK)], "encoding": "jpeg"}]}
    ngp.create(tmp_path, info).scale(0)[...] = ref
    files = [p for p in (tmp_path / "s0").iterdir()]
    assert files and all(common.jpeg_frame_kind(p.read_bytes()) == "baseline" for p in files)
    ours = ngp.open(tmp_path)[...]
    assert np.abs(ours.astype(int) - ref).mean() < 3
    theirs = ts.open({"driver": "neuroglancer_precomputed",
                      "kvstore": f"file://{tmp_path}/"}).result().read().result()
    assert np.array_equal(np.asarray(theirs), ours)


# ------------------------------------------------------------ cloud-volume

CV_KINDS = [("raw", "uint32", 2), ("compressed_segmentation", "uint64", 1),
            ("compressed_segmentation", "uint32", 1)]
CV_IDS = [f"{e}-{d}-{c}ch" for e, d, c in CV_KINDS]


def _cloudvolume():
    from cloudvolume import CloudVolume
    return CloudVolume


@pytest.mark.parametrize("compress", ["gzip", None], ids=["gzip", "plain"])
@pytest.mark.parametrize("kind", CV_KINDS, ids=CV_IDS)
def test_cloudvolume_writes_ngcodec_reads(tmp_path, kind, compress):
    CloudVolume = _cloudvolume()
    encoding, dtype, channels = kind
    ref = data(dtype, channels, seed=7)
    info = CloudVolume.create_new_info(
        num_channels=channels, layer_type="segmentation", data_type=dtype, encoding=encoding,
        resolution=[4, 4, 40], voxel_offset=list(OFFSET), volume_size=list(SIZE),
        chunk_size=list(CHUNK), compressed_segmentation_block_size=[8, 8, 8])
    cv = CloudVolume(f"file://{tmp_path}", info=info, compress=compress or False,
                     progress=False)
    cv.commit_info()
    cv[...] = ref
    names = os.listdir(tmp_path / cv.key)
    assert len(names) == 18 and all(n.endswith(".gz") == (compress == "gzip") for n in names)
    vol = ngp.open(f"file://{tmp_path}")
    check_same(vol, ref, lambda lo, hi: np.asarray(cv[sl(lo, hi)]))


@pytest.mark.parametrize("compress", ["gzip", None], ids=["gzip", "plain"])
@pytest.mark.parametrize("kind", CV_KINDS, ids=CV_IDS)
def test_ngcodec_writes_cloudvolume_reads(tmp_path, kind, compress):
    CloudVolume = _cloudvolume()
    encoding, dtype, channels = kind
    ref = data(dtype, channels, seed=8)
    vol = ngp.create(tmp_path, ngcodec_info(dtype, channels, encoding, None)).scale(
        0, compress=compress)
    vol[...] = ref
    cv = CloudVolume(f"file://{tmp_path}", progress=False)
    assert np.array_equal(np.asarray(cv[...]), ref)
    for lo, hi in boxes(6, seed=9):
        assert np.array_equal(np.asarray(cv[sl(lo, hi)]), ref[rel(lo, hi)]), (lo, hi)


@pytest.mark.parametrize("hash", ["identity", "murmurhash3_x86_128"])
def test_ngcodec_sharded_cloudvolume_reads(tmp_path, hash):
    CloudVolume = _cloudvolume()
    shard = sharding(hash, "gzip", "gzip")
    ref = data("uint64", 1, seed=10)
    vol = ngp.create(tmp_path, ngcodec_info("uint64", 1, "compressed_segmentation", shard)).scale(0)
    vol[...] = ref
    cv = CloudVolume(f"file://{tmp_path}", progress=False)
    assert np.array_equal(np.asarray(cv[...]), ref)
    for lo, hi in boxes(4, seed=11):
        assert np.array_equal(np.asarray(cv[sl(lo, hi)]), ref[rel(lo, hi)]), (lo, hi)
