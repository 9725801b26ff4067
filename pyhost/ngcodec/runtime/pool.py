"""Which instance runs a call, and what becomes of it when the call fails.

Each thread has its own instances (wasmtime stores are not thread-safe, and
calls release the GIL, so threads decode in parallel): one for calls
without limits, and one per (engine, memory cap) for sandboxed calls. An
instance that trapped, ran out of time or memory is dropped, so the next
call starts clean; a status returned by the module leaves it sound.
"""

import math
import threading
import time

import wasmtime

from ..errors import InvalidFormatError, NgcodecError, ResourceLimitError
from .instance import Instance, KeptMemory
from .loader import compiled

EPOCH_TICK_SECONDS = 0.01

# Sandbox instances kept per thread, one per (engine, memory cap) in use, so
# alternating limits do not re-instantiate at every call.
MAX_SANDBOX_INSTANCES = 4


class _ThreadInstances(threading.local):
    def __init__(self):
        self.fast = None
        self.sandbox = {}  # (config name, memory cap) -> Instance


_local = _ThreadInstances()
_ticker_lock = threading.Lock()
_ticker = None


def _start_ticker(engine):
    """Advances *engine*'s epoch every tick, for the life of the process (a
    daemon thread; 100 wake-ups a second cost nothing measurable)."""
    global _ticker
    with _ticker_lock:
        if _ticker is None:
            def tick():
                while True:
                    time.sleep(EPOCH_TICK_SECONDS)
                    engine.increment_epoch()

            _ticker = threading.Thread(target=tick, name="ngcodec-epoch", daemon=True)
            _ticker.start()


def _sandbox_key(limits):
    return ("fast" if limits.seconds is None else "epoch", limits.memory_bytes)


def peek_instance(limits=None):
    """This thread's live instance for *limits* (None: the unlimited one),
    or None if there is none now. Never creates one: for tests and tools
    that look at memory use or instance reuse."""
    if limits is None:
        return _local.fast
    return _local.sandbox.get(_sandbox_key(limits))


def _sandbox_instance(limits):
    key = _sandbox_key(limits)
    config_name = key[0]
    inst = _local.sandbox.get(key)
    if inst is None:
        if len(_local.sandbox) >= MAX_SANDBOX_INSTANCES:
            _local.sandbox.clear()
        inst = _local.sandbox[key] = Instance(config_name, limits.memory_bytes)
    if config_name == "epoch":
        _start_ticker(compiled("epoch")[0])
        # +1: the first tick may come at once. Saturate far below 2**64 so a
        # huge bound cannot wrap around to an immediate deadline.
        ticks = min(math.ceil(limits.seconds / EPOCH_TICK_SECONDS) + 1, 1 << 62)
        inst.store.set_epoch_deadline(ticks)
    return inst


class session:
    """``with session(what, decoding, limits) as inst:`` gives this thread's
    instance for *limits* (a resolved Limits or None) and turns whatever goes
    wrong inside the module into the package's exceptions.

    *decoding* says whether a trap is blamed on the input data
    (``InvalidFormatError``) rather than reported as an internal error.
    """

    __slots__ = ("what", "decoding", "limits", "instance")

    def __init__(self, what, decoding, limits=None):
        self.what = what
        self.decoding = decoding
        self.limits = limits
        self.instance = None

    def __enter__(self):
        try:
            if self.limits is None:
                inst = _local.fast
                if inst is None:
                    inst = _local.fast = Instance()
            else:
                inst = _sandbox_instance(self.limits)
        except wasmtime.WasmtimeError as exc:
            raise NgcodecError(f"cannot instantiate ngcodec.wasm: {exc}") from exc
        self.instance = inst
        return inst

    def _drop(self):
        if self.limits is None:
            _local.fast = None
        else:
            _local.sandbox.pop(_sandbox_key(self.limits), None)

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            if self.instance.oversized:
                self._drop()
            return False
        if isinstance(exc, NgcodecError) and not isinstance(exc, ResourceLimitError):
            return False  # a status from the module: the instance is sound
        self._drop()  # trapped or exhausted: never reuse it
        if isinstance(exc, ResourceLimitError):
            return False
        if isinstance(exc, wasmtime.Trap):
            code = exc.trap_code
            if code in (wasmtime.TrapCode.OUT_OF_FUEL, wasmtime.TrapCode.INTERRUPT):
                raise ResourceLimitError(
                    f"{self.what}: time limit of {self.limits.seconds} s exceeded "
                    f"[{code.name}]" if self.limits else f"{self.what}: interrupted") from exc
            cls = InvalidFormatError if self.decoding else NgcodecError
            # The JS host words it the same; wasmtime's message names the trap.
            raise cls(f"{self.what}: the module trapped: {exc.message}") from exc
        if isinstance(exc, wasmtime.WasmtimeError):
            raise NgcodecError(f"{self.what}: wasmtime error: {exc}") from exc
        return False


def run(what, decoding, limits, body):
    """``body(instance)`` inside a session; retried once in a fresh instance
    if it failed only for memory kept by earlier calls (the session drops
    an instance that raised a ResourceLimitError)."""
    try:
        with session(what, decoding, limits) as inst:
            return body(inst)
    except KeptMemory:
        with session(what, decoding, limits) as inst:
            return body(inst)
