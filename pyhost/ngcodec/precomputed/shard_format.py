"""The bytes of ``neuroglancer_uint64_sharded_v1``: sharding spec, chunk ids,
hashes, shard and minishard indices. No storage here (see :mod:`.sharded`).

The format (Neuroglancer's ``sharded.md``), as this module reads and writes it:

- A *sharding spec* (the scale's ``"sharding"`` member)::

    {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": p,
     "hash": "identity" | "murmurhash3_x86_128", "minishard_bits": m,
     "shard_bits": s, "minishard_index_encoding": "raw" | "gzip",
     "data_encoding": "raw" | "gzip"}

  A chunk id ``c`` (uint64) is hashed as ``h = hash(c >> p)``: the identity,
  or the low 64 bits of MurmurHash3_x86_128 (seed 0) of the 8 little-endian
  bytes of ``c >> p``, read little-endian. The minishard is bits
  ``[0, m)`` of ``h``, the shard bits ``[m, m + s)``. Shard ``k`` lives in
  the file ``{k:0{ceil(s/4)}x}.shard`` (lowercase hex).

- For volumes, the chunk id is the *compressed Morton code* of the chunk's
  grid position ``(gx, gy, gz)`` (``(voxel - voxel_offset) // chunk_size``):
  bit ``i`` of each axis is taken while ``i`` is below the number of bits
  that axis's grid extent needs (``(n - 1).bit_length()``), interleaved x,
  y, z from the lowest bit up.

- A shard file starts with the *shard index*: ``2**m`` pairs of uint64le
  ``(start, end)``, the byte range of each minishard's index, relative to
  the end of the shard index (``16 * 2**m``). An empty range is an empty
  minishard.

- A *minishard index* (encoded by ``minishard_index_encoding``) is a
  C-order ``[3, n]`` array of uint64le: chunk ids delta-encoded (the first
  is absolute); data offsets delta-encoded, each relative to the *end* of
  the previous chunk's data (the first relative to the end of the shard
  index); data sizes. The data (encoded by ``data_encoding``) of chunk ``i``
  is the byte range ``[start_i, start_i + size_i)`` of the shard file.

Everything here treats its input as untrusted: every offset and size is
checked against the file size before it is used, gzip streams are inflated
under a cap, chunk ids must be strictly increasing (no duplicates; the
readers of Neuroglancer search them by bisection), the data ranges of one
minishard may not wrap around or overlap their own index, and (when the
caller names the shard) every id must hash to the shard and minishard it is
listed in. Every failure is an
:class:`~ngcodec.InvalidFormatError` whose message names the file, the
minishard and what is wrong.
"""

import math
import numbers
from typing import NamedTuple

import numpy as np

from ..errors import InvalidFormatError, InvalidInfoError, InvalidParameterError
from .storage import gzip_bytes, inflate, is_gzip

__all__ = [
    "SHARDING_TYPE", "HASHES", "ENCODINGS", "ShardingSpec", "MinishardIndex",
    "chunk_id", "chunk_ids", "chunk_position", "morton_bits",
    "murmurhash3_x86_128", "murmurhash3_x86_128_low64", "murmurhash3_low64_array",
    "decode_shard_index_entry", "decode_shard_index", "decode_minishard_index",
    "encode_minishard_index", "encode_shard",
]

SHARDING_TYPE = "neuroglancer_uint64_sharded_v1"
HASHES = ("identity", "murmurhash3_x86_128")
ENCODINGS = ("raw", "gzip")
U64 = (1 << 64) - 1
MAX_SHARD_INDEX_WRITE_BYTES = 1 << 30  # minishard_bits <= 26 when writing


# ---------------------------------------------------------------- murmurhash

_M32 = 0xFFFFFFFF


def _rotl32(x, r):
    return ((x << r) | (x >> (32 - r))) & _M32


def _fmix32(h):
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    h ^= h >> 16
    return h


def murmurhash3_x86_128(data, seed=0):
    """MurmurHash3_x86_128 of *data* (bytes) as four uint32 ``(h1, h2, h3,
    h4)``, Austin Appleby's reference algorithm, in pure Python."""
    c1, c2, c3, c4 = 0x239B961B, 0xAB0E9789, 0x38B34AE5, 0xA1E38B93
    data = bytes(data)
    n = len(data)
    h1 = h2 = h3 = h4 = seed & _M32
    nblocks = n // 16
    for i in range(nblocks):
        k1, k2, k3, k4 = (int.from_bytes(data[16 * i + 4 * j:16 * i + 4 * j + 4], "little")
                          for j in range(4))
        k1 = (_rotl32((k1 * c1) & _M32, 15) * c2) & _M32
        h1 ^= k1
        h1 = (((_rotl32(h1, 19) + h2) & _M32) * 5 + 0x561CCD1B) & _M32
        k2 = (_rotl32((k2 * c2) & _M32, 16) * c3) & _M32
        h2 ^= k2
        h2 = (((_rotl32(h2, 17) + h3) & _M32) * 5 + 0x0BCAA747) & _M32
        k3 = (_rotl32((k3 * c3) & _M32, 17) * c4) & _M32
        h3 ^= k3
        h3 = (((_rotl32(h3, 15) + h4) & _M32) * 5 + 0x96CD1C35) & _M32
        k4 = (_rotl32((k4 * c4) & _M32, 18) * c1) & _M32
        h4 ^= k4
        h4 = (((_rotl32(h4, 13) + h1) & _M32) * 5 + 0x32AC3B17) & _M32
    tail = data[16 * nblocks:]
    k = [int.from_bytes(tail[4 * j:4 * j + 4], "little") for j in range(4)]
    t = len(tail)
    if t > 12:
        h4 ^= (_rotl32((k[3] * c4) & _M32, 18) * c1) & _M32
    if t > 8:
        h3 ^= (_rotl32((k[2] * c3) & _M32, 17) * c4) & _M32
    if t > 4:
        h2 ^= (_rotl32((k[1] * c2) & _M32, 16) * c3) & _M32
    if t > 0:
        h1 ^= (_rotl32((k[0] * c1) & _M32, 15) * c2) & _M32
    h1 ^= n
    h2 ^= n
    h3 ^= n
    h4 ^= n
    h1 = (h1 + h2 + h3 + h4) & _M32
    h2 = (h2 + h1) & _M32
    h3 = (h3 + h1) & _M32
    h4 = (h4 + h1) & _M32
    h1, h2, h3, h4 = _fmix32(h1), _fmix32(h2), _fmix32(h3), _fmix32(h4)
    h1 = (h1 + h2 + h3 + h4) & _M32
    h2 = (h2 + h1) & _M32
    h3 = (h3 + h1) & _M32
    h4 = (h4 + h1) & _M32
    return h1, h2, h3, h4


def murmurhash3_x86_128_low64(key):
    """The sharded format's hash of the uint64 *key*: the low 64 bits of
    MurmurHash3_x86_128 (seed 0) of its 8 little-endian bytes."""
    h1, h2, _, _ = murmurhash3_x86_128(int(key).to_bytes(8, "little"))
    return h1 | (h2 << 32)


def _fmix32_np(h):
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def _rotl32_np(x, r):
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def murmurhash3_low64_array(keys):
    """:func:`murmurhash3_x86_128_low64` of every uint64 in *keys* (a NumPy
    array), vectorised; returns uint64."""
    keys = np.asarray(keys, dtype=np.uint64)
    with np.errstate(over="ignore"):
        k1 = (keys & np.uint64(_M32)).astype(np.uint32)
        k2 = (keys >> np.uint64(32)).astype(np.uint32)
        k2 = k2 * np.uint32(0xAB0E9789)
        k2 = _rotl32_np(k2, 16) * np.uint32(0x38B34AE5)
        k1 = k1 * np.uint32(0x239B961B)
        k1 = _rotl32_np(k1, 15) * np.uint32(0xAB0E9789)
        h1 = k1 ^ np.uint32(8)
        h2 = k2 ^ np.uint32(8)
        h3 = np.full_like(h1, 8)
        h4 = np.full_like(h1, 8)
        h1 = h1 + h2 + h3 + h4
        h2 = h2 + h1
        h3 = h3 + h1
        h4 = h4 + h1
        h1, h2, h3, h4 = _fmix32_np(h1), _fmix32_np(h2), _fmix32_np(h3), _fmix32_np(h4)
        h1 = h1 + h2 + h3 + h4
        h2 = h2 + h1
    return h1.astype(np.uint64) | (h2.astype(np.uint64) << np.uint64(32))


# ---------------------------------------------------------------- Morton ids

def morton_bits(grid_shape):
    """Bits per axis of the compressed Morton code of a chunk grid."""
    if len(grid_shape) != 3 or any(int(n) < 1 for n in grid_shape):
        raise InvalidParameterError(f"grid_shape must be 3 positive extents, got {grid_shape!r}")
    bits = tuple((int(n) - 1).bit_length() for n in grid_shape)
    if sum(bits) > 64:
        raise InvalidParameterError(
            f"a chunk grid of {tuple(grid_shape)} needs {sum(bits)} bits, more than the "
            "64 of a chunk id (use larger chunks)")
    return bits


def _bit_plan(bits):
    """[(axis, axis_bit, output_bit)] of the compressed Morton code."""
    plan = []
    out = 0
    for b in range(max(bits) if bits else 0):
        for axis in range(3):
            if b < bits[axis]:
                plan.append((axis, b, out))
                out += 1
    return plan


def chunk_id(grid_xyz, grid_shape):
    """The compressed Morton code of the chunk at grid position *grid_xyz*
    ``(gx, gy, gz)`` of a grid of *grid_shape* chunks (x, y, z)."""
    bits = morton_bits(grid_shape)
    pos = [int(v) for v in grid_xyz]
    if len(pos) != 3 or any(not 0 <= p < int(n) for p, n in zip(pos, grid_shape)):
        raise InvalidParameterError(
            f"grid position {tuple(grid_xyz)} is outside the chunk grid {tuple(grid_shape)}")
    cid = 0
    for axis, b, out in _bit_plan(bits):
        cid |= ((pos[axis] >> b) & 1) << out
    return cid


def chunk_ids(grid_positions, grid_shape):
    """:func:`chunk_id` of every row ``(gx, gy, gz)`` of *grid_positions*
    (an ``(n, 3)`` array), vectorised; returns uint64."""
    bits = morton_bits(grid_shape)
    pos = np.asarray(grid_positions, dtype=np.uint64).reshape(-1, 3)
    out = np.zeros(len(pos), dtype=np.uint64)
    one = np.uint64(1)
    for axis, b, o in _bit_plan(bits):
        out |= ((pos[:, axis] >> np.uint64(b)) & one) << np.uint64(o)
    return out


def chunk_position(cid, grid_shape):
    """The grid position ``(gx, gy, gz)`` of compressed Morton code *cid*, or
    None when *cid* names no chunk of the grid (bits past the code's length,
    or a position past the grid's extent)."""
    bits = morton_bits(grid_shape)
    cid = int(cid)
    if cid < 0 or cid >> sum(bits):
        return None
    pos = [0, 0, 0]
    for axis, b, out in _bit_plan(bits):
        pos[axis] |= ((cid >> out) & 1) << b
    if any(p >= int(n) for p, n in zip(pos, grid_shape)):
        return None
    return tuple(pos)


# ---------------------------------------------------------------- spec

_MEMBERS = {"@type", "preshift_bits", "hash", "minishard_bits", "shard_bits",
            "minishard_index_encoding", "data_encoding"}


class ShardingSpec:
    """A validated ``neuroglancer_uint64_sharded_v1`` sharding spec."""

    __slots__ = ("preshift_bits", "hash", "minishard_bits", "shard_bits",
                 "minishard_index_encoding", "data_encoding")

    def __init__(self, preshift_bits=0, hash="identity", minishard_bits=0, shard_bits=0,
                 minishard_index_encoding="raw", data_encoding="raw", *, where="sharding"):
        # The ranges are tensorstore's: a minishard_bits above 32 would make
        # the shard index (16 << minishard_bits bytes) larger than any shard.
        for name, v, hi in (("preshift_bits", preshift_bits, 64),
                            ("minishard_bits", minishard_bits, 32),
                            ("shard_bits", shard_bits, 64)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 0 <= v <= hi:
                raise InvalidInfoError(f"{where}.{name}: must be an integer in [0, {hi}], "
                                       f"got {v!r}")
        preshift_bits, minishard_bits, shard_bits = map(int, (preshift_bits, minishard_bits,
                                                               shard_bits))
        if minishard_bits + shard_bits > 64:
            raise InvalidInfoError(f"{where}: minishard_bits + shard_bits must be at most 64, "
                                   f"got {minishard_bits} + {shard_bits}")
        if hash not in HASHES:
            raise InvalidInfoError(f"{where}.hash: must be one of {', '.join(HASHES)}, "
                                   f"got {hash!r}")
        for name, v in (("minishard_index_encoding", minishard_index_encoding),
                        ("data_encoding", data_encoding)):
            if v not in ENCODINGS:
                raise InvalidInfoError(f"{where}.{name}: must be one of "
                                       f"{', '.join(ENCODINGS)}, got {v!r}")
        self.preshift_bits = preshift_bits
        self.hash = hash
        self.minishard_bits = minishard_bits
        self.shard_bits = shard_bits
        self.minishard_index_encoding = minishard_index_encoding
        self.data_encoding = data_encoding

    @classmethod
    def from_json(cls, obj, where="sharding"):
        """The spec of an info's ``"sharding"`` dict (or a ShardingSpec): the
        one validator of sharding specs (``validate_info`` uses it too).
        Errors are InvalidInfoError and start with *where*."""
        if isinstance(obj, ShardingSpec):
            return obj
        if not isinstance(obj, dict):
            raise InvalidInfoError(f"{where}: must be an object, got {type(obj).__name__}")
        if obj.get("@type") != SHARDING_TYPE:
            raise InvalidInfoError(f"{where}.@type: must be {SHARDING_TYPE!r}, "
                                   f"got {obj.get('@type')!r}")
        for k in ("preshift_bits", "hash", "minishard_bits", "shard_bits"):
            if k not in obj:
                raise InvalidInfoError(f"{where}: missing member {k!r}")
        # Refused, as tensorstore refuses them: a misspelt "data_encoding"
        # would otherwise fall back to raw without a word.
        extra = sorted(set(obj) - _MEMBERS)
        if extra:
            raise InvalidInfoError(f"{where}: unknown members {extra} (the members are "
                                   f"{', '.join(sorted(_MEMBERS))})")
        return cls(obj["preshift_bits"], obj["hash"], obj["minishard_bits"], obj["shard_bits"],
                   obj.get("minishard_index_encoding", "raw"), obj.get("data_encoding", "raw"),
                   where=where)

    def to_json(self):
        return {"@type": SHARDING_TYPE, "preshift_bits": self.preshift_bits, "hash": self.hash,
                "minishard_bits": self.minishard_bits, "shard_bits": self.shard_bits,
                "minishard_index_encoding": self.minishard_index_encoding,
                "data_encoding": self.data_encoding}

    def __repr__(self):
        return f"ShardingSpec({self.to_json()!r})"

    def __eq__(self, other):
        return isinstance(other, ShardingSpec) and self.to_json() == other.to_json()

    def __hash__(self):
        return hash(tuple(sorted(self.to_json().items())))

    @property
    def num_minishards(self):
        return 1 << self.minishard_bits

    @property
    def num_shards(self):
        return 1 << self.shard_bits

    @property
    def shard_index_bytes(self):
        """Size of the shard index, where the offsets of both indices start."""
        return 16 << self.minishard_bits

    def hashed(self, cid):
        """``hash(cid >> preshift_bits)``."""
        cid = int(cid)
        if not 0 <= cid <= U64:
            raise InvalidParameterError(f"chunk id {cid} is not a uint64")
        v = cid >> self.preshift_bits
        return v if self.hash == "identity" else murmurhash3_x86_128_low64(v)

    def locate(self, cid):
        """``(shard, minishard)`` of chunk id *cid*."""
        h = self.hashed(cid)
        return ((h >> self.minishard_bits) & ((1 << self.shard_bits) - 1),
                h & ((1 << self.minishard_bits) - 1))

    def locate_array(self, cids):
        """``(shards, minishards)`` arrays (uint64) of an array of chunk ids."""
        v = np.asarray(cids, dtype=np.uint64)
        v = v >> np.uint64(self.preshift_bits) if self.preshift_bits < 64 else np.zeros_like(v)
        if self.hash != "identity":
            v = murmurhash3_low64_array(v)
        m = self.minishard_bits
        mini = v & np.uint64((1 << m) - 1)
        shard = (v >> np.uint64(m)) if m < 64 else np.zeros_like(v)
        return shard & np.uint64((1 << self.shard_bits) - 1), mini

    def shard_name(self, shard):
        """``"{shard:0{ceil(shard_bits/4)}x}.shard"``."""
        shard = int(shard)
        if not 0 <= shard < self.num_shards:
            raise InvalidParameterError(f"shard {shard} is outside [0, {self.num_shards})")
        return f"{shard:0{(self.shard_bits + 3) // 4}x}.shard"

    def parse_shard_name(self, name):
        """The shard number of file name *name*, or None when it is not one
        of this spec's shard names."""
        stem, dot, ext = name.rpartition(".")
        if ext != "shard" or not dot or not stem or any(c not in "0123456789abcdef" for c in stem):
            return None
        shard = int(stem, 16)
        if shard >= self.num_shards or self.shard_name(shard) != name:
            return None
        return shard


# ---------------------------------------------------------------- decoding

def _fail(what, message):
    raise InvalidFormatError(f"{what}: {message}")


def decode_shard_index_entry(raw16, minishard, spec, file_size, what):
    """The absolute byte range ``(start, end)`` of a minishard index from its
    16-byte shard index entry, checked against *file_size*."""
    if len(raw16) != 16:
        _fail(what, f"shard index entry of minishard {minishard} is truncated "
                    f"({len(raw16)} of 16 bytes)")
    start = int.from_bytes(raw16[:8], "little")
    end = int.from_bytes(raw16[8:], "little")
    return _check_index_range(start, end, minishard, spec, file_size, what)


def _check_index_range(start, end, minishard, spec, file_size, what):
    base = spec.shard_index_bytes
    if start > end:
        _fail(what, f"minishard {minishard}: shard index range [{start}, {end}) ends before "
                    "it starts")
    if base + end > file_size:
        _fail(what, f"minishard {minishard}: minishard index range [{base + start}, {base + end})"
                    f" is past the end of the {file_size}-byte shard file")
    return base + start, base + end


def decode_shard_index(data, spec, file_size, what):
    """All ``2**minishard_bits`` absolute minishard index ranges, as an
    ``(n, 2)`` uint64 array, checked against *file_size* (one error for the
    first bad entry)."""
    n = spec.num_minishards
    if len(data) != 16 * n:
        _fail(what, f"shard index is truncated ({len(data)} of {16 * n} bytes)")
    arr = np.frombuffer(data, dtype="<u8").reshape(n, 2).astype(np.uint64)
    base = spec.shard_index_bytes
    limit = np.uint64(max(file_size - base, 0))
    bad = np.nonzero((arr[:, 0] > arr[:, 1]) | (arr[:, 1] > limit))[0]
    if len(bad):
        m = int(bad[0])
        _check_index_range(int(arr[m, 0]), int(arr[m, 1]), m, spec, file_size, what)
    return arr + np.uint64(base)


class MinishardIndex(NamedTuple):
    """A decoded minishard index: chunk ids (strictly increasing) and the
    absolute byte range of each chunk's data (uint64 arrays)."""
    chunk_ids: np.ndarray
    starts: np.ndarray
    sizes: np.ndarray
    gzip_was_zlib: bool = False

    def find(self, cid):
        """``(start, size)`` of chunk *cid*, or None."""
        ids = self.chunk_ids
        i = int(np.searchsorted(ids, np.uint64(cid)))
        if i < len(ids) and int(ids[i]) == cid:
            return int(self.starts[i]), int(self.sizes[i])
        return None

    @property
    def nbytes(self):
        return 24 * len(self.chunk_ids)


def decode_minishard_index(data, minishard, spec, file_size, what, max_bytes, *,
                           index_range=None, shard=None, over=None):
    """A :class:`MinishardIndex` from the stored bytes of minishard
    *minishard*'s index: inflated (gzip; a zlib stream is accepted and
    flagged) under *max_bytes*, its ids strictly increasing and every data
    range inside the *file_size*-byte file.

    *index_range*: the absolute ``(start, end)`` of this index in the file;
    a chunk's data may not overlap it. *shard*: the shard the index was read
    from; every chunk id must hash to that shard and *minishard* (else no
    reader could find it: the index is damaged). Both checks are skipped
    when None (:meth:`~.sharded.ShardedStore.check_shard` reports those
    problems per chunk instead). *over*: what inflating past *max_bytes*
    raises (see :func:`~.storage.inflate`)."""
    where = f"{what}: minishard {minishard}"
    zlib_stream = False
    if spec.minishard_index_encoding == "gzip":
        zlib_stream = len(data) > 0 and not is_gzip(data)
        data = inflate(data, max_bytes, f"{where}: minishard index", over=over)
    if len(data) % 24:
        _fail(where, f"minishard index is {len(data)} bytes, not a multiple of 24")
    n = len(data) // 24
    arr = np.frombuffer(data, dtype="<u8").reshape(3, n)
    fs = np.uint64(file_size)
    with np.errstate(over="ignore"):
        ids = np.cumsum(arr[0], dtype=np.uint64)
        deltas, sizes = arr[1].astype(np.uint64), arr[2].astype(np.uint64)
        if n > 1:
            # A wrap of the running sum shows as a decrease, so this also
            # catches deltas that overflow uint64.
            bad = np.nonzero(ids[1:] <= ids[:-1])[0]
            if len(bad):
                i = int(bad[0]) + 1
                what_kind = "a duplicate" if int(arr[0, i]) == 0 else "not increasing (unsorted)"
                _fail(where, f"minishard index entry {i}: chunk id {int(ids[i])} is {what_kind}"
                             f" (previous {int(ids[i - 1])})")
        big = np.nonzero((deltas > fs) | (sizes > fs))[0]
        if len(big):
            i = int(big[0])
            _fail(where, f"chunk {int(ids[i])}: data offset delta {int(deltas[i])} or size "
                         f"{int(sizes[i])} is past the end of the {file_size}-byte shard file")
        ends = np.cumsum(deltas + sizes, dtype=np.uint64) + np.uint64(spec.shard_index_bytes)
    # Terms are each below 2**63 (file sizes are): a wrap of the sums shows
    # as a decrease, and every end at most the file size bounds all ranges.
    if n:
        dec = np.nonzero(ends[1:] < ends[:-1])[0] if n > 1 else []
        past = np.nonzero(ends > fs)[0]
        if len(dec) or len(past) or int(ends[0]) < spec.shard_index_bytes:
            i = int(dec[0]) + 1 if len(dec) else int(past[0]) if len(past) else 0
            _fail(where, f"chunk {int(ids[i])}: data range ends past the end of the "
                         f"{file_size}-byte shard file (or wraps around)")
    starts = ends - sizes
    if n and index_range is not None:
        # Ranges of one minishard are in order and disjoint by construction
        # (offsets are unsigned deltas from the previous end); the index
        # itself is the one other range a reader of this minishard sees.
        lo, hi = np.uint64(index_range[0]), np.uint64(index_range[1])
        hit = np.nonzero((sizes > 0) & (starts < hi) & (ends > lo))[0]
        if len(hit):
            i = int(hit[0])
            _fail(where, f"chunk {int(ids[i])}: data range [{int(starts[i])}, {int(ends[i])}) "
                         f"overlaps the minishard index [{index_range[0]}, {index_range[1]})")
    if n and shard is not None:
        s_arr, m_arr = spec.locate_array(ids)
        wrong = np.nonzero((s_arr != np.uint64(shard)) | (m_arr != np.uint64(minishard)))[0]
        if len(wrong):
            i = int(wrong[0])
            _fail(where, f"chunk id {int(ids[i])} hashes to shard {int(s_arr[i])} minishard "
                         f"{int(m_arr[i])}, not to this one (damaged minishard index)")
    return MinishardIndex(ids, starts, sizes, zlib_stream)


# ---------------------------------------------------------------- encoding

def encode_minishard_index(ids, starts, sizes, index_end, encoding):
    """The stored bytes of a minishard index of chunks *ids* (increasing)
    at absolute *starts* with *sizes*, data ranges in increasing order."""
    ids = np.asarray(ids, dtype=np.uint64)
    starts = np.asarray(starts, dtype=np.uint64)
    sizes = np.asarray(sizes, dtype=np.uint64)
    n = len(ids)
    arr = np.empty((3, n), dtype="<u8")
    if n:
        arr[0, 0] = ids[0]
        arr[0, 1:] = ids[1:] - ids[:-1]
        prev_end = np.empty(n, dtype=np.uint64)
        prev_end[0] = index_end
        prev_end[1:] = starts[:-1] + sizes[:-1]
        arr[1] = starts - prev_end
        arr[2] = sizes
    raw = arr.tobytes()
    return gzip_bytes(raw) if encoding == "gzip" else raw


def encode_shard(spec, chunks):
    """The bytes of one shard file holding *chunks* ``{chunk_id: stored
    bytes}`` (already in ``data_encoding``). Per minishard, in increasing
    minishard order: its chunks' data in increasing id order, then its
    minishard index."""
    index_bytes = spec.shard_index_bytes
    if index_bytes > MAX_SHARD_INDEX_WRITE_BYTES:
        raise InvalidParameterError(
            f"minishard_bits = {spec.minishard_bits}: a {index_bytes}-byte shard index is too "
            "large to write")
    by_minishard = {}
    for cid in sorted(chunks):
        by_minishard.setdefault(spec.locate(cid)[1], []).append(cid)
    index = np.zeros((spec.num_minishards, 2), dtype="<u8")
    parts = [None]
    pos = index_bytes
    for m in sorted(by_minishard):
        ids = by_minishard[m]
        starts, sizes = [], []
        for cid in ids:
            data = chunks[cid]
            starts.append(pos)
            sizes.append(len(data))
            parts.append(data)
            pos += len(data)
        mi = encode_minishard_index(ids, starts, sizes, index_bytes, spec.minishard_index_encoding)
        index[m] = (pos - index_bytes, pos - index_bytes + len(mi))
        parts.append(mi)
        pos += len(mi)
    # Empty minishards: an empty range at the end of the previous one.
    ends = index[:, 1].copy()
    filled = np.maximum.accumulate(ends)
    empty = index[:, 0] == index[:, 1]
    index[empty, 0] = filled[empty]
    index[empty, 1] = filled[empty]
    parts[0] = index.tobytes()
    return b"".join(parts)


def grid_shape_of(size, chunk_size):
    """``ceil(size / chunk_size)`` per axis."""
    return tuple(max(1, math.ceil(int(s) / int(c))) for s, c in zip(size, chunk_size))
