"""The questions of the JS host (ngcodec.js ``compressedSegmentation``:
labels, counts, contains, mask, readBox, readVoxel, readVoxels, remap) against the
answers read from the decoded arrays and against Python's ngcodec.

Fixtures written here for tests/js/ops.test.mjs ($NGCODEC_JS_OPS_FIXTURES):

- cases: FIB-25 and synthetic uint32/uint64 chunks (many labels, several
  channels, anisotropic blocks with partial edge blocks), each encoded by
  the compressed-segmentation package, by ngcodec and (FIB-25) the bundled
  file; with queries and their answers computed with NumPy from the array.
  Python's ngcodec must give those answers here; Node must give them there.
  Node writes its own answers to results/, compared here with Python's (the
  label a NOT_MAPPED error names; remapped chunks decoded by the
  compressed-segmentation package).
- corrupt: damaged chunks (truncated, header bytes changed) with Python's
  outcome of every question (error class, status, place and message, or the
  answer); Node must give the same.

Parity of argument errors is checked with one Node script, as
tests/test_host_parity.py does for decode.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import ngcodec
from ngcodec import compressed_segmentation as cs
from ngcodec.errors import InvalidFormatError, NgcodecError
from tests import common

REPO = Path(__file__).resolve().parents[1]
OPS_TEST = REPO / "tests" / "js" / "ops.test.mjs"
NGCODEC_JS = (REPO / "pyhost" / "ngcodec" / "web" / "ngcodec.js").as_uri()

pytestmark = pytest.mark.node


def node() -> str:
    path = shutil.which("node")
    assert path, "node is required for the JavaScript tests (see build_scripts/test.sh)"
    return path


# --------------------------------------------------------------------------
# Arrays and encodings


def runs(shape, dtype, distinct, seed, run=12):
    """Labels in runs along x from a palette over the dtype's whole range
    (uint64 labels past 2**53), 0 included: uniform and mixed blocks."""
    rng = np.random.default_rng(seed)
    palette = common.random_labels(rng, distinct, dtype)
    palette[0] = 0
    size = int(np.prod(shape))
    starts = np.sort(rng.choice(size, size=max(1, size // run), replace=False))
    starts[0] = 0
    idx = np.repeat(rng.integers(0, distinct, size=len(starts)), np.diff(np.append(starts, size)))
    return palette[idx].reshape(shape)


def noise(shape, dtype, distinct, seed):
    """Every voxel drawn at random: wide (8- and 16-bit) blocks, big tables."""
    rng = np.random.default_rng(seed)
    palette = common.random_labels(rng, distinct, dtype)
    return palette[rng.integers(0, distinct, size=shape)]


def cases():
    """name -> (array (C, Z, Y, X), block size (x, y, z))"""
    fib = common.fib25()[None]
    return {
        "fib25_8x8x8_uint64": (fib, (8, 8, 8)),
        "fib25_4x8x2_uint32": (fib.astype(np.uint32), (4, 8, 2)),
        # More than 4096 (label, count) pairs: the counts call retries.
        "noise_35x33x20_16x16x8_uint32": (noise((1, 20, 33, 35), np.uint32, 60000, 1), (16, 16, 8)),
        "runs_3ch_20x13x7_4x8x2_uint64": (runs((3, 7, 13, 20), np.uint64, 200, 2), (4, 8, 2)),
        "runs_2ch_33x10x9_8x4x4_uint32": (runs((2, 9, 10, 33), np.uint32, 6, 3, run=200), (8, 4, 4)),
        "noise_2ch_24x17x9_4x4x4_uint64": (noise((2, 9, 17, 24), np.uint64, 5000, 4), (4, 4, 4)),
        "runs_7x6x5_8x8x8_uint64": (runs((1, 5, 6, 7), np.uint64, 3, 5), (8, 8, 8)),
        "runs_37x19x11_4x8x2_uint32": (runs((1, 11, 19, 37), np.uint32, 3000, 6, run=3), (4, 8, 2)),
    }


def encodings(name, array, block):
    out = {"theirs": common.seunglab_encode(array, block), "ours": cs.encode(array, block)}
    if name == "fib25_8x8x8_uint64":
        out["given"] = common.BUNDLED_FIB25.read_bytes()
    return out


# --------------------------------------------------------------------------
# Queries and the answers read from the array


def strs(values):
    return [str(int(v)) for v in values]


def queries(array, dtype, seed):
    """Questions about *array* and their answers, from NumPy alone."""
    rng = np.random.default_rng(seed)
    c, z, y, x = array.shape
    top = (1 << (8 * dtype.itemsize)) - 1
    per_channel = [np.unique(a) for a in array]
    present = np.unique(array)
    absent = next(int(v) for v in rng.integers(0, top, size=100, dtype=np.uint64, endpoint=True)
                  if int(v) not in set(present.tolist()))
    pick = lambda: int(present[rng.integers(0, present.size)])  # noqa: E731
    sets = [[pick()], [absent], [absent, pick(), pick()], [], [top + 1 + pick(), absent],
            [2 ** 64 - 1, pick()]]
    only_last = np.setdiff1d(per_channel[-1], np.concatenate(per_channel[:-1])) \
        if c > 1 else np.empty(0, dtype)
    if only_last.size:
        sets.append([int(only_last[0])])
    contains = []
    for labels in sets:
        inside = [v for v in labels if v <= top]
        hit = [bool(np.isin(a, np.asarray(inside, np.uint64)).any()) for a in array]
        contains.append({"labels": strs(labels), "any": any(hit), "perChannel": hit})
    masks = [[pick()], [pick(), pick(), absent, pick()]]
    boxes = [((0, 0, 0), (x, y, z)), ((1, 2, 1), (1, 2, 1)), ((x - 1, y - 1, z - 1), (x, y, z))]
    for _ in range(4):
        lo = [int(rng.integers(0, s)) for s in (x, y, z)]
        hi = [int(rng.integers(l + 1, s + 1)) for l, s in zip(lo, (x, y, z))]
        boxes.append((tuple(lo), tuple(hi)))
    voxels = []
    for _ in range(6):
        p = (int(rng.integers(0, x)), int(rng.integers(0, y)), int(rng.integers(0, z)))
        ch = int(rng.integers(0, c))
        voxels.append({"position": p, "channel": ch, "value": str(int(array[ch, p[2], p[1], p[0]]))})
    # Many voxels per channel for read_voxels: random ones, both corners, repeats.
    pts = np.stack([rng.integers(0, s, size=200) for s in (x, y, z)], axis=1)
    pts = np.concatenate([[[0, 0, 0], [x - 1, y - 1, z - 1]], pts, pts[:10][::-1]])
    points = [{"positions": pts.tolist(),
               "values": strs(array[ch, pts[:, 2], pts[:, 1], pts[:, 0]])} for ch in range(c)]
    # Mappings: every label (some merged), half of them, and labels past the chunk's.
    full_values = rng.integers(0, top, size=present.size, dtype=np.uint64, endpoint=True)
    full_values[::3] = full_values[0]  # merges
    half = present[rng.permutation(present.size)[: max(1, present.size // 2)]]
    remaps = [
        (present, full_values.astype(dtype), False),
        (half, (half.astype(np.uint64) ^ np.uint64(1)).astype(dtype) if dtype == np.uint64
         else (half ^ np.uint32(1)), False),
        (half, np.zeros(half.size, dtype), True),
        (np.concatenate([present, [absent]]).astype(dtype),
         np.concatenate([present[::-1], [5]]).astype(dtype), False),
    ]
    return {"contains": contains, "masks": masks, "boxes": boxes, "voxels": voxels,
            "points": points, "remaps": remaps, "per_channel": per_channel}


def apply_mapping(array, keys, values, preserve):
    """(mapped array, labels without a key)."""
    lookup = dict(zip(map(int, keys), map(int, values)))
    flat = array.ravel()
    missing = sorted({int(v) for v in np.unique(flat)} - set(lookup))
    if missing and not preserve:
        return None, missing
    mapped = np.array([lookup.get(int(v), int(v)) for v in np.unique(flat)], array.dtype)
    return mapped[np.searchsorted(np.unique(flat), flat)].reshape(array.shape), missing


# --------------------------------------------------------------------------
# Corrupt chunks and Python's outcome of every question

# The questions asked of every corrupt chunk: name -> Python call (the JS
# test runs the same question by name). The first six must refuse whatever
# decode refuses (ngcodec.h); readVoxel and readVoxels read the blocks of
# their positions only, so they may answer.
REFUSING = ("labels", "counts", "contains", "mask", "readBox", "remap")


def python_questions(chunk, size, dtype, block, channels):
    x, y, z = size
    return {
        "labels": lambda: [strs(a) for a in cs.labels(chunk, size, dtype, block, channels)],
        "counts": lambda: [[strs(a), strs(b)] for a, b in cs.counts(chunk, size, dtype, block, channels)],
        "contains": lambda: cs.contains(chunk, size, dtype, block, [0, 1], channels),
        "mask": lambda: int(cs.mask(chunk, size, dtype, block, [0], channels).sum()),
        "readBox": lambda: strs(cs.read_box(chunk, size, dtype, block, ((0, 0, 0), (x, y, z)),
                                            channels).ravel()[:16]),
        "readVoxel": lambda: str(int(cs.read_voxel(chunk, size, dtype, block, (0, 0, 0), channels))),
        "readVoxels": lambda: strs(cs.read_voxels(
            chunk, size, dtype, block, [(0, 0, 0), (x - 1, y - 1, z - 1), (x >> 1, y >> 1, z >> 1)],
            channels, channels - 1)),
        "remap": lambda: len(cs.remap(chunk, size, dtype, block, ([], []), channels,
                                      preserve_missing_labels=True)),
    }


def outcome(call):
    try:
        return {"value": call()}
    except NgcodecError as e:
        return {"error": {"class": type(e).__name__, "status": e.status, "statusName": e.status_name,
                          "channel": e.channel,
                          "block": list(e.block) if e.block is not None else None,
                          "message": str(e)}}


def corruptions(data: bytes, channels: int, seed: int):
    """(name, bytes): truncations and header words changed."""
    words = np.frombuffer(data, "<u4").copy()
    out = [(f"truncated_{n}", data[:n])
           for n in sorted({0, 2, 4, 4 * channels, 4 * channels + 4, len(data) // 2 // 4 * 4,
                            len(data) // 2 + 1, len(data) - 4, len(data) - 1})]

    def with_word(i, value):
        w = words.copy()
        w[i] = value
        return w.tobytes()

    first = int(words[0])  # channel 0's block headers start here
    out += [
        ("channel_offset_past_end", with_word(0, len(words) + 5)),
        ("bits_3", with_word(first, (int(words[first]) & 0xFFFFFF) | (3 << 24))),
        ("table_offset_past_end", with_word(first, (int(words[first]) & 0xFF000000) | 0xFFFFFF)),
        ("values_offset_past_end", with_word(first + 1, 0xFFFFFFFF)),
    ]
    if channels > 1:
        out.append(("channel_1_offset_past_end", with_word(1, len(words) + 1)))
    rng = np.random.default_rng(seed)
    raw = bytearray(data)
    header_end = 4 * (first + 2 * 8)
    for i in range(12):  # bytes of the channel and block headers set at random
        damaged = bytearray(raw)
        at = int(rng.integers(0, min(header_end, len(damaged))))
        damaged[at] ^= int(rng.integers(1, 256))
        out.append((f"header_byte_{at}_{i}", bytes(damaged)))
    return out


# --------------------------------------------------------------------------
# The fixture folder


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    """Writes the fixture folder; returns (folder, manifest, Python's own
    answers and the arrays) for the checks after Node has run."""
    out = tmp_path_factory.mktemp("js_ops")
    manifest = {"cases": [], "corrupt": []}
    expected = {}
    for seed, (name, (array, block)) in enumerate(cases().items()):
        dtype = array.dtype
        c, z, y, x = array.shape
        size = (x, y, z)
        q = queries(array, dtype, 100 + seed)
        (out / f"{name}.raw").write_bytes(array.astype(dtype.newbyteorder("<")).tobytes())
        files = {}
        for kind, data in encodings(name, array, block).items():
            # Pin each encoding to the format before handing it over.
            np.testing.assert_array_equal(common.seunglab_decode(data, size, block, dtype, c), array)
            files[kind] = f"{name}.{kind}.cseg"
            (out / files[kind]).write_bytes(data)
        entry = {"name": name, "chunkSize": list(size), "blockSize": list(block),
                 "dtype": dtype.name, "numChannels": c, "raw": f"{name}.raw", "encodings": files,
                 "labels": [strs(a) for a in q["per_channel"]],
                 "counts": [[strs(v), strs(n)] for v, n in
                            (np.unique(a, return_counts=True) for a in array)],
                 "contains": q["contains"], "voxels": q["voxels"], "points": q["points"],
                 "masks": [], "boxes": [], "remaps": []}
        for i, labels in enumerate(q["masks"]):
            file = f"{name}.mask{i}"
            (out / file).write_bytes(np.isin(array, np.asarray(labels, np.uint64)).astype(np.uint8).tobytes())
            entry["masks"].append({"labels": strs(labels), "file": file})
        for i, (lo, hi) in enumerate(q["boxes"]):
            file = f"{name}.box{i}"
            part = array[:, lo[2]:hi[2], lo[1]:hi[1], lo[0]:hi[0]]
            (out / file).write_bytes(part.astype(dtype.newbyteorder("<")).tobytes())
            entry["boxes"].append({"box": [list(lo), list(hi)], "file": file})
        for i, (keys, values, preserve) in enumerate(q["remaps"]):
            mapped, missing = apply_mapping(array, keys, values, preserve)
            remap = {"keys": strs(keys), "values": strs(values), "preserve": preserve}
            if mapped is None:
                remap["missing"] = [str(v) for v in missing]
            else:
                remap["file"] = f"{name}.remap{i}"
                (out / remap["file"]).write_bytes(mapped.astype(dtype.newbyteorder("<")).tobytes())
            entry["remaps"].append(remap)
        manifest["cases"].append(entry)
        expected[name] = (array, block, q, files)
    # Corrupt chunks: damage to ngcodec's and to the other package's encodings.
    for name in ("runs_3ch_20x13x7_4x8x2_uint64", "runs_2ch_33x10x9_8x4x4_uint32",
                 "noise_35x33x20_16x16x8_uint32"):
        array, block, _, files = expected[name]
        c, z, y, x = array.shape
        for kind in ("ours", "theirs"):
            data = (out / files[kind]).read_bytes()
            for damage, chunk in corruptions(data, c, len(manifest["corrupt"])):
                calls = python_questions(chunk, (x, y, z), array.dtype.name, block, c)
                decoded = outcome(lambda: cs.decode(chunk, (x, y, z), array.dtype, block, c).size)
                if "error" not in decoded:
                    continue  # still a valid chunk
                file = f"{name}.{kind}.{damage}.bad"
                (out / file).write_bytes(chunk)
                manifest["corrupt"].append({
                    "name": f"{name}.{kind}.{damage}", "file": file, "chunkSize": [x, y, z],
                    "blockSize": list(block), "dtype": array.dtype.name, "numChannels": c,
                    "decode": decoded["error"],
                    "outcomes": {q: outcome(call) for q, call in calls.items()},
                })
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return out, manifest, expected


def test_python_answers_equal_the_arrays(fixtures):
    """Python's ngcodec gives the answers read from the arrays (so Node,
    which must give them too, gives Python's)."""
    out, manifest, expected = fixtures
    for entry in manifest["cases"]:
        array, block, q, files = expected[entry["name"]]
        dtype, c = array.dtype, array.shape[0]
        size = tuple(entry["chunkSize"])
        for kind, file in files.items():
            data = (out / file).read_bytes()
            where = f"{entry['name']} ({kind})"
            assert [strs(a) for a in cs.labels(data, size, dtype, block, c)] == entry["labels"], where
            assert [[strs(a), strs(n)] for a, n in cs.counts(data, size, dtype, block, c)] \
                == entry["counts"], where
            for item in entry["contains"]:
                labels = [int(v) for v in item["labels"]]
                assert cs.contains(data, size, dtype, block, labels, c) == item["any"], (where, labels)
                assert cs.contains(data, size, dtype, block, labels, c, per_channel=True).tolist() \
                    == item["perChannel"], (where, labels)
            for item in entry["masks"]:
                got = cs.mask(data, size, dtype, block, [int(v) for v in item["labels"]], c)
                assert got.astype(np.uint8).tobytes() == (out / item["file"]).read_bytes(), where
            for item in entry["boxes"]:
                got = cs.read_box(data, size, dtype, block, item["box"], c)
                assert got.astype(dtype.newbyteorder("<")).tobytes() == (out / item["file"]).read_bytes(), \
                    (where, item["box"])
            for item in entry["voxels"]:
                got = cs.read_voxel(data, size, dtype, block, item["position"], c, item["channel"])
                assert str(int(got)) == item["value"], (where, item)
            for ch, item in enumerate(entry["points"]):
                got = cs.read_voxels(data, size, dtype, block, item["positions"], c, ch)
                assert got.dtype == dtype and strs(got) == item["values"], (where, ch)
            for item in entry["remaps"]:
                mapping = (np.asarray([int(v) for v in item["keys"]], np.uint64),
                           np.asarray([int(v) for v in item["values"]], np.uint64))
                if "missing" in item:
                    with pytest.raises(ngcodec.errors.InvalidParameterError) as info:
                        cs.remap(data, size, dtype, block, mapping, c,
                                 preserve_missing_labels=item["preserve"])
                    assert str(info.value.label) in item["missing"], where
                    continue
                got = cs.remap(data, size, dtype, block, mapping, c,
                               preserve_missing_labels=item["preserve"])
                want = np.frombuffer((out / item["file"]).read_bytes(), dtype.newbyteorder("<"))
                np.testing.assert_array_equal(cs.decode(got, size, dtype, block, c).ravel(), want,
                                              err_msg=where)


def test_python_refuses_every_corrupt_chunk(fixtures):
    """What decode refuses, every question that reads the whole chunk
    refuses, with decode's status and place (ngcodec.h)."""
    _, manifest, _ = fixtures
    assert len(manifest["corrupt"]) >= 40, len(manifest["corrupt"])
    for item in manifest["corrupt"]:
        for question in REFUSING:
            error = item["outcomes"][question].get("error")
            assert error is not None, (item["name"], question, item["outcomes"][question])
            assert error["class"] == "InvalidFormatError", (item["name"], question, error)
            for key in ("statusName", "channel", "block"):
                assert error[key] == item["decode"][key], (item["name"], question, key)


def test_node_answers(fixtures):
    """node --test tests/js/ops.test.mjs, with the fixtures: every answer is
    the array's; then its answers are compared with Python's here."""
    out, manifest, expected = fixtures
    env = {**os.environ, "NGCODEC_JS_OPS_FIXTURES": str(out)}
    proc = subprocess.run([node(), "--test", str(OPS_TEST)], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert "# fail 0" in proc.stdout and "# skipped 0" in proc.stdout, proc.stdout[-3000:]
    results = out / "results"
    for entry in manifest["cases"]:
        array, block, _, files = expected[entry["name"]]
        dtype, c = array.dtype, array.shape[0]
        size = tuple(entry["chunkSize"])
        for kind, file in files.items():
            where = f"{entry['name']} ({kind})"
            data = (out / file).read_bytes()
            got = json.loads((results / f"{entry['name']}.{kind}.json").read_text())
            assert got["labels"] == [strs(a) for a in cs.labels(data, size, dtype, block, c)], where
            assert got["counts"] == [[strs(a), strs(n)] for a, n in
                                     cs.counts(data, size, dtype, block, c)], where
            assert got["points"] == [
                strs(cs.read_voxels(data, size, dtype, block, item["positions"], c, ch))
                for ch, item in enumerate(entry["points"])], where
            for i, item in enumerate(entry["remaps"]):
                mapping = ([int(v) for v in item["keys"]], [int(v) for v in item["values"]])
                if "missing" in item:
                    # The same C call: the same label named, in the same message.
                    with pytest.raises(ngcodec.errors.InvalidParameterError) as info:
                        cs.remap(data, size, dtype, block, mapping, c,
                                 preserve_missing_labels=item["preserve"])
                    assert got["remapErrors"][i] == {
                        "label": str(info.value.label),
                        "message": str(info.value).replace("preserve_missing_labels=True",
                                                           "preserveMissingLabels: true"),
                    }, where
                    continue
                # Node's remapped chunk, decoded by the other package.
                ours = (results / f"{entry['name']}.{kind}.remap{i}.cseg").read_bytes()
                want = np.frombuffer((out / item["file"]).read_bytes(), dtype.newbyteorder("<"))
                np.testing.assert_array_equal(
                    common.seunglab_decode(ours, size, block, dtype, c).ravel(), want, err_msg=where)
    corrupt = json.loads((results / "corrupt.json").read_text())
    assert corrupt == len(manifest["corrupt"]), "Node did not check every corrupt chunk"


# --------------------------------------------------------------------------
# Argument errors: the same class, status and message in both hosts

W = lambda *v: np.asarray(v, "<u4").tobytes()  # noqa: E731
ONE = W(1, 2, 3, 2)  # one 0-bit block of (2, 2, 2): every voxel is 2
S = (2, 2, 2)
# name -> (Python call on bytes b, JS expression with bytes b (n: ngcodec.js),
#          message substitution Python -> JS, or None for the same text)
ARG_CASES = {
    "labels_zero_block": (lambda b: cs.labels(b, S, "uint32", (0, 2, 2)),
                          'cs.labels(b, [2,2,2], "uint32", [0,2,2])'),
    "counts_dtype": (lambda b: cs.counts(b, S, "int32", S),
                     'cs.counts(b, [2,2,2], "int32", [2,2,2])'),
    "contains_channels": (lambda b: cs.contains(b, S, "uint32", S, 2, 0),
                          'cs.contains(b, [2,2,2], "uint32", [2,2,2], 2, {numChannels: 0})'),
    "contains_negative": (lambda b: cs.contains(b, S, "uint32", S, [1, -5, 3]),
                          'cs.contains(b, [2,2,2], "uint32", [2,2,2], [1, -5, 3])'),
    "contains_negative_bigint": (lambda b: cs.contains(b, S, "uint64", S, -(2 ** 60)),
                                 'cs.contains(b, [2,2,2], "uint64", [2,2,2], -(2n ** 60n))'),
    "contains_string": (lambda b: cs.contains(b, S, "uint32", S, "a"),
                        'cs.contains(b, [2,2,2], "uint32", [2,2,2], "a")'),
    "mask_string": (lambda b: cs.mask(b, S, "uint32", S, "b"),
                    'cs.mask(b, [2,2,2], "uint32", [2,2,2], "b")'),
    "read_box_not_a_pair": (lambda b: cs.read_box(b, S, "uint32", S, 5),
                            'cs.readBox(b, [2,2,2], "uint32", [2,2,2], 5)'),
    "read_box_outside": (lambda b: cs.read_box(b, S, "uint32", S, ((0, 0, 0), (3, 1, 1))),
                         'cs.readBox(b, [2,2,2], "uint32", [2,2,2], [[0,0,0],[3,1,1]])'),
    "read_box_inverted": (lambda b: cs.read_box(b, S, "uint32", S, ((1, 0, 0), (0, 1, 1))),
                          'cs.readBox(b, [2,2,2], "uint32", [2,2,2], [[1,0,0],[0,1,1]])'),
    "read_box_short_corner": (lambda b: cs.read_box(b, S, "uint32", S, ((0, 0), (1, 1, 1))),
                              'cs.readBox(b, [2,2,2], "uint32", [2,2,2], [[0,0],[1,1,1]])'),
    "read_box_negative": (lambda b: cs.read_box(b, S, "uint32", S, ((0, -1, 0), (1, 1, 1))),
                          'cs.readBox(b, [2,2,2], "uint32", [2,2,2], [[0,-1,0],[1,1,1]])'),
    "read_voxel_channel": (lambda b: cs.read_voxel(b, S, "uint32", S, (1, 0, 0), 1, 1),
                           'cs.readVoxel(b, [2,2,2], "uint32", [2,2,2], [1,0,0], {channel: 1})'),
    "read_voxel_channel_2": (lambda b: cs.read_voxel(b, S, "uint32", S, (1, 0, 0), 2, -1),
                             'cs.readVoxel(b, [2,2,2], "uint32", [2,2,2], [1,0,0], '
                             '{numChannels: 2, channel: -1})'),
    "read_voxel_outside": (lambda b: cs.read_voxel(b, S, "uint32", S, (2, 0, 0)),
                           'cs.readVoxel(b, [2,2,2], "uint32", [2,2,2], [2,0,0])'),
    "read_voxel_position": (lambda b: cs.read_voxel(b, S, "uint32", S, (0, 0)),
                            'cs.readVoxel(b, [2,2,2], "uint32", [2,2,2], [0,0])'),
    "read_voxel_outside_far": (lambda b: cs.read_voxel(b, S, "uint32", S, (0, 0, 2 ** 32 - 1)),
                               'cs.readVoxel(b, [2,2,2], "uint32", [2,2,2], [0,0,2**32-1])'),
    "read_voxel_negative": (lambda b: cs.read_voxel(b, S, "uint32", S, (0, -1, 0)),
                            'cs.readVoxel(b, [2,2,2], "uint32", [2,2,2], [0,-1,0])'),
    # Channel first, then the position, as Python checks them.
    "read_voxel_channel_and_position": (lambda b: cs.read_voxel(b, S, "uint32", S, (5, 0, 0), 1, 3),
                                        'cs.readVoxel(b, [2,2,2], "uint32", [2,2,2], [5,0,0], '
                                        '{channel: 3})'),
    "read_voxel_truncated": (lambda b: cs.read_voxel(b[:4], S, "uint32", S, (0, 0, 0)),
                             'cs.readVoxel(b.subarray(0, 4), [2,2,2], "uint32", [2,2,2], [0,0,0])'),
    "read_voxels_channel": (lambda b: cs.read_voxels(b, S, "uint32", S, [(0, 0, 0)], 2, 2),
                            'cs.readVoxels(b, [2,2,2], "uint32", [2,2,2], [[0,0,0]], '
                            '{numChannels: 2, channel: 2})'),
    "read_voxels_channel_negative": (lambda b: cs.read_voxels(b, S, "uint32", S, [], 1, -1),
                                     'cs.readVoxels(b, [2,2,2], "uint32", [2,2,2], [], {channel: -1})'),
    "read_voxels_outside": (lambda b: cs.read_voxels(b, S, "uint32", S, [(0, 0, 0), (1, 2, 1)]),
                            'cs.readVoxels(b, [2,2,2], "uint32", [2,2,2], [[0,0,0],[1,2,1]])'),
    "read_voxels_outside_flat": (lambda b: cs.read_voxels(b, S, "uint32", S, [1, 1, 1, 0, 0, 7]),
                                 'cs.readVoxels(b, [2,2,2], "uint32", [2,2,2], '
                                 'new Uint32Array([1,1,1,0,0,7]))'),
    "read_voxels_negative": (lambda b: cs.read_voxels(b, S, "uint32", S, [(0, -1, 0)]),
                             'cs.readVoxels(b, [2,2,2], "uint32", [2,2,2], [[0,-1,0]])'),
    "read_voxels_negative_typed": (lambda b: cs.read_voxels(b, S, "uint32", S,
                                                            np.array([0, 0, -3], np.int32)),
                                   'cs.readVoxels(b, [2,2,2], "uint32", [2,2,2], '
                                   'new Int32Array([0,0,-3]))'),
    "read_voxels_pairs": (lambda b: cs.read_voxels(b, S, "uint32", S, [(0, 0), (1, 1)]),
                          'cs.readVoxels(b, [2,2,2], "uint32", [2,2,2], [[0,0],[1,1]])'),
    "read_voxels_not_3n": (lambda b: cs.read_voxels(b, S, "uint32", S, [0, 0, 0, 1]),
                           'cs.readVoxels(b, [2,2,2], "uint32", [2,2,2], [0,0,0,1])'),
    "read_voxels_ragged": (lambda b: cs.read_voxels(b, S, "uint32", S, [(0, 0, 0), (1, 1)]),
                           'cs.readVoxels(b, [2,2,2], "uint32", [2,2,2], [[0,0,0],[1,1]])'),
    "read_voxels_float": (lambda b: cs.read_voxels(b, S, "uint32", S, [(0, 0.5, 0)]),
                          'cs.readVoxels(b, [2,2,2], "uint32", [2,2,2], [[0,0.5,0]])'),
    "read_voxels_float_array": (lambda b: cs.read_voxels(b, S, "uint32", S, np.zeros(3, np.float32)),
                                'cs.readVoxels(b, [2,2,2], "uint32", [2,2,2], new Float32Array(3))'),
    "read_voxels_string": (lambda b: cs.read_voxels(b, S, "uint32", S, "abc"),
                           'cs.readVoxels(b, [2,2,2], "uint32", [2,2,2], "abc")'),
    "read_voxels_none": (lambda b: cs.read_voxels(b, S, "uint32", S, None),
                         'cs.readVoxels(b, [2,2,2], "uint32", [2,2,2], null)'),
    "read_voxels_one_int": (lambda b: cs.read_voxels(b, S, "uint32", S, 5),
                            'cs.readVoxels(b, [2,2,2], "uint32", [2,2,2], 5)'),
    "read_voxels_dtype": (lambda b: cs.read_voxels(b, S, "int64", S, [(0, 0, 0)]),
                          'cs.readVoxels(b, [2,2,2], "int64", [2,2,2], [[0,0,0]])'),
    "read_voxels_truncated": (lambda b: cs.read_voxels(b[:4], S, "uint32", S, [(0, 0, 0)]),
                              'cs.readVoxels(b.subarray(0, 4), [2,2,2], "uint32", [2,2,2], [[0,0,0]])'),
    "read_voxels_truncated_no_points": (lambda b: cs.read_voxels(b[:4], S, "uint32", S, []),
                                        'cs.readVoxels(b.subarray(0, 4), [2,2,2], "uint32", [2,2,2], [])'),
    "read_voxels_bad_table": (lambda b: cs.read_voxels(W(1, 9, 3, 2), S, "uint32", S, [(1, 1, 1)]),
                              'cs.readVoxels(w(1, 9, 3, 2), [2,2,2], "uint32", [2,2,2], [[1,1,1]])'),
    "remap_lengths": (lambda b: cs.remap(b, S, "uint32", S, ([1, 2], [3])),
                      'cs.remap(b, [2,2,2], "uint32", [2,2,2], [[1,2],[3]])'),
    "remap_negative_value": (lambda b: cs.remap(b, S, "uint32", S, ([1, 2], [4, -1])),
                             'cs.remap(b, [2,2,2], "uint32", [2,2,2], [[1,2],[4,-1]])'),
    "remap_value_too_big": (lambda b: cs.remap(b, S, "uint32", S, {2: 2 ** 32}),
                            'cs.remap(b, [2,2,2], "uint32", [2,2,2], new Map([[2, 2**32]]))'),
    "remap_key_too_big": (lambda b: cs.remap(b, S, "uint64", S, {2 ** 64: 1}),
                          'cs.remap(b, [2,2,2], "uint64", [2,2,2], new Map([[2n**64n, 1n]]))'),
    "remap_two_values": (lambda b: cs.remap(b, S, "uint32", S, ([1, 2, 1], [2, 3, 4])),
                         'cs.remap(b, [2,2,2], "uint32", [2,2,2], [[1,2,1],[2,3,4]])'),
    "remap_two_values_second_key": (lambda b: cs.remap(b, S, "uint32", S, ([1, 1, 2, 2], [5, 5, 6, 7])),
                                    'cs.remap(b, [2,2,2], "uint32", [2,2,2], [[1,1,2,2],[5,5,6,7]])'),
    "remap_string_value": (lambda b: cs.remap(b, S, "uint32", S, ([1], ["x"])),
                           'cs.remap(b, [2,2,2], "uint32", [2,2,2], [[1],["x"]])'),
    "remap_float_key": (lambda b: cs.remap(b, S, "uint32", S, {1.5: 2}),
                        'cs.remap(b, [2,2,2], "uint32", [2,2,2], new Map([[1.5, 2]]))'),
    "contains_float": (lambda b: cs.contains(b, S, "uint32", S, [2, 2.5]),
                       'cs.contains(b, [2,2,2], "uint32", [2,2,2], [2, 2.5])'),
    "remap_strings": (lambda b: cs.remap(b, S, "uint32", S, ([1, "a"], [2, 3])),
                      'cs.remap(b, [2,2,2], "uint32", [2,2,2], [[1,"a"],[2,3]])'),
    "remap_not_mapped": (lambda b: cs.remap(b, S, "uint32", S, {3: 4}),
                         'cs.remap(b, [2,2,2], "uint32", [2,2,2], new Map([[3, 4]]))'),
    "remap_not_mapped_uint64": (lambda b: cs.remap(W(1, 2, 3, 7, 1), S, "uint64", S, {3: 4}),
                                'cs.remap(w(1, 2, 3, 7, 1), [2,2,2], "uint64", [2,2,2], '
                                'new Map([[3n, 4n]]))'),
    # Overlapping tables: decode, map, encode; the label is the first voxel's.
    "remap_overlap_not_mapped": (lambda b: cs.remap(W(1, 1, 2), S, "uint32", S, {3: 4}),
                                 'cs.remap(w(1, 1, 2), [2,2,2], "uint32", [2,2,2], '
                                 'new Map([[3, 4]]))'),
    "remap_corrupt": (lambda b: cs.remap(b[:8], S, "uint32", S, {2: 4}),
                      'cs.remap(b.subarray(0, 8), [2,2,2], "uint32", [2,2,2], new Map([[2, 4]]))'),
}
# Where the JS words differ: its option and argument names.
JS_WORDS = [("preserve_missing_labels=True", "preserveMissingLabels: true")]


def python_error(call):
    with pytest.raises(NgcodecError) as info:
        call(ONE)
    e = info.value
    message = str(e)
    for py, js in JS_WORDS:
        message = message.replace(py, js)
    return {"class": type(e).__name__, "status": e.status, "statusName": e.status_name,
            "channel": e.channel, "block": list(e.block) if e.block is not None else None,
            "message": message, "label": str(e.label) if hasattr(e, "label") else None}


@pytest.fixture(scope="module")
def js_arg_errors():
    lines = [f"import * as n from {json.dumps(NGCODEC_JS)};",
             "const cs = n.compressedSegmentation; const out = {};",
             "const w = (...v) => new Uint8Array(new Uint32Array(v).buffer);",
             f"const b = new Uint8Array({json.dumps(list(ONE))});"]
    for name, (_, expr) in ARG_CASES.items():
        lines.append(f"try {{ await {expr}; out[{json.dumps(name)}] = null; }} catch (e) {{"
                     f"out[{json.dumps(name)}] = {{class: e.name, status: e.status ?? null,"
                     "statusName: e.statusName ?? null, channel: e.channel ?? null,"
                     "block: e.block ?? null, message: e.message,"
                     "label: e.label === undefined ? null : String(e.label)}; }")
    lines.append("console.log(JSON.stringify(out));")
    proc = subprocess.run([node(), "--input-type=module", "-e", "\n".join(lines)],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("name", list(ARG_CASES))
def test_same_argument_error_in_both_hosts(js_arg_errors, name):
    call, _ = ARG_CASES[name]
    assert js_arg_errors[name] == python_error(call)


def test_overlap_chunk_takes_the_decode_map_encode_path():
    """The hand-made chunk of the JS overlap test (and remap_overlap_not_mapped
    above) is one the module refuses to rewrite in place, so that test runs
    the host's fallback."""
    from ngcodec import runtime
    from ngcodec.runtime import questions
    src = W(1, 1, 2)
    with pytest.raises(NgcodecError) as info:
        questions.remap(runtime.Chunk(S, 1, 4, S), src, len(src), np.array([2], "<u8"),
                        np.array([7], "<u8"), False, what="remap", limits=None)
    assert info.value.status_name == "NGC_ERR_TABLE_OVERLAP"


def test_corrupt_chunk_is_invalid_format_in_python():
    """A sanity check of this file's corrupt fixtures: a truncated chunk is
    InvalidFormatError from a question, as from decode."""
    with pytest.raises(InvalidFormatError):
        cs.labels(ONE[:8], S, "uint32", S)
