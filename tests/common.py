"""Shared helpers of the test suite: test data (FIB-25, synthetic label
volumes) and the shared checkers of ngcodec's own choices (the encoder's
compact layout, the decoder's block paths), built on the spec reader of
tests/spec.py.

Conventions: arrays are (C, Z, Y, X) or (Z, Y, X); chunk and block sizes are
(x, y, z).
"""

import contextlib
import functools
from pathlib import Path

import numpy as np

from tests import spec

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SHARED = REPO.parent / "shared"
DATA = SHARED / "data"
FIB25_PATH = DATA / "fib25_64x64x64_uint64.dat"
BUNDLED_FIB25 = REPO / "pyhost" / "ngcodec" / "data" / "fib25_64x64x64_uint64.cseg8"


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _fib25():
    if FIB25_PATH.exists():
        a = np.fromfile(FIB25_PATH, "<u8")
        assert a.size == 64 ** 3, f"{FIB25_PATH} has {a.size} values, expected 64**3"
        a = a.reshape(64, 64, 64)
    else:  # a checkout without ../shared: the package's copy, read by the spec reader
        a = spec.decode(BUNDLED_FIB25.read_bytes(), (64, 64, 64), (8, 8, 8), "uint64")[0]
        assert np.unique(a).size == 52, "the bundled FIB-25 chunk should hold 52 labels"
    a.flags.writeable = False
    return a


def fib25():
    """The FIB-25 64^3 chunk as a fresh (Z, Y, X) uint64 array."""
    return _fib25().copy()


def random_labels(rng, n, dtype):
    """*n* distinct random labels of *dtype* spanning its whole range."""
    dtype = np.dtype(dtype)
    high = 1 << (8 * dtype.itemsize)
    if n > high:  # the loop below would never end
        raise ValueError(f"{dtype.name} has {high} values, cannot give {n} distinct labels")
    labels = np.empty(0, dtype=dtype)
    while labels.size < n:
        more = rng.integers(0, high, size=2 * n + 8, dtype=dtype, endpoint=False)
        labels = np.unique(np.concatenate([labels, more]))
    return rng.permutation(labels)[:n]


@functools.lru_cache(maxsize=32)
def _voronoi(shape, n_seeds, dtype, seed, spacing):
    rng = np.random.default_rng(seed)
    spacing = np.asarray(spacing, dtype=np.float32)
    seeds = (rng.random((n_seeds, 3)) * np.asarray(shape)).astype(np.float32) * spacing
    labels = random_labels(rng, n_seeds, dtype)
    grid = np.indices(shape, dtype=np.float32).reshape(3, -1).T * spacing
    # |p - s|^2 = |p|^2 - 2 p.s + |s|^2; |p|^2 is the same for every seed.
    minus_2s = np.ascontiguousarray(-2.0 * seeds.T)
    s2 = (seeds ** 2).sum(axis=1)
    nearest = np.empty(grid.shape[0], dtype=np.int64)
    step = max(1, (1 << 21) // n_seeds)
    for start in range(0, grid.shape[0], step):
        d = grid[start:start + step] @ minus_2s
        d += s2
        nearest[start:start + step] = np.argmin(d, axis=1)
    a = labels[nearest].reshape(shape)
    a.flags.writeable = False
    return a


def voronoi(shape, n_seeds, dtype="uint64", seed=0, spacing=(1, 1, 1)):
    """A (Z, Y, X) label volume: *n_seeds* random seeds with distinct random
    labels; each voxel takes the label of its nearest seed (distances scaled
    by *spacing*, given as (z, y, x), for anisotropic cells)."""
    return _voronoi(tuple(int(s) for s in shape), int(n_seeds), np.dtype(dtype).name, int(seed),
                    tuple(float(s) for s in spacing)).copy()


def noise(shape, k, dtype="uint64", seed=0):
    """A (Z, Y, X) volume where each voxel is one of *k* random labels.

    When *k* is far above the number of voxels, each voxel simply gets a
    random label of the whole dtype range (nearly all distinct) instead of
    drawing a palette of *k* labels first."""
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    dtype = np.dtype(dtype)
    if k >= 4 * int(np.prod(shape)):
        return rng.integers(0, 1 << (8 * dtype.itemsize), size=shape, dtype=dtype)
    palette = random_labels(rng, k, dtype)
    return palette[rng.integers(0, k, size=shape)]


# --------------------------------------------------------------------------
# Checks of ngcodec's own choices, over the spec reader
# --------------------------------------------------------------------------

def check_encoder_structure(buf, array, block_size):
    """Asserts that *buf* is a compact, well-formed encoding of *array*
    ((C, Z, Y, X) or (Z, Y, X)) as the spec and ngcodec's encoder choices
    say: each block uses the smallest valid width for its distinct visible
    labels; its table is exactly those labels, ascending; identical tables
    are stored once per channel; every offset is below 2**24; the chunk holds
    nothing but channel offsets, block headers, tables and values; and the
    reference reader decodes it back to *array*.

    Returns the {bits: count} histogram."""
    a = np.asarray(array)
    if a.ndim == 3:
        a = a[np.newaxis]
    C, Z, Y, X = a.shape
    chunk_size = (X, Y, Z)
    dtype = a.dtype.newbyteorder("<")
    vw = dtype.itemsize // 4
    bx, by, bz = block_size
    volume = bx * by * bz
    assert len(buf) % 4 == 0
    n = len(buf) // 4
    headers = spec.block_headers(buf, chunk_size, block_size, C)
    expected_words = C
    hist = {}
    for c, (off, rows) in enumerate(headers):
        tables = {}  # table content -> offset
        expected_words += 2 * rows.shape[0]
        for b, (x0, y0, z0), (vx, vy, vz) in spec.blocks(chunk_size, block_size):
            table_offset, bits, values_offset = (int(v) for v in rows[b])
            hist[bits] = hist.get(bits, 0) + 1
            labels = np.unique(a[c, z0:z0 + vz, y0:y0 + vy, x0:x0 + vx])
            assert bits == spec.min_bits(labels.size), (
                f"channel {c} block {b}: {labels.size} labels encoded with {bits} bits")
            assert table_offset < 1 << 24 and values_offset < 1 << 24
            assert off + table_offset + labels.size * vw <= n
            table = spec.table_at(buf, off + table_offset, labels.size, dtype)
            assert np.array_equal(table, labels), (
                f"channel {c} block {b}: table {table} is not the sorted labels {labels}")
            key = table.tobytes()
            if key in tables:
                assert tables[key] == table_offset, (
                    f"channel {c} block {b}: identical table stored twice "
                    f"(offsets {tables[key]} and {table_offset})")
            else:
                tables[key] = table_offset
                expected_words += labels.size * vw
            expected_words += (bits * volume + 31) // 32
    assert n == expected_words, f"chunk has {n} words, a compact encoding has {expected_words}"
    decoded = spec.decode(buf, chunk_size, block_size, dtype, C)
    assert np.array_equal(decoded, a)
    return hist


DECODER_SCRATCH_INDICES = 32768  # SCRATCH_INDICES in wasm_src/cseg_decode.c


def decode_paths(buf, chunk_size, block_size, dtype, num_channels=1):
    """Which branch of decode_block (wasm_src/cseg_decode.c) decodes each block,
    worked out from the chunk's bytes alone (keep it in step with the C):
    per block, a dict of channel, block, bits, path, entries (table entries
    up to the end of the channel), partial_z, table_end (the table's 2^bits
    entries end exactly at the end of the chunk). Paths: fill, simd,
    simd_words, simd_same_high, simd_mixed_high, fused, bytes, scratch,
    scratch_checked, per_voxel, per_voxel_checked."""
    vw = np.dtype(dtype).itemsize // 4
    w = np.frombuffer(bytes(buf), "<u4")
    n = w.size
    bx, by, bz = block_size
    volume = bx * by * bz
    out = []
    for c, (off, rows) in enumerate(spec.block_headers(buf, chunk_size, block_size, num_channels)):
        m = n - off
        for b, _, (vx, vy, vz) in spec.blocks(chunk_size, block_size):
            table_offset, bits, _ = (int(v) for v in rows[b])
            entries = (m - table_offset) // vw
            info = dict(channel=c, block=b, bits=bits, entries=entries, partial_z=vz < bz,
                        table_end=bits != 0 and table_offset + (vw << bits) == m)
            check = entries < (1 << bits)
            if bits == 0:
                path = "fill"
            elif not check and bits <= 4 and bx == vx == 8 and by == vy == 8:
                if vw == 1:
                    path = "simd"
                elif bits <= 2:
                    path = "simd_words"
                else:
                    start = off + table_offset
                    highs = w[start + 1:start + 2 * (1 << bits):2]
                    path = "simd_same_high" if (highs == highs[0]).all() else "simd_mixed_high"
            elif not check and (32 // bits) % bx == 0:
                path = "fused"
            elif not check and bits in (8, 16):
                path = "bytes"
            elif volume <= DECODER_SCRATCH_INDICES:
                path = "scratch_checked" if check else "scratch"
            else:
                path = "per_voxel_checked" if check else "per_voxel"
            info["path"] = path
            out.append(info)
    return out


def write_sharded(root, key, sharding, chunks, writer):
    """Writes *chunks* ({chunk id: bytes}) as the shards of *key* under
    *root* with *sharding* (a sharding dict), by "tensorstore" (its
    neuroglancer_uint64_sharded kvstore) or "ngcodec" (ShardedStore)."""
    import struct

    from ngcodec.precomputed.sharded import ShardedStore
    from ngcodec.precomputed.storage import LocalStorage
    if writer == "tensorstore":
        import tensorstore as ts
        kv = ts.KvStore.open({"driver": "neuroglancer_uint64_sharded",
                              "base": f"file://{root}/{key}/", "metadata": sharding}).result()
        with ts.Transaction() as txn:
            for cid, value in chunks.items():
                kv.with_transaction(txn)[struct.pack(">Q", cid)] = value
    else:
        ShardedStore(LocalStorage(root), key, sharding).write_shards(chunks)


@contextlib.contextmanager
def serve_in_thread(app):
    """Runs the ASGI *app* on uvicorn in a thread on a free loopback port;
    yields ``http://127.0.0.1:PORT``."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           lifespan="off", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def http_request(base, method, path, headers=None, body=None, chunked=False):
    """One request with *path* sent as is (no normalisation): ``(status,
    {lowercase header: value}, body)``. *chunked*: the body goes in 4 KiB
    pieces with chunked transfer encoding (no Content-Length)."""
    import http.client
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        if chunked:
            conn.request(method, path, body=iter([body[i:i + 4096] for i in
                                                  range(0, len(body), 4096)]),
                         headers=headers or {}, encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def require_tool(tool):
    """The path of *tool*; the test fails (never skips) without it."""
    import shutil
    path = shutil.which(tool)
    assert path, f"{tool} is required for the JavaScript tests (see build_scripts/test.sh)"
    return path


def run_checked(cmd, **kwargs):
    """Runs cmd; on failure the assertion shows its output (the ends of it)."""
    import subprocess
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-6000:]}")
    return proc


def run_script(script, *args, timeout=600):
    """``python script args...`` from the repository root, output captured
    (the benchmarks' quick runs)."""
    import subprocess
    import sys
    return subprocess.run([sys.executable, str(script), *args], capture_output=True,
                          text=True, encoding="utf-8", timeout=timeout, cwd=REPO)


def bench_rows(script, markdown, *args, min_rows):
    """Runs a benchmark's ``--list-rows``, then ``--quick --markdown
    MARKDOWN *args``, checking that both exit 0, that the keys are unique
    and more than *min_rows*, that the quick run printed every row once, in
    order, and that the markdown has a row per key. Returns ``(keys,
    {key: printed line}, the quick run's CompletedProcess, the markdown)``."""
    listed = run_script(script, "--list-rows", timeout=120)
    assert listed.returncode == 0, listed.stderr
    keys = listed.stdout.split()
    assert len(keys) == len(set(keys)) > min_rows

    proc = run_script(script, "--quick", "--markdown", str(markdown), *args)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "differ from expected_keys" not in proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    printed = [line.split()[0] for line in proc.stdout.splitlines()
               if line.strip() and line.split()[0] in keys]
    assert printed == keys, "rows missing or out of order"
    text = markdown.read_text(encoding="utf-8")
    for key in keys:
        assert f"| {key} |" in text, key
    return keys, lines, proc, text


def jpeg_frame_kind(buf):
    """"baseline" or "progressive": the start-of-frame marker of a JPEG
    (walked segment by segment from SOI; SOF0/SOF1 baseline, SOF2 progressive)."""
    assert buf[:2] == b"\xff\xd8", "not a JPEG"
    i = 2
    while i + 4 <= len(buf):
        assert buf[i] == 0xFF, f"no marker at byte {i}"
        marker = buf[i + 1]
        if marker in (0xC0, 0xC1):
            return "baseline"
        if marker == 0xC2:
            return "progressive"
        assert marker != 0xDA, "scan data before a start-of-frame marker"
        i += 2 + int.from_bytes(buf[i + 2:i + 4], "big")
    raise AssertionError("no start-of-frame marker")


def seunglab_encode(array, block_size):
    """seung-lab's compressed-segmentation package's encoding of a (C, Z, Y, X)
    array (*block_size* x, y, z).

    The package takes one channel as an (x, y, z) Fortran-order array
    (order="F"). Its 4-D path crashes for more than one channel (2.3.3), so
    channels are encoded one by one and joined under a channel header of
    word offsets, as the format defines it.
    """
    import compressed_segmentation as cseg
    channels = [cseg.compress(np.asfortranarray(c.T), block_size=tuple(block_size), order="F")
                for c in array]
    # Each single-channel buffer starts with its own 1-word header.
    bodies = [c[4:] for c in channels]
    offsets, at = [], len(bodies)
    for body in bodies:
        offsets.append(at)
        at += len(body) // 4
    return np.asarray(offsets, "<u4").tobytes() + b"".join(bodies)


def seunglab_decode(data, chunk_size, block_size, dtype, num_channels):
    """The package's decoding of *data* into a (C, Z, Y, X) array
    (*chunk_size* and *block_size* x, y, z)."""
    import compressed_segmentation as cseg
    data = bytes(data)
    words = np.frombuffer(data, "<u4")
    out = []
    for c in range(num_channels):
        start = int(words[c])
        single = np.asarray([1], "<u4").tobytes() + data[4 * start:]
        xyz = cseg.decompress(single, tuple(chunk_size), np.dtype(dtype), tuple(block_size),
                              order="F")
        out.append(np.asarray(xyz).T)
    return np.stack(out)
