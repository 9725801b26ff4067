"""What a conversion will write: the options checked, the info, the scales'
downsampling factors, and the work units of each scale.

Everything here runs before the first byte is written, so every error it
raises leaves OUTPUT untouched.
"""

import math
from bisect import bisect_right

import numpy as np

from ..errors import InvalidParameterError
from ..precomputed.info import DATA_TYPES, validate_info
from ..precomputed.sharded import propose_sharding, shard_boxes

__all__ = ["Plan", "make_plan", "tiles", "unit_shape", "parent_unit_shape", "nest",
           "DEFAULT_MEMORY", "DEFAULT_SHARD_BYTES"]

DEFAULT_CHUNK = 64
DEFAULT_BLOCK = 8
DEFAULT_MEMORY = 512 << 20
DEFAULT_SHARD_BYTES = 128 << 20
MAX_SCALES = 32
TYPES = ("image", "segmentation")
ENCODINGS = ("raw", "compressed_segmentation", "jpeg")
METHODS = ("mode", "mean")


def _triple(value, name, number=False, minimum=1):
    if value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        value = (value,) * 3
    try:
        v = tuple(value)
    except TypeError:
        v = ()
    ok = (lambda x: isinstance(x, (int, float, np.integer, np.floating))
          and not isinstance(x, bool)) if number else \
        (lambda x: isinstance(x, (int, np.integer)) and not isinstance(x, bool))
    if len(v) != 3 or not all(ok(x) for x in v):
        kind = "numbers" if number else "integers"
        raise InvalidParameterError(f"{name} must be 3 {kind} (x, y, z) or one for all three, "
                                    f"got {value!r}")
    if number:
        if not all(math.isfinite(x) and x > 0 for x in v):
            raise InvalidParameterError(f"{name} must be positive, got {value!r}")
        return tuple(float(x) if not float(x).is_integer() else int(x) for x in v)
    if minimum is not None and any(x < minimum for x in v):
        raise InvalidParameterError(f"{name} must be >= {minimum}, got {value!r}")
    return tuple(int(x) for x in v)


def _key(resolution):
    return "_".join(str(int(r)) if float(r).is_integer() else f"{float(r):.10g}"
                    for r in resolution)


def downsample_module():
    """``ngcodec.precomputed.downsample``, imported when a plan needs it."""
    try:
        from ..precomputed import downsample
    except ImportError as e:
        raise InvalidParameterError(f"downsampling is not available ({e})") from None
    return downsample


def out_dtype(src_dtype, dtype, where):
    """The dataset's data type: *dtype*, or the source's (bool as uint8);
    checked to be one precomputed holds and castable from the source."""
    src = np.dtype(src_dtype)
    if dtype is None:
        out = np.dtype("uint8") if src == np.bool_ else src.newbyteorder("=")
        if out.name not in DATA_TYPES:
            raise InvalidParameterError(
                f"{where}: data type {src.name} is not one precomputed holds "
                f"({', '.join(DATA_TYPES)}); pass dtype= (--dtype) to cast it")
        return out
    try:
        out = np.dtype(dtype)
    except TypeError:
        raise InvalidParameterError(f"dtype: not a data type: {dtype!r}") from None
    if out.name not in DATA_TYPES:
        raise InvalidParameterError(f"dtype must be one of {', '.join(DATA_TYPES)}, got {dtype!r}")
    if not (np.can_cast(src, out, "same_kind") or (src.kind in "biu" and out.kind in "iu")):
        raise InvalidParameterError(
            f"{where}: cannot cast {src.name} values to {out.name} (only casts NumPy calls "
            "same_kind, and integers to integers when each value fits)")
    return out


class Plan:
    """The checked options: ``info`` (validated), per-scale ``factors``
    (``factors[i]`` makes scale ``i + 1`` from scale ``i``), ``method``,
    and the record's ``options`` (what --resume compares)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def units(self, index, unit=None):
        """The work units of scale *index*: boxes ``(lower, upper)`` relative
        to the scale's voxel_offset, each written by one Volume.write (one
        shard on sharded scales, chunk-aligned boxes of shape *unit*
        otherwise), in the order they are done."""
        s = self.info["scales"][index]
        size, off = s["size"], s["voxel_offset"]
        if s.get("sharding") is not None:
            out = []
            for boxes in shard_boxes(s, s["sharding"]).values():
                for lo, hi in boxes:
                    out.append((tuple(a - o for a, o in zip(lo, off)),
                                tuple(b - o for b, o in zip(hi, off))))
            return out
        order = self.order if index == 0 else (2, 1, 0)
        return tiles(size, unit, order)


def unit_shape(size, chunk, voxel_bytes, max_bytes, order):
    """The shape of chunk-aligned boxes of at most *max_bytes* (but at least
    one chunk), as large as possible along the fast axes: *order* lists the
    axes slowest first (cut first)."""
    u = [-(-n // c) * c for n, c in zip(size, chunk)]
    for a in order:
        total = math.prod(u) * voxel_bytes
        if total <= max_bytes:
            break
        other = total // u[a]
        u[a] = max(chunk[a], (max_bytes // max(1, other)) // chunk[a] * chunk[a])
    return tuple(u)


def parent_unit_shape(child, factors, chunk, size, child_size):
    """The smallest chunk-aligned unit shape of the next scale (*chunk*,
    *size*) whose units are each made of whole units of shape *child* (of
    the scale of size *child_size*, downsampled by *factors*), or None when
    the child units do not start on multiples of the factors."""
    out = []
    for u, f, c, n, m in zip(child, factors, chunk, size, child_size):
        whole = -(-n // c) * c
        if u >= m:  # one unit across this axis
            out.append(whole)
            continue
        if u % f:
            return None
        step = math.lcm(c, u // f)  # parent * f must be a multiple of u
        out.append(whole if step >= n else step)
    return tuple(out)


def nest(children, parents, factors, child_size):
    """For each unit of *parents* (boxes of the next scale), the indices of
    the units of *children* (boxes of the scale of size *child_size*,
    relative to its offset) that downsample by *factors* into it; None when
    some child does not start on multiples of the factors, does not end on
    them (or on the scale's end), or does not fall inside one parent."""
    starts = [sorted({p[0][a] for p in parents}) for a in range(3)]
    where = {tuple(p[0]): i for i, p in enumerate(parents)}
    out = [[] for _ in parents]
    for ci, (lo, hi) in enumerate(children):
        if any(a % f or (b % f and b != n) for a, b, f, n in zip(lo, hi, factors, child_size)):
            return None
        dlo = [a // f for a, f in zip(lo, factors)]
        dhi = [-(-b // f) for b, f in zip(hi, factors)]
        pi = where.get(tuple(starts[a][max(0, bisect_right(starts[a], dlo[a]) - 1)]
                             for a in range(3)))
        if pi is None or not all(p <= d and e <= q for p, q, d, e in
                                 zip(parents[pi][0], parents[pi][1], dlo, dhi)):
            return None
        out[pi].append(ci)
    return out


def tiles(size, shape, order, lower=(0, 0, 0)):
    """Boxes of *shape* covering ``[lower, lower + size)``, clipped; the last
    axis of *order* (the fastest) varies fastest."""
    ranges = [range(lo, lo + n, s) for lo, n, s in zip(lower, size, shape)]
    out = []

    def walk(depth, lo):
        if depth == 3:
            hi = tuple(min(a + s, b + n) for a, s, b, n in zip(lo, shape, lower, size))
            out.append((tuple(lo), hi))
            return
        a = order[depth]
        for v in ranges[a]:
            lo2 = list(lo)
            lo2[a] = v
            walk(depth + 1, lo2)

    walk(0, list(lower))
    return out


def make_plan(src, *, type=None, encoding=None, chunk_size=None, block_size=None,
              resolution=None, voxel_offset=None, scales=None, factors=None, downsample=None,
              sharded=False, gzip=False, dtype=None, jpeg_quality=None,
              shard_bytes=None):
    where = src.where
    X, Y, Z, C = src.shape
    dt = out_dtype(src.dtype, dtype, where)
    t = type or src.defaults.get("type") or (
        "segmentation" if dt.name in ("uint32", "uint64") else "image")
    if t not in TYPES:
        raise InvalidParameterError(f"type must be image or segmentation, got {t!r}")
    enc = encoding or ("compressed_segmentation" if t == "segmentation"
                       and dt.name in ("uint32", "uint64") else "raw")
    if enc not in ENCODINGS:
        raise InvalidParameterError(f"encoding must be one of {', '.join(ENCODINGS)}, got {enc!r}")
    if enc == "compressed_segmentation" and dt.name not in ("uint32", "uint64"):
        raise InvalidParameterError(
            f"{where}: compressed_segmentation holds uint32 or uint64 labels, the data is "
            f"{dt.name} (pass dtype='uint32' to cast, or use encoding raw)")
    if enc == "jpeg" and (dt.name != "uint8" or C not in (1, 3)):
        raise InvalidParameterError(
            f"{where}: jpeg holds uint8 with 1 or 3 channels, the data is {dt.name} with {C} "
            "channel(s)")
    if jpeg_quality is not None and (enc != "jpeg" or not isinstance(jpeg_quality, int)
                                     or not 1 <= jpeg_quality <= 100):
        raise InvalidParameterError(f"jpeg_quality must be an integer in [1, 100] with "
                                    f"encoding jpeg, got {jpeg_quality!r} ({enc})")
    method = downsample or ("mode" if t == "segmentation" else "mean")
    if method not in METHODS:
        raise InvalidParameterError(f"downsample must be mode or mean, got {method!r}")
    size = (X, Y, Z)
    chunk = _triple(chunk_size, "chunk_size") or tuple(min(DEFAULT_CHUNK, n) for n in size)
    block = _triple(block_size, "block_size") or tuple(min(DEFAULT_BLOCK, c) for c in chunk)
    res = _triple(resolution, "resolution", number=True) or \
        tuple(src.defaults.get("resolution", (1, 1, 1)))
    off = _triple(voxel_offset, "voxel_offset", minimum=None) or \
        tuple(src.defaults.get("voxel_offset", (0, 0, 0)))
    if scales is not None and (isinstance(scales, bool) or not isinstance(scales, int)
                               or not 1 <= scales <= MAX_SCALES):
        raise InvalidParameterError(f"scales must be an integer in [1, {MAX_SCALES}], got "
                                    f"{scales!r}")
    fixed = None
    if factors is not None:
        if isinstance(factors, (list, tuple)) and factors and isinstance(factors[0], (list, tuple)):
            fixed = [_triple(f, "factors") for f in factors]
        else:
            fixed = [_triple(factors, "factors")]
    if shard_bytes is None:
        shard_bytes = DEFAULT_SHARD_BYTES
    if isinstance(shard_bytes, bool) or not isinstance(shard_bytes, int) or shard_bytes < 1:
        raise InvalidParameterError(f"shard_bytes must be a positive integer, got {shard_bytes!r}")

    sizes, resolutions, offsets, steps = [size], [res], [off], []
    while len(sizes) < (scales or MAX_SCALES):
        cur = sizes[-1]
        if scales is None and all(n <= c for n, c in zip(cur, chunk)):
            break
        if fixed is not None:
            f = fixed[min(len(steps), len(fixed) - 1)]
        else:
            f = tuple(int(v) for v in downsample_module().default_factors(resolutions[-1]))
        new = tuple(-(-n // k) for n, k in zip(cur, f))
        if new == cur:
            if scales is not None:
                raise InvalidParameterError(
                    f"factors {f} do not shrink a scale of size {cur}: {scales} scales cannot "
                    "be made (fewer scales, or other factors)")
            break
        steps.append(f)
        sizes.append(new)
        resolutions.append(tuple(r * k for r, k in zip(resolutions[-1], f)))
        offsets.append(tuple(o // k for o, k in zip(offsets[-1], f)))
    if steps:
        downsample_module()  # present before anything is written

    scale_infos, keys = [], []
    for n, r, o in zip(sizes, resolutions, offsets):
        key = _key(r)
        while key in keys:
            key += "_"
        keys.append(key)
        s = {"key": key, "size": list(n), "resolution": list(r), "voxel_offset": list(o),
             "chunk_sizes": [list(chunk)], "encoding": enc}
        if enc == "compressed_segmentation":
            s["compressed_segmentation_block_size"] = list(block)
        if jpeg_quality is not None:
            s["jpeg_quality"] = jpeg_quality
        if sharded:
            s["sharding"] = propose_sharding(s, dt, C, target_shard_bytes=shard_bytes,
                                             data_encoding="gzip" if gzip else "raw")
        scale_infos.append(s)
    info = validate_info({"@type": "neuroglancer_multiscale_volume", "type": t,
                          "data_type": dt.name, "num_channels": C, "scales": scale_infos},
                         "info (to be written)")
    options = {"source": src.description, "axes": src.axes, "data_type": dt.name,
               "downsample": method, "factors": [list(f) for f in steps],
               "gzip": bool(gzip)}
    return Plan(info=info, dtype=dt, num_channels=C, factors=steps, method=method,
                gzip=bool(gzip), sharded=bool(sharded), options=options,
                order=src.slow_axes, jpeg_quality=jpeg_quality)
