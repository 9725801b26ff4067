"""Checked uploads (ngcodec serve --allow-upload): token, name, size and a
sandboxed decode before anything is written; a rejection leaves every file
as it was; concurrent uploads into one shard all land."""

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import ngcodec.precomputed as ngp
from ngcodec import compressed_segmentation as cseg
from ngcodec.server import create_app
from tests.common import http_request, serve_in_thread
from tests.test_serve import make_dataset

TOKEN = "s3cret-token"
# The long runs of the closing note: NGCODEC_LONG_RUNS='{"requests": 200, "uploads": 10000}'
LONG_RUNS = json.loads(os.environ.get("NGCODEC_LONG_RUNS", "{}"))
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def put(base, path, body, headers=None, chunked=False):
    """``(status, the JSON reply or None)`` of a PUT."""
    status, _, data = http_request(base, "PUT", path, headers, body, chunked)
    return status, json.loads(data) if data else None


def snapshot(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "ds"
    a = make_dataset(root)  # s0: cseg uint32 32x32x16 chunks (unsharded); s1: raw, sharded
    with serve_in_thread(create_app(root, upload_token=TOKEN)) as base:
        yield base, root, a


def encode_cseg(labels_xyz):
    return cseg.encode(np.ascontiguousarray(labels_xyz.T), (8, 8, 8))


REJECTIONS = [
    ("no token", "/s0/0-32_0-32_0-16", {}, None, 401, "Bearer"),
    ("wrong token", "/s0/0-32_0-32_0-16", {"Authorization": "Bearer nope"}, None, 403, "wrong"),
    ("unknown scale", "/s9/0-32_0-32_0-16", AUTH, None, 404, "no scale 's9'"),
    ("off the grid", "/s0/1-33_0-32_0-16", AUTH, None, 400, "not a chunk name"),
    ("not clipped", "/s0/32-64_0-32_0-16", AUTH, None, 400, "not a chunk name"),
    ("outside", "/s0/64-96_0-32_0-16", AUTH, None, 400, "not a chunk name"),
    ("garbage name", "/s0/info", AUTH, None, 400, "not a chunk name"),
    ("traversal", "/s0/../info", AUTH, None, 404, "no scale"),
    ("corrupt", "/s0/32-40_0-32_0-16", AUTH, b"\x01\x00\x00\x00" + bytes(60), 400, "s0/32-40"),
    ("raw too short", "/s1/0-8_0-8_0-8", AUTH, bytes(100), 400, "raw decode"),
]


@pytest.mark.parametrize("case", REJECTIONS, ids=[c[0] for c in REJECTIONS])
def test_rejected_uploads_change_nothing(site, case):
    base, root, _ = site
    _, path, headers, body, status, words = case
    before = snapshot(root)
    got, reply = put(base, path, body if body is not None else encode_cseg(
        np.ones((32, 32, 16), np.uint32)), headers)
    assert got == status, reply
    assert words in reply["error"], reply
    if status == 400 and "decode" in reply["error"]:
        assert reply["exception"] == "InvalidFormatError" and reply["status_name"], reply
    assert snapshot(root) == before


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "streamed"])
def test_oversized_bodies_refused(site, chunked):
    base, root, _ = site
    before = snapshot(root)
    status, reply = put(base, "/s1/0-8_0-8_0-8", bytes(8 * 8 * 8 * 4 + 1), AUTH, chunked)
    assert status == 413 and "2048 bytes" in reply["error"], reply
    assert snapshot(root) == before


def test_good_uploads_land(site):
    base, root, a = site
    new = np.full((8, 32, 16), 5, np.uint32)
    new[:, 3:7, :] = 11
    status, reply = put(base, "/s0/32-40_0-32_0-16", encode_cseg(new), AUTH)
    assert status == 201, reply
    got = ngp.open(root, scale="s0")[...]
    assert np.array_equal(got[32:40, :, :, 0], new) and np.array_equal(got[:32, :, :, 0], a[:32])
    # a chunk stored as name.gz is replaced, not shadowed
    status, _ = put(base, "/s0/0-32_0-32_0-16", encode_cseg(np.full((32, 32, 16), 9, np.uint32)),
                    AUTH, chunked=True)
    assert status == 201
    assert (ngp.open(root, scale="s0")[0:32, :, :] == 9).all()
    assert not (root / "s0" / "0-32_0-32_0-16.gz").exists()


def test_concurrent_uploads_into_one_shard_all_land(site):
    base, root, a = site
    vol = ngp.open(root, scale="s1")
    shard_of = {}
    for gx in range(5):
        for gy in range(4):
            for gz in range(2):
                cid = vol._cids([(gx, gy, gz)])[0]
                shard_of[(gx, gy, gz)] = vol._store.shard_of(cid)[0]
    target = [g for g, s in shard_of.items() if s == 0]
    assert len(target) >= 8

    def upload(grid):
        x, y, z = (8 * g for g in grid)
        body = np.full((1, 8, 8, 8), 1000 + grid[0] * 100 + grid[1] * 10 + grid[2],
                       np.uint32).tobytes()
        return put(base, f"/s1/{x}-{x + 8}_{y}-{y + 8}_{z}-{z + 8}", body, AUTH)[0]

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(upload, target)) == [201] * len(target)
    got = ngp.open(root, scale="s1")[...][..., 0]
    for g in shard_of:
        x, y, z = (8 * v for v in g)
        want = 1000 + g[0] * 100 + g[1] * 10 + g[2] if g in target else a[x:x + 8, y:y + 8,
                                                                           z:z + 8]
        assert np.array_equal(got[x:x + 8, y:y + 8, z:z + 8], np.broadcast_to(
            want, (8, 8, 8))), g


@pytest.mark.parametrize("args, words", [
    (["--allow-upload"], "go together"),
    (["--token-file", "TOKEN"], "go together"),
    (["--allow-upload", "--token-file", "TOKEN", "--workers", "2"], "--workers 1"),
    (["--allow-upload", "--token-file", "EMPTY"], "the token file is empty"),
])
def test_upload_flags_checked_before_serving(tmp_path, args, words):
    import subprocess
    import sys
    make_dataset(tmp_path / "ds")
    (tmp_path / "TOKEN").write_text(f"  {TOKEN}\n")
    (tmp_path / "EMPTY").write_text(" \n")
    args = [str(tmp_path / a) if a in ("TOKEN", "EMPTY") else a for a in args]
    proc = subprocess.run([sys.executable, "-m", "ngcodec.cli", "serve", str(tmp_path / "ds"),
                           "--port", "0", *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and words in proc.stderr, proc.stderr


@pytest.mark.slow
def test_the_command_with_uploads(tmp_path):
    from tests.test_serve import _start
    make_dataset(tmp_path / "ds")
    (tmp_path / "token").write_text(f"{TOKEN}\n")
    proc, base = _start(["serve", str(tmp_path / "ds"), "--port", "0", "--allow-upload",
                         "--token-file", str(tmp_path / "token")])
    try:
        status, _ = put(base, "/s0/32-40_0-32_0-16", encode_cseg(np.full((8, 32, 16), 4,
                                                                          np.uint32)), AUTH)
        assert status == 201
        assert put(base, "/s0/32-40_0-32_0-16", b"x", {"Authorization": "Bearer no"})[0] == 403
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert (ngp.open(tmp_path / "ds")[32:40, :, :] == 4).all()


def post(base, path, body, headers=AUTH):
    status, _, data = http_request(base, "POST", path, headers, body)
    return status, json.loads(data) if data else None


@pytest.mark.parametrize("key", ["s0", "s1"], ids=["unsharded cseg", "sharded raw"])
def test_post_a_raw_box(site, key):
    """The server encodes a box of raw voxels; chunks it covers partly are
    merged; concurrent boxes in one chunk (or shard) all land."""
    base, root, a = site
    want = a.copy()
    boxes = [((3 + 4 * i, 5, 2), (6 + 4 * i, 30, 13)) for i in range(8)]  # all in chunk(s) 0..1
    def send(i):
        (x0, y0, z0), (x1, y1, z1) = boxes[i]
        v = np.full((x1 - x0, y1 - y0, z1 - z0), 100 + i, np.uint32)
        return post(base, f"/{key}/{x0}-{x1}_{y0}-{y1}_{z0}-{z1}",
                    np.ascontiguousarray(v.T).astype("<u4").tobytes())[0]
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(send, range(8))) == [201] * 8
    for i, ((x0, y0, z0), (x1, y1, z1)) in enumerate(boxes):
        want[x0:x1, y0:y1, z0:z1] = 100 + i
    assert np.array_equal(ngp.open(root, scale=key)[...][..., 0], want)


@pytest.mark.parametrize("path, body, status, words", [
    ("/s0/0-4_0-4_0-4", bytes(4 * 4 * 4 * 4 - 1), 400, "the body has 255 bytes; 256 bytes"),
    ("/s0/0-4_0-4_0-4", bytes(4 * 4 * 4 * 4 + 1), 413, "256 bytes"),
    ("/s0/0-4_0-4_30-34", bytes(256), 400, "outside the bounds"),
    ("/s0/4-4_0-4_0-4", b"", 400, "empty or outside"),
    ("/s0/box", b"", 400, "is not a box"),
])
def test_bad_posts_change_nothing(site, path, body, status, words):
    base, root, _ = site
    before = snapshot(root)
    got, reply = post(base, path, body)
    assert got == status and words in reply["error"], reply
    assert post(base, path, body, {"Authorization": "Bearer x"})[0] == 403
    assert snapshot(root) == before


@pytest.mark.slow
def test_sigkill_during_uploads_leaves_old_or_new(tmp_path):
    """The server killed with SIGKILL in the middle of a stream of uploads
    (PUT chunks and POST boxes, unsharded and sharded): every file holds its
    old or its new content (ngcodec verify passes, each chunk reads as one
    of the values sent or the original), no temporary file is served, and
    the restarted server serves and accepts uploads."""
    import os
    import signal
    import threading
    import time

    from ngcodec import cli
    from tests.test_serve import _start
    root = tmp_path / "ds"
    a = make_dataset(root)
    (tmp_path / "token").write_text(TOKEN)
    args = ["serve", str(root), "--port", "0", "--allow-upload", "--token-file",
            str(tmp_path / "token")]
    proc, base = _start(args)
    # per chunk: the values tried (sent, maybe landed) and acknowledged (201)
    tried, acked, stop = {}, {}, threading.Event()
    lock = threading.Lock()

    def stream(seed):
        rng = np.random.default_rng(seed)
        while not stop.is_set():
            value = int(rng.integers(1 << 20, 1 << 30))  # never an original label
            if rng.random() < 0.5:
                x = 8 * int(rng.integers(0, 5))
                chunk, path = ("s1", x), f"/s1/{x}-{x + 8}_0-8_0-8"
                body = np.full((1, 8, 8, 8), value, "<u4").tobytes()
            else:
                chunk, path = ("s0", 32), "/s0/32-40_0-32_0-16"
                body = encode_cseg(np.full((8, 32, 16), value, np.uint32))
            with lock:
                tried.setdefault(chunk, set()).add(value)
            try:
                status, _ = put(base, path, body, AUTH)
            except OSError:  # the server is gone
                return
            assert status == 201
            with lock:
                acked.setdefault(chunk, set()).add(value)

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=20)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert sum(map(len, acked.values())) > 10, acked

    # Every file is old or new: verify passes, and each chunk holds its
    # original labels or one value that was sent to it (the original only
    # if no upload to it was acknowledged).
    assert cli.main(["verify", str(root), "--no-progress"]) == 0
    chunks = {("s0", 32): (ngp.open(root, scale="s0")[32:40, :, :][..., 0], a[32:40])}
    s1 = ngp.open(root, scale="s1")[0:40, 0:8, 0:8][..., 0]
    chunks.update({("s1", x): (s1[x:x + 8], a[x:x + 8, 0:8, 0:8]) for x in range(0, 40, 8)})
    for chunk, (got, original) in chunks.items():
        if np.array_equal(got, original):
            assert not acked.get(chunk), chunk
        else:
            assert len(np.unique(got)) == 1 and int(got.flat[0]) in tried.get(chunk, ()), chunk

    # A leftover temporary file (if the kill left one) is never served.
    leftovers = [p for p in root.rglob("*") if ".ngcodec-tmp-" in p.name]
    (root / "s0" / ".32-40_0-32_0-16.ngcodec-tmp-000000000000").write_bytes(b"half")
    proc, base = _start(args)
    try:
        status, _, _ = http_request(base, "GET", "/s0/.32-40_0-32_0-16.ngcodec-tmp-000000000000")
        assert status == 404
        assert http_request(base, "GET", "/info")[0] == 200
        assert put(base, "/s0/32-40_0-32_0-16",
                   encode_cseg(np.full((8, 32, 16), 7, np.uint32)), AUTH)[0] == 201
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert (ngp.open(root, scale="s0")[32:40, :, :] == 7).all()
    print(f"{sum(map(len, acked.values()))} uploads acknowledged before the kill; "
          f"{len(leftovers)} temporary file(s) left")


@pytest.mark.slow
def test_64_clients_reading_and_uploading(tmp_path):
    """64 concurrent clients, 20 requests each: GETs of a chunk that 8 of
    them keep replacing (PUTs: each write a rename), and Range GETs of a
    shard. Zero errors, every body one whole version of its file, the last
    chunk one of the acknowledged uploads."""
    import threading
    import time

    root = tmp_path / "ds"
    a = make_dataset(root)
    shard = sorted((root / "s1").glob("*.shard"))[0]
    shard_bytes = shard.read_bytes()
    codec = ngp.open(root, scale="s0").codec
    shape = (8, 32, 16)
    acked, lock = set(), threading.Lock()
    per_client = LONG_RUNS.get("requests", 20)

    def client(i):
        errors = []
        rng = np.random.default_rng(i)
        for k in range(per_client):
            if i % 8 == 0:  # 8 uploaders
                value = 1000 * i + k + 1
                status, _ = put(base, "/s0/32-40_0-32_0-16",
                                encode_cseg(np.full(shape, value, np.uint32)), AUTH)
                if status != 201:
                    errors.append(("put", status))
                with lock:
                    acked.add(value)
            elif rng.random() < 0.5:
                status, _, body = http_request(base, "GET", "/s0/32-40_0-32_0-16")
                got = codec.decode(body, shape) if status == 200 else None
                if got is None or not (np.array_equal(got.T[..., 0], a[32:40]) or
                                       len(np.unique(got)) == 1):
                    errors.append(("chunk", status))
            else:
                lo = int(rng.integers(0, len(shard_bytes) - 64))
                status, h, body = http_request(base, "GET", f"/s1/{shard.name}",
                                               {"Range": f"bytes={lo}-{lo + 63}"})
                if status != 206 or body != shard_bytes[lo:lo + 64]:
                    errors.append(("range", status))
        return errors

    import gc
    import os
    with serve_in_thread(create_app(root, upload_token=TOKEN)) as base:
        fds = len(os.listdir("/proc/self/fd"))
        t0 = time.monotonic()
        with ThreadPoolExecutor(64) as pool:
            results = list(pool.map(client, range(64)))
        elapsed = time.monotonic() - t0
        gc.collect()
        leaked = len(os.listdir("/proc/self/fd")) - fds
    errors = [e for r in results for e in r]
    assert not errors, errors[:10]
    assert leaked < 8, f"{leaked} file descriptors more after {64 * per_client} requests"
    final = ngp.open(root, scale="s0")[32:40, :, :]
    assert len(np.unique(final)) == 1 and int(final.flat[0]) in acked
    print(f"64 clients x {per_client} requests in {elapsed:.2f} s "
          f"({64 * per_client / elapsed:.0f} requests/s)")


def _rss():
    with open("/proc/self/status") as f:
        return int(next(l for l in f if l.startswith("VmRSS")).split()[1]) << 10


@pytest.mark.slow
def test_a_thousand_hostile_uploads(site):
    """1,000 uploads: random valid chunks interleaved with truncated, bit-
    flipped, extended, oversized and bomb ones. The independent spec reader
    (tests/spec.py) says which are valid: each of those lands (the chunk
    then serves those bytes), each other one gets a 4xx with a reason and
    changes nothing; the server's resident memory stays bounded."""
    from tests import spec
    base, root, _ = site
    path, shape = "/s0/32-40_0-32_0-16", (8, 32, 16)
    codec = ngp.open(root, scale="s0").codec
    cap = codec.max_encoded(shape)
    rng = np.random.default_rng(7)
    counts = {}
    rss0 = _rss()
    current = (root / "s0" / "32-40_0-32_0-16").read_bytes()
    for i in range(LONG_RUNS.get("uploads", 1000)):
        good = encode_cseg(rng.integers(0, int(rng.integers(1, 3000)), shape).astype(np.uint32))
        kind = ["good", "truncated", "flipped", "extended", "oversized", "bomb"][
            int(rng.choice(6, p=[0.3, 0.15, 0.3, 0.1, 0.05, 0.1]))]
        body = bytearray(good)
        if kind == "truncated":
            body = body[:int(rng.integers(0, len(body)))]
        elif kind == "flipped":
            for _ in range(int(rng.integers(1, 6))):
                j = int(rng.integers(0, len(body)))
                body[j] ^= 1 << int(rng.integers(0, 8))
        elif kind == "extended":
            body += bytes(rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8))
        elif kind == "oversized":
            body = bytes(cap + 1 + int(rng.integers(0, 1000)))
        elif kind == "bomb":  # block headers claiming tables and values far past the end
            body = bytearray(np.array([1] + [0xFFFFFF, 0x20FFFFFF] * 64, "<u4").tobytes())
        body = bytes(body)
        try:
            spec.decode(body, shape, (8, 8, 8), "uint32")
            valid = len(body) <= cap
        except Exception:  # noqa: BLE001 - the spec reader refuses it
            valid = False
        status, reply = put(base, path, body, AUTH)
        counts[(kind, status)] = counts.get((kind, status), 0) + 1
        if valid:
            assert status == 201, (i, kind, reply)
            current = body
        else:
            assert status in (400, 413) and reply["error"], (i, kind, status, reply)
        if valid or i % 50 == 0:
            s, _, served = http_request(base, "GET", path)
            assert s == 200 and served == current, (i, kind)
    grown = _rss() - rss0
    print(sorted(counts.items()), f"RSS +{grown >> 20} MiB")
    assert grown < 64 << 20, grown
    assert {k for k, _ in counts} >= {"good", "truncated", "flipped", "bomb", "oversized"}
    assert any(k == "flipped" and s == 201 for k, s in counts) and any(
        k == "flipped" and s == 400 for k, s in counts), counts


def test_a_slow_body_is_cut_off(tmp_path):
    """A client that dribbles its body gets 408 once the deadline passes,
    and nothing is written; the server goes on serving."""
    import socket
    import time
    root = tmp_path / "ds"
    make_dataset(root)
    before = snapshot(root)
    with serve_in_thread(create_app(root, upload_token=TOKEN, upload_body_seconds=0.5)) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"PUT /s1/0-8_0-8_0-8 HTTP/1.1\r\nHost: x\r\n"
                      b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
                      b"Content-Length: 2048\r\n\r\n")
            t0 = time.monotonic()
            reply = b""
            for _ in range(40):
                try:
                    s.sendall(b"\0")
                except OSError:
                    break
                s.settimeout(0.1)
                try:
                    reply += s.recv(4096)
                    if reply:
                        break
                except socket.timeout:
                    pass
            elapsed = time.monotonic() - t0
        assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
        assert b"did not arrive within 0.5 s" in reply and elapsed < 3, elapsed
        assert http_request(base, "GET", "/info")[0] == 200
    assert snapshot(root) == before
