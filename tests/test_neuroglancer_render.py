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

- Two scales: ``ngcodec.convert`` turns 96x80x40 uint64 labels (Voronoi
  cells with 64-bit ids, mode ties between labels that differ in the sign
  bit) at voxel_offset (7, -3, 5) into 3 scales (2x2x1 factors), sharded
  and unsharded. Neuroglancer draws scale 0 at one zoom and scale 1 at
  twice it (the layer's crossSectionRenderScale is 8, so the scale drawn
  has 8 pixels per voxel either way); which scale it read is checked in
  the chunk and shard files each view requested (the browser's responses,
  tagged by view, and the server's log). Scale 0 is compared with the
  labels, scale 1 with ``downsample(labels, (2, 2, 1), "mode")`` (which
  ngcodec reads back from the converted scale too). Neuroglancer clips
  every scale to scale 0's box, so with the odd offset half of scale 1's
  first row and column is background, as expected there.

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


def state(source: str, z: int, name: str, *, offset=OFFSET, size=SIZE,
          zoom: float = 1 / PIXELS_PER_VOXEL, render_scale: float | None = None) -> dict:
    """The view of slice *z* centred on the box *offset* + *size* (scale 0
    voxels); *zoom*: the crossSectionScale (scale 0 voxels per screen
    pixel); *render_scale*: the layer's crossSectionRenderScale (the
    "Resolution (slice)" target: Neuroglancer draws the coarsest scale whose
    voxels are at most about that many pixels; its default is 1)."""
    center = [offset[0] + size[0] / 2, offset[1] + size[1] / 2, z + 0.5]
    layer = {"type": "image", "name": "ds", "source": source, "opacity": 1.0,
             "blend": "default", "shader": shader(PASSES[name])}
    if render_scale is not None:
        layer["crossSectionRenderScale"] = render_scale
    return {
        "dimensions": {"x": [4e-9, "m"], "y": [4e-9, "m"], "z": [40e-9, "m"]},
        "position": center,
        "crossSectionScale": zoom,
        "layout": "xy",
        "showAxisLines": False,
        "showScaleBar": False,
        "showDefaultAnnotations": False,
        "crossSectionBackgroundColor": "#000000",
        "layers": [layer],
        "selectedLayer": {"visible": False},
    }


def expected_rgb(labels_xy: np.ndarray, name: str) -> np.ndarray:
    """(X, Y, 3) colours of a slice for one pass."""
    w = (labels_xy >> np.uint64(SHIFTS[name])) & np.uint64(0xFFFFFF)
    return np.stack([(w >> np.uint64(s)) & np.uint64(255) for s in (0, 8, 16)], axis=-1).astype(np.int64)


def render(client: str, views: list[dict], tmp_path: Path) -> dict:
    """Runs tests/js/neuroglancer_render.mjs on *views* ({name, state, ...})
    with the client served at *client*; returns its JSON result."""
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"views": views}))
    shots = tmp_path / "shots"
    shots.mkdir()
    t0 = time.monotonic()
    proc = run([require("node"), str(JS_TESTS / "neuroglancer_render.mjs"), f"{client}/v/{TOKEN}/",
                str(plan), str(shots), str(tmp_path / "chromium-profile")],
               cwd=JS_TESTS, timeout=600)
    result = json.loads(proc.stdout)
    print(f"WebGL: {result['webgl']}; {len(views)} views in {time.monotonic() - t0:.1f} s")
    return result


def check_view(result: dict, view: dict, labels: np.ndarray, offset=OFFSET,
               factors=(1, 1, 1), bounds=None) -> tuple[str | None, int]:
    """Compares the screenshot of *view* (one shader pass, ``view["pass"]``,
    of absolute slice ``view["z"]`` in scale 0 voxels) with *labels*, the
    (X, Y, Z) labels of the scale drawn, whose voxel_offset is *offset* and
    whose voxels are *factors* scale 0 voxels. *bounds*: ((x0, y0), (x1,
    y1)), scale 0's box: Neuroglancer clips every scale to it (its
    precomputed source's lowerClipBound / upperClipBound), so the pixels of
    a coarser voxel outside it show the black background. Returns (a
    failure message or None, the number of voxels checked)."""
    shot = result["views"][view["name"]]
    zoom = view["state"]["crossSectionScale"]
    assert shot["crossSectionScale"] == pytest.approx(zoom), shot
    assert shot["position"] == pytest.approx(view["state"]["position"]), shot
    img = np.asarray(Image.open(shot["file"]).convert("RGB"), dtype=np.int64)
    height, width = img.shape[:2]
    assert (width, height) == (shot["width"], shot["height"]), shot
    # Screen pixels per voxel of the scale drawn (the same on x and y).
    ppv = factors[0] / zoom
    assert ppv == factors[1] / zoom and ppv == int(ppv) >= 3, (factors, zoom)
    ppv = int(ppv)
    # The centre of the panel is the view's position, and voxel x of the
    # scale covers [x * fx, (x + 1) * fx) in scale 0 voxels there: its
    # pixels start at width / 2 + (x * fx - pos) / zoom. Every pixel of a
    # voxel but its outermost ring is checked (nearest-neighbour sampling,
    # and a slip of the geometry, both show).
    pos = view["state"]["position"]
    size = labels.shape
    xs = np.arange(offset[0], offset[0] + size[0])
    ys = np.arange(offset[1], offset[1] + size[1])
    px = np.floor(width / 2 + (xs * factors[0] - pos[0]) / zoom).astype(int)
    py = np.floor(height / 2 + (ys * factors[1] - pos[1]) / zoom).astype(int)
    assert px.min() >= 0 and px.max() + ppv <= width, (width, px.min(), px.max())
    assert py.min() >= 0 and py.max() + ppv <= height, (height, py.min(), py.max())
    inner = np.arange(1, ppv - 1)
    # (X, Y, i, j, 3): pixel (j, i) inside voxel (x, y)
    got = img[(py[None, :, None, None] + inner[None, None, None, :]),
              (px[:, None, None, None] + inner[None, None, :, None])]
    z = view["z"] // factors[2] - offset[2]
    want = expected_rgb(labels[:, :, z], view["pass"])
    want = np.broadcast_to(want[:, :, None, None, :], got.shape)
    known = np.ones(got.shape[:-1], bool)
    if bounds is not None:
        # Scale 0 coordinates of the centres of the pixels checked; a pixel
        # that the clip boundary touches is not checked (an odd panel height
        # puts the boundary through pixel centres).
        half = zoom / 2 + 1e-9
        inside, outside = True, False
        for axis, start, extent in ((0, px, width), (1, py, height)):
            g = pos[axis] + ((start[:, None] + inner[None, :]) + 0.5 - extent / 2) * zoom
            d = np.minimum(g - bounds[0][axis], bounds[1][axis] - g)
            shape = (-1, 1, len(inner), 1) if axis == 0 else (1, -1, 1, len(inner))
            inside = inside & (d > half).reshape(shape)
            outside = outside | (d < -half).reshape(shape)
        known = inside | outside
        want = np.where(inside[..., None], want, 0)  # the black background
    bad_pixels = (got != want).any(axis=-1) & known
    wrong = np.argwhere(bad_pixels.any(axis=(2, 3)))
    if not len(wrong):
        return None, size[0] * size[1]
    x, y = map(int, wrong[0])
    i, j = map(int, np.argwhere(bad_pixels[x, y])[0])
    return (f"{view['name']}: {len(wrong)} of {size[0] * size[1]} voxels drawn wrong "
            f"({int(bad_pixels.sum())} pixels); first at (x={x + offset[0]}, y={y + offset[1]}, "
            f"z={z + offset[2]}) of the scale, its pixel ({i + 1}, {j + 1}): drew "
            f"{got[x, y, i, j].tolist()}, want {want[x, y, i, j].tolist()} (label "
            f"{int(labels[x, y, z]):#018x}; {shot['file']})"), size[0] * size[1]


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
    result = render(client, views, tmp_path)

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
        failure, n = check_view(result, view, labels)
        checked += n
        if failure:
            failures.append(failure)
    assert not failures, "\n".join(failures)
    assert checked == len(views) * SIZE[0] * SIZE[1]


# --------------------------------------------------------------------------
# Two scales of a dataset made by ngcodec.convert

CONV_SIZE = (96, 80, 40)  # x, y, z
CONV_OFFSET = (7, -3, 5)  # odd and negative: scale 1's offset is floor(o / 2)
CONV_CHUNK = (32, 32, 16)
CONV_ZS = (5, 44)  # absolute z: the first slice, and the last of the edge chunk
# Labels whose mode ties inside each 2x2 block (two of each): the smaller as
# an unsigned 64-bit integer must win, and as a signed one it would lose.
TIE_LO, TIE_HI = np.uint64(0x0000_0001_0000_0001), np.uint64(0x8000_0000_0000_0001)
# Scale 0 voxels per screen pixel (crossSectionScale) of each scale's views,
# and the layer's crossSectionRenderScale. Neuroglancer's filterVisibleSources
# (src/sliceview/base.ts) takes the scales from the coarsest down and stops
# at the first whose voxels are at most about pixel size * 1.1 * render scale
# (unless the next finer one is closer to that target): here 1.1 * 8 / 8 = 1.1
# scale 0 voxels (scale 0, voxel size 1, is picked over scale 1, voxel size 2)
# and 1.1 * 8 / 4 = 2.2 (scale 1 is picked over scale 0 and scale 2, size 4).
# Either way the scale drawn has 8 screen pixels per voxel.
CONV_ZOOM = {0: 1 / 8, 1: 1 / 4}
CONV_RENDER_SCALE = 8


def make_conv_labels() -> np.ndarray:
    """(X, Y, Z) uint64 labels: Voronoi cells with random 64-bit ids (high
    words set), a patch of three labels at random (2x2 blocks whose mode is
    decided by a count or a tie) and a checkerboard of TIE_LO and TIE_HI."""
    zyx = common.voronoi(CONV_SIZE[::-1], 150, "uint64", seed=21)
    zyx[:, 10:30, 20:50] = common.noise((CONV_SIZE[2], 20, 30), 3, "uint64", seed=22)
    y, x = np.mgrid[50:70, 60:90]
    zyx[:, 50:70, 60:90] = np.where((x + y) % 2 == 0, TIE_LO, TIE_HI)[None]
    return zyx.T


def logged(app, log: list):
    """*app*, appending the path of every HTTP request it gets to *log*."""
    async def wrapper(scope, receive, send):
        if scope["type"] == "http":
            log.append(scope["path"])
        await app(scope, receive, send)
    return wrapper


def chunk_names(scale: dict, zs) -> set[str]:
    """The chunk files ("x0-x1_y0-y1_z0-z1") of an unsharded *scale* that
    hold the absolute slices *zs*."""
    lo, size, chunk = scale["voxel_offset"], scale["size"], scale["chunk_sizes"][0]
    ranges = [[(a, min(a + c, o + n)) for a in range(o, o + n, c)]
              for o, n, c in zip(lo, size, chunk)]
    ranges[2] = [r for r in ranges[2] if any(r[0] <= z < r[1] for z in zs)]
    return {f"{x0}-{x1}_{y0}-{y1}_{z0}-{z1}"
            for x0, x1 in ranges[0] for y0, y1 in ranges[1] for z0, z1 in ranges[2]}


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The labels converted by ``ngcodec.convert`` into 3 scales, sharded
    and unsharded (gzip chunk files), and ``ngcodec view``'s app for each.
    Yields (root, labels, {layout: (base URL, the paths it was asked
    for)})."""
    import ngcodec

    root = tmp_path_factory.mktemp("ng_render_convert")
    labels = make_conv_labels()
    for layout in ("sharded", "unsharded"):
        ngcodec.convert(labels, root / layout, resolution=(4, 4, 40), voxel_offset=CONV_OFFSET,
                        chunk_size=CONV_CHUNK, scales=3, sharded=layout == "sharded",
                        gzip=layout == "unsharded", jobs=2, progress=False)
    logs = {"sharded": [], "unsharded": []}
    with serve_in_thread(logged(create_app(root / "sharded", viewer=True), logs["sharded"])) as a, \
            serve_in_thread(logged(create_app(root / "unsharded", viewer=True), logs["unsharded"])) as b:
        yield root, labels, {"sharded": (a, logs["sharded"]), "unsharded": (b, logs["unsharded"])}


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("layout", ["sharded", "unsharded"])
def test_neuroglancer_draws_two_scales_of_convert_voxel_exact(node_modules, converted, tmp_path,
                                                              layout):
    """``ngcodec.convert`` makes 3 scales of uint64 labels (factors 2x2x1,
    the default at 4x4x40 nm); Neuroglancer draws scale 0 at one zoom and
    scale 1 at another (the scale it picked is read from the chunk files it
    requested), and every voxel of 2 slices x 3 shader passes is compared:
    scale 0 with the labels, scale 1 with ``downsample(labels, (2, 2, 1),
    "mode")``, which ngcodec's reader of the converted scale 1 also gives."""
    from ngcodec.precomputed.downsample import downsample

    assert Path(CHROMIUM).exists(), f"Chromium is required at {CHROMIUM}"
    root, labels, servers = converted
    path, (server, server_log) = root / layout, servers[layout]

    # The dataset convert wrote: 3 scales, each half the one before on x, y.
    info = json.loads((path / "info").read_text())
    keys = [s["key"] for s in info["scales"]]
    assert keys == ["4_4_40", "8_8_40", "16_16_40"], keys
    s1 = info["scales"][1]
    assert (s1["size"], s1["voxel_offset"], s1["resolution"]) == \
        ([48, 40, 40], [3, -2, 5], [8, 8, 40]), s1
    assert all(s["encoding"] == "compressed_segmentation" and ("sharding" in s) == (layout == "sharded")
               for s in info["scales"]), info
    offsets = {i: tuple(info["scales"][i]["voxel_offset"]) for i in (0, 1)}
    # The expected scales: the labels, and their mode downsampling, which is
    # what ngcodec reads back from both converted scales.
    expected = {0: labels,
                1: downsample(np.ascontiguousarray(labels.T), (2, 2, 1), "mode")[0].T}
    assert expected[1].shape == tuple(s1["size"])
    for i in (0, 1):
        got = ngp.open(path, scale=i)[...]
        assert got.shape == expected[i].shape + (1,)
        assert np.array_equal(got[..., 0], expected[i]), f"scale {i} as ngcodec reads it"
    # The labels are what the test needs: high words set; in the slices drawn,
    # many 2x2 blocks hold two labels or more, so scale 0 drawn at scale 1's
    # zoom (4 pixels per voxel) could not pass for scale 1, nor could a plain
    # subsampling; the checkerboard's ties went to the unsigned smaller label.
    assert (labels >> np.uint64(32)).astype(bool).mean() > 0.9
    zi = [z - CONV_OFFSET[2] for z in CONV_ZS]
    blocks = labels[:, :, zi].reshape(48, 2, 40, 2, len(zi))
    mixed = (blocks != blocks[:, :1, :, :1]).any(axis=(1, 3))
    assert mixed.sum() >= 500, mixed.sum()
    assert (expected[1][:, :, zi] != labels[::2, ::2][:, :, zi]).sum() >= 100
    assert (expected[1][30:45, 25:35] == TIE_LO).all()  # array indices: labels [60:90, 50:70]

    source = f"precomputed://{server}"
    # Scale 1's views first: nothing of scale 0 has been requested before.
    views = [{"name": f"s{i}_z{z}_{name}", "scale": i, "z": z, "pass": name,
              "state": state(source, z, name, offset=CONV_OFFSET, size=CONV_SIZE,
                             zoom=CONV_ZOOM[i], render_scale=CONV_RENDER_SCALE)}
             for i in (1, 0) for name in PASSES for z in CONV_ZS]
    result = render(server, views, tmp_path)

    # Which scales Neuroglancer read, from the chunk (or shard) files it
    # requested while each scale's views were shown: scale 1's views
    # requested scale 1 (and coarser ones, drawn under it) but nothing of
    # scale 0; scale 0's views requested scale 0. The server's log holds the
    # same files.
    requested = {0: set(), 1: set()}
    scale_of = {v["name"]: v["scale"] for v in views}
    for r in result["responses"]:
        rel = r["url"][len(server):]
        if r["url"].startswith(server) and rel.split("/")[1] in keys:
            assert r["status"] in (200, 206), r
            requested[scale_of[r["view"]]].add(rel)
    served = {p for p in server_log if p.split("/")[1] in keys}
    assert served == requested[0] | requested[1], (served, requested)
    scales_requested = {i: {p.split("/")[1] for p in requested[i]} for i in (0, 1)}
    assert scales_requested[1] == {"8_8_40", "16_16_40"}, requested
    assert "4_4_40" in scales_requested[0], requested
    if layout == "unsharded":
        # Every chunk of the slices drawn, of the scale drawn.
        for i, key in ((1, "8_8_40"), (0, "4_4_40")):
            names = {p.split("/")[2] for p in requested[i] if p.split("/")[1] == key}
            assert chunk_names(info["scales"][i], CONV_ZS) <= names, (key, names)
    else:
        assert all(p.endswith(".shard") for p in served), served

    failures, checked = [], 0
    for view in views:
        i = view["scale"]
        failure, n = check_view(result, view, expected[i], offsets[i], (2 ** i, 2 ** i, 1),
                                bounds=(CONV_OFFSET[:2], np.add(CONV_OFFSET, CONV_SIZE)[:2]))
        checked += n
        if failure:
            failures.append(failure)
    assert not failures, "\n".join(failures)
    per_pass = len(PASSES) * len(CONV_ZS)
    assert checked == per_pass * (CONV_SIZE[0] * CONV_SIZE[1] + 48 * 40)
