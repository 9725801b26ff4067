"""ngcodec and tensorstore's neuroglancer_precomputed driver, through files.

tensorstore writes precomputed volumes to disk ("file" kvstore): ngcodec
decodes every chunk file. ngcodec writes chunk files and an info JSON:
tensorstore reads the volume. Unsharded chunk files are named
``<scale key>/<x0>-<x1>_<y0>-<y1>_<z0>-<z1>``, edge chunks clipped to the
volume, as the precomputed format specifies.

tensorstore is a test requirement: if it is missing these tests fail.
"""

import json
import re

import numpy as np
import pytest

import ngcodec
from ngcodec import chunk_encoding
from ngcodec import compressed_segmentation as cseg

from tests import common, spec

import tensorstore as ts  # noqa: E402  (peer, must be installed)

KEY = "8_8_8"
NAME = re.compile(r"^(\d+)-(\d+)_(\d+)-(\d+)_(\d+)-(\d+)$")


def _info(dtype, channels, size, chunk_size, encoding, block_size=None):
    scale = {"key": KEY, "size": list(size), "resolution": [8, 8, 8],
             "voxel_offset": [0, 0, 0], "chunk_sizes": [list(chunk_size)],
             "encoding": encoding}
    if block_size is not None:
        scale["compressed_segmentation_block_size"] = list(block_size)
    return {"@type": "neuroglancer_multiscale_volume", "type": "segmentation",
            "data_type": dtype, "num_channels": channels, "scales": [scale]}


def _chunk_grid(size, chunk_size):
    """Every chunk's (x0, x1, y0, y1, z0, z1), clipped to the volume."""
    out = []
    for z0 in range(0, size[2], chunk_size[2]):
        for y0 in range(0, size[1], chunk_size[1]):
            for x0 in range(0, size[0], chunk_size[0]):
                out.append((x0, min(x0 + chunk_size[0], size[0]),
                            y0, min(y0 + chunk_size[1], size[1]),
                            z0, min(z0 + chunk_size[2], size[2])))
    return out


def _ts_write(path, data, info):
    """Writes a (C, Z, Y, X) array as a precomputed volume with tensorstore."""
    scale = info["scales"][0]
    scale_metadata = {"key": scale["key"], "size": scale["size"],
                      "resolution": scale["resolution"], "encoding": scale["encoding"],
                      "chunk_size": scale["chunk_sizes"][0]}
    if "compressed_segmentation_block_size" in scale:
        scale_metadata["compressed_segmentation_block_size"] = \
            scale["compressed_segmentation_block_size"]
    store = ts.open({
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "file", "path": str(path) + "/"},
        "multiscale_metadata": {"type": info["type"], "data_type": info["data_type"],
                                "num_channels": info["num_channels"]},
        "scale_metadata": scale_metadata,
        "create": True,
    }).result()
    # tensorstore's domain is (x, y, z, channel).
    assert list(store.domain.labels) == ["x", "y", "z", "channel"]
    store[...] = data.transpose(3, 2, 1, 0)


def _ts_read(path):
    store = ts.open({"driver": "neuroglancer_precomputed",
                     "kvstore": {"driver": "file", "path": str(path) + "/"}}).result()
    return np.asarray(store.read().result()).transpose(3, 2, 1, 0)


def _decode_files(path, info):
    """Decodes every chunk file tensorstore wrote with ngcodec into a new
    (C, Z, Y, X) volume; checks the set of files is the whole chunk grid."""
    written = json.loads((path / "info").read_text())
    scale = written["scales"][0]
    size, chunk_size = scale["size"], scale["chunk_sizes"][0]
    assert written["data_type"] == info["data_type"]
    assert scale["encoding"] == info["scales"][0]["encoding"]
    encoder = chunk_encoding.get_encoder(written, scale)
    names = sorted(p.name for p in (path / scale["key"]).iterdir())
    expected = sorted("%d-%d_%d-%d_%d-%d" % c for c in _chunk_grid(size, chunk_size))
    assert names == expected
    C = written["num_channels"]
    out = np.zeros((C, size[2], size[1], size[0]), dtype=written["data_type"])
    for name in names:
        x0, x1, y0, y1, z0, z1 = map(int, NAME.match(name).groups())
        buf = (path / scale["key"] / name).read_bytes()
        chunk = encoder.decode(buf, (x1 - x0, y1 - y0, z1 - z0))
        assert chunk.shape == (C, z1 - z0, y1 - y0, x1 - x0)
        out[:, z0:z1, y0:y1, x0:x1] = chunk
    return out


def _write_files(path, data, info):
    """Writes *data* ((C, Z, Y, X)) as a precomputed volume with ngcodec."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "info").write_text(json.dumps(info))
    scale = info["scales"][0]
    encoder = chunk_encoding.get_encoder(info, scale)
    (path / scale["key"]).mkdir()
    for x0, x1, y0, y1, z0, z1 in _chunk_grid(scale["size"], scale["chunk_sizes"][0]):
        buf = encoder.encode(data[:, z0:z1, y0:y1, x0:x1])
        (path / scale["key"] / ("%d-%d_%d-%d_%d-%d" % (x0, x1, y0, y1, z0, z1))).write_bytes(
            bytes(buf))


def _volumes():
    fib = common.fib25()[np.newaxis]
    odd = common.voronoi((70, 80, 100), 600, "uint64", seed=31)[np.newaxis]  # x=100 y=80 z=70
    two = np.stack([common.voronoi((30, 50, 40), 130, "uint32", seed=s) for s in (32, 33)])
    return {
        # name: (data (C, Z, Y, X), dtype, chunk_size, block_size)
        "fib25_uint64": (fib, "uint64", (64, 64, 64), (8, 8, 8)),
        "fib25_uint32_anisotropic_blocks": (fib.astype(np.uint32), "uint32", (64, 64, 64),
                                            (16, 8, 4)),
        "partial_chunks_uint64": (odd, "uint64", (64, 64, 64), (8, 8, 8)),
        "partial_chunks_uint32": (odd.astype(np.uint32), "uint32", (32, 32, 32), (8, 8, 8)),
        "partial_chunks_odd_blocks": (odd, "uint64", (48, 40, 24), (5, 6, 7)),
        "two_channels_uint32": (two, "uint32", (32, 32, 16), (8, 8, 8)),
    }


VOLUMES = _volumes()


@pytest.mark.parametrize("name", sorted(VOLUMES))
def test_ngcodec_decodes_tensorstore_cseg_chunks(name, tmp_path):
    data, dtype, chunk_size, block_size = VOLUMES[name]
    C, Z, Y, X = data.shape
    info = _info(dtype, C, (X, Y, Z), chunk_size, "compressed_segmentation", block_size)
    _ts_write(tmp_path, data.astype(dtype), info)
    assert np.array_equal(_decode_files(tmp_path, info), data)


@pytest.mark.parametrize("name", sorted(VOLUMES))
def test_tensorstore_reads_ngcodec_cseg_chunks(name, tmp_path):
    data, dtype, chunk_size, block_size = VOLUMES[name]
    C, Z, Y, X = data.shape
    info = _info(dtype, C, (X, Y, Z), chunk_size, "compressed_segmentation", block_size)
    _write_files(tmp_path, data.astype(dtype), info)
    out = _ts_read(tmp_path)
    assert out.dtype == np.dtype(dtype)
    assert np.array_equal(out, data)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "uint32", "uint64", "float32"])
def test_raw_chunks_both_ways(dtype, tmp_path):
    rng = np.random.default_rng(34)
    if dtype == "float32":
        data = rng.standard_normal((2, 21, 30, 37)).astype(dtype)
    else:
        data = rng.integers(0, np.iinfo(dtype).max, (2, 21, 30, 37), dtype=dtype,
                            endpoint=True)
    info = _info(dtype, 2, (37, 30, 21), (16, 16, 16), "raw")
    info["type"] = "image"
    _ts_write(tmp_path / "ts", data, info)
    assert np.array_equal(_decode_files(tmp_path / "ts", info), data)
    _write_files(tmp_path / "ngc", data, info)
    assert np.array_equal(_ts_read(tmp_path / "ngc"), data)


def _write_single_chunk(tmp_path, buf):
    info = _info("uint32", 1, (3, 1, 1), (3, 1, 1), "compressed_segmentation", (2, 2, 2))
    (tmp_path / KEY).mkdir(parents=True)
    (tmp_path / "info").write_text(json.dumps(info))
    (tmp_path / KEY / "0-3_0-1_0-1").write_bytes(buf)


def test_tensorstore_and_ngcodec_agree_on_arbitrary_padding(tmp_path):
    """A hand-made 3x1x1 chunk in 2x2x2 blocks whose padding voxels carry
    arbitrary (in-table) indices. tensorstore reads it; ngcodec gives the
    same array. Block 0: 1 bit, table [3, 4], visible indices 1 0, padding
    ones. Block 1: 8 bits, table [42, ...] (3 entries to the end), visible
    index 0, padding indices 1 and 2."""
    buf = spec.pack_words(1, 0x01000004, 6, 0x08000007, 8, 3, 4, 0xABCDEFFD, 42,
                            0x02020100, 0x01010102)
    _write_single_chunk(tmp_path, buf)
    expected = np.array([[[[4, 3, 42]]]], np.uint32)
    assert np.array_equal(_ts_read(tmp_path), expected)
    assert np.array_equal(cseg.decode(buf, (3, 1, 1), "uint32", (2, 2, 2)), expected)


def test_padding_index_past_the_table_is_a_known_difference(tmp_path):
    """The one deliberate difference: padding indices past the table.
    tensorstore ignores padding; ngcodec refuses it, as neuroglancer-scripts
    does (its own test suite depends on that check)."""
    buf = spec.pack_words(1, 0x01000004, 6, 0x08000007, 8, 3, 4, 0xABCDEFFD, 42,
                            0xFFFFFF00, 0xFFFFFFFF)
    _write_single_chunk(tmp_path, buf)
    assert np.array_equal(_ts_read(tmp_path), np.array([[[[4, 3, 42]]]], np.uint32))
    with pytest.raises(ngcodec.InvalidFormatError, match="NGC_ERR_BAD_TABLE_INDEX"):
        cseg.decode(buf, (3, 1, 1), "uint32", (2, 2, 2))


def test_tensorstore_rejects_what_ngcodec_rejects(tmp_path):
    """A chunk with a bad bit width: both refuse it."""
    data = common.voronoi((16, 16, 16), 20, "uint64", seed=35)[np.newaxis]
    info = _info("uint64", 1, (16, 16, 16), (16, 16, 16), "compressed_segmentation", (8, 8, 8))
    _write_files(tmp_path, data, info)
    f = tmp_path / KEY / "0-16_0-16_0-16"
    buf = bytearray(f.read_bytes())
    buf[4 + 3] = 3  # block 0: bits = 3
    f.write_bytes(bytes(buf))
    with pytest.raises(ngcodec.InvalidFormatError):
        cseg.decode(bytes(buf), (16, 16, 16), "uint64", (8, 8, 8))
    with pytest.raises(Exception, match="(?i)compressed|corrupt|invalid|decod"):
        _ts_read(tmp_path)
