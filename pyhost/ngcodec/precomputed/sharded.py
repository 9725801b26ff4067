"""The sharded layout: a key-value store keyed by uint64 chunk id, over a
:class:`~ngcodec.precomputed.storage.Storage` (as tensorstore's
``neuroglancer_uint64_sharded`` kvstore sits over another kvstore).

>>> store = ShardedStore(storage, "8_8_8", info["scales"][0]["sharding"])
>>> store.get(chunk_id((3, 1, 0), grid_shape))    # bytes (data_encoding undone), or None
>>> store.get_many(ids)                           # {id: bytes}: each index read once
>>> store.write_shards({cid: data, ...})          # whole shards, atomically

The byte format and its checks are in :mod:`.shard_format`. Shard files are
``{key}/{name}.shard``. Reading follows Neuroglancer: the 16-byte shard index
entry of the chunk's minishard, that minishard's index (cached, bounded LRU),
then the chunk's bytes. The size of each shard file is read once (and cached
with its minishard indices) and every range is checked against it before
anything is read; gzip is inflated under a cap (``limits.memory_bytes`` when
limits are given, else 4 GiB); a shard index, minishard index or chunk whose
stored size exceeds ``limits.memory_bytes`` raises
:class:`~ngcodec.ResourceLimitError` before it is read, and no coalesced
read is larger. A minishard index whose ids do not hash to its shard and
minishard, or whose chunk data overlaps the index itself, is damaged
(InvalidFormatError); :meth:`ShardedStore.shard_entries` and
:meth:`ShardedStore.iter_shard`, which see the whole shard, also refuse any
two overlapping ranges. Where gzip is declared, a zlib stream is read (as
the readers of neuroglancer-scripts' output do) but
:meth:`ShardedStore.check_shard` reports it, since Neuroglancer and
tensorstore refuse it.

The cache assumes no other process rewrites the shards while the store is
open (as Neuroglancer and tensorstore's caches do between revalidations);
:meth:`ShardedStore.clear_cache` forgets everything, and this store's own
writes forget the shards they replace.

Writing: :meth:`ShardedStore.write_shards` groups chunks by shard and writes
each shard file once (a new file, then rename: a crash leaves it old or
new). A shard that already holds chunks not in the call is read, merged and
rewritten; a damaged shard is not merged into (InvalidFormatError) unless
``replace=True`` says the call owns the whole shard. Writes of one store are
serialised per shard; parallel writers in other threads, processes or Dask
tasks must own whole shards: :func:`shard_boxes` and :func:`group_by_shard`
give them the work units.

Parallel writers and boxes: with the ``identity`` hash, the chunks whose
ids share all bits above ``preshift_bits + minishard_bits`` form an aligned
box of the chunk grid (the compressed Morton code's low bits are the low
bits of each axis) and all land in one shard; with ``murmurhash3_x86_128``
only the ids sharing the bits above ``preshift_bits`` do. :func:`shard_boxes`
lists, for every shard, those boxes (in voxels): the union of a shard's
boxes is exactly its chunks, so a task that writes all of one shard's boxes
owns the shard. With sharding from :func:`propose_sharding` (identity,
``preshift + minishard + shard bits`` = the Morton code's length) every
shard is exactly one box. With murmurhash a shard is scattered over many
small boxes (single chunks when ``preshift_bits`` is 0): writers should
rather group the chunk ids they have with :func:`group_by_shard`.
"""

import math
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from ..errors import (InvalidFormatError, InvalidInfoError, InvalidParameterError,
                      NgcodecError, ResourceLimitError)
from ..limits import resolve as _resolve_limits
from .shard_format import (  # noqa: F401  (re-exported)
    ENCODINGS, HASHES, SHARDING_TYPE, MinishardIndex, ShardingSpec, chunk_id, chunk_ids,
    chunk_position, decode_minishard_index, decode_shard_index, decode_shard_index_entry,
    encode_shard, grid_shape_of, morton_bits, murmurhash3_low64_array,
    murmurhash3_x86_128, murmurhash3_x86_128_low64)
from .storage import gzip_bytes, inflate, is_gzip

__all__ = [
    "ShardedStore", "ShardingSpec", "ShardProblem", "ShardCheck", "SHARDING_TYPE",
    "chunk_id", "chunk_ids", "chunk_position", "murmurhash3_x86_128_low64",
    "propose_sharding", "shard_cell", "shard_boxes", "group_by_shard", "scale_geometry",
]

DEFAULT_MAX_BYTES = (1 << 32) - 1  # without limits: nothing past wasm32's 4 GiB
COALESCE_GAP = 64 << 10  # read neighbouring chunks in one request across gaps this small
MAX_READ = 64 << 20  # one coalesced read at most this large
ENTRY_OVERHEAD = 256  # bytes charged per cache entry beside its arrays (dict, tuple, objects)
MAX_CACHED_SHARDS = 1 << 16  # shard sizes remembered (absent shards too)


class ShardProblem(NamedTuple):
    """One problem found by :meth:`ShardedStore.check_shard`. *minishard* and
    *chunk_id* are None when the problem is not theirs; *error* names the
    exception class a read would raise (``"InvalidFormatError"`` or
    ``"ResourceLimitError"``)."""
    file: str
    minishard: object
    chunk_id: object
    message: str
    error: str = "InvalidFormatError"

    def __str__(self):
        where = self.file
        if self.minishard is not None:
            where += f": minishard {self.minishard}"
        if self.chunk_id is not None:
            where += f": chunk {self.chunk_id}"
        return f"{where}: {self.message}"


class ShardCheck(list):
    """The problems of one shard (a list of :class:`ShardProblem`), with
    ``chunk_ids`` (every chunk found in the shard's minishard indices) and
    ``bad_chunk_ids`` (those with a problem)."""

    def __init__(self, shard, file):
        super().__init__()
        self.shard = shard
        self.file = file
        self.chunk_ids = []
        self.bad_chunk_ids = set()

    def add(self, message, minishard=None, cid=None, error="InvalidFormatError"):
        self.append(ShardProblem(self.file, minishard, cid, message, error))
        if cid is not None:
            self.bad_chunk_ids.add(cid)


class _Shard:
    """What the cache knows about one shard file."""
    __slots__ = ("size", "index")

    def __init__(self, size):
        self.size = size
        self.index = None  # the whole decoded shard index, once read (counted in the budget)


class ShardedStore:
    """Chunks of one sharded scale, keyed by chunk id (see the module's
    documentation).

    :param storage: a :class:`~ngcodec.precomputed.storage.Storage`
    :param key: the scale's key; shards live at ``{key}/{name}.shard``
    :param sharding: the scale's ``"sharding"`` dict (or a ShardingSpec)
    :param limits: :class:`~ngcodec.Limits` for untrusted data (None: the
        package default; the inflate cap is its ``memory_bytes``)
    :param cache_bytes: budget of the index cache: decoded minishard
        indices (24 bytes per chunk entry) and whole shard indices (16 bytes
        per minishard), each entry charged a little more for its overhead;
        least recently used entries go first
    """

    def __init__(self, storage, key, sharding, limits=None, cache_bytes=64 << 20):
        self.storage = storage
        self.key = key.strip("/") if isinstance(key, str) else key
        self.spec = ShardingSpec.from_json(sharding)
        self.sharding = self.spec.to_json()
        self.limits = limits
        self.cache_bytes = cache_bytes
        self._lock = threading.Lock()
        self._shards = OrderedDict()  # shard -> _Shard, or None for a missing file
        self._minishards = OrderedDict()  # (shard, minishard) -> MinishardIndex
        self._cached_bytes = 0
        self._write_locks = {}

    def __repr__(self):
        return f"ShardedStore({self.storage!r}, {self.key!r}, {self.sharding!r})"

    # ------------------------------------------------------------ names

    def shard_of(self, cid):
        """``(shard_number, minishard_number)`` of chunk id *cid*."""
        return self.spec.locate(cid)

    def shard_name(self, shard):
        """The file name of shard *shard*, e.g. ``"03f.shard"``."""
        return self.spec.shard_name(shard)

    def shard_key(self, shard):
        name = self.spec.shard_name(shard)
        return f"{self.key}/{name}" if self.key else name

    def describe(self, shard):
        """The shard file's name for messages."""
        k = self.shard_key(shard)
        d = getattr(self.storage, "describe", None)
        return d(k) if d else k

    def list_shards(self):
        """The numbers of the shard files that exist, increasing."""
        prefix = f"{self.key}/" if self.key else ""
        out = []
        for k in self.storage.list(prefix):
            rest = k[len(prefix):]
            if "/" in rest:
                continue
            s = self.spec.parse_shard_name(rest)
            if s is not None:
                out.append(s)
        return sorted(out)

    def clear_cache(self):
        with self._lock:
            self._shards.clear()
            self._minishards.clear()
            self._cached_bytes = 0

    # ------------------------------------------------------------ limits

    def _cap(self):
        """``(bytes, over)``: the most bytes one read or inflate may produce,
        and what inflating past it raises (``over`` for
        :func:`~.storage.inflate`): the caller's memory limit is a
        ResourceLimitError; without one, the 4 GiB default is the format's
        bound (InvalidFormatError)."""
        limits = _resolve_limits(self.limits)
        if limits is not None and limits.memory_bytes is not None:
            return limits.memory_bytes, ResourceLimitError
        return DEFAULT_MAX_BYTES, None

    def _max_bytes(self):
        return self._cap()[0]

    def _check_size(self, size, what):
        cap, over = self._cap()
        if over is not None and size > cap:
            raise over(f"{what}: {size} stored bytes exceed the memory limit of {cap} bytes")

    # ------------------------------------------------------------ reading

    def _shard(self, shard):
        with self._lock:
            if shard in self._shards:
                self._shards.move_to_end(shard)
                return self._shards[shard]
        size = self.storage.size(self.shard_key(shard))
        info = None
        if size is not None:
            if size < self.spec.shard_index_bytes:
                raise InvalidFormatError(
                    f"{self.describe(shard)}: the shard file is {size} bytes, shorter than its "
                    f"{self.spec.shard_index_bytes}-byte shard index (truncated?)")
            info = _Shard(size)
        with self._lock:
            info = self._shards.setdefault(shard, info)
            while len(self._shards) > MAX_CACHED_SHARDS:
                _, old = self._shards.popitem(last=False)
                if old is not None and old.index is not None:
                    self._cached_bytes -= old.index.nbytes + ENTRY_OVERHEAD
            return info

    def _read(self, shard, start, length, what):
        """Exactly *length* bytes at *start* of the shard (already checked
        against the cached size); a shorter read means the file changed."""
        data = self.storage.read_range(self.shard_key(shard), start, length)
        if data is None or len(data) != length:
            got = "none" if data is None else len(data)
            raise InvalidFormatError(f"{what}: read {got} of {length} bytes at offset {start} "
                                     "(the shard file is shorter than when it was opened?)")
        return data

    def _minishard(self, shard, minishard, info):
        k = (shard, minishard)
        with self._lock:
            mi = self._minishards.get(k)
            if mi is not None:
                self._minishards.move_to_end(k)
                return mi
        what = self.describe(shard)
        index = info.index
        if index is not None:
            start, end = (int(v) for v in index[minishard])
        else:
            raw = self._read(shard, 16 * minishard, 16, what)
            start, end = decode_shard_index_entry(raw, minishard, self.spec, info.size, what)
        if start == end:
            mi = _EMPTY
        else:
            self._check_size(end - start, f"{what}: minishard {minishard}: minishard index")
            data = self._read(shard, start, end - start, f"{what}: minishard {minishard}")
            max_bytes, over = self._cap()
            mi = decode_minishard_index(data, minishard, self.spec, info.size, what, max_bytes,
                                        over=over, index_range=(start, end), shard=shard)
        self._cache(k, mi)
        return mi

    def _cache(self, k, mi):
        with self._lock:
            if k in self._minishards:
                return
            self._minishards[k] = mi
            self._cached_bytes += mi.nbytes + ENTRY_OVERHEAD
            self._evict()

    def _evict(self):
        """Drops least recently used minishard indices, then whole shard
        indices, until the cache is within budget (the newest entry stays).
        Called with the lock held."""
        while self._cached_bytes > self.cache_bytes and len(self._minishards) > 1:
            _, old = self._minishards.popitem(last=False)
            self._cached_bytes -= old.nbytes + ENTRY_OVERHEAD
        if self._cached_bytes > self.cache_bytes:
            for info in self._shards.values():
                if self._cached_bytes <= self.cache_bytes:
                    break
                if info is not None and info.index is not None:
                    self._cached_bytes -= info.index.nbytes + ENTRY_OVERHEAD
                    info.index = None

    def decode_data(self, stored, what, max_bytes=None):
        """The chunk bytes of stored data (gzip undone under the cap: the
        memory limit, or *max_bytes* when smaller, e.g. the most bytes a
        valid chunk of its shape takes, which refuses a gzip bomb early as
        InvalidFormatError)."""
        if self.spec.data_encoding == "gzip":
            cap, over = self._cap()
            if max_bytes is not None and max_bytes < cap:
                cap, over = max_bytes, None
            return inflate(stored, cap, what, over=over)
        return bytes(stored)

    def encode_data(self, data):
        """The stored form of chunk bytes *data* (gzip when data_encoding says)."""
        return gzip_bytes(data) if self.spec.data_encoding == "gzip" else bytes(data)

    def get(self, cid, stored=False):
        """The bytes of chunk *cid* (its ``data_encoding`` undone; with
        ``stored=True`` as stored), or None when the chunk (or its shard) is
        absent."""
        cid = _as_id(cid)
        shard, minishard = self.spec.locate(cid)
        info = self._shard(shard)
        if info is None:
            return None
        found = self._minishard(shard, minishard, info).find(cid)
        if found is None:
            return None
        start, size = found
        what = f"{self.describe(shard)}: minishard {minishard}: chunk {cid}"
        self._check_size(size, what)
        data = self._read(shard, start, size, what)
        return data if stored else self.decode_data(data, what)

    def get_many(self, cids, stored=False):
        """``{chunk_id: bytes}`` of the chunks of *cids* that exist (absent
        ones are left out). Chunks are grouped by shard and minishard, so
        each index is read once, and neighbouring chunks are read in one
        request."""
        ids = sorted({_as_id(c) for c in cids})
        if not ids:
            return {}
        shards, minis = self.spec.locate_array(np.array(ids, dtype=np.uint64))
        groups = {}
        for cid, s, m in zip(ids, shards.tolist(), minis.tolist()):
            groups.setdefault(s, {}).setdefault(m, []).append(cid)
        out = {}
        for shard, by_mini in groups.items():
            info = self._shard(shard)
            if info is None:
                continue
            wanted = []  # (start, size, cid, minishard)
            for minishard, mids in by_mini.items():
                mi = self._minishard(shard, minishard, info)
                for cid in mids:
                    f = mi.find(cid)
                    if f is not None:
                        wanted.append((f[0], f[1], cid, minishard))
            for start, size, cid, minishard, data in self._read_ranges(shard, wanted):
                what = f"{self.describe(shard)}: minishard {minishard}: chunk {cid}"
                out[cid] = data if stored else self.decode_data(data, what)
        return out

    def _read_ranges(self, shard, wanted):
        """Yields ``(start, size, cid, minishard, bytes)`` for each range of
        *wanted*, reading runs of nearby ranges in one request."""
        wanted = sorted(wanted)
        i = 0
        what = self.describe(shard)
        # A coalesced read may not hold more than one chunk may.
        max_read = min(MAX_READ, self._max_bytes())
        while i < len(wanted):
            start, size, cid, m = wanted[i]
            self._check_size(size, f"{what}: minishard {m}: chunk {cid}")
            j = i + 1
            end = start + size
            while j < len(wanted):
                s2, z2 = wanted[j][0], wanted[j][1]
                if s2 - end > COALESCE_GAP or max(end, s2 + z2) - start > max_read:
                    break
                self._check_size(z2, f"{what}: minishard {wanted[j][3]}: chunk {wanted[j][2]}")
                end = max(end, s2 + z2)
                j += 1
            block = self._read(shard, start, end - start, f"{what}: minishard {m}: chunk {cid}")
            for s, z, c, mm in wanted[i:j]:
                yield s, z, c, mm, block[s - start:s - start + z]
            i = j

    def _shard_index(self, shard, info):
        index = info.index
        if index is None:
            what = self.describe(shard)
            self._check_size(self.spec.shard_index_bytes, f"{what}: shard index")
            raw = self._read(shard, 0, self.spec.shard_index_bytes, what)
            index = decode_shard_index(raw, self.spec, info.size, what)
            with self._lock:
                if info.index is None:
                    info.index = index
                    self._cached_bytes += index.nbytes + ENTRY_OVERHEAD
                    self._evict()
        return index

    def shard_entries(self, shard):
        """``[(chunk_id, minishard, start, size)]`` of every chunk of shard
        *shard* in file order ([] when the file is absent); every index is
        checked, and no two ranges of the file (minishard indices, chunk
        data) may overlap (InvalidFormatError for the first problem)."""
        info = self._shard(shard)
        if info is None:
            return []
        index = self._shard_index(shard, info)
        entries = []
        ranges = []  # (start, end, label, minishard) of every non-empty range
        for m in np.nonzero(index[:, 0] != index[:, 1])[0].tolist():
            mi = self._minishard(shard, m, info)
            ranges.append((int(index[m, 0]), int(index[m, 1]),
                           f"the minishard index of minishard {m}", m))
            entries.extend(zip(mi.chunk_ids.tolist(), [m] * len(mi.chunk_ids),
                               mi.starts.tolist(), mi.sizes.tolist()))
        entries.sort(key=lambda e: e[2])
        ranges.extend((s, s + z, f"the data of chunk {c}", m) for c, m, s, z in entries if z)
        ranges.sort()
        # Sorted by start, a range overlaps an earlier one iff it starts
        # before the furthest end seen so far.
        reach = None
        for r in ranges:
            if reach is not None and r[0] < reach[1]:
                _fail_overlap(self.describe(shard), r, reach)
            if reach is None or r[1] > reach[1]:
                reach = r
        return entries

    def iter_shard(self, shard, stored=False):
        """Every ``(chunk_id, bytes)`` of shard *shard*, in file order, read
        in blocks of at most 64 MiB (InvalidFormatError at the first
        problem)."""
        entries = self.shard_entries(shard)
        wanted = [(s, z, c, m) for c, m, s, z in entries]
        for _, _, cid, m, data in self._read_ranges(shard, wanted):
            yield cid, (data if stored else self.decode_data(
                data, f"{self.describe(shard)}: minishard {m}: chunk {cid}"))

    def chunk_ids(self):
        """Every chunk id stored in any shard, increasing."""
        out = []
        for s in self.list_shards():
            out.extend(e[0] for e in self.shard_entries(s))
        return sorted(out)

    # ------------------------------------------------------------ checking

    def check_shard(self, shard, decode=None, strict_gzip=True):
        """Validates shard *shard* completely and returns its problems (a
        :class:`ShardCheck`, empty when the shard is sound): the file's
        size, every shard index entry, every minishard index (encoding,
        length, increasing ids, ranges inside the file), that each chunk id
        hashes to this shard and minishard, that no two ranges (minishard
        indices and chunk data) overlap, and every chunk's data encoding.
        With *strict_gzip* a zlib stream where gzip is declared is a problem
        (Neuroglancer and tensorstore reject those). *decode*, if given, is
        called as ``decode(chunk_id, data)`` on each chunk's bytes; an
        NgcodecError it raises is recorded against that chunk. Bypasses the
        cache (reads the file as it is now)."""
        file = self.describe(shard)
        report = ShardCheck(shard, file)
        spec = self.spec
        k = self.shard_key(shard)
        size = self.storage.size(k)
        if size is None:
            report.add("the shard file does not exist")
            return report
        if size < spec.shard_index_bytes:
            report.add(f"the shard file is {size} bytes, shorter than its "
                       f"{spec.shard_index_bytes}-byte shard index (truncated?)")
            return report
        max_bytes, over = self._cap()
        try:
            self._check_size(spec.shard_index_bytes, "shard index")
        except ResourceLimitError as e:
            report.add(str(e), error="ResourceLimitError")
            return report
        raw = self.storage.read_range(k, 0, spec.shard_index_bytes)
        if raw is None or len(raw) != spec.shard_index_bytes:
            report.add("the shard index could not be read in full")
            return report
        ranges = []  # (start, end, label)
        minishards = []
        for m in range(spec.num_minishards):
            try:
                start, end = decode_shard_index_entry(raw[16 * m:16 * m + 16], m, spec, size, file)
            except InvalidFormatError as e:
                report.add(_strip(str(e), file, m), m)
                continue
            if start != end:
                ranges.append((start, end, f"the minishard index of minishard {m}", m, None))
                minishards.append((m, start, end))
        chunks = []
        for m, start, end in minishards:
            try:
                self._check_size(end - start, "minishard index")
            except ResourceLimitError as e:
                report.add(str(e), m, error="ResourceLimitError")
                continue
            data = self.storage.read_range(k, start, end - start)
            if data is None or len(data) != end - start:
                report.add("the minishard index could not be read in full", m)
                continue
            if spec.minishard_index_encoding == "gzip" and strict_gzip and not is_gzip(data):
                report.add(_ZLIB_TEXT.format(what="minishard index") if _is_zlib(data) else
                           "the minishard index is not a gzip stream (no 1f 8b magic)", m)
                if not _is_zlib(data):
                    continue
            try:
                mi = decode_minishard_index(data, m, spec, size, file, max_bytes, over=over)
            except (InvalidFormatError, ResourceLimitError) as e:
                report.add(_strip(str(e), file, m), m, error=type(e).__name__)
                continue
            ids = mi.chunk_ids.tolist()
            if ids:
                s_arr, m_arr = spec.locate_array(mi.chunk_ids)
                wrong = np.nonzero((s_arr != np.uint64(shard)) | (m_arr != np.uint64(m)))[0]
                for i in wrong.tolist():
                    report.add(f"chunk id hashes to shard {int(s_arr[i])} minishard "
                               f"{int(m_arr[i])}, not here (readers cannot find it)", m, ids[i])
            report.chunk_ids.extend(ids)
            for cid, s, z in zip(ids, mi.starts.tolist(), mi.sizes.tolist()):
                ranges.append((s, s + z, f"the data of chunk {cid}", m, cid))
                chunks.append((s, z, cid, m))
        # Overlaps between any two non-empty ranges of the file.
        ranges.sort()
        reach = None  # (end, label) of the range reaching furthest so far
        for start, end, label, m, cid in ranges:
            if start == end:
                continue
            if reach is not None and start < reach[0]:
                report.add(f"{label} [{start}, {end}) overlaps {reach[1]}", m, cid)
            if reach is None or end > reach[0]:
                reach = (end, label)
        for start, z, cid, m in sorted(chunks):
            if cid in report.bad_chunk_ids:
                continue
            try:
                self._check_size(z, f"{file}: minishard {m}: chunk {cid}")
            except ResourceLimitError as e:
                report.add(_strip(str(e), file, m, cid), m, cid, error="ResourceLimitError")
                continue
            data = self.storage.read_range(k, start, z)
            if data is None or len(data) != z:
                report.add("the chunk's data could not be read in full", m, cid)
                continue
            if spec.data_encoding == "gzip" and strict_gzip and not is_gzip(data):
                report.add(_ZLIB_TEXT.format(what="data") if _is_zlib(data) else
                           "the data is not a gzip stream (no 1f 8b magic)", m, cid)
                continue
            try:
                chunk = self.decode_data(data, f"{file}: minishard {m}: chunk {cid}")
                if decode is not None:
                    decode(cid, chunk)
            except NgcodecError as e:
                report.add(_strip(str(e), file, m, cid), m, cid, error=type(e).__name__)
        return report

    # ------------------------------------------------------------ writing

    def _write_lock(self, shard):
        with self._lock:
            return self._write_locks.setdefault(shard, threading.Lock())

    def _forget(self, shard):
        with self._lock:
            info = self._shards.pop(shard, None)
            if info is not None and info.index is not None:
                self._cached_bytes -= info.index.nbytes + ENTRY_OVERHEAD
            for k in [k for k in self._minishards if k[0] == shard]:
                self._cached_bytes -= self._minishards.pop(k).nbytes + ENTRY_OVERHEAD

    def write_shards(self, chunks, fsync=False, replace=False, stored=False, threads=None):
        """Writes *chunks* ``{chunk_id: bytes or None}`` (None deletes the
        chunk), each affected shard in one atomic write. A shard that
        holds other chunks is read and merged (their stored bytes are kept
        as they are) unless *replace*, which makes the call's chunks the
        whole content of their shards. A shard left with no chunk is
        deleted. *stored*: the bytes are already in ``data_encoding``.
        gzip runs in *threads* threads (default: the machine's cores).
        Returns the shard numbers written."""
        items = {}
        for c, v in chunks.items():
            cid = _as_id(c)
            if v is not None and not isinstance(v, (bytes, bytearray, memoryview)):
                raise InvalidParameterError(f"chunk {cid}: expected bytes or None, "
                                            f"got {type(v).__name__}")
            items[cid] = v
        if not items:
            return []
        ids = sorted(items)
        shards, _ = self.spec.locate_array(np.array(ids, dtype=np.uint64))
        by_shard = {}
        for cid, s in zip(ids, shards.tolist()):
            by_shard.setdefault(s, []).append(cid)
        if not stored and self.spec.data_encoding == "gzip":
            todo = [c for c in ids if items[c] is not None]
            n = threads or os.cpu_count() or 1
            if n > 1 and len(todo) > 1:
                with ThreadPoolExecutor(min(n, len(todo))) as pool:
                    for c, v in zip(todo, pool.map(lambda c: gzip_bytes(items[c]), todo)):
                        items[c] = v
            else:
                for c in todo:
                    items[c] = gzip_bytes(items[c])
        elif not stored:
            items = {c: (None if v is None else bytes(v)) for c, v in items.items()}
        for shard, sids in sorted(by_shard.items()):
            self._write_one(shard, {c: items[c] for c in sids}, fsync, replace)
        return sorted(by_shard)

    def _write_one(self, shard, chunks, fsync, replace):
        k = self.shard_key(shard)
        with self._write_lock(shard):
            self._forget(shard)
            merged = {}
            if not replace and self.storage.exists(k):
                try:
                    entries = self.shard_entries(shard)
                    keep = [(s, z, c, m) for c, m, s, z in entries if c not in chunks]
                    for _, _, c, _, data in self._read_ranges(shard, keep):
                        merged[c] = bytes(data)
                except InvalidFormatError as e:
                    raise InvalidFormatError(
                        f"{e} (refusing to merge into a damaged shard; write it with "
                        "replace=True to overwrite it)") from None
                finally:
                    self._forget(shard)
            merged.update((c, v) for c, v in chunks.items() if v is not None)
            try:
                if merged:
                    self.storage.write(k, encode_shard(self.spec, merged), fsync=fsync)
                else:
                    self.storage.delete(k)
            finally:
                self._forget(shard)


_EMPTY = MinishardIndex(np.zeros(0, np.uint64), np.zeros(0, np.uint64), np.zeros(0, np.uint64))
_ZLIB_TEXT = ("the {what} is a zlib stream where gzip is declared (neuroglancer-scripts writes "
              "those; Neuroglancer and tensorstore reject them)")


def _fail_overlap(file, r, other):
    """Raises the InvalidFormatError of range *r* overlapping *other*, both
    ``(start, end, label, minishard)``."""
    raise InvalidFormatError(f"{file}: minishard {r[3]}: {r[2]} [{r[0]}, {r[1]}) overlaps "
                             f"{other[2]} [{other[0]}, {other[1]})")


def _is_zlib(data):
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def _strip(message, file, minishard=None, cid=None):
    """A message without the place prefix a ShardProblem repeats."""
    for p in ([f"{file}: minishard {minishard}: chunk {cid}: "] if cid is not None else []) + \
             [f"{file}: minishard {minishard}: ", f"{file}: "]:
        if message.startswith(p):
            return message[len(p):]
    return message


def _as_id(c):
    if isinstance(c, (bool, float)) or not isinstance(c, (int, np.integer)):
        raise InvalidParameterError(f"chunk id must be an integer, got {c!r}")
    c = int(c)
    if not 0 <= c < 1 << 64:
        raise InvalidParameterError(f"chunk id {c} is not a uint64")
    return c


# ---------------------------------------------------------------- scale helpers

def scale_geometry(scale_info):
    """``(size, chunk_size, voxel_offset, grid_shape)`` of a scale: an
    info's scale dict (its first ``chunk_sizes`` entry) or an object with
    ``size``, ``chunk_size`` and ``voxel_offset`` attributes."""
    if isinstance(scale_info, dict):
        try:
            size = tuple(int(v) for v in scale_info["size"])
            cs = scale_info.get("chunk_size") or scale_info["chunk_sizes"][0]
            chunk_size = tuple(int(v) for v in cs)
            offset = tuple(int(v) for v in scale_info.get("voxel_offset", (0, 0, 0)))
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise InvalidInfoError(f"scale: cannot read size/chunk_sizes/voxel_offset ({e})") \
                from None
    else:
        size = tuple(int(v) for v in scale_info.size)
        chunk_size = tuple(int(v) for v in scale_info.chunk_size)
        offset = tuple(int(v) for v in getattr(scale_info, "voxel_offset", (0, 0, 0)))
    if len(size) != 3 or len(chunk_size) != 3 or len(offset) != 3 or \
            min(size) < 1 or min(chunk_size) < 1:
        raise InvalidInfoError(f"scale: size {size} and chunk size {chunk_size} must be 3 "
                               "positive integers each")
    return size, chunk_size, offset, grid_shape_of(size, chunk_size)


def propose_sharding(scale_info, dtype, num_channels=1, target_shard_bytes=2 << 30,
                     max_shard_index_bytes=8192, max_chunks_per_minishard=256,
                     hash="identity", data_encoding=None, minishard_index_encoding="gzip"):
    """Sharding parameters (an info ``"sharding"`` dict) for a scale.

    The rule: let ``T`` be the length of the scale's compressed Morton code
    (the bits of its chunk grid) and ``B`` the uncompressed bytes of one
    chunk (``prod(chunk_size) * itemsize * num_channels``). A shard holds
    ``2**k`` chunks, ``k = floor(log2(target_shard_bytes / B))`` clipped to
    ``[0, T]``, so an uncompressed shard is at most *target_shard_bytes*
    (by default between 1 and 2 GiB) unless one chunk is larger; then
    ``shard_bits = T - k``, so with the identity hash every shard is one
    aligned box of the grid (:func:`shard_boxes`). The ``2**k`` chunks are
    split into ``2**m`` minishards of at most *max_chunks_per_minishard*
    chunks (a minishard index of at most 6 KiB before gzip) as far as the
    shard index stays within *max_shard_index_bytes* (``m <= 9`` by
    default: 8 KiB); ``preshift_bits = k - m``. *data_encoding* defaults to
    gzip, raw for jpeg scales. Like cloud-volume's
    ``compute_shard_params_for_image``, but every shard is exactly one box.
    """
    size, chunk_size, _, grid = scale_geometry(scale_info)
    try:
        bits = sum(morton_bits(grid))
    except InvalidParameterError as e:
        raise InvalidInfoError(str(e)) from None
    itemsize = np.dtype(dtype).itemsize
    chunk_bytes = math.prod(chunk_size) * itemsize * int(num_channels)
    k = int(math.floor(math.log2(target_shard_bytes / chunk_bytes))) \
        if target_shard_bytes >= chunk_bytes else 0
    k = max(0, min(k, bits))
    max_m = max(0, int(math.floor(math.log2(max_shard_index_bytes / 16))))
    per = max(0, int(math.floor(math.log2(max(1, max_chunks_per_minishard)))))
    m = min(max_m, max(0, k - per))
    if data_encoding is None:
        enc = scale_info.get("encoding") if isinstance(scale_info, dict) else \
            getattr(scale_info, "encoding", None)
        data_encoding = "raw" if enc == "jpeg" else "gzip"
    return ShardingSpec(k - m, hash, m, bits - k, minishard_index_encoding,
                        data_encoding).to_json()


def _cell_bits(grid, spec):
    """Per-axis bits of the Morton cells that map to one shard."""
    bits = morton_bits(grid)
    level = spec.preshift_bits + (spec.minishard_bits if spec.hash == "identity" else 0)
    level = min(level, sum(bits))
    cell = [0, 0, 0]
    taken = 0
    for b in range(max(bits) if bits else 0):
        for axis in range(3):
            if b < bits[axis] and taken < level:
                cell[axis] += 1
                taken += 1
    return cell


def shard_cell(scale_info, sharding):
    """``(x, y, z)``: the chunks per axis of the aligned cells of the grid
    whose chunks all land in one shard (the boxes of :func:`shard_boxes`
    before clipping)."""
    spec = ShardingSpec.from_json(sharding)
    grid = scale_geometry(scale_info)[3]
    return tuple(1 << b for b in _cell_bits(grid, spec))


def shard_boxes(scale_info, sharding):
    """``{shard_number: [box, ...]}``: for every shard that holds chunks of
    the scale, aligned voxel boxes ``((x0, y0, z0), (x1, y1, z1))``
    (absolute coordinates, clipped to the scale's bounds) whose union is
    exactly the chunks of that shard. See the module's documentation: one
    box per shard with :func:`propose_sharding`'s parameters; many small
    boxes with murmurhash (use :func:`group_by_shard` there)."""
    spec = ShardingSpec.from_json(sharding)
    size, chunk_size, offset, grid = scale_geometry(scale_info)
    cell = [1 << b for b in _cell_bits(grid, spec)]
    counts = [math.ceil(g / c) for g, c in zip(grid, cell)]
    gx, gy, gz = np.meshgrid(*(np.arange(n, dtype=np.uint64) * np.uint64(c)
                               for n, c in zip(counts, cell)), indexing="ij")
    origins = np.stack([gx.ravel(), gy.ravel(), gz.ravel()], axis=1)
    shards, _ = spec.locate_array(chunk_ids(origins, grid))
    out = {}
    for o, s in zip(origins.tolist(), shards.tolist()):
        lo = tuple(offset[a] + o[a] * chunk_size[a] for a in range(3))
        hi = tuple(min(offset[a] + (o[a] + cell[a]) * chunk_size[a], offset[a] + size[a])
                   for a in range(3))
        out.setdefault(s, []).append((lo, hi))
    return dict(sorted(out.items()))


def group_by_shard(cids, sharding):
    """``{shard_number: [chunk ids]}`` of *cids* (each list increasing):
    the work units of parallel writers when shards are not boxes."""
    spec = ShardingSpec.from_json(sharding)
    ids = np.unique(np.asarray([_as_id(c) for c in cids], dtype=np.uint64))
    shards, _ = spec.locate_array(ids)
    out = {}
    for c, s in zip(ids.tolist(), shards.tolist()):
        out.setdefault(s, []).append(c)
    return dict(sorted(out.items()))
