"""Argument checks shared by the codec modules (sizes, dtypes, buffers)."""

import operator
import numpy as np

from .errors import error_for_status

# Every data type a Neuroglancer precomputed volume may declare.
PRECOMPUTED_DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32",
                      "uint64", "float32")


def param_error(what, detail):
    """An invalid argument: NGC_ERR_BAD_PARAMS, raised before the module is
    called, worded as the JS host words it."""
    return error_for_status("NGC_ERR_BAD_PARAMS", what, f": {detail}")


def xyz(value, name, minimum, what):
    """A 3-sequence of ints >= minimum, as a tuple (x, y, z); *name* is the
    argument in words ("chunk size")."""
    if type(value) is tuple and len(value) == 3:
        x, y, z = value  # the common case, checked without copying
        if (type(x) is int and type(y) is int and type(z) is int
                and minimum <= x < 1 << 32 and minimum <= y < 1 << 32 and minimum <= z < 1 << 32):
            return value
    try:  # operator.index: integers only (numpy ones too), never 64.5 -> 64
        values = tuple(operator.index(v) for v in value)
    except (TypeError, ValueError):
        raise param_error(what, f"{name} must be 3 integers (x, y, z), got {_shown(value)}") from None
    if len(values) != 3 or any(v < minimum or v >= 1 << 32 for v in values):
        raise param_error(
            what, f"{name} must be 3 integers (x, y, z) in [{minimum}, 2**32), got {_shown(value)}")
    return values


def _shown(value):
    """Sequences as tuples, so both hosts print (0, 8, 8) for [0, 8, 8]."""
    if isinstance(value, (list, np.ndarray)):
        return repr(tuple(v.item() if isinstance(v, np.generic) else v for v in value))
    return repr(value)


def channels(num_channels, what):
    if type(num_channels) is int and 1 <= num_channels < 1 << 32:
        return num_channels
    if isinstance(num_channels, bool) or not isinstance(num_channels, (int, np.integer)) \
            or not 1 <= num_channels < 1 << 32:
        raise param_error(what, f"number of channels must be a positive integer, "
                                f"got {_shown(num_channels)}")
    return int(num_channels)


_LITTLE_ENDIAN = {}


def little_endian(dtype, allowed, what):
    """*dtype* as a little-endian NumPy dtype, if its name is in *allowed*."""
    key = (dtype, allowed)
    try:
        return _LITTLE_ENDIAN[key]
    except (KeyError, TypeError):  # TypeError: an unhashable dtype-like
        pass
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise param_error(what, f"unknown dtype {dtype!r}") from None
    if dt.name not in allowed:
        raise param_error(what, f"dtype {dt.name} is not supported (use one of {', '.join(allowed)})")
    dt = dt.newbyteorder("<")
    try:
        _LITTLE_ENDIAN[key] = dt
    except TypeError:
        pass
    return dt


def array_4d(array, what):
    """*array* as a (C, Z, Y, X) array; a (Z, Y, X) one gains a channel axis."""
    a = np.asarray(array)
    if a.ndim == 3:
        a = a[np.newaxis]
    if a.ndim != 4:
        raise param_error(what, f"expected a 3-D or 4-D array, got {a.ndim}-D")
    return a


def as_bytes(buf, what):
    """*buf* as bytes, or as a contiguous uint8 array for other bytes-likes
    (both are what Instance.write takes)."""
    if type(buf) is bytes:
        return buf
    try:
        view = memoryview(buf)
    except TypeError:
        raise TypeError(f"{what}: expected a bytes-like object, got {type(buf).__name__}") from None
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    return np.frombuffer(view.cast("B") if view.format != "B" or view.ndim != 1 else view,
                         dtype=np.uint8)


def output_array(out, shape, dtype, what):
    """*out* checked to take a decoded chunk (any writable view of that
    shape and dtype), or a new array."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != dtype \
            or not out.flags.writeable:
        raise param_error(what, f"out must be a writable {dtype} array of shape {shape}")
    return out


# Linear memory is 32-bit: no decoded chunk can reach 4 GiB.
MAX_DECODED_BYTES = (1 << 32) - 1


def decoded_nbytes(num_channels, chunk_size, itemsize, what):
    """Bytes of the decoded chunk; NGC_ERR_TOO_LARGE past the wasm32 bound."""
    x, y, z = chunk_size
    nbytes = num_channels * x * y * z * itemsize
    if nbytes > MAX_DECODED_BYTES:
        raise error_for_status("NGC_ERR_TOO_LARGE", what, f" ({nbytes:,} bytes)")
    return nbytes
