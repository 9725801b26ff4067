"""The precomputed ``info`` file: validation and the per-scale geometry.

>>> info = validate_info(json.loads(text), "gs://bucket/ds/info")
>>> scale = Scale(info, 0)
>>> scale.key, scale.size, scale.chunk_size, scale.grid_shape

Validation raises :class:`~ngcodec.InvalidInfoError` naming the file and the
key at fault (``info: scales[1].chunk_sizes[0]: ...``). The validated info is
a deep copy with defaults filled in (``voxel_offset`` [0, 0, 0], sharding
encodings "raw"); unknown keys (mesh, skeletons, segment_properties...) are
kept as they are.
"""

import copy
import json
import math
import numbers
import re

import numpy as np

from ..errors import InvalidInfoError, NgcodecError
from .shard_format import ShardingSpec
from .storage import check_key

__all__ = ["DATA_TYPES", "ENCODINGS", "validate_info", "validate_sharding", "Scale",
           "parse_info", "dump_info", "parse_box", "InfoExistsError"]

DATA_TYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "float32")
ENCODINGS = ("raw", "compressed_segmentation", "jpeg")
VOLUME_TYPES = ("image", "segmentation")


class InfoExistsError(NgcodecError, FileExistsError):
    """create() found a different info at the path (pass overwrite=True)."""


def _int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _fail(where, key, text):
    return InvalidInfoError(f"{where}: {key}: {text}")


def _triple(value, where, key, minimum=None, number=False):
    ok = _int if not number else (lambda v: isinstance(v, numbers.Real)
                                  and not isinstance(v, bool) and math.isfinite(v))
    if not isinstance(value, (list, tuple)) or len(value) != 3 or not all(ok(v) for v in value):
        kind = "numbers" if number else "integers"
        raise _fail(where, key, f"must be a list of 3 {kind} [x, y, z], got {value!r}")
    if minimum is not None and any(v < minimum if not number else v <= 0 for v in value):
        bound = "positive" if number or minimum == 1 else f">= {minimum}"
        raise _fail(where, key, f"must be {bound}, got {value!r}")
    return [int(v) for v in value] if not number else [v for v in value]


def validate_sharding(sharding, where="info", key="sharding"):
    """A checked copy of a ``neuroglancer_uint64_sharded_v1`` spec, with the
    encodings' defaults ("raw") filled in (:class:`~.shard_format.ShardingSpec`
    is the one validator)."""
    return ShardingSpec.from_json(sharding, where=f"{where}: {key}").to_json()


def _validate_scale(scale, i, info, where):
    k = f"scales[{i}]"
    if not isinstance(scale, dict):
        raise _fail(where, k, f"must be an object, got {type(scale).__name__}")
    s = copy.deepcopy(scale)
    key = s.get("key")
    if not isinstance(key, str) or not key:
        raise _fail(where, f"{k}.key", f"must be a non-empty string, got {key!r}")
    try:
        check_key(key.strip("/"))
    except NgcodecError:
        raise _fail(where, f"{k}.key", f"{key!r} is not a relative path inside the dataset") from None
    s["size"] = _triple(s.get("size"), where, f"{k}.size", 1)
    s["resolution"] = _triple(s.get("resolution"), where, f"{k}.resolution", number=True,
                              minimum=0)
    s["voxel_offset"] = _triple(s.get("voxel_offset", [0, 0, 0]), where, f"{k}.voxel_offset")
    chunk_sizes = s.get("chunk_sizes")
    if not isinstance(chunk_sizes, list) or not chunk_sizes:
        raise _fail(where, f"{k}.chunk_sizes", f"must be a non-empty list of [x, y, z], got "
                    f"{chunk_sizes!r}")
    s["chunk_sizes"] = [_triple(c, where, f"{k}.chunk_sizes[{j}]", 1)
                        for j, c in enumerate(chunk_sizes)]
    cx, cy, cz = s["chunk_sizes"][0]
    voxels = cx * cy * cz * info["num_channels"] * np.dtype(info["data_type"]).itemsize
    if voxels >= 1 << 32:
        raise _fail(where, f"{k}.chunk_sizes[0]", f"a chunk of {s['chunk_sizes'][0]} with "
                    f"{info['num_channels']} channel(s) is {voxels} bytes, past the 4 GiB "
                    "the codecs address")
    enc = s.get("encoding")
    if enc not in ENCODINGS:
        raise _fail(where, f"{k}.encoding", f"must be one of {', '.join(ENCODINGS)}, got {enc!r}")
    if enc == "compressed_segmentation":
        if info["data_type"] not in ("uint32", "uint64"):
            raise _fail(where, f"{k}.encoding", "compressed_segmentation needs data_type uint32 "
                        f"or uint64, got {info['data_type']}")
        s["compressed_segmentation_block_size"] = _triple(
            s.get("compressed_segmentation_block_size"), where,
            f"{k}.compressed_segmentation_block_size", 1)
    elif enc == "jpeg":
        if info["data_type"] != "uint8":
            raise _fail(where, f"{k}.encoding", f"jpeg needs data_type uint8, got {info['data_type']}")
        if info["num_channels"] not in (1, 3):
            raise _fail(where, f"{k}.encoding", f"jpeg needs 1 or 3 channels, got {info['num_channels']}")
        q = s.get("jpeg_quality")
        if q is not None and (not _int(q) or not 1 <= q <= 100):
            raise _fail(where, f"{k}.jpeg_quality", f"must be an integer in [1, 100], got {q!r}")
    if s.get("sharding") is not None:
        s["sharding"] = validate_sharding(s["sharding"], where, f"{k}.sharding")
    return s


def validate_info(info, where="info"):
    """A checked deep copy of *info* (a dict); *where* names the file in
    messages."""
    if not isinstance(info, dict):
        raise InvalidInfoError(f"{where}: must be a JSON object, got {type(info).__name__}")
    out = copy.deepcopy(info)
    t = out.get("@type", "neuroglancer_multiscale_volume")
    if t != "neuroglancer_multiscale_volume":
        raise _fail(where, "@type", f"must be 'neuroglancer_multiscale_volume', got {t!r}")
    if out.get("type") not in VOLUME_TYPES:
        raise _fail(where, "type", f"must be image or segmentation, got {out.get('type')!r}")
    if out.get("data_type") not in DATA_TYPES:
        raise _fail(where, "data_type", f"must be one of {', '.join(DATA_TYPES)}, got "
                    f"{out.get('data_type')!r}")
    n = out.get("num_channels")
    if not _int(n) or not 1 <= n < 1 << 32:
        raise _fail(where, "num_channels", f"must be a positive integer, got {n!r}")
    out["num_channels"] = int(n)
    scales = out.get("scales")
    if not isinstance(scales, list) or not scales:
        raise _fail(where, "scales", f"must be a non-empty list, got {scales!r}")
    out["scales"] = [_validate_scale(s, i, out, where) for i, s in enumerate(scales)]
    keys = [s["key"] for s in out["scales"]]
    for i, key in enumerate(keys):
        if key in keys[:i]:
            raise _fail(where, f"scales[{i}].key", f"{key!r} is also the key of scales"
                        f"[{keys.index(key)}]")
    return out


def parse_info(data, where="info"):
    """The validated info of the bytes of an info file."""
    try:
        info = json.loads(data)
    except (UnicodeDecodeError, ValueError) as e:
        raise InvalidInfoError(f"{where}: not valid JSON ({e})") from None
    return validate_info(info, where)


def dump_info(info):
    """The bytes of an info file (2-space indented JSON, newline-terminated)."""
    return (json.dumps(info, indent=2) + "\n").encode()


class Scale:
    """One scale's geometry, from a validated info.

    Coordinates are absolute voxels, x first: the scale covers
    ``[voxel_offset, voxel_offset + size)``; the chunk grid starts at
    ``voxel_offset`` and chunks at the far edge are clipped to the bounds.
    """

    __slots__ = ("info", "index", "scale_info", "key", "size", "voxel_offset", "chunk_size",
                 "encoding", "block_size", "sharding", "dtype", "num_channels", "grid_shape",
                 "lower", "upper", "resolution")

    def __init__(self, info, index):
        self.info = info
        self.index = index
        s = self.scale_info = info["scales"][index]
        self.key = s["key"].strip("/")
        self.size = tuple(s["size"])
        self.voxel_offset = tuple(s["voxel_offset"])
        self.resolution = tuple(s["resolution"])
        self.chunk_size = tuple(s["chunk_sizes"][0])
        self.encoding = s["encoding"]
        self.block_size = (tuple(s["compressed_segmentation_block_size"])
                           if self.encoding == "compressed_segmentation" else None)
        self.sharding = s.get("sharding")
        self.dtype = np.dtype(info["data_type"]).newbyteorder("<")
        self.num_channels = info["num_channels"]
        self.grid_shape = tuple(-(-n // c) for n, c in zip(self.size, self.chunk_size))
        self.lower = self.voxel_offset
        self.upper = tuple(o + n for o, n in zip(self.voxel_offset, self.size))

    def chunk_box(self, grid):
        """The absolute (lower, upper) corners of the chunk at grid position
        *grid* (x, y, z), clipped to the bounds."""
        lo = tuple(o + g * c for o, g, c in zip(self.voxel_offset, grid, self.chunk_size))
        hi = tuple(min(a + c, u) for a, c, u in zip(lo, self.chunk_size, self.upper))
        return lo, hi

    def chunk_shape(self, grid):
        """The (x, y, z) shape of the chunk at *grid* (clipped at the far edge)."""
        lo, hi = self.chunk_box(grid)
        return tuple(b - a for a, b in zip(lo, hi))

    def chunk_name(self, grid):
        """The unsharded file key ``{key}/{x0}-{x1}_{y0}-{y1}_{z0}-{z1}``."""
        (x0, y0, z0), (x1, y1, z1) = self.chunk_box(grid)
        return f"{self.key}/{x0}-{x1}_{y0}-{y1}_{z0}-{z1}"

    def grid_of(self, name):
        """The grid position of the chunk named *name* (``x0-x1_y0-y1_z0-z1``,
        without the scale key), or None when that is not exactly one of this
        scale's chunks (on its grid, clipped at the far edge as the chunk
        names of Neuroglancer)."""
        box = parse_box(name)
        if box is None:
            return None
        lo, hi = box
        grid = tuple((a - o) // c for a, o, c in zip(lo, self.voxel_offset, self.chunk_size))
        if any(g < 0 or g >= n for g, n in zip(grid, self.grid_shape)):
            return None
        return grid if self.chunk_box(grid) == (lo, hi) else None


_BOX_NAME = re.compile(r"(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)")


def parse_box(name):
    """``((x0, y0, z0), (x1, y1, z1))`` of a name written as a chunk's
    (``x0-x1_y0-y1_z0-z1``), or None."""
    m = _BOX_NAME.fullmatch(name)
    if m is None:
        return None
    v = [int(g) for g in m.groups()]
    return (v[0], v[2], v[4]), (v[1], v[3], v[5])
