"""compressed_segmentation in the zarr ecosystem (docs/ZARR.md): the numcodecs
codec ``ngcodec_compressed_segmentation`` and the zarr v3 codec
``ngcodec.compressed_segmentation``.

- numcodecs' own checkers (numcodecs.tests.common) on the numcodecs codec,
  and a pinned byte vector through its backwards-compatibility checker;
- zarr-python 3 writes and reads arrays (alone, in sharding, uint32 and
  uint64, several channels, edge chunks, followed by zstd and gzip), also in
  a fresh process that finds both codecs by entry point only;
- partial reads decode only the blocks they touch (a corrupt block outside
  the box does not stop them; a full read fails on it);
- the bytes are Neuroglancer's: seung-lab's compressed-segmentation decodes
  our chunks (after the numcodecs header) and we decode its chunks;
- dask.array.to_zarr / from_zarr.
"""

import json
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

# The test extra installs these (zarr 3): the tests fail, never skip, without them.
import compressed_segmentation as cs  # noqa: E402
import numcodecs  # noqa: E402
import numcodecs.tests.common as common_nc  # noqa: E402
import zarr  # noqa: E402

from ngcodec import InvalidFormatError  # noqa: E402
from ngcodec import compressed_segmentation as cseg  # noqa: E402
from ngcodec.zarr import numcodecs_codec  # noqa: E402
from ngcodec.zarr.numcodecs_codec import CompressedSegmentation  # noqa: E402
from ngcodec.zarr.v3 import CompressedSegmentationCodec, bounding_box  # noqa: E402
from tests import common  # noqa: E402

NC_ID = "ngcodec_compressed_segmentation"
V3_NAME = "ngcodec.compressed_segmentation"


def labels(shape, dtype="uint64", n=40, seed=0):
    """A label volume with runs (compressible) and a few labels spanning
    the dtype's whole range."""
    rng = np.random.default_rng(seed)
    values = common.random_labels(rng, n, dtype)
    # smooth-ish: labels constant over 4-voxel runs along x
    base = rng.integers(0, n, size=shape[:-1] + (-(-shape[-1] // 4),))
    return values[np.repeat(base, 4, axis=-1)[..., :shape[-1]]].astype(dtype)


# ---------------------------------------------------------------------------
# numcodecs
# ---------------------------------------------------------------------------

NC_ARRAYS = [
    labels((20, 30, 40), "uint64"),
    labels((20, 30, 40), "uint32", seed=1),
    labels((3, 9, 10, 11), "uint64", seed=2),  # channels, partial blocks
    labels((1, 1, 1), "uint32", seed=3),
    common.fib25(),
]


@pytest.mark.parametrize("i", range(len(NC_ARRAYS)))
@pytest.mark.parametrize("block_shape", [(8, 8, 8), (2, 4, 8)])
def test_numcodecs_check_encode_decode(i, block_shape):
    a = NC_ARRAYS[i]
    # numcodecs' checker also encodes raw bytes: the configuration says what they hold
    codec = CompressedSegmentation(block_shape=block_shape, dtype=a.dtype.name,
                                   shape=list(a.shape))
    common_nc.check_encode_decode(a, codec)


def test_numcodecs_arrays_need_no_shape():
    codec = CompressedSegmentation()
    for a in NC_ARRAYS:
        dec = codec.decode(codec.encode(a))
        assert dec.shape == a.shape and dec.dtype == a.dtype
        assert np.array_equal(dec, a)
    # a view that is not contiguous
    a = NC_ARRAYS[0][:, ::2, 3:30]
    assert np.array_equal(codec.decode(codec.encode(a)), a)
    with pytest.raises(ValueError, match="configure the codec's shape and dtype"):
        codec.encode(NC_ARRAYS[0].tobytes())
    with pytest.raises(ValueError, match="dtype float32 is not supported"):
        CompressedSegmentation(dtype="float32")
    with pytest.raises(ValueError, match="block_shape"):
        CompressedSegmentation(block_shape=(8, 0, 8))


def test_numcodecs_config_and_repr(monkeypatch):
    for codec in (CompressedSegmentation(), CompressedSegmentation(block_shape=(4, 8, 16)),
                  CompressedSegmentation(dtype="uint32", shape=[2, 3, 4, 5])):
        common_nc.check_config(codec)
    # check_repr evaluates the repr in numcodecs' namespace: put the class there
    monkeypatch.setattr(common_nc, "CompressedSegmentation", CompressedSegmentation,
                        raising=False)
    common_nc.check_repr("CompressedSegmentation(block_shape=[8, 8, 8])")
    common_nc.check_repr("CompressedSegmentation(block_shape=[4, 8, 2], dtype='uint64', "
                         "shape=[1, 2, 3, 4])")
    assert numcodecs.get_codec({"id": NC_ID}) == CompressedSegmentation()
    assert CompressedSegmentation().get_config() == {
        "id": NC_ID, "block_shape": [8, 8, 8], "dtype": None, "shape": None}


# Written once by ngcodec (block_shape [2, 2, 2]); pinned so the format cannot drift.
PINNED_ARRAY = np.array([[[7, 7, 7, 9], [7, 7, 9, 9], [2**32 - 1, 7, 9, 9]],
                         [[0, 0, 7, 9], [0, 5, 9, 9], [0, 0, 0, 9]]], dtype=np.uint32)
PINNED_BYTES = bytes.fromhex(
    "4e474353010403000200000002000000020000000400000003000000020000000100000001000000"
    "080000020b0000000c0000010e0000000f000002120000001300000115000000000000000500000007"
    "000000aa4000000700000009000000ee0000000000000007000000ffffffff0600000000000000090000"
    "0023000000")


def test_numcodecs_backwards_compatibility(tmp_path, monkeypatch):
    """numcodecs' fixture checker, on fixtures written from the pinned bytes."""
    codec = CompressedSegmentation(block_shape=(2, 2, 2))
    fixture = tmp_path / "fixture" / NC_ID / "codec.00"
    fixture.mkdir(parents=True)
    np.save(fixture.parent / "array.00.npy", PINNED_ARRAY)
    (fixture / "config.json").write_text(json.dumps(codec.get_config()))
    (fixture / "encoded.00.dat").write_bytes(PINNED_BYTES)
    monkeypatch.chdir(tmp_path)
    common_nc.check_backwards_compatibility(NC_ID, [PINNED_ARRAY], [codec])
    # and the header reads as docs/ZARR.md says
    assert numcodecs_codec.unpack_header(PINNED_BYTES) == (
        np.dtype("<u4"), 3, (2, 2, 2), (4, 3, 2), 1)


@pytest.mark.parametrize("i", range(len(NC_ARRAYS)))
def test_numcodecs_body_is_neuroglancer_chunk(i):
    """After the 36-byte header: a chunk that compressed-segmentation reads,
    and its chunks, behind our header, decode with our codec."""
    a = NC_ARRAYS[i]
    a4 = a if a.ndim == 4 else a[np.newaxis]
    block_shape = (4, 8, 2)
    buf = CompressedSegmentation(block_shape=block_shape).encode(a)
    assert np.array_equal(common.seunglab_decode(buf[36:], a4.shape[:0:-1], block_shape[::-1],
                                                  a.dtype, a4.shape[0]), a4)
    if a4.shape[0] == 1:
        theirs = bytes(cs.compress(np.ascontiguousarray(a4[0]).T, block_size=(2, 8, 4),
                                   order="F"))
        c, z, y, x = a4.shape
        header = numcodecs_codec.pack_header(a.dtype, a.ndim, (2, 8, 4), (x, y, z), c)
        assert np.array_equal(CompressedSegmentation().decode(header + theirs), a)


def test_numcodecs_decode_rejects_bad_headers():
    codec = CompressedSegmentation()
    good = bytearray(codec.encode(NC_ARRAYS[0]))

    def damaged(offset, value):
        b = bytearray(good)
        b[offset] = value
        return bytes(b)

    cases = {
        "truncated": (bytes(good[:20]), "shorter than the 36-byte header"),
        "magic": (damaged(0, ord("X")), "does not start with"),
        "version": (damaged(4, 2), "header version 2"),
        "itemsize": (damaged(5, 2), "bytes per label 2"),
        "axes": (damaged(6, 5), "axes 5"),
        "reserved": (damaged(7, 1), "reserved byte 1"),
        "block size": (damaged(8, 0), "block size"),
        "channels on 3 axes": (damaged(32, 2), "2 channels for a 3-axis array"),
    }
    for name, (buf, message) in cases.items():
        with pytest.raises(InvalidFormatError, match=message):
            codec.decode(buf)
    # the body is checked by the module: a block header with 3 encoding bits
    b = bytearray(good)
    b[36 + 4 + 3] = 3
    with pytest.raises(InvalidFormatError, match="NGC_ERR_BAD_BITS"):
        codec.decode(bytes(b))
    # a chunk size that would decode to 64 GiB: refused before allocating
    b = bytearray(good)
    struct.pack_into("<3I", b, 20, 4096, 4096, 512)
    with pytest.raises(Exception, match="NGC_ERR"):
        codec.decode(bytes(b))


def test_numcodecs_decode_out():
    codec = CompressedSegmentation()
    a = NC_ARRAYS[2]
    buf = codec.encode(a)
    out = np.zeros_like(a)
    assert codec.decode(buf, out=out) is out and np.array_equal(out, a)
    flat = np.zeros(a.size, a.dtype)
    codec.decode(buf, out=flat)
    assert np.array_equal(flat.reshape(a.shape), a)
    with pytest.raises(ValueError, match="out holds"):
        codec.decode(buf, out=bytearray(a.nbytes - 8))


# ---------------------------------------------------------------------------
# zarr v3
# ---------------------------------------------------------------------------

def v3_codec(block_shape=(8, 8, 8)):
    return {"name": V3_NAME, "configuration": {"block_shape": list(block_shape)}}


COMPRESSORS = {
    "none": None,
    "zstd": [{"name": "zstd", "configuration": {"level": 3, "checksum": False}}],
    "gzip": [{"name": "gzip", "configuration": {"level": 5}}],
}


def write_array(store, data, chunks, *, shards=None, block_shape=(8, 8, 8),
                compressors="none", fill_value=0):
    z = zarr.create_array(store, shape=data.shape, chunks=chunks, shards=shards,
                          dtype=data.dtype, serializer=v3_codec(block_shape),
                          compressors=COMPRESSORS[compressors], fill_value=fill_value)
    z[...] = data
    return z


V3_CASES = {
    # name: (shape, dtype, chunks, shards, block_shape)
    "uint64": ((40, 50, 70), "uint64", (16, 16, 32), None, (8, 8, 8)),
    "uint32 anisotropic blocks": ((40, 50, 70), "uint32", (16, 16, 32), None, (2, 4, 8)),
    "channels": ((3, 20, 30, 33), "uint64", (2, 8, 16, 16), None, (4, 4, 4)),
    "sharded": ((40, 50, 70), "uint64", (16, 16, 16), (32, 32, 48), (8, 8, 8)),
    "sharded uint32 channels": ((2, 30, 20, 40), "uint32", (1, 8, 8, 8), (2, 16, 16, 24),
                                (8, 8, 8)),
}


@pytest.mark.parametrize("compressors", sorted(COMPRESSORS))
@pytest.mark.parametrize("case", sorted(V3_CASES))
def test_zarr_v3_roundtrip(tmp_path, case, compressors):
    shape, dtype, chunks, shards, block_shape = V3_CASES[case]
    data = labels(shape, dtype, seed=len(case))
    store = zarr.storage.LocalStore(tmp_path / "a.zarr")
    write_array(store, data, chunks, shards=shards, block_shape=block_shape,
                compressors=compressors)
    z = zarr.open_array(zarr.storage.LocalStore(tmp_path / "a.zarr", read_only=True))
    meta = json.loads((tmp_path / "a.zarr" / "zarr.json").read_text())
    codecs = meta["codecs"]
    inner = codecs[0]["configuration"]["codecs"] if shards else codecs
    assert inner[0] == v3_codec(block_shape)
    assert np.array_equal(z[...], data)  # edge chunks: no shape is a chunk multiple
    # partial reads, every kind of zarr selection
    sel = (slice(3, 17), slice(5, 40, 3), 29) if len(shape) == 3 else \
        (1, slice(3, 17), slice(5, 19, 3), slice(29, 33))
    assert np.array_equal(z[sel], data[sel])
    if len(shape) == 3:
        rows, cols = [1, 5, 30], [2, 69]
        assert np.array_equal(z.oindex[rows, :, cols], data[np.ix_(rows, range(50), cols)])
        points = ([1, 5, 30, 39], [0, 3, 4, 49], [2, 69, 7, 0])
        assert np.array_equal(z.vindex[points], data[points])
        mask = np.zeros(shape, bool)
        mask[7, 8:12, 60:65] = True
        assert np.array_equal(z.vindex[mask], data[mask])
        assert np.array_equal(z[39, 49, 69], data[39, 49, 69])


def test_zarr_v3_chunks_are_neuroglancer_chunks(tmp_path):
    """A stored chunk is Neuroglancer's chunk: compressed-segmentation reads it."""
    data = labels((3, 20, 30, 33), "uint32")
    write_array(zarr.storage.LocalStore(tmp_path / "a.zarr"), data, (3, 16, 16, 16),
                block_shape=(4, 8, 2))
    body = (tmp_path / "a.zarr" / "c" / "0" / "0" / "1" / "1").read_bytes()
    expected = data[:, 0:16, 16:30, 16:32]
    got = common.seunglab_decode(body, (16, 16, 16), (2, 8, 4), "uint32", 3)
    assert np.array_equal(got[:, :, :14, :], expected)


def test_zarr_v3_fill_value_and_missing_chunks(tmp_path):
    store = zarr.storage.MemoryStore()
    z = zarr.create_array(store, shape=(20, 20, 20), chunks=(8, 8, 8), dtype="uint64",
                          serializer=v3_codec(), compressors=None, fill_value=5)
    z[0:4, 0:4, 0:4] = 9
    expected = np.full((20, 20, 20), 5, np.uint64)
    expected[0:4, 0:4, 0:4] = 9
    assert np.array_equal(z[...], expected)
    assert np.array_equal(z[10:12, 1:3, 15:20], expected[10:12, 1:3, 15:20])


def test_zarr_v3_refuses_what_it_cannot_hold():
    with pytest.raises(ValueError, match="float32 is not supported"):
        zarr.create_array(zarr.storage.MemoryStore(), shape=(8, 8, 8), chunks=(8, 8, 8),
                          dtype="float32", serializer=v3_codec(), compressors=None)
    with pytest.raises(ValueError, match="expected 3 axes"):
        zarr.create_array(zarr.storage.MemoryStore(), shape=(8, 8), chunks=(8, 8),
                          dtype="uint64", serializer=v3_codec(), compressors=None)
    with pytest.raises(ValueError, match="unknown configuration keys"):
        CompressedSegmentationCodec.from_dict({"name": V3_NAME,
                                               "configuration": {"block_size": [8, 8, 8]}})
    assert CompressedSegmentationCodec.from_dict({"name": V3_NAME}) == \
        CompressedSegmentationCodec()


def test_bounding_box():
    shape = (10, 20, 30)
    chunk = np.arange(np.prod(shape)).reshape(shape)
    selections = [
        (slice(None), slice(None), slice(None)),
        (3, slice(2, 9), slice(0, 30, 7)),
        (slice(9, 2, -2), slice(4, 4), -1),
        (np.array([4, 1, 7]), slice(None), np.array([29, 0, 3])),
        (np.zeros(10, bool), 0, 0),
        (np.arange(10) % 3 == 1, np.array([[5], [2]]), np.array([[1, 2, 28]])),
    ]
    for sel in selections:
        bounds, rel = bounding_box(sel, shape)
        box = chunk[tuple(slice(lo, hi) for lo, hi in bounds)]
        assert np.array_equal(box[rel], chunk[sel]), sel


# ---------------------------------------------------------------------------
# partial decoding: only the blocks a read touches
# ---------------------------------------------------------------------------

def corrupt_block(buf, block, chunk_blocks, channel=0):
    """*buf* with the header of *block* (x, y, z) of *channel* given 3
    encoding bits (never valid), in place."""
    words = np.frombuffer(buf, "<u4")
    gx, gy, _ = chunk_blocks
    channel_start = int(words[channel])
    i = channel_start + 2 * (block[0] + gx * (block[1] + gy * block[2]))
    buf[4 * i + 3] = 3


def test_partial_read_decodes_only_touched_blocks(tmp_path, monkeypatch):
    data = labels((64, 64, 64), "uint64")
    path = tmp_path / "a.zarr"
    write_array(zarr.storage.LocalStore(path), data, (64, 64, 64))
    chunk_file = path / "c" / "0" / "0" / "0"
    buf = bytearray(chunk_file.read_bytes())
    corrupt_block(buf, (7, 7, 7), (8, 8, 8))  # the far corner block
    chunk_file.write_bytes(buf)
    z = zarr.open_array(zarr.storage.LocalStore(path, read_only=True))

    calls = []
    for name in ("decode", "read_box"):
        real = getattr(cseg, name)
        monkeypatch.setattr(cseg, name, lambda *a, _real=real, _n=name, **k:
                            calls.append(_n) or _real(*a, **k))
    assert np.array_equal(z[0:32, 0:32, 0:32], data[0:32, 0:32, 0:32])
    assert np.array_equal(z[60, 3, 10:50], data[60, 3, 10:50])
    assert calls == ["read_box", "read_box"]
    with pytest.raises(InvalidFormatError, match=r"block \(7, 7, 7\).*NGC_ERR_BAD_BITS"):
        z[...]
    with pytest.raises(InvalidFormatError, match="NGC_ERR_BAD_BITS"):
        z[56:, 56:, 56:]


def shard_index(shard, n_chunks):
    """(offset, nbytes) of each inner chunk of a shard whose index (bytes +
    crc32c, zarr's default) is at its end."""
    raw = shard[-(16 * n_chunks + 4):-4]
    return np.frombuffer(raw, "<u8").reshape(n_chunks, 2)


def test_partial_read_inside_a_shard(tmp_path, monkeypatch):
    data = labels((64, 64, 64), "uint64", seed=4)
    path = tmp_path / "a.zarr"
    write_array(zarr.storage.LocalStore(path), data, (32, 32, 32), shards=(64, 64, 64))
    shard_file = path / "c" / "0" / "0" / "0"
    shard = bytearray(shard_file.read_bytes())
    offset, nbytes = shard_index(shard, 8)[0]  # inner chunk (0, 0, 0)
    inner = bytearray(shard[offset:offset + nbytes])
    corrupt_block(inner, (3, 3, 3), (4, 4, 4))
    shard[offset:offset + nbytes] = inner
    shard_file.write_bytes(shard)
    z = zarr.open_array(zarr.storage.LocalStore(path, read_only=True))

    calls = []
    real = cseg.read_box
    monkeypatch.setattr(cseg, "read_box", lambda *a, **k: calls.append(a[4]) or real(*a, **k))
    # one 8^3 block of the damaged inner chunk, and a box across two other inner chunks
    assert np.array_equal(z[0:8, 0:8, 0:8], data[0:8, 0:8, 0:8])
    assert np.array_equal(z[40:50, 10:20, 30:34], data[40:50, 10:20, 30:34])
    assert calls[0] == ((0, 0, 0), (8, 8, 8))
    with pytest.raises(InvalidFormatError, match="NGC_ERR_BAD_BITS"):
        z[20:30, 20:30, 20:30]  # meets block (3, 3, 3) of inner chunk (0, 0, 0)


# ---------------------------------------------------------------------------
# a fresh process: both codecs found by entry point, ngcodec never imported by hand
# ---------------------------------------------------------------------------

FRESH_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import numcodecs
    import zarr

    assert "ngcodec" not in sys.modules
    rng = np.random.default_rng(7)

    def volume(shape, dtype):
        top = np.iinfo(dtype).max
        values = rng.integers(0, top, size=30, dtype=dtype, endpoint=True)
        return values[rng.integers(0, 30, size=shape)]

    codec = numcodecs.get_codec({"id": "ngcodec_compressed_segmentation",
                                 "block_shape": [4, 8, 8]})
    a = volume((9, 10, 11), "uint64")
    assert np.array_equal(codec.decode(codec.encode(a)), a)

    compressor_chains = [None, [{"name": "zstd", "configuration": {"level": 1}}],
                         [{"name": "gzip", "configuration": {"level": 1}}]]
    cases = [((30, 41, 52), "uint64", (16, 16, 16), None),
             ((30, 41, 52), "uint32", (8, 16, 32), None),
             ((3, 17, 18, 19), "uint64", (2, 8, 8, 8), None),
             ((30, 41, 52), "uint64", (8, 8, 8), (16, 16, 32)),
             ((2, 17, 18, 19), "uint32", (1, 8, 8, 8), (2, 16, 16, 16))]
    for shape, dtype, chunks, shards in cases:
        for compressors in compressor_chains:
            data = volume(shape, dtype)
            store = zarr.storage.MemoryStore()
            z = zarr.create_array(store, shape=shape, chunks=chunks, shards=shards,
                                  dtype=dtype, compressors=compressors, fill_value=0,
                                  serializer={"name": "ngcodec.compressed_segmentation",
                                              "configuration": {"block_shape": [8, 8, 8]}})
            z[...] = data
            z = zarr.open_array(store, mode="r")
            assert np.array_equal(z[...], data), (shape, dtype, compressors)
            sel = (slice(2, 9),) * len(shape)
            assert np.array_equal(z[sel], data[sel])

    # zarr format 2, the numcodecs codec as compressor
    data = volume((20, 21, 22), "uint64")
    store = zarr.storage.MemoryStore()
    z = zarr.create_array(store, shape=data.shape, chunks=(8, 8, 8), dtype="uint64",
                          zarr_format=2, compressors=codec, fill_value=0)
    z[...] = data
    assert np.array_equal(zarr.open_array(store, mode="r")[...], data)

    import ngcodec.zarr.v3  # loaded by the entry points, not by us
    print("ok", sorted(m for m in sys.modules if m.startswith("ngcodec.zarr")))
""")


def test_fresh_process_finds_codecs_by_entry_point(tmp_path):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    result = subprocess.run([sys.executable, "-c", FRESH_SCRIPT], capture_output=True,
                            text=True, cwd=tmp_path, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok"), result.stdout
    assert "ngcodec.zarr.numcodecs_codec" in result.stdout
    assert "ngcodec.zarr.v3" in result.stdout


# ---------------------------------------------------------------------------
# dask
# ---------------------------------------------------------------------------

def test_dask_to_zarr_and_from_zarr(tmp_path):
    import dask.array as da
    data = labels((48, 40, 72), "uint64", seed=9)
    x = da.from_array(data, chunks=(16, 20, 24))
    url = str(tmp_path / "d.zarr")
    da.to_zarr(x, url, serializer=v3_codec((4, 8, 8)), compressors=COMPRESSORS["zstd"],
               fill_value=0)
    meta = json.loads((tmp_path / "d.zarr" / "zarr.json").read_text())
    assert meta["codecs"][0] == v3_codec((4, 8, 8))
    y = da.from_zarr(url)
    assert y.chunksize == (16, 20, 24)
    assert np.array_equal(y.compute(), data)
    assert np.array_equal(y[5:30, 7:9, 60:].compute(), data[5:30, 7:9, 60:])
    # a sharded array written by dask into an existing zarr array, one task per shard
    z = zarr.create_array(zarr.storage.LocalStore(tmp_path / "s.zarr"), shape=data.shape,
                          chunks=(8, 8, 8), shards=(16, 40, 24), dtype="uint64",
                          serializer=v3_codec(), compressors=None, fill_value=0)
    da.store(da.from_array(data, chunks=(16, 40, 24)), z, lock=False)
    assert np.array_equal(da.from_zarr(str(tmp_path / "s.zarr")).compute(), data)


# ---------------------------------------------------------------------------
# the benchmark runs (quick mode); timings are for its table, not asserted
# ---------------------------------------------------------------------------

@pytest.mark.slow
def test_bench_zarr_quick(tmp_path):
    md = tmp_path / "zarr.md"
    proc = subprocess.run([sys.executable, str(common.REPO / "bench" / "bench_zarr.py"),
                           "--quick", "--markdown", str(md), "--tmp", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=common.REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = md.read_text(encoding="utf-8")
    assert "WRONG DATA" not in proc.stderr
    assert "Machine:" in text and "GB/s" in text
    for dataset in ("fib25", "voronoi"):
        for chain in ("cseg", "cseg+zstd", "zstd", "blosc-lz4", "bytes", "cseg sharded"):
            assert f"| {dataset} | {chain} |" in text, (dataset, chain)
