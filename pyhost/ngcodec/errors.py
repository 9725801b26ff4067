"""The package's exceptions and the map from the module's status codes.

Every exception derives from :class:`NgcodecError`. The three classes that
``neuroglancer_scripts.chunk_encoding`` defines keep their names and meaning
and are re-exported by :mod:`ngcodec.chunk_encoding`.
"""

from typing import NamedTuple

__all__ = [
    "NgcodecError",
    "InvalidFormatError",
    "InvalidInfoError",
    "IncompatibleEncoderError",
    "InvalidParameterError",
    "ResourceLimitError",
    "STATUS_NAMES",
    "STATUSES",
    "CODE",
]


class NgcodecError(Exception):
    """Base of every ngcodec exception.

    ``status`` and ``status_name`` carry the module's status code
    (e.g. ``-7``, ``"NGC_ERR_BAD_BITS"``) when the error came from it;
    ``channel`` and ``block`` (block coordinates ``(x, y, z)``) the place in
    the chunk that the module named, or None.
    """

    def __init__(self, message, status=None, status_name=None):
        super().__init__(message)
        self.status = status
        self.status_name = status_name
        self.channel = None  # the channel at fault, when the module says
        self.block = None  # the block at fault, (x, y, z) block coordinates


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


class Status(NamedTuple):
    """One status of ngcodec.h: its number, stable name, the exception a
    host raises for it and the text of that exception's message."""
    code: int
    name: str
    error: type
    text: str


# The one status table of the Python host. tests/test_status_table.py checks
# it against the enum in wasm_src/ngcodec.h, ngc_error_name() and the table
# of the JavaScript host; nothing else in the package writes a status number.
STATUSES = (
    Status(0, "NGC_OK", NgcodecError, "ok"),
    Status(-1, "NGC_ERR_BAD_PARAMS", InvalidParameterError, "invalid parameters"),
    Status(-2, "NGC_ERR_DST_TOO_SMALL", NgcodecError, "output buffer too small"),
    Status(-3, "NGC_ERR_SIZE_MISMATCH", InvalidFormatError,
           "the buffer size does not match the chunk size"),
    Status(-4, "NGC_ERR_TRUNCATED", InvalidFormatError,
           "the buffer is too short for its headers (truncated?)"),
    Status(-5, "NGC_ERR_UNALIGNED", InvalidFormatError,
           "the buffer size is not a multiple of 4 bytes"),
    Status(-6, "NGC_ERR_BAD_CHANNEL_OFFSET", InvalidFormatError,
           "a channel offset points past the end of the buffer"),
    Status(-7, "NGC_ERR_BAD_BITS", InvalidFormatError,
           "a block header has an invalid number of encoding bits"),
    Status(-8, "NGC_ERR_BAD_TABLE_OFFSET", InvalidFormatError,
           "a lookup table offset points past the end of the buffer"),
    Status(-9, "NGC_ERR_BAD_VALUES_OFFSET", InvalidFormatError,
           "encoded values run past the end of the buffer"),
    Status(-10, "NGC_ERR_BAD_TABLE_INDEX", InvalidFormatError,
           "an encoded value indexes past the end of the lookup table"),
    Status(-11, "NGC_ERR_EMPTY_TABLE", InvalidFormatError,
           "a 0-bit block has an empty lookup table"),
    Status(-12, "NGC_ERR_OFFSET_OVERFLOW", InvalidParameterError,
           "an offset does not fit in the 24 bits Neuroglancer reads "
           "(chunk too large for this block size)"),
    Status(-13, "NGC_ERR_TOO_LARGE", ResourceLimitError,
           "the chunk exceeds the 4 GiB wasm32 address space"),
    Status(-14, "NGC_ERR_NO_MEMORY", ResourceLimitError,
           "out of memory (memory limit reached)"),
    Status(-15, "NGC_ERR_NOT_MAPPED", InvalidParameterError,
           "a voxel holds a label that the mapping does not map"),
    Status(-16, "NGC_ERR_TABLE_OVERLAP", NgcodecError,
           "a lookup table overlaps other data, so it cannot be rewritten in place"),
)

_BY_CODE = {s.code: s for s in STATUSES}
CODE = {s.name: s.code for s in STATUSES}
"""Status numbers by name, for code that must compare a status."""

STATUS_NAMES = {s.code: s.name for s in STATUSES}

_UNKNOWN = Status(None, "NGC_ERR_UNKNOWN", NgcodecError, "unknown error")


def place_text(channel, block):
    """The place part of a message: " (channel 1)", " (channel 0, block
    (3, 0, 1) in x, y, z)", or "" (channel None). The JS host writes the
    same text."""
    if channel is None:
        return ""
    if block is None:
        return f" (channel {channel})"
    return f" (channel {channel}, block ({block[0]}, {block[1]}, {block[2]}) in x, y, z)"


def error_for_status(status, what, detail="", channel=None, block=None):
    """The exception for a negative status (a number or a name) of a call
    described by *what*; *detail* or the place (channel, block) is added to
    the status's text.

    The message reads ``"{what}: {text}{detail}{place} [{NAME}]"``.
    """
    if isinstance(status, str):
        status = CODE[status]
    entry = _BY_CODE.get(status, _UNKNOWN)
    error = entry.error(f"{what}: {entry.text}{detail}{place_text(channel, block)} "
                        f"[{entry.name}]", status, entry.name)
    error.channel = channel
    error.block = block
    return error
