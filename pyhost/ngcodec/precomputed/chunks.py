"""One scale's chunk codec: bytes <-> (C, Z, Y, X) arrays, through the public codecs.

A :class:`ChunkCodec` knows a scale's encoding, data type and channels; the
chunk's shape (x, y, z) is given per call, since edge chunks are clipped.
``max_encoded(shape)`` bounds the bytes a valid chunk of that shape can take,
which caps the inflation of gzip-compressed chunk files.
"""

import numpy as np

from .. import _labels, compressed_segmentation, raw
from ..chunk_encoding import get_encoder
from ..errors import InvalidFormatError, NgcodecError

__all__ = ["ChunkCodec"]


def _box_of(part):
    """``((x0, y0, z0), (x1, y1, z1))`` of (C, Z, Y, X) slices of a chunk."""
    _, z, y, x = part
    return (x.start, y.start, z.start), (x.stop, y.stop, z.stop)


class ChunkCodec:
    """Encodes and decodes the chunks of one :class:`~.info.Scale`."""

    def __init__(self, scale, limits=None, jpeg_quality=None):
        self.scale = scale
        self.limits = limits
        self.encoding = scale.encoding
        self.dtype = scale.dtype
        self.num_channels = scale.num_channels
        self.block_size = scale.block_size
        self._jpeg = None
        if self.encoding == "jpeg":
            q = jpeg_quality or scale.scale_info.get("jpeg_quality", 95)
            # Baseline JPEG, as tensorstore writes (docs/DATASETS.md: why).
            self._jpeg = get_encoder(scale.info, scale.scale_info,
                                     {"limits": limits, "jpeg_quality": q,
                                      "jpeg_progressive": False})

    def decoded_nbytes(self, shape):
        x, y, z = shape
        return self.num_channels * x * y * z * self.dtype.itemsize

    def max_encoded(self, shape):
        """The most bytes a valid encoded chunk of *shape* (x, y, z) takes."""
        n = self.decoded_nbytes(shape)
        if self.encoding == "raw":
            return n
        if self.encoding == "compressed_segmentation":
            bx, by, bz = self.block_size
            blocks = (-(-shape[0] // bx)) * (-(-shape[1] // by)) * (-(-shape[2] // bz))
            # per channel: offset word; per block: 8-byte header, a table of
            # at most one label per voxel, at most 32-bit indices per voxel
            voxels = shape[0] * shape[1] * shape[2]
            return self.num_channels * (4 + 8 * blocks + voxels * (self.dtype.itemsize + 4))
        return 2 * n + (64 << 10)  # jpeg: headers and a worst-case quality

    def decode(self, data, shape, out=None, what="chunk", part=None):
        """Decodes *data* as a chunk of *shape* (x, y, z) into *out* (any
        writable (C, Z, Y, X) view) or a new array. With *part* (slices of
        the chunk, (C, Z, Y, X) order), only that part goes into *out*: raw
        chunks are then copied once, from their bytes. Errors name *what*."""
        if part is not None:
            if self.encoding == "raw":
                out[...] = self._decode(data, shape, None, what, view=True)[part]
            elif self.encoding == "compressed_segmentation":  # only the blocks it meets
                self._call(what, compressed_segmentation.read_box, data, shape,
                           self.dtype, self.block_size, _box_of(part), self.num_channels, out)
            else:
                out[...] = self._decode(data, shape, None, what)[part]
            return out
        return self._decode(data, shape, out, what)

    # -- questions about one chunk (compressed_segmentation answers them on
    # its compressed bytes; other encodings decode first) ----------------------

    def _call(self, what, fn, *args, **kwargs):
        try:
            return fn(*args, limits=self.limits, **kwargs)
        except NgcodecError as e:
            raise type(e)(f"{what}: {e}", e.status, e.status_name) from e

    def _voxels(self, data, shape, what, part):
        """The chunk's (C, Z, Y, X) voxels, or those of its *part*: for
        compressed_segmentation only the blocks the part meets are decoded."""
        if part is None:
            return self.decode(data, shape, what=what)
        if self.encoding == "compressed_segmentation":
            return self._call(what, compressed_segmentation.read_box, data, shape, self.dtype,
                              self.block_size, _box_of(part), self.num_channels)
        return self.decode(data, shape, what=what)[part]

    def labels(self, data, shape, what="chunk", part=None):
        """The sorted unique labels of each channel (a list of arrays) of
        the chunk, or of its *part* (slices, (C, Z, Y, X) order)."""
        if self.encoding == "compressed_segmentation" and part is None:
            return self._call(what, compressed_segmentation.labels, data, shape, self.dtype,
                              self.block_size, self.num_channels)
        return [np.unique(c) for c in self._voxels(data, shape, what, part)]

    def contains(self, data, shape, wanted, what="chunk", part=None):
        """Whether a voxel of the chunk (or of its *part*) holds a label of
        *wanted* (sorted, unique, of the chunk's dtype)."""
        if self.encoding == "compressed_segmentation" and part is None:
            return self._call(what, compressed_segmentation.contains, data, shape, self.dtype,
                              self.block_size, wanted, self.num_channels)
        return bool(np.isin(self._voxels(data, shape, what, part), wanted).any())

    def remap(self, data, shape, mapping, preserve_missing_labels=False, what="chunk"):
        """The chunk's bytes with *mapping* (sorted uint64 ``(keys, values)``)
        applied: compressed_segmentation tables are rewritten in place, other
        encodings decoded, mapped and encoded."""
        if self.encoding == "compressed_segmentation":
            return self._call(what, compressed_segmentation.remap, data, shape, self.dtype,
                              self.block_size, mapping, self.num_channels,
                              preserve_missing_labels=preserve_missing_labels)
        a = self.decode(data, shape, what=what)
        return self.encode(_labels.apply(*mapping, a, preserve_missing_labels, what))

    def _decode(self, data, shape, out, what, view=False):
        try:
            if view:
                return raw.view(data, shape, self.dtype, self.num_channels, limits=self.limits)
            if self.encoding == "compressed_segmentation":
                return compressed_segmentation.decode(
                    data, shape, self.dtype, self.block_size, self.num_channels, out,
                    limits=self.limits)
            if self.encoding == "raw":
                return raw.decode(data, shape, self.dtype, self.num_channels, out,
                                  limits=self.limits)
            a = self._jpeg.decode(data, shape)
            if out is None:
                return a
            out[...] = a
            return out
        except NgcodecError as e:
            raise type(e)(f"{what}: {e}", e.status, e.status_name) from e
        except (OSError, ValueError, SyntaxError) as e:  # Pillow on a bad JPEG
            raise InvalidFormatError(f"{what}: cannot decode the JPEG chunk ({e})") from e

    def encode(self, array):
        """The bytes of a (C, Z, Y, X) chunk (any layout)."""
        if self.encoding == "compressed_segmentation":
            return compressed_segmentation.encode(array, self.block_size, limits=self.limits)
        if self.encoding == "raw":
            return raw.encode(array, limits=self.limits)
        return self._jpeg.encode(np.ascontiguousarray(array))
