"""The dataset layer on its own: ngcodec.precomputed.open/create/open_dataset and
Volume indexing, against a NumPy model of the volume (interop with tensorstore and
cloud-volume is in test_datasets_interop.py)."""

import gzip
import os

import numpy as np
import pytest

import ngcodec
from ngcodec import InvalidFormatError, InvalidInfoError, InvalidParameterError
from ngcodec.precomputed import (InfoExistsError, MissingChunkError, create, open,
                                 open_dataset)
from ngcodec.precomputed.storage import gzip_bytes
from tests import common

SIZE = (70, 50, 40)  # not a multiple of the chunk size: edge chunks on every axis
CHUNK = (32, 32, 16)
OFFSET = (3, -5, 7)
DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "float32")
SHARDING = {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 1,
            "hash": "murmurhash3_x86_128", "minishard_bits": 1, "shard_bits": 2,
            "minishard_index_encoding": "gzip", "data_encoding": "gzip"}


def make_info(dtype="uint64", encoding="raw", channels=1, sharding=None, size=SIZE,
              offset=OFFSET, chunk=CHUNK):
    scale = {"key": "s0", "size": list(size), "resolution": [4, 4, 40],
             "voxel_offset": list(offset), "chunk_sizes": [list(chunk)], "encoding": encoding}
    if encoding == "compressed_segmentation":
        scale["compressed_segmentation_block_size"] = [8, 8, 8]
    if sharding:
        scale["sharding"] = sharding
    return {"type": "segmentation" if encoding != "jpeg" else "image", "data_type": dtype,
            "num_channels": channels, "scales": [scale]}


def labels(dtype="uint64", channels=1, size=SIZE, seed=0):
    """(X, Y, Z, C): Voronoi cells with random labels over the dtype's range."""
    dt = np.dtype(dtype)
    unsigned = "uint32" if dt.kind == "f" else f"uint{8 * dt.itemsize}"
    chans = [common.voronoi(size[::-1], 200, unsigned, seed=seed + c).T for c in range(channels)]
    a = np.stack(chans, axis=-1)
    return a.astype(dt) if dt.kind == "f" else a.view(dt)  # signed: the same bits


def box(vol, rng):
    lo, hi = vol.bounds
    a = [int(rng.integers(l, h)) for l, h in zip(lo, hi)]
    b = [int(rng.integers(x + 1, h + 1)) for x, h in zip(a, hi)]
    return tuple(a), tuple(b)


def sl(lo, hi):
    return tuple(slice(a, b) for a, b in zip(lo, hi))


def rel(lo, hi):
    return tuple(slice(a - o, b - o) for a, b, o in zip(lo, hi, OFFSET))


# ------------------------------------------------------------ round trips

@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_raw(tmp_path, dtype):
    vol = create(tmp_path, make_info(dtype)).scale(0)
    a = labels(dtype)
    vol[...] = a
    got = open(tmp_path)[...]
    assert got.shape == (70, 50, 40, 1) and got.dtype == np.dtype(dtype)
    assert np.array_equal(got, a)


@pytest.mark.parametrize("dtype", ["uint32", "uint64"])
@pytest.mark.parametrize("sharding", [None, SHARDING], ids=["unsharded", "sharded"])
def test_cseg_channels(tmp_path, dtype, sharding):
    vol = create(tmp_path, make_info(dtype, "compressed_segmentation", 3, sharding)).scale(0)
    a = labels(dtype, 3)
    vol[...] = a
    v = open(tmp_path, threads=3)
    assert v.shape == (70, 50, 40, 3) and v.sharding == (sharding and {**sharding})
    assert np.array_equal(v[...], a)
    rng = np.random.default_rng(1)
    for _ in range(10):
        lo, hi = box(v, rng)
        assert np.array_equal(v[sl(lo, hi)], a[rel(lo, hi)])


def test_layout_of_the_result(tmp_path):
    """(X, Y, Z, C), the transpose view of a C-order (C, Z, Y, X) buffer."""
    vol = create(tmp_path, make_info("uint16", channels=2)).scale(0)
    a = labels("uint16", 2)
    vol[...] = a
    got = vol[10:20, 0:5, 8:9]
    assert got.shape == (10, 5, 1, 2)
    assert got.T.flags.c_contiguous and got.base is not None
    assert np.array_equal(got, a[7:17, 5:10, 1:2])
    one = vol[4, 0, 9]  # integers: boxes of one voxel
    assert one.shape == (1, 1, 1, 2) and np.array_equal(one[0, 0, 0], a[1, 5, 2])


def test_jpeg(tmp_path):
    info = make_info("uint8", "jpeg", 3)
    vol = create(tmp_path, info).scale(0)
    x, y, z = np.meshgrid(*(np.arange(n) for n in SIZE), indexing="ij")
    a = np.stack([(x * 3 + y) % 256, (y * 2 + z) % 256, np.full(SIZE, 128)], -1).astype(np.uint8)
    vol[...] = a
    got = open(tmp_path)[...]
    assert got.shape == a.shape
    assert np.abs(got.astype(int) - a).mean() < 3  # lossy


def test_threads_agree(tmp_path):
    vol = create(tmp_path, make_info("uint64", "compressed_segmentation")).scale(0, threads=1)
    a = labels()
    vol[...] = a
    assert np.array_equal(open(tmp_path, threads=1)[...], open(tmp_path, threads=8)[...])


@pytest.mark.parametrize("encoding", ["raw", "compressed_segmentation"])
@pytest.mark.parametrize("sharding", [None, SHARDING], ids=["unsharded", "sharded"])
def test_read_into_out(tmp_path, encoding, sharding):
    """read(out=) fills a caller's array of any layout: decoded chunks, edge
    chunks and absent chunks (zeros over the old contents) all land."""
    vol = create(tmp_path, make_info("uint32", encoding, 2, sharding)).scale(0, mode="r+")
    a = labels("uint32", 2)
    lo, hi = vol.bounds
    vol[...] = a
    vol.write((lo[0], lo[1], lo[2] + 16), (hi[0], hi[1], lo[2] + 32), 0)
    if sharding is None:  # an absent chunk too
        (tmp_path / "s0" / "3-35_-5-27_7-23").unlink()
    else:
        vol._store.write_shards({vol._cids([(0, 0, 0)])[0]: None})
    expected = open(tmp_path)[...]
    assert (expected[:32, :32, :16] == 0).all()
    box_lo, box_hi = (lo[0] + 5, lo[1] + 3, lo[2] + 2), (hi[0] - 1, hi[1], hi[2] - 4)
    want = expected[rel(box_lo, box_hi)]
    for layout in ("C", "F", "strided"):
        shape = want.shape
        if layout == "strided":
            out = np.full((shape[0] * 2,) + shape[1:], 7, np.uint32)[::2]
        else:
            out = np.full(shape, 7, np.uint32, order=layout)
        got = open(tmp_path, threads=2).read(box_lo, box_hi, out=out)
        assert got is out and np.array_equal(out, want), layout
    with pytest.raises(InvalidParameterError, match=r"the box needs shape \(64, 47, 34, 2\)"):
        vol.read(box_lo, box_hi, out=np.zeros((64, 47, 34, 1), np.uint32))
    with pytest.raises(InvalidParameterError, match="dtype uint32"):
        vol.read(box_lo, box_hi, out=np.zeros(want.shape, np.int32))
    with pytest.raises(IndexError, match="outside the bounds"):
        vol.read(lo, (hi[0] + 1, hi[1], hi[2]))
    with pytest.raises(InvalidParameterError, match=r"\(x, y, z\) voxel corners"):
        vol.read(lo[:2], hi[:2])


def test_scale_by_key_urls_and_dataset(tmp_path):
    info = make_info()
    info["scales"].append({**info["scales"][0], "key": "s1", "size": [35, 25, 40],
                           "resolution": [8, 8, 40]})
    ds = create(tmp_path, info)
    assert ds.keys == ["s0", "s1"] and len(ds.scales) == 2
    ds.scale("s1")[...] = 5
    assert open(f"file://{tmp_path}", scale="s1")[...].min() == 5
    assert open(tmp_path, scale=1).key == "s1"
    assert open_dataset(tmp_path).info == ds.info
    with pytest.raises(InvalidParameterError, match="no scale with key 'nope'.*s0, s1"):
        open(tmp_path, scale="nope")
    with pytest.raises(InvalidParameterError, match=r"index in \[0, 2\)"):
        open(tmp_path, scale=2)


def test_fsspec_memory_url():
    import fsspec  # noqa: F401  (the test extra installs it; never skipped)
    url = "memory://ngcodec-test-datasets"
    vol = create(url, make_info("uint32", "compressed_segmentation", 1, SHARDING),
                 overwrite=True).scale(0)
    a = labels("uint32")
    vol[...] = a
    assert np.array_equal(open(url)[...], a)


# ------------------------------------------------------------ bounds and indexing

def test_out_of_bounds_names_the_bounds(tmp_path):
    vol = create(tmp_path, make_info()).scale(0)
    for key in [(slice(0, 10),), (slice(3, 74),), (slice(None), slice(-6, 0)),
                (slice(None), slice(None), slice(40, 48)), (80, 0, 10)]:
        with pytest.raises(IndexError, match=r"outside the bounds \[3:73, -5:45, 7:47\]"):
            vol[key]
        with pytest.raises(IndexError, match="outside the bounds"):
            vol[key] = 1
    with pytest.raises(IndexError, match="upper end below its lower end"):
        vol[10:5]
    with pytest.raises(IndexError, match="up to 3 slices"):
        vol[3:4, 0:1, 7:8, 0:1]
    with pytest.raises(IndexError, match="slice or an integer"):
        vol["a"]
    with pytest.raises(InvalidParameterError, match="step 2 on axis y"):
        vol[:, ::2]
    assert vol[3:3].shape == (0, 50, 40, 1)  # an empty box reads no chunk


def test_edge_chunks_are_clipped(tmp_path):
    vol = create(tmp_path, make_info()).scale(0)
    vol[...] = labels()
    names = sorted(os.listdir(tmp_path / "s0"))
    assert len(names) == 3 * 2 * 3
    assert "67-73_27-45_39-47" in names  # x 3+64..73, y -5+32..45, z 7+32..47


# ------------------------------------------------------------ missing chunks

@pytest.mark.parametrize("sharding", [None, SHARDING], ids=["unsharded", "sharded"])
def test_missing_chunks(tmp_path, sharding):
    vol = create(tmp_path, make_info("uint32", sharding=sharding)).scale(0)
    vol[3:35, -5:27, 7:23] = 9  # one whole chunk (grid 0, 0, 0)
    got = open(tmp_path)[...]
    assert (got[:32, :32, :16] == 9).all() and got.sum() == 9 * 32 * 32 * 16
    strict = open(tmp_path, missing="error")
    assert (strict[3:35, -5:27, 7:23] == 9).all()
    what = "3-35_-5-27_23-39" if sharding is None else r"\.shard: missing chunk \d+"
    with pytest.raises(MissingChunkError, match=what):
        strict[3:35, -5:27, 7:24]
    with pytest.raises(FileNotFoundError):  # MissingChunkError is one
        strict[...]


def test_missing_shard_file_named(tmp_path):
    sharding = {**SHARDING, "hash": "identity", "preshift_bits": 0, "minishard_bits": 0,
                "shard_bits": 5}
    vol = create(tmp_path, make_info(sharding=sharding)).scale(0, missing="error")
    with pytest.raises(MissingChunkError, match=r"00\.shard: missing chunk 0 .*the shard file "
                                                r"does not exist"):
        vol[3:4, -5:-4, 7:8]


# ------------------------------------------------------------ partial writes

@pytest.mark.parametrize("encoding", ["raw", "compressed_segmentation"])
@pytest.mark.parametrize("sharding", [None, SHARDING], ids=["unsharded", "sharded"])
def test_partial_writes_match_numpy(tmp_path, encoding, sharding):
    vol = create(tmp_path, make_info("uint64", encoding, 2, sharding)).scale(0, threads=2)
    model = np.zeros(SIZE + (2,), np.uint64)
    rng = np.random.default_rng(7)
    for i in range(12):
        lo, hi = box(vol, rng)
        shape = tuple(b - a for a, b in zip(lo, hi))
        value = [rng.integers(0, 1 << 63, shape + (2,), dtype=np.uint64),  # (X, Y, Z, C)
                 rng.integers(0, 1 << 63, shape, dtype=np.uint64),  # every channel
                 np.uint64(i)][i % 3]
        vol[sl(lo, hi)] = value
        model[rel(lo, hi)] = value if np.ndim(value) != 3 else value[..., None]
        if i % 4 == 3:
            assert np.array_equal(open(tmp_path)[...], model)
    assert np.array_equal(open(tmp_path)[...], model)


def test_whole_shards_written_once(tmp_path, monkeypatch):
    sharding = {**SHARDING, "hash": "identity"}
    vol = create(tmp_path, make_info(sharding=sharding)).scale(0)
    writes = []
    real = type(vol.storage).write
    monkeypatch.setattr(type(vol.storage), "write",
                        lambda self, key, data, fsync=False: (writes.append(key),
                                                               real(self, key, data, fsync)))
    vol[...] = labels()
    assert len(writes) == len(set(writes)) == len(os.listdir(tmp_path / "s0"))
    assert all(w.endswith(".shard") for w in writes)


# ------------------------------------------------------------ values

def test_value_shapes_and_casts(tmp_path):
    vol = create(tmp_path, make_info("uint16", channels=2)).scale(0)
    vol[3:5, -5:-4, 7:8] = [[[1]], [[2]]]  # nested lists, int64, in range
    assert vol[3:5, -5:-4, 7:8][:, 0, 0].tolist() == [[1, 1], [2, 2]]
    with pytest.raises(InvalidParameterError, match=r"values in \[-1, 1\] do not fit.*uint16"):
        vol[3:5, -5:-4, 7:8] = np.array([-1, 1]).reshape(2, 1, 1)
    with pytest.raises(InvalidParameterError, match="cannot write float64 values"):
        vol[3:5, -5:-4, 7:8] = 1.5
    with pytest.raises(InvalidParameterError, match=r"shape \(3, 1, 1\) into a box of shape "
                                                    r"\(2, 1, 1, 2\)"):
        vol[3:5, -5:-4, 7:8] = np.zeros((3, 1, 1), np.uint16)


# ------------------------------------------------------------ gzip

def test_gzip_write_and_read(tmp_path):
    vol = create(tmp_path, make_info("uint32", "compressed_segmentation")).scale(
        0, compress="gzip")
    a = labels("uint32")
    vol[...] = a
    names = os.listdir(tmp_path / "s0")
    assert len(names) == 18 and all(n.endswith(".gz") for n in names)
    raw = gzip.decompress((tmp_path / "s0" / "3-35_-5-27_7-23.gz").read_bytes())
    assert ngcodec.compressed_segmentation.decode(raw, (32, 32, 16), "uint32", (8, 8, 8))[
        0].T.tolist() == a[:32, :32, :16, 0].tolist()
    assert np.array_equal(open(tmp_path)[...], a)
    # rewritten without compression: the .gz goes, so one chunk has one version
    open(tmp_path, mode="r+")[3:35, -5:27, 7:23] = 1
    assert (tmp_path / "s0" / "3-35_-5-27_7-23").exists()
    assert not (tmp_path / "s0" / "3-35_-5-27_7-23.gz").exists()
    assert (open(tmp_path)[3:35, -5:27, 7:23] == 1).all()


def test_gzip_under_the_plain_name(tmp_path):
    vol = create(tmp_path, make_info("int16")).scale(0)
    a = labels("int16")
    vol[...] = a
    p = tmp_path / "s0" / "35-67_27-45_39-47"
    p.write_bytes(gzip_bytes(p.read_bytes()))
    assert np.array_equal(open(tmp_path)[...], a)


def test_gzip_bomb_and_corrupt_chunk_named(tmp_path):
    vol = create(tmp_path, make_info("uint8")).scale(0)
    vol[...] = 1
    p = tmp_path / "s0" / "3-35_-5-27_7-23"
    p.write_bytes(gzip_bytes(bytes(32 * 32 * 16 + 1)))
    with pytest.raises(InvalidFormatError, match="3-35_-5-27_7-23: gzip stream inflates past"):
        open(tmp_path)[...]
    p.write_bytes(b"short")
    with pytest.raises(InvalidFormatError, match=r"3-35_-5-27_7-23: raw decode"):
        open(tmp_path)[3:4, -5:-4, 7:8]


def test_sharded_gzip_bomb_refused_at_the_chunk_bound(tmp_path):
    """Without limits, a sharded chunk's gzip is inflated under the most
    bytes a valid chunk of its shape takes (16 KiB here), not the 4 GiB
    default: a 64 MiB bomb is bad data, refused early, naming shard and
    minishard."""
    import tracemalloc
    vol = create(tmp_path, make_info("uint8", sharding=SHARDING)).scale(0, mode="r+")
    vol[...] = 1
    store = vol._store
    [cid] = vol._cids([(0, 0, 0)])
    store.write_shards({cid: gzip_bytes(bytes(64 << 20))}, stored=True)
    tracemalloc.start()
    with pytest.raises(InvalidFormatError,
                       match=r"\.shard: minishard \d+: chunk \d+ at \(0, 0, 0\): gzip stream "
                             r"inflates past the 16384-byte cap"):
        open(tmp_path)[3:4, -5:-4, 7:8]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 << 20, peak
    assert (open(tmp_path)[35:36, -5:-4, 7:8] == 1).all()  # the other chunks read


def test_a_directory_where_a_shard_should_be(tmp_path):
    vol = create(tmp_path, make_info("uint8", sharding=SHARDING)).scale(0, mode="r+")
    vol[...] = 1
    shard = sorted((tmp_path / "s0").glob("*.shard"))[0]
    shard.unlink()
    shard.mkdir()
    with pytest.raises(InvalidFormatError, match=f"{shard.name}: is a directory, not a file"):
        open(tmp_path)[...]


def test_a_write_covering_a_damaged_shard_replaces_it(tmp_path):
    """A box that covers every chunk of a shard replaces it (no merge, so
    the write repairs a damaged shard); a box that covers it partly must
    read it, and is refused."""
    vol = create(tmp_path, make_info("uint16", sharding=SHARDING)).scale(0, mode="r+")
    a = labels("uint16")
    vol[...] = a
    shard = sorted((tmp_path / "s0").glob("*.shard"))[0]
    shard.write_bytes(b"\xff" * 40)  # shard index pointing past the end
    [cid] = [c for c in vol._cids(vol._chunks(*vol.bounds))
             if vol._store.shard_name(vol._store.shard_of(c)[0]) == shard.name][:1]
    grid = vol._scale.chunk_box(tuple(int(v) for v in _grid_of(vol, cid)))[0]
    with pytest.raises(InvalidFormatError, match=f"{shard.name}: minishard"):
        vol[grid[0]:grid[0] + 1, grid[1]:grid[1] + 1, grid[2]:grid[2] + 1] = 0
    with pytest.raises(InvalidFormatError, match=shard.name):
        open(tmp_path)[...]
    vol[...] = a + 1
    assert np.array_equal(open(tmp_path)[...], a + 1)


def _grid_of(vol, cid):
    from ngcodec.precomputed.sharded import chunk_position
    return chunk_position(cid, vol._scale.grid_shape)


def test_limits_reach_the_codecs(tmp_path):
    info = make_info("uint64", "compressed_segmentation", size=(64, 64, 64), chunk=(64, 64, 64))
    create(tmp_path, info).scale(0)[...] = 3  # a 2 MiB chunk
    small = ngcodec.Limits(memory_bytes=1 << 20)
    with pytest.raises(ngcodec.ResourceLimitError, match="3-67_-5-59_7-71"):
        open(tmp_path, limits=small)[...]  # the whole chunk: 2 MiB decoded
    assert (open(tmp_path, limits=ngcodec.Limits(memory_bytes=4 << 20))[...] == 3).all()
    # One voxel decodes one block (read_box), well under the same limit.
    assert open(tmp_path, limits=small)[3:4, -5:-4, 7:8] == 3


# ------------------------------------------------------------ create, modes

def test_create_rules(tmp_path):
    info = make_info()
    create(tmp_path, info)
    text = (tmp_path / "info").read_text()
    assert create(tmp_path, info).info["scales"][0]["key"] == "s0"  # equal: left alone
    assert (tmp_path / "info").read_text() == text
    other = make_info("uint32")
    with pytest.raises(InfoExistsError, match="info: a different info exists"):
        create(tmp_path, other)
    assert open_dataset(tmp_path).info["data_type"] == "uint64"
    assert create(tmp_path, other, overwrite=True).info["data_type"] == "uint32"
    assert open(tmp_path).dtype == np.uint32
    bad = make_info()
    bad["scales"][0]["chunk_sizes"] = [[0, 1, 1]]
    with pytest.raises(InvalidInfoError, match=r"scales\[0\]\.chunk_sizes\[0\]"):
        create(tmp_path / "new", bad)
    assert not (tmp_path / "new").exists()
    assert not [n for n in os.listdir(tmp_path) if "tmp" in n]  # atomic write left nothing


def test_no_info(tmp_path):
    with pytest.raises(InvalidInfoError, match="no info file"):
        open(tmp_path)


def test_mode_r_refuses_writes(tmp_path):
    create(tmp_path, make_info())
    vol = open(tmp_path)
    with pytest.raises(InvalidParameterError, match=r"read-only \(mode='r'\).*mode='r\+'"):
        vol[3:4, -5:-4, 7:8] = 1
    with pytest.raises(InvalidParameterError, match="read-only"):
        vol.write((3, -5, 7), (4, -4, 8), 1)
    assert not (tmp_path / "s0").exists()
    for kw, text in [({"mode": "w"}, "mode must be"), ({"missing": "nan"}, "missing must be"),
                     ({"threads": 0}, "threads must be"), ({"compress": "zstd"}, "compress")]:
        with pytest.raises(InvalidParameterError, match=text):
            open(tmp_path, **kw)
    create(tmp_path / "sh", make_info(sharding=SHARDING))
    with pytest.raises(InvalidParameterError, match="sharded.*data_encoding"):
        open(tmp_path / "sh", compress="gzip")
