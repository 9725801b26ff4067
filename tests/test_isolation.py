"""Isolation (issue 6): after any error, trap or limit, the next call on the
same thread works and sees nothing of earlier calls' data; many threads
decoding at once, with errors interleaved, all get correct results."""

import functools
import queue
import threading

import numpy as np
import pytest

from tests import common
import ngcodec
from ngcodec import Limits, ResourceLimitError, chunk_encoding, runtime
from ngcodec import compressed_segmentation as cseg
from ngcodec import raw

MiB = 1 << 20
G64 = dict(chunk_size=(64, 64, 64), dtype="uint64", block_size=(8, 8, 8))
LIMIT_MODES = {"unlimited": None, "sandbox": Limits(), "sandbox-no-time": Limits(seconds=None)}


@functools.lru_cache(maxsize=None)
def fib25_cseg():
    return cseg.encode(common.fib25(), (8, 8, 8))


@functools.lru_cache(maxsize=None)
def big_chunk():
    labels = np.tile(common.fib25(), (4, 4, 4))
    return cseg.encode(labels, (8, 8, 8))


def decode_fib25(limits):
    return cseg.decode(fib25_cseg(), **G64, limits=limits)


def check_fib25(limits):
    assert np.array_equal(decode_fib25(limits)[0], common.fib25())


# -- the next call works after any kind of failure -----------------------------------

def _bad_bits(limits):
    w = np.frombuffer(fib25_cseg(), "<u4").copy()
    w[1 + 2 * 100] |= 0xFF << 24
    cseg.decode(w.tobytes(), **G64, limits=limits)


def _truncated(limits):
    cseg.decode(fib25_cseg()[:1000], **G64, limits=limits)


def _bomb(limits):
    cseg.decode(b"\0" * 8, (2048, 2048, 2048), "uint64", (8, 8, 8), limits=limits)


def _timeout(limits):
    cseg.decode(big_chunk(), (256, 256, 256), "uint64", (8, 8, 8),
                limits=Limits(memory_bytes=512 * MiB, seconds=0.01))


def _memory_cap(limits):
    noise = common.noise((64, 64, 64), 1 << 40, seed=5)
    cseg.encode(noise, (8, 8, 8), limits=Limits(memory_bytes=4 * MiB + 4096, seconds=None))


def _raw_mismatch(limits):
    raw.decode(b"\0" * 12, (64, 64, 64), "uint64", limits=limits)


def _jpeg_garbage(limits):
    encoder = chunk_encoding.get_encoder({"data_type": "uint8", "num_channels": 1},
                                         {"encoding": "jpeg"}, {"limits": limits})
    encoder.decode(b"\xff\xd8garbage", (8, 8, 8))


FAILURES = {
    "bad-bits": (_bad_bits, ngcodec.InvalidFormatError),
    "truncated": (_truncated, ngcodec.InvalidFormatError),
    "bomb": (_bomb, ResourceLimitError),
    "timeout": (_timeout, ResourceLimitError),
    "memory-cap": (_memory_cap, ResourceLimitError),
    "raw-mismatch": (_raw_mismatch, ngcodec.InvalidFormatError),
    "jpeg-garbage": (_jpeg_garbage, ngcodec.InvalidFormatError),
}


@pytest.mark.parametrize("mode", LIMIT_MODES.values(), ids=LIMIT_MODES.keys())
@pytest.mark.parametrize("failure", FAILURES.values(), ids=FAILURES.keys())
def test_next_call_works_after_failure(failure, mode):
    call, cls = failure
    check_fib25(mode)
    for _ in range(2):
        with pytest.raises(cls):
            call(mode)
        check_fib25(mode)
        check_fib25(None)
        check_fib25(Limits())


# -- nothing of earlier calls is visible ------------------------------------------

@pytest.mark.parametrize("mode", LIMIT_MODES.values(), ids=LIMIT_MODES.keys())
def test_truncated_chunk_does_not_read_the_previous_input(mode):
    """Linear memory keeps the whole FIB-25 chunk in the input buffer after a
    decode; a prefix of it must still be refused, not completed from the
    stale bytes past its end."""
    buf = fib25_cseg()
    for cut in (len(buf) - 4, len(buf) // 2, 2056, 4):
        check_fib25(mode)
        with pytest.raises(ngcodec.InvalidFormatError):
            cseg.decode(buf[:cut], **G64, limits=mode)


@pytest.mark.parametrize("mode", LIMIT_MODES.values(), ids=LIMIT_MODES.keys())
def test_failed_decode_leaves_out_untouched(mode):
    out = np.full((1, 64, 64, 64), 7, dtype=np.uint64)
    with pytest.raises(ngcodec.InvalidFormatError):
        _bad_bits_into(out, mode)
    assert (out == 7).all()
    check_fib25(mode)


def _bad_bits_into(out, limits):
    w = np.frombuffer(fib25_cseg(), "<u4").copy()
    w[1 + 2 * 511] |= 0xFF << 24  # the last block: the others decode first
    cseg.decode(w.tobytes(), **G64, out=out, limits=limits)


@pytest.mark.parametrize("mode", LIMIT_MODES.values(), ids=LIMIT_MODES.keys())
def test_results_do_not_depend_on_history(mode):
    """A small chunk and an encode after big ones and failures equal what a
    fresh thread (fresh instances) computes."""
    small = common.voronoi((8, 16, 32), 20, "uint32", seed=4)
    fresh = {}

    def on_fresh_thread():
        fresh["enc"] = cseg.encode(small, (4, 4, 4), limits=mode)
        fresh["dec"] = cseg.decode(fresh["enc"], (32, 16, 8), "uint32", (4, 4, 4), limits=mode)

    thread = threading.Thread(target=on_fresh_thread)
    thread.start()
    thread.join()
    check_fib25(mode)
    for call, cls in FAILURES.values():
        with pytest.raises(cls):
            call(mode)
    assert cseg.encode(small, (4, 4, 4), limits=mode) == fresh["enc"]
    dec = cseg.decode(fresh["enc"], (32, 16, 8), "uint32", (4, 4, 4), limits=mode)
    assert np.array_equal(dec, fresh["dec"]) and np.array_equal(dec[0], small)


def test_each_thread_has_its_own_instances():
    seen = queue.Queue()

    def worker():
        check_fib25(None)
        check_fib25(Limits())
        fast, sandbox = runtime.peek_instance(None), runtime.peek_instance(Limits())
        assert fast is not None and sandbox is not None
        seen.put((id(fast), id(sandbox), fast, sandbox))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results = [seen.get_nowait() for _ in threads]
    fast_ids = {r[0] for r in results}
    sandbox_ids = {r[1] for r in results}
    assert len(fast_ids) == 3 and len(sandbox_ids) == 3


# -- many threads at once ---------------------------------------------------------

def _thread_cases():
    """(name, callable returning the result, expected result or exception
    class). Different dtypes, geometries and channel counts so that a
    result handed to the wrong thread, or stale memory, shows."""
    cases = []
    for i, (shape, dtype, block) in enumerate([
            ((64, 64, 64), "uint64", (8, 8, 8)),
            ((32, 48, 40), "uint32", (4, 8, 2)),
            ((17, 33, 65), "uint64", (16, 16, 16)),
            ((16, 16, 16), "uint32", (1, 1, 1))]):
        labels = common.voronoi(shape, 30 + 50 * i, dtype, seed=10 + i)
        z, y, x = shape
        buf = cseg.encode(labels, block)
        for j, limits in enumerate((None, Limits(), Limits(memory_bytes=64 * MiB, seconds=1.0))):
            cases.append((f"cseg{i}-{j}", functools.partial(
                cseg.decode, buf, (x, y, z), dtype, block, limits=limits), labels[np.newaxis]))
        w = np.frombuffer(buf, "<u4").copy()
        w[1 + 2 * (w.size % 7)] = 0xFFFFFFFF  # a bad header
        cases.append((f"cseg{i}-bad", functools.partial(
            cseg.decode, w.tobytes(), (x, y, z), dtype, block, limits=Limits()),
            ngcodec.InvalidFormatError))
        cases.append((f"raw{i}", functools.partial(
            raw.decode, raw.encode(labels), (x, y, z), dtype, limits=Limits()),
            labels[np.newaxis]))
    two = np.stack([common.voronoi((16, 16, 16), 9, "uint64", seed=40),
                    common.voronoi((16, 16, 16), 9, "uint64", seed=41)])
    cases.append(("two-channels", functools.partial(
        cseg.decode, cseg.encode(two, (8, 8, 8)), (16, 16, 16), "uint64", (8, 8, 8), 2,
        limits=Limits()), two))
    cases.append(("bomb", functools.partial(_bomb, Limits()), ResourceLimitError))
    cases.append(("timeout", functools.partial(_timeout, None), ResourceLimitError))
    cases.append(("truncated", functools.partial(_truncated, Limits()),
                  ngcodec.InvalidFormatError))
    return cases


def test_eight_threads_with_errors_interleaved():
    cases = _thread_cases()
    big_chunk()
    errors = []
    counts = {"ok": 0, "expected-error": 0}
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker(seed):
        rng = np.random.default_rng(seed)
        barrier.wait()
        order = rng.permutation(len(cases))
        for index in np.concatenate([order, rng.permutation(len(cases))[:8]]):
            name, call, expected = cases[index]
            try:
                result = call()
            except Exception as exc:  # noqa: BLE001 - classified below
                ok = isinstance(expected, type) and isinstance(exc, expected)
                with lock:
                    if ok:
                        counts["expected-error"] += 1
                    else:
                        errors.append(f"{name}: {type(exc).__name__}: {exc}")
                continue
            ok = not isinstance(expected, type) and result.dtype == expected.dtype \
                and np.array_equal(result, expected)
            with lock:
                if ok:
                    counts["ok"] += 1
                else:
                    errors.append(f"{name}: wrong result")

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "a decoding thread hung"
    assert not errors, errors[:10]
    assert counts["ok"] > 8 * 10 and counts["expected-error"] > 8 * 4


def test_timeout_on_one_thread_does_not_disturb_another():
    """The epoch ticker is shared by the engine: one thread timing out again
    and again must not interrupt another thread's calls under a normal
    budget."""
    big_chunk()
    stop = threading.Event()
    failures = []
    timeouts = []

    def timing_out():
        while not stop.is_set():
            try:
                _timeout(None)
            except ResourceLimitError:
                timeouts.append(1)

    thread = threading.Thread(target=timing_out)
    thread.start()
    try:
        for _ in range(40):
            try:
                check_fib25(Limits(seconds=2.0))
            except Exception as exc:  # noqa: BLE001
                failures.append(repr(exc))
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not failures, failures[:5]
    assert timeouts
