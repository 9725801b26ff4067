"""Property-based fuzzing of the Python API (issue 6), with hypothesis.

Every property holds for whatever hypothesis generates:

- encode -> decode is the identity, and the spec reader of tests/spec.py
  decodes ngcodec's output to the same array;
- decoding any bytes (random, mutated or truncated real chunks, real chunks
  under the wrong geometry) either returns exactly what the spec reader
  returns, or raises InvalidFormatError where the spec reader refuses too,
  or ResourceLimitError when a limit is exceeded; never another exception;
- the drop-in ``chunk_encoding`` encoders raise only InvalidFormatError or
  ResourceLimitError on bad bytes;
- with a memory limit, a declared size over it is a ResourceLimitError.

A short run is part of the test suite (a few seconds). For a long run::

    NGCODEC_FUZZ_EXAMPLES=20000 python -m pytest tests/test_hypothesis.py -q -x \\
        --hypothesis-show-statistics

(``NGCODEC_FUZZ_EXAMPLES`` is per property; failures are saved in
``.hypothesis/`` and replayed first on the next run.)
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import ngcodec
from ngcodec import Limits, ResourceLimitError, chunk_encoding
from ngcodec import compressed_segmentation as cseg
from ngcodec import raw

from tests import common, spec

_EXAMPLES = int(os.environ.get("NGCODEC_FUZZ_EXAMPLES", "0") or 0)
_LONG = _EXAMPLES > 0
settings.register_profile(
    "ngcodec", deadline=None, max_examples=_EXAMPLES if _LONG else 40,
    database=None if not _LONG else settings.default.database,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much])
fuzz = settings.get_profile("ngcodec")

MiB = 1 << 20
LIMITS = st.sampled_from([None, Limits(), Limits(seconds=None),
                          Limits(memory_bytes=2 * MiB, seconds=5.0)])


# -- strategies ---------------------------------------------------------------------

@st.composite
def geometries(draw, max_blocks_per_axis=4, max_block=8):
    """(chunk_size, block_size, dtype, num_channels): at most 4 blocks per
    axis, so the spec reader (plain Python) stays fast."""
    block = tuple(draw(st.integers(1, max_block)) for _ in range(3))
    chunk = tuple(draw(st.integers(0, max_blocks_per_axis * b)) for b in block)
    dtype = draw(st.sampled_from(["uint32", "uint64"]))
    channels = draw(st.integers(1, 2))
    return chunk, block, dtype, channels


@st.composite
def label_arrays(draw, geometry=None):
    """A (C, Z, Y, X) array for *geometry* (or a drawn one) with a palette
    of a few to many labels over the whole dtype range, in patterns from
    noise to constant blocks."""
    chunk, block, dtype, channels = geometry or draw(geometries())
    x, y, z = chunk
    seed = draw(st.integers(0, 2 ** 32 - 1))
    palette_size = draw(st.sampled_from([1, 2, 3, 5, 16, 17, 200, 70000]))
    pattern = draw(st.sampled_from(["noise", "slabs", "constant-blocks"]))
    rng = np.random.default_rng(seed)
    palette = common.random_labels(rng, min(palette_size, 4096), dtype)
    shape = (channels, z, y, x)
    if pattern == "noise":
        a = palette[rng.integers(0, palette.size, size=shape)]
    elif pattern == "slabs":
        a = np.broadcast_to(palette[rng.integers(0, palette.size, size=(channels, z, 1, 1))],
                            shape).copy()
    else:
        a = np.empty(shape, dtype=dtype)
        bx, by, bz = block
        for c in range(channels):
            for k in range(0, z, bz):
                for j in range(0, y, by):
                    for i in range(0, x, bx):
                        a[c, k:k + bz, j:j + by, i:i + bx] = palette[rng.integers(palette.size)]
    return np.ascontiguousarray(a, dtype=dtype), block


INTERESTING_WORDS = [0, 1, 2, 3, 0xFF, 0x100, 0xFFFF, 0x00FFFFFF, 0x01000000, 0x02000000,
                     0x03000000, 0x20000000, 0x21000000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


@st.composite
def mutations(draw, buf):
    """*buf* damaged by a few edits: words set to interesting or random
    values, bytes flipped, truncation, extension."""
    data = bytearray(buf)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["word", "bits", "flip", "truncate", "extend"]))
        if kind in ("word", "bits") and len(data) >= 4:
            i = draw(st.integers(0, len(data) // 4 - 1))
            old = int.from_bytes(data[4 * i:4 * i + 4], "little")
            if kind == "word":
                new = draw(st.sampled_from(INTERESTING_WORDS) | st.integers(0, 2 ** 32 - 1))
            else:  # change the bits field of what may be a block header
                new = (old & 0xFFFFFF) | draw(st.integers(0, 255)) << 24
            data[4 * i:4 * i + 4] = new.to_bytes(4, "little")
        elif kind == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= draw(st.integers(1, 255))
        elif kind == "truncate":
            del data[draw(st.integers(0, len(data))):]
        elif kind == "extend":
            data += draw(st.binary(max_size=64))
    return bytes(data)


# -- the differential check ------------------------------------------------------

def check_decode(buf, chunk, block, dtype, channels, limits=None):
    """Decodes *buf* with ngcodec and with the spec reader: same array, or
    both refuse (InvalidFormatError), or ngcodec hits a limit."""
    try:
        ours = cseg.decode(buf, chunk, dtype, block, channels, limits=limits)
    except ResourceLimitError:
        assert limits is not None, "ResourceLimitError without limits on a small chunk"
        return "limit"
    except ngcodec.InvalidFormatError as exc:
        assert exc.status_name and exc.status_name.startswith("NGC_ERR_")
        with pytest.raises(spec.FormatError):
            spec.decode(buf, chunk, block, dtype, channels)
        return "invalid"
    try:
        theirs = spec.decode(buf, chunk, block, dtype, channels)
    except spec.FormatError as exc:
        raise AssertionError(f"ngcodec decoded a chunk the spec refuses: {exc}") from None
    assert ours.shape == (channels,) + tuple(chunk[::-1])
    assert ours.dtype == np.dtype(dtype).newbyteorder("<")
    assert np.array_equal(ours, theirs)
    return "ok"


# -- properties -----------------------------------------------------------------------

@fuzz
@given(label_arrays(), LIMITS)
def test_roundtrip(case, limits):
    a, block = case
    c, z, y, x = a.shape
    buf = cseg.encode(a, block, limits=limits)
    assert check_decode(buf, (x, y, z), block, a.dtype.name, c, limits) in ("ok", "limit")
    out = cseg.decode(buf, (x, y, z), a.dtype, block, c, limits=Limits(memory_bytes=64 * MiB))
    assert np.array_equal(out, a)


@fuzz
@given(geometries(), st.binary(max_size=1024), LIMITS)
def test_random_bytes(geometry, buf, limits):
    chunk, block, dtype, channels = geometry
    check_decode(buf, chunk, block, dtype, channels, limits)


@fuzz
@given(geometries(), st.lists(st.sampled_from(INTERESTING_WORDS) | st.integers(0, 2 ** 32 - 1),
                              max_size=200), LIMITS)
def test_random_words(geometry, words, limits):
    """Word-aligned garbage gets past the size checks into the headers."""
    chunk, block, dtype, channels = geometry
    check_decode(spec.pack_words(*words), chunk, block, dtype, channels, limits)


@fuzz
@given(st.data(), label_arrays(), LIMITS)
def test_mutated_chunks(data, case, limits):
    a, block = case
    c, z, y, x = a.shape
    buf = cseg.encode(a, block)
    damaged = data.draw(mutations(buf))
    check_decode(damaged, (x, y, z), block, a.dtype.name, c, limits)


@fuzz
@given(st.data(), label_arrays(), geometries(), LIMITS)
def test_wrong_geometry(data, case, wrong, limits):
    """A real chunk decoded with another chunk size, block size, dtype or
    number of channels (one or several of them changed)."""
    a, block = case
    c, z, y, x = a.shape
    buf = cseg.encode(a, block)
    right = ((x, y, z), block, a.dtype.name, c)
    keep = data.draw(st.lists(st.booleans(), min_size=4, max_size=4))
    geometry = tuple(r if k else w for r, w, k in zip(right, wrong, keep))
    assume(geometry != right)
    check_decode(buf, *geometry, limits)


RAW_DTYPES = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "float32"]


@fuzz
@given(st.sampled_from(RAW_DTYPES),
       st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(0, 9)),
       st.integers(1, 3), st.binary(max_size=600), LIMITS)
def test_raw_any_bytes(dtype, chunk, channels, buf, limits):
    itemsize = np.dtype(dtype).itemsize
    expected = channels * chunk[0] * chunk[1] * chunk[2] * itemsize
    try:
        out = raw.decode(buf, chunk, dtype, channels, limits=limits)
    except ngcodec.InvalidFormatError:
        assert len(buf) != expected
        return
    assert len(buf) == expected
    assert out.shape == (channels, chunk[2], chunk[1], chunk[0])
    assert out.tobytes() == buf
    assert raw.encode(out, limits=limits) == buf


ENCODINGS = st.sampled_from([
    ({"data_type": "uint64", "num_channels": 1},
     {"encoding": "compressed_segmentation", "compressed_segmentation_block_size": [8, 8, 8]}),
    ({"data_type": "uint32", "num_channels": 2},
     {"encoding": "compressed_segmentation", "compressed_segmentation_block_size": [4, 2, 1]}),
    ({"data_type": "uint16", "num_channels": 1}, {"encoding": "raw"}),
    ({"data_type": "float32", "num_channels": 3}, {"encoding": "raw"}),
    ({"data_type": "uint8", "num_channels": 1}, {"encoding": "jpeg"}),
    ({"data_type": "uint8", "num_channels": 3}, {"encoding": "jpeg"}),
])


@fuzz
@given(ENCODINGS, st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40)),
       st.binary(max_size=2048) | st.just(b"\xff\xd8\xff\xe0") | st.just(b"\x1f\x8b\x08\x00"),
       LIMITS)
def test_chunk_encoding_raises_only_its_errors(encoding, chunk, buf, limits):
    info, scale = encoding
    encoder = chunk_encoding.get_encoder(info, scale, {"limits": limits})
    try:
        out = encoder.decode(buf, chunk)
    except (chunk_encoding.InvalidFormatError, ResourceLimitError):
        return
    assert out.shape == (info["num_channels"],) + tuple(chunk[::-1])
    assert out.dtype == np.dtype(info["data_type"])


@fuzz
@given(st.integers(1, 64).map(lambda m: m * MiB),
       st.tuples(st.integers(1, 1 << 12), st.integers(1, 1 << 12), st.integers(1, 1 << 12)),
       st.sampled_from(["uint32", "uint64"]), st.integers(1, 3),
       st.sampled_from([(8, 8, 8), (1, 1, 1), (64, 64, 64), (1 << 20, 1, 1)]))
def test_memory_limit_on_declared_size(memory_bytes, chunk, dtype, channels, block):
    """A tiny buffer with a declared chunk: over the limit it is always a
    ResourceLimitError (refused before allocating); under it, bad data, or a
    ResourceLimitError when the module's whole memory (its stack and static
    data, buffers kept from earlier calls) would pass the cap."""
    limits = Limits(memory_bytes=memory_bytes, seconds=2.0)
    buf = b"\0" * 8
    declared = channels * chunk[0] * chunk[1] * chunk[2] * np.dtype(dtype).itemsize
    try:
        cseg.decode(buf, chunk, dtype, block, channels, limits=limits)
    except ResourceLimitError as exc:
        assert "memory limit" in str(exc) or "4 GiB" in str(exc), str(exc)
        return
    except ngcodec.InvalidFormatError:
        pass
    assert declared + len(buf) <= memory_bytes
