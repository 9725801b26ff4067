"""Resource limits for decoding and encoding untrusted chunks.

>>> ngcodec.compressed_segmentation.decode(buf, ..., limits=ngcodec.Limits())
>>> ngcodec.set_default_limits(ngcodec.Limits(memory_bytes=64 << 20, seconds=0.5))

A call with limits runs in a separate, sandboxed instance of the module:

- ``memory_bytes`` caps the module's linear memory (input, output and
  scratch together) through wasmtime's store limits. A chunk whose declared
  decoded size (or input) alone exceeds it is refused before anything is
  allocated, so a tiny buffer with a huge ``chunk_size`` costs nothing.
- ``seconds`` bounds the wall-clock time of one call inside the module,
  through wasmtime epoch deadlines (a ticker thread advances the epoch every
  10 ms, so the bound is accurate to about 10 ms).

Exceeding either raises :class:`~ngcodec.ResourceLimitError`, and the
instance that ran the call is discarded. Without limits (the default, unless
:func:`set_default_limits` says otherwise) calls take the fast path: the
module is still memory-safe, only unbounded in time and up to 4 GiB.
"""

import math
import threading

from .errors import InvalidParameterError

__all__ = ["Limits", "set_default_limits", "get_default_limits"]


class Limits:
    """Memory and time bounds for one call.

    :param memory_bytes: cap on the module's linear memory, default 256 MiB
        (room for a 64 MiB uint64 chunk decoded with its input); ``None``
        for no cap beyond wasm32's 4 GiB.
    :param seconds: wall-clock bound per call, default 2 s; ``None`` for
        no bound.
    """

    __slots__ = ("memory_bytes", "seconds")

    DEFAULT_MEMORY_BYTES = 256 << 20
    DEFAULT_SECONDS = 2.0

    def __init__(self, memory_bytes=DEFAULT_MEMORY_BYTES, seconds=DEFAULT_SECONDS):
        if memory_bytes is not None and (
                isinstance(memory_bytes, bool) or not isinstance(memory_bytes, int)
                or memory_bytes < 1 << 20):
            raise InvalidParameterError(
                f"memory_bytes must be an integer of at least 1 MiB or None, got {memory_bytes!r}")
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(
                seconds, (int, float)) or not 0 < seconds < math.inf):
            raise InvalidParameterError(
                f"seconds must be a positive finite number or None (no bound), got {seconds!r}")
        self.memory_bytes = memory_bytes
        self.seconds = None if seconds is None else float(seconds)

    def __repr__(self):
        return f"Limits(memory_bytes={self.memory_bytes!r}, seconds={self.seconds!r})"

    def __eq__(self, other):
        return isinstance(other, Limits) and (self.memory_bytes, self.seconds) == (
            other.memory_bytes, other.seconds)

    def __hash__(self):
        return hash((self.memory_bytes, self.seconds))


_default = None
_default_lock = threading.Lock()


def set_default_limits(limits):
    """Sets the limits of calls that pass ``limits=None`` (None: no limits)."""
    global _default
    if limits is not None and not isinstance(limits, Limits):
        raise InvalidParameterError(f"expected a Limits or None, got {limits!r}")
    with _default_lock:
        _default = limits


def get_default_limits():
    """The process-wide default set by :func:`set_default_limits`."""
    return _default


def resolve(limits):
    """The limits a call runs with."""
    if limits is None:
        return _default
    if not isinstance(limits, Limits):
        raise InvalidParameterError(f"limits must be a Limits or None, got {limits!r}")
    return limits
