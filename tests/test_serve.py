"""ngcodec serve: what Neuroglancer needs of a server (CORS, Range, gzip
chunks under their plain names, caching), and nothing outside the dataset.
Requests go through http.client with their paths as written, so traversal
attempts reach the server unnormalised. (Real Neuroglancer reading through
this server: tests/test_neuroglancer_render.py.)"""

import gzip
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import ngcodec.precomputed as ngp
from ngcodec.server import create_app, require
from ngcodec.server.viewer import viewer_url
from tests.common import http_request, serve_in_thread

SHARDED = {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 0, "hash": "identity",
           "minishard_bits": 1, "shard_bits": 1, "minishard_index_encoding": "gzip",
           "data_encoding": "gzip"}


def make_dataset(root):
    info = {"type": "segmentation", "data_type": "uint32", "num_channels": 1, "scales": [
        {"key": "s0", "size": [40, 32, 16], "resolution": [4, 4, 40], "chunk_sizes": [[32, 32, 16]],
         "encoding": "compressed_segmentation", "compressed_segmentation_block_size": [8, 8, 8]},
        {"key": "s1", "size": [40, 32, 16], "resolution": [8, 8, 40], "chunk_sizes": [[8, 8, 8]],
         "encoding": "raw", "sharding": SHARDED}]}
    ds = ngp.create(root, info)
    a = np.arange(40 * 32 * 16, dtype=np.uint32).reshape(40, 32, 16) % 7
    ds.scale(0, mode="r+", compress="gzip")[0:32, 0:32, 0:16] = a[:32]  # s0/0-32_0-32_0-16.gz
    ds.scale(0, mode="r+")[32:40, 0:32, 0:16] = a[32:]  # plain
    ds.scale(1, mode="r+")[...] = a
    return a


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    top = tmp_path_factory.mktemp("serve")
    root = top / "ds"
    make_dataset(root)
    (top / "secret").write_text("outside the dataset")
    os.symlink(top / "secret", root / "s0" / "link-out")
    os.symlink(root / "info", root / "s0" / "link-in")
    with serve_in_thread(create_app(root)) as base:
        yield base, root


def get(base, path, **headers):
    return http_request(base, "GET", path, headers)


def test_info_and_cors(site):
    base, root = site
    status, h, body = get(base, "/info", Origin="http://example.org")
    assert status == 200 and body == (root / "info").read_bytes()
    assert h["access-control-allow-origin"] == "*"
    assert {"content-range", "content-length", "etag"} <= {
        x.strip().lower() for x in h["access-control-expose-headers"].split(",")}
    assert h["content-type"].startswith("application/json")
    status, h, body = http_request(base, "HEAD", "/info")
    assert status == 200 and body == b"" and int(h["content-length"]) == len(
        (root / "info").read_bytes())


def test_preflight_for_range(site):
    base, _ = site
    status, h, _ = http_request(base, "OPTIONS", "/s1/0.shard", {
        "Origin": "http://example.org", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "range"})
    assert status == 200, h
    assert "range" in h["access-control-allow-headers"].lower()
    assert "GET" in h["access-control-allow-methods"]


def test_range_on_a_shard(site):
    base, root = site
    shard = sorted((root / "s1").glob("*.shard"))[0]
    data = shard.read_bytes()
    status, h, body = get(base, f"/s1/{shard.name}", Range="bytes=3-18")
    assert status == 206 and body == data[3:19]
    assert h["content-range"] == f"bytes 3-18/{len(data)}"
    assert "content-encoding" not in h  # shards are never marked, whatever their bytes
    status, h, _ = get(base, f"/s1/{shard.name}", Range=f"bytes={len(data) + 5}-")
    assert status == 416 and h["content-range"] == f"bytes */{len(data)}"


def test_gzip_chunks_under_their_plain_names(site):
    base, root = site
    # name.gz on disk, requested as name
    status, h, body = get(base, "/s0/0-32_0-32_0-16")
    assert status == 200 and h["content-encoding"] == "gzip"
    assert body == (root / "s0" / "0-32_0-32_0-16.gz").read_bytes()
    assert ngp.open(root)[0:32, 0:32, 0:16].tobytes() == ngp.open(root)[0:32, 0:32, 0:16].tobytes()
    # gzip bytes under the plain name
    plain = root / "s0" / "32-40_0-32_0-16"
    original = plain.read_bytes()
    plain.write_bytes(gzip.compress(original, mtime=0))
    try:
        status, h, body = get(base, "/s0/32-40_0-32_0-16")
        assert status == 200 and h["content-encoding"] == "gzip" and gzip.decompress(
            body) == original
    finally:
        plain.write_bytes(original)
    status, h, _ = get(base, "/s0/32-40_0-32_0-16")
    assert status == 200 and "content-encoding" not in h


def test_etag_and_last_modified_give_304(site):
    base, _ = site
    status, h, _ = get(base, "/s0/32-40_0-32_0-16")
    assert status == 200 and h["etag"] and h["last-modified"]
    status, _, body = get(base, "/s0/32-40_0-32_0-16", **{"If-None-Match": h["etag"]})
    assert status == 304 and body == b""
    status, _, _ = get(base, "/s0/32-40_0-32_0-16", **{"If-Modified-Since": h["last-modified"]})
    assert status == 304
    status, _, _ = get(base, "/s0/32-40_0-32_0-16", **{"If-None-Match": '"other"'})
    assert status == 200


@pytest.mark.parametrize("path", [
    "/../secret", "/s0/../../secret", "/%2e%2e/secret", "/s0/%2e%2e/%2e%2e/secret",
    "/s0/..%2f..%2fsecret", "//etc/passwd", "/%2Fetc%2Fpasswd", "/s0/link-out",
    "/info%00", "/s0\\..\\..\\secret", "/s0/", "/s0", "/", "/./info", "/s0//info",
])
def test_nothing_outside_the_dataset(site, path):
    base, _ = site
    status, _, body = get(base, path)
    assert status in (400, 404), (path, status, body[:100])
    assert b"outside the dataset" not in body and b"root:" not in body


def test_a_symlink_inside_the_tree_is_served(site):
    base, root = site
    status, _, body = get(base, "/s0/link-in")
    assert status == 200 and body == (root / "info").read_bytes()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_refused(site, method):
    base, _ = site
    status, _, _ = http_request(base, method, "/info", body=b"x")
    assert status == 405


def test_missing_extra_says_what_to_install():
    with pytest.raises(ImportError, match=r'^no_such_module is needed here: pip install '
                                          r'"ngcodec\[view\]"$'):
        require("no_such_module", extra="view")


def test_viewer_url_names_the_layer_kind():
    url = viewer_url("http://127.0.0.1:9", {"type": "segmentation"}, "fib")
    assert url.startswith("http://127.0.0.1:9/v/ngcodec/#!")
    assert "%22segmentation%22" in url and "precomputed%3A%2F%2Fhttp%3A%2F%2F127.0.0.1%3A9" in url


def _start(args):
    proc = subprocess.Popen([sys.executable, "-m", "ngcodec.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.search(r"at (http://127\.0\.0\.1:\d+)/", line)
    if not m:
        proc.kill()
        raise AssertionError(f"no URL in {line!r}; stderr: {proc.stderr.read()}")
    return proc, m.group(1)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_the_command(tmp_path, workers):
    a = make_dataset(tmp_path / "ds")
    proc, base = _start(["serve", str(tmp_path / "ds"), "--port", "0", "--workers", str(workers)])
    try:
        for _ in range(4):  # several connections (with 2 workers, either may answer)
            status, _, body = get(base, "/info")
            assert status == 200 and body == (tmp_path / "ds" / "info").read_bytes()
        status, _, body = get(base, "/s0/32-40_0-32_0-16")
        assert status == 200 and ngp.open(tmp_path / "ds").codec.decode(
            body, (8, 32, 16)).T[..., 0].tolist() == a[32:].tolist()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_the_command_refuses_a_non_dataset(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ngcodec.cli", "serve", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "no info file" in proc.stderr, proc.stderr


@pytest.mark.slow
def test_view_serves_the_client_and_prints_its_url(tmp_path):
    make_dataset(tmp_path / "fib")
    proc, base = _start(["view", str(tmp_path / "fib"), "--port", "0"])
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"Neuroglancer: {base}/v/ngcodec/#!"), line
        assert "%22segmentation%22" in line and "%22fib%22" in line
        status, _, body = get(base, "/v/ngcodec/")
        assert status == 200 and b"<title>neuroglancer</title>" in body
        status, _, body = get(base, "/info")
        assert status == 200 and body == (tmp_path / "fib" / "info").read_bytes()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_transcode_serves_raw_labels_as_cseg(tmp_path):
    """--transcode: an unsharded raw uint64 scale is served as
    compressed_segmentation; seung-lab's decoder (a peer, not ngcodec) reads
    the chunks back to the stored labels; sharded scales stay as they are;
    a chunk rewritten on disk is encoded again."""
    import json as _json

    import compressed_segmentation as peer  # the test extra installs it
    from tests import common
    labels = common.fib25().T  # (X, Y, Z)
    info = {"type": "segmentation", "data_type": "uint64", "num_channels": 1, "scales": [
        {"key": "raw", "size": [64, 64, 64], "resolution": [8, 8, 8],
         "chunk_sizes": [[32, 32, 32]], "encoding": "raw"},
        {"key": "sh", "size": [64, 64, 64], "resolution": [8, 8, 8],
         "chunk_sizes": [[32, 32, 32]], "encoding": "raw", "sharding": SHARDED}]}
    ds = ngp.create(tmp_path / "ds", info)
    ds.scale(0, mode="r+", compress="gzip")[...] = labels
    ds.scale(1, mode="r+")[...] = labels
    with serve_in_thread(create_app(tmp_path / "ds", transcode=True)) as base:
        status, _, body = get(base, "/info")
        served = _json.loads(body)
        assert served["scales"][0]["encoding"] == "compressed_segmentation"
        assert served["scales"][0]["compressed_segmentation_block_size"] == [8, 8, 8]
        assert served["scales"][1]["encoding"] == "raw"  # sharded: as stored
        stored = sum(len(gzip.decompress(p.read_bytes())) for p in (tmp_path / "ds" / "raw").iterdir())
        sent = 0
        for x in (0, 32):
            for y in (0, 32):
                for z in (0, 32):
                    name = f"/raw/{x}-{x + 32}_{y}-{y + 32}_{z}-{z + 32}"
                    status, h, body = get(base, name)
                    assert status == 200 and "content-encoding" not in h
                    sent += len(body)
                    got = peer.decompress(body, (32, 32, 32), np.uint64, (8, 8, 8), order="F")
                    assert np.array_equal(got, labels[x:x + 32, y:y + 32, z:z + 32]), name
                    assert get(base, name, **{"If-None-Match": h["etag"]})[0] == 304
        assert stored / sent > 10, (stored, sent)
        status, _, body = get(base, "/sh/0.shard")
        assert status == 200 and body == (tmp_path / "ds" / "sh" / "0.shard").read_bytes()
        # rewritten on disk: encoded again
        ds.scale(0, mode="r+", compress="gzip")[0:32, 0:32, 0:32] = 5
        status, _, body = get(base, "/raw/0-32_0-32_0-32")
        got = peer.decompress(body, (32, 32, 32), np.uint64, (8, 8, 8), order="F")
        assert (got == 5).all()
