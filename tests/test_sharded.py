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

ts = pytest.importorskip("tensorstore")

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
