"""``ngcodec verify PATH`` (issue 6): it finds every chunk damaged in a test
dataset, passes an undamaged one, and never modifies the dataset.

Datasets are written here with ngcodec's own encoders (compressed_segmentation,
raw, JPEG), gzip variants, flat and nested file layouts, voxel offsets and
edge chunks, a sharded scale (written by ngcodec's Volume); one more is
written by tensorstore. Sharded damage is in test_verify_sharded.py.
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

from tests import common
import ngcodec
from ngcodec import Limits, chunk_encoding, cli, verify

MiB = 1 << 20


# -- writing datasets --------------------------------------------------------------

def _grid(size, chunk, offset):
    """Each chunk's ((x0, x1), (y0, y1), (z0, z1)), clipped to the volume."""
    out = []
    for z0 in range(0, size[2], chunk[2]):
        for y0 in range(0, size[1], chunk[1]):
            for x0 in range(0, size[0], chunk[0]):
                out.append(tuple((o + a, o + min(a + c, s)) for a, c, s, o in
                                 zip((x0, y0, z0), chunk, size, offset)))
    return out


def write_scale(root, info, scale, volume, gzip_every=0, nested=False):
    """Writes every chunk of *volume* ((C, Z, Y, X), voxel (0, 0, 0) at the
    scale's voxel_offset) with ngcodec's encoder for *scale*; every
    *gzip_every*-th file is gzipped (named .gz). Returns the relative names."""
    encoder = chunk_encoding.get_encoder(info, scale)
    size, chunk = scale["size"], scale["chunk_sizes"][0]
    offset = scale.get("voxel_offset", [0, 0, 0])
    names = []
    for i, ranges in enumerate(_grid(size, chunk, offset)):
        (x0, x1), (y0, y1), (z0, z1) = ranges
        ox, oy, oz = offset
        data = volume[:, z0 - oz:z1 - oz, y0 - oy:y1 - oy, x0 - ox:x1 - ox]
        buf = bytes(encoder.encode(data))
        if nested:
            name = f"{x0}-{x1}/{y0}-{y1}/{z0}-{z1}"
        else:
            name = f"{x0}-{x1}_{y0}-{y1}_{z0}-{z1}"
        if gzip_every and i % gzip_every == 0:
            buf = gzip.compress(buf, mtime=0)
            name += ".gz"
        path = root / scale["key"] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buf)
        names.append(name)
    return names


def segmentation_dataset(root):
    """Three scales: cseg (flat, gzip on every other chunk, edge chunks),
    raw (nested layout, voxel offset, all gzipped), and a sharded cseg one
    (one shard of one chunk, written by ngcodec.precomputed)."""
    labels = common.voronoi((70, 90, 100), 60, "uint64", seed=7)[np.newaxis]
    half = np.ascontiguousarray(labels[:, ::2, ::2, ::2])
    info = {"@type": "neuroglancer_multiscale_volume", "type": "segmentation",
            "data_type": "uint64", "num_channels": 1, "scales": [
                {"key": "8_8_8", "size": [100, 90, 70], "resolution": [8, 8, 8],
                 "voxel_offset": [0, 0, 0], "chunk_sizes": [[64, 64, 64]],
                 "encoding": "compressed_segmentation",
                 "compressed_segmentation_block_size": [8, 8, 8]},
                {"key": "16_16_16", "size": [50, 45, 35], "resolution": [16, 16, 16],
                 "voxel_offset": [-10, 5, 3], "chunk_sizes": [[32, 32, 16]],
                 "encoding": "raw"},
                {"key": "32_32_32", "size": [25, 23, 18], "resolution": [32, 32, 32],
                 "voxel_offset": [0, 0, 0], "chunk_sizes": [[64, 64, 64]],
                 "encoding": "compressed_segmentation",
                 "compressed_segmentation_block_size": [8, 8, 8],
                 "sharding": {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 0,
                              "hash": "identity", "minishard_bits": 0, "shard_bits": 0,
                              "minishard_index_encoding": "raw", "data_encoding": "raw"}},
            ]}
    root.mkdir(parents=True, exist_ok=True)
    (root / "info").write_text(json.dumps(info))
    names = {"8_8_8": write_scale(root, info, info["scales"][0], labels, gzip_every=2),
             "16_16_16": write_scale(root, info, info["scales"][1], half, gzip_every=1,
                                     nested=True)}
    vol = ngcodec.precomputed.open(root, scale="32_32_32", mode="r+")
    vol[0:25, 0:23, 0:18] = labels[0, ::4, ::4, ::4].transpose(2, 1, 0)
    assert sorted(os.listdir(root / "32_32_32")) == ["0.shard"]
    return info, names


def image_dataset(root):
    """uint8 image: JPEG (gzip on one file) and raw scales."""
    rng = np.random.default_rng(3)
    image = (rng.integers(0, 40, size=(1, 40, 48, 56)) + np.arange(56)).astype(np.uint8)
    info = {"type": "image", "data_type": "uint8", "num_channels": 1, "scales": [
        {"key": "jpeg", "size": [56, 48, 40], "resolution": [4, 4, 4],
         "chunk_sizes": [[32, 32, 32]], "encoding": "jpeg"},
        {"key": "raw", "size": [56, 48, 40], "resolution": [4, 4, 4],
         "chunk_sizes": [[32, 32, 32]], "encoding": "raw"}]}
    root.mkdir(parents=True, exist_ok=True)
    (root / "info").write_text(json.dumps(info))
    return info, {"jpeg": write_scale(root, info, info["scales"][0], image, gzip_every=3),
                  "raw": write_scale(root, info, info["scales"][1], image)}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("pristine") / "seg"
    info, names = segmentation_dataset(root)
    return root, info, names


@pytest.fixture
def dataset(pristine, tmp_path):
    """A fresh copy of the segmentation dataset for a test to damage."""
    root, info, names = pristine
    copy = tmp_path / "seg"
    shutil.copytree(root, copy)
    return copy, info, names


def run(args, capsys):
    """``ngcodec verify`` through the CLI: (exit code, stdout, stderr)."""
    code = cli.main(["verify", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(args, capsys):
    code, out, err = run([*args, "--json"], capsys)
    report = json.loads(out)
    assert report["exit_code"] == code
    return code, report, err


# -- an undamaged dataset ----------------------------------------------------------

def test_undamaged_dataset_passes(pristine, capsys):
    root, info, names = pristine
    code, out, err = run([root], capsys)
    assert code == 0, out
    assert "BAD" not in out
    lines = out.splitlines()
    assert lines[-1] == "OK"
    assert "scale 8_8_8 (compressed_segmentation, chunks 64x64x64): 8 chunk files, 8 ok, 0 bad, " \
           "0 missing, 0 unknown" in out
    assert "scale 16_16_16 (raw, chunks 32x32x16): 12 chunk files, 12 ok" in out
    assert "scale 32_32_32 (compressed_segmentation, chunks 64x64x64, sharded): 1 shard " \
           "file(s), 1 chunks, 1 ok, 0 bad, 0 missing, 0 unknown, 0 index problem(s)" in out
    assert "21 chunks (20 chunk files, 1 in 1 shard file(s)) in 3 scale(s) verified" in out
    assert "SKIPPED" not in out
    assert err == ""  # the progress bar is for terminals only (see test_progress_bar_*)


def test_undamaged_dataset_json(pristine, capsys):
    root, info, names = pristine
    code, report, _ = run_json([root, "--no-progress"], capsys)
    assert code == 0 and report["ok"]
    assert report["summary"] == dict(report["summary"], scales=3, scales_verified=3,
                                     scales_skipped=0, scale_errors=0, chunk_files=20, shards=1,
                                     chunks=21, ok=21, bad=0, index_problems=0, missing=0,
                                     unknown=0)
    assert report["bad_chunks"] == [] and report["missing_chunks"] == []
    assert report["shard_problems"] == [] and report["skipped_scales"] == []
    assert report["limits"] == {"memory_bytes": 256 * MiB, "seconds": 2.0}
    assert report["jobs"] == os.cpu_count()
    by_key = {s["key"]: s for s in report["scales"]}
    assert by_key["16_16_16"]["voxel_offset"] == [-10, 5, 3]
    assert by_key["32_32_32"]["status"] == "verified"
    assert by_key["32_32_32"]["sharding"]["@type"] == "neuroglancer_uint64_sharded_v1"


def test_strict_makes_skipped_scales_errors(dataset, capsys):
    root, _, _ = dataset
    info = json.loads((root / "info").read_text())
    info["scales"].append({"key": "png", "size": [1, 1, 1], "resolution": [1, 1, 1],
                           "chunk_sizes": [[1, 1, 1]], "encoding": "png"})
    (root / "info").write_text(json.dumps(info))
    code, out, _ = run([root, "--no-progress"], capsys)
    assert code == 0 and "SKIPPED scale png: encoding 'png' is not verified" in out
    assert "1 scale(s) skipped, not verified" in out
    code, out, _ = run([root, "--strict", "--no-progress"], capsys)
    assert code == 1 and out.splitlines()[-1] == "FAILED"
    assert "(errors: --strict)" in out


def test_image_dataset_with_jpeg(tmp_path, capsys):
    root = tmp_path / "img"
    info, names = image_dataset(root)
    code, report, _ = run_json([root, "--no-progress"], capsys)
    assert code == 0, report["bad_chunks"]
    assert report["summary"]["ok"] == 16
    # A damaged JPEG and a JPEG of the wrong size are found.
    (root / "jpeg" / names["jpeg"][1]).write_bytes(
        (root / "jpeg" / names["jpeg"][1]).read_bytes()[:200])
    small = io.BytesIO()
    import PIL.Image
    PIL.Image.new("L", (8, 8)).save(small, format="jpeg")
    (root / "jpeg" / names["jpeg"][2]).write_bytes(small.getvalue())
    code, report, _ = run_json([root, "--no-progress"], capsys)
    assert code == 1
    bad = {b["file"]: b for b in report["bad_chunks"]}
    assert set(bad) == {names["jpeg"][1], names["jpeg"][2]}
    assert all(b["exception"] == "InvalidFormatError" for b in bad.values())
    assert "incompatible shape" in bad[names["jpeg"][2]]["reason"]


def test_jobs_do_not_change_the_result(pristine, capsys):
    root, _, _ = pristine
    reports = []
    for jobs in ("1", "4"):
        code, report, _ = run_json([root, "--jobs", jobs, "--no-progress"], capsys)
        assert code == 0 and report["jobs"] == int(jobs)
        reports.append(report)
    assert reports[0]["summary"]["ok"] == reports[1]["summary"]["ok"] == 21


def test_verify_function(pristine):
    root, _, _ = pristine
    seen = []
    report = verify.verify(root, limits=Limits(memory_bytes=8 * MiB), jobs=2,
                           printer=lambda kind, text: seen.append(kind))
    assert report.exit_code == 0
    assert report.summary()["ok"] == 21
    assert seen == []


# -- damage ------------------------------------------------------------------------

def _flip_bits_field(buf, word):
    w = np.frombuffer(buf, "<u4").copy()
    w[word] = (int(w[word]) & 0xFFFFFF) | (5 << 24)
    return w.tobytes()


def damage(root, names):
    """Damages chunk files in distinct ways; returns {relative path: expected
    exception class name}."""
    seg, raw_ = names["8_8_8"], names["16_16_16"]
    plain = [n for n in seg if not n.endswith(".gz")]
    gzipped = [n for n in seg if n.endswith(".gz")]
    damaged = {}

    def path(key, name):
        return root / key / name

    # cseg: an invalid bits field in a block header.
    p = path("8_8_8", plain[0])
    p.write_bytes(_flip_bits_field(p.read_bytes(), 1 + 2 * 17))
    damaged[f"8_8_8/{plain[0]}"] = "InvalidFormatError"
    # cseg: truncated.
    p = path("8_8_8", plain[1])
    p.write_bytes(p.read_bytes()[:-100])
    damaged[f"8_8_8/{plain[1]}"] = "InvalidFormatError"
    # cseg, gzipped: damage inside the compressed payload, recompressed.
    p = path("8_8_8", gzipped[0])
    inner = gzip.decompress(p.read_bytes())
    p.write_bytes(gzip.compress(_flip_bits_field(inner, 3), mtime=0))
    damaged[f"8_8_8/{gzipped[0]}"] = "InvalidFormatError"
    # gzipped file cut short (the gzip stream itself is damaged).
    p = path("8_8_8", gzipped[1])
    p.write_bytes(p.read_bytes()[:40])
    damaged[f"8_8_8/{gzipped[1]}"] = "InvalidFormatError"
    # gzip with a bad CRC.
    p = path("8_8_8", gzipped[2])
    data = bytearray(p.read_bytes())
    data[-6] ^= 0xFF
    p.write_bytes(bytes(data))
    damaged[f"8_8_8/{gzipped[2]}"] = "InvalidFormatError"
    # A gzip bomb: 64 MiB of zeros in a ~64 KB file (over the 8 MiB limit
    # the tests run with).
    p = path("8_8_8", gzipped[3])
    p.write_bytes(gzip.compress(b"\0" * (64 * MiB), compresslevel=9, mtime=0))
    damaged[f"8_8_8/{gzipped[3]}"] = "ResourceLimitError"
    # random bytes
    p = path("8_8_8", plain[2])
    p.write_bytes(np.random.default_rng(1).bytes(5000))
    damaged[f"8_8_8/{plain[2]}"] = "InvalidFormatError"
    # an empty file
    path("8_8_8", plain[3]).write_bytes(b"")
    damaged[f"8_8_8/{plain[3]}"] = "InvalidFormatError"
    # raw (gzipped, nested): one byte too many; one chunk of the wrong size
    p = path("16_16_16", raw_[0])
    p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes()) + b"\0", mtime=0))
    damaged[f"16_16_16/{raw_[0]}"] = "InvalidFormatError"
    p = path("16_16_16", raw_[5])
    p.write_bytes(gzip.compress(b"\0" * 8 * 16 * 16 * 16, mtime=0))
    damaged[f"16_16_16/{raw_[5]}"] = "InvalidFormatError"
    # a raw file (not gzipped although named .gz: detection is by magic bytes)
    # of the right size is good data, not damage.
    p = path("16_16_16", raw_[7])
    p.write_bytes(gzip.decompress(p.read_bytes()))
    return damaged


def test_finds_every_damaged_chunk(dataset, capsys):
    root, info, names = dataset
    damaged = damage(root, names)
    code, report, _ = run_json([root, "--memory-bytes", "8M", "--no-progress"], capsys)
    assert code == 1 and not report["ok"]
    found = {b["path"]: b for b in report["bad_chunks"]}
    assert set(found) == set(damaged)
    for path, cls in damaged.items():
        entry = found[path]
        assert entry["exception"] == cls, entry
        assert entry["scale"] == path.split("/")[0]
        assert entry["file"] == path.split("/", 1)[1]
        assert entry["reason"]
    assert found["8_8_8/" + [n for n in names["8_8_8"] if not n.endswith(".gz")][0]][
        "status_name"] == "NGC_ERR_BAD_BITS"
    assert report["summary"]["bad"] == len(damaged)
    assert report["summary"]["ok"] == 21 - len(damaged)
    assert "memory limit" in found["8_8_8/" + [n for n in names["8_8_8"]
                                               if n.endswith(".gz")][3]]["reason"]


def test_damaged_chunks_are_printed(dataset, capsys):
    root, info, names = dataset
    damaged = damage(root, names)
    code, out, _ = run([root, "--memory-bytes", "8M", "--no-progress"], capsys)
    assert code == 1
    bad_lines = [line for line in out.splitlines() if line.startswith("BAD")]
    assert len(bad_lines) == len(damaged)
    for path, cls in damaged.items():
        assert any(path + ":" in line and f"({cls})" in line for line in bad_lines), path
    assert out.splitlines()[-1] == "FAILED"


def test_time_limit(tmp_path, capsys):
    """A legitimate 256^3 chunk with a 10 ms budget: a ResourceLimitError,
    and it passes with the default budget."""
    labels = np.tile(common.fib25(), (4, 4, 4))[np.newaxis]
    info = {"type": "segmentation", "data_type": "uint64", "num_channels": 1, "scales": [
        {"key": "s", "size": [256, 256, 256], "resolution": [1, 1, 1],
         "chunk_sizes": [[256, 256, 256]],
         "encoding": "compressed_segmentation",
         "compressed_segmentation_block_size": [8, 8, 8]}]}
    root = tmp_path / "big"
    root.mkdir()
    (root / "info").write_text(json.dumps(info))
    write_scale(root, info, info["scales"][0], labels)
    code, report, _ = run_json([root, "--seconds", "0.01", "--memory-bytes", "512M",
                                "--no-progress"], capsys)
    assert code == 1
    [bad] = report["bad_chunks"]
    assert bad["exception"] == "ResourceLimitError" and "time limit" in bad["reason"]
    code, report, _ = run_json([root, "--memory-bytes", "512M", "--no-progress"], capsys)
    assert code == 0


def test_memory_limit_refuses_files(pristine, capsys):
    root, _, _ = pristine
    code, report, _ = run_json([root, "--memory-bytes", "1M", "--no-progress"], capsys)
    assert code == 1
    bad = {b["scale"] for b in report["bad_chunks"]}
    assert bad == {"8_8_8"}  # 2 MiB decoded; the raw chunks are 128 KiB
    assert all(b["exception"] == "ResourceLimitError" for b in report["bad_chunks"])
    assert all("memory limit" in b["reason"] for b in report["bad_chunks"])


# -- missing and unknown files -------------------------------------------------------

def test_missing_chunks_are_counted_not_bad(dataset, capsys):
    root, info, names = dataset
    (root / "8_8_8" / names["8_8_8"][3]).unlink()
    (root / "16_16_16" / names["16_16_16"][4]).unlink()
    code, out, _ = run([root, "--no-progress"], capsys)
    assert code == 0
    assert "2 chunk(s) missing (allowed: precomputed volumes may be sparse; " \
           "--require-all makes them errors)" in out
    assert "MISSING" not in out
    code, report, _ = run_json([root, "--no-progress"], capsys)
    assert code == 0 and report["summary"]["missing"] == 2
    missing = {m["path"] for m in report["missing_chunks"]}
    expected_nested = names["16_16_16"][4].replace("/", "_").removesuffix(".gz")
    assert missing == {f"8_8_8/{names['8_8_8'][3].removesuffix('.gz')}",
                       f"16_16_16/{expected_nested}"}
    code, out, _ = run([root, "--no-progress", "--require-all"], capsys)
    assert code == 1
    assert sum(line.startswith("MISSING") for line in out.splitlines()) == 2


def test_missing_scale_directory(dataset, capsys):
    root, info, names = dataset
    shutil.rmtree(root / "16_16_16")
    code, report, _ = run_json([root, "--no-progress"], capsys)
    assert code == 0
    assert report["summary"]["missing"] == 12
    assert any("does not exist" in n["note"] for n in report["notes"])
    code, _, _ = run_json([root, "--no-progress", "--require-all"], capsys)
    assert code == 1


def test_unknown_files_are_reported(dataset, capsys):
    root, info, names = dataset
    for name in ("notes.txt", "0-64_0-64", "0-63_0-64_0-64", "64-128_0-64_0-64",
                 "0-64_0-64_0-64.bz2", "1000-1064_0-64_0-64", "00-64_0-64_0-64.gz"):
        (root / "8_8_8" / name).write_bytes(b"x")
    (root / "8_8_8" / "subdir").mkdir()
    (root / "8_8_8" / "subdir" / "x").write_bytes(b"x")  # storage lists files, not directories
    (root / "16_16_16" / "-10-22" / "junk").write_bytes(b"x")
    code, out, _ = run([root, "--no-progress"], capsys)
    assert code == 0, out
    unknown = [line for line in out.splitlines() if line.startswith("UNKNOWN")]
    assert len(unknown) == 9, unknown
    assert any("0-63_0-64_0-64: not a chunk of this scale: x range 0-63 should end at 64"
               in line for line in unknown)
    assert any("64-128_0-64_0-64: not a chunk of this scale: x range 64-128 should end at 100"
               in line for line in unknown)
    assert any("1000-1064_0-64_0-64" in line and "outside the volume" in line
               for line in unknown)
    assert any("00-64_0-64_0-64.gz: not a chunk of this scale: Neuroglancer would read it as "
               "0-64_0-64_0-64" in line for line in unknown)
    assert "9 unknown file(s)" in out
    code, report, _ = run_json([root, "--no-progress", "--strict"], capsys)
    assert code == 1 and report["summary"]["unknown"] == 9
    assert {u["file"] for u in report["unknown_files"]} >= {"notes.txt", "subdir/x",
                                                            "-10-22/junk"}


# -- info problems -------------------------------------------------------------------

def test_no_info_is_exit_2(tmp_path, capsys):
    code, out, err = run([tmp_path], capsys)
    assert code == 2 and "no info file" in err
    code, out, err = run([tmp_path / "nope"], capsys)
    assert code == 2 and "not a directory" in err
    (tmp_path / "info").write_bytes(b"{not json")
    code, out, _ = run([tmp_path, "--json"], capsys)
    assert code == 2 and json.loads(out)["error"].endswith(
        "cannot read the info file: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)")
    (tmp_path / "info").write_text("[]")
    assert run([tmp_path], capsys)[0] == 2


def test_bad_scales_are_errors_and_others_still_verified(dataset, capsys):
    root, info, names = dataset
    info = json.loads((root / "info").read_text())
    r = {"resolution": [1, 1, 1]}
    info["scales"] += [
        {"key": "bad_chunks", "size": [1, 1, 1], "chunk_sizes": [[0, 1, 1]], "encoding": "raw",
         **r},
        {"size": [1, 1, 1], "chunk_sizes": [[1, 1, 1]], "encoding": "raw", **r},
        {"key": "png", "size": [1, 1, 1], "chunk_sizes": [[1, 1, 1]], "encoding": "png", **r},
        {"key": "no_block", "size": [1, 1, 1], "chunk_sizes": [[1, 1, 1]],
         "encoding": "compressed_segmentation", **r},
        {"key": "/etc", "size": [1, 1, 1], "chunk_sizes": [[1, 1, 1]], "encoding": "raw", **r},
        "not an object",
        {"key": "no_resolution", "size": [1, 1, 1], "chunk_sizes": [[1, 1, 1]],
         "encoding": "raw"},
        {"key": "8_8_8", "size": [1, 1, 1], "chunk_sizes": [[1, 1, 1]], "encoding": "raw", **r},
    ]
    (root / "info").write_text(json.dumps(info))
    code, report, _ = run_json([root, "--no-progress"], capsys)
    assert code == 1
    errors = {e["scale"]: e["reason"] for e in report["scale_errors"]}
    assert set(errors) == {"bad_chunks", "#4", "no_block", "/etc", "#8", "no_resolution",
                           "8_8_8"}
    assert "scales[3].chunk_sizes[0]: must be positive" in errors["bad_chunks"]
    assert errors["no_block"].startswith("InvalidInfoError: scales[6]."
                                         "compressed_segmentation_block_size")
    assert "scales[9].resolution" in errors["no_resolution"]
    assert "also the key of scale 0" in errors["8_8_8"]
    assert {s["scale"] for s in report["skipped_scales"]} == {"png"}
    assert report["summary"]["ok"] == 21


def test_json_is_the_only_stdout(dataset, capsys):
    root, info, names = dataset
    damage(root, names)
    code, out, err = run([root, "--json", "--memory-bytes", "8M"], capsys)
    report = json.loads(out)  # nothing else on stdout
    for entry in report["bad_chunks"]:
        assert set(entry) >= {"scale", "file", "reason", "exception", "status_name"}
    assert err == ""  # no terminal, no bar


# -- reads only ---------------------------------------------------------------------

def _snapshot(root):
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            digest = None
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            state[os.path.relpath(p, root)] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return state


AUDIT = textwrap.dedent("""
    import os, sys
    root = os.path.realpath(sys.argv[1])
    writes = []
    WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    WRITE_EVENTS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod",
                    "os.utime", "os.truncate", "shutil.rmtree", "os.symlink", "os.link",
                    "os.chown"}
    def inside(path):
        try:
            return os.path.realpath(os.fsdecode(path)).startswith(root)
        except (TypeError, ValueError):
            return False
    def hook(event, args):
        if event == "open" and len(args) >= 3 and isinstance(args[0], (str, bytes, os.PathLike)):
            mode, flags = args[1], args[2]
            if inside(args[0]) and ((isinstance(mode, str) and any(c in mode for c in "wax+"))
                                    or (flags or 0) & WRITE_FLAGS):
                writes.append((event, args[0], mode, flags))
        elif event in WRITE_EVENTS and args and inside(args[0]):
            writes.append((event, args[0]))
    sys.addaudithook(hook)
    from ngcodec import cli
    code = cli.main(["verify", root, "--no-progress", "--memory-bytes", "8M"])
    print("WRITES", writes)
    sys.exit(code)
""")


def test_never_modifies_the_dataset(dataset, tmp_path):
    root, info, names = dataset
    damage(root, names)
    before = _snapshot(root)
    script = tmp_path / "audit.py"
    script.write_text(AUDIT)
    result = subprocess.run([sys.executable, str(script), str(root)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "WRITES []" in result.stdout, result.stdout
    assert _snapshot(root) == before


# -- progress bar ---------------------------------------------------------------------

class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal(pristine):
    """tqdm's bar, on a terminal only; findings printed while it runs."""
    root, _, _ = pristine
    stream = _Tty()
    bar = verify.progress_bar(stream, 10)
    bar.update(5)
    bar.close()
    assert "verify:  50%" in stream.getvalue() and "5/10" in stream.getvalue()
    assert verify.progress_bar(io.StringIO(), 10) is None  # not a terminal
    assert verify.progress_bar(None, 10) is None
    stream = _Tty()
    seen = []
    report = verify.verify(root, progress=stream, printer=lambda *a: seen.append(a))
    assert report.exit_code == 0 and seen == []
    assert "21/21" in stream.getvalue() and "chunks=21" in stream.getvalue()


def test_progress_without_tqdm(pristine, monkeypatch):
    """Without tqdm: no bar, one line naming the extra, the same report."""
    root, _, _ = pristine
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm raises ImportError
    stream = _Tty()
    report = verify.verify(root, progress=stream)
    assert report.exit_code == 0 and report.summary()["ok"] == 21
    assert stream.getvalue() == ("ngcodec verify: no progress bar: tqdm is not installed "
                                 "(pip install ngcodec[verify])\n")
    quiet = io.StringIO()  # not a terminal: no bar wanted, nothing said
    verify.verify(root, progress=quiet)
    assert quiet.getvalue() == ""


def test_command_line_in_a_subprocess(pristine):
    root, _, _ = pristine
    result = subprocess.run([sys.executable, "-m", "ngcodec.cli", "verify", str(root), "-j", "2"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "OK"
    assert result.stderr == ""  # stderr is a pipe, not a terminal: no bar
    result = subprocess.run([sys.executable, "-m", "ngcodec.verify", str(root), "--json",
                             "--no-progress"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and json.loads(result.stdout)["ok"]
    assert result.stderr == ""


# -- datasets written by others -------------------------------------------------------

def test_dataset_written_by_tensorstore(tmp_path, capsys):
    import tensorstore as ts

    labels = common.voronoi((40, 50, 70), 30, "uint64", seed=9)
    root = tmp_path / "ts"
    for key, encoding in (("cseg", "compressed_segmentation"), ("raw", "raw")):
        scale = {"key": key, "size": [70, 50, 40], "resolution": [8, 8, 8],
                 "encoding": encoding, "chunk_size": [32, 32, 32], "voxel_offset": [3, 0, 0]}
        if encoding == "compressed_segmentation":
            scale["compressed_segmentation_block_size"] = [8, 8, 8]
        store = ts.open({"driver": "neuroglancer_precomputed",
                         "kvstore": {"driver": "file", "path": str(root) + "/"},
                         "multiscale_metadata": {"type": "segmentation", "data_type": "uint64",
                                                 "num_channels": 1},
                         "scale_metadata": scale, "create": True}).result()
        store[...] = labels.transpose(2, 1, 0)[..., np.newaxis]
    code, report, _ = run_json([root, "--no-progress"], capsys)
    assert code == 0, report
    assert report["summary"]["ok"] == 2 * 3 * 2 * 2 and report["summary"]["missing"] == 0


def test_neuroglancer_scripts_layout(tmp_path, capsys):
    """neuroglancer-scripts' file accessor (nested x/y/z, gzip by default)."""
    from neuroglancer_scripts.file_accessor import FileAccessor

    labels = common.voronoi((20, 30, 40), 10, "uint32", seed=2)[np.newaxis]
    info = {"type": "segmentation", "data_type": "uint32", "num_channels": 1, "scales": [
        {"key": "s", "size": [40, 30, 20], "resolution": [1, 1, 1], "voxel_offset": [0, 0, 0],
         "chunk_sizes": [[16, 16, 16]], "encoding": "compressed_segmentation",
         "compressed_segmentation_block_size": [8, 8, 8]}]}
    accessor = FileAccessor(str(tmp_path), flat=False, gzip=True)
    accessor.store_file("info", json.dumps(info).encode(), mime_type="application/json")
    encoder = chunk_encoding.get_encoder(info, info["scales"][0])
    for (x0, x1), (y0, y1), (z0, z1) in _grid([40, 30, 20], [16, 16, 16], [0, 0, 0]):
        chunk = labels[:, z0:z1, y0:y1, x0:x1]
        accessor.store_chunk(bytes(encoder.encode(chunk)), "s", (x0, x1, y0, y1, z0, z1),
                             mime_type="application/octet-stream")
    assert (tmp_path / "s" / "0-16" / "0-16" / "0-16.gz").is_file()
    code, report, _ = run_json([tmp_path, "--no-progress"], capsys)
    assert code == 0, report
    assert report["summary"]["ok"] == 3 * 2 * 2


# -- gzip details ---------------------------------------------------------------------

def test_gzip_chunk_payloads():
    """verify.chunk_payload: what a chunk file's bytes hold, as the dataset
    layer's capped inflate reads them."""
    from ngcodec.precomputed.chunks import ChunkCodec
    from ngcodec.precomputed.info import Scale, validate_info

    info = validate_info({"type": "image", "data_type": "uint8", "num_channels": 1, "scales": [
        {"key": "s", "size": [64, 64, 64], "resolution": [1, 1, 1],
         "chunk_sizes": [[64, 64, 64]], "encoding": "raw"}]})
    codec = ChunkCodec(Scale(info, 0))
    shape = (64, 64, 64)
    data = bytes(range(256)) * 1024  # a whole chunk: 256 KiB

    def payload(buf, gz=True, memory=8 * MiB):
        return verify.chunk_payload(buf, gz, codec, shape, memory)

    assert payload(gzip.compress(data)) == data
    assert payload(gzip.compress(data[:10]) + gzip.compress(data[10:])) == data  # members
    assert payload(gzip.compress(data), gz=False) == data  # by the magic, whatever the name
    assert payload(data) == data  # .gz that is not compressed: plain bytes
    with pytest.raises(ngcodec.InvalidFormatError, match="garbage after the end"):
        payload(gzip.compress(data) + b"junk")
    with pytest.raises(ngcodec.InvalidFormatError, match="garbage after the end"):
        payload(gzip.compress(data) + b"\0" * 8)  # the old reader allowed NUL padding
    with pytest.raises(ngcodec.InvalidFormatError, match="truncated"):
        payload(gzip.compress(data)[:-3])
    with pytest.raises(ngcodec.InvalidFormatError, match="corrupt"):
        payload(b"\x1f\x8b" + b"\xff" * 30)
    # Past the memory limit: a ResourceLimitError; past any valid chunk of
    # the shape (but under the limit): invalid data.
    with pytest.raises(ngcodec.ResourceLimitError, match="memory limit"):
        payload(gzip.compress(bytes(2 * MiB)), memory=1 * MiB)
    with pytest.raises(ngcodec.InvalidFormatError, match="more than a valid chunk"):
        payload(gzip.compress(data + b"x"))
    # zlib where gzip is declared (.gz): flagged; in a plain file: just bytes.
    with pytest.raises(ngcodec.InvalidFormatError, match="zlib stream where gzip is declared"):
        payload(zlib.compress(data))
    assert payload(zlib.compress(data), gz=False) == zlib.compress(data)
    fake = b"\x78\x9c" + data[2:]  # a zlib header on plain bytes: not a zlib stream
    assert payload(fake) == fake


@pytest.mark.parametrize("text,value", [("268435456", 256 * MiB), ("256M", 256 * MiB),
                                        ("256MiB", 256 * MiB), ("1g", 1 << 30),
                                        ("none", None), ("2048k", 2 * MiB)])
def test_memory_size_option(text, value):
    assert verify._memory_size(text) == value


@pytest.mark.parametrize("args", [["--memory-bytes", "12"], ["--memory-bytes", "lots"],
                                  ["--seconds", "0"], ["--seconds", "x"], ["--jobs", "0"]])
def test_bad_options(args, pristine, capsys):
    root, _, _ = pristine
    with pytest.raises(SystemExit) as info:
        cli.main(["verify", str(root), *args])
    assert info.value.code == 2


def test_a_chunk_stored_as_name_and_name_gz(dataset, capsys):
    """Two versions of one chunk: the .gz is never read by Neuroglancer or
    ngcodec (both take the plain name), so it is reported, not decoded."""
    root, info, names = dataset
    plain = next(n for n in names["8_8_8"] if not n.endswith(".gz"))
    (root / "8_8_8" / f"{plain}.gz").write_bytes(gzip.compress(b"junk", mtime=0))
    code, report, _ = run_json([root, "--no-progress"], capsys)
    assert code == 1
    [bad] = report["bad_chunks"]
    assert bad["file"] == f"{plain}.gz" and bad["exception"] == "InvalidFormatError"
    assert f"{plain} exists too: two versions of one chunk" in bad["reason"]
    assert report["summary"]["chunk_files"] == 20  # the plain ones, each read once
