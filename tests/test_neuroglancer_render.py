"""Sharded and unsharded compressed_segmentation datasets written by ngcodec,
served by ``ngcodec view``'s app and drawn by the real Neuroglancer client in
headless Chromium, voxel-exact.

- The dataset: uint64 labels, 100x80x40 voxels at voxel_offset (7, -3, 5),
  chunks 32x32x16 (edge chunks on every axis), compressed_segmentation blocks
  8x8x8; neuroglancer_uint64_sharded_v1 with murmurhash3_x86_128, gzip
  minishard indices and gzip data, 4 shard files of up to 4 minishards,
  written in two boxes (the second merges into shards the first wrote). The
  labels have many distinct values per chunk (Voronoi cells: 0- to 4-bit
  blocks; one chunk of per-voxel noise: 16-bit blocks) and nonzero high
  32-bit words (also a label with a zero low word, 2**64 - 1 and 0), so a
  uint64 word-order or encoding bug shows.
- The client: the PyPI ``neuroglancer`` package's built client, a test
  dependency, served by ``ngcodec view``'s app (``ngcodec.server.create_app(
  root, viewer=True)``, see ngcodec/server/viewer.py for the endpoints that
  client needs) on uvicorn in a thread, beside the dataset, from one origin.
  Neuroglancer reads shards with HTTP Range requests: the test checks one
  itself, and that every shard request of the browser was a Range request
  answered with 206. The same labels are also drawn from an unsharded copy
  whose chunk files are all ``name.gz``, which the server sends under the
  plain name with ``Content-Encoding: gzip``.
- The view: one image layer over the dataset, xy layout, 8 screen pixels per
  voxel, whose shader writes 24 bits of the voxel's uint64 value into R, G, B
  (integer image layers are sampled nearest-neighbour). Three shader passes
  (bits 0-23, 24-47, 48-63) give the whole 64-bit value, for 4 z slices: the
  first, a middle one, the last of a chunk and the edge chunk's last.
  tests/js/neuroglancer_render.mjs sets each state in the URL fragment, waits
  for ``viewer.display.isReady()`` (every visible chunk drawn, the check
  Neuroglancer's own screenshots use) and saves a PNG of the panel. Here the
  inner 6x6 pixels of every voxel are compared with the labels (the NumPy
  array that was written, not ngcodec's reader); any wrong pixel fails the
  test, with the count of wrong voxels per view.

Node, npm, Chromium and the neuroglancer package are required: this test
fails, not skips, without them (build_scripts/test.sh installs them).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ngcodec.precomputed as ngp
from ngcodec.server import create_app
from ngcodec.server.viewer import TOKEN
from tests import common
from tests.common import http_request, serve_in_thread
from tests.test_js import CHROMIUM, JS_TESTS, node_modules, require, run  # noqa: F401

SIZE = (100, 80, 40)  # x, y, z: edge chunks on every axis
OFFSET = (7, -3, 5)
CHUNK = (32, 32, 16)
BLOCK = (8, 8, 8)
SHARDING = {"@type": "neuroglancer_uint64_sharded_v1", "hash": "murmurhash3_x86_128",
            "preshift_bits": 1, "minishard_bits": 2, "shard_bits": 2,
            "minishard_index_encoding": "gzip", "data_encoding": "gzip"}
PIXELS_PER_VOXEL = 8
# Absolute z of the slices drawn: the first, a middle one, the last of the
# second chunk, and the last of the edge chunk [37, 45).
ZS = (5, 28, 36, 44)
# Bits of the uint64 value each shader pass draws as R, G, B (8 bits each).
PASSES = {"bits0": "lo & 0xffffffu",
          "bits24": "(lo >> 24u) | ((hi & 0xffffu) << 8u)",
          "bits48": "hi >> 16u"}
SHIFTS = {"bits0": 0, "bits24": 24, "bits48": 48}


def make_labels() -> np.ndarray:
    """(X, Y, Z) uint64 labels."""
    zyx = common.voronoi(SIZE[::-1], 300, "uint64", seed=11).copy()
    # One chunk of nearly all distinct labels: 16-bit cseg blocks.
    zyx[16:32, 32:64, 32:64] = common.noise((16, 32, 32), 1 << 40, "uint64", seed=12)
    # Labels with one word zero, the top value and 0, in runs across blocks.
    zyx[:, 5:9, 40:70] = 0
    zyx[:, 20:23, :] = np.uint64(0x1234_5678_0000_0000)
    zyx[:, 60:62, 10:90] = np.uint64(0x0000_0000_9ABC_DEF0)
    zyx[30:, 40::2, 95:] = np.uint64(2**64 - 1)
    return zyx.T


def shader(expr: str) -> str:
    return (
        "void main() {\n"
        "  uint64_t v = getDataValue();\n"
        "  uint lo = v.value[0];\n"
        "  uint hi = v.value[1];\n"
        f"  uint w = {expr};\n"
        "  emitRGB(vec3(float(w & 255u), float((w >> 8u) & 255u), float((w >> 16u) & 255u)) / 255.0);\n"
        "}\n"
    )


def state(source: str, z: int, name: str) -> dict:
    center = [OFFSET[0] + SIZE[0] / 2, OFFSET[1] + SIZE[1] / 2, z + 0.5]
    return {
        "dimensions": {"x": [4e-9, "m"], "y": [4e-9, "m"], "z": [40e-9, "m"]},
        "position": center,
        "crossSectionScale": 1 / PIXELS_PER_VOXEL,
        "layout": "xy",
        "showAxisLines": False,
        "showScaleBar": False,
        "showDefaultAnnotations": False,
        "crossSectionBackgroundColor": "#000000",
        "layers": [{
            "type": "image", "name": "ds", "source": source, "opacity": 1.0,
            "blend": "default", "shader": shader(PASSES[name]),
        }],
        "selectedLayer": {"visible": False},
    }


def expected_rgb(labels_xy: np.ndarray, name: str) -> np.ndarray:
    """(X, Y, 3) colours of a slice for one pass."""
    w = (labels_xy >> np.uint64(SHIFTS[name])) & np.uint64(0xFFFFFF)
    return np.stack([(w >> np.uint64(s)) & np.uint64(255) for s in (0, 8, 16)], axis=-1).astype(np.int64)


def shard_index_minishards(path: Path, minishard_bits: int) -> int:
    """How many minishards of a shard file hold chunks (from its shard index:
    2**bits pairs of little-endian uint64 [start, end) offsets)."""
    index = np.frombuffer(path.read_bytes()[:16 << minishard_bits], "<u8").reshape(-1, 2)
    return int((index[:, 1] > index[:, 0]).sum())


def write_dataset(root: Path, labels: np.ndarray, sharded: bool = True) -> Path:
    """The sharded dataset, or (*sharded* False) the same labels unsharded
    with gzip chunk files (``name.gz``, served as ``Content-Encoding: gzip``
    under the plain name)."""
    scale = {"key": "s0", "size": list(SIZE), "voxel_offset": list(OFFSET),
             "resolution": [4, 4, 40], "chunk_sizes": [list(CHUNK)],
             "encoding": "compressed_segmentation",
             "compressed_segmentation_block_size": list(BLOCK)}
    if sharded:
        scale["sharding"] = SHARDING
    info = {"type": "segmentation", "data_type": "uint64", "num_channels": 1, "scales": [scale]}
    vol = ngp.create(root, info).scale(0, compress=None if sharded else "gzip")
    lo = OFFSET
    hi = tuple(o + s for o, s in zip(OFFSET, SIZE))
    # Two writes, the second merging into shards the first wrote.
    mid = lo[2] + 21
    vol[lo[0]:hi[0], lo[1]:hi[1], lo[2]:mid] = labels[:, :, :mid - lo[2]]
    vol[lo[0]:hi[0], lo[1]:hi[1], mid:hi[2]] = labels[:, :, mid - lo[2]:]
    return root


# --------------------------------------------------------------------------
# The server


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ng_render")
    labels = make_labels()
    write_dataset(root / "sharded", labels)
    write_dataset(root / "unsharded", labels, sharded=False)
    return root, labels


@pytest.fixture(scope="module")
def servers(dataset):
    """``ngcodec view``'s app (the dataset and the Neuroglancer client of the
    PyPI neuroglancer package) for each dataset: {layout: base URL}."""
    root, _ = dataset
    with serve_in_thread(create_app(root / "sharded", viewer=True)) as sharded, \
            serve_in_thread(create_app(root / "unsharded", viewer=True)) as unsharded, \
            serve_in_thread(create_app(root / "sharded")) as serve_only:
        yield {"sharded": sharded, "unsharded": unsharded, "serve": serve_only}


def get(url: str, path: str, headers=None):
    return http_request(url, "GET", path, headers)


# --------------------------------------------------------------------------
# The test


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("layout", ["sharded", "unsharded", "sharded, cross-origin"])
def test_neuroglancer_draws_cseg_voxel_exact(node_modules, servers, dataset, tmp_path, layout):
    """*layout* "sharded, cross-origin": the client comes from one server
    (``ngcodec view``'s) and the data from another (``ngcodec serve``'s, no
    viewer), so Neuroglancer's requests are cross-origin and need the CORS
    headers and preflights."""
    assert Path(CHROMIUM).exists(), f"Chromium is required at {CHROMIUM}"
    root, labels = dataset
    cross = layout == "sharded, cross-origin"
    layout = "sharded" if cross else layout
    server = servers["serve"] if cross else servers[layout]  # the data
    client = servers["unsharded"] if cross else server
    scale_dir = root / layout / "s0"

    # The labels are what a uint64 test needs: many per chunk, high words set.
    assert (labels >> np.uint64(32)).astype(bool).mean() > 0.9
    per_chunk = [len(np.unique(labels[x:x + CHUNK[0], y:y + CHUNK[1], z:z + CHUNK[2]]))
                 for x in range(0, SIZE[0], CHUNK[0]) for y in range(0, SIZE[1], CHUNK[1])
                 for z in range(0, SIZE[2], CHUNK[2])]
    assert min(per_chunk) >= 2 and np.median(per_chunk) >= 20, per_chunk
    assert max(per_chunk) > 15000, per_chunk  # the noise chunk: nearly all distinct

    if layout == "sharded":
        # Several shards of several minishards ...
        shards = sorted(scale_dir.glob("*.shard"))
        assert len(shards) >= 3, [p.name for p in shards]
        assert not [p for p in scale_dir.iterdir() if p.suffix != ".shard"]
        minishards = [shard_index_minishards(p, SHARDING["minishard_bits"]) for p in shards]
        assert max(minishards) >= 2, minishards
        # ... and the server answers a Range request on a shard as Neuroglancer needs.
        size = shards[0].stat().st_size
        status, headers, body = get(server, f"/s0/{shards[0].name}", {"Range": "bytes=8-23"})
        assert status == 206, (status, headers)
        assert headers["content-range"] == f"bytes 8-23/{size}", headers
        assert body == shards[0].read_bytes()[8:24]
        zs = ZS
    else:
        # Every chunk is a name.gz file, which the server sends under the
        # plain name with Content-Encoding: gzip (the browser inflates it).
        files = sorted(p.name for p in scale_dir.iterdir())
        assert len(files) == 4 * 3 * 3 and all(f.endswith(".gz") for f in files), files
        status, headers, _ = get(server, f"/s0/{files[0][:-3]}")
        assert status == 200 and headers["content-encoding"] == "gzip", headers
        zs = (ZS[0], ZS[-1])
    status, _, body = get(client, f"/v/{TOKEN}/")
    assert status == 200 and b"<title>neuroglancer</title>" in body, (status, body[:300])
    if cross:
        assert get(server, f"/v/{TOKEN}/")[0] == 404  # serve alone has no client

    source = f"precomputed://{server}"
    views = [{"name": f"z{z}_{name}", "z": z, "pass": name, "state": state(source, z, name)}
             for name in PASSES for z in zs]
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"views": views}))
    shots = tmp_path / "shots"
    shots.mkdir()
    t0 = time.monotonic()
    proc = run([require("node"), str(JS_TESTS / "neuroglancer_render.mjs"), f"{client}/v/{TOKEN}/",
                str(plan), str(shots), str(tmp_path / "chromium-profile")],
               cwd=JS_TESTS, timeout=600)
    elapsed = time.monotonic() - t0
    result = json.loads(proc.stdout)
    print(f"WebGL: {result['webgl']}; {len(views)} views in {elapsed:.1f} s")

    if layout == "sharded":
        # Neuroglancer read the shards by Range requests, and got 206 answers.
        shard_responses = [r for r in result["responses"] if r["url"].endswith(".shard")]
        assert shard_responses, "Neuroglancer requested no shard"
        assert all(r["range"] and r["status"] == 206 and r["contentRange"]
                   for r in shard_responses), \
            [r for r in shard_responses if r["status"] != 206][:5]
        assert {r["url"].rsplit("/", 1)[1] for r in shard_responses} == {p.name for p in shards}

    failures, checked = [], 0
    for view in views:
        shot = result["views"][view["name"]]
        assert shot["crossSectionScale"] == pytest.approx(1 / PIXELS_PER_VOXEL), shot
        assert shot["position"] == pytest.approx(view["state"]["position"]), shot
        img = np.asarray(Image.open(shot["file"]).convert("RGB"), dtype=np.int64)
        height, width = img.shape[:2]
        assert (width, height) == (shot["width"], shot["height"]), shot
        # The centre of the panel is the view's position, and voxel x covers
        # [x, x + 1) there: its pixels start at width / 2 + (x - pos) * ppv.
        # Every pixel of a voxel but its outermost ring is checked (nearest-
        # neighbour sampling, and a slip of the geometry, both show).
        pos = view["state"]["position"]
        xs = np.arange(OFFSET[0], OFFSET[0] + SIZE[0])
        ys = np.arange(OFFSET[1], OFFSET[1] + SIZE[1])
        px = np.floor(width / 2 + (xs - pos[0]) * PIXELS_PER_VOXEL).astype(int)
        py = np.floor(height / 2 + (ys - pos[1]) * PIXELS_PER_VOXEL).astype(int)
        assert px.min() >= 0 and px.max() + PIXELS_PER_VOXEL <= width, (width, px.min(), px.max())
        assert py.min() >= 0 and py.max() + PIXELS_PER_VOXEL <= height, (height, py.min(), py.max())
        inner = np.arange(1, PIXELS_PER_VOXEL - 1)
        # (X, Y, i, j, 3): pixel (j, i) inside voxel (x, y)
        got = img[(py[None, :, None, None] + inner[None, None, None, :]),
                  (px[:, None, None, None] + inner[None, None, :, None])]
        want = expected_rgb(labels[:, :, view["z"] - OFFSET[2]], view["pass"])
        bad_pixels = (got != want[:, :, None, None, :]).any(axis=-1)
        wrong = np.argwhere(bad_pixels.any(axis=(2, 3)))
        checked += SIZE[0] * SIZE[1]
        if len(wrong):
            x, y = map(int, wrong[0])
            centre = got[x, y, PIXELS_PER_VOXEL // 2 - 1, PIXELS_PER_VOXEL // 2 - 1]
            failures.append(
                f"{view['name']}: {len(wrong)} of {SIZE[0] * SIZE[1]} voxels drawn wrong "
                f"({int(bad_pixels.sum())} pixels); first at (x={x + OFFSET[0]}, y={y + OFFSET[1]}, "
                f"z={view['z']}): drew {centre.tolist()}, label "
                f"{int(labels[x, y, view['z'] - OFFSET[2]]):#018x} -> {want[x, y].tolist()} "
                f"({shot['file']})")
    assert not failures, "\n".join(failures)
    assert checked == len(views) * SIZE[0] * SIZE[1]
