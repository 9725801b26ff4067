"""ngcodec: Neuroglancer precomputed chunk codecs in one WebAssembly module.

- :mod:`ngcodec.chunk_encoding`: drop-in for ``neuroglancer_scripts.chunk_encoding``
- :mod:`ngcodec.compressed_segmentation`, :mod:`ngcodec.raw`: direct API
"""

from . import chunk_encoding, compressed_segmentation, raw
from ._runtime import version as wasm_version
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
    "raw",
    "wasm_version",
    "NgcodecError",
    "InvalidFormatError",
    "InvalidInfoError",
    "IncompatibleEncoderError",
    "InvalidParameterError",
    "ResourceLimitError",
]
