"""Downsampling a chunk-sized array, as tensorstore's ``downsample`` driver does.

>>> small = downsample(labels, (2, 2, 2), "mode")       # (C, Z, Y, X) -> halved
>>> default_factors((8, 8, 40))                        # (2, 2, 1)

The rules (checked against tensorstore 0.1.86's ``downsample`` driver; the
tests compare voxel for voxel):

- The output of a (C, Z, Y, X) array with factors (fx, fy, fz) is
  (C, ceil(Z/fz), ceil(Y/fy), ceil(X/fx)); each output voxel is computed from
  its block of fz * fy * fx input voxels. A block that the array's edge cuts
  (the size is not a multiple of the factor) uses only the voxels that exist:
  it is not padded.
- ``mode``: the most frequent value of the block. Ties go to the smallest
  value, which is what tensorstore does (it sorts the block and keeps the
  first run that is strictly longer than every earlier one). float32 values
  are compared as numbers (-0.0 and +0.0 count as one value) and every NaN
  counts as one value above +inf; tensorstore's std::sort makes the result
  of a block holding NaN depend on the order of its voxels, so blocks with
  NaN are the one documented difference.
- ``mean`` on integers: the exact sum (no overflow, 64-bit values included)
  divided by the number of voxels, rounded to the nearest integer, ties to
  even (1.5 -> 2, 2.5 -> 2, -1.5 -> -2, -2.5 -> -2), as tensorstore rounds.
- ``mean`` on float32: tensorstore sums in float32, in the block's raster
  order (z, then y, then x fastest), and divides by the count as float32;
  so do we (so the result is bit-identical, and two huge values can
  overflow to inf as they do in tensorstore).
"""

import numpy as np

from .. import _geometry as geo

__all__ = ["downsample", "default_factors", "METHODS"]

METHODS = ("mode", "mean")
_WHAT = "downsample"


def default_factors(resolution):
    """The factors (fx, fy, fz) of the next scale, from this scale's voxel
    *resolution* (x, y, z), in any one unit.

    The rule: (2, 2, 1) while halving x and y again (doubling their
    resolution) keeps them no coarser than z, that is while
    ``2 * max(rx, ry) <= rz``; otherwise (2, 2, 2). So an anisotropic stack
    (8, 8, 40 nm) gets (2, 2, 1) until x and y reach z's resolution (16, 32:
    then 64 > 40, so (2, 2, 2)), and an isotropic one always (2, 2, 2). This
    is igneous's and Neuroglancer's near-isotropic choice for the common
    case of z coarser than x and y.
    """
    try:
        rx, ry, rz = (float(r) for r in resolution)
    except (TypeError, ValueError):
        raise geo.param_error(_WHAT, f"resolution must be 3 numbers (x, y, z), "
                                     f"got {resolution!r}") from None
    if not all(r > 0 and np.isfinite(r) for r in (rx, ry, rz)):
        raise geo.param_error(_WHAT, f"resolution must be 3 positive numbers, got {resolution!r}")
    return (2, 2, 1) if 2 * max(rx, ry) <= rz else (2, 2, 2)


def _check(array, factors, method):
    a = geo.array_4d(array, _WHAT)
    dtype = geo.little_endian(a.dtype, geo.PRECOMPUTED_DTYPES, _WHAT)
    if not isinstance(factors, (tuple, list, np.ndarray)):
        raise geo.param_error(_WHAT, f"factors must be 3 integers (x, y, z), got {factors!r}")
    factors = geo.xyz(factors, "factors", 1, _WHAT)
    if method not in METHODS:
        raise geo.param_error(_WHAT, f"method must be 'mode' or 'mean', got {method!r}")
    return a, dtype, factors


def downsample(array, factors, method):
    """Downsamples a (C, Z, Y, X) or (Z, Y, X) array of a precomputed dtype
    by *factors* (fx, fy, fz) with *method* "mode" or "mean"; returns a new
    (C, ceil(Z/fz), ceil(Y/fy), ceil(X/fx)) array of the same dtype (a 3-D
    input gives a 4-D output with one channel). See the module's docstring
    for the rules."""
    a, dtype, factors = _check(array, factors, method)
    return reference(a.astype(dtype, copy=False), factors, method)


# -- the NumPy reference -----------------------------------------------------


def _regions(a, factors):
    """The array cut into at most 8 boxes of uniform block shape: yields
    (output slices, (C, oz, oy, ox, k) values of each block in raster order)."""
    fx, fy, fz = factors
    axes = []
    for n, f in ((a.shape[1], fz), (a.shape[2], fy), (a.shape[3], fx)):
        full = n // f
        parts = [(0, full * f, f, 0, full)] if full else []
        if n % f:
            parts.append((full * f, n, n % f, full, full + 1))
        axes.append(parts)
    c = a.shape[0]
    for z0, z1, bz, oz0, oz1 in axes[0]:
        for y0, y1, by, oy0, oy1 in axes[1]:
            for x0, x1, bx, ox0, ox1 in axes[2]:
                sub = a[:, z0:z1, y0:y1, x0:x1]
                nz, ny, nx = oz1 - oz0, oy1 - oy0, ox1 - ox0
                blocks = sub.reshape(c, nz, bz, ny, by, nx, bx).transpose(0, 1, 3, 5, 2, 4, 6)
                yield ((slice(None), slice(oz0, oz1), slice(oy0, oy1), slice(ox0, ox1)),
                       blocks.reshape(c, nz, ny, nx, bz * by * bx))


def _float_keys(v):
    """float32 values as uint32 keys in numeric order (-0.0 as +0.0, every
    NaN as one NaN above +inf), and back."""
    v = np.where(v == 0, np.float32(0), v)
    v = np.where(np.isnan(v), np.float32(np.nan), v).astype(np.float32)
    bits = v.view(np.uint32)
    return np.where(bits >> 31 == 1, ~bits, bits | np.uint32(0x80000000)).astype(np.uint32)


def _from_float_keys(k):
    bits = np.where(k >> 31 == 1, k & np.uint32(0x7FFFFFFF), ~k).astype(np.uint32)
    return bits.view(np.float32)


def _mode(v):
    """The most frequent value along the last axis; ties to the smallest."""
    is_float = v.dtype == np.float32
    if is_float:
        v = _float_keys(v)
    s = np.sort(v, axis=-1)
    k = s.shape[-1]
    counts = np.zeros(s.shape, np.int64)
    for j in range(k):
        counts += s == s[..., j:j + 1]
    best = np.argmax(counts, axis=-1)[..., np.newaxis]  # the first: the smallest value
    out = np.take_along_axis(s, best, axis=-1)[..., 0]
    return _from_float_keys(out) if is_float else out


def _mean(v):
    """The mean along the last axis, as tensorstore computes it."""
    n = v.shape[-1]
    if v.dtype == np.float32:
        acc = v[..., 0].copy()
        for j in range(1, n):  # float32 sums in raster order
            acc = acc + v[..., j]
        return acc / np.float32(n)
    if v.dtype.itemsize < 8:
        total = v.astype(np.int64).sum(axis=-1)
    else:  # exact: Python integers
        total = v.astype(object).sum(axis=-1)
    q = total // n  # floor division: 0 <= r < n
    r = total - q * n
    rounded = q + ((2 * r + (q & 1)) > n)  # nearest, ties to even
    return np.asarray(rounded).astype(v.dtype)


def reference(a, factors, method):
    """The NumPy implementation of :func:`downsample` on a (C, Z, Y, X)
    array (no argument checks)."""
    fx, fy, fz = factors
    c, z, y, x = a.shape
    out = np.empty((c, -(-z // fz), -(-y // fy), -(-x // fx)), a.dtype)
    reduce = _mode if method == "mode" else _mean
    for where, values in _regions(a, factors):
        out[where] = reduce(values)
    return out
