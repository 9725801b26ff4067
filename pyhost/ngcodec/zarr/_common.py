"""What the numcodecs and the zarr v3 codecs share: the block shape
parameter and the (Z, Y, X) / (C, Z, Y, X) axis mapping."""

import operator

import numpy as np

DTYPES = ("uint32", "uint64")
DEFAULT_BLOCK_SHAPE = (8, 8, 8)


def block_shape(value, what):
    """*value* as a tuple of three ints >= 1 (z, y, x)."""
    try:
        shape = tuple(operator.index(v) for v in value)
    except TypeError:
        raise ValueError(f"{what}: block_shape must be 3 positive integers (z, y, x), "
                         f"got {value!r}") from None
    if len(shape) != 3 or any(v < 1 or v >= 1 << 32 for v in shape):
        raise ValueError(f"{what}: block_shape must be 3 positive integers (z, y, x), "
                         f"got {value!r}")
    return shape


def dtype_of(value, what):
    """A uint32 or uint64 dtype (native byte order), or ValueError."""
    try:
        dt = np.dtype(value)
    except TypeError:
        raise ValueError(f"{what}: unknown dtype {value!r}") from None
    if dt.name not in DTYPES:
        raise ValueError(f"{what}: dtype {dt.name} is not supported "
                         f"(compressed_segmentation holds uint32 or uint64 labels)")
    return dt


def geometry(shape, what):
    """``(chunk_size (x, y, z), num_channels)`` of a (Z, Y, X) or
    (C, Z, Y, X) chunk shape."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 3:
        z, y, x = shape
        return (x, y, z), 1
    if len(shape) == 4:
        c, z, y, x = shape
        return (x, y, z), c
    raise ValueError(f"{what}: expected 3 axes (z, y, x) or 4 (c, z, y, x), "
                     f"got {len(shape)} (shape {shape})")
