"""Label arguments of the compressed-domain operations (label sets and
mappings), the mapping applied to decoded labels, and the error for a label
a mapping lacks."""

import array
import operator

import numpy as np

from . import _geometry as geo
from .errors import error_for_status


def _integers(values, what, name):
    """*values* (an int, a sequence or an array of ints) as a flat integer
    array (of Python ints when NumPy has no type for them all). Never via
    NumPy's own guess: a list that mixes ids past 2**63 with small ones
    would become float64 and lose bits."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "ui":
        return values.ravel()
    if isinstance(values, (int, np.integer)) and not isinstance(values, bool):
        values = [values]
    if isinstance(values, (list, tuple)) and values:
        try:  # exact (floats and strings refused), and ~10x faster than the loop below
            return np.frombuffer(array.array("Q", values), dtype=np.uint64)
        except TypeError:
            raise geo.param_error(what, f"{name} must be integers") from None
        except OverflowError:
            pass  # negative or past 64 bits: said below
    try:
        ints = [operator.index(v) for v in np.ravel(np.asarray(values, dtype=object))]
    except TypeError:
        raise geo.param_error(what, f"{name} must be integers") from None
    if all(0 <= v < 1 << 64 for v in ints):
        return np.array(ints, dtype=np.uint64)
    return np.array(ints, dtype=object)


def _check_range(a, dtype, what, name):
    if a.size and (a.min() < 0 or a.max() > (1 << (8 * dtype.itemsize)) - 1):
        bad = a.min() if a.min() < 0 else a.max()
        raise geo.param_error(what, f"{name} {int(bad)} does not fit in {dtype.name}")


def label_set(labels, dtype, what):
    """*labels* (one int or a sequence of them) as a sorted, unique uint64
    array; labels that *dtype* cannot hold are dropped (no voxel has them)."""
    a = _integers(labels, what, "labels")
    if a.size and a.min() < 0:
        raise geo.param_error(what, f"labels must be non-negative, got {int(a.min())}")
    a = a[a <= (1 << (8 * dtype.itemsize)) - 1] if a.size else a
    return np.unique(a.astype("<u8"))


def mapping(mapping, dtype, what):
    """``(keys, values)``: the mapping (a dict, or a pair of sequences) as
    uint64 arrays, keys sorted and unique. Keys given sorted are not sorted
    again, so a prepared mapping costs one pass per call."""
    if isinstance(mapping, dict):
        keys, values = list(mapping.keys()), list(mapping.values())
    else:
        try:
            keys, values = mapping
        except (TypeError, ValueError):
            raise geo.param_error(what, "mapping must be a dict or a pair (keys, values)") \
                from None
    k, v = _integers(keys, what, "mapping keys"), _integers(values, what, "mapping values")
    if k.shape != v.shape:
        raise geo.param_error(what, f"mapping has {k.size} keys but {v.size} values")
    _check_range(k, dtype, what, "mapping key")
    _check_range(v, dtype, what, "mapping value")
    k, v = k.astype("<u8"), v.astype("<u8")
    if k.size > 1 and not np.all(k[1:] > k[:-1]):
        order = np.argsort(k)  # duplicates must agree, so order among them is moot
        k, v = k[order], v[order]
        repeated = np.flatnonzero(k[1:] == k[:-1])
        if repeated.size:
            clash = repeated[v[repeated] != v[repeated + 1]]
            if clash.size:
                raise geo.param_error(what, f"mapping gives key {int(k[clash[0]])} two values")
            keep = np.ones(k.size, bool)
            keep[repeated + 1] = False
            k, v = k[keep], v[keep]
    return np.ascontiguousarray(k), np.ascontiguousarray(v)


def not_mapped(what, label):
    error = error_for_status("NGC_ERR_NOT_MAPPED", what,
                             f": label {label} (pass preserve_missing_labels=True to keep "
                             f"labels the mapping lacks)")
    error.label = label
    return error


def apply(keys, values, array, preserve_missing_labels, what):
    """Maps the labels of *array* in place (the decoded path)."""
    flat = array.reshape(-1)
    if keys.size == 0:
        hit = np.zeros(flat.shape, bool)
    else:
        pos = np.searchsorted(keys, flat).clip(0, keys.size - 1)
        hit = keys[pos] == flat
    if not preserve_missing_labels and not hit.all():
        raise not_mapped(what, int(flat[np.argmin(hit)]))
    if keys.size:
        flat[hit] = values[pos[hit]].astype(array.dtype)
    return array
