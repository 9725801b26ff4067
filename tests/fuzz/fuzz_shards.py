"""Differential fuzzing of the shard reader (``ngcodec.precomputed.sharded``).

Valid ``neuroglancer_uint64_sharded_v1`` shard files are written at the
start, by tensorstore's ``neuroglancer_uint64_sharded`` kvstore and by
ngcodec's ShardedStore, for a spread of specs (identity and murmurhash,
0-3 minishard bits, preshift 0-2, raw or gzip minishard indices and data,
empty chunks). Each case takes one and applies 1-4 mutations: bit flips,
truncation, splices (from the file itself or another seed, overwriting or
inserting), random words written into the shard index or a raw minishard
index (0, ±1, the file size, 2**63, 2**64-1, ...), gzip garbage (a gzip
stream's bytes flipped, replaced, cut, swapped for a zlib stream or a gzip
bomb), appended bytes. Then ``check_shard``, ``iter_shard``, ``get`` of
every id involved and ``get_many`` of them all run on a fresh ShardedStore
with ``Limits(memory_bytes=4 MiB)``, and must:

- return or raise InvalidFormatError / ResourceLimitError only (any other
  exception is a failure), each call within ``--case-seconds`` (a SIGALRM
  interrupts a hang) and allocating (tracemalloc peak) at most
  ``MEMORY_CAP``;
- agree with tensorstore's kvstore (a fresh context, no cache) where both
  give an answer: the same bytes, or both "absent". ngcodec is stricter
  (duplicate ids, overlaps, ids in the wrong minishard) and more lenient in
  one way (zlib where gzip is declared), so an answer from one side only is
  allowed when ``check_shard`` reports a problem with the shard; with a
  clean ``check_shard`` both must answer and agree;
- agree with themselves: ``get_many`` is the union of ``get``, and
  ``iter_shard`` yields what ``get`` returns.

Usage, from the repository root::

    python -m tests.fuzz.fuzz_shards [--seconds 60] [--seed 1] [--save DIR]
    python -m tests.fuzz.fuzz_shards --seed 23 --case 4711   # rerun one case

Prints a one-screen summary; exits 1 on any failure. Failing shard files
are saved with a .json (spec, shard, ids, problem).
"""

import gzip
import json
import signal
import struct
import sys
import tempfile
import time
import tracemalloc
import traceback
import zlib
from pathlib import Path

import numpy as np

from ngcodec import InvalidFormatError, Limits, ResourceLimitError
from ngcodec.precomputed.sharded import ShardedStore
from ngcodec.precomputed.storage import LocalStorage
from tests import common
from tests.fuzz import campaign

try:
    import tensorstore as ts
except ImportError:  # the fuzzer still checks "no crash, no hang, no blow-up"
    ts = None

U64 = (1 << 64) - 1
KEY = "s"
LIMITS = Limits(memory_bytes=4 << 20, seconds=None)
MEMORY_CAP = 24 << 20  # tracemalloc peak of one call: a few times the limit, never a bomb's size
EXPECTED = (InvalidFormatError, ResourceLimitError)
MUTATIONS = ("bitflip", "truncate", "splice", "insert", "index_word", "gzip_garbage", "append")


class CaseTimeout(BaseException):
    """Raised by the SIGALRM handler in a call that overran its bound (a
    BaseException, so the code under test cannot swallow it)."""


def _alarm(signum, frame):
    raise CaseTimeout()


# ---------------------------------------------------------------- seeds

def seed_specs():
    out = []
    for h in ("identity", "murmurhash3_x86_128"):
        for m, s, p in ((0, 0, 0), (1, 1, 0), (2, 1, 1), (3, 2, 2), (2, 0, 0)):
            for enc in (("raw", "raw"), ("gzip", "gzip"), ("gzip", "raw"), ("raw", "gzip")):
                out.append({"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": p,
                            "hash": h, "minishard_bits": m, "shard_bits": s,
                            "minishard_index_encoding": enc[0], "data_encoding": enc[1]})
    return out


def make_seeds(seed, workdir):
    """``[(spec, shard, bytes, {id: data})]``: the fullest shard of each
    spec, written by tensorstore (when installed) and by ngcodec."""
    rng = np.random.default_rng([seed, 1 << 30])
    seeds = []
    for i, sp in enumerate(seed_specs()):
        n = int(rng.integers(1, 40))
        ids = sorted({int(v) for v in rng.integers(0, 300, n)} |
                     ({int(rng.integers(0, U64, dtype=np.uint64))} if i % 5 == 0 else set()))
        chunks = {c: bytes(rng.integers(0, 256 if rng.random() < 0.5 else 3,
                                        int(rng.choice([0, 1, 5, 40, 300])), np.uint8))
                  for c in ids}
        for writer in (("tensorstore", "ngcodec") if ts is not None else ("ngcodec",)):
            root = Path(workdir) / f"seed{i}_{writer}"
            common.write_sharded(root, KEY, sp, chunks, writer)
            store = ShardedStore(LocalStorage(root), KEY, sp)
            shards = store.list_shards()
            best = max(shards, key=lambda s: len(store.shard_entries(s)))
            data = (root / KEY / store.shard_name(best)).read_bytes()
            mine = {c: v for c, v in chunks.items() if store.shard_of(c)[0] == best}
            seeds.append((sp, best, data, mine))
    return seeds


# ---------------------------------------------------------------- structure and mutations

def structure(data, sp):
    """Best-effort map of a *valid* shard file, from the spec: ``(kind,
    start, end)`` of the shard index words, raw minishard index words and
    gzip streams (minishard indices and chunk data)."""
    n = 1 << sp["minishard_bits"]
    base = 16 * n
    parts = [("index", 0, base)]
    for m in range(n):
        start, end = struct.unpack_from("<QQ", data, 16 * m)
        if start == end:
            continue
        raw = data[base + start:base + end]
        if sp["minishard_index_encoding"] == "gzip":
            parts.append(("gzip", base + start, base + end))
            raw = gzip.decompress(raw)
        else:
            parts.append(("minishard", base + start, base + end))
        k = len(raw) // 24
        w = struct.unpack(f"<{3 * k}Q", raw)
        pos = base
        for i in range(k):
            pos += w[k + i]
            if sp["data_encoding"] == "gzip" and w[2 * k + i]:
                parts.append(("gzip", pos, pos + w[2 * k + i]))
            pos += w[2 * k + i]
    return parts


def interesting_word(rng, size, old):
    r = int(rng.integers(0, 12))
    return [0, 1, size, size - 1, size + 1, 1 << 63, U64, U64 - int(rng.integers(0, 64)),
            old + int(rng.integers(-30, 31)), old ^ (1 << int(rng.integers(0, 64))),
            int(rng.integers(0, max(size, 1) * 2)),
            int(rng.integers(0, U64, dtype=np.uint64))][r] & U64


def bomb(rng):
    n = int(rng.choice([5, 16, 64])) << 20
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join(c.compress(bytes(1 << 20)) for _ in range(n >> 20)) + c.flush()


_BOMBS = {}


def mutate(rng, data, sp, parts, others):
    """*data* with one mutation; returns ``(bytes, kind)``."""
    d = bytearray(data)
    kind = MUTATIONS[int(rng.integers(0, len(MUTATIONS)))]
    gz = [p for p in parts if p[0] == "gzip"]
    if kind == "gzip_garbage" and not gz:
        kind = "index_word"
    if kind == "bitflip" and d:
        for _ in range(1 if rng.random() < 0.5 else int(rng.integers(2, 9))):
            i = int(rng.integers(0, len(d)))
            d[i] ^= 1 << int(rng.integers(0, 8))
    elif kind == "truncate":
        cuts = [e for p in parts for e in (p[1], p[2])] + [int(rng.integers(0, len(d) + 1))]
        d = d[:max(0, int(rng.choice(cuts)) + int(rng.integers(-3, 4)))]
    elif kind in ("splice", "insert"):
        src = data if rng.random() < 0.5 or not others else \
            others[int(rng.integers(0, len(others)))]
        a = int(rng.integers(0, len(src) + 1))
        piece = src[a:a + int(rng.integers(1, 64))]
        at = int(rng.integers(0, len(d) + 1))
        if kind == "splice":
            d[at:at + len(piece)] = piece
        else:
            d[at:at] = piece
    elif kind == "index_word":
        words = [p for p in parts if p[0] in ("index", "minishard")]
        _, s, e = words[int(rng.integers(0, len(words)))]
        if e - s >= 8:
            i = s + 8 * int(rng.integers(0, (e - s) // 8))
            if i + 8 <= len(d):
                old = int.from_bytes(d[i:i + 8], "little")
                d[i:i + 8] = interesting_word(rng, len(d), old).to_bytes(8, "little")
    elif kind == "gzip_garbage":
        _, s, e = gz[int(rng.integers(0, len(gz)))]
        how = int(rng.integers(0, 5))
        if how == 0:  # flip bytes inside the deflate stream or its trailer
            for _ in range(int(rng.integers(1, 4))):
                i = int(rng.integers(s, e))
                d[i] ^= int(rng.integers(1, 256))
        elif how == 1:  # random bytes in place
            d[s:e] = rng.integers(0, 256, e - s, np.uint8).tobytes()
        elif how == 2:  # cut the stream: the rest of the file moves up
            del d[s + int(rng.integers(0, e - s)):e]
        elif how == 3:  # the same data as a zlib stream (neuroglancer-scripts), planted at the end
            try:
                z = zlib.compress(gzip.decompress(bytes(d[s:e])))
            except Exception:  # noqa: BLE001 - overlapped by an earlier mutation
                return bytes(d), "skipped"
            at = len(d)
            d += z
            return _repoint(d, sp, s, e, at, len(z)), "gzip_to_zlib"
        else:  # a bomb at the end of the file, this stream's range pointed at it
            key = int(rng.integers(0, 3))
            if key not in _BOMBS:
                _BOMBS[key] = bomb(np.random.default_rng(key))
            at = len(d)
            d += _BOMBS[key]
            return _repoint(d, sp, s, e, at, len(_BOMBS[key])), "gzip_bomb"
    else:  # append
        d += rng.integers(0, 256, int(rng.integers(1, 100)), np.uint8).tobytes()
    return bytes(d), kind


def _repoint(d, sp, s, e, at, size):
    """Points whatever named the range [s, e) (a shard index entry, or a raw
    minishard index entry) at [at, at + size) instead."""
    n = 1 << sp["minishard_bits"]
    base = 16 * n
    for m in range(n):
        start, end = struct.unpack_from("<QQ", d, 16 * m)
        if (base + start, base + end) == (s, e):
            struct.pack_into("<QQ", d, 16 * m, at - base, at - base + size)
            return bytes(d)
        if sp["minishard_index_encoding"] != "raw" or start == end or base + end > len(d):
            continue
        raw = bytearray(d[base + start:base + end])
        k = len(raw) // 24
        if k * 24 != len(raw):
            continue
        w = list(struct.unpack(f"<{3 * k}Q", raw))
        pos = base
        for i in range(k):
            pos += w[k + i]
            if (pos, pos + w[2 * k + i]) == (s, e):
                # Only the last chunk of a minishard can move without moving the others.
                if i == k - 1:
                    w[k + i] = (w[k + i] + at - s) & U64
                    w[2 * k + i] = size
                    d[base + start:base + end] = struct.pack(f"<{3 * k}Q", *w)
                return bytes(d)
            pos += w[2 * k + i]
    return bytes(d)


# ---------------------------------------------------------------- one case

def ts_reads(root, sp, ids):
    """``{id: ("value", bytes) | ("absent",) | ("error", text)}`` by tensorstore."""
    out = {}
    try:
        kv = ts.KvStore.open({"driver": "neuroglancer_uint64_sharded",
                              "base": f"file://{root}/{KEY}/", "metadata": sp},
                             context=ts.Context()).result()
    except Exception as e:  # noqa: BLE001 - the peer's refusals take many forms
        return {c: ("error", str(e)[:200]) for c in ids}
    futures = {c: kv.read(struct.pack(">Q", c)) for c in ids}
    for c, f in futures.items():
        try:
            r = f.result()
            out[c] = ("value", bytes(r.value)) if r.state == "value" else ("absent",)
        except Exception as e:  # noqa: BLE001
            out[c] = ("error", str(e)[:200])
    return out


class Campaign(campaign.Campaign):
    """Runs cases, counts what they did and saves what failed. *make_store*
    builds the store under test (the tests pass a broken one)."""

    def __init__(self, seed, save_dir=None, case_seconds=5.0, make_store=None, peer=True):
        super().__init__(seed, save_dir)
        self.case_seconds = case_seconds
        self.make_store = make_store or (lambda root, sp: ShardedStore(
            LocalStorage(root), KEY, sp, limits=LIMITS))
        self.peer = peer and ts is not None
        self._tmp = tempfile.TemporaryDirectory(prefix="fuzz_shards_")
        self.work = Path(self._tmp.name)
        self.seeds = make_seeds(seed, self.work / "seeds")
        self.parts = [structure(d, sp) for sp, _, d, _ in self.seeds]

    def call(self, name, fn):
        """``("ok", result) | ("refused", message)``; anything else (another
        exception, a hang, a large allocation) is recorded as a problem and
        returned as ``("fail", text)``."""
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        signal.setitimer(signal.ITIMER_REAL, self.case_seconds)
        t0 = time.monotonic()
        try:
            out = ("ok", fn())
        except EXPECTED as e:
            out = ("refused", f"{type(e).__name__}: {e}")
        except CaseTimeout:
            out = ("fail", f"{name}: no result within {self.case_seconds} s (hang)")
        except Exception as e:  # noqa: BLE001 - the point of the fuzzer
            out = ("fail", f"{name}: unexpected {type(e).__name__}: {e}\n"
                           + traceback.format_exc(limit=-3))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        dt = time.monotonic() - t0
        self.counts["slowest call ms"] = max(self.counts["slowest call ms"], int(dt * 1000))
        peak = tracemalloc.get_traced_memory()[1] - base
        self.counts["largest allocation KiB"] = max(self.counts["largest allocation KiB"],
                                                    peak >> 10)
        if out[0] != "fail" and peak > MEMORY_CAP:
            out = ("fail", f"{name}: allocated {peak} bytes (cap {MEMORY_CAP})")
        self.counts[f"{name} {out[0]}"] += 1
        return out

    def run_case(self, rng):
        i = int(rng.integers(0, len(self.seeds)))
        sp, shard, data, chunks = self.seeds[i]
        others = [s[2] for s in self.seeds]
        kinds = []
        # Mostly one mutation: lightly damaged shards are where the readers
        # can disagree; several at once reach states one cannot.
        for _ in range(1 if rng.random() < 0.6 else int(rng.integers(2, 5))):
            try:
                data, kind = mutate(rng, data, sp, self.parts[i], others)
            except Exception:  # noqa: BLE001 - structure moved under an earlier mutation
                kind = "skipped"
            kinds.append(kind)
        self.counts.update("mutation " + k for k in kinds)
        root = self.work / f"case{self.case % 4}"
        store0 = ShardedStore(LocalStorage(root), KEY, sp)
        path = root / KEY / store0.shard_name(shard)
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.iterdir():
            old.unlink()
        path.write_bytes(data)
        problems = []
        store = self.make_store(root, sp)

        check = self.call("check_shard", lambda: store.check_shard(shard))
        found = list(check[1].chunk_ids) if check[0] == "ok" else []
        sound = check[0] == "ok" and not check[1]
        self.counts["shards sound" if sound else "shards damaged"] += 1
        it = self.call("iter_shard", lambda: list(store.iter_shard(shard)))
        ids = sorted(set(chunks) | set(found[:200]) | {int(v) for v in rng.integers(0, 300, 3)})
        ids = [c for c in ids if store0.shard_of(c)[0] == shard]
        gets = {c: self.call("get", lambda c=c: store.get(c)) for c in ids}
        many = self.call("get_many", lambda: store.get_many(ids))
        for r in [check, it, many, *gets.values()]:
            if r[0] == "fail":
                problems.append(r[1])

        # Self-consistency.
        ok_gets = {c: r[1] for c, r in gets.items() if r[0] == "ok"}
        if len(ok_gets) == len(gets) and many[0] == "refused":
            problems.append(f"get_many refused ({many[1]}) but every get answered")
        if many[0] == "ok":
            if len(ok_gets) < len(gets):
                problems.append("get_many answered but some get refused")
            elif many[1] != {c: v for c, v in ok_gets.items() if v is not None}:
                problems.append("get_many differs from get")
        if it[0] == "ok":
            for c, v in it[1]:
                if c in ok_gets and ok_gets[c] != v:
                    problems.append(f"iter_shard and get differ for chunk {c}")
            if sound and sorted(c for c, _ in it[1]) != sorted(found):
                problems.append("iter_shard's ids differ from check_shard's")
        if sound:
            if it[0] != "ok":
                problems.append(f"check_shard found nothing but iter_shard refused: {it[1]}")
            for c, r in gets.items():
                if r[0] != "ok":
                    problems.append(f"check_shard found nothing but get({c}) refused: {r[1]}")

        # The peer.
        if self.peer:
            theirs = ts_reads(root, sp, ids)
            for c in ids:
                mine, peer = gets[c], theirs[c]
                if mine[0] == "fail":
                    continue
                m = ("absent",) if mine == ("ok", None) else \
                    ("value", mine[1]) if mine[0] == "ok" else ("error",)
                if m[0] != "error" and peer[0] != "error":
                    if m != peer:
                        self.counts["peer DISAGREES"] += 1
                        problems.append(f"chunk {c}: ngcodec {m[0]}, tensorstore {peer[0]}"
                                        + (" (different bytes)" if m[0] == peer[0] else ""))
                    else:
                        self.counts["peer agrees"] += 1
                elif m[0] == peer[0]:
                    self.counts["peer both refuse"] += 1
                else:
                    who = "ngcodec only" if peer[0] == "error" else "tensorstore only"
                    self.counts[f"peer answer from {who}"] += 1
                    if sound:
                        problems.append(f"chunk {c}: {who} answers on a shard check_shard "
                                        f"finds sound (tensorstore: {peer[-1]})")
        if problems:
            self.fail(problems, sp, shard, data, ids, kinds)

    def fail(self, problems, sp, shard, data, ids, kinds):
        if self.save_dir is None:
            self.save_dir = Path(tempfile.mkdtemp(prefix="fuzz_shards_fail_"))
        stem = Path(self.save_dir) / f"shard_seed{self.seed}_case{self.case}"
        stem.parent.mkdir(parents=True, exist_ok=True)
        stem.with_suffix(".shard").write_bytes(data)
        stem.with_suffix(".json").write_text(json.dumps(
            dict(seed=self.seed, case=self.case, sharding=sp, shard=shard, ids=ids,
                 mutations=kinds, problems=problems), indent=1) + "\n")
        self.failures.append(f"{stem.name}: {problems[0][:300]}")

    def run(self, seconds, only_case=None):
        """The shared case loop, under the per-call alarm and tracemalloc
        (the largest allocation is part of the summary)."""
        old = signal.signal(signal.SIGALRM, _alarm)
        tracemalloc.start()
        try:
            return super().run(seconds, only_case)
        finally:
            tracemalloc.stop()
            signal.signal(signal.SIGALRM, old)

    def summary_lines(self, seconds):
        c = self.counts
        calls = sum(v for k, v in c.items() if k.split(" ")[-1] in ("ok", "refused", "fail"))
        lines = [f"fuzz_shards seed {self.seed}: {seconds:.1f} s, {c['cases']} cases, "
                 f"{calls} calls ({len(self.seeds)} seed shards"
                 f"{', tensorstore as peer' if self.peer else ', no peer'})",
                 f"shards: {c['shards sound']} sound, {c['shards damaged']} damaged "
                 "(by check_shard)"]
        for prefix in ("mutation ",):
            items = sorted((k[len(prefix):], v) for k, v in c.items() if k.startswith(prefix))
            lines.append(prefix.strip() + ": " + ", ".join(f"{k} {v}" for k, v in items))
        for name in ("check_shard", "iter_shard", "get", "get_many"):
            lines.append(f"{name}: ok {c[name + ' ok']}, refused {c[name + ' refused']}, "
                         f"fail {c[name + ' fail']}")
        peer = sorted((k[5:], v) for k, v in c.items() if k.startswith("peer "))
        lines.append("tensorstore: " + (", ".join(f"{k} {v}" for k, v in peer) or "-"))
        lines.append(f"slowest call {c['slowest call ms']} ms, largest allocation "
                     f"{c['largest allocation KiB']} KiB (cap {MEMORY_CAP >> 10} KiB)")
        lines.append(f"failures: {len(self.failures) - c['harness exceptions']}, "
                     f"harness exceptions: {c['harness exceptions']}")
        return lines


def main(argv=None):
    return campaign.main(
        lambda a: Campaign(a.seed, a.save, a.case_seconds, peer=not a.no_peer), argv, __doc__,
        "where to write failing shards",
        extra=[(("--case-seconds",), dict(type=float, default=5.0,
                                          help="time bound of one call (5)")),
               (("--no-peer",), dict(action="store_true",
                                     help="do not compare with tensorstore"))])


if __name__ == "__main__":
    sys.exit(main())
