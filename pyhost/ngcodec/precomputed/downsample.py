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
  first run that is strictly longer than every earlier one): for integers,
  always tensorstore's answer. float32 values are compared as numbers:
  -0.0 and +0.0 count as one value, written +0.0 (tensorstore writes
  whichever its sort left last, so a block of -0.0 gives -0.0 there), and
  every NaN counts as one value above +inf (tensorstore's sort with NaN
  depends on the voxels' order and NaN never equals NaN there: [1, NaN,
  NaN] gives 1 there, NaN here). These two float32 cases are the only
  differences; tests/test_downsample.py pins them.
- ``mean`` on integers: the exact sum (no overflow, 64-bit values included)
  divided by the number of voxels, rounded to the nearest integer, ties to
  even (1.5 -> 2, 2.5 -> 2, -1.5 -> -2, -2.5 -> -2), as tensorstore rounds.
- ``mean`` on float32: tensorstore sums in float32, in the block's raster
  order (z, then y, then x fastest), and divides by the count as float32;
  so do we (so the result is bit-identical, and two huge values can
  overflow to inf as they do in tensorstore).

The work is done by the module's ``ngc_downsample`` (wasm_src/downsample.c);
the tests hold the NumPy reference it is checked against.
"""

import numpy as np

from .. import _geometry as geo
from .. import runtime
from ..limits import resolve
from ..runtime import downsample as rt

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


_KINDS = {"u": rt.KIND_UNSIGNED, "i": rt.KIND_SIGNED, "f": rt.KIND_FLOAT}


def _check(array, factors, method):
    a = geo.array_4d(array, _WHAT)
    dtype = geo.little_endian(a.dtype, geo.PRECOMPUTED_DTYPES, _WHAT)
    if isinstance(factors, (str, bytes)) or not hasattr(factors, "__len__"):
        raise geo.param_error(_WHAT, f"factors must be 3 integers (x, y, z), got {factors!r}")
    factors = geo.xyz(factors, "factors", 1, _WHAT)
    if not isinstance(method, str) or method not in METHODS:
        raise geo.param_error(_WHAT, f"method must be 'mode' or 'mean', got {method!r}")
    return a, dtype, factors


def downsample(array, factors, method, *, limits=None):
    """Downsamples a (C, Z, Y, X) or (Z, Y, X) array of a precomputed dtype
    by *factors* (fx, fy, fz) with *method* "mode" or "mean"; returns a new
    (C, ceil(Z/fz), ceil(Y/fy), ceil(X/fx)) array of the same dtype (a 3-D
    input gives a 4-D output with one channel). See the module's docstring
    for the rules. Bad arguments raise
    :class:`~ngcodec.errors.InvalidParameterError`; *limits* as for the
    codecs (see :class:`ngcodec.Limits`)."""
    a, dtype, (fx, fy, fz) = _check(array, factors, method)
    c, z, y, x = a.shape
    out = np.empty((c, -(-z // fz), -(-y // fy), -(-x // fx)), a.dtype)
    nbytes = geo.decoded_nbytes(c, (x, y, z), dtype.itemsize, _WHAT)
    limits = resolve(limits)
    runtime.check_memory(limits, nbytes + out.nbytes, _WHAT)
    if out.size == 0:
        return out
    # The module writes little-endian values: a big-endian input gets a
    # little-endian twin of its dtype for the output buffer, then a cast.
    target = out if out.dtype == dtype else np.empty(out.shape, dtype)
    rt.downsample(a, dtype, _KINDS[dtype.kind], (fx, fy, fz),
                  rt.MODE if method == "mode" else rt.MEAN, target, what=_WHAT, limits=limits)
    if target is not out:
        out[...] = target
    return out
