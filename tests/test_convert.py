"""ngcodec convert (docs/CONVERT.md): every input kind becomes a dataset that
``ngcodec verify`` passes, that tensorstore and cloud-volume read as ngcodec
does at scale 0 (equal to the input), and whose every lower scale is
``downsample.downsample`` of the scale before it (computed here on the whole
previous scale). Bad inputs fail before anything is written; a conversion
killed with SIGKILL and resumed gives the same files, byte for byte, as one
that ran through.

Volumes are small (at most ~64^3) with sizes that no chunk or factor
divides, so edge chunks and partial downsampling blocks occur at every
scale.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import ngcodec
import ngcodec.precomputed as ngp
from ngcodec.convert import RECORD
from ngcodec.errors import InvalidParameterError
from ngcodec.precomputed import downsample as ds
from ngcodec.precomputed.info import InfoExistsError
from ngcodec.verify import verify
from tests import common

import tensorstore as ts  # the test extra installs these: never skipped
from cloudvolume import CloudVolume

SIZE = (45, 38, 29)  # X, Y, Z: no factor or chunk size divides them


def labels(dtype="uint32", size=SIZE, seed=0, n=60):
    """(X, Y, Z) Voronoi labels (many per chunk, ties in some blocks)."""
    return common.voronoi(size[::-1], n, dtype, seed=seed).T.copy()


def image(size=SIZE, seed=0, dtype="uint8"):
    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(*(np.arange(n) for n in size), indexing="ij")
    a = (x * 3 + y * 2 + z) % 200 + rng.integers(0, 50, size)
    return a.astype(dtype)


def files(root):
    """{relative path: bytes} of every file under *root* (hidden ones too)."""
    out = {}
    for top, _, names in os.walk(root):
        for n in names:
            p = os.path.join(top, n)
            out[os.path.relpath(p, root)] = open(p, "rb").read()
    return out


def read_all(path, scale):
    vol = ngp.open(path, scale=scale)
    return vol[...]


def check(path, expected, method=None, tensorstore=True):
    """The dataset at *path* verifies, holds *expected* (X, Y, Z, C) at
    scale 0 as tensorstore and cloud-volume read it, and every lower scale
    is the downsampling of the one before."""
    report = verify(str(path), jobs=2, require_all=True, strict=True)
    assert report.exit_code == 0, report.summary_lines()
    info = json.loads((path / "info").read_text())
    if expected.ndim == 3:
        expected = expected[..., None]
    vol = ngp.open(path, scale=0)
    assert vol.shape == expected.shape and vol.dtype == expected.dtype
    got = vol[...]
    assert np.array_equal(got, expected)
    if tensorstore:
        t = ts.open({"driver": "neuroglancer_precomputed", "kvstore": f"file://{path}/",
                     "scale_index": 0}).result()
        assert np.array_equal(np.asarray(t[ts.d[:].translate_to[0]].read().result()), expected)
    cv = CloudVolume(f"file://{path}", mip=0, progress=False, fill_missing=False)
    assert np.array_equal(np.asarray(cv[...]), expected)
    method = method or ("mode" if info["type"] == "segmentation" else "mean")
    prev = got
    for i in range(1, len(info["scales"])):
        r0, r1 = info["scales"][i - 1]["resolution"], info["scales"][i]["resolution"]
        f = tuple(int(round(b / a)) for a, b in zip(r0, r1))
        want = ds.downsample(np.ascontiguousarray(prev.T), f, method).T
        cur = read_all(path, i)
        assert cur.shape == want.shape, (i, cur.shape, want.shape)
        assert np.array_equal(cur, want), f"scale {i} is not the {method} of scale {i - 1}"
        prev = cur
    last = info["scales"][-1]  # the default number of scales: until one chunk holds it
    assert all(n <= c for n, c in zip(last["size"], last["chunk_sizes"][0]))
    before = info["scales"][-2] if len(info["scales"]) > 1 else None
    assert before is None or any(n > c for n, c in zip(before["size"], before["chunk_sizes"][0]))
    return info


# ------------------------------------------------------------ each input kind

def test_npy_uint64_segmentation(tmp_path):
    a = labels("uint64")
    np.save(tmp_path / "in.npy", a)
    r = ngcodec.convert(str(tmp_path / "in.npy"), str(tmp_path / "out"), chunk_size=16, jobs=2)
    info = check(tmp_path / "out", a)
    assert info["type"] == "segmentation" and info["data_type"] == "uint64"
    s = info["scales"]
    assert [x["encoding"] for x in s] == ["compressed_segmentation"] * len(s)
    assert [x["size"] for x in s] == [[45, 38, 29], [23, 19, 15], [12, 10, 8]]
    assert [x["key"] for x in s] == ["1_1_1", "2_2_2", "4_4_4"]
    assert r.keys == [x["key"] for x in s] and r.chunks == 18 + 4 + 1
    assert r.stored_bytes > 0 and r.ratio > 1
    rec = json.loads((tmp_path / "out" / RECORD).read_text())
    assert all(v == {"complete": True} for v in rec["scales"].values())


def test_npy_uint8_image_sharded_axes_zyx(tmp_path):
    a = image()
    np.save(tmp_path / "in.npy", np.ascontiguousarray(a.T))  # stored (Z, Y, X)
    ngcodec.convert(str(tmp_path / "in.npy"), tmp_path / "out", axes="zyx", chunk_size=16,
                    sharded=True, resolution=(4, 4, 40), jobs=3)
    info = check(tmp_path / "out", a)
    assert info["type"] == "image" and info["scales"][0]["encoding"] == "raw"
    assert all("sharding" in s for s in info["scales"])
    # 4, 4, 40: (2, 2, 1) while x and y stay no coarser than z (default_factors)
    assert [s["resolution"] for s in info["scales"]][:3] == [[4, 4, 40], [8, 8, 40],
                                                              [16, 16, 40]]
    assert any(n.endswith(".shard") for n in os.listdir(tmp_path / "out" / "4_4_40"))


def test_tiff_stack(tmp_path):
    import tifffile
    a = image(seed=1, dtype="uint16")
    tifffile.imwrite(tmp_path / "stack.tif", np.ascontiguousarray(a.T))  # pages = z
    ngcodec.convert(str(tmp_path / "stack.tif"), str(tmp_path / "out"), chunk_size=(16, 16, 8),
                    jobs=2, memory=64 << 10)  # small pieces: many reads of page ranges
    info = check(tmp_path / "out", a)
    assert info["data_type"] == "uint16" and info["type"] == "image"


def test_tiff_folder(tmp_path):
    import tifffile
    a = labels("uint32", seed=2)
    (tmp_path / "slices").mkdir()
    for z in range(a.shape[2]):  # natural order: 2 before 10
        tifffile.imwrite(tmp_path / "slices" / f"s{z}.tif", np.ascontiguousarray(a[:, :, z].T))
    ngcodec.convert(str(tmp_path / "slices"), str(tmp_path / "out"), chunk_size=16,
                    sharded=True, gzip=True, jobs=2)
    info = check(tmp_path / "out", a)
    assert info["scales"][0]["sharding"]["data_encoding"] == "gzip"


def test_nifti(tmp_path):
    import nibabel
    a = labels("uint32", seed=3)
    img = nibabel.Nifti1Image(a, np.diag([0.008, 0.008, 0.04, 1]))
    img.header.set_xyzt_units("mm")
    nibabel.save(img, tmp_path / "in.nii.gz")
    ngcodec.convert(str(tmp_path / "in.nii.gz"), str(tmp_path / "out"), chunk_size=16, jobs=2)
    info = check(tmp_path / "out", a)
    assert info["scales"][0]["resolution"] == [8000, 8000, 40000]  # mm -> nm


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zarr(tmp_path, zarr_format):
    import zarr
    a = np.stack([labels("uint64", seed=4), labels("uint64", seed=5)], axis=-1)  # 2 channels
    z = zarr.create_array(str(tmp_path / "in.zarr"), shape=a.T.shape, chunks=(1, 10, 16, 16),
                          dtype="uint64", zarr_format=zarr_format)
    z[...] = a.T  # stored (C, Z, Y, X): czyx, the default for 4-D zarr
    ngcodec.convert(str(tmp_path / "in.zarr"), str(tmp_path / "out"), chunk_size=16,
                    block_size=(4, 8, 8), jobs=2)
    info = check(tmp_path / "out", a)
    assert info["num_channels"] == 2
    assert info["scales"][0]["compressed_segmentation_block_size"] == [4, 8, 8]


def test_precomputed_raw_to_cseg(tmp_path):
    a = labels("uint32", seed=6)
    ngcodec.convert(a, tmp_path / "raw", encoding="raw", scales=1, chunk_size=(32, 16, 16),
                    voxel_offset=(3, -5, 7), resolution=(4, 4, 40))
    assert json.loads((tmp_path / "raw" / "info").read_text())["scales"][0]["encoding"] == "raw"
    ngcodec.convert(str(tmp_path / "raw"), str(tmp_path / "out"), chunk_size=16,
                    sharded=True, jobs=2)
    info = check(tmp_path / "out", a)
    s = info["scales"][0]
    assert s["encoding"] == "compressed_segmentation" and s["voxel_offset"] == [3, -5, 7]
    assert s["resolution"] == [4, 4, 40] and info["type"] == "segmentation"


def test_numpy_array_uint32_unsharded_gzip(tmp_path):
    a = labels("uint32", seed=7)
    ngcodec.convert(a, str(tmp_path / "out"), chunk_size=16, gzip=True, factors=(2, 2, 2))
    # tensorstore reads NAME, not cloud-volume's NAME.gz: not asked here
    check(tmp_path / "out", a, tensorstore=False)
    assert all(n.endswith(".gz") for n in os.listdir(tmp_path / "out" / "1_1_1"))


def test_image_mean_rgb_jpeg(tmp_path):
    a = np.stack([image(seed=s) for s in range(3)], axis=-1)
    ngcodec.convert(a, str(tmp_path / "out"), encoding="jpeg", chunk_size=16, scales=2)
    report = verify(str(tmp_path / "out"), require_all=True)
    assert report.exit_code == 0
    got = read_all(tmp_path / "out", 0).astype(int)
    assert np.abs(got - a).mean() < 8  # lossy


# ------------------------------------------------------------ errors, nothing written

@pytest.mark.parametrize("make, options, text", [
    (lambda p: p / "in.xyz", {}, "unknown kind of input"),
    (lambda p: p / "missing.npy", {}, "no such file"),
    (lambda p: labels("uint16"), {"encoding": "compressed_segmentation"},
     "compressed_segmentation holds uint32 or uint64"),
    (lambda p: labels("uint16"), {"encoding": "jpeg"}, "jpeg holds uint8 with 1 or 3"),
    (lambda p: np.zeros((8, 8, 8, 2), np.uint8), {"encoding": "jpeg"}, "2 channel"),
    (lambda p: np.zeros((8, 8, 8), np.int64), {}, "pass dtype="),
    (lambda p: np.zeros((8, 8, 8)), {"dtype": "uint8"}, "cannot cast float64"),
    (lambda p: np.zeros((8, 8, 8), np.uint8), {"axes": "xy"}, "do not fit"),
    (lambda p: np.zeros((8, 8, 8), np.uint8), {"downsample": "max"}, "mode or mean"),
])
def test_bad_input_writes_nothing(tmp_path, make, options, text):
    src = make(tmp_path)
    if isinstance(src, os.PathLike) and src.suffix == ".xyz":
        src.write_bytes(b"hello")
    with pytest.raises(InvalidParameterError, match=text):
        ngcodec.convert(src if not isinstance(src, os.PathLike) else str(src),
                        str(tmp_path / "out"), **options)
    assert not (tmp_path / "out").exists()


def test_existing_different_dataset(tmp_path):
    a = labels("uint32", size=(20, 20, 20))
    ngcodec.convert(a, str(tmp_path / "out"), chunk_size=16)
    before = files(tmp_path / "out")
    # another dataset, or the same one with other options: refused, untouched
    with pytest.raises(InfoExistsError, match="other options"):
        ngcodec.convert(a, str(tmp_path / "out"), chunk_size=8, resume=True)
    with pytest.raises(InfoExistsError, match="complete conversion"):
        ngcodec.convert(a, str(tmp_path / "out"), chunk_size=16)
    assert files(tmp_path / "out") == before
    other = tmp_path / "other"
    ngp.create(other, {"type": "image", "data_type": "uint8", "num_channels": 1, "scales": [
        {"key": "s0", "size": [4, 4, 4], "resolution": [1, 1, 1], "chunk_sizes": [[4, 4, 4]],
         "encoding": "raw"}]})
    with pytest.raises(InfoExistsError, match="did not make"):
        ngcodec.convert(a, str(other), resume=True)
    # resume of a complete conversion: nothing to do; overwrite: redone
    r = ngcodec.convert(a, str(tmp_path / "out"), chunk_size=16, resume=True)
    assert r.units_done == 0 and files(tmp_path / "out") == before
    ngcodec.convert(a, str(other), overwrite=True, chunk_size=16)
    assert not (other / "s0").exists()
    assert files(other) == before


def test_cli_and_errors(tmp_path):
    a = labels("uint64", size=(20, 18, 10))
    np.save(tmp_path / "in.npy", a)
    cmd = [sys.executable, "-m", "ngcodec.cli", "convert"]
    p = subprocess.run(cmd + [str(tmp_path / "in.npy"), str(tmp_path / "out"), "--chunk-size",
                              "8,8,8", "--sharded", "--jobs", "2"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "3 scale(s)" in p.stdout and "compression ratio" in p.stdout
    check(tmp_path / "out", a)
    p = subprocess.run(cmd + [str(tmp_path / "in.npy"), str(tmp_path / "bad"), "--encoding",
                              "jpeg"], capture_output=True, text=True)
    assert p.returncode == 2 and "jpeg holds uint8" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not (tmp_path / "bad").exists()
    # the input changed since (its modification time): --resume refuses, names it
    os.utime(tmp_path / "in.npy", ns=(1, 10**9))
    p = subprocess.run(cmd + [str(tmp_path / "in.npy"), str(tmp_path / "out"), "--chunk-size",
                              "8,8,8", "--sharded", "--resume"], capture_output=True, text=True)
    assert p.returncode == 2 and "source.stamp" in p.stderr, p.stderr


# ------------------------------------------------------------ SIGKILL, then --resume

@pytest.mark.parametrize("sharded, sig", [(False, signal.SIGKILL), (True, signal.SIGKILL),
                                          (False, signal.SIGINT)],
                         ids=["unsharded-SIGKILL", "sharded-SIGKILL", "unsharded-SIGINT"])
def test_killed_then_resumed_gives_the_same_files(tmp_path, sharded, sig):
    a = labels("uint64", size=(64, 64, 48), n=400)
    np.save(tmp_path / "in.npy", a)
    args = [str(tmp_path / "in.npy"), "--chunk-size", "8,8,8", "--jobs", "1",
            "--memory", "64K", "--no-progress"]
    if sharded:
        args += ["--sharded", "--shard-bytes", "32K"]
    cmd = [sys.executable, "-m", "ngcodec.cli", "convert"]
    subprocess.run(cmd + args[:1] + [str(tmp_path / "ref")] + args[1:], check=True,
                   capture_output=True)
    ref = files(tmp_path / "ref")

    out = tmp_path / "out"
    proc = subprocess.Popen(cmd + args[:1] + [str(out)] + args[1:], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    target = len(ref) // 3
    while time.monotonic() < deadline and proc.poll() is None:
        if sum(len(f) for _, _, f in os.walk(out)) >= target:
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the conversion ended before it could be killed"
    proc.send_signal(sig)
    err = proc.communicate()[1]
    if sig == signal.SIGINT:  # Ctrl-C: the units done are recorded, the command says how to go on
        assert proc.returncode == 130 and "--resume" in err
    partial = files(out)
    assert 0 < len(partial) < len(ref)
    # the same command without --resume is refused, untouched
    p = subprocess.run(cmd + args[:1] + [str(out)] + args[1:], capture_output=True, text=True)
    assert p.returncode == 2 and "--resume" in p.stderr
    assert files(out) == partial
    p = subprocess.run(cmd + args[:1] + [str(out)] + args[1:] + ["--resume"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "resumed" in p.stdout  # units done before the kill were not redone
    got = files(out)
    assert sorted(got) == sorted(ref)  # no temporary file left, none missing
    assert all(got[k] == ref[k] for k in ref)


def test_memory_stays_bounded(tmp_path):
    """A 96 MiB .npy converted with memory=16M: the process's peak RSS grows
    by far less than the file (it is read box by box, not loaded or mapped)."""
    n = (512, 256, 192)
    a = np.lib.format.open_memmap(tmp_path / "in.npy", mode="w+", dtype=np.uint32, shape=n)
    y, z = np.meshgrid(np.arange(n[1]), np.arange(n[2]), indexing="ij")
    for x0 in range(0, n[0], 64):
        x = np.arange(x0, x0 + 64)[:, None, None]
        a[x0:x0 + 64] = (x // 20) * 1000 + (y // 18) * 10 + z // 14
    a.flush()
    del a
    code = ("import resource, sys, ngcodec; base = resource.getrusage(resource.RUSAGE_SELF)"
            ".ru_maxrss; ngcodec.convert(sys.argv[1], sys.argv[2], memory=16 << 20, jobs=2); "
            "print(base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "in.npy"),
                        str(tmp_path / "out")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    base, peak = (int(v) << 10 for v in p.stdout.split())
    assert peak - base < 48 << 20, (base >> 20, peak >> 20)  # KiB -> bytes; the file: 96 MiB


@pytest.mark.parametrize("order", ["C", "F"])
def test_npy_boxes_read_from_the_file(tmp_path, order):
    """.npy boxes are read with preadv (not mapped): any box, either order."""
    from ngcodec.convert.inputs import open_source

    a = np.asarray(np.random.default_rng(0).integers(0, 1 << 16, (23, 17, 9, 2)), np.uint16,
                   order=order)
    np.save(tmp_path / "a.npy", a)
    src = open_source(str(tmp_path / "a.npy"))
    assert src.shape == (23, 17, 9, 2) and src.axes == "xyzc"
    rng = np.random.default_rng(1)
    for _ in range(50):
        lo = [int(rng.integers(0, n)) for n in src.shape[:3]]
        hi = [int(rng.integers(x + 1, n + 1)) for x, n in zip(lo, src.shape[:3])]
        got = src.read(lo, hi)
        assert np.array_equal(got, a[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]].transpose(3, 2, 1, 0))
    src.close()


@pytest.mark.parametrize("order, slow", [("C", (0, 1, 2)), ("F", (2, 1, 0))])
def test_units_follow_the_storage_order(tmp_path, order, slow):
    """Units are cut along the axis stored slowest: z for a Fortran-ordered
    (X, Y, Z) .npy or array (x fastest, the usual layout), x for a C one."""
    from ngcodec.convert.inputs import open_source
    a = np.zeros((40, 30, 20), np.uint32, order=order)
    np.save(tmp_path / "a.npy", a)
    assert open_source(str(tmp_path / "a.npy")).slow_axes == slow
    assert open_source(a).slow_axes == slow


# ------------------------------------------------------------ scales made in memory

def test_nest_and_parent_unit_shape():
    """Random scales: the parent units parent_unit_shape gives are each made
    of whole child units (every child in exactly one parent, inside it, and
    the children's downsampled voxels fill the parent exactly)."""
    from ngcodec.convert.plan import nest, parent_unit_shape, tiles, unit_shape
    rng = np.random.default_rng(5)
    for _ in range(300):
        size = tuple(int(n) for n in rng.integers(1, 200, 3))
        f = tuple(int(k) for k in rng.integers(1, 4, 3))
        chunk = tuple(int(c) for c in rng.choice([4, 6, 8, 16, 64], 3))
        pchunk = tuple(int(c) for c in rng.choice([4, 8, 16, 64], 3))
        psize = tuple(-(-n // k) for n, k in zip(size, f))
        u = unit_shape(size, chunk, 8, int(rng.integers(1, 1 << 20)), (2, 1, 0))
        children = tiles(size, u, (2, 1, 0))
        shape = parent_unit_shape(u, f, pchunk, psize, size)
        if shape is None:  # some unit does not start on a multiple of the factors
            assert any(a < n and a % k for a, k, n in zip(u, f, size))
            continue
        assert all(s % c == 0 for s, c in zip(shape, pchunk))
        parents = tiles(psize, shape, (2, 1, 0))
        kids = nest(children, parents, f, size)
        assert kids is not None and sorted(sum(kids, [])) == list(range(len(children)))
        for (plo, phi), ks in zip(parents, kids):
            covered = 0
            for ci in ks:
                lo, hi = children[ci]
                dlo = [a // k for a, k in zip(lo, f)]
                dhi = [-(-b // k) for b, k in zip(hi, f)]
                assert all(p <= d and e <= q for p, q, d, e in zip(plo, phi, dlo, dhi))
                covered += int(np.prod([e - d for d, e in zip(dlo, dhi)]))
            assert covered == int(np.prod([b - a for a, b in zip(plo, phi)]))
    # children not on multiples of the factors, or straddling parents: no nesting
    assert nest([((0, 0, 0), (3, 4, 4)), ((3, 0, 0), (6, 4, 4))], [((0, 0, 0), (3, 2, 2))],
                (2, 2, 2), (6, 4, 4)) is None
    assert nest([((0, 0, 0), (4, 4, 4)), ((4, 0, 0), (8, 4, 4))],
                [((0, 0, 0), (1, 2, 2)), ((1, 0, 0), (4, 2, 2))], (2, 2, 2), (8, 4, 4)) is None


def _reads_per_scale(monkeypatch):
    """{scale key: Volume.read calls} of this process from now on."""
    counts = {}
    real = ngp.Volume.read

    def read(self, *a, **k):
        counts[self.key] = counts.get(self.key, 0) + 1
        return real(self, *a, **k)

    monkeypatch.setattr(ngp.Volume, "read", read)
    return counts


@pytest.mark.parametrize("sharded", [False, True], ids=["unsharded", "sharded"])
def test_lower_scales_are_made_in_memory(tmp_path, monkeypatch, sharded):
    """Lossless scales are downsampled from the units as they are written,
    never read back, and equal downsample() of the scale before; a memory
    budget too small to hold a unit of every scale at once reads some
    scales back, and makes the same files."""
    a = labels("uint64", size=(70, 66, 40), n=300)
    reads = _reads_per_scale(monkeypatch)
    opts = dict(chunk_size=8, jobs=2, sharded=sharded, shard_bytes=1 << 20)
    ngcodec.convert(a, tmp_path / "big", **opts)
    assert reads == {}
    record = json.loads((tmp_path / "big" / RECORD).read_text())
    ngcodec.convert(a, tmp_path / "small", memory=48 << 10, **opts)  # reads some back
    assert files(tmp_path / "small") == files(tmp_path / "big")
    monkeypatch.undo()
    info = check(tmp_path / "big", a)
    assert len(info["scales"]) == 5
    assert all(record["scales"][s["key"]] == {"complete": True} for s in info["scales"])


def test_jpeg_scales_are_made_from_the_voxels_before_encoding(tmp_path, monkeypatch):
    """JPEG is lossy: each lower scale is the mean of the scale before as it
    was before encoding (no scale is read back), so the lower scales carry
    one JPEG's loss, not one per scale; a budget too small for that reads
    the stored scale back."""
    a = np.repeat(image(size=(60, 50, 30))[..., None], 3, axis=3)
    reads = _reads_per_scale(monkeypatch)
    ngcodec.convert(a, tmp_path / "out", encoding="jpeg", chunk_size=16, jobs=2)
    assert reads == {}
    ngcodec.convert(a, tmp_path / "small", encoding="jpeg", chunk_size=16, jobs=2,
                    memory=16 << 10)
    assert reads
    monkeypatch.undo()
    info = json.loads((tmp_path / "out" / "info").read_text())
    assert len(info["scales"]) == 3
    want = a
    for i in range(3):
        if i:
            want = ds.downsample(np.ascontiguousarray(want.T), (2, 2, 2), "mean").T
        got = read_all(tmp_path / "out", i)
        assert got.shape == want.shape and np.abs(got.astype(int) - want).mean() < 3


@pytest.mark.parametrize("seed", range(24))
def test_random_conversions_make_the_downsampling_rule(tmp_path, seed):
    """Random volumes, chunk sizes (odd ones too, which factors do not
    divide), factors, memory budgets (so passes of one to all scales) and
    sharding: scale 0 is the input and every lower scale is downsample() of
    the scale before, however the passes were cut."""
    rng = np.random.default_rng(seed)
    size = tuple(int(n) for n in rng.integers(5, 60, 3))
    chunk = tuple(int(c) for c in rng.choice([3, 4, 5, 8, 16], 3))
    factors = [(2, 2, 2), (2, 2, 1), (3, 3, 1), (2, 1, 2)][int(rng.integers(0, 4))]
    encoding = ["raw", "compressed_segmentation"][int(rng.integers(0, 2))]
    method = ["mode", "mean"][int(rng.integers(0, 2))] if encoding == "raw" else "mode"
    memory = int(rng.choice([4 << 10, 16 << 10, 64 << 10, 1 << 20, 64 << 20]))
    sharded = bool(rng.integers(0, 2))
    a = labels("uint32", size=size, seed=seed, n=int(rng.integers(2, 200)))
    out = tmp_path / "out"
    ngcodec.convert(a, out, chunk_size=chunk, factors=factors, encoding=encoding,
                    downsample=method, memory=memory, sharded=sharded, jobs=2,
                    shard_bytes=int(rng.choice([2 << 10, 64 << 10])), block_size=(2, 3, 4))
    info = json.loads((out / "info").read_text())
    prev = read_all(out, 0)
    assert np.array_equal(prev, a[..., None])
    for i in range(1, len(info["scales"])):
        want = ds.downsample(np.ascontiguousarray(prev.T), factors, method).T
        cur = read_all(out, i)
        assert np.array_equal(cur, want), (i, size, chunk, factors, memory, sharded)
        prev = cur
    report = verify(str(out), jobs=2, require_all=True, strict=True)
    assert report.exit_code == 0, report.summary_lines()


class _Crash(Exception):
    pass


@pytest.mark.parametrize("seed", range(8))
def test_crash_at_any_write_then_resume_gives_the_same_files(tmp_path, monkeypatch, seed):
    """A conversion that fails at a random file write (a chunk, a shard, the
    record), resumed with resume=True, gives the files of one that ran
    through, byte for byte, whatever passes its memory budget makes."""
    from ngcodec.precomputed.storage import LocalStorage
    rng = np.random.default_rng(100 + seed)
    a = labels("uint64", size=(40, 36, 30), seed=seed, n=150)
    opts = dict(chunk_size=(8, 8, 4), jobs=2, sharded=bool(seed % 2), shard_bytes=8 << 10,
                memory=int(rng.choice([8 << 10, 64 << 10, 16 << 20])),
                encoding=["raw", "compressed_segmentation"][seed % 3 == 0])
    ngcodec.convert(a, tmp_path / "ref", **opts)
    ref = files(tmp_path / "ref")
    real, count = LocalStorage.write, [0]
    limit = int(rng.integers(2, len(ref)))

    def write(self, key, data, fsync=False):
        count[0] += 1
        if count[0] == limit:
            raise _Crash(key)
        return real(self, key, data, fsync)

    monkeypatch.setattr(LocalStorage, "write", write)
    with pytest.raises(_Crash):
        ngcodec.convert(a, tmp_path / "out", **opts)
    monkeypatch.undo()
    assert files(tmp_path / "out") != ref
    ngcodec.convert(a, tmp_path / "out", resume=True, **opts)
    assert files(tmp_path / "out") == ref
