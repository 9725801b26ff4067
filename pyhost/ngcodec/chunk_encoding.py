"""Drop-in replacement for ``neuroglancer_scripts.chunk_encoding``.

Same names, exceptions, return types, dtypes, shapes and argparse options;
raw and compressed_segmentation chunks go through ngcodec.wasm, JPEG through
Pillow. Swap the import and nothing else changes::

    from ngcodec import chunk_encoding
    encoder = chunk_encoding.get_encoder(info, info["scales"][0])
"""

import numpy as np

from . import _geometry as geo
from . import _jpeg
from .runtime import check_memory
from .limits import resolve
from . import compressed_segmentation as _cseg
from . import raw as _raw
from .errors import (
    IncompatibleEncoderError,
    InvalidFormatError,
    InvalidInfoError,
    InvalidParameterError,
)

__all__ = [
    "get_encoder",
    "add_argparse_options",
    "IncompatibleEncoderError",
    "InvalidInfoError",
    "InvalidFormatError",
    "ChunkEncoder",
    "RawChunkEncoder",
    "CompressedSegmentationEncoder",
    "JpegChunkEncoder",
]

NEUROGLANCER_DATA_TYPES = ("uint8", "uint16", "uint32", "uint64", "float32")
"""Values of ``data_type`` accepted by :func:`get_encoder` (as upstream)."""


def get_encoder(info, scale_info, encoder_options={}):
    """Create an encoder for one scale of a precomputed volume.

    :param dict info: the *info* dict (``data_type``, ``num_channels``)
    :param dict scale_info: an element of ``info["scales"]`` (``encoding``
        and its parameters)
    :param dict encoder_options: extrinsic options (``jpeg_quality``,
        ``jpeg_plane``; ``limits``, an :class:`ngcodec.Limits` for every
        call of the encoder; others are ignored)
    :raises InvalidInfoError: if the info dicts are invalid
    """
    try:
        data_type = info["data_type"]
        num_channels = info["num_channels"]
        encoding = scale_info["encoding"]
    except KeyError as exc:
        raise InvalidInfoError(f"The info dict is missing an essential key {exc}") from exc
    if not isinstance(num_channels, int) or not num_channels > 0:
        raise InvalidInfoError(
            f"Invalid value {num_channels} for num_channels (must be a positive integer)")
    if data_type not in NEUROGLANCER_DATA_TYPES:
        raise InvalidInfoError(
            f"Invalid data_type {data_type} (should be one of {NEUROGLANCER_DATA_TYPES})")
    limits = encoder_options.get("limits")
    try:
        if encoding == "raw":
            return RawChunkEncoder(data_type, num_channels, limits=limits)
        if encoding == "compressed_segmentation":
            try:
                block_size = scale_info["compressed_segmentation_block_size"]
            except KeyError:
                raise InvalidInfoError(
                    'Encoding is set to "compressed_segmentation" but '
                    '"compressed_segmentation_block_size" is missing') from None
            return CompressedSegmentationEncoder(data_type, num_channels, block_size,
                                                 limits=limits)
        if encoding == "jpeg":
            return JpegChunkEncoder(data_type, num_channels,
                                    jpeg_quality=encoder_options.get("jpeg_quality", 95),
                                    jpeg_plane=encoder_options.get("jpeg_plane", "xy"),
                                    jpeg_progressive=encoder_options.get("jpeg_progressive",
                                                                         True),
                                    limits=limits)
        raise InvalidInfoError(f"Invalid encoding {encoding}")
    except IncompatibleEncoderError as exc:
        raise InvalidInfoError(str(exc)) from exc


def add_argparse_options(parser, allow_lossy=False):
    """Add the command-line options of chunk encoding to *parser*.

    Pass ``vars(args)`` as *encoder_options* to :func:`get_encoder`.
    """
    import argparse

    if allow_lossy:
        def jpeg_quality(arg):
            q = int(arg)
            if not 1 <= q <= 100:
                raise argparse.ArgumentTypeError("JPEG quality must be between 1 and 100")
            return q

        group = parser.add_argument_group("Options for JPEG compression")
        group.add_argument("--jpeg-quality", type=jpeg_quality, default=95, metavar="Q",
                           help="JPEG quality factor (1 is worst, 100 is best, values "
                                "above 95 increase file size but provide hardly any "
                                "extra quality)")
        group.add_argument("--jpeg-plane", choices=("xy", "xz"), default="xy",
                           help='plane of JPEG compression (default: xy)')


class ChunkEncoder:
    """Encode/decode chunks from NumPy arrays (C, Z, Y, X) to byte buffers.

    :param str data_type: data type supported by Neuroglancer
    :param int num_channels: number of image channels
    :param limits: an :class:`ngcodec.Limits` for every call (keyword only;
        None: the process default, see :func:`ngcodec.set_default_limits`)
    """

    lossy = False
    """True if this encoder is lossy."""

    mime_type = "application/octet-stream"
    """MIME type of the encoded chunk."""

    def __init__(self, data_type, num_channels, *, limits=None):
        self.num_channels = num_channels
        self.dtype = np.dtype(data_type).newbyteorder("<")
        resolve(limits)  # refuse a bad value now, not at the first call
        self.limits = limits

    def encode(self, chunk):
        """Encode a (C, Z, Y, X) array into bytes."""
        raise NotImplementedError

    def decode(self, buf, chunk_size):
        """Decode bytes into a (C, Z, Y, X) array; *chunk_size* is (X, Y, Z).

        :raises InvalidFormatError: if the chunk data cannot be decoded
        """
        raise NotImplementedError

    def _check_shape(self, chunk):
        """The reference asserts these; here they hold under ``python -O``
        too, and the AssertionError says what is wrong."""
        if chunk.ndim != 4:
            raise AssertionError(
                f"{type(self).__name__}.encode: expected a 4-D (C, Z, Y, X) array, "
                f"got {chunk.ndim}-D of shape {chunk.shape}")
        if chunk.shape[0] != self.num_channels:
            raise AssertionError(
                f"{type(self).__name__}.encode: the array has {chunk.shape[0]} channel(s) "
                f"(shape {chunk.shape}, (C, Z, Y, X)), the encoder {self.num_channels}")
        return chunk

    def _cast(self, chunk):
        chunk = np.asarray(chunk)
        if not np.can_cast(chunk.dtype, self.dtype, casting="safe"):
            # The reference's astype(casting="safe") raises TypeError too.
            raise TypeError(f"{type(self).__name__}.encode: cannot cast {chunk.dtype} to "
                            f"{self.dtype.name} without loss (casting='safe')")
        return self._check_shape(chunk.astype(self.dtype, copy=False))

    def __repr__(self):
        return f"{type(self).__name__}({self.dtype.name!r}, {self.num_channels})"


class RawChunkEncoder(ChunkEncoder):
    """Codec for the Neuroglancer raw chunk format."""

    lossy = False

    def encode(self, chunk):
        return _raw.encode(self._cast(chunk), limits=self.limits)

    def decode(self, buf, chunk_size):
        try:
            return _raw.decode(buf, chunk_size, self.dtype, self.num_channels,
                               limits=self.limits)
        except InvalidParameterError as exc:
            raise InvalidFormatError(f"Cannot decode raw-encoded chunk: {exc}") from exc


class CompressedSegmentationEncoder(ChunkEncoder):
    """Codec for the compressed_segmentation chunk format.

    :param list block_size: (x, y, z) size of the compression blocks
    :raises IncompatibleEncoderError: if data_type is not uint32 or uint64,
        or block_size is not three positive integers
    """

    lossy = False

    def __init__(self, data_type, num_channels, block_size, *, limits=None):
        if data_type not in ("uint32", "uint64"):
            raise IncompatibleEncoderError(
                "The compressed_segmentation encoding can only handle uint32 or uint64 "
                "data_type")
        super().__init__(data_type, num_channels, limits=limits)
        try:
            geo.xyz(block_size, "compressed_segmentation_block_size", 1,
                    "compressed_segmentation encoder")
        except InvalidParameterError as exc:
            raise IncompatibleEncoderError(str(exc)) from None
        self.block_size = block_size

    def encode(self, chunk):
        """Returns a ``bytearray`` (as upstream)."""
        return _cseg.encode(self._cast(chunk), self.block_size, mutable=True,
                            limits=self.limits)

    def decode(self, buf, chunk_size):
        try:
            return _cseg.decode(buf, chunk_size, self.dtype, self.block_size,
                                self.num_channels, limits=self.limits)
        except InvalidParameterError as exc:  # an impossible chunk_size, as for raw
            raise InvalidFormatError(
                f"Cannot decode compressed_segmentation chunk: {exc}") from exc

    def __repr__(self):
        return (f"{type(self).__name__}({self.dtype.name!r}, {self.num_channels}, "
                f"{list(self.block_size)!r})")


class JpegChunkEncoder(ChunkEncoder):
    """Codec for JPEG chunks (uint8, 1 or 3 channels), through Pillow.

    :param int jpeg_quality: quality factor for JPEG compression (1-100)
    :param str jpeg_plane: plane of JPEG compression (``"xy"`` or ``"xz"``)
    :param bool jpeg_progressive: progressive JPEG with optimized Huffman
        tables (the reference's choice, the default); ``False`` writes
        baseline JPEG with the standard tables, as tensorstore does (and
        ngcodec's datasets): see docs/DATASETS.md for the trade
    :raises IncompatibleEncoderError: if data_type or num_channels are unsupported
    """

    lossy = True
    mime_type = "image/jpeg"

    def __init__(self, data_type, num_channels, jpeg_quality=95, jpeg_plane="xy", *,
                 jpeg_progressive=True, limits=None):
        if data_type != "uint8" or num_channels not in (1, 3):
            raise IncompatibleEncoderError(
                "The JPEG encoding can only handle uint8 data_type with 1 or 3 channels")
        super().__init__(data_type, num_channels, limits=limits)
        # AssertionError as in the reference, but checked under -O as well.
        if not 1 <= jpeg_quality <= 100:
            raise AssertionError(f"jpeg_quality must be in [1, 100], got {jpeg_quality!r}")
        if jpeg_plane not in ("xy", "xz"):
            raise AssertionError(f'jpeg_plane must be "xy" or "xz", got {jpeg_plane!r}')
        self.jpeg_quality = jpeg_quality
        self.jpeg_plane = jpeg_plane
        self.jpeg_progressive = bool(jpeg_progressive)

    def encode(self, chunk):
        chunk = np.asarray(chunk)
        if not np.can_cast(chunk.dtype, self.dtype, casting="safe"):
            raise AssertionError(f"JpegChunkEncoder.encode: cannot cast {chunk.dtype} to uint8 "
                                 "without loss (casting='safe')")
        return _jpeg.encode_chunk(self._check_shape(chunk), self.jpeg_quality, self.jpeg_plane,
                                  self.jpeg_progressive)

    def decode(self, buf, chunk_size):
        # Pillow decodes on the host: limits bound the declared size only.
        x, y, z = chunk_size
        check_memory(resolve(self.limits), self.num_channels * x * y * z, "JPEG decode")
        return _jpeg.decode_chunk(buf, chunk_size, self.num_channels)
