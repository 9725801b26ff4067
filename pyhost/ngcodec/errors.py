"""The package's exceptions and the map from the module's status codes.

Every exception derives from :class:`NgcodecError`. The three classes that
``neuroglancer_scripts.chunk_encoding`` defines keep their names and meaning
and are re-exported by :mod:`ngcodec.chunk_encoding`.
"""

__all__ = [
    "NgcodecError",
    "InvalidFormatError",
    "InvalidInfoError",
    "IncompatibleEncoderError",
    "InvalidParameterError",
    "ResourceLimitError",
    "STATUS_NAMES",
]


class NgcodecError(Exception):
    """Base of every ngcodec exception.

    ``status`` and ``status_name`` carry the module's status code
    (e.g. ``-7``, ``"NGC_ERR_BAD_BITS"``) when the error came from it.
    """

    def __init__(self, message, status=None, status_name=None):
        super().__init__(message)
        self.status = status
        self.status_name = status_name


class InvalidFormatError(NgcodecError):
    """Raised when chunk data cannot be decoded properly."""


class InvalidInfoError(NgcodecError):
    """Raised when an *info* dict is invalid or inconsistent."""


class IncompatibleEncoderError(NgcodecError):
    """Raised when an Encoder cannot handle the requested data type."""


class InvalidParameterError(NgcodecError, ValueError):
    """Raised for parameters no chunk can have (a zero block size, a chunk
    past the 4 GiB address space, offsets too large for the format)."""


class ResourceLimitError(NgcodecError):
    """Raised when a call would exceed a memory or time limit."""


# Stable status codes of ngcodec.h, with what each means to a user.
STATUS_NAMES = {
    0: "NGC_OK",
    -1: "NGC_ERR_BAD_PARAMS",
    -2: "NGC_ERR_DST_TOO_SMALL",
    -3: "NGC_ERR_SIZE_MISMATCH",
    -4: "NGC_ERR_TRUNCATED",
    -5: "NGC_ERR_UNALIGNED",
    -6: "NGC_ERR_BAD_CHANNEL_OFFSET",
    -7: "NGC_ERR_BAD_BITS",
    -8: "NGC_ERR_BAD_TABLE_OFFSET",
    -9: "NGC_ERR_BAD_VALUES_OFFSET",
    -10: "NGC_ERR_BAD_TABLE_INDEX",
    -11: "NGC_ERR_EMPTY_TABLE",
    -12: "NGC_ERR_OFFSET_OVERFLOW",
    -13: "NGC_ERR_TOO_LARGE",
    -14: "NGC_ERR_NO_MEMORY",
}

_EXPLANATIONS = {
    -1: (InvalidParameterError, "invalid parameters"),
    -2: (NgcodecError, "output buffer too small"),
    -3: (InvalidFormatError, "the buffer size does not match the chunk size"),
    -4: (InvalidFormatError, "the buffer is too short for its headers (truncated?)"),
    -5: (InvalidFormatError, "the buffer size is not a multiple of 4 bytes"),
    -6: (InvalidFormatError, "a channel offset points past the end of the buffer"),
    -7: (InvalidFormatError, "a block header has an invalid number of encoding bits"),
    -8: (InvalidFormatError, "a lookup table offset points past the end of the buffer"),
    -9: (InvalidFormatError, "encoded values run past the end of the buffer"),
    -10: (InvalidFormatError, "an encoded value indexes past the end of the lookup table"),
    -11: (InvalidFormatError, "a 0-bit block has an empty lookup table"),
    -12: (InvalidParameterError,
          "an offset does not fit in the 24 bits Neuroglancer reads "
          "(chunk too large for this block size)"),
    -13: (ResourceLimitError, "the chunk exceeds the 4 GiB wasm32 address space"),
    -14: (ResourceLimitError, "out of memory (memory limit reached)"),
}


def error_for_status(status, what, where=""):
    """The exception for a negative status of a call described by *what*."""
    cls, text = _EXPLANATIONS.get(status, (NgcodecError, "unknown error"))
    name = STATUS_NAMES.get(status, "NGC_ERR_UNKNOWN")
    return cls(f"{what}: {text}{where} [{name}]", status, name)
