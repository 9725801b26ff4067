"""ngcodec.js's ``downsample`` against Python's
(ngcodec.precomputed.downsample.downsample, itself checked against
tensorstore in tests/test_downsample.py).

Random (C, Z, Y, X) arrays of every precomputed dtype, one and three
channels, sizes the factors do not divide, both methods, and many-label
uint64 segmentations for mode (FIB-25, and a synthetic one with labels past
2**63) are written to files; one Node script downsamples each with
ngcodec.js and writes the result back. The outputs must be byte-identical
to Python's and of the same size. Argument errors must read the same in
both hosts where both make the check. The hand-computed cases are in
tests/js/downsample.test.mjs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ngcodec.errors import InvalidParameterError
from ngcodec.precomputed.downsample import downsample
from tests import common

REPO = Path(__file__).resolve().parents[1]
NGCODEC_JS = (REPO / "pyhost" / "ngcodec" / "web" / "ngcodec.js").as_uri()

pytestmark = pytest.mark.node

DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "float32")
FACTORS = ((2, 2, 2), (2, 2, 1), (3, 1, 2), (4, 4, 4))
# (x, y, z): none is a multiple of every factor above.
SIZES = ((13, 10, 7), (7, 5, 9), (17, 3, 5))

# Reads cases.json beside it, downsamples each case's input with ngcodec.js
# and writes <name>.out and results.json (the sizes).
NODE_SCRIPT = """
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { downsample } from %(module)s;

const TYPES = { uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array,
  uint32: Uint32Array, int32: Int32Array, uint64: BigUint64Array, float32: Float32Array };
const dir = process.argv[2];
const cases = JSON.parse(await readFile(join(dir, "cases.json"), "utf8"));
const results = {};
for (const c of cases) {
  // A copy in its own ArrayBuffer: readFile's may be a shared pool, unaligned for 8-byte values.
  const bytes = new Uint8Array(await readFile(join(dir, c.name + ".in")));
  const data = new TYPES[c.dtype](bytes.buffer);
  const out = await downsample(data, c.size, c.factors, c.method);
  if (!(out.data instanceof TYPES[c.dtype])) throw new Error(c.name + ": " + out.data.constructor.name);
  await writeFile(join(dir, c.name + ".out"), new Uint8Array(out.data.buffer));
  results[c.name] = out.size;
}
await writeFile(join(dir, "results.json"), JSON.stringify(results));
"""


def case_names():
    names = [f"{dtype}_{channels}ch_{method}_{'x'.join(map(str, factors))}"
             for dtype in DTYPES for channels in (1, 3) for factors in FACTORS
             for method in ("mode", "mean")]
    names += [f"{name}_mode_{'x'.join(map(str, factors))}" for name in ("fib25", "labels64")
              for factors in FACTORS]
    return names


def random_values(rng, shape, dtype, method):
    """Mode gets a few values (repeats and ties in every block); mean the
    whole range (sums past the dtype's width, every rounding)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        if method == "mode":
            palette = np.array([-0.0, 0.0, 1.5, -2.25, np.inf, np.nan, 3e38], np.float32)
            return palette[rng.integers(0, len(palette), shape)]
        values = (rng.standard_normal(shape) * 1000).astype(np.float32)
        values.flat[::7] = rng.integers(-3, 4, values.flat[::7].shape)  # exact small sums
        return values
    info = np.iinfo(dtype)
    if method == "mode":
        palette = rng.integers(info.min, info.max, 5, dtype=dtype, endpoint=True)
        return palette[np.minimum(rng.geometric(0.45, shape) - 1, 4)]
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def many_labels(rng):
    """A (1, 20, 48, 64) uint64 segmentation: 1,920 regions of random labels
    (half of them past 2**63), a fifth of the voxels relabelled from the
    same palette."""
    coarse = rng.integers(0, 2 ** 64, (10, 12, 16), dtype=np.uint64, endpoint=False)
    labels = coarse.repeat(2, 0).repeat(4, 1).repeat(4, 2)
    noise = rng.random(labels.shape) < 0.2
    labels[noise] = rng.choice(coarse.ravel(), int(noise.sum()))
    return labels[None]


def cases():
    """name -> (array (C, Z, Y, X), factors, method), in case_names()'s order."""
    rng = np.random.default_rng(20250521)
    out = {}
    i = 0
    for dtype in DTYPES:
        for channels in (1, 3):
            for factors in FACTORS:
                for method in ("mode", "mean"):
                    x, y, z = SIZES[i % len(SIZES)]
                    i += 1
                    name = f"{dtype}_{channels}ch_{method}_{'x'.join(map(str, factors))}"
                    out[name] = (random_values(rng, (channels, z, y, x), dtype, method), factors, method)
    segmentations = {"fib25": common.fib25()[None], "labels64": many_labels(rng)}
    for name, labels in segmentations.items():
        for factors in FACTORS:
            out[f"{name}_mode_{'x'.join(map(str, factors))}"] = (labels, factors, "mode")
    assert list(out) == case_names()
    return out


@pytest.fixture(scope="module")
def node_results(tmp_path_factory):
    """name -> (array, factors, method, Node's output bytes, Node's size)."""
    node = common.require_tool("node")
    folder = tmp_path_factory.mktemp("js_downsample")
    all_cases = cases()
    manifest = []
    for name, (array, factors, method) in all_cases.items():
        (folder / f"{name}.in").write_bytes(array.astype(array.dtype.newbyteorder("<")).tobytes())
        _, z, y, x = array.shape
        manifest.append({"name": name, "dtype": array.dtype.name, "size": [x, y, z],
                         "factors": list(factors), "method": method})
    (folder / "cases.json").write_text(json.dumps(manifest))
    script = folder / "downsample.mjs"
    script.write_text(NODE_SCRIPT % {"module": json.dumps(NGCODEC_JS)})
    common.run_checked([node, str(script), str(folder)], cwd=REPO, timeout=300)
    sizes = json.loads((folder / "results.json").read_text())
    return {name: (*all_cases[name], (folder / f"{name}.out").read_bytes(), sizes[name])
            for name in all_cases}


@pytest.mark.parametrize("name", case_names())
def test_node_downsample_equals_python(node_results, name):
    array, factors, method, js_bytes, js_size = node_results[name]
    expected = downsample(array, factors, method)
    c, z, y, x = expected.shape
    assert js_size == [x, y, z]
    assert (c, z, y, x) == (array.shape[0], *(-(-n // f) for n, f in zip(array.shape[1:], factors[::-1])))
    want = expected.astype(expected.dtype.newbyteorder("<")).tobytes()
    assert len(js_bytes) == len(want)
    if js_bytes != want:
        got = np.frombuffer(js_bytes, expected.dtype.newbyteorder("<")).reshape(expected.shape)
        differ = np.argwhere(got.view(f"u{got.itemsize}") != expected.view(f"u{got.itemsize}"))
        pytest.fail(f"{len(differ)} voxels differ, first (c, z, y, x) {tuple(differ[0])}: "
                    f"{got[tuple(differ[0])]!r} != {expected[tuple(differ[0])]!r}")


def test_cases_are_not_trivial():
    """The parity cases exercise what they are meant to: mode blocks with
    more than one value, mean blocks with a rounded half, labels past 2**63."""
    all_cases = cases()
    array, factors, _ = all_cases["uint8_1ch_mean_2x2x1"]
    pairs = array[:, :, :, :12].reshape(1, array.shape[1], array.shape[2], 6, 2).astype(int)
    assert ((pairs[..., 0] + pairs[..., 1]) % 2 == 1).any() and factors == (2, 2, 1)
    mode = all_cases["int16_3ch_mode_2x2x2"][0]
    assert 1 < len(np.unique(mode[:, :2, :2, :2])) and mode.shape[0] == 3
    labels = all_cases["labels64_mode_2x2x2"][0]
    assert len(np.unique(labels)) > 1000 and (labels >= 2 ** 63).any()
    assert len(np.unique(all_cases["fib25_mode_2x2x2"][0])) > 40


# Argument errors of both hosts: Python's call and the JS expression.
ERROR_CASES = {
    "zero_factor": (lambda a: downsample(a, (0, 2, 2), "mode"), "[0, 2, 2], 'mode'"),
    "float_factor": (lambda a: downsample(a, [1.5, 2, 2], "mode"), "[1.5, 2, 2], 'mode'"),
    "two_factors": (lambda a: downsample(a, (2, 2), "mean"), "[2, 2], 'mean'"),
    "string_factors": (lambda a: downsample(a, "222", "mean"), "'222', 'mean'"),
    "big_factor": (lambda a: downsample(a, (2 ** 32, 1, 1), "mean"), "[2 ** 32, 1, 1], 'mean'"),
    "unknown_method": (lambda a: downsample(a, (2, 2, 2), "median"), "[2, 2, 2], 'median'"),
    "method_number": (lambda a: downsample(a, (2, 2, 2), 1), "[2, 2, 2], 1"),
    "method_case": (lambda a: downsample(a, (2, 2, 2), "Mode"), "[2, 2, 2], 'Mode'"),
}


@pytest.fixture(scope="module")
def js_errors():
    node = common.require_tool("node")
    lines = [f"import {{ downsample }} from {json.dumps(NGCODEC_JS)};", "const out = {};"]
    for name, (_, args) in ERROR_CASES.items():
        lines.append(f"try {{ await downsample(new Uint8Array(8), [2, 2, 2], {args}); "
                     f"out[{json.dumps(name)}] = null; }} catch (e) {{ out[{json.dumps(name)}] = "
                     "{ class: e.name, statusName: e.statusName ?? null, message: e.message }; }")
    lines.append("console.log(JSON.stringify(out));")
    proc = common.run_checked([node, "--input-type=module", "-e", "\n".join(lines)], cwd=REPO, timeout=120)
    return json.loads(proc.stdout)


@pytest.mark.parametrize("name", list(ERROR_CASES))
def test_same_argument_error_in_both_hosts(js_errors, name):
    call, _ = ERROR_CASES[name]
    with pytest.raises(InvalidParameterError) as info:
        call(np.zeros((2, 2, 2), np.uint8))
    e = info.value
    assert js_errors[name] == {"class": type(e).__name__, "statusName": e.status_name, "message": str(e)}
