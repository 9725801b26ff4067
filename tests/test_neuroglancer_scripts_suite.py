"""neuroglancer-scripts 1.2.0's own unit and script tests, run with its
``chunk_encoding`` module replaced by ``ngcodec.chunk_encoding``.

The sdist (which carries the tests) comes from PyPI; a ``sitecustomize``
swaps the module in every Python process the suite starts, including the
command-line scripts that script_tests runs. Every test must end exactly as
it does with upstream's own module on the same machine (as root, two of its
file-permission tests fail either way), and every chunk-encoding test passes.

The script tests read two example NIfTI volumes that live in git-lfs, not in
the sdist; without them upstream skips three tests. We write synthetic
stand-ins of the same names, dtypes (uint8 labels; a float64 T1-like volume,
which upstream expects to be refused as a data type) and, for the T1, the
same 181x217x181 shape, so those conversions run instead of skipping.
"""

import os
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

VERSION = "1.2.0"

SWAP = """\
import sys
import neuroglancer_scripts
import ngcodec.chunk_encoding
sys.modules["neuroglancer_scripts.chunk_encoding"] = ngcodec.chunk_encoding
neuroglancer_scripts.chunk_encoding = ngcodec.chunk_encoding
"""

# Runs neuroglancer-scripts' own tests (about 25 s): the full tier only.
pytestmark = pytest.mark.slow


def _write_example_volumes(directory):
    import nibabel
    import numpy as np

    directory.mkdir(parents=True, exist_ok=True)
    z, y, x = np.ogrid[:45, :54, :38]
    labels = ((z // 9) * 25 + (y // 11) * 5 + x // 8 + 1).astype(np.uint8)
    nibabel.save(nibabel.Nifti1Image(labels, np.eye(4)), directory / "MPM.nii.gz")
    z, y, x = np.ogrid[:181, :217, :181]
    t1 = ((z // 20 + y // 25 + x // 30) % 8 * 60 + 50).astype(np.float64)
    nibabel.save(nibabel.Nifti1Image(t1, np.eye(4)), directory / "colin27T1_seg.nii.gz")


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    root = tmp_path_factory.mktemp("ngs")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                    ":all:", "-q", "-d", str(root), f"neuroglancer-scripts=={VERSION}"],
                   check=True)
    (sdist,) = root.glob("neuroglancer*scripts-*.tar.gz")
    with tarfile.open(sdist) as tar:
        tar.extractall(root, filter="data")
    (src,) = [p for p in root.iterdir() if p.is_dir()]
    _write_example_volumes(src / "examples" / "JuBrain")
    swap_dir = root / "swap"
    swap_dir.mkdir()
    (swap_dir / "sitecustomize.py").write_text(SWAP)
    # The ngcodec under test, wherever it is imported from (checkout or install).
    import ngcodec
    paths = [str(Path(ngcodec.__file__).resolve().parents[1])]
    paths += [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    baseline_env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(swap_dir)] + paths))
    return src, env, baseline_env


def test_swap_is_in_effect(upstream):
    _, env, _ = upstream
    out = subprocess.run(
        [sys.executable, "-c", "import neuroglancer_scripts.chunk_encoding as c, "
         "neuroglancer_scripts.precomputed_io as io; print(c.__name__, io.chunk_encoding.__name__)"],
        env=env, check=True, capture_output=True, text=True).stdout.split()
    assert out == ["ngcodec.chunk_encoding", "ngcodec.chunk_encoding"]


def _outcomes(src, env, suite, report):
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    f"--junitxml={report}", suite], cwd=src, env=env, capture_output=True)
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = kinds[0] if kinds else "passed"
    return outcomes


@pytest.mark.parametrize("suite", ["unit_tests", "script_tests"])
def test_upstream_suite_passes_with_ngcodec(upstream, suite, tmp_path):
    src, env, baseline_env = upstream
    ours = _outcomes(src, env, suite, tmp_path / "ours.xml")
    theirs = _outcomes(src, baseline_env, suite, tmp_path / "theirs.xml")
    assert ours and ours.keys() == theirs.keys()
    differences = {name: (theirs.get(name), outcome) for name, outcome in ours.items()
                   if theirs.get(name) != outcome}
    assert not differences, f"(upstream, ngcodec) outcomes differ: {differences}"
    encoding_tests = {n: o for n, o in ours.items() if "chunk_encoding" in n}
    if suite == "unit_tests":
        assert len(encoding_tests) >= 30
    else:  # the scripts convert volumes through chunk_encoding: all must pass
        assert all(o == "passed" for o in ours.values()), ours
    assert all(o == "passed" for o in encoding_tests.values()), encoding_tests
