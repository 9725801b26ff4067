"""Adversarial check of ngcodec's sandbox (issue 6).

Throws at the Python API what an attacker or a broken dataset would:
decompression bombs (tiny buffers declaring huge chunks or blocks, a JPEG
whose header declares a huge image, gzip bombs through ``ngcodec verify``),
random bytes, mutated and truncated real chunks, real chunks under the wrong
geometry, a tiny time budget on a large legitimate chunk, and eight threads
with errors interleaved. The only acceptable outcomes of a call are a
correct result, ``InvalidFormatError`` or ``ResourceLimitError``: never
another exception, a crash, a hang or a large allocation.

- "Correct" is checked against the spec reader of tests/spec.py, written
  from the compressed_segmentation spec independently of ngcodec: whenever ngcodec returns an array, the spec
  accepts the bytes and gives the same array; whenever ngcodec refuses bytes
  as invalid, the spec refuses them too.
- Each scenario group runs in its own subprocess with a wall-clock timeout
  (a hang fails the group; so does a crash: a signal, no result).
- Memory: the child resets its peak RSS (``/proc/self/clear_refs``) once
  set up, reads ``VmHWM`` from ``/proc/self/status`` at the end, and fails
  the group when the growth passes the group's budget; it also records the
  largest linear memory of this thread's wasm instances after each call and
  (bombs) the peak of Python/NumPy allocations (tracemalloc), because an
  untouched allocation does not show in RSS.

Usage, from the repository root::

    python -m tests.fuzz.adversarial            # full run (scale 10, ~15 s)
    python -m tests.fuzz.adversarial --quick    # seconds: what the test suite runs
    python -m tests.fuzz.adversarial --scale 200   # long run (minutes)
    python -m tests.fuzz.adversarial --groups bombs,threads --scale 50 --seed 7

Prints one line per group and a summary; exits 1 on any unexpected outcome.
"""

import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from tests import common, spec

REPO = common.REPO
MiB = 1 << 20
RESULT_TAG = "ADVERSARIAL-RESULT "
SPEC_MAX_BLOCKS = 20000  # more blocks a channel: too slow for the spec reader, unchecked


# =============================================================================
# The child: one scenario group
# =============================================================================

def vm_hwm_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss():
    """Resets VmHWM to the current RSS (Linux >= 4.0); False if it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def spec_decode(buf, chunk, block, dtype, channels):
    """What the spec says of *buf* (tests.spec.decode): a (C, Z, Y, X) array,
    None when the spec refuses it, or "unchecked" when the chunk has too many
    blocks for the (slow) spec reader."""
    if len(buf) % 4:
        return None
    if spec.block_count(chunk, block) > SPEC_MAX_BLOCKS:
        return "unchecked"
    try:
        return spec.decode(buf, chunk, block, dtype, channels)
    except spec.FormatError:
        return None


def _peek_instance():
    """ngcodec.runtime.peek_instance."""
    from ngcodec.runtime import peek_instance
    return peek_instance


def _measured_limits():
    """None and one Limits per kind of instance the groups use (time bound or
    not, memory cap): peek_instance(limits) finds each."""
    from ngcodec import Limits

    caps = [None] + [m * MiB for m in (1, 4, 16, 32, 64, 256, 512, 1024)] + [4 * MiB + 8192]
    return [None] + [Limits(memory_bytes=m, seconds=s) for m in caps for s in (None, 1.0)]


class Checker:
    """Runs calls, classifies their outcomes, records the unexpected ones."""

    def __init__(self, group):
        import ngcodec

        self.ngcodec = ngcodec
        self.peek_instance = _peek_instance()
        self.measured_limits = _measured_limits()
        self.group = group
        self.lock = threading.Lock()
        self.counts = {}
        self.unexpected = []
        self.unexpected_count = 0
        self.calls = 0
        self.max_call_seconds = 0.0
        self.max_linear_mib = 0.0
        self.unchecked = 0

    def _linear_mib(self):
        """The largest linear memory of this thread's live instances."""
        sizes = [0]
        for limits in self.measured_limits:
            inst = self.peek_instance(limits)
            if inst is not None:
                sizes.append(inst.memory_size())
        return max(sizes) / MiB

    def fail(self, name, text):
        with self.lock:
            self.unexpected_count += 1
            if len(self.unexpected) < 25:
                self.unexpected.append(f"{name}: {text}")

    def call(self, name, fn, check=None, required=None, max_seconds=10.0,
             max_linear_mib=None):
        """Calls *fn*. A result is passed to *check* (returns None or what is
        wrong); InvalidFormatError and ResourceLimitError are accepted unless
        *required* names the one class that must be raised."""
        ng = self.ngcodec
        start = time.perf_counter()
        outcome, result, exc = None, None, None
        try:
            result = fn()
            outcome = "ok"
        except ng.ResourceLimitError as e:
            outcome, exc = "ResourceLimitError", e
        except ng.InvalidFormatError as e:
            outcome, exc = "InvalidFormatError", e
        except BaseException as e:  # noqa: BLE001 - anything else is a finding
            outcome, exc = "other", e
        elapsed = time.perf_counter() - start
        linear = self._linear_mib()
        with self.lock:
            self.calls += 1
            self.counts[outcome] = self.counts.get(outcome, 0) + 1
            self.max_call_seconds = max(self.max_call_seconds, elapsed)
            self.max_linear_mib = max(self.max_linear_mib, linear)
        if outcome == "other":
            self.fail(name, f"unexpected exception {type(exc).__module__}.{type(exc).__name__}: "
                            f"{exc}\n{''.join(traceback.format_exception(exc))[-800:]}")
        elif required is not None and outcome != required:
            self.fail(name, f"expected {required}, got {outcome}"
                            + (f" ({exc})" if exc else ""))
        elif outcome == "ok" and check is not None:
            problem = check(result)
            if problem:
                self.fail(name, f"wrong result: {problem}")
        elif outcome == "InvalidFormatError" and check is not None and getattr(
                check, "must_accept", False):
            self.fail(name, f"refused a chunk the spec accepts: {exc}")
        if elapsed > max_seconds:
            self.fail(name, f"took {elapsed:.2f} s (bound {max_seconds} s)")
        if max_linear_mib is not None and linear > max_linear_mib:
            self.fail(name, f"linear memory grew to {linear:.0f} MiB "
                            f"(bound {max_linear_mib} MiB)")
        return outcome, result

    def cseg_vs_spec(self, name, buf, chunk, block, dtype, channels=1, limits=None,
                     max_seconds=10.0):
        """Decodes with ngcodec and with the spec: same array or both refuse."""
        import numpy as np
        from ngcodec import compressed_segmentation as cseg

        expected = spec_decode(buf, chunk, block, dtype, channels)
        if isinstance(expected, str):
            with self.lock:
                self.unchecked += 1
            expected = ...

        def check(result):
            if result.shape != (channels, chunk[2], chunk[1], chunk[0]):
                return f"shape {result.shape}"
            if expected is ...:
                return None
            if expected is None:
                return "ngcodec decoded bytes the spec refuses"
            if not np.array_equal(result, expected):
                return "differs from the spec decoder"
            return None

        check.must_accept = expected is not None and expected is not ...
        return self.call(name, lambda: cseg.decode(buf, chunk, dtype, block, channels,
                                                   limits=limits),
                         check=check, max_seconds=max_seconds)

    def result(self, group, seconds, baseline, peak, reset_ok, extra=None):
        return dict(group=group, calls=self.calls, outcomes=self.counts,
                    unexpected=self.unexpected, unexpected_count=self.unexpected_count,
                    max_call_seconds=round(self.max_call_seconds, 4),
                    max_linear_mib=round(self.max_linear_mib, 1),
                    baseline_rss_mib=round(baseline, 1), peak_rss_mib=round(peak, 1),
                    rss_growth_mib=round(max(0.0, peak - baseline), 1),
                    peak_reset=reset_ok, unchecked=self.unchecked,
                    seconds=round(seconds, 2), **(extra or {}))


# -- data ----------------------------------------------------------------------

def fib25():
    """The FIB-25 64^3 chunk, (Z, Y, X) uint64, a fresh copy."""
    return common.fib25()


def cells(shape, n, dtype, seed):
    """A (Z, Y, X) label volume of *n* random boxes painted over each other
    (cheap, many label boundaries, full-range labels)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    a = np.full(shape, rng.integers(0, info.max, dtype=dtype, endpoint=True), dtype=dtype)
    for _ in range(n):
        lo = [rng.integers(0, s) for s in shape]
        hi = [min(s, l + rng.integers(1, max(2, s // 2))) for l, s in zip(lo, shape)]
        a[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = rng.integers(0, info.max, dtype=dtype,
                                                                endpoint=True)
    return a


def real_chunks():
    """(name, bytes, chunk (x, y, z), block, dtype, channels, array)."""
    import numpy as np
    from ngcodec import compressed_segmentation as cseg

    out = []
    f = fib25()
    out.append(("fib25", cseg.encode(f, (8, 8, 8)), (64, 64, 64), (8, 8, 8), "uint64", 1,
                f[np.newaxis]))
    a = np.stack([cells((20, 24, 36), 40, np.uint32, 1), cells((20, 24, 36), 5, np.uint32, 2)])
    out.append(("cells-u32-2ch", cseg.encode(a, (4, 8, 2)), (36, 24, 20), (4, 8, 2), "uint32",
                2, a))
    b = cells((13, 17, 30), 300, np.uint64, 3)
    out.append(("cells-u64-odd", cseg.encode(b, (16, 4, 8)), (30, 17, 13), (16, 4, 8),
                "uint64", 1, b[np.newaxis]))
    return out


# -- groups ----------------------------------------------------------------------

def group_bombs(ck, scale, rng):
    """Tiny buffers declaring huge outputs, through every entry point: each
    is a ResourceLimitError in under a second, with nothing allocated."""
    import numpy as np
    from ngcodec import Limits, chunk_encoding, raw
    from ngcodec import compressed_segmentation as cseg

    limits_list = [Limits(), Limits(memory_bytes=16 * MiB, seconds=0.5),
                   Limits(memory_bytes=1 * MiB, seconds=None)]
    # Every size declares more than 256 MiB for each dtype used below.
    sizes = [(2048, 2048, 2048), (1024, 1024, 512), (4096, 4096, 16), (2 ** 32 - 1,) * 3,
             (1 << 16, 1 << 16, 1 << 16), (1 << 31, 2, 1), (600, 600, 600), (1, 1, 1 << 30)]
    infos = [({"data_type": "uint64", "num_channels": 1},
              {"encoding": "compressed_segmentation",
               "compressed_segmentation_block_size": [8, 8, 8]}),
             ({"data_type": "uint32", "num_channels": 4}, {"encoding": "raw"}),
             ({"data_type": "uint8", "num_channels": 3}, {"encoding": "jpeg"})]
    for limits in limits_list:
        for size in sizes:
            tiny = bytes(rng.randrange(256) for _ in range(rng.choice([0, 4, 8, 64])))
            voxels = size[0] * size[1] * size[2]
            assert voxels * 2 > limits.memory_bytes
            for dtype in ("uint32", "uint64"):
                ck.call(f"cseg.decode {size} {dtype} {limits}",
                        lambda: cseg.decode(tiny, size, dtype, (8, 8, 8), limits=limits),
                        required="ResourceLimitError", max_seconds=1.0, max_linear_mib=16)
                ck.call(f"cseg.decode 3ch {size} {dtype}",
                        lambda: cseg.decode(tiny, size, dtype, (64, 64, 64), 3, limits=limits),
                        required="ResourceLimitError", max_seconds=1.0, max_linear_mib=16)
            ck.call(f"raw.decode {size}",
                    lambda: raw.decode(tiny, size, "uint16", limits=limits),
                    required="ResourceLimitError", max_seconds=1.0, max_linear_mib=16)
            for info, scale_info in infos:
                encoder = chunk_encoding.get_encoder(info, scale_info, {"limits": limits})
                ck.call(f"{type(encoder).__name__}.decode {size}",
                        lambda: encoder.decode(tiny, size), required="ResourceLimitError",
                        max_seconds=1.0, max_linear_mib=16)
    # Huge channel counts, huge block sizes with small or huge chunks.
    for channels in (1 << 20, 2 ** 32 - 1):
        ck.call(f"cseg.decode channels={channels}",
                lambda: cseg.decode(b"\0" * 8, (64, 64, 64), "uint64", (8, 8, 8), channels,
                                    limits=Limits()),
                required="ResourceLimitError", max_seconds=1.0, max_linear_mib=16)
    for block in ((2 ** 32 - 1,) * 3, (1 << 16, 1 << 16, 1), (1 << 12,) * 3):
        for size in ((64, 64, 64), (1, 1, 1), (3000, 3000, 3000)):
            ck.call(f"cseg.decode block={block} size={size}",
                    lambda: cseg.decode(b"\0" * 8, size, "uint64", block, limits=Limits()),
                    check=lambda r: None if not r.any() else "non-zero output",
                    max_seconds=1.0, max_linear_mib=16)
    # Without limits, past the 4 GiB address space: still refused up front.
    for size in ((2048, 2048, 2048), (2 ** 32 - 1,) * 3):
        ck.call(f"cseg.decode unlimited {size}",
                lambda: cseg.decode(b"\0" * 8, size, "uint64", (8, 8, 8)),
                required="ResourceLimitError", max_seconds=1.0, max_linear_mib=16)
    # A JPEG header declaring a 8000 x 8000 image, given as a 64^3 chunk.
    jpeg = jpeg_header_bomb()
    encoder = chunk_encoding.get_encoder({"data_type": "uint8", "num_channels": 1},
                                         {"encoding": "jpeg"}, {"limits": Limits()})
    for _ in range(3):
        ck.call("jpeg header bomb", lambda: encoder.decode(jpeg, (64, 64, 64)),
                required="InvalidFormatError", max_seconds=1.0)
    # A legitimate bomb: a 64 KB constant chunk that decodes to 128 MiB,
    # refused under a 64 MiB limit.
    constant = constant_chunk((512, 256, 128), (8, 8, 8))
    ck.call("constant chunk 128 MiB, limit 64 MiB",
            lambda: cseg.decode(constant, (512, 256, 128), "uint64", (8, 8, 8),
                                limits=Limits(memory_bytes=64 * MiB)),
            required="ResourceLimitError", max_seconds=1.0, max_linear_mib=16)
    del np


_JPEG_BOMB = None


def jpeg_header_bomb():
    """A ~0.5 MB JPEG of 8000 x 8000 (64 M pixels), made in a subprocess so
    its pixels never count in this one's RSS."""
    global _JPEG_BOMB
    if _JPEG_BOMB is None:
        code = ("import io, sys, PIL.Image; out = io.BytesIO(); "
                "PIL.Image.new('L', (8000, 8000), 0).save(out, format='jpeg', quality=10); "
                "sys.stdout.buffer.write(out.getvalue())")
        _JPEG_BOMB = subprocess.run([sys.executable, "-c", code], check=True,
                                    capture_output=True).stdout
    return _JPEG_BOMB


def constant_chunk(size, block, label=7):
    """A valid uint64 chunk: every block 0-bit, all sharing one table."""
    import numpy as np

    nb = 1
    for s, b in zip(size, block):
        nb *= -(-s // b)
    table = 2 * nb
    head = np.empty((nb, 2), "<u4")
    head[:, 0] = table
    head[:, 1] = table + 2
    return (np.array([1], "<u4").tobytes() + head.tobytes()
            + np.array([label], "<u8").tobytes())


def group_random(ck, scale, rng):
    """Random bytes, random word soup, under random small geometries."""
    from ngcodec import Limits, chunk_encoding, raw

    limits_choices = [None, Limits(), Limits(memory_bytes=4 * MiB, seconds=1.0)]
    interesting = [0, 1, 2, 0xFFFFFF, 0x01000000, 0x02000002, 0x20000000, 0xFFFFFFFF,
                   0x80000000, 0x7FFFFFFF]
    for i in range(60 * scale):
        block = tuple(rng.randint(1, 9) for _ in range(3))
        chunk = tuple(rng.randint(0, 3 * b) for b in block)
        dtype = rng.choice(["uint32", "uint64"])
        channels = rng.choice([1, 1, 2, 3])
        limits = rng.choice(limits_choices)
        if i % 2:
            n = rng.choice([0, 1, 3, 4, 8, 12, 64, 257, 1024, 4096])
            buf = bytes(rng.randrange(256) for _ in range(n))
        else:
            import struct
            words = [rng.choice(interesting) if rng.random() < 0.5 else rng.randrange(1 << 32)
                     for _ in range(rng.randint(0, 300))]
            buf = struct.pack(f"<{len(words)}I", *words)
        ck.cseg_vs_spec(f"random #{i} {chunk} {block} {dtype} x{channels}", buf, chunk, block,
                        dtype, channels, limits)
    for i in range(20 * scale):
        chunk = tuple(rng.randint(0, 12) for _ in range(3))
        dtype = rng.choice(["uint8", "int16", "uint32", "uint64", "float32"])
        n = rng.choice([0, 7, 64, 1000, 2 * chunk[0] * chunk[1] * chunk[2]])
        buf = bytes(rng.randrange(256) for _ in range(n))
        import numpy as np
        expected = chunk[0] * chunk[1] * chunk[2] * np.dtype(dtype).itemsize
        ck.call(f"raw random #{i}", lambda: raw.decode(buf, chunk, dtype, limits=Limits()),
                check=lambda r: None if len(buf) == expected and r.tobytes() == buf
                else "decoded bytes of the wrong size")
    jpeg_encoders = [chunk_encoding.get_encoder({"data_type": "uint8", "num_channels": c},
                                                {"encoding": "jpeg"}, {"limits": Limits()})
                     for c in (1, 3)]
    for i in range(20 * scale):
        encoder = rng.choice(jpeg_encoders)
        buf = b"\xff\xd8\xff\xe0" + bytes(rng.randrange(256) for _ in range(rng.randint(0, 600)))
        chunk = (rng.randint(1, 16), rng.randint(1, 16), rng.randint(1, 4))
        ck.call(f"jpeg random #{i}", lambda: encoder.decode(buf, chunk),
                check=lambda r: None if r.shape == (encoder.num_channels,) + chunk[::-1]
                else f"shape {r.shape}")


def mutate(buf, rng):
    data = bytearray(buf)
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["word", "bits", "offset", "flip", "flip", "truncate", "extend",
                           "swap"])
        nwords = len(data) // 4
        if kind in ("word", "bits", "offset") and nwords:
            # Headers live at the start: bias towards them.
            i = rng.randrange(min(nwords, 2000)) if rng.random() < 0.7 else rng.randrange(nwords)
            old = int.from_bytes(data[4 * i:4 * i + 4], "little")
            if kind == "word":
                new = rng.choice([0, 1, 0xFFFFFFFF, 0x00FFFFFF, nwords, nwords - 1,
                                  rng.randrange(1 << 32)])
            elif kind == "bits":
                new = (old & 0xFFFFFF) | rng.choice([0, 1, 2, 3, 4, 5, 8, 16, 31, 32, 33,
                                                     255]) << 24
            else:
                new = (old & 0xFF000000) | (old + rng.choice([-2, -1, 1, 2, 64, nwords])) \
                    & 0xFFFFFF
            data[4 * i:4 * i + 4] = (new & 0xFFFFFFFF).to_bytes(4, "little")
        elif kind == "flip" and data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif kind == "truncate" and data:
            del data[rng.randrange(len(data)):]
        elif kind == "extend":
            data += bytes(rng.randrange(256) for _ in range(rng.choice([1, 4, 8, 64])))
        elif kind == "swap" and nwords > 2:
            i, j = rng.randrange(nwords), rng.randrange(nwords)
            data[4 * i:4 * i + 4], data[4 * j:4 * j + 4] = \
                data[4 * j:4 * j + 4], data[4 * i:4 * i + 4]
    return bytes(data)


def group_mutated(ck, scale, rng):
    """Real chunks with random damage, checked against the spec decoder."""
    from ngcodec import Limits

    chunks = real_chunks()
    for name, buf, chunk, block, dtype, channels, array in chunks:
        ck.cseg_vs_spec(f"{name} pristine", buf, chunk, block, dtype, channels, Limits())
    for i in range(40 * scale):
        name, buf, chunk, block, dtype, channels, array = chunks[i % len(chunks)]
        ck.cseg_vs_spec(f"{name} mutation #{i}", mutate(buf, rng), chunk, block, dtype,
                        channels, rng.choice([None, Limits()]))


def group_truncated(ck, scale, rng):
    """Every real chunk cut at header boundaries, table and values edges,
    and random places; all must be refused (or, rarely, still valid)."""
    from ngcodec import Limits

    for name, buf, chunk, block, dtype, channels, array in real_chunks():
        n = len(buf)
        cuts = {0, 1, 2, 3, 4, 5, 8, 4 * channels, 4 * channels + 4, n - 1, n - 2, n - 4,
                n - 8, n // 2, n // 3}
        cuts |= {rng.randrange(n) for _ in range(6 * scale)}
        for cut in sorted(c for c in cuts if 0 <= c < n):
            ck.cseg_vs_spec(f"{name} cut at {cut}/{n}", buf[:cut], chunk, block, dtype,
                            channels, Limits())


def group_geometry(ck, scale, rng):
    """Real chunks decoded with the wrong chunk size, block size, dtype or
    number of channels."""
    from ngcodec import Limits

    chunks = real_chunks()
    for name, buf, chunk, block, dtype, channels, array in chunks:
        wrong = []
        x, y, z = chunk
        wrong += [((x + dx, y, z), block, dtype, channels) for dx in (-1, 1)]
        wrong += [((y, x, z), block, dtype, channels), ((z, y, x), block, dtype, channels),
                  ((x // 2, y, z), block, dtype, channels), ((x, y, 2 * z), block, dtype,
                                                             channels),
                  ((0, y, z), block, dtype, channels)]
        bx, by, bz = block
        wrong += [(chunk, (bx * 2, by, bz), dtype, channels), (chunk, (by, bx, bz), dtype,
                                                               channels),
                  (chunk, (1, 1, 1), dtype, channels), (chunk, (bx + 1, by, bz), dtype, channels)]
        wrong += [(chunk, block, "uint32" if dtype == "uint64" else "uint64", channels),
                  (chunk, block, dtype, channels + 1)]
        if channels > 1:
            wrong.append((chunk, block, dtype, channels - 1))
        for _ in range(4 * scale):
            wrong.append((tuple(rng.randint(1, 70) for _ in range(3)),
                          tuple(rng.randint(1, 16) for _ in range(3)),
                          rng.choice(["uint32", "uint64"]), rng.randint(1, 3)))
        for g in wrong:
            ck.cseg_vs_spec(f"{name} as {g}", buf, *g, limits=rng.choice([None, Limits()]))


_BIG = None


def big_chunk():
    """A legitimate 256^3 uint64 chunk (FIB-25 tiled 4x4x4, 128 MiB decoded)."""
    global _BIG
    if _BIG is None:
        import numpy as np
        from ngcodec import compressed_segmentation as cseg

        labels = np.tile(fib25(), (4, 4, 4))
        _BIG = (cseg.encode(labels, (8, 8, 8)), labels)
    return _BIG


def group_time(ck, scale, rng):
    """A tiny time budget on a large legitimate chunk: ResourceLimitError in
    well under 5 s, and the same thread goes on decoding correctly."""
    import numpy as np
    from ngcodec import Limits
    from ngcodec import compressed_segmentation as cseg

    buf, labels = big_chunk()
    small_buf = cseg.encode(fib25(), (8, 8, 8))
    small = fib25()[np.newaxis]
    for i in range(3 * scale):
        seconds = rng.choice([0.001, 0.005, 0.01])  # deadlines <= 20 ms; the decode takes >= 40 ms
        memory = rng.choice([None, 512 * MiB])
        ck.call(f"big chunk, {seconds} s", lambda: cseg.decode(
            buf, (256, 256, 256), "uint64", (8, 8, 8),
            limits=Limits(memory_bytes=memory, seconds=seconds)),
            required="ResourceLimitError", max_seconds=5.0)
        ck.call("next call, same thread", lambda: cseg.decode(
            small_buf, (64, 64, 64), "uint64", (8, 8, 8),
            limits=Limits(memory_bytes=memory, seconds=seconds * 100)),
            check=lambda r: None if np.array_equal(r, small) else "wrong FIB-25")
    ck.call("encode, 0.01 s", lambda: cseg.encode(
        labels, (8, 8, 8), limits=Limits(memory_bytes=1024 * MiB, seconds=0.01)),
        required="ResourceLimitError", max_seconds=5.0)
    ck.call("big chunk, 30 s", lambda: cseg.decode(
        buf, (256, 256, 256), "uint64", (8, 8, 8), limits=Limits(memory_bytes=512 * MiB,
                                                                 seconds=30)),
        check=lambda r: None if np.array_equal(r[0], labels) else "wrong big chunk",
        max_seconds=30)


def group_threads(ck, scale, rng):
    """Eight threads decoding at once, good chunks, bad chunks, bombs, time
    and memory limits interleaved; every result checked."""
    import numpy as np
    from ngcodec import Limits, chunk_encoding, raw
    from ngcodec import compressed_segmentation as cseg

    cases = []
    for name, buf, chunk, block, dtype, channels, array in real_chunks():
        for limits in (None, Limits(), Limits(memory_bytes=32 * MiB, seconds=1.0)):
            cases.append((f"{name} {limits}", (lambda b=buf, c=chunk, bl=block, d=dtype,
                                               ch=channels, lim=limits:
                                               cseg.decode(b, c, d, bl, ch, limits=lim)),
                          array, None))
        damaged = mutate(buf, rng)
        cases.append((f"{name} mutated", (lambda b=damaged, c=chunk, bl=block,
                                          d=dtype, ch=channels:
                                          cseg.decode(b, c, d, bl, ch, limits=Limits())),
                      spec_decode(damaged, chunk, block, dtype, channels), "spec"))
        cases.append((f"{name} truncated", (lambda b=buf[:len(buf) // 2], c=chunk, bl=block,
                                            d=dtype, ch=channels:
                                            cseg.decode(b, c, d, bl, ch, limits=Limits())),
                      None, "InvalidFormatError"))
        raw_buf = raw.encode(array)
        cases.append((f"{name} raw", (lambda b=raw_buf, c=chunk, d=dtype, ch=channels:
                                      raw.decode(b, c, d, ch, limits=Limits())), array, None))
    medium = np.tile(fib25(), (2, 2, 2))
    medium_buf = cseg.encode(medium, (8, 8, 8))
    cases.append(("medium, tight time budget", lambda: cseg.decode(
        medium_buf, (128, 128, 128), "uint64", (8, 8, 8), limits=Limits(seconds=0.01)),
        medium[np.newaxis], "either"))
    cases.append(("bomb", lambda: cseg.decode(b"\0" * 8, (1024, 1024, 1024), "uint64",
                                              (8, 8, 8), limits=Limits()),
                  None, "ResourceLimitError"))
    noise = np.random.default_rng(5).integers(0, 1 << 63, size=(64, 64, 64), dtype=np.uint64)
    cases.append(("memory cap on encode", lambda: cseg.encode(
        noise, (8, 8, 8), limits=Limits(memory_bytes=4 * MiB, seconds=None)),
        None, "ResourceLimitError"))
    jpeg = chunk_encoding.get_encoder({"data_type": "uint8", "num_channels": 1},
                                      {"encoding": "jpeg"}, {"limits": Limits()})
    cases.append(("jpeg garbage", lambda: jpeg.decode(b"\xff\xd8\xff" + b"\x00" * 50, (8, 8, 8)),
                  None, "InvalidFormatError"))

    def run_case(name, fn, expected, mode):
        def check(result):
            if mode == "spec":
                if expected is None:
                    return "decoded bytes the spec refuses"
                if isinstance(expected, str):
                    return None
            if expected is None:
                return "should have failed"
            if result.dtype != expected.dtype or not np.array_equal(result, expected):
                return "wrong result (another thread's data?)"
            return None

        if mode in ("InvalidFormatError", "ResourceLimitError"):
            ck.call(name, fn, required=mode, max_seconds=20)
        else:
            outcome, _ = ck.call(name, fn, check=check, max_seconds=20)
            if mode is None and outcome != "ok":
                ck.fail(name, f"a good chunk failed with {outcome}")

    barrier = threading.Barrier(8)

    def worker(seed):
        r = random.Random(seed)
        barrier.wait()
        for _ in range(scale):
            order = list(range(len(cases)))
            r.shuffle(order)
            for index in order:
                run_case(*cases[index])

    threads = [threading.Thread(target=worker, args=(rng.randrange(1 << 30),))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def group_isolation(ck, scale, rng):
    """After every kind of failure, the next call on the thread is correct
    and does not see earlier data (a prefix of the last input is refused)."""
    import numpy as np
    from ngcodec import Limits, raw
    from ngcodec import compressed_segmentation as cseg

    f = fib25()
    buf = cseg.encode(f, (8, 8, 8))
    good = f[np.newaxis]
    big, _ = big_chunk() if scale > 1 else (None, None)
    failures = [
        ("bad bits", lambda lim: cseg.decode(
            (lambda w: (w.__setitem__(7, w[7] | 0xFF000000), w)[1])(
                np.frombuffer(buf, "<u4").copy()).tobytes(),
            (64, 64, 64), "uint64", (8, 8, 8), limits=lim)),
        ("truncated", lambda lim: cseg.decode(buf[:777 * 4], (64, 64, 64), "uint64",
                                              (8, 8, 8), limits=lim)),
        ("bomb", lambda lim: cseg.decode(b"\0" * 8, (4096,) * 3, "uint64", (8, 8, 8),
                                         limits=lim)),
        ("raw size", lambda lim: raw.decode(b"\0" * 9, (2, 2, 2), "uint8", limits=lim)),
        ("time", lambda lim: cseg.decode(
            cseg.encode(np.tile(f, (2, 2, 2)), (8, 8, 8)), (128, 128, 128), "uint64",
            (8, 8, 8), limits=Limits(seconds=0.001))),
        ("memory", lambda lim: cseg.encode(
            np.random.default_rng(1).integers(0, 1 << 62, size=(64, 64, 64), dtype=np.uint64),
            (8, 8, 8), limits=Limits(memory_bytes=4 * MiB + 8192, seconds=None))),
    ]
    if big is not None:
        failures.append(("big time", lambda lim: cseg.decode(
            big, (256, 256, 256), "uint64", (8, 8, 8),
            limits=Limits(memory_bytes=512 * MiB, seconds=0.01))))
    for _ in range(scale):
        for limits in (None, Limits(), Limits(seconds=None)):
            for name, fail in failures:
                ck.call(f"{name} {limits}", lambda: fail(limits))
                ck.call(f"after {name}: fib25", lambda: cseg.decode(
                    buf, (64, 64, 64), "uint64", (8, 8, 8), limits=limits),
                    check=lambda r: None if np.array_equal(r, good) else "wrong after failure")
                for cut in (len(buf) - 4, len(buf) // 2, rng.randrange(len(buf) // 4)):
                    ck.call(f"after {name}: prefix {cut}", lambda: cseg.decode(
                        buf[:cut], (64, 64, 64), "uint64", (8, 8, 8), limits=limits),
                        required="InvalidFormatError")


def group_verify(ck, scale, rng):
    """``ngcodec verify`` on a dataset of bombs and garbage: a report that
    names every damaged file, no unexpected error, bounded memory."""
    import numpy as np
    from ngcodec import Limits, verify
    from ngcodec import compressed_segmentation as cseg

    f = fib25()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        info = {"type": "segmentation", "data_type": "uint64", "num_channels": 1, "scales": [
            {"key": "s", "size": [128, 128, 64], "resolution": [8, 8, 8],
             "chunk_sizes": [[64, 64, 64]], "encoding": "compressed_segmentation",
             "compressed_segmentation_block_size": [8, 8, 8]},
            {"key": "r", "size": [64, 64, 64], "resolution": [16, 16, 16],
             "chunk_sizes": [[32, 32, 32]], "encoding": "raw"}]}
        (root / "info").write_text(json.dumps(info))
        (root / "s").mkdir()
        (root / "r").mkdir()
        good = cseg.encode(f, (8, 8, 8))
        bad = {}
        (root / "s" / "0-64_0-64_0-64").write_bytes(good)
        (root / "s" / "64-128_0-64_0-64.gz").write_bytes(gzip.compress(good))
        bomb = gzip_zeros(64 * MiB)
        (root / "s" / "0-64_64-128_0-64.gz").write_bytes(bomb)
        bad["s/0-64_64-128_0-64.gz"] = "ResourceLimitError"
        w = np.frombuffer(good, "<u4").copy()
        w[1 + 2 * 77] = (int(w[1 + 2 * 77]) & 0xFFFFFF) | 3 << 24  # invalid bits
        (root / "s" / "64-128_64-128_0-64").write_bytes(w.tobytes())
        bad["s/64-128_64-128_0-64"] = "InvalidFormatError"
        for i, (x, y, z) in enumerate([(0, 0, 0), (32, 0, 0), (0, 32, 0), (0, 0, 32)]):
            name = f"{x}-{x + 32}_{y}-{y + 32}_{z}-{z + 32}"
            payload = f[z:z + 32, y:y + 32, x:x + 32].tobytes()
            if i == 1:
                payload = payload[:-8]
                bad[f"r/{name}.gz"] = "InvalidFormatError"
            if i == 2:
                payload = gzip.compress(payload)[:100]
                (root / "r" / f"{name}.gz").write_bytes(payload)
                bad[f"r/{name}.gz"] = "InvalidFormatError"
                continue
            (root / "r" / f"{name}.gz").write_bytes(gzip.compress(payload))
        for _ in range(scale):
            report = ck.call("verify", lambda: verify.verify(
                root, limits=Limits(memory_bytes=16 * MiB, seconds=2.0), jobs=2),
                max_seconds=60)[1]
            if report is None:
                continue
            found = {b["path"]: b["exception"] for b in report.bad_chunks}
            if found != bad:
                ck.fail("verify", f"found {found}, damaged {bad}")
            if report.exit_code != 1:
                ck.fail("verify", f"exit code {report.exit_code}")
    del np


def gzip_zeros(n):
    """A gzip member of *n* zero bytes, made 1 MiB at a time (a bomb that
    costs nothing to build)."""
    import zlib

    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MiB)
    parts = [z.compress(block) for _ in range(n // MiB)]
    parts.append(z.compress(bytes(n % MiB)))
    parts.append(z.flush())
    return b"".join(parts)


# name: (function, RSS growth budget MiB, wall-clock timeout s (quick), note)
GROUPS = {
    "bombs": (group_bombs, 48, 60, "tiny buffers, huge declared sizes; JPEG header bomb"),
    "random": (group_random, 64, 120, "random bytes and word soup, cseg/raw/JPEG"),
    "mutated": (group_mutated, 64, 120, "real chunks with random damage, vs the spec"),
    "truncated": (group_truncated, 64, 120, "real chunks cut short, vs the spec"),
    "geometry": (group_geometry, 96, 120, "real chunks under the wrong geometry, vs the spec"),
    "time": (group_time, 768, 120, "10 ms budget on a 128 MiB legitimate chunk"),
    "threads": (group_threads, 512, 180, "8 threads, errors interleaved"),
    "isolation": (group_isolation, 768, 120, "next call after every failure kind"),
    "verify": (group_verify, 96, 120, "ngcodec verify on bombs and garbage"),
}


# Watchdog self-tests (not run by default): each must make its group fail.
def _selftest_alloc(ck, scale, rng):
    block = bytearray(200 * MiB)  # touched: real RSS
    for i in range(0, len(block), 4096):
        block[i] = 1
    ck.call("touch 200 MiB", lambda: len(block))


def _selftest_hang(ck, scale, rng):
    time.sleep(3600)


def _selftest_crash(ck, scale, rng):
    os.abort()


def _selftest_wrong(ck, scale, rng):
    ck.call("raises ValueError", lambda: int("x"))
    ck.call("wrong result", lambda: 1, check=lambda r: "1 is not 2")


SELFTESTS = {
    "selftest-alloc": (_selftest_alloc, 64, 60, "must fail: LARGE ALLOCATION"),
    "selftest-hang": (_selftest_hang, 64, 3, "must fail: HANG"),
    "selftest-crash": (_selftest_crash, 64, 60, "must fail: CRASH"),
    "selftest-wrong": (_selftest_wrong, 64, 60, "must fail: 2 unexpected outcomes"),
}


def child(group, scale, seed):
    import tracemalloc

    import numpy as np
    import ngcodec
    from ngcodec import Limits
    from ngcodec import compressed_segmentation as cseg

    rng = random.Random(seed)
    # Warm up: compile/load the module, both instance kinds, the epoch ticker.
    f = fib25()
    buf = cseg.encode(f, (8, 8, 8))
    for limits in (None, Limits(), Limits(seconds=None)):
        assert np.array_equal(cseg.decode(buf, (64, 64, 64), "uint64", (8, 8, 8),
                                          limits=limits)[0], f)
    if group in ("time", "isolation") and scale > 1 or group == "time":
        big_chunk()
    if group == "bombs":
        jpeg_header_bomb()
    ck = Checker(group)
    fn = ALL_GROUPS[group][0]
    traced = group == "bombs"
    if traced:
        tracemalloc.start()
    baseline = vm_hwm_mib()
    reset_ok = reset_peak_rss()
    if reset_ok:
        baseline = vm_hwm_mib()
    start = time.perf_counter()
    try:
        fn(ck, scale, rng)
    except BaseException as exc:  # noqa: BLE001 - the scenario itself broke
        ck.fail(f"{group} (scenario)", "".join(traceback.format_exception(exc))[-1500:])
    seconds = time.perf_counter() - start
    peak = vm_hwm_mib()
    extra = {}
    if traced:
        extra["traced_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / MiB, 2)
        tracemalloc.stop()
    result = ck.result(group, seconds, baseline, peak, reset_ok, extra)
    result["wasm_version"] = ".".join(map(str, ngcodec.wasm_version()))
    sys.stdout.write(RESULT_TAG + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


ALL_GROUPS = dict(GROUPS, **SELFTESTS)


# =============================================================================
# The parent: one subprocess per group, watchdogs, summary
# =============================================================================

def run_group(group, scale, seed, timeout):
    budget = ALL_GROUPS[group][1]
    cmd = [sys.executable, "-m", "tests.fuzz.adversarial", "--child", group, "--scale",
           str(scale), "--seed", str(seed)]
    env = dict(os.environ)
    # A fixed mmap threshold: glibc's dynamic one keeps freed NumPy buffers
    # in the heap, and the heap's high-water mark would then grow with the
    # number of calls (fragmentation, not allocation).
    env.setdefault("MALLOC_MMAP_THRESHOLD_", "131072")
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=REPO)
    except subprocess.TimeoutExpired as exc:
        return dict(group=group, problems=[f"HANG: no result after {timeout} s"],
                    stderr=(exc.stderr or b"")[-2000:] if isinstance(exc.stderr, bytes)
                    else (exc.stderr or "")[-2000:], seconds=time.perf_counter() - start)
    problems = []
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            result = json.loads(line[len(RESULT_TAG):])
    if proc.returncode < 0:
        problems.append(f"CRASH: killed by signal {-proc.returncode}")
    elif proc.returncode != 0:
        problems.append(f"CRASH: exit status {proc.returncode}")
    if result is None:
        problems.append("no result from the child")
        return dict(group=group, problems=problems, stderr=proc.stderr[-3000:],
                    seconds=time.perf_counter() - start)
    if result["unexpected_count"]:
        problems.append(f"{result['unexpected_count']} unexpected outcome(s)")
    if result["rss_growth_mib"] > budget:
        problems.append(f"LARGE ALLOCATION: peak RSS grew {result['rss_growth_mib']} MiB "
                        f"(budget {budget} MiB)")
    if result.get("traced_peak_mib", 0) > 16:
        problems.append(f"LARGE ALLOCATION: {result['traced_peak_mib']} MiB of Python/NumPy "
                        "allocations while refusing bombs")
    result["problems"] = problems
    result["budget_mib"] = budget
    result["stderr"] = proc.stderr[-3000:] if problems else ""
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Adversarial check of ngcodec's sandbox (see the module docstring).")
    parser.add_argument("--quick", action="store_true",
                        help="small iteration counts (seconds; what the test suite runs)")
    parser.add_argument("--scale", type=int, default=None,
                        help="iteration multiplier (default: 1 with --quick, 10 otherwise)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--groups", default=",".join(GROUPS),
                        help=f"comma-separated groups (default: all: {','.join(GROUPS)}; "
                             f"the watchdogs' own checks, which must fail: "
                             f"{','.join(SELFTESTS)})")
    parser.add_argument("--timeout-factor", type=float, default=1.0,
                        help="multiplies each group's wall-clock timeout")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    scale = args.scale or (1 if args.quick else 10)
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    if args.child:
        return child(args.child, scale, seed)

    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    unknown = [g for g in groups if g not in ALL_GROUPS]
    if unknown:
        parser.error(f"unknown group(s): {', '.join(unknown)}")
    print(f"ngcodec adversarial check: {len(groups)} group(s), scale {scale}, seed {seed}")
    header = (f"{'group':<10} {'calls':>6} {'ok':>6} {'invalid':>7} {'limit':>6} "
              f"{'unexp.':>6} {'RSS growth/budget':>18} {'max wasm mem':>12} "
              f"{'max call':>9} {'time':>7}")
    print(header)
    results = []
    failed = False
    for group in groups:
        timeout = ALL_GROUPS[group][2] * max(1.0, scale / 2) * args.timeout_factor
        r = run_group(group, scale, seed, timeout)
        results.append(r)
        if "calls" in r:
            o = r["outcomes"]
            print(f"{group:<10} {r['calls']:>6} {o.get('ok', 0):>6} "
                  f"{o.get('InvalidFormatError', 0):>7} {o.get('ResourceLimitError', 0):>6} "
                  f"{r['unexpected_count']:>6} "
                  f"{r['rss_growth_mib']:>8.1f}/{r['budget_mib']:<5} MiB "
                  f"{r['max_linear_mib']:>8.1f} MiB {r['max_call_seconds']:>8.3f}s "
                  f"{r['seconds']:>6.1f}s")
        else:
            print(f"{group:<10} {'-':>6}")
        if r["problems"]:
            failed = True
            print(f"  FAIL {group}: " + "; ".join(r["problems"]))
            for text in r.get("unexpected", [])[:10]:
                print("    " + text.replace("\n", "\n    "))
            if r.get("stderr"):
                print("    stderr: " + r["stderr"].strip().replace("\n", "\n    "))
        elif r.get("unchecked"):
            print(f"  ({r['unchecked']} decodes too large for the spec reader: "
                  "outcome class checked only)")
    total = sum(r.get("calls", 0) for r in results)
    outcomes = {}
    for r in results:
        for k, v in r.get("outcomes", {}).items():
            outcomes[k] = outcomes.get(k, 0) + v
    print(f"total: {total} calls: {outcomes.get('ok', 0)} correct results, "
          f"{outcomes.get('InvalidFormatError', 0)} InvalidFormatError, "
          f"{outcomes.get('ResourceLimitError', 0)} ResourceLimitError, "
          f"{outcomes.get('other', 0)} other exceptions")
    if not all(r.get("peak_reset", True) for r in results):
        print("note: /proc/self/clear_refs was not writable: RSS growth includes set-up")
    print("FAIL" if failed else "PASS: only correct results, InvalidFormatError or "
          "ResourceLimitError; no crash, no hang, no large allocation")
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
