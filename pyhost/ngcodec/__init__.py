"""ngcodec: Neuroglancer precomputed chunk codecs in one WebAssembly module.

- :mod:`ngcodec.chunk_encoding`: drop-in for ``neuroglancer_scripts.chunk_encoding``
- :mod:`ngcodec.compressed_segmentation`, :mod:`ngcodec.raw`: direct API
- :class:`ngcodec.Limits`: memory and time bounds for untrusted chunks
"""

from . import chunk_encoding, compressed_segmentation, precomputed, raw
from .runtime import version as wasm_version
from .convert import convert
from .limits import Limits, get_default_limits, set_default_limits
from .errors import (
    IncompatibleEncoderError,
    InvalidFormatError,
    InvalidInfoError,
    InvalidParameterError,
    NgcodecError,
    ResourceLimitError,
)

__version__ = "0.1.0"

__all__ = [
    "chunk_encoding",
    "compressed_segmentation",
    "precomputed",
    "convert",
    "raw",
    "wasm_version",
    "Limits",
    "set_default_limits",
    "get_default_limits",
    "NgcodecError",
    "InvalidFormatError",
    "InvalidInfoError",
    "IncompatibleEncoderError",
    "InvalidParameterError",
    "ResourceLimitError",
]
