"""The committed module: exact ABI surface, zero imports, reproducible build."""

import shutil
import subprocess
from pathlib import Path

import pytest
import wasmtime

import ngcodec
from ngcodec import runtime

REPO = Path(__file__).resolve().parents[1]

EXPECTED_EXPORTS = [
    ("memory", "MemoryType"),
    ("ngc_version", "FuncType"),
    ("ngc_error_name", "FuncType"),
    ("ngc_decoded_size", "FuncType"),
    ("ngc_raw_decode", "FuncType"),
    ("ngc_raw_encode", "FuncType"),
    ("ngc_cseg_decode", "FuncType"),
    ("ngc_cseg_decode_box", "FuncType"),
    ("ngc_cseg_read_voxels", "FuncType"),
    ("free", "FuncType"),
    ("malloc", "FuncType"),
    ("ngc_cseg_encode_bound", "FuncType"),
    ("ngc_cseg_encode", "FuncType"),
    ("ngc_cseg_label_counts", "FuncType"),
    ("ngc_cseg_contains", "FuncType"),
    ("ngc_cseg_mask", "FuncType"),
    ("ngc_cseg_remap", "FuncType"),
    ("ngc_downsample", "FuncType"),
    ("_initialize", "FuncType"),
    ("__indirect_function_table", "TableType"),
    ("__errno_location", "FuncType"),
    ("stackSave", "FuncType"),
    ("stackRestore", "FuncType"),
    ("stackAlloc", "FuncType"),
]


def _module():
    return wasmtime.Module(wasmtime.Engine(), runtime.WASM_PATH.read_bytes())


def test_module_has_no_imports():
    assert _module().imports == []


def test_module_exports_exactly_the_abi():
    exports = [(e.name, type(e.type).__name__) for e in _module().exports]
    assert exports == EXPECTED_EXPORTS


def test_only_one_wasm_in_the_repository():
    tracked = subprocess.run(["git", "ls-files", "*.wasm"], cwd=REPO, check=True,
                             capture_output=True, text=True).stdout.split()
    assert tracked == ["pyhost/ngcodec/web/ngcodec.wasm"]


def test_version_matches_header():
    header = (REPO / "wasm_src" / "ngcodec.h").read_text()
    numbers = [int(line.split()[-1]) for line in header.splitlines()
               if line.startswith(("#define NGC_VERSION_MAJOR", "#define NGC_VERSION_MINOR",
                                   "#define NGC_VERSION_PATCH"))]
    assert ngcodec.wasm_version() == tuple(numbers)


@pytest.mark.slow
@pytest.mark.needs_emcc
def test_rebuild_is_byte_identical(tmp_path):
    """The committed .wasm is what the committed C builds to (CI installs
    Debian's emscripten, so this runs rather than skips)."""
    assert shutil.which("emcc"), "emcc missing: apt-get install emscripten"
    # Build from a copy elsewhere: the bytes must not depend on the path.
    copy = tmp_path / "elsewhere"
    shutil.copytree(REPO / "wasm_src", copy / "wasm_src")
    shutil.copytree(REPO / "build_scripts", copy / "build_scripts")
    out = tmp_path / "rebuilt.wasm"
    subprocess.run(["bash", str(copy / "build_scripts" / "build_wasm.sh"), str(out)],
                   check=True, capture_output=True)
    assert out.read_bytes() == runtime.WASM_PATH.read_bytes()
