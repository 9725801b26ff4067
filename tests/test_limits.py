"""Resource limits (issue 6): ``ngcodec.Limits`` on every entry point.

- Exceeding a limit raises ``ngcodec.ResourceLimitError`` naming the limit;
  bad data raises ``InvalidFormatError`` naming the part of the data; both
  derive from ``NgcodecError``.
- A declared output over the memory limit (a tiny buffer with a huge
  chunk_size or block size) is refused before anything is allocated.
- A call past its time bound raises ResourceLimitError and the instance
  that ran it is dropped; the next call works.

The only timing assertions are generous "no hang" upper bounds.
"""

import functools
import json
import subprocess
import sys
import textwrap
import time
import tracemalloc

import numpy as np
import pytest

from tests import common, spec
import ngcodec
from ngcodec import Limits, ResourceLimitError, chunk_encoding, runtime
from ngcodec import compressed_segmentation as cseg
from ngcodec import raw

MiB = 1 << 20
FIB25_GEOMETRY = dict(chunk_size=(64, 64, 64), dtype="uint64", block_size=(8, 8, 8))
CSEG_INFO = {"data_type": "uint64", "num_channels": 1}
CSEG_SCALE = {"encoding": "compressed_segmentation",
              "compressed_segmentation_block_size": [8, 8, 8]}
RAW_SCALE = {"encoding": "raw"}


@functools.lru_cache(maxsize=None)
def fib25_cseg():
    return cseg.encode(common.fib25(), (8, 8, 8))


@functools.lru_cache(maxsize=None)
def big_chunk():
    """A legitimate 256^3 uint64 chunk (FIB-25 tiled 4x4x4, 128 MiB decoded)
    whose decode takes ~0.1 s inside the module: far past a 10 ms budget."""
    labels = np.tile(common.fib25(), (4, 4, 4))
    return cseg.encode(labels, (8, 8, 8)), labels


def no_hang(seconds):
    """Context manager asserting its body took less than *seconds*."""
    class _Timer:
        def __enter__(self):
            self.start = time.perf_counter()
            return self

        def __exit__(self, *exc):
            self.elapsed = time.perf_counter() - self.start
            assert self.elapsed < seconds, f"took {self.elapsed:.2f} s (bound {seconds} s)"
            return False

    return _Timer()


# -- classes and the Limits object ------------------------------------------------

def test_error_classes():
    assert issubclass(ngcodec.ResourceLimitError, ngcodec.NgcodecError)
    assert issubclass(ngcodec.InvalidFormatError, ngcodec.NgcodecError)
    assert chunk_encoding.InvalidFormatError is ngcodec.InvalidFormatError
    assert not issubclass(ngcodec.ResourceLimitError, ngcodec.InvalidFormatError)
    assert not issubclass(ngcodec.InvalidFormatError, ngcodec.ResourceLimitError)


def test_limits_defaults_and_values():
    limits = Limits()
    assert limits.memory_bytes == 256 * MiB
    assert limits.seconds == 2.0
    assert Limits(memory_bytes=None, seconds=None).memory_bytes is None
    assert Limits(seconds=1) == Limits(seconds=1.0)
    assert hash(Limits(seconds=1)) == hash(Limits(seconds=1.0))
    assert Limits(memory_bytes=MiB) != Limits()
    assert "memory_bytes" in repr(limits) and "seconds" in repr(limits)


@pytest.mark.parametrize("kwargs", [
    {"memory_bytes": 0}, {"memory_bytes": MiB - 1}, {"memory_bytes": -1},
    {"memory_bytes": 1.5 * MiB}, {"memory_bytes": True}, {"memory_bytes": "big"},
    {"seconds": 0}, {"seconds": -1}, {"seconds": float("nan")}, {"seconds": True},
    {"seconds": "1"},
])
def test_limits_rejects_bad_values(kwargs):
    with pytest.raises(ngcodec.InvalidParameterError):
        Limits(**kwargs)


def test_limits_argument_must_be_limits():
    with pytest.raises(ngcodec.InvalidParameterError):
        cseg.decode(fib25_cseg(), **FIB25_GEOMETRY, limits={"seconds": 1})
    with pytest.raises(ngcodec.InvalidParameterError):
        ngcodec.set_default_limits(5)
    with pytest.raises(ngcodec.InvalidParameterError):
        chunk_encoding.get_encoder(CSEG_INFO, CSEG_SCALE, {"limits": "none"})


def test_limits_do_not_change_results(fib25):
    buf = fib25_cseg()
    expected = fib25[np.newaxis]
    for limits in (None, Limits(), Limits(seconds=None), Limits(memory_bytes=None),
                   Limits(memory_bytes=8 * MiB, seconds=0.5)):
        assert np.array_equal(cseg.decode(buf, **FIB25_GEOMETRY, limits=limits), expected)
        assert cseg.encode(fib25, (8, 8, 8), limits=limits) == buf
        assert np.array_equal(raw.decode(raw.encode(fib25, limits=limits), (64, 64, 64),
                                         "uint64", limits=limits), expected)


# -- bombs: refused before anything is allocated ---------------------------------

def _cseg_decode(size, limits, block=(8, 8, 8)):
    return cseg.decode(b"\0" * 8, size, "uint64", block, limits=limits)


def _raw_decode(size, limits):
    return raw.decode(b"\0" * 8, size, "uint64", limits=limits)


def _encoder_decode(scale):
    def call(size, limits):
        encoder = chunk_encoding.get_encoder(CSEG_INFO, scale, {"limits": limits})
        return encoder.decode(b"\0" * 8, size)
    return call


def _jpeg_decode(size, limits):
    encoder = chunk_encoding.get_encoder({"data_type": "uint8", "num_channels": 3},
                                         {"encoding": "jpeg"}, {"limits": limits})
    return encoder.decode(b"\xff\xd8\xff\xd9", size)


BOMB_CALLS = {
    "cseg.decode": _cseg_decode,
    "raw.decode": _raw_decode,
    "CompressedSegmentationEncoder.decode": _encoder_decode(CSEG_SCALE),
    "RawChunkEncoder.decode": _encoder_decode(RAW_SCALE),
    "JpegChunkEncoder.decode": _jpeg_decode,
}

# Sizes (x, y, z) of uint64 chunks: over wasm32's 4 GiB, and under it but
# far over the 256 MiB default (2 GiB; JPEG is uint8: 3 x 512 MiB).
BOMB_SIZES = {"64GiB": (2048, 2048, 2048), "2GiB": (1024, 1024, 256),
              "max": (2 ** 32 - 1,) * 3}


@pytest.mark.parametrize("size", BOMB_SIZES.values(), ids=BOMB_SIZES.keys())
@pytest.mark.parametrize("call", BOMB_CALLS.values(), ids=BOMB_CALLS.keys())
def test_bomb_is_refused_before_allocating(call, size):
    before = runtime.peek_instance(Limits())
    before_size = before.memory_size() if before is not None else 0
    tracemalloc.start()
    try:
        with no_hang(1.0):
            with pytest.raises(ResourceLimitError) as info:
                call(size, Limits())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # NumPy reports its buffers to tracemalloc: no output array was made.
    assert peak < MiB, f"{peak:,} bytes allocated while refusing a bomb"
    message = str(info.value)
    assert "memory limit" in message or "4 GiB" in message, message
    sandbox = runtime.peek_instance(Limits())  # the module's memory did not grow either
    if sandbox is not None:
        assert sandbox.memory_size() <= (before_size if sandbox is before else 16 * MiB)


def test_bomb_message_names_the_limit():
    with pytest.raises(ResourceLimitError, match=r"memory limit of 268,435,456 bytes"):
        _cseg_decode((1024, 1024, 256), Limits())
    with pytest.raises(ResourceLimitError, match=r"memory limit of 4,194,304 bytes"):
        _raw_decode((128, 128, 64), Limits(memory_bytes=4 * MiB))
    with pytest.raises(ResourceLimitError, match=r"4 GiB"):
        _cseg_decode((2048, 2048, 2048), Limits())


@pytest.mark.parametrize("block", [(2 ** 32 - 1,) * 3, (65536, 65536, 1), (1024, 1024, 1024),
                                   (2 ** 31, 1, 1)])
@pytest.mark.parametrize("chunk", [(64, 64, 64), (1, 1, 1)])
def test_huge_block_size_with_tiny_buffer(block, chunk):
    """A block far larger than the chunk: the output follows the chunk size,
    so nothing big is allocated; the outcome is a limit, bad data, or (8
    zero bytes are a valid one-block chunk) zeros."""
    tracemalloc.start()
    try:
        with no_hang(1.0):
            try:
                out = cseg.decode(b"\0" * 8, chunk, "uint64", block, limits=Limits())
            except (ResourceLimitError, ngcodec.InvalidFormatError):
                pass
            else:
                assert out.shape == (1,) + chunk[::-1] and not out.any()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * MiB


def test_bomb_is_refused_without_limits_past_4gib():
    with no_hang(1.0):
        with pytest.raises(ResourceLimitError, match="4 GiB"):
            _cseg_decode((2048, 2048, 2048), None)
        with pytest.raises(ResourceLimitError, match="4 GiB"):
            _raw_decode((2048, 2048, 2048), None)


def test_input_past_4gib_is_refused_before_any_copy():
    """An input of 2**32 + 8 bytes cannot be put in wasm32 memory. Sizes are
    passed to the module as 32-bit words, so it must be refused before a
    buffer is sized (a wrapped size would malloc 8 bytes and copy 4 GiB
    into them). np.empty leaves the pages untouched: the test costs nothing."""
    huge = np.empty((1 << 32) + 8, dtype=np.uint8)
    with no_hang(1.0):
        with pytest.raises(ResourceLimitError, match="32-bit memory"):
            cseg.decode(huge, (8, 8, 8), "uint32", (8, 8, 8))
    assert cseg.decode(spec.pack_words(1, 2, 0, 7), (8, 8, 8), "uint32", (8, 8, 8)).all()


def test_input_counts_towards_the_limit(fib25):
    buf = fib25_cseg()  # 71 KB input + 2 MiB output
    with pytest.raises(ResourceLimitError, match="memory limit"):
        cseg.decode(buf, **FIB25_GEOMETRY, limits=Limits(memory_bytes=2 * MiB))
    assert np.array_equal(cseg.decode(buf, **FIB25_GEOMETRY, limits=Limits(memory_bytes=4 * MiB)),
                          fib25[np.newaxis])


def test_encode_over_the_limit_is_refused(fib25):
    with pytest.raises(ResourceLimitError, match="memory limit"):
        cseg.encode(fib25, (8, 8, 8), limits=Limits(memory_bytes=MiB))
    with pytest.raises(ResourceLimitError, match="memory limit"):
        raw.encode(fib25, limits=Limits(memory_bytes=MiB))
    for scale in (CSEG_SCALE, RAW_SCALE):
        encoder = chunk_encoding.get_encoder(CSEG_INFO, scale, {"limits": Limits(memory_bytes=MiB)})
        with pytest.raises(ResourceLimitError):
            encoder.encode(fib25[np.newaxis])


def test_memory_growth_past_the_cap_raises_and_recovers(fib25):
    """Encoding 2 MiB of noise needs its input plus an output bound of more
    than 2 MiB: under a 4 MiB cap the module's allocator fails (the declared
    input alone passed the up-front check), which is a ResourceLimitError;
    the instance is dropped and the next call works."""
    noise = common.noise((64, 64, 64), 1 << 40, seed=3)
    limits = Limits(memory_bytes=4 * MiB + 64 * 1024, seconds=None)  # a fresh instance
    with pytest.raises(ResourceLimitError, match="memory limit 4259840 bytes"):
        cseg.encode(noise, (8, 8, 8), limits=limits)
    assert runtime.peek_instance(limits) is None
    buf = fib25_cseg()
    assert np.array_equal(cseg.decode(buf, **FIB25_GEOMETRY, limits=limits), fib25[np.newaxis])
    encoded = cseg.encode(noise, (8, 8, 8), limits=Limits(memory_bytes=16 * MiB))
    assert np.array_equal(cseg.decode(encoded, **FIB25_GEOMETRY), noise[np.newaxis])


# -- time -------------------------------------------------------------------------

@pytest.mark.parametrize("memory_bytes", [None, 512 * MiB])
def test_time_limit_trips_and_drops_the_instance(memory_bytes):
    buf, labels = big_chunk()
    limits = Limits(memory_bytes=memory_bytes, seconds=0.01)
    with no_hang(5.0):
        with pytest.raises(ResourceLimitError) as info:
            cseg.decode(buf, (256, 256, 256), "uint64", (8, 8, 8), limits=limits)
    message = str(info.value)
    assert "time limit of 0.01 s exceeded" in message, message
    assert "compressed_segmentation decode" in message
    assert runtime.peek_instance(limits) is None, \
        "the interrupted instance was kept"
    # The next call on this thread, same limits, works on a normal chunk.
    assert np.array_equal(cseg.decode(fib25_cseg(), **FIB25_GEOMETRY, limits=limits),
                          common.fib25()[np.newaxis])
    # And the big chunk decodes with an ordinary budget.
    out = cseg.decode(buf, (256, 256, 256), "uint64", (8, 8, 8),
                      limits=Limits(memory_bytes=memory_bytes, seconds=30))
    assert np.array_equal(out[0], labels)


def test_time_limit_through_get_encoder():
    buf, _ = big_chunk()
    encoder = chunk_encoding.get_encoder(
        CSEG_INFO, CSEG_SCALE, {"limits": Limits(memory_bytes=512 * MiB, seconds=0.01)})
    with no_hang(5.0):
        with pytest.raises(ResourceLimitError, match="time limit"):
            encoder.decode(buf, (256, 256, 256))


def test_time_limit_on_encode():
    _, labels = big_chunk()
    limits = Limits(memory_bytes=1024 * MiB, seconds=0.01)
    with no_hang(5.0):
        with pytest.raises(ResourceLimitError, match="time limit of 0.01 s"):
            cseg.encode(labels, (8, 8, 8), limits=limits)
    assert runtime.peek_instance(limits) is None


def test_sandbox_instance_is_reused_between_good_calls():
    limits = Limits()
    cseg.decode(fib25_cseg(), **FIB25_GEOMETRY, limits=limits)
    first = runtime.peek_instance(limits)
    assert first is not None
    cseg.decode(fib25_cseg(), **FIB25_GEOMETRY, limits=limits)
    assert runtime.peek_instance(limits) is first
    with pytest.raises(ngcodec.InvalidFormatError):  # a status, not a trap: kept
        cseg.decode(fib25_cseg()[:-4], **FIB25_GEOMETRY, limits=limits)
    assert runtime.peek_instance(limits) is first


# -- defaults ----------------------------------------------------------------------

def test_set_default_limits_applies_to_calls_without_limits():
    assert ngcodec.get_default_limits() is None
    try:
        ngcodec.set_default_limits(Limits(memory_bytes=2 * MiB))
        assert ngcodec.get_default_limits() == Limits(memory_bytes=2 * MiB)
        with pytest.raises(ResourceLimitError, match="2,097,152"):
            cseg.decode(fib25_cseg(), **FIB25_GEOMETRY)
        encoder = chunk_encoding.get_encoder(CSEG_INFO, CSEG_SCALE)
        with pytest.raises(ResourceLimitError):
            encoder.decode(fib25_cseg(), (64, 64, 64))
        # An explicit Limits wins over the default.
        cseg.decode(fib25_cseg(), **FIB25_GEOMETRY, limits=Limits())
    finally:
        ngcodec.set_default_limits(None)
    assert ngcodec.get_default_limits() is None
    cseg.decode(fib25_cseg(), **FIB25_GEOMETRY)


# -- bad data: the message says which part ------------------------------------------

def test_invalid_format_names_the_part_of_the_data():
    buf = bytearray(fib25_cseg())
    # Block (3, 0, 1) of channel 0: header word 2 * (3 + 8 * 8) + 1 (channel
    # offset first); set its bits field to 3 (invalid).
    w = np.frombuffer(buf, "<u4").copy()
    header = 1 + 2 * (3 + 0 * 8 + 1 * 64)
    w[header] = (int(w[header]) & 0xFFFFFF) | (3 << 24)
    with pytest.raises(chunk_encoding.InvalidFormatError) as info:
        cseg.decode(w.tobytes(), **FIB25_GEOMETRY, limits=Limits())
    exc = info.value
    assert exc.status_name == "NGC_ERR_BAD_BITS"
    assert "channel 0, block (3, 0, 1)" in str(exc)
    assert "NGC_ERR_BAD_BITS" in str(exc)


def test_raw_size_mismatch_is_invalid_format():
    encoder = chunk_encoding.get_encoder(CSEG_INFO, RAW_SCALE, {"limits": Limits()})
    with pytest.raises(chunk_encoding.InvalidFormatError, match="expected 2097152"):
        encoder.decode(b"\0" * 100, (64, 64, 64))


# -- bugs found while writing these tests (expected behaviour) ----------------------

def test_infinite_seconds_is_rejected_or_means_no_bound():
    """Limits(seconds=inf) passes the constructor's check, so it must either
    be refused there (InvalidParameterError) or act as no bound; it must
    never make every call raise OverflowError (math.ceil(inf))."""
    try:
        limits = Limits(seconds=float("inf"))
    except ngcodec.InvalidParameterError:
        return
    out = cseg.decode(fib25_cseg(), **FIB25_GEOMETRY, limits=limits)
    assert np.array_equal(out[0], common.fib25())


def test_huge_seconds_does_not_wrap_the_epoch_deadline():
    """2**64 ticks of 10 ms: the deadline must saturate, not wrap modulo
    2**64 to a 1-tick deadline that interrupts a 0.1 s decode."""
    buf, labels = big_chunk()
    limits = Limits(memory_bytes=512 * MiB, seconds=(2 ** 64) * runtime.EPOCH_TICK_SECONDS)
    out = cseg.decode(buf, (256, 256, 256), "uint64", (8, 8, 8), limits=limits)
    assert np.array_equal(out[0], labels)


JPEG_BOMB_SCRIPT = textwrap.dedent("""
    import io, json, sys
    import numpy as np, PIL.Image
    import ngcodec
    from ngcodec import chunk_encoding
    def peak_mib():  # VmHWM: ru_maxrss would carry the parent's peak across exec
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmHWM")) / 1024
    # A grayscale JPEG of 8000 x 8000 (64 M pixels) in ~0.5 MB, made in a
    # child so its pixels do not count here.
    import subprocess
    data = subprocess.run([sys.executable, "-c", '''
    import io, sys, PIL.Image
    out = io.BytesIO()
    PIL.Image.new("L", (8000, 8000), 0).save(out, format="jpeg", quality=10)
    sys.stdout.buffer.write(out.getvalue())'''], check=True, capture_output=True).stdout
    encoder = chunk_encoding.get_encoder({"data_type": "uint8", "num_channels": 1},
                                         {"encoding": "jpeg"},
                                         {"limits": ngcodec.Limits(memory_bytes=4 << 20)})
    before = peak_mib()
    try:
        encoder.decode(data, (64, 64, 64))
        outcome = "ok"
    except Exception as exc:
        outcome = type(exc).__name__
    print(json.dumps({"outcome": outcome, "growth_mib": peak_mib() - before,
                      "size": len(data)}))
""")


def test_jpeg_header_bomb_is_refused_before_decoding(tmp_path):
    """A 0.5 MB JPEG whose header says 8000 x 8000, given as a 64^3 chunk
    with a 4 MiB limit, must be refused from its header (InvalidFormatError:
    the image does not have the chunk's shape) without decoding 64 MB of
    pixels."""
    script = tmp_path / "jpeg_bomb.py"
    script.write_text(JPEG_BOMB_SCRIPT)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["outcome"] == "InvalidFormatError", report
    assert report["growth_mib"] < 16, (
        f"decoding the JPEG header bomb grew the peak RSS by {report['growth_mib']:.0f} MiB "
        f"(limit 4 MiB): the pixels were decoded before the shape check")


def test_kept_buffers_do_not_decide_a_capped_call(fib25):
    """Under a small cap, an encode that works on a fresh instance also works
    after a decode left its buffers in the same instance (the kept buffers
    are released and the allocation retried)."""
    limits = Limits(memory_bytes=6 * MiB, seconds=None)
    cseg.decode(fib25_cseg(), **FIB25_GEOMETRY, limits=limits)
    encoded = cseg.encode(fib25, (8, 8, 8), limits=limits)
    assert np.array_equal(cseg.decode(encoded, **FIB25_GEOMETRY)[0], fib25)


def test_alternating_limits_reuse_their_instances():
    a, b = Limits(), Limits(seconds=None)
    cseg.decode(fib25_cseg(), **FIB25_GEOMETRY, limits=a)
    cseg.decode(fib25_cseg(), **FIB25_GEOMETRY, limits=b)
    kept = {limits: runtime.peek_instance(limits) for limits in (a, b)}
    assert None not in kept.values()
    for limits in (a, b, a, b):
        cseg.decode(fib25_cseg(), **FIB25_GEOMETRY, limits=limits)
    assert all(runtime.peek_instance(limits) is inst for limits, inst in kept.items())
