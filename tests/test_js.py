"""The JavaScript host (pyhost/ngcodec/web) under Node and headless Chromium.

- Fixtures are written here, by the compressed-segmentation package, for the
  Node tests in tests/js/ to decode; Node's own encodings come back and are
  decoded here by that package (interoperate both ways).
- The browser test starts the demo server as documented
  (``python examples/web/serve.py --port 0``), drives Debian's Chromium
  through playwright-core (tests/js/browser_check.mjs) and checks the colours
  drawn for whole z slices against the raw FIB-25 labels. The server's
  allow-list is tested in-process.

Node, npm and Chromium are required: these tests fail, not skip, without
them (build_scripts/test.sh installs them).
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from tests import common
import numpy as np
import pytest

import ngcodec

REPO = Path(__file__).resolve().parents[1]
JS_TESTS = REPO / "tests" / "js"
DEMO = REPO / "examples" / "web"
SERVE = DEMO / "serve.py"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


require = common.require_tool
run = common.run_checked


@pytest.fixture(scope="module")
def node_modules() -> Path:
    require("node")
    npm = require("npm")
    if not (JS_TESTS / "node_modules" / "playwright-core").is_dir():
        run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=JS_TESTS, timeout=600)
    return JS_TESTS / "node_modules"


def fib25_labels() -> np.ndarray:
    """The FIB-25 labels as a (z, y, x) uint64 array."""
    return common.fib25()


# --------------------------------------------------------------------------
# Fixtures from another implementation


def synthetic(shape_czyx, dtype, distinct, seed) -> np.ndarray:
    """Labels in runs along x from a random palette, 0 included."""
    rng = np.random.default_rng(seed)
    high = np.iinfo(dtype).max
    palette = rng.integers(1, high, size=distinct, dtype=dtype, endpoint=True)
    palette[0] = 0
    size = int(np.prod(shape_czyx))
    starts = np.sort(rng.choice(size, size=max(1, size // 12), replace=False))
    starts[0] = 0
    runs = rng.integers(0, distinct, size=len(starts))
    idx = np.repeat(runs, np.diff(np.append(starts, size)))
    return palette[idx].reshape(shape_czyx)


# name -> (array (C, Z, Y, X), block size (x, y, z))
def fixture_cases():
    fib = fib25_labels()[None]
    return {
        "fib25_8x8x8_uint64": (fib, (8, 8, 8)),
        "fib25_16x8x4_uint64": (fib, (16, 8, 4)),
        "fib25_4x4x4_uint32": (fib.astype(np.uint32), (4, 4, 4)),
        "synthetic_37x19x11_16x8x4_uint32": (synthetic((1, 11, 19, 37), np.uint32, 9, 1), (16, 8, 4)),
        "synthetic_20x30x9_8x8x8_uint64": (synthetic((1, 9, 30, 20), np.uint64, 40, 2), (8, 8, 8)),
        "synthetic_9x7x5_2x2x2_uint64": (synthetic((1, 5, 7, 9), np.uint64, 5, 3), (2, 2, 2)),
        "synthetic_1x1x50_8x8x8_uint32": (synthetic((1, 50, 1, 1), np.uint32, 3, 4), (8, 8, 8)),
        "synthetic_3ch_20x13x7_8x4x2_uint32": (synthetic((3, 7, 13, 20), np.uint32, 12, 5), (8, 4, 2)),
        "synthetic_2ch_17x9x5_4x4x4_uint64": (synthetic((2, 5, 9, 17), np.uint64, 6, 6), (4, 4, 4)),
    }


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("js_fixtures")
    cases, manifest = fixture_cases(), []
    for name, (array, block) in cases.items():
        encoded = common.seunglab_encode(array, block)
        # Pin the fixture to the format before handing it over.
        np.testing.assert_array_equal(
            common.seunglab_decode(encoded, array.shape[:0:-1], block, array.dtype, array.shape[0]), array
        )
        (out / f"{name}.cseg").write_bytes(encoded)
        (out / f"{name}.raw").write_bytes(array.astype(array.dtype.newbyteorder("<")).tobytes())
        manifest.append({
            "name": name,
            "chunkSize": list(array.shape[:0:-1]),  # (x, y, z)
            "blockSize": list(block),
            "dtype": array.dtype.name,
            "numChannels": array.shape[0],
            "cseg": f"{name}.cseg",
            "raw": f"{name}.raw",
        })
    (out / "manifest.json").write_text(json.dumps({"cases": manifest}, indent=1))
    return out, cases


@pytest.mark.node
def test_node_suite_and_interop(node_modules, fixture_dir):
    """node --test tests/js/*.test.mjs passes, and ngcodec.js's encodings of the fixture
    arrays decode correctly with the compressed-segmentation package."""
    out, cases = fixture_dir
    env = {**os.environ, "NGCODEC_JS_FIXTURES": str(out)}
    # Files, not the folder: Node 21+ reads --test arguments as globs.
    files = sorted(str(p) for p in JS_TESTS.glob("*.test.mjs"))
    assert files, f"no Node tests in {JS_TESTS}"
    proc = run([require("node"), "--test", *files], cwd=REPO, env=env, timeout=900)
    assert "# fail 0" in proc.stdout and "# skipped 0" in proc.stdout, proc.stdout[-3000:]
    for name, (array, block) in cases.items():
        ours = (out / "ours" / f"{name}.cseg").read_bytes()
        decoded = common.seunglab_decode(ours, array.shape[:0:-1], block, array.dtype, array.shape[0])
        np.testing.assert_array_equal(decoded, array, err_msg=name)


# --------------------------------------------------------------------------
# The demo page in Chromium


def fmix32(h: int) -> int:
    """MurmurHash3's 32-bit finaliser, as in examples/web/colors.js."""
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    h ^= h >> 16
    return h


def label_color(label: int) -> tuple[int, int, int]:
    """The demo's documented colour of a label (examples/web/colors.js)."""
    if label == 0:
        return (0, 0, 0)
    h = fmix32(label & 0xFFFFFFFF)
    return (64 + (h & 255) % 192, 64 + ((h >> 8) & 255) % 192, 64 + ((h >> 16) & 255) % 192)


def test_label_color_matches_colors_js(node_modules):
    """The Python copy of the colour function agrees with colors.js."""
    labels = [0, 1, 2, 255, 65536, 2**32 - 1, 2**32, 2**32 + 5, 2**64 - 1, 150303]
    script = (
        "import { labelColor } from './examples/web/colors.js';"
        f"console.log(JSON.stringify({json.dumps([str(v) for v in labels])}"
        ".map((v) => labelColor(BigInt(v)))));"
    )
    proc = run([require("node"), "--input-type=module", "-e", script], cwd=REPO, timeout=60)
    assert json.loads(proc.stdout) == [list(label_color(v)) for v in labels]


def load_serve():
    """examples/web/serve.py as a module (it is an example, not a package)."""
    spec = importlib.util.spec_from_file_location("ngcodec_demo_serve", SERVE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def demo_server():
    """The documented command, on a free port; yields the URL it prints."""
    proc = subprocess.Popen(
        [sys.executable, str(SERVE), "--host", "127.0.0.1", "--port", "0", "--quiet"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("ngcodec demo at http://127.0.0.1:"), (line, proc.stderr.read())
        yield line.split()[3]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


@pytest.fixture(scope="module")
def demo_routes():
    """An in-process server of serve.py: (get(path) -> (status, headers, body), module)."""
    serve = load_serve()
    server = serve.make_server("127.0.0.1", 0, verbose=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def get(path, method="GET"):
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    try:
        yield get, serve
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_serve_help_shows_defaults():
    proc = run([sys.executable, str(SERVE), "--help"], cwd=REPO, timeout=60)
    text = " ".join(proc.stdout.split())
    assert "--host HOST" in text and "(default: 127.0.0.1)" in text, proc.stdout
    assert "--port PORT" in text and "(default: 8000)" in text, proc.stdout
    assert "--open" in text, proc.stdout


def test_serve_finds_the_package_and_its_own_files(demo_routes):
    _, serve = demo_routes
    assert serve.PACKAGE == Path(ngcodec.__file__).resolve().parent
    assert serve.HERE == DEMO
    for path, file in serve.ROUTES.items():
        assert file.is_file(), (path, file)


def test_serve_serves_the_allow_list(demo_routes):
    get, serve = demo_routes
    package = Path(ngcodec.__file__).resolve().parent
    expected = {
        "/": (DEMO / "index.html", "text/html"),
        "/index.html": (DEMO / "index.html", "text/html"),
        "/demo.js": (DEMO / "demo.js", "text/javascript"),
        "/worker.js": (DEMO / "worker.js", "text/javascript"),
        "/colors.js": (DEMO / "colors.js", "text/javascript"),
        "/web/ngcodec.js": (package / "web" / "ngcodec.js", "text/javascript"),
        "/web/ngcodec.wasm": (package / "web" / "ngcodec.wasm", "application/wasm"),
        "/web/ngcodec.d.ts": (package / "web" / "ngcodec.d.ts", "text/plain"),
        "/web/package.json": (package / "web" / "package.json", "application/json"),
        "/web/README.md": (package / "web" / "README.md", "text/plain"),
        "/data/fib25_64x64x64_uint64.cseg8": (package / "data" / "fib25_64x64x64_uint64.cseg8",
                                              "application/octet-stream"),
        "/web/ngcodec.js?v=1": (package / "web" / "ngcodec.js", "text/javascript"),
    }
    assert set(serve.ROUTES) == {p for p in expected if "?" not in p}
    for path, (file, content_type) in expected.items():
        status, headers, body = get(path)
        assert status == 200, path
        assert body == file.read_bytes(), path
        assert headers["Content-Type"].startswith(content_type), (path, headers)
        assert headers["Cache-Control"] == "no-cache"
        status, headers, body = get(path, "HEAD")
        assert (status, body, int(headers["Content-Length"])) == (200, b"", file.stat().st_size)


@pytest.mark.parametrize("path", [
    "/serve.py", "/README.md", "/web/", "/web", "/data/", "/web/index.html", "/web/worker.js",
    "/web/../serve.py", "/web/%2e%2e/serve.py", "/web/..%2fserve.py", "/web/%2E%2E/%2E%2E/pyproject.toml",
    "/data/../__init__.py", "/data/..%5c__init__.py", "/web\\..\\serve.py", "//etc/passwd",
    "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/web/ngcodec.js/", "/web//ngcodec.js",
    "/web/./ngcodec.js", "/WEB/ngcodec.js", "/__init__.py", "/errors.py", "/cli.py",
    "/ngcodec.wasm", "/web/__init__.py", "/data/%66ib25_64x64x64_uint64.cseg8",
])
def test_serve_refuses_everything_else(demo_routes, path):
    get, _ = demo_routes
    status, _, body = get(path)
    assert status == 404, (path, body[:200])


@pytest.mark.slow
@pytest.mark.browser
def test_demo_page_draws_fib25_slices(node_modules, demo_server, tmp_path):
    assert Path(CHROMIUM).exists(), f"Chromium is required at {CHROMIUM}"
    screenshot = tmp_path / "demo.png"
    zs = [32, 0, 17, 63]
    proc = run(
        [require("node"), str(JS_TESTS / "browser_check.mjs"), demo_server, str(screenshot),
         str(tmp_path / "chromium-profile"), ",".join(map(str, zs))],
        cwd=JS_TESTS, timeout=300,
    )
    result = json.loads(proc.stdout)
    assert screenshot.stat().st_size > 0
    assert (result["width"], result["height"]) == (384, 384)
    stats = result["stats"]
    assert "decode time" in stats and "compression ratio" in stats, stats

    labels = fib25_labels()
    for z in zs:
        got = np.asarray(result["slices"][str(z)], dtype=np.int64).reshape(64, 64, 3)
        want = np.array([[label_color(int(v)) for v in row] for row in labels[z]])
        wrong = np.argwhere((got != want).any(axis=-1))
        if len(wrong):
            y, x = map(int, wrong[0])
            pytest.fail(
                f"z={z}: {len(wrong)} voxels drawn in the wrong colour; first at (x={x}, y={y}): "
                f"got {got[y, x].tolist()}, label {labels[z, y, x]} -> {want[y, x].tolist()}"
            )
