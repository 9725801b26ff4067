"""Questions answered on compressed chunks (labels, counts, contains, mask,
read_box, read_voxel, remap) against the same questions answered with NumPy
on the fully decoded chunk.

The chunks come from four encoders, which lay tables out differently:
ngcodec, seung-lab's compressed-segmentation (values before tables, tables
shared between blocks), neuroglancer-scripts (tables first) and tensorstore
(through a one-chunk dataset it writes). The oracle decodes with ngcodec,
whose decoder the cross-implementation tests hold to the peers; seung-lab's
own `labels`, `remap` and `CompressedSegmentationArray` answer too where it
has them, and must agree.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import compressed_segmentation as cs
from neuroglancer_scripts.chunk_encoding import CompressedSegmentationEncoder as NgsEncoder

import ngcodec
from ngcodec import compressed_segmentation as cseg
from tests import common
from tests.test_cross_impl import CASES, cs_compress
from tests.test_tensorstore import _info, _ts_write

HIGH = 720575940379279360  # FlyWire-style ids: the high bits set


def _encoders(a, block_size, tmp_path=None):
    """{encoder name: bytes} of the (C, Z, Y, X) array *a*."""
    out = {"ngcodec": cseg.encode(a, block_size)}
    if a.shape[0] == 1:
        out["seung-lab"] = cs_compress(a[0], block_size)
    if block_size[0] == block_size[1] == block_size[2]:
        out["neuroglancer-scripts"] = bytes(
            NgsEncoder(a.dtype.name, a.shape[0], list(block_size)).encode(a))
    if tmp_path is not None:
        size = a.shape[:0:-1]
        info = _info(a.dtype.name, a.shape[0], size, size, "compressed_segmentation",
                     block_size)
        _ts_write(tmp_path, a, info)
        name = "0-%d_0-%d_0-%d" % size
        out["tensorstore"] = (tmp_path / info["scales"][0]["key"] / name).read_bytes()
    return out


def _args(a, block_size):
    return a.shape[:0:-1], a.dtype, block_size


def check_all(buf, a, block_size, rng, in_place=True):
    """Every operation on *buf* equals its answer on *a* (C, Z, Y, X).
    *in_place*: remap must rewrite the tables where they are (every encoder's
    chunks allow it; a mutated chunk may lay a table over other data)."""
    args = _args(a, block_size)
    C = a.shape[0]
    labels = cseg.labels(buf, *args, C)
    counts = cseg.counts(buf, *args, C)
    assert len(labels) == len(counts) == C
    for c in range(C):
        u, n = np.unique(a[c], return_counts=True)
        assert labels[c].dtype == a.dtype and np.array_equal(labels[c], u)
        assert counts[c][0].dtype == a.dtype and np.array_equal(counts[c][0], u)
        assert np.array_equal(counts[c][1], n)
    present = np.unique(a)
    absent = _absent(present, a.dtype, rng)
    for label in [present[0], present[-1], rng.choice(present), absent]:
        label, typed = int(label), a.dtype.type(label)
        assert cseg.contains(buf, *args, label, C) == bool((a == typed).any())
        assert np.array_equal(cseg.contains(buf, *args, label, C, per_channel=True),
                              (a == typed).reshape(C, -1).any(axis=1))
    some = rng.choice(present, size=min(3, present.size), replace=False).tolist() + [absent]
    # NumPy would compare a list mixing ids past 2**63 with small ones as floats
    assert np.array_equal(cseg.mask(buf, *args, some, C), np.isin(a, np.array(some, a.dtype)))
    X, Y, Z = args[0]
    for _ in range(3):
        lo = [int(rng.integers(0, n)) for n in (X, Y, Z)]
        hi = [int(rng.integers(l + 1, n + 1)) for l, n in zip(lo, (X, Y, Z))]
        box = cseg.read_box(buf, *args, (lo, hi), C)
        assert np.array_equal(box, a[:, lo[2]:hi[2], lo[1]:hi[1], lo[0]:hi[0]])
        c = int(rng.integers(0, C))
        v = cseg.read_voxel(buf, *args, lo, C, channel=c)
        assert v == a[c, lo[2], lo[1], lo[0]] and v.dtype == a.dtype
    points = np.stack([rng.integers(0, n, 50) for n in (X, Y, Z)], axis=1)
    c = int(rng.integers(0, C))
    got = cseg.read_voxels(buf, *args, points, C, channel=c)
    assert got.dtype == a.dtype
    assert np.array_equal(got, a[c, points[:, 2], points[:, 1], points[:, 0]])
    top = np.iinfo(a.dtype).max
    values = rng.integers(0, top, size=present.size, dtype=a.dtype, endpoint=True)
    out = cseg.remap(buf, *args, dict(zip(present.tolist(), values.tolist())), C)
    # Merging every label into two keeps the size only if the tables were
    # rewritten where they are (encoding the merged chunk again would shrink it).
    merged = cseg.remap(buf, *args, (present, present % 2), C)
    assert np.array_equal(cseg.decode(merged, *args, C), a % 2)
    assert len(merged) == len(buf) or not in_place
    expected = values[np.searchsorted(present, a)]
    assert np.array_equal(cseg.decode(out, *args, C), expected)
    one = {int(present[0]): int(absent)}
    out = cseg.remap(buf, *args, one, C, preserve_missing_labels=True)
    assert np.array_equal(cseg.decode(out, *args, C), np.where(a == present[0], a.dtype.type(absent), a))
    if present.size > 1:
        with pytest.raises(ngcodec.InvalidParameterError, match="NGC_ERR_NOT_MAPPED") as e:
            cseg.remap(buf, *args, one, C)
        assert e.value.label in present[1:]


def _absent(present, dtype, rng):
    while True:
        label = int(rng.integers(0, np.iinfo(dtype).max, dtype=dtype, endpoint=True))
        if label not in present:
            return label


# -- every encoder, every case ------------------------------------------------

def _op_cases():
    cases = [(name, np.ascontiguousarray(a)[np.newaxis], b) for name, a, b in CASES]
    many = common.voronoi((24, 30, 36), 900, "uint64", seed=31)
    cases += [
        ("fib25_high_ids", (common.fib25() + np.uint64(HIGH))[np.newaxis], (8, 8, 8)),
        ("three_channels_uint64_partial",
         np.stack([many, many[::-1], np.full_like(many, HIGH)]), (8, 8, 8)),
        ("two_channels_uint32_aniso",
         np.stack([common.voronoi((20, 33, 17), 200, "uint32", seed=s) for s in (1, 2)]),
         (4, 8, 2)),
    ]
    return cases


OP_CASES = _op_cases()


@pytest.mark.parametrize("name", [c[0] for c in OP_CASES])
def test_every_operation_equals_the_decoded_answer(name, tmp_path):
    _, a, block_size = next(c for c in OP_CASES if c[0] == name)
    rng = np.random.default_rng(abs(hash(name)) % 1000)
    encoded = _encoders(a, block_size, tmp_path)
    assert {"ngcodec", "tensorstore"} <= set(encoded)
    for encoder, buf in encoded.items():
        try:
            check_all(buf, a, block_size, rng)
        except AssertionError as e:
            raise AssertionError(f"chunk encoded by {encoder}: {e}") from e


# -- seung-lab's own answers ---------------------------------------------------

@pytest.mark.parametrize("name", ["fib25_8x8x8", "voronoi_3000_uint32_16x8x4",
                                  "fib25_partial_uint32_5x3x7", "noise_16bit_uint64"])
def test_seung_lab_gives_the_same_answers(name):
    _, a, block_size = next(c for c in OP_CASES if c[0] == name)
    shape = a.shape[:0:-1]
    rng = np.random.default_rng(5)
    for buf in (cseg.encode(a, block_size), cs_compress(a[0], block_size)):
        theirs = np.asarray(cs.labels(buf, shape, a.dtype, block_size))
        assert np.array_equal(cseg.labels(buf, shape, a.dtype, block_size)[0], theirs)
        arr = cs.CompressedSegmentationArray(buf, shape, a.dtype, block_size)
        for _ in range(50):
            p = tuple(int(rng.integers(0, n)) for n in shape)
            assert cseg.read_voxel(buf, shape, a.dtype, block_size, p) == arr[p]
        present = theirs[rng.integers(0, theirs.size)]
        assert cseg.contains(buf, shape, a.dtype, block_size, int(present)) == (present in arr)
        mapping = {int(k): int(k) // 3 for k in theirs}
        ours = cseg.decode(cseg.remap(buf, shape, a.dtype, block_size, mapping),
                           shape, a.dtype, block_size)
        remapped = cs.remap(buf, shape, a.dtype, mapping, block_size=block_size)
        assert np.array_equal(ours[0].T, cs.decompress(remapped, shape, a.dtype, block_size,
                                                       order="F"))


# -- property tests -------------------------------------------------------------

@st.composite
def chunks(draw):
    dtype = draw(st.sampled_from(["uint32", "uint64"]))
    C = draw(st.integers(1, 2))
    shape = tuple(draw(st.integers(1, 19)) for _ in range(3))  # (Z, Y, X)
    block = tuple(draw(st.integers(1, 9)) for _ in range(3))  # (x, y, z)
    top = np.iinfo(dtype).max
    pool = draw(st.lists(st.sampled_from([0, 1, 2, 7, 1000, top, top - 1, HIGH % (top + 1),
                                          HIGH % (top + 1) + 5]), min_size=1, max_size=6))
    kind = draw(st.sampled_from(["pool", "noise"]))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    if kind == "pool":
        a = np.array(pool, dtype=dtype)[rng.integers(0, len(pool), (C,) + shape)]
    else:
        a = rng.integers(0, top, (C,) + shape, dtype=dtype, endpoint=True)
    return a, block, seed


@settings(max_examples=150, deadline=None)
@given(chunks())
def test_property_every_operation_equals_the_decoded_answer(case):
    a, block_size, seed = case
    rng = np.random.default_rng(seed)
    for buf in _encoders(a, block_size).values():
        check_all(buf, a, block_size, rng)


# -- corrupted chunks ---------------------------------------------------------------

def _ops(buf, args, C, labels):
    """Every operation that reads every block, as (name, thunk)."""
    return [
        ("labels", lambda: cseg.labels(buf, *args, C)),
        ("counts", lambda: cseg.counts(buf, *args, C)),
        ("contains", lambda: cseg.contains(buf, *args, labels, C, per_channel=True)),
        ("mask", lambda: cseg.mask(buf, *args, labels, C)),
        ("read_box", lambda: cseg.read_box(buf, *args, ((0, 0, 0), args[0]), C)),
        # one voxel of every block, in the decoder's block order, every channel
        ("read_voxels", lambda: [cseg.read_voxels(buf, *args, _block_origins(args), C, c)
                                 for c in range(C)]),
        ("remap", lambda: cseg.remap(buf, *args, {}, C, preserve_missing_labels=True)),
    ]


def _block_origins(args):
    (X, Y, Z), _, (bx, by, bz) = args
    z, y, x = np.meshgrid(range(0, Z, bz), range(0, Y, by), range(0, X, bx), indexing="ij")
    return np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)


def _mutations(buf, rng, n):
    words = len(buf) // 4
    for _ in range(n):
        b = bytearray(buf)
        kind = rng.integers(0, 4)
        if kind == 0:
            yield bytes(b[:int(rng.integers(0, len(b)))])
        elif kind == 1:
            i = int(rng.integers(0, len(b)))
            b[i] ^= 1 << int(rng.integers(0, 8))
            yield bytes(b)
        elif kind == 2:  # a header word (offsets and bits live there)
            i = int(rng.integers(0, min(words, 64)))
            b[4 * i:4 * i + 4] = int(rng.integers(0, 2**32)).to_bytes(4, "little")
            yield bytes(b)
        else:
            i = int(rng.integers(0, len(b)))
            yield bytes(b[:i] + b[i + 4:])


@pytest.mark.parametrize("name", ["fib25_8x8x8", "three_channels_uint64_partial",
                                  "two_channels_uint32_aniso", "noise_5_uint32_partial"])
def test_corrupted_chunks_never_give_a_wrong_answer(name):
    """Where decode refuses a mutated chunk, every operation refuses it with
    the same status and place; where decode accepts it, every operation
    answers as on the decoded (mutated) chunk."""
    _, a, block_size = next(c for c in OP_CASES if c[0] == name)
    args = _args(a, block_size)
    C = a.shape[0]
    rng = np.random.default_rng(7)
    refused = accepted = 0
    for enc, buf in _encoders(a, block_size).items():
        for bad in _mutations(buf, rng, 150):
            some = np.unique(a)[:2].tolist()
            try:
                decoded = cseg.decode(bad, *args, C)
            except ngcodec.InvalidFormatError as e:
                refused += 1
                for op, call in _ops(bad, args, C, some):
                    with pytest.raises(ngcodec.InvalidFormatError) as got:
                        call()
                    assert (got.value.status_name, got.value.channel, got.value.block) == \
                        (e.status_name, e.channel, e.block), (enc, op)
                continue
            accepted += 1
            check_all(bad, decoded, block_size, rng, in_place=False)
    assert refused > 100 and accepted > 10  # both branches were exercised


# -- limits ---------------------------------------------------------------------

def test_operations_obey_the_memory_and_time_limits():
    """The operations run in the sandbox like decode: a 32-bit block's
    scratch past the memory cap and 256^3 chunks past a 1 ms time bound
    (the epoch ticks every 10 ms) are ResourceLimitErrors, and the next call
    works."""
    from tests.test_limits import big_chunk, no_hang
    MiB = 1 << 20
    noise = common.noise((64, 64, 64), 1 << 40, seed=3)[np.newaxis]
    buf = cseg.encode(noise, (64, 64, 64))  # one block, 32-bit indices
    args = ((64, 64, 64), "uint64", (64, 64, 64))
    tight = ngcodec.Limits(memory_bytes=len(buf) + 2 * MiB, seconds=None)
    for op in (lambda: cseg.labels(buf, *args, limits=tight),
               lambda: cseg.remap(buf, *args, {}, preserve_missing_labels=True,
                                  limits=tight)):
        with pytest.raises(ngcodec.ResourceLimitError, match="memory"):
            op()
    assert np.array_equal(cseg.labels(buf, *args)[0], np.unique(noise))
    big, labels = big_chunk()
    quick = ngcodec.Limits(memory_bytes=512 * MiB, seconds=0.001)
    bargs = ((256, 256, 256), "uint64", (8, 8, 8))
    many = cseg.encode(np.tile(common.voronoi((64, 64, 64), 3000, "uint64", seed=1),
                               (4, 4, 4)), (8, 8, 8))  # ~40 ms of counting
    for op in (lambda: cseg.counts(many, *bargs, limits=quick),
               lambda: cseg.mask(big, *bargs, [1, 2, 3], limits=quick),
               lambda: cseg.read_box(big, *bargs, ((0, 0, 0), (256, 256, 256)), limits=quick)):
        with no_hang(5.0), pytest.raises(ngcodec.ResourceLimitError, match="time limit"):
            op()
    assert cseg.contains(big, *bargs, int(labels[0, 0, 0]))


def test_read_voxels_refuses_bad_arguments():
    buf = cseg.encode(common.fib25()[np.newaxis], (8, 8, 8))
    args = ((64, 64, 64), "uint64", (8, 8, 8))
    for bad, text in [([[64, 0, 0]], "outside the chunk"), ([[-1, 0, 0]], "outside the chunk"),
                      ([[0.5, 0, 0]], "integers"), ([[0, 0]], "integers"),
                      ("xyz", "integers"), ([[0, 1, 2, 3, 4, 5]], "integers"),
                      (np.zeros((3, 4), int), "integers")]:
        with pytest.raises(ngcodec.InvalidParameterError, match=text):
            cseg.read_voxels(buf, *args, bad)
    with pytest.raises(ngcodec.InvalidParameterError, match="channel"):
        cseg.read_voxels(buf, *args, [[0, 0, 0]], channel=1)
    assert cseg.read_voxels(buf, *args, np.zeros((0, 3), int)).shape == (0,)


def test_remap_with_a_mapping_far_larger_than_the_chunk():
    """A dataset-wide mapping (many more keys than the chunk has table
    entries) takes the module's other lookup path (each label searched once
    in the sorted keys): same answers, same NOT_MAPPED."""
    a = common.voronoi((20, 24, 28), 300, "uint64", seed=4)[np.newaxis]
    args = _args(a, (8, 8, 8))
    buf = cseg.encode(a, (8, 8, 8))
    present = np.unique(a)
    rng = np.random.default_rng(9)
    others = np.setdiff1d(rng.integers(0, 2**64 - 1, 200_000, dtype=np.uint64,
                                       endpoint=True), present)
    keys = np.concatenate([present, others])
    values = keys // np.uint64(7)
    out = cseg.remap(buf, *args, (keys, values))
    assert len(out) == len(buf)
    assert np.array_equal(cseg.decode(out, *args), a // np.uint64(7))
    lacking = keys != present[5]
    with pytest.raises(ngcodec.InvalidParameterError, match="NGC_ERR_NOT_MAPPED") as e:
        cseg.remap(buf, *args, (keys[lacking], values[lacking]))
    assert e.value.label == present[5]
    kept = cseg.remap(buf, *args, (keys[lacking], values[lacking]), preserve_missing_labels=True)
    expected = np.where(a == present[5], a, a // np.uint64(7))
    assert np.array_equal(cseg.decode(kept, *args), expected)
