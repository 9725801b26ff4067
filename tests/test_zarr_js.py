"""zarr v3 arrays with the codec ``ngcodec.compressed_segmentation``
(docs/ZARR.md) between zarr-python and zarrita.js, with ngcodec.js's
``zarritaCodec`` (issue 15, its JavaScript part):

- zarr-python writes arrays (uint64 and uint32, 1 and 2 channels, edge
  chunks, chunks never written, the codec alone and followed by zstd or
  gzip, alone and inside ``sharding_indexed``); tests/js/zarr_read.mjs reads
  them in Node with zarrita (FileSystemStore), whole and in part, and they
  equal what was written;
- zarrita writes arrays with the codec in Node (tests/js/zarr_write.mjs) and
  zarr-python reads them;
- in Chromium, tests/js/zarr_page.html imports zarrita (an import map into
  tests/js/node_modules) and ngcodec.js, reads arrays over HTTP (zarrita's
  FetchStore, range requests for the shards) and the values match.
"""

from __future__ import annotations

import base64
import email.utils
import http.server
import json
import mimetypes
import os
import threading
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
import zarr

from ngcodec import compressed_segmentation as cs
from tests import common

REPO = Path(__file__).resolve().parents[1]
JS_TESTS = REPO / "tests" / "js"
WEB = REPO / "pyhost" / "ngcodec" / "web"
NAME = "ngcodec.compressed_segmentation"

pytestmark = pytest.mark.node


require = common.require_tool
run = common.run_checked


@pytest.fixture(scope="module")
def node_modules() -> Path:
    require("node")
    modules = JS_TESTS / "node_modules"
    if not all((modules / p).is_dir() for p in ("zarrita", "@zarrita/storage", "playwright-core")):
        run([require("npm"), "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=JS_TESTS,
            timeout=600)
    return modules


# --------------------------------------------------------------------------
# Arrays written by zarr-python


def labels(shape, dtype, seed, n=60):
    """Runs along x of labels over the dtype's whole range (uint64 ones past
    2**53, which a JS number cannot hold), 0 among them."""
    rng = np.random.default_rng(seed)
    values = common.random_labels(rng, n, dtype)
    values[0] = 0
    base = rng.integers(0, n, size=tuple(shape[:-1]) + (-(-shape[-1] // 5),))
    return values[np.repeat(base, 5, axis=-1)[..., :shape[-1]]].astype(dtype)


COMPRESSORS = {
    None: None,
    "zstd": [{"name": "zstd", "configuration": {"level": 3, "checksum": False}}],
    "zstd_checksum": [{"name": "zstd", "configuration": {"level": 1, "checksum": True}}],
    "gzip": [{"name": "gzip", "configuration": {"level": 5}}],
}

# name: (shape, dtype, chunks, shards, block_shape (z, y, x), compressors)
# No shape is a multiple of its chunks or shards: every array has edge chunks.
ARRAYS = {
    "u64": ((20, 37, 45), "uint64", (8, 16, 16), None, (2, 4, 8), None),
    "u64_zstd": ((20, 37, 45), "uint64", (8, 16, 16), None, (8, 8, 8), "zstd"),
    "u64_gzip": ((20, 37, 45), "uint64", (8, 16, 16), None, (4, 4, 4), "gzip"),
    "u32": ((19, 23, 30), "uint32", (8, 8, 16), None, (4, 8, 8), None),
    "u32_zstd_checksum": ((19, 23, 30), "uint32", (8, 8, 16), None, (8, 8, 8), "zstd_checksum"),
    "u32_gzip": ((19, 23, 30), "uint32", (16, 16, 16), None, (16, 2, 4), "gzip"),
    # Two channels: both in one chunk, or one chunk per channel.
    "u32_2ch": ((2, 11, 23, 30), "uint32", (2, 8, 8, 16), None, (2, 4, 4), None),
    "u64_2ch_zstd": ((2, 11, 23, 30), "uint64", (2, 8, 16, 16), None, (8, 8, 8), "zstd"),
    "u64_2ch_per_chunk_gzip": ((2, 11, 23, 30), "uint64", (1, 8, 16, 16), None, (4, 8, 8), "gzip"),
    # sharding_indexed, the codec (and its compressor) inside; edge shards.
    "sharded_u64": ((40, 50, 70), "uint64", (16, 16, 16), (32, 32, 48), (8, 8, 8), None),
    "sharded_u64_gzip": ((40, 50, 70), "uint64", (16, 16, 16), (32, 32, 48), (4, 8, 8), "gzip"),
    "sharded_u32_2ch_zstd": ((2, 30, 20, 40), "uint32", (1, 8, 8, 8), (2, 16, 16, 24), (8, 8, 8),
                             "zstd"),
}

# Reads besides the whole array: zarrita selections, one entry per axis:
# None (whole), an int (the axis dropped), [start, stop, step].
READS = {
    "u64": [[[3, 17, 1], [5, 30, 3], 29], [7, None, [2, 40, 2]]],
    "u32_2ch": [[1, [2, 9, 1], None, [3, 30, 4]], [[0, 2, 1], 10, 22, 29]],
    "sharded_u64": [[[30, 40, 1], [3, 50, 7], [45, 70, 1]]],
    "sharded_u32_2ch_zstd": [[1, [12, 20, 1], None, [20, 28, 1]]],
    "fill": [[[0, 20, 1], [10, 20, 1], 3]],
}

# An array with chunks never written: zarrita fills them with the fill
# value, as zarr-python does.
FILL = ((20, 20, 20), "uint64", (8, 8, 8), 12345)


def write(root: Path, name: str, data: np.ndarray, chunks, shards, block_shape, compressors,
          fill_value=0):
    z = zarr.create_array(zarr.storage.LocalStore(root / name), shape=data.shape, chunks=chunks,
                          shards=shards, dtype=data.dtype,
                          serializer={"name": NAME,
                                      "configuration": {"block_shape": list(block_shape)}},
                          compressors=COMPRESSORS[compressors], fill_value=fill_value)
    z[...] = data
    return z


def numpy_selection(sel):
    if sel is None:
        return ...
    return tuple(slice(*axis) if isinstance(axis, list) else slice(None) if axis is None else axis
                 for axis in sel)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The folder of arrays written by zarr-python and the arrays."""
    root = tmp_path_factory.mktemp("zarr_js")
    arrays = {}
    for seed, (name, (shape, dtype, chunks, shards, block, compressors)) in enumerate(ARRAYS.items()):
        data = labels(shape, dtype, seed)
        write(root, name, data, chunks, shards, block, compressors)
        arrays[name] = data
        meta = json.loads((root / name / "zarr.json").read_text())
        codecs = meta["codecs"][0]["configuration"]["codecs"] if shards else meta["codecs"]
        assert codecs[0] == {"name": NAME, "configuration": {"block_shape": list(block)}}, name
        assert np.array_equal(zarr.open_array(zarr.storage.LocalStore(root / name))[...], data)
    shape, dtype, chunks, fill = FILL
    data = np.full(shape, fill, dtype)
    data[2:7, 1:19, 3:12] = labels((5, 18, 9), dtype, 99)
    z = zarr.create_array(zarr.storage.LocalStore(root / "fill"), shape=shape, chunks=chunks,
                          dtype=dtype, serializer={"name": NAME}, compressors=None,
                          fill_value=fill)
    z[2:7, 1:19, 3:12] = data[2:7, 1:19, 3:12]
    arrays["fill"] = data
    assert (root / "fill" / "c" / "0").is_dir() and not (root / "fill" / "c" / "1").exists(), \
        "chunks at z >= 8 were never written"
    assert np.array_equal(zarr.open_array(zarr.storage.LocalStore(root / "fill"))[...], data)
    manifest = {"arrays": [{"name": name, "reads": [None] + READS.get(name, [])} for name in arrays]}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root, arrays


def typed(raw: bytes, item, dtype) -> np.ndarray:
    """What Node read: its TypedArray's bytes with zarrita's shape and strides."""
    assert item["type"] == {"uint64": "BigUint64Array", "uint32": "Uint32Array"}[np.dtype(dtype).name]
    flat = np.frombuffer(raw, np.dtype(dtype).newbyteorder("<"))
    shape, stride = item["shape"], item["stride"]
    if not shape:
        return flat.reshape(())
    itemsize = flat.dtype.itemsize
    return np.lib.stride_tricks.as_strided(flat, shape, [s * itemsize for s in stride])


def test_zarrita_in_node_reads_zarr_python_arrays(node_modules, written, tmp_path):
    root, arrays = written
    out = tmp_path / "read"
    run([require("node"), str(JS_TESTS / "zarr_read.mjs"), str(root), str(out)], cwd=REPO,
        timeout=300)
    results = json.loads((out / "results.json").read_text())
    assert sorted(results) == sorted(arrays)
    for name, data in arrays.items():
        got = results[name]
        assert got["dtype"] == data.dtype.name and got["shape"] == list(data.shape), name
        reads = [None] + READS.get(name, [])
        assert len(got["reads"]) == len(reads), name
        for sel, item in zip(reads, got["reads"]):
            want = data[numpy_selection(sel)]
            value = typed((out / item["file"]).read_bytes(), item, data.dtype)
            assert value.shape == want.shape, (name, sel)
            np.testing.assert_array_equal(value, want, err_msg=f"{name} {sel}")


def test_numpy_selection_of_the_reads():
    """The selections above mean in NumPy what zarr.slice means in zarrita."""
    a = np.arange(50 * 4).reshape(50, 4)
    assert np.array_equal(a[numpy_selection([[5, 30, 3], None])], a[5:30:3, :])
    assert np.array_equal(a[numpy_selection([7, 2])], a[7, 2])
    assert a[numpy_selection(None)] is not a and np.array_equal(a[numpy_selection(None)], a)


def test_zarr_python_reads_arrays_zarrita_wrote(node_modules, tmp_path):
    """zarritaCodec.encode: zarrita writes with the codec (alone, and
    followed by zstd), zarr-python reads the same values."""
    cases = {
        "w_u64": ((9, 13, 21), "uint64", [4, 8, 16], [{"name": NAME,
                                                         "configuration": {"block_shape": [2, 4, 8]}}]),
        "w_u32_2ch_zstd": ((2, 7, 9, 11), "uint32", [2, 4, 4, 8],
                           [{"name": NAME}, {"name": "zstd", "configuration": {"level": 1,
                                                                               "checksum": False}}]),
    }
    spec, arrays = [], {}
    for seed, (name, (shape, dtype, chunks, codecs)) in enumerate(cases.items()):
        data = labels(shape, dtype, 50 + seed)
        (tmp_path / f"{name}.raw").write_bytes(data.astype(data.dtype.newbyteorder("<")).tobytes())
        spec.append({"name": name, "dtype": dtype, "shape": list(shape), "chunkShape": chunks,
                     "codecs": codecs, "fillValue": 0, "file": f"{name}.raw"})
        arrays[name] = data
    (tmp_path / "write.json").write_text(json.dumps(spec))
    run([require("node"), str(JS_TESTS / "zarr_write.mjs"), str(tmp_path)], cwd=REPO, timeout=300)
    for name, data in arrays.items():
        z = zarr.open_array(zarr.storage.LocalStore(tmp_path / name, read_only=True))
        assert z.dtype == data.dtype and z.shape == data.shape, name
        np.testing.assert_array_equal(z[...], data, err_msg=name)
        # A zarr chunk is a Neuroglancer chunk as ngcodec encodes it.
        first = (tmp_path / name / "c" / "/".join("0" * data.ndim)).read_bytes()
        if name == "w_u64":
            chunk = data[:4, :8, :16]
            assert first == cs.encode(chunk, (8, 4, 2))


# --------------------------------------------------------------------------
# Chromium: zarr_page.html over HTTP


class _Handler(http.server.BaseHTTPRequestHandler):
    """GET and HEAD of files under the server's roots, with single byte
    ranges (zarrita's FetchStore reads shard indices and inner chunks so)."""

    roots: dict  # URL prefix -> folder
    protocol_version = "HTTP/1.1"
    TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
             ".json": "application/json", ".html": "text/html; charset=utf-8"}

    def log_message(self, *args):
        pass

    def _file(self):
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        for prefix, folder in self.roots.items():
            if path.startswith(prefix):
                target = (folder / path[len(prefix):]).resolve()
                if target.is_file() and target.is_relative_to(folder.resolve()):
                    return target
        return None

    def _send(self, head_only):
        target = self._file()
        if target is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = target.read_bytes()
        status, body = 200, data
        rng = self.headers.get("Range")
        if rng:
            spec = rng.removeprefix("bytes=")
            first, _, last = spec.partition("-")
            if first == "":
                start, end = max(0, len(data) - int(last)), len(data) - 1
            else:
                start, end = int(first), min(len(data) - 1, int(last)) if last else len(data) - 1
            if start > end or start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status, body = 206, data[start:end + 1]
        self.send_response(status)
        ctype = self.TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] \
            or "application/octet-stream"
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Last-Modified", email.utils.formatdate(target.stat().st_mtime, usegmt=True))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.end_headers()
        if not head_only:
            self.wfile.write(body)

    def do_GET(self):
        self._send(False)

    def do_HEAD(self):
        self._send(True)


@pytest.fixture(scope="module")
def server(written):
    root, _ = written
    handler = type("Handler", (_Handler,), {"roots": {
        "/tests/js/": JS_TESTS, "/pyhost/ngcodec/web/": WEB, "/data/": root}})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_server_ranges(server, written):
    """The test server answers the range requests FetchStore makes."""
    import urllib.request
    root, _ = written
    shard = root / "sharded_u64" / "c" / "0" / "0" / "0"
    data = shard.read_bytes()
    for rng, want in [("bytes=-20", data[-20:]), ("bytes=3-9", data[3:10]), ("bytes=5-", data[5:])]:
        req = urllib.request.Request(f"{server}/data/sharded_u64/c/0/0/0", headers={"Range": rng})
        with urllib.request.urlopen(req) as r:
            assert r.status == 206 and r.read() == want
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{server}/data/../test_zarr_js.py")
    assert info.value.code == 404


@pytest.mark.browser
def test_chromium_reads_arrays_over_http(node_modules, written, server, tmp_path):
    assert Path(os.environ.get("CHROMIUM", "/usr/bin/chromium")).exists(), "Chromium is required"
    _, arrays = written
    names = ["sharded_u64", "u64_2ch_per_chunk_gzip", "u32_zstd_checksum", "fill"]
    url = f"{server}/tests/js/zarr_page.html?store=/data/&arrays={','.join(names)}"
    proc = run([require("node"), str(JS_TESTS / "zarr_browser.mjs"), url,
                str(tmp_path / "chromium-profile")], cwd=REPO, timeout=300)
    results = json.loads(proc.stdout)
    assert sorted(results) == sorted(names)
    for name in names:
        data, got = arrays[name], results[name]
        assert got["dtype"] == data.dtype.name and got["shape"] == list(data.shape), name
        value = typed(base64.b64decode(got["base64"]), got, data.dtype)
        np.testing.assert_array_equal(value, data, err_msg=name)
