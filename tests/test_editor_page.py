"""The loop the project exists for, end to end, in Chromium: examples/editor
(served by ``ngcodec view --allow-upload --page``) loads a chunk, decodes it
with ngcodec.wasm in a worker, paints labels, encodes it in the worker and
PUTs it; the server decodes it in its sandbox before writing; then the real
Neuroglancer client, reloaded, draws the painted voxels with the new label
(every voxel of the slice checked, all 64 bits, as tests/test_neuroglancer_render.py
checks)."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ngcodec.precomputed as ngp
from ngcodec.server import create_app
from ngcodec.server.viewer import TOKEN as CLIENT_TOKEN
from tests.common import serve_in_thread
from tests.test_js import CHROMIUM, JS_TESTS, node_modules, require, run  # noqa: F401
from tests.test_neuroglancer_render import (OFFSET, PASSES, PIXELS_PER_VOXEL, SIZE, expected_rgb,
                                            make_labels, state, write_dataset)

EDITOR = Path(__file__).resolve().parents[1] / "examples" / "editor"
UPLOAD_TOKEN = "editor-test-token"
LABEL = 0xFEDC_BA98_7654_3210  # the new segment: both 32-bit words set
PAINTS = [(3, 4, 2, LABEL), (20, 20, 3, LABEL), (31, 0, 0, LABEL)]  # (x, y, radius, label)


@pytest.mark.slow
@pytest.mark.browser
def test_paint_upload_and_see_it_in_neuroglancer(node_modules, tmp_path):  # noqa: F811
    assert Path(CHROMIUM).exists(), f"Chromium is required at {CHROMIUM}"
    labels = make_labels()
    root = write_dataset(tmp_path / "ds", labels, sharded=False)
    chunk, zc = "39-71_29-61_21-37", 7  # grid (1, 1, 1); z = 21 + 7 = 28 absolute
    z = 21 + zc
    want = labels.copy()
    x0, y0 = 39 - OFFSET[0], 29 - OFFSET[1]
    for px, py, r, label in PAINTS:
        want[x0 + max(0, px - r):x0 + min(31, px + r) + 1,
             y0 + max(0, py - r):y0 + min(31, py + r) + 1, z - OFFSET[2]] = label
    assert (want != labels).sum() == 25 + 49 + 1

    with serve_in_thread(create_app(root, viewer=True, upload_token=UPLOAD_TOKEN,
                                    page=EDITOR)) as base:
        paints = tmp_path / "paints.json"
        # labels as strings: a JSON number past 2**53 loses bits in JavaScript
        paints.write_text(json.dumps([[x, y, r, str(label)] for x, y, r, label in PAINTS]))
        url = f"{base}/page/?scale=s0&chunk={chunk}&z={zc}&token={UPLOAD_TOKEN}"
        proc = run([require("node"), str(JS_TESTS / "editor_check.mjs"), url, str(paints),
                    str(tmp_path / "profile-editor")], cwd=JS_TESTS, timeout=300)
        result = json.loads(proc.stdout)
        assert result["status"] == "uploaded" and result["painted"] == 25 + 49 + 1, result
        # The server wrote what the page encoded.
        assert np.array_equal(ngp.open(root)[...][..., 0], want)

        # Neuroglancer, loaded afresh, draws the new segment.
        views = [{"name": f"z{z}_{name}", "z": z, "pass": name,
                  "state": state(f"precomputed://{base}", z, name)} for name in PASSES]
        plan = tmp_path / "plan.json"
        plan.write_text(json.dumps({"views": views}))
        shots = tmp_path / "shots"
        shots.mkdir()
        proc = run([require("node"), str(JS_TESTS / "neuroglancer_render.mjs"),
                    f"{base}/v/{CLIENT_TOKEN}/", str(plan), str(shots),
                    str(tmp_path / "profile-ng")], cwd=JS_TESTS, timeout=300)
        shots_info = json.loads(proc.stdout)["views"]
    for view in views:
        shot = shots_info[view["name"]]
        img = np.asarray(Image.open(shot["file"]).convert("RGB"), dtype=np.int64)
        height, width = img.shape[:2]
        pos = view["state"]["position"]
        px = np.floor(width / 2 + (np.arange(OFFSET[0], OFFSET[0] + SIZE[0]) - pos[0])
                      * PIXELS_PER_VOXEL).astype(int) + PIXELS_PER_VOXEL // 2
        py = np.floor(height / 2 + (np.arange(OFFSET[1], OFFSET[1] + SIZE[1]) - pos[1])
                      * PIXELS_PER_VOXEL).astype(int) + PIXELS_PER_VOXEL // 2
        got = img[py[None, :], px[:, None]]  # (X, Y, 3): each voxel's centre pixel
        expected = expected_rgb(want[:, :, z - OFFSET[2]], view["pass"])
        wrong = np.argwhere((got != expected).any(axis=-1))
        assert not len(wrong), f"{view['name']}: {len(wrong)} voxels drawn wrong, first {wrong[0]}"
