"""neuroglancer_uint64_sharded_v1: hash vectors, and interop with tensorstore's
neuroglancer_uint64_sharded kvstore in both directions."""

import os
import random
import struct

import numpy as np
import pytest

from ngcodec import InvalidFormatError
from ngcodec.precomputed.sharded import (ShardedStore, chunk_id, chunk_position,
                                         murmurhash3_x86_128_low64)
from ngcodec.precomputed.shard_format import murmurhash3_low64_array
from ngcodec.precomputed.storage import LocalStorage

import tensorstore as ts  # the test extra installs it: never skipped

# tensorstore's murmurhash3_test.cc (seed 0): (h1, h2) of keys 0, 1, 42
VECTORS = {0: (0xE028AE41, 0x4772B084), 1: (0x16D4CE9A, 0xE8BD67D6),
           42: (0x5119F47A, 0xC20B94F9)}


def test_murmurhash_vectors():
    for key, (h1, h2) in VECTORS.items():
        assert murmurhash3_x86_128_low64(key) == h1 | (h2 << 32)
    keys = np.random.default_rng(1).integers(0, 2**63, 500, dtype=np.uint64)
    assert [murmurhash3_x86_128_low64(int(k)) for k in keys] == \
        murmurhash3_low64_array(keys).tolist()


def test_morton_round_trip():
    grid = (5, 3, 9)
    ids = {chunk_id((x, y, z), grid) for x in range(5) for y in range(3) for z in range(9)}
    assert len(ids) == 135
    assert chunk_position(chunk_id((4, 2, 8), grid), grid) == (4, 2, 8)
    assert chunk_id((1, 0, 0), grid) == 1 and chunk_id((0, 1, 0), grid) == 2


def _spec(h, enc):
    return {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 1, "hash": h,
            "minishard_bits": 2, "shard_bits": 3, "minishard_index_encoding": enc,
            "data_encoding": enc}


def _kv(path, spec):
    return ts.KvStore.open({"driver": "neuroglancer_uint64_sharded",
                            "base": f"file://{path}/s/", "metadata": spec}).result()


@pytest.mark.parametrize("h", ["identity", "murmurhash3_x86_128"])
@pytest.mark.parametrize("enc", ["raw", "gzip"])
def test_tensorstore_interop(tmp_path, h, enc):
    spec = _spec(h, enc)
    rnd = random.Random(1)
    ref = {rnd.randrange(0, 5000): os.urandom(rnd.randrange(0, 300)) for _ in range(200)}
    a = tmp_path / "a"
    kv = _kv(a, spec)
    with ts.Transaction() as txn:
        for k, v in ref.items():
            kv.with_transaction(txn)[struct.pack(">Q", k)] = v
    st = ShardedStore(LocalStorage(a), "s", spec)
    assert all(st.get(k) == v for k, v in ref.items())
    assert st.get_many(list(ref) + [99999]) == ref
    assert st.get(99999) is None
    assert all(not st.check_shard(s) for s in st.list_shards())
    b = tmp_path / "b"
    mine = ShardedStore(LocalStorage(b), "s", spec)
    mine.write_shards(ref)
    kv2 = _kv(b, spec)
    assert all(kv2[struct.pack(">Q", k)] == v for k, v in ref.items())
    first = list(ref)[:5]
    mine.write_shards({k: b"x" for k in first})  # merge into existing shards
    kv2 = _kv(b, spec)
    assert all(kv2[struct.pack(">Q", k)] == (b"x" if k in first else v) for k, v in ref.items())


def test_truncated_shard_is_named(tmp_path):
    spec = _spec("identity", "raw")
    st = ShardedStore(LocalStorage(tmp_path), "s", spec)
    st.write_shards({2: b"abc"})
    path = tmp_path / "s" / st.shard_name(st.shard_of(2)[0])
    path.write_bytes(path.read_bytes()[:40])
    st.clear_cache()
    with pytest.raises(InvalidFormatError, match=r"\.shard: the shard file is 40 bytes"):
        st.get(2)
    assert st.check_shard(st.shard_of(2)[0])


# ---------------------------------------------------------------- helpers: propose_sharding

def naive_morton(pos, grid):
    """The compressed Morton code, straight from sharded.md: bit i of each
    axis while i is below that axis's bit count, x y z from bit 0 up."""
    bits = [max(0, (g - 1).bit_length()) for g in grid]
    out, j = 0, 0
    for i in range(max(bits)):
        for a in range(3):
            if i < bits[a]:
                out |= ((pos[a] >> i) & 1) << j
                j += 1
    return out


def test_naive_morton_matches():
    grid = (7, 2, 33)
    for pos in [(0, 0, 0), (6, 1, 32), (3, 0, 17), (5, 1, 8)]:
        assert chunk_id(pos, grid) == naive_morton(pos, grid)


BIG_SCALES = [  # (size, chunk, dtype): a 12.8 TB EM volume, a 16 TB segmentation, a small one
    ((40000, 40000, 8000), (128, 128, 64), "uint8"),
    ((20000, 20000, 5000), (64, 64, 64), "uint64"),
    ((1024, 1024, 512), (64, 64, 64), "uint32"),
]


@pytest.mark.parametrize("size, chunk, dtype", BIG_SCALES)
def test_propose_sharding_sizes(size, chunk, dtype):
    from ngcodec.precomputed.sharded import propose_sharding
    sp = propose_sharding({"size": list(size), "chunk_sizes": [list(chunk)]}, dtype)
    chunk_bytes = np.prod(chunk) * np.dtype(dtype).itemsize
    grid = [-(-s // c) for s, c in zip(size, chunk)]
    total_bits = sum((g - 1).bit_length() for g in grid)
    per_shard = 1 << (sp["preshift_bits"] + sp["minishard_bits"])
    total = np.prod(grid) * chunk_bytes
    # The issue: shards in the GB range (or the whole scale when smaller),
    # a shard index of a few KiB, every shard one aligned box of the grid.
    assert (1 << 30) <= per_shard * chunk_bytes <= (2 << 30) or \
        (sp["shard_bits"] == 0 and total <= 2 << 30), sp
    assert 16 <= 16 << sp["minishard_bits"] <= 8192
    assert sp["preshift_bits"] + sp["minishard_bits"] + sp["shard_bits"] == total_bits
    assert sp["hash"] == "identity" and sp["data_encoding"] == "gzip"
    ShardedStore(LocalStorage("/nonexistent"), "k", sp)  # a valid spec


@pytest.mark.parametrize("size, chunk, dtype", BIG_SCALES + [((100, 80, 40), (64, 64, 64),
                                                              "uint64")])
def test_propose_sharding_like_cloud_volume(size, chunk, dtype):
    # cloud-volume splits a shard into one big minishard (preshift carries
    # the bits); ngcodec into several, but the shards are the same.
    sharding = pytest.importorskip("cloudvolume.datasource.precomputed.sharding")
    from ngcodec.precomputed.sharded import propose_sharding
    cv = sharding.compute_shard_params_for_image(size, chunk, "raw", dtype)
    sp = propose_sharding({"size": list(size), "chunk_sizes": [list(chunk)]}, dtype)
    assert sp["shard_bits"] == cv.shard_bits
    assert sp["preshift_bits"] + sp["minishard_bits"] == cv.preshift_bits + cv.minishard_bits


def test_propose_sharding_chunk_larger_than_target():
    from ngcodec.precomputed.sharded import propose_sharding
    sp = propose_sharding({"size": [4096, 4096, 64], "chunk_sizes": [[1024, 1024, 64]]},
                          "uint64", target_shard_bytes=100 << 20)  # 512 MiB chunks
    assert (sp["preshift_bits"], sp["minishard_bits"], sp["shard_bits"]) == (0, 0, 4)
    assert propose_sharding({"size": [64, 64, 64], "chunk_sizes": [[64, 64, 64]],
                             "encoding": "jpeg"}, "uint8")["data_encoding"] == "raw"


# ---------------------------------------------------------------- helpers: shard_boxes, group_by_shard

GEOMETRY = {"size": [70, 50, 40], "chunk_sizes": [[16, 16, 8]], "voxel_offset": [3, -5, 7]}
GRID = (5, 4, 5)


def ts_shard_contents(tmp_path, sp, ids):
    """{shard file name: set of chunk ids} as tensorstore lays out *ids*,
    read back with the spec parser of test_shard_corruption."""
    from tests.test_shard_corruption import Shard
    kv = _kv(tmp_path, sp)
    with ts.Transaction() as txn:
        for c in ids:
            kv.with_transaction(txn)[struct.pack(">Q", c)] = b"x"
    out = {}
    for f in sorted((tmp_path / "s").iterdir()):
        sh = Shard(f, sp)
        out[f.name] = {c for m in range(sh.n) for c, _, _ in sh.chunks(m)}
    return out


SPECS = [
    ("proposed", None),
    ("identity p1 m2 s3", dict(preshift_bits=1, hash="identity", minishard_bits=2, shard_bits=3)),
    ("identity p0 m0 s2", dict(preshift_bits=0, hash="identity", minishard_bits=0, shard_bits=2)),
    ("murmur p0 m1 s2", dict(preshift_bits=0, hash="murmurhash3_x86_128", minishard_bits=1,
                             shard_bits=2)),
    ("murmur p3 m1 s2", dict(preshift_bits=3, hash="murmurhash3_x86_128", minishard_bits=1,
                             shard_bits=2)),
]


@pytest.mark.parametrize("name, params", SPECS, ids=[s[0] for s in SPECS])
def test_shard_boxes(tmp_path, name, params):
    from ngcodec.precomputed.sharded import propose_sharding, shard_boxes
    if params is None:  # tiny shards, so that there are several
        sp = propose_sharding(GEOMETRY, "uint8", target_shard_bytes=16 * 16 * 8 * 8,
                              max_chunks_per_minishard=2)
    else:
        sp = {"@type": "neuroglancer_uint64_sharded_v1", "minishard_index_encoding": "raw",
              "data_encoding": "raw", **params}
    boxes = shard_boxes(GEOMETRY, sp)
    lo_s = np.array(GEOMETRY["voxel_offset"])
    hi_s = lo_s + GEOMETRY["size"]
    cs = np.array(GEOMETRY["chunk_sizes"][0])
    covered = np.zeros(GRID, int)
    chunks_of = {}
    for shard, bs in boxes.items():
        for lo, hi in bs:
            lo, hi = np.array(lo), np.array(hi)
            # Aligned to the chunk grid (the upper end may be the scale's edge), inside the scale.
            assert ((lo - lo_s) % cs == 0).all() and (lo >= lo_s).all() and (hi <= hi_s).all()
            assert (((hi - lo_s) % cs == 0) | (hi == hi_s)).all() and (hi > lo).all()
            g0, g1 = (lo - lo_s) // cs, -(-(hi - lo_s) // cs)
            covered[g0[0]:g1[0], g0[1]:g1[1], g0[2]:g1[2]] += 1
            chunks_of.setdefault(shard, set()).update(
                naive_morton((x, y, z), GRID) for x in range(g0[0], g1[0])
                for y in range(g0[1], g1[1]) for z in range(g0[2], g1[2]))
    assert (covered == 1).all()  # the boxes tile the scale: disjoint, covering
    if params is None:
        assert all(len(bs) == 1 for bs in boxes.values()) and len(boxes) > 1
    # Each shard's boxes hold exactly the chunks tensorstore puts in that shard.
    every = [naive_morton((x, y, z), GRID) for x in range(GRID[0]) for y in range(GRID[1])
             for z in range(GRID[2])]
    store = ShardedStore(LocalStorage(tmp_path), "s", sp)
    theirs = ts_shard_contents(tmp_path, sp, every)
    assert theirs == {store.shard_name(s): ids for s, ids in chunks_of.items()}


@pytest.mark.parametrize("h", ["identity", "murmurhash3_x86_128"])
def test_group_by_shard(tmp_path, h):
    from ngcodec.precomputed.sharded import group_by_shard
    sp = _spec(h, "raw")
    rng = np.random.default_rng(4)
    ids = [int(v) for v in rng.integers(0, 1 << 40, 300, dtype=np.uint64)] + [5, 5, 0, 2**64 - 1]
    groups = group_by_shard(ids, sp)
    assert all(g == sorted(set(g)) for g in groups.values())
    assert sorted(c for g in groups.values() for c in g) == sorted(set(ids))
    store = ShardedStore(LocalStorage(tmp_path), "s", sp)
    assert ts_shard_contents(tmp_path, sp, set(ids)) == \
        {store.shard_name(s): set(g) for s, g in groups.items()}
    with pytest.raises(ValueError):
        group_by_shard([-1], sp)


BAD_SHARDINGS = [
    ({"extra": 1}, r"unknown members \['extra'\]"),
    ({"data_encodng": "gzip"}, r"unknown members \['data_encodng'\]"),
    ({"minishard_bits": 33}, r"minishard_bits: must be an integer in \[0, 32\]"),
    ({"shard_bits": -1}, r"shard_bits: must be an integer in \[0, 64\]"),
    ({"minishard_bits": 32, "shard_bits": 33}, "at most 64"),
    ({"hash": "md5"}, "hash: must be one of identity, murmurhash3_x86_128"),
    ({"data_encoding": "zlib"}, "data_encoding: must be one of raw, gzip"),
    ({"preshift_bits": None}, "preshift_bits: must be an integer"),
    ({"@type": "neuroglancer_uint64_sharded_v2"}, "@type: must be"),
]


@pytest.mark.parametrize("change, message", BAD_SHARDINGS,
                         ids=[m.split(":")[0][:24] for _, m in BAD_SHARDINGS])
def test_one_sharding_validator_as_strict_as_tensorstore(tmp_path, change, message):
    """validate_info and the shard reader refuse the same specs with the same
    words (one validator), and tensorstore refuses each of them too."""
    from ngcodec import InvalidInfoError
    from ngcodec.precomputed.info import validate_sharding
    from ngcodec.precomputed.shard_format import ShardingSpec
    good = {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 0, "hash": "identity",
            "minishard_bits": 1, "shard_bits": 1}
    bad = {**good, **change}
    with pytest.raises(InvalidInfoError, match=message) as via_info:
        validate_sharding(bad, "info", "scales[0].sharding")
    with pytest.raises(InvalidInfoError, match=message) as via_spec:
        ShardingSpec.from_json(bad, where="info: scales[0].sharding")
    assert str(via_info.value) == str(via_spec.value)
    assert str(via_info.value).startswith("info: scales[0].sharding")
    spec = {"driver": "neuroglancer_precomputed",
            "kvstore": {"driver": "file", "path": str(tmp_path)},
            "multiscale_metadata": {"type": "segmentation", "data_type": "uint64",
                                    "num_channels": 1},
            "scale_metadata": {"size": [8, 8, 8], "chunk_size": [8, 8, 8], "encoding": "raw",
                               "resolution": [1, 1, 1], "sharding": bad},
            "create": True}
    with pytest.raises(ValueError):
        ts.open(spec).result()
    # the good one passes both, integers of any kind, defaults filled in
    assert validate_sharding({**good, "shard_bits": np.int64(1)}) == ShardingSpec.from_json(
        good).to_json() == {**good, "minishard_index_encoding": "raw", "data_encoding": "raw"}
