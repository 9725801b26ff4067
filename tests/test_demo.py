"""The README's first command: ``ngcodec demo`` round-trips the bundled
chunk, converts a tiling of it into a multi-scale sharded dataset, verifies
it and prints the command that views it; and it does so after a plain
``pip install .`` (core dependencies only) in a new virtual environment."""

import re
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pytest

import ngcodec.precomputed as ngp
from ngcodec.precomputed import downsample
from ngcodec.verify import verify
from tests import common

REPO = Path(__file__).resolve().parents[1]


def _check_demo_output(out, path):
    assert "round trip: OK" in out
    assert "verify: OK (3 scales" in out, out
    assert f"ngcodec view {path} --open" in out
    vol = ngp.open(path)
    expected = np.tile(common.fib25(), (1, 2, 2))  # (Z, Y, X) = 64 x 128 x 128
    assert np.array_equal(vol[...][..., 0].T, expected)
    assert vol.sharding is not None
    half = ngp.open(path, scale=1)[...][..., 0].T
    assert np.array_equal(half, downsample.downsample(expected, (2, 2, 2), "mode")[0])
    assert verify(path).exit_code == 0


def test_demo_converts_verifies_and_says_how_to_view(tmp_path):
    p = subprocess.run([sys.executable, "-m", "ngcodec.cli", "demo", "--repeat", "1",
                        "--output", str(tmp_path / "fib25")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    _check_demo_output(p.stdout, tmp_path / "fib25")


@pytest.mark.slow
def test_readme_first_command_on_core_dependencies(tmp_path):
    """pip install . (no extras) in a new venv, then ngcodec demo: the
    main job needs nothing beyond wasmtime, numpy and pillow."""
    readme = (REPO / "README.md").read_text()
    assert "pip install . && ngcodec demo" in readme
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(REPO)], check=True,
                   capture_output=True, timeout=600)
    listed = subprocess.run([str(py), "-m", "pip", "list", "--format", "freeze"], check=True,
                            capture_output=True, text=True).stdout.lower()
    for extra in ("tqdm", "dask", "zarr", "starlette", "tensorstore"):
        assert not re.search(rf"^{extra}==", listed, re.M), f"{extra} came with pip install ."
    out_dir = tmp_path / "demo"
    p = subprocess.run([str(env_dir / "bin" / "ngcodec"), "demo", "--repeat", "1", "--output",
                        str(out_dir)], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    _check_demo_output(p.stdout, out_dir)
