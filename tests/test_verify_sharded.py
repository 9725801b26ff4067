"""``ngcodec verify`` on sharded scales (issue 11): it passes undamaged
sharded datasets written by tensorstore's ``neuroglancer_precomputed``
driver and by ngcodec (``ngcodec.precomputed.create`` + Volume writes), and
finds every damage done to them, naming the shard file, the minishard and
(for a chunk) the chunk id:

(a) a chunk's bytes inside a shard, (b) a shard index entry, (c) a
minishard index, (d) a truncated gzip stream, (e) zlib data where gzip is
declared, (f) a zlib minishard index where gzip is declared (both written
by neuroglancer-scripts; Neuroglancer's gzip decoder rejects them).

Damage is done in place where the sizes allow (a, b, c) and by rewriting
one shard otherwise (d, e with ngcodec's shard writer from the stored
bytes; f with a shard encoder written here from the spec).
"""

import gzip
import json
import shutil
import zlib

import numpy as np
import pytest

from tests import common
import ngcodec.precomputed as ngp
from ngcodec import cli
from ngcodec.precomputed.sharded import ShardedStore
from ngcodec.precomputed.storage import LocalStorage

SIZE = (70, 50, 40)
CHUNK = (16, 16, 16)  # a 5 x 4 x 3 grid: 60 chunks, edge chunks on every axis
OFFSET = (3, -5, 7)
KEY = "4_4_40"


def sharding(hash, data_encoding):
    return {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 0, "hash": hash,
            "minishard_bits": 1, "shard_bits": 2, "minishard_index_encoding": "gzip",
            "data_encoding": data_encoding}


# (id, writer, dtype, channels, encoding, sharding)
KINDS = [
    ("ngcodec-cseg", "ngcodec", "uint64", 1, "compressed_segmentation",
     sharding("identity", "raw")),
    ("ngcodec-raw-gzip", "ngcodec", "uint16", 2, "raw", sharding("murmurhash3_x86_128", "gzip")),
    ("tensorstore-cseg", "tensorstore", "uint64", 1, "compressed_segmentation",
     sharding("murmurhash3_x86_128", "raw")),
    ("tensorstore-raw-gzip", "tensorstore", "uint16", 2, "raw", sharding("identity", "gzip")),
]
IDS = [k[0] for k in KINDS]


def labels(dtype, channels):
    """(X, Y, Z, C) Voronoi labels."""
    return np.stack([common.voronoi(SIZE[::-1], 40, dtype, seed=5 + c).T
                     for c in range(channels)], axis=-1)


def write(root, kind):
    _, writer, dtype, channels, encoding, shard = kind
    ref = labels(dtype, channels)
    scale = {"size": list(SIZE), "resolution": [4, 4, 40], "voxel_offset": list(OFFSET),
             "encoding": encoding, "sharding": shard}
    if encoding == "compressed_segmentation":
        scale["compressed_segmentation_block_size"] = [8, 8, 8]
    kind_of = "segmentation" if encoding == "compressed_segmentation" else "image"
    if writer == "ngcodec":
        info = {"@type": "neuroglancer_multiscale_volume", "type": kind_of, "data_type": dtype,
                "num_channels": channels,
                "scales": [dict(scale, key=KEY, chunk_sizes=[list(CHUNK)])]}
        vol = ngp.create(root, info).scale(0, mode="r+")
        vol[OFFSET[0]:OFFSET[0] + SIZE[0], OFFSET[1]:OFFSET[1] + SIZE[1],
            OFFSET[2]:OFFSET[2] + SIZE[2]] = ref
    else:
        import tensorstore as ts

        t = ts.open({"driver": "neuroglancer_precomputed", "kvstore": f"file://{root}/",
                     "create": True, "scale_metadata": dict(scale, chunk_size=list(CHUNK)),
                     "multiscale_metadata": {"type": kind_of, "data_type": dtype,
                                             "num_channels": channels}}).result()
        t[...] = ref
    assert {p.suffix for p in (root / KEY).iterdir()} == {".shard"}
    return json.loads((root / "info").read_text())["scales"][0]["sharding"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """{kind id: (root, sharding)}: one undamaged dataset of each kind."""
    out = {}
    for kind in KINDS:
        root = tmp_path_factory.mktemp(kind[0])
        out[kind[0]] = (root, write(root, kind))
    return out


@pytest.fixture
def copy(pristine, tmp_path):
    """copy(kind id) -> (root, store): a fresh copy to damage."""
    def make(name):
        root, shard = pristine[name]
        dst = tmp_path / name
        shutil.copytree(root, dst)
        return dst, ShardedStore(LocalStorage(dst), KEY, shard)
    return make


def run_json(root, *args):
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["verify", str(root), "--json", "--no-progress", *args])
    report = json.loads(out.getvalue())
    assert report["exit_code"] == code
    return code, report


def run_text(root, capsys):
    code = cli.main(["verify", str(root), "--no-progress"])
    return code, capsys.readouterr().out


# -- undamaged ------------------------------------------------------------------------

@pytest.mark.parametrize("name", IDS)
def test_undamaged_sharded_dataset_passes(pristine, name):
    root, shard = pristine[name]
    code, report = run_json(root)
    assert code == 0, (report["bad_chunks"], report["shard_problems"])
    [scale] = report["scales"]
    assert scale["status"] == "verified" and scale["sharding"] == shard
    assert scale["chunks"] == scale["ok"] == 5 * 4 * 3
    assert scale["missing"] == scale["bad"] == scale["index_problems"] == scale["unknown"] == 0
    store = ShardedStore(LocalStorage(root), KEY, shard)
    assert scale["shards"] == len(store.list_shards()) > 1


def test_sparse_sharded_scale_and_unknown_files(copy, capsys):
    """Chunks absent from every shard are missing (--require-all: errors,
    named with their chunk id and shard); other files are unknown."""
    root, store = copy("ngcodec-cseg")
    victim = store.list_shards()[0]
    n = len(store.shard_entries(victim))
    (root / KEY / store.shard_name(victim)).unlink()
    (root / KEY / "notes.txt").write_bytes(b"x")
    (root / KEY / "ff.shard").write_bytes(b"x")  # not a name of 2 shard bits
    code, report = run_json(root)
    assert code == 0 and report["summary"]["missing"] == n
    assert {u["file"] for u in report["unknown_files"]} == {"notes.txt", "ff.shard"}
    assert all(m["shard"] == store.shard_name(victim) for m in report["missing_chunks"])
    code, report = run_json(root, "--require-all")
    assert code == 1
    code, out = run_text(root, capsys)
    assert f"{len(store.list_shards())} shard file(s), {60 - n} chunks" in out
    assert f"{n} chunk(s) missing (allowed" in out


# -- damage ---------------------------------------------------------------------------

def targets(store):
    """{(shard, minishard): [(chunk id, start, size), ...]} of the chunks."""
    out = {}
    for s in store.list_shards():
        for cid, m, start, size in store.shard_entries(s):
            out.setdefault((s, m), []).append((cid, start, size))
    return out


def patch(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def damage_chunk_bytes(root, store, shard, minishard, encoding):
    """(a) in place: an invalid bits field in the first block header of a
    cseg chunk, or a byte flipped inside a gzip stream."""
    cid, start, size = targets(store)[shard, minishard][0]
    path = root / KEY / store.shard_name(shard)
    if store.spec.data_encoding == "gzip":
        b = path.read_bytes()[start + size // 2]
        patch(path, start + size // 2, bytes([b ^ 0x55]))
    else:
        assert encoding == "compressed_segmentation"
        patch(path, start + 7, b"\x05")  # word 1 (block 0's table offset | bits << 24)
    return "chunk", cid


def damage_shard_index(root, store, shard, minishard):
    """(b) in place: the minishard's index range ends far past the file."""
    patch(root / KEY / store.shard_name(shard), 16 * minishard + 8,
          (1 << 40).to_bytes(8, "little"))
    return "index", None


def damage_minishard_index(root, store, shard, minishard):
    """(c) in place: a byte flipped in the middle of the gzip minishard index."""
    path = root / KEY / store.shard_name(shard)
    raw = path.read_bytes()
    base = store.spec.shard_index_bytes
    start = base + int.from_bytes(raw[16 * minishard:16 * minishard + 8], "little")
    end = base + int.from_bytes(raw[16 * minishard + 8:16 * minishard + 16], "little")
    assert raw[start:start + 2] == b"\x1f\x8b"
    mid = (start + end) // 2
    patch(path, mid, bytes([raw[mid] ^ 0x55]))
    return "index", None


def _rewrite_chunk(store, shard, minishard, change):
    """Rewrites *shard* with ngcodec's writer, the first chunk of
    *minishard* stored as change(stored bytes)."""
    cid = targets(store)[shard, minishard][0][0]
    chunks = dict(store.iter_shard(shard, stored=True))
    chunks[cid] = change(chunks[cid])
    store.write_shards(chunks, stored=True, replace=True)
    store.clear_cache()
    return cid


def damage_truncated_gzip(root, store, shard, minishard):
    """(d) the chunk's gzip stream cut to half its length."""
    return "chunk", _rewrite_chunk(store, shard, minishard, lambda b: bytes(b[:len(b) // 2]))


def damage_zlib_data(root, store, shard, minishard):
    """(e) the chunk's data as a zlib stream (what neuroglancer-scripts writes)."""
    return "chunk", _rewrite_chunk(store, shard, minishard,
                                   lambda b: zlib.compress(gzip.decompress(b)))


def encode_shard_by_hand(spec, chunks, zlib_minishards=()):
    """A shard file from the spec (sharded.md): every chunk's stored bytes
    first (by minishard, then id), then the minishard indices; the
    indices of *zlib_minishards* are zlib streams instead of gzip."""
    by_m = {}
    for cid in sorted(chunks):
        by_m.setdefault(spec.locate(cid)[1], []).append(cid)
    base = spec.shard_index_bytes
    data, index_parts, ranges = b"", [], {}
    placed = {}
    for m in sorted(by_m):
        for cid in by_m[m]:
            placed[cid] = (len(data), len(chunks[cid]))  # relative to the shard index's end
            data += chunks[cid]
    pos = len(data)
    for m in sorted(by_m):
        ids = by_m[m]
        starts = [placed[c][0] for c in ids]
        sizes = [placed[c][1] for c in ids]
        ends = [0] + [s + z for s, z in zip(starts, sizes)][:-1]
        arr = np.array([np.diff(ids, prepend=0), np.subtract(starts, ends), sizes],
                       dtype="<u8").tobytes()
        enc = zlib.compress(arr) if m in zlib_minishards else gzip.compress(arr)
        ranges[m] = (pos, pos + len(enc))
        index_parts.append(enc)
        pos += len(enc)
    index = np.zeros((spec.num_minishards, 2), dtype="<u8")
    for m, r in ranges.items():
        index[m] = r
    for m in range(spec.num_minishards):
        if m not in ranges:
            index[m] = (pos, pos)
    assert len(index.tobytes()) == base
    return index.tobytes() + data + b"".join(index_parts)


def damage_zlib_minishard_index(root, store, shard, minishard):
    """(f) the shard rewritten from the spec, one minishard index a zlib stream."""
    chunks = dict(store.iter_shard(shard, stored=True))
    blob = encode_shard_by_hand(store.spec, chunks, zlib_minishards={minishard})
    (root / KEY / store.shard_name(shard)).write_bytes(blob)
    store.clear_cache()
    return "index", None


IN_PLACE = {"a_chunk_bytes": damage_chunk_bytes, "b_shard_index": damage_shard_index,
            "c_minishard_index": damage_minishard_index}
REWRITES = {"d_truncated_gzip": damage_truncated_gzip, "e_zlib_data": damage_zlib_data,
            "f_zlib_minishard_index": damage_zlib_minishard_index}
GZIP_DATA_ONLY = {"d_truncated_gzip", "e_zlib_data"}
EXPECTED_TEXT = {"b_shard_index": "past the end", "c_minishard_index": "gzip",
                 "d_truncated_gzip": "truncated gzip stream",
                 "e_zlib_data": "zlib stream where gzip is declared",
                 "f_zlib_minishard_index": "zlib stream where gzip is declared"}


def apply(root, store, damage, shard, minishard, encoding):
    fn = {**IN_PLACE, **REWRITES}[damage]
    if damage == "a_chunk_bytes":
        return fn(root, store, shard, minishard, encoding)
    return fn(root, store, shard, minishard)


def findings(report):
    """{(file, minishard, chunk id or None): entry} of every sharded finding."""
    out = {}
    for e in report["bad_chunks"]:
        out[(e["file"], e["minishard"], e["chunk_id"])] = e
    for e in report["shard_problems"]:
        out[(e["file"], e["minishard"], None)] = e
    return out


def check_found(report, store, damage, shard, minishard, cid):
    key = (store.shard_name(shard), minishard, cid)
    found = findings(report)
    assert key in found, (damage, key, found)
    entry = found[key]
    assert entry["scale"] == KEY and entry["path"] == f"{KEY}/{store.shard_name(shard)}"
    assert entry["shard"] == shard
    if damage in EXPECTED_TEXT:
        assert EXPECTED_TEXT[damage] in entry["reason"], entry
    if "zlib" in damage:
        assert "Neuroglancer" in entry["reason"] and "neuroglancer-scripts" in entry["reason"]
    if damage == "a_chunk_bytes" and store.spec.data_encoding == "raw":
        assert entry["status_name"] == "NGC_ERR_BAD_BITS" and entry["chunk"]
    assert entry["exception"] == "InvalidFormatError", entry
    return key


CASES = [(name, d) for name, _, _, _, enc, s in KINDS for d in [*IN_PLACE, *REWRITES]
         if d not in GZIP_DATA_ONLY or s["data_encoding"] == "gzip"]


@pytest.mark.parametrize("name,damage", CASES, ids=[f"{n}-{d}" for n, d in CASES])
def test_finds_each_damage(copy, capsys, name, damage):
    kind = KINDS[IDS.index(name)]
    root, store = copy(name)
    (shard, minishard), _ = max(targets(store).items(), key=lambda kv: len(kv[1]))
    what, cid = apply(root, store, damage, shard, minishard, kind[4])
    code, report = run_json(root)
    assert code == 1 and not report["ok"]
    key = check_found(report, store, damage, shard, minishard, cid)
    assert set(findings(report)) == {key}, findings(report)
    code, out = run_text(root, capsys)
    assert code == 1 and out.splitlines()[-1] == "FAILED"
    bad = [line for line in out.splitlines() if line.startswith("BAD")]
    where = f"{KEY}/{store.shard_name(shard)}: minishard {minishard}"
    assert len(bad) == 1 and bad[0].startswith(f"BAD     {where}"), bad
    if cid is not None:
        assert f"{where}: chunk {cid} (" in bad[0]


@pytest.mark.parametrize("name", IDS)
def test_finds_every_damage_at_once(copy, name):
    """Every damage of the kind on one dataset, each in its own minishard
    (rewrites first, each in its own shard): verify reports exactly those,
    and the chunks of the minishards whose index is lost as missing."""
    kind = KINDS[IDS.index(name)]
    root, store = copy(name)
    damages = [d for d in [*REWRITES, *IN_PLACE]
               if d not in GZIP_DATA_ONLY or store.spec.data_encoding == "gzip"]
    places = targets(store)
    shards = sorted({s for s, _ in places})
    assert len(shards) >= 3 and len(places) >= len(damages)
    used, expected, lost = set(), set(), 0
    for i, damage in enumerate(damages):
        if damage in REWRITES:  # each its own shard, its first minishard
            shard = shards[i]
            minishard = min(m for s, m in places if s == shard)
        else:  # any (shard, minishard) not damaged yet
            shard, minishard = next(p for p in sorted(places) if p not in used)
        used.add((shard, minishard))
        what, cid = apply(root, store, damage, shard, minishard, kind[4])
        expected.add((store.shard_name(shard), minishard, cid))
        if damage in ("b_shard_index", "c_minishard_index"):
            lost += len(places[shard, minishard])
    code, report = run_json(root, "--jobs", "3")
    assert code == 1
    assert set(findings(report)) == expected
    assert report["summary"]["missing"] == lost
    assert report["summary"]["bad"] == sum(1 for e in expected if e[2] is not None)
    assert report["summary"]["index_problems"] == sum(1 for e in expected if e[2] is None)
    assert report["summary"]["ok"] == 60 - lost - report["summary"]["bad"]


def test_zlib_chunk_files_unsharded(tmp_path, capsys):
    """Unsharded .gz chunk files holding zlib streams (neuroglancer-scripts'
    old gzip) are bad, named by file, with the reason."""
    info = {"type": "segmentation", "data_type": "uint64", "num_channels": 1, "scales": [
        {"key": "s", "size": [32, 32, 16], "resolution": [1, 1, 1], "chunk_sizes": [[16, 16, 16]],
         "encoding": "compressed_segmentation", "compressed_segmentation_block_size": [8, 8, 8]}]}
    vol = ngp.create(tmp_path, info).scale(0, mode="r+", compress="gzip")
    vol[0:32, 0:32, 0:16] = labels("uint64", 1)[:32, :32, :16]
    name = "0-16_0-16_0-16.gz"
    p = tmp_path / "s" / name
    p.write_bytes(zlib.compress(gzip.decompress(p.read_bytes())))
    code, report = run_json(tmp_path)
    assert code == 1
    [bad] = report["bad_chunks"]
    assert bad["file"] == name and "zlib stream where gzip is declared" in bad["reason"]
    assert "Neuroglancer's gzip decoder rejects" in bad["reason"]
    assert report["summary"]["ok"] == 3


def test_unknown_sharding_member_is_a_scale_error(copy):
    """A sharding member neither ngcodec nor tensorstore knows (the one
    sharding validator refuses it): that scale is an error naming it, verify
    does not crash."""
    root, _ = copy("ngcodec-cseg")
    info = json.loads((root / "info").read_text())
    info["scales"][0]["sharding"]["extra"] = 1
    (root / "info").write_text(json.dumps(info))
    code, report = run_json(root)
    assert code == 1
    [error] = report["scale_errors"]
    assert error["scale"] == KEY and "unknown members ['extra']" in error["reason"]
