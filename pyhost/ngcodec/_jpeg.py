"""JPEG chunks through Pillow, as neuroglancer-scripts does: the chunk is
flattened into one image (xy: Z*Y rows of X pixels; xz: Z rows of Y*X)."""

import io

import numpy as np

from .errors import InvalidFormatError

_MODES = {1: "L", 3: "RGB"}


def encode_chunk(chunk, quality, plane, progressive=True):
    """*progressive*: progressive with optimized Huffman tables, as
    neuroglancer-scripts writes; otherwise baseline with the standard
    tables, as tensorstore (libjpeg's defaults) writes (docs/DATASETS.md
    says what each costs)."""
    import PIL.Image

    c, z, y, x = chunk.shape
    rows, cols = (z * y, x) if plane == "xy" else (z, y * x)
    image = np.ascontiguousarray(chunk, dtype=np.uint8).reshape(c, rows, cols)
    image = image[0] if c == 1 else np.moveaxis(image, 0, -1)
    out = io.BytesIO()
    # No chroma subsampling: it smears colours across odd-sized chunk edges.
    PIL.Image.fromarray(image).save(out, format="jpeg", quality=quality,
                                    optimize=progressive, progressive=progressive,
                                    subsampling=0)
    return out.getvalue()


def decode_chunk(buf, chunk_size, num_channels):
    import PIL.Image

    x, y, z = chunk_size
    try:
        image = PIL.Image.open(io.BytesIO(buf))  # reads the header only
        expected_mode = _MODES.get(num_channels)
        if image.mode != expected_mode:
            raise InvalidFormatError(
                f"The JPEG chunk is encoded with mode={image.mode} instead of {expected_mode}")
        # Check the header's size before decoding: a small file can declare
        # a huge image.
        width, height = image.size
        if width * height != x * y * z:
            raise InvalidFormatError(
                f"The JPEG-encoded chunk has an incompatible shape ({width * height} "
                f"elements, expecting {x * y * z})")
        image.load()
    except InvalidFormatError:
        raise
    except Exception as exc:  # Pillow raises many types for bad data
        raise InvalidFormatError(f"The JPEG-encoded chunk could not be decoded: {exc}") from exc
    pixels = np.asarray(image)
    if num_channels == 3:
        pixels = np.moveaxis(pixels, -1, 0)
    return np.ascontiguousarray(pixels).reshape(num_channels, z, y, x)
