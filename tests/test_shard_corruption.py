"""Named corruption cases of ``neuroglancer_uint64_sharded_v1`` shard files
(issue 11), one test per kind of damage, as tensorstore's decoder tests do.

Every damaged shard starts as a valid one written by tensorstore's
``neuroglancer_uint64_sharded`` kvstore or by ngcodec's ShardedStore; the
damage is done to its bytes with the small spec-based parser below (never
with ngcodec's own decoder), mostly by *planting*: appending new bytes (a
minishard index, a chunk's data) at the end of the file and pointing a
shard index entry or a minishard index at them, which leaves every other
byte as its writer wrote it.

Each test asserts the exception class and that the message names the shard
file and, where it applies, the minishard (and the chunk).
"""

import gzip
import re
import struct
import tracemalloc
import zlib

import pytest

from ngcodec import InvalidFormatError, Limits, ResourceLimitError
from ngcodec.precomputed.sharded import ShardedStore
from ngcodec.precomputed.storage import LocalStorage
from tests import common

import tensorstore as ts  # the test extra installs it: never skipped

U64 = (1 << 64) - 1
KEY = "s"


def spec(enc="raw", index_enc=None, hash="identity", minishard_bits=2, shard_bits=1,
         preshift_bits=0):
    return {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": preshift_bits,
            "hash": hash, "minishard_bits": minishard_bits, "shard_bits": shard_bits,
            "minishard_index_encoding": index_enc or enc, "data_encoding": enc}


# Identity hash, 4 minishards, 2 shards: shard = (id >> 2) & 1, minishard = id & 3.
# Shard 0 gets ids 0-3 and 8-11 (two per minishard).
CHUNKS = {i: bytes([i]) * (20 + 7 * i) for i in (0, 1, 2, 3, 8, 9, 10, 11, 4, 13)}


def write(tmp_path, writer, sp, chunks=CHUNKS):
    """A directory holding *chunks* written by *writer* under key "s"."""
    root = tmp_path / writer
    common.write_sharded(root, KEY, sp, chunks, writer)
    return root


def ts_read(root, sp, cid):
    """tensorstore's value of chunk *cid* (None when missing); raises on error."""
    kv = ts.KvStore.open({"driver": "neuroglancer_uint64_sharded",
                          "base": f"file://{root}/{KEY}/", "metadata": sp},
                         context=ts.Context()).result()
    r = kv.read(struct.pack(">Q", cid)).result()
    return r.value if r.state == "value" else None


class Shard:
    """A shard file's bytes with the spec's structure, parsed here from
    sharded.md (independently of ngcodec): the shard index as
    ``(start, end)`` pairs relative to its end, and for one minishard its
    raw index words."""

    def __init__(self, path, sp):
        self.path = path
        self.sp = sp
        self.data = bytearray(path.read_bytes())
        self.n = 1 << sp["minishard_bits"]
        self.base = 16 * self.n

    def entry(self, m):
        return struct.unpack_from("<QQ", self.data, 16 * m)

    def set_entry(self, m, start, end):
        struct.pack_into("<QQ", self.data, 16 * m, start & U64, end & U64)

    def index_bytes(self, m):
        start, end = self.entry(m)
        raw = bytes(self.data[self.base + start:self.base + end])
        return gzip.decompress(raw) if self.sp["minishard_index_encoding"] == "gzip" else raw

    def chunks(self, m):
        """``[(id, absolute start, size)]`` of minishard *m*."""
        raw = self.index_bytes(m)
        k = len(raw) // 24
        w = struct.unpack(f"<{3 * k}Q", raw)
        out, cid, pos = [], 0, self.base
        for i in range(k):
            cid += w[i]
            pos += w[k + i]
            out.append((cid, pos, w[2 * k + i]))
            pos += w[2 * k + i]
        return out

    def append(self, blob):
        """Appends *blob*; returns its absolute offset."""
        at = len(self.data)
        self.data += blob
        return at

    def plant_index(self, m, raw, encode=True):
        """Appends *raw* (minishard index bytes, gzipped when the spec says
        and *encode*) and points minishard *m*'s shard index entry at it."""
        if encode and self.sp["minishard_index_encoding"] == "gzip":
            raw = gzip.compress(raw)
        at = self.append(raw)
        self.set_entry(m, at - self.base, at - self.base + len(raw))

    def plant_entries(self, m, entries):
        """Plants a minishard index of ``[(id, absolute start, size)]``
        (words wrap modulo 2**64, so any order can be expressed)."""
        ids, offs, sizes = [], [], []
        prev_id, prev_end = 0, self.base
        for cid, start, size in entries:
            ids.append((cid - prev_id) & U64)
            offs.append((start - prev_end) & U64)
            sizes.append(size & U64)
            prev_id, prev_end = cid, start + size
        self.plant_index(m, words(ids + offs + sizes))

    def save(self):
        self.path.write_bytes(bytes(self.data))


def words(ws):
    return struct.pack(f"<{len(ws)}Q", *ws)


def open_shard(root, sp, shard=0):
    store = ShardedStore(LocalStorage(root), KEY, sp)
    path = root / KEY / store.shard_name(shard)
    return store, Shard(path, sp), path


def raises(call, path, minishard=None, cls=InvalidFormatError, match=None):
    """Asserts that *call* raises *cls* naming the shard file *path* (and
    *minishard*); returns the message."""
    with pytest.raises(cls) as e:
        call()
    msg = str(e.value)
    assert type(e.value) is cls, msg
    assert str(path) in msg, msg
    if minishard is not None:
        assert f"minishard {minishard}" in msg, msg
    if match is not None:
        assert re.search(match, msg), msg
    return msg


def fresh(root, sp, limits=None):
    return ShardedStore(LocalStorage(root), KEY, sp, limits=limits)


WRITERS = ["tensorstore", "ngcodec"]


# ---------------------------------------------------------------- the fixtures are sound

@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("enc", ["raw", "gzip"])
def test_undamaged_shards_read(tmp_path, writer, enc):
    sp = spec(enc)
    root = write(tmp_path, writer, sp)
    store = fresh(root, sp)
    assert store.get_many(CHUNKS) == CHUNKS
    assert store.list_shards() == [0, 1]
    assert all(not store.check_shard(s) for s in (0, 1))
    _, sh, _ = open_shard(root, sp)
    # The test's parser agrees with both writers.
    assert {c for m in range(4) for c, _, _ in sh.chunks(m)} == {0, 1, 2, 3, 8, 9, 10, 11}


# ---------------------------------------------------------------- the shard index

@pytest.mark.parametrize("writer", WRITERS)
def test_truncated_shard_index(tmp_path, writer):
    sp = spec()
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    path.write_bytes(bytes(sh.data[:16 * 4 - 5]))  # 4 minishards: 64 bytes of index
    store = fresh(root, sp)
    raises(lambda: store.get(1), path, match=r"the shard file is 59 bytes, shorter than its "
                                             r"64-byte shard index")
    raises(lambda: list(store.iter_shard(0)), path)
    assert "shorter than its 64-byte shard index" in str(store.check_shard(0)[0])
    assert store.get(4) == CHUNKS[4]  # the other shard is unharmed


def test_empty_shard_file(tmp_path):
    sp = spec()
    root = write(tmp_path, "ngcodec", sp)
    _, _, path = open_shard(root, sp)
    path.write_bytes(b"")
    store = fresh(root, sp)
    raises(lambda: store.get(1), path, match="the shard file is 0 bytes")
    raises(lambda: store.get_many([1, 4]), path)
    problems = store.check_shard(0)
    assert len(problems) == 1 and problems[0].file == str(path)
    # The peer refuses it too (no writer leaves a 0-byte shard: a shard
    # left with no chunk is deleted).
    with pytest.raises(ValueError, match="not valid for value of size 0"):
        ts_read(root, sp, 1)


@pytest.mark.parametrize("writer", WRITERS)
def test_shard_index_range_out_of_file(tmp_path, writer):
    sp = spec()
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    start, _ = sh.entry(2)
    sh.set_entry(2, start, len(sh.data))  # relative to the index's end: 64 bytes too far
    sh.save()
    store = fresh(root, sp)
    raises(lambda: store.get(2), path, 2, match="past the end of the")
    assert store.get(1) == CHUNKS[1]  # minishard 1 is unharmed
    raises(lambda: list(store.iter_shard(0)), path, 2)
    (p,) = store.check_shard(0)
    assert p.minishard == 2 and "past the end" in p.message
    with pytest.raises(ValueError):  # the peer refuses it too
        ts_read(root, sp, 2)


@pytest.mark.parametrize("writer", WRITERS)
def test_shard_index_huge_range(tmp_path, writer):
    # Words near 2**64: start + base and end + base overflow 64 bits.
    sp = spec()
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    sh.set_entry(3, U64 - 10, U64)
    sh.save()
    store = fresh(root, sp)
    raises(lambda: store.get(3), path, 3, match="past the end")
    raises(lambda: store.shard_entries(0), path, 3)


@pytest.mark.parametrize("writer", WRITERS)
def test_shard_index_end_before_start(tmp_path, writer):
    sp = spec()
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    start, end = sh.entry(1)
    sh.set_entry(1, end, start)
    sh.save()
    store = fresh(root, sp)
    raises(lambda: store.get(9), path, 1, match="ends before it starts")
    raises(lambda: store.get_many([0, 9]), path, 1)
    assert [p.minishard for p in store.check_shard(0)] == [1]
    with pytest.raises(ValueError):
        ts_read(root, sp, 9)


# ---------------------------------------------------------------- minishard indices

@pytest.mark.parametrize("writer", WRITERS)
def test_minishard_index_truncated(tmp_path, writer):
    # The file ends inside minishard 3's index: its range is past the file.
    sp = spec()
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    start, end = max((sh.entry(m) for m in range(4)), key=lambda e: e[1])
    last = [m for m in range(4) if sh.entry(m) == (start, end)][0]
    path.write_bytes(bytes(sh.data[:sh.base + end - 10]))
    store = fresh(root, sp)
    cid = sh.chunks(last)[0][0]
    raises(lambda: store.get(cid), path, last, match="past the end")


@pytest.mark.parametrize("writer", WRITERS)
def test_minishard_index_not_multiple_of_24(tmp_path, writer):
    sp = spec()
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    start, end = sh.entry(2)
    sh.set_entry(2, start, end - 8)  # 2 entries: 48 -> 40 bytes
    sh.save()
    store = fresh(root, sp)
    raises(lambda: store.get(10), path, 2, match="40 bytes, not a multiple of 24")
    (p,) = store.check_shard(0)
    assert p.minishard == 2 and "not a multiple of 24" in p.message
    with pytest.raises(ValueError):
        ts_read(root, sp, 10)


@pytest.mark.parametrize("writer", WRITERS)
def test_gzip_minishard_index_truncated(tmp_path, writer):
    sp = spec("gzip")
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    start, end = sh.entry(1)
    sh.set_entry(1, start, end - 6)  # drops most of the gzip trailer
    sh.save()
    store = fresh(root, sp)
    raises(lambda: store.get(1), path, 1, match="truncated gzip stream")
    assert "truncated gzip" in store.check_shard(0)[0].message


@pytest.mark.parametrize("writer", WRITERS)
def test_chunk_range_past_file(tmp_path, writer):
    sp = spec()
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    (a, sa, za), (b, sb, zb) = sh.chunks(1)
    sh.plant_entries(1, [(a, sa, za), (b, sb, len(sh.data))])
    sh.save()
    store = fresh(root, sp)
    msg = raises(lambda: store.get(a), path, 1, match="past the end")
    assert f"chunk {b}" in msg
    (p,) = store.check_shard(0)
    assert (p.minishard, p.chunk_id) == (1, None) and f"chunk {b}" in p.message


@pytest.mark.parametrize("writer", WRITERS)
def test_chunk_size_near_2_64(tmp_path, writer):
    # Offsets and sizes whose sums wrap around 2**64 must not look small.
    sp = spec()
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    (a, sa, za), (b, sb, zb) = sh.chunks(3)
    sh.plant_index(3, words([a, b - a, sa - sh.base, U64 - 5, za, 10]))
    sh.save()
    raises(lambda: fresh(root, sp).get(b), path, 3, match="past the end")


@pytest.mark.parametrize("writer", WRITERS)
def test_overlapping_chunk_ranges(tmp_path, writer):
    # Chunk 9 (minishard 1) is pointed at chunk 2's bytes (minishard 2).
    sp = spec()
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    (a, sa, za), (b, sb, zb) = sh.chunks(1)
    (c, sc, zc), _ = sh.chunks(2)
    sh.plant_entries(1, [(a, sa, za), (b, sc, zc)])
    sh.save()
    store = fresh(root, sp)
    # A reader of one chunk sees one minishard only and cannot tell; the
    # readers of the whole shard can.
    assert store.get(b) == CHUNKS[c]
    raises(lambda: list(store.iter_shard(0)), path, match="overlaps the data of chunk")
    raises(lambda: store.shard_entries(0), path)
    problems = store.check_shard(0)
    assert any(p.chunk_id in (b, c) and "overlaps the data of chunk" in p.message
               for p in problems), problems


@pytest.mark.parametrize("writer", WRITERS)
def test_chunk_overlaps_its_minishard_index(tmp_path, writer):
    sp = spec()
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    (a, sa, za), (b, sb, zb) = sh.chunks(2)
    # The planted index goes at the end of the file; point chunk b at it.
    at = len(sh.data)
    sh.plant_entries(2, [(a, sa, za), (b, at, 30)])
    sh.save()
    store = fresh(root, sp)
    raises(lambda: store.get(a), path, 2, match=f"chunk {b}: data range .* overlaps the "
                                                "minishard index")
    problems = store.check_shard(0)
    assert any("overlaps" in p.message for p in problems), problems


@pytest.mark.parametrize("writer", WRITERS)
def test_minishard_indices_overlap(tmp_path, writer):
    # Two shard index entries naming the same minishard index bytes: the
    # ids then hash to the wrong minishard too, but the overlap is named.
    sp = spec()
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    sh.set_entry(3, *sh.entry(0))
    sh.save()
    store = fresh(root, sp)
    raises(lambda: store.get(3), path, 3, match="hashes to shard 0 minishard 0")
    problems = store.check_shard(0)
    assert any(p.minishard == 3 and "overlaps the minishard index of minishard 0" in p.message
               for p in problems), problems


@pytest.mark.parametrize("writer", WRITERS)
def test_duplicate_chunk_ids(tmp_path, writer):
    sp = spec()
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    (a, sa, za), (b, sb, zb) = sh.chunks(1)
    sh.plant_entries(1, [(a, sa, za), (a, sb, zb)])
    sh.save()
    store = fresh(root, sp)
    raises(lambda: store.get(a), path, 1, match=f"chunk id {a} is a duplicate")
    raises(lambda: store.get_many([a, 2]), path, 1)
    (p,) = store.check_shard(0)
    assert p.minishard == 1 and "duplicate" in p.message
    # tensorstore's reader accepts it (it sorts and bisects) and returns one of the two.
    assert ts_read(root, sp, a) in (CHUNKS[a], CHUNKS[b])


@pytest.mark.parametrize("writer", WRITERS)
def test_unsorted_chunk_ids(tmp_path, writer):
    # After delta decoding the ids are 9, 1 (the second delta wraps around).
    sp = spec()
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    (a, sa, za), (b, sb, zb) = sh.chunks(1)
    assert (a, b) == (1, 9)
    sh.plant_entries(1, [(b, sa, za), (a, sb, zb)])
    sh.save()
    store = fresh(root, sp)
    raises(lambda: store.get(a), path, 1, match=r"chunk id 1 is not increasing \(unsorted\) "
                                                r"\(previous 9\)")
    (p,) = store.check_shard(0)
    assert p.minishard == 1 and "unsorted" in p.message


@pytest.mark.parametrize("writer", WRITERS)
def test_wrong_shard_chunk_id(tmp_path, writer):
    # Minishard 2 of shard 0 lists chunk 6, which hashes to shard 1
    # minishard 2: no reader looking for 6 would open this index.
    sp = spec()
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    (a, sa, za), (b, sb, zb) = sh.chunks(2)
    sh.plant_entries(2, [(a, sa, za), (6, sb, zb)])
    sh.save()
    store = fresh(root, sp)
    raises(lambda: store.get(a), path, 2, match="chunk id 6 hashes to shard 1 minishard 2")
    raises(lambda: list(store.iter_shard(0)), path, 2)
    (p,) = store.check_shard(0)
    assert (p.minishard, p.chunk_id) == (2, 6) and "hashes to shard 1" in p.message
    assert store.get(6) is None  # shard 1 minishard 2 is read, where 6 is absent
    assert store.get(4) == CHUNKS[4]


def test_wrong_shard_chunk_id_murmurhash(tmp_path):
    sp = spec(hash="murmurhash3_x86_128", minishard_bits=1, shard_bits=2)
    root = write(tmp_path, "tensorstore", sp)
    store = fresh(root, sp)
    shard, m = store.shard_of(0)
    stranger = next(c for c in range(1, 1000) if store.shard_of(c) != (shard, m))
    _, sh, path = open_shard(root, sp, shard)
    (a, sa, za), *rest = sh.chunks(m)
    # An empty chunk, placed where the ranges stay in order.
    entries = [(stranger, sa, 0), (a, sa, za)] if stranger < a else \
        [(a, sa, za), (stranger, sa + za, 0)]
    sh.plant_entries(m, entries)
    sh.save()
    raises(lambda: fresh(root, sp).get(a), path, m, match=f"chunk id {stranger} hashes to")
    (p,) = fresh(root, sp).check_shard(shard)
    assert p.chunk_id == stranger


# ---------------------------------------------------------------- gzip

def bomb(n=64 << 20):
    """A gzip stream of *n* zero bytes (about n / 1000 bytes long)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    return b"".join(c.compress(block) for _ in range(n >> 20)) + c.flush()


def peak_during(call):
    """Peak traced allocation (bytes) while *call* runs."""
    tracemalloc.start()
    try:
        call()
    except Exception:
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


LIMITS = Limits(memory_bytes=4 << 20)


@pytest.mark.parametrize("writer", WRITERS)
def test_gzip_bomb_in_minishard_index(tmp_path, writer):
    sp = spec("gzip")
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    sh.plant_index(2, bomb(), encode=False)  # 64 MiB of zeros, a 64 KiB stream
    sh.save()
    store = fresh(root, sp, LIMITS)
    # Past the caller's memory limit: a ResourceLimitError, as the chunk
    # codecs raise under limits.
    raises(lambda: store.get(2), path, 2, ResourceLimitError,
           match=r"minishard index: gzip stream inflates past the memory limit of 4194304 bytes")
    # Refused early: the inflate stops at the cap, never near 64 MiB.
    assert peak_during(lambda: fresh(root, sp, LIMITS).get(2)) < 12 << 20
    (p,) = fresh(root, sp, LIMITS).check_shard(0)
    assert p.minishard == 2 and "memory limit" in p.message and p.error == "ResourceLimitError"


@pytest.mark.parametrize("writer", WRITERS)
def test_gzip_bomb_in_data(tmp_path, writer):
    sp = spec("gzip")
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    (a, sa, za), (b, sb, zb) = sh.chunks(3)
    at = sh.append(bomb())
    sh.plant_entries(3, [(a, sa, za), (b, at, len(sh.data) - at)])
    sh.save()
    store = fresh(root, sp, LIMITS)
    assert store.get(a) == CHUNKS[a]
    raises(lambda: store.get(b), path, 3, ResourceLimitError,
           match=f"chunk {b}: gzip stream inflates past the memory limit")
    raises(lambda: store.get_many([a, b]), path, 3, ResourceLimitError)
    assert peak_during(lambda: fresh(root, sp, LIMITS).get(b)) < 12 << 20
    (p,) = fresh(root, sp, LIMITS).check_shard(0)
    assert (p.minishard, p.chunk_id) == (3, b) and p.error == "ResourceLimitError"
    # A caller that knows the chunk's shape caps it at the most bytes a valid
    # chunk takes: bad data, whatever the limits.
    raises(lambda: fresh(root, sp).decode_data(fresh(root, sp).get(b, stored=True),
                                               "the chunk", 1 << 20),
           "", cls=InvalidFormatError, match="inflates past the 1048576-byte cap")


@pytest.mark.parametrize("writer", WRITERS)
def test_truncated_gzip_data(tmp_path, writer):
    sp = spec("gzip")
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    (a, sa, za), (b, sb, zb) = sh.chunks(0)
    sh.plant_entries(0, [(a, sa, za), (b, sb, zb - 5)])  # cuts into the CRC/size trailer
    sh.save()
    store = fresh(root, sp)
    raises(lambda: store.get(b), path, 0, match=f"chunk {b}: truncated gzip stream")
    (p,) = store.check_shard(0)
    assert (p.minishard, p.chunk_id) == (0, b)
    with pytest.raises(ValueError):
        ts_read(root, sp, b)


@pytest.mark.parametrize("writer", WRITERS)
def test_corrupt_gzip_data(tmp_path, writer):
    sp = spec("gzip")
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    cid, start, size = sh.chunks(2)[1]
    sh.data[start + size - 8] ^= 0xFF  # the CRC32
    sh.save()
    raises(lambda: fresh(root, sp).get(cid), path, 2, match=f"chunk {cid}: corrupt gzip")


@pytest.mark.parametrize("writer", WRITERS)
def test_zlib_data_declared_gzip(tmp_path, writer):
    # neuroglancer-scripts writes zlib streams where gzip is declared.
    sp = spec("gzip")
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    (a, sa, za), (b, sb, zb) = sh.chunks(1)
    z = zlib.compress(CHUNKS[b])
    at = sh.append(z)
    sh.plant_entries(1, [(a, sa, za), (b, at, len(z))])
    sh.save()
    store = fresh(root, sp)
    # get() is lenient, as the readers of neuroglancer-scripts' output are:
    # the data is returned...
    assert store.get(b) == CHUNKS[b]
    # ... check_shard (and so `ngcodec verify`) flags it, since Neuroglancer
    # and tensorstore refuse it:
    (p,) = store.check_shard(0)
    assert (p.minishard, p.chunk_id) == (1, b) and "zlib stream where gzip is declared" in \
        p.message and p.file == str(path)
    with pytest.raises(ValueError):
        ts_read(root, sp, b)
    # ... and strict_gzip=False accepts it.
    assert not store.check_shard(0, strict_gzip=False)


@pytest.mark.parametrize("writer", WRITERS)
def test_zlib_minishard_index_declared_gzip(tmp_path, writer):
    sp = spec("gzip")
    root = write(tmp_path, writer, sp)
    _, sh, path = open_shard(root, sp)
    sh.plant_index(3, zlib.compress(sh.index_bytes(3)), encode=False)
    sh.save()
    store = fresh(root, sp)
    assert store.get(11) == CHUNKS[11]
    (p,) = store.check_shard(0)
    assert p.minishard == 3 and "zlib stream" in p.message


# ---------------------------------------------------------------- limits and the cache

def test_chunk_larger_than_memory_limit(tmp_path):
    sp = spec()
    big = {1: bytes(3 << 20), 5: b"small"}
    root = write(tmp_path, "ngcodec", sp, big)
    store = fresh(root, sp, Limits(memory_bytes=2 << 20))
    path = root / KEY / "0.shard"
    raises(lambda: store.get(1), path, 1, ResourceLimitError, "chunk 1: 3145728 stored bytes "
                                                              "exceed the memory limit")
    raises(lambda: list(store.iter_shard(0)), path, 1, ResourceLimitError)
    assert store.get(5) == b"small"
    (p,) = store.check_shard(0)
    assert p.chunk_id == 1 and "memory limit" in p.message
    assert fresh(root, sp).get(1) == big[1]  # without limits: the 4 GiB default


def test_gzip_data_inflating_past_memory_limit(tmp_path):
    # A legitimate (not malicious) chunk that inflates past the limit.
    sp = spec("gzip")
    root = write(tmp_path, "ngcodec", sp, {2: bytes(3 << 20)})
    path = root / KEY / "0.shard"
    raises(lambda: fresh(root, sp, Limits(memory_bytes=2 << 20)).get(2), path, 2,
           ResourceLimitError, match="inflates past the memory limit of 2097152 bytes")


def test_shard_index_larger_than_memory_limit(tmp_path):
    # 2**17 minishards: a 2 MiB shard index. One chunk needs only its 16-byte
    # entry; reading the whole shard needs the whole index.
    sp = spec(minishard_bits=17, shard_bits=0)
    root = write(tmp_path, "ngcodec", sp, {7: b"seven", 99: b"ninety-nine"})
    store = fresh(root, sp, Limits(memory_bytes=1 << 20))
    path = root / KEY / "0.shard"
    assert store.get(7) == b"seven"
    raises(lambda: store.shard_entries(0), path, cls=ResourceLimitError,
           match="shard index: 2097152 stored bytes exceed")
    assert "shard index" in store.check_shard(0)[0].message
    assert dict(fresh(root, sp).iter_shard(0)) == {7: b"seven", 99: b"ninety-nine"}


def test_coalesced_reads_respect_memory_limit(tmp_path):
    # Five neighbouring 700 KB chunks: get_many would read them in one
    # request, but never more than the limit at once.
    sp = spec(minishard_bits=0, shard_bits=0)
    chunks = {i: bytes([i]) * 700_000 for i in range(5)}
    root = write(tmp_path, "ngcodec", sp, chunks)

    class Counting(LocalStorage):
        biggest = 0

        def read_range(self, key, offset, length):
            Counting.biggest = max(Counting.biggest, length)
            return super().read_range(key, offset, length)

    store = ShardedStore(Counting(root), KEY, sp, limits=Limits(memory_bytes=1 << 20))
    assert store.get_many(range(5)) == chunks
    assert Counting.biggest <= 1 << 20


class CountingStorage(LocalStorage):
    def __init__(self, root):
        super().__init__(root)
        self.reads = []

    def read_range(self, key, offset, length):
        self.reads.append((offset, length))
        return super().read_range(key, offset, length)


def test_minishard_indices_are_cached(tmp_path):
    sp = spec()
    root = write(tmp_path, "tensorstore", sp)
    st = CountingStorage(root)
    store = ShardedStore(st, KEY, sp)
    assert store.get(1) == CHUNKS[1]
    assert len(st.reads) == 3  # shard index entry, minishard index, data
    st.reads.clear()
    assert store.get(9) == CHUNKS[9]  # same minishard: its data only
    assert len(st.reads) == 1
    store.clear_cache()
    st.reads.clear()
    store.get(9)
    assert len(st.reads) == 3


def test_cache_is_bounded(tmp_path):
    # 256 minishards with one chunk each; a budget for a few of them.
    sp = spec(minishard_bits=8, shard_bits=0)
    chunks = {i: b"x%d" % i for i in range(256)}
    root = write(tmp_path, "ngcodec", sp, chunks)
    st = CountingStorage(root)
    store = ShardedStore(st, KEY, sp, cache_bytes=4096)
    assert store.get_many(chunks) == chunks
    assert dict(store.iter_shard(0)) == chunks
    # The cache holds what fits in its budget (each entry is charged its
    # arrays and an overhead), not all 256 minishards and the index.
    assert len(store._minishards) < 256 and store._cached_bytes <= 4096 + 4096
    st.reads.clear()
    assert store.get(255) == chunks[255]  # recently used: cached
    assert len(st.reads) == 1
    st.reads.clear()
    assert store.get(0) == chunks[0]  # evicted long ago: re-read
    assert len(st.reads) == 3
