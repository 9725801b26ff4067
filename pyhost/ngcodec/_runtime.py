"""The wasmtime host: loading, caching, memory and calls into ngcodec.wasm.

One Engine and one compiled Module per configuration for the whole process,
compiled lazily and cached on disk; one Store + Instance per thread (wasmtime
releases the GIL during calls, so threads decode in parallel). Data is copied
into linear memory, the call runs, and results are copied out into fresh
Python objects: no view of linear memory ever leaves this module, and the
base address is re-read after every call because memory can grow and move.

Any trap or wasmtime error becomes an :class:`~ngcodec.errors.NgcodecError`
and the instance it happened in is dropped, so the next call starts clean.
"""

import ctypes
import hashlib
import importlib.metadata
import math
import os
import struct
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import wasmtime
from wasmtime import _ffi as ffi

from .errors import (
    InvalidFormatError,
    NgcodecError,
    ResourceLimitError,
    error_for_status,
)

WASM_PATH = Path(__file__).parent / "web" / "ngcodec.wasm"

# An instance whose linear memory grew past this is dropped after its call,
# so one huge chunk does not pin its memory for the life of the thread.
RETAIN_MEMORY_BYTES = 256 << 20

_CHUNK_STRUCT = struct.Struct("<10I")  # struct ngc_chunk, see ngcodec.h
_CHUNK_BYTES = _CHUNK_STRUCT.size
_FAIL_OFFSET = 32  # fail_channel, fail_block

_lock = threading.Lock()
_compiled = {}  # config name -> (Engine, Module)
_wasm_bytes = None


def wasm_bytes():
    """The bytes of the bundled module (read once)."""
    global _wasm_bytes
    if _wasm_bytes is None:
        _wasm_bytes = WASM_PATH.read_bytes()
    return _wasm_bytes


def cache_dir():
    """Where compiled modules are cached, or None when caching is off.

    ``NGCODEC_CACHE_DIR`` overrides the default (``$XDG_CACHE_HOME/ngcodec``
    or ``~/.cache/ngcodec``); set it to an empty string to turn caching off.
    """
    env = os.environ.get("NGCODEC_CACHE_DIR")
    if env is not None:
        return Path(env) if env else None
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ngcodec"


def _cache_path(config_name):
    directory = cache_dir()
    if directory is None:
        return None
    key = hashlib.sha256(wasm_bytes()).hexdigest()[:32]
    runtime = importlib.metadata.version("wasmtime")
    return directory / f"ngcodec-{key}-wasmtime{runtime}-{config_name}.cwasm"


def _load_cached(engine, path):
    """A module from the cache, or None. The artifact is stored behind its
    own sha256 so a truncated or damaged file is recompiled, never loaded."""
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    digest, artifact = blob[:32], blob[32:]
    if hashlib.sha256(artifact).digest() != digest:
        return None
    try:
        return wasmtime.Module.deserialize(engine, artifact)
    except wasmtime.WasmtimeError:  # another wasmtime build or config
        return None


def _store_cached(module, path):
    """Writes the compiled module atomically; a cache that cannot be written
    only costs the next process a compile."""
    try:
        artifact = bytes(module.serialize())
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".cwasm")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(hashlib.sha256(artifact).digest() + artifact)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, wasmtime.WasmtimeError):
        pass


def _make_engine(config_name):
    config = wasmtime.Config()
    if config_name == "epoch":
        config.epoch_interruption = True
    return wasmtime.Engine(config)


def compiled(config_name="fast"):
    """The shared (Engine, Module) for a configuration ("fast" or "epoch")."""
    entry = _compiled.get(config_name)
    if entry is not None:
        return entry
    with _lock:
        entry = _compiled.get(config_name)
        if entry is None:
            engine = _make_engine(config_name)
            path = _cache_path(config_name)
            module = _load_cached(engine, path) if path else None
            if module is None:
                module = wasmtime.Module(engine, wasm_bytes())
                if path:
                    _store_cached(module, path)
            entry = _compiled[config_name] = (engine, module)
    return entry


def _u32(value):
    """A wasm i32 result read as unsigned (pointers above 2 GiB)."""
    return value & 0xFFFFFFFF


class _CFuncs:
    """The C functions the host calls, as ctypes objects of one thread's own.

    wasmtime-py's Func.__call__ converts each argument through Val (~7 us per
    argument); calling through wasmtime_func_call_unchecked with a reusable
    array of raw values costs ~1 us in all. Every ngc_* export takes and
    returns only i32, which is what "unchecked" requires of us. Our own
    prototypes take plain addresses (wasmtime's own stay untouched).

    Every CFUNCTYPE call releases and re-takes the GIL; with another thread
    waiting for it, that is a hand-over costing a thread wake-up. Only the
    module call and large copies are worth it: the memory base and small
    copies hold the GIL (PYFUNCTYPE).

    Each Instance (one per thread) makes its own set: a ctypes object shared
    by threads has its reference count written by both cores at every call,
    and that cache line bouncing between them was measurable.
    """

    __slots__ = ("call_unchecked", "memory_data", "memmove_holding_gil", "memmove")

    def __init__(self):
        self.call_unchecked = ctypes.CFUNCTYPE(
            ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
            ctypes.c_size_t, ctypes.c_void_p,
        )(("wasmtime_func_call_unchecked", ffi.dll))
        self.memory_data = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(
            ("wasmtime_memory_data", ffi.dll))
        args = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
        self.memmove_holding_gil = ctypes.PYFUNCTYPE(*args)(ctypes._memmove_addr)
        self.memmove = ctypes.CFUNCTYPE(*args)(ctypes._memmove_addr)

    def copy(self, dst, src, size):
        if size <= SMALL_COPY_BYTES:
            self.memmove_holding_gil(dst, src, size)
        else:
            self.memmove(dst, src, size)


SMALL_COPY_BYTES = 256 << 10  # ~5 us: less than two GIL hand-overs

# Linear memory is 32-bit: no pointer, size or argument reaches 2**32.
MAX_WASM_BYTES = (1 << 32) - 1
_RAW_WORDS = ctypes.sizeof(ffi.wasmtime_val_raw_t) // 4


class _RawFunc:
    """An exported i32 function called through the unchecked API.

    Arguments are unsigned 32-bit values (pointers, sizes) or negative
    status codes; both are written as their 32-bit pattern. The result is
    the i32 read as signed (a status) -- see _u32 for pointers.
    """

    __slots__ = ("context", "func", "func_struct", "values", "words", "result", "trap",
                 "trap_address", "size", "call_unchecked")

    def __init__(self, store, func, nparams, cfuncs):
        self.call_unchecked = cfuncs.call_unchecked
        # Plain addresses: the Instance keeps the store alive, and we keep
        # the wasmtime_func_t they point into.
        self.context = ctypes.cast(store._context(), ctypes.c_void_p).value
        self.func_struct = func._func
        self.func = ctypes.addressof(self.func_struct)
        self.size = max(nparams, 1)
        values = (ffi.wasmtime_val_raw_t * self.size)()
        self.values = ctypes.addressof(values)
        # Views of the same bytes: setting a c_uint32 element creates no
        # Python object, and wraps negatives to their 32-bit pattern.
        self.words = (ctypes.c_uint32 * (_RAW_WORDS * self.size)).from_buffer(values)
        self.result = ctypes.c_int32.from_buffer(values)
        self.trap = ctypes.c_void_p()
        self.trap_address = ctypes.addressof(self.trap)

    def __call__(self, *args):
        words = self.words
        i = 0
        for arg in args:
            words[i] = arg
            i += _RAW_WORDS
        trap = self.trap
        trap.value = None
        error = self.call_unchecked(self.context, self.func, self.values, self.size,
                                    self.trap_address)
        if error:
            raise wasmtime.WasmtimeError._from_ptr(
                ctypes.cast(error, ctypes.POINTER(ffi.wasmtime_error_t)))
        if trap.value:
            raise wasmtime.Trap._from_ptr(ctypes.cast(trap.value, ctypes.POINTER(ffi.wasm_trap_t)))
        return self.result.value


def _address(array):
    """Address of a C-contiguous ndarray's data (from_buffer is 4x faster
    than .ctypes.data but needs a writable buffer)."""
    if array.flags.writeable:
        return ctypes.addressof(ctypes.c_char.from_buffer(array))
    return array.ctypes.data


class Instance:
    """One Store + Instance, used by one thread at a time.

    It keeps an ``ngc_chunk`` struct, an out-parameter word and two growable
    buffers (input, output) in linear memory between calls.
    """

    def __init__(self, config_name="fast", memory_limit=None):
        engine, module = compiled(config_name)
        self.config_name = config_name
        self.memory_limit = memory_limit
        self.store = wasmtime.Store(engine)
        if memory_limit is not None:
            self.store.set_limits(memory_size=memory_limit)
        if config_name == "epoch":
            self.store.set_epoch_deadline(1 << 62)
        instance = wasmtime.Instance(self.store, module, [])
        exports = instance.exports(self.store)
        self.memory = exports["memory"]
        self._context = self.store._context()
        self._memory_ref = ctypes.byref(self.memory._memory)
        self.c = _CFuncs()
        self.fn = {name: _RawFunc(self.store, exports[name], len(exports[name].type(self.store).params),
                                  self.c)
                   for name in ("malloc", "free", "ngc_version", "ngc_error_name",
                                "ngc_decoded_size", "ngc_raw_decode", "ngc_raw_encode",
                                "ngc_cseg_encode_bound", "ngc_cseg_encode", "ngc_cseg_decode")}
        exports["_initialize"](self.store)
        self.chunk_ptr = self._malloc(_CHUNK_BYTES + 8)
        self._last_chunk = None
        self.ret_ptr = self.chunk_ptr + _CHUNK_BYTES
        self._slots = [[0, 0], [0, 0]]  # [ptr, capacity] for input, output
        self.used = False  # buffers were handed out at least once
        self.oversized = False  # a buffer passed RETAIN_MEMORY_BYTES / 2

    # -- memory -------------------------------------------------------------
    def _malloc(self, size):
        if size > MAX_WASM_BYTES:
            raise ResourceLimitError(
                f"cannot allocate {size:,} bytes in the module's 32-bit memory")
        ptr = _u32(self.fn["malloc"](max(size, 1)))
        if ptr == 0:
            raise ResourceLimitError(
                f"cannot allocate {size} bytes in the module's memory"
                + (f" (memory limit {self.memory_limit} bytes)"
                   if self.memory_limit is not None else ""))
        return ptr

    def buffer(self, slot, size):
        """Pointer to buffer *slot* (0 = input, 1 = output) of at least *size*
        bytes; grows it when needed, keeping the largest seen."""
        entry = self._slots[slot]
        if entry[1] < size:
            if entry[0]:
                self.fn["free"](entry[0])
                entry[0] = entry[1] = 0
            entry[0] = self._malloc(size)
            entry[1] = size
            self.oversized |= size > RETAIN_MEMORY_BYTES // 2
        return entry[0]

    def buffers(self, src_size, dst_size):
        """Pointers to the input and output buffers of one call. If they
        cannot be had in an instance that holds memory from earlier calls,
        raises KeptMemory so that run() retries in a fresh instance: under
        a memory cap, a thread's history must not decide the outcome."""
        try:
            pointers = self.buffer(0, src_size), self.buffer(1, dst_size)
        except ResourceLimitError as exc:
            if self.used:
                raise KeptMemory(str(exc)) from exc
            raise
        self.used = True
        return pointers

    def base(self):
        """Address of linear memory now (re-read after every call)."""
        return self.c.memory_data(self._context, self._memory_ref)

    def memory_size(self):
        return self.memory.data_len(self.store)

    def write(self, ptr, data, size):
        """Copies *size* bytes in from bytes or a C-contiguous ndarray."""
        if size:
            source = data if type(data) is bytes else _address(data)
            self.c.copy(self.base() + ptr, source, size)

    def read_into(self, ptr, out):
        """Copies len(out) bytes out into a writable C-contiguous ndarray."""
        if out.nbytes:
            self.c.copy(_address(out), self.base() + ptr, out.nbytes)

    def read_bytes(self, ptr, size, mutable=False):
        if mutable:
            result = bytearray(size)
            if size:
                self.c.copy(ctypes.addressof((ctypes.c_char * size).from_buffer(result)),
                            self.base() + ptr, size)
            return result
        return ctypes.string_at(self.base() + ptr, size)

    def read_u32(self, ptr):
        return ctypes.c_uint32.from_address(self.base() + ptr).value

    def set_chunk(self, size, num_channels, value_bytes, block_size=(1, 1, 1)):
        """Writes the call's ngc_chunk; the module writes only its fail_*
        fields, so a geometry equal to the last one is already there."""
        key = (size, num_channels, value_bytes, block_size)
        if key != self._last_chunk:
            self.c.copy(self.base() + self.chunk_ptr, _CHUNK_STRUCT.pack(
                *size, num_channels, value_bytes, *block_size, 0, 0), _CHUNK_BYTES)
            self._last_chunk = key

    def failure_place(self):
        """(channel, block index) written by the codec on its last error."""
        base = self.base() + self.chunk_ptr + _FAIL_OFFSET
        return (ctypes.c_uint32.from_address(base).value,
                ctypes.c_uint32.from_address(base + 4).value)

    def call(self, name, *args):
        """Calls export *name*; arguments are below 2**32 or negative."""
        return self.fn[name](*args)

    def error_name(self, status):
        ptr = _u32(self.fn["ngc_error_name"](status))
        return ctypes.string_at(self.base() + ptr).decode("ascii")


class _ThreadInstances(threading.local):
    """This thread's instances: one for unlimited calls, one for calls with
    limits (recreated when the limits' memory cap or engine changes)."""

    def __init__(self):
        self.fast = None
        self.sandbox = {}  # (config name, memory cap) -> Instance


_local = _ThreadInstances()

EPOCH_TICK_SECONDS = 0.01
_ticker = None


def _start_ticker(engine):
    """Advances *engine*'s epoch every tick, for the life of the process (a
    daemon thread; 100 wake-ups a second cost nothing measurable)."""
    global _ticker
    with _lock:
        if _ticker is None:
            def tick():
                while True:
                    time.sleep(EPOCH_TICK_SECONDS)
                    engine.increment_epoch()

            _ticker = threading.Thread(target=tick, name="ngcodec-epoch", daemon=True)
            _ticker.start()


# Sandbox instances kept per thread, one per (engine, memory cap) in use, so
# alternating limits do not re-instantiate at every call.
MAX_SANDBOX_INSTANCES = 4


def _sandbox_key(limits):
    return ("fast" if limits.seconds is None else "epoch", limits.memory_bytes)


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

    *decoding* says whether a trap should be blamed on the input data
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
        inst = self.instance
        if exc_type is None:
            if inst.oversized:
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
            raise cls(f"{self.what}: the module trapped "
                      f"({code.name if code else 'unknown'}): {exc.message}") from exc
        if isinstance(exc, wasmtime.WasmtimeError):
            raise NgcodecError(f"{self.what}: wasmtime error: {exc}") from exc
        return False


class KeptMemory(ResourceLimitError):
    """An allocation failed in an instance holding memory of earlier calls."""


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


def check_memory(limits, nbytes, what):
    """Refuses, before anything is allocated, a call whose buffers alone
    (*nbytes*: declared output plus input) exceed the memory limit."""
    if limits is not None and limits.memory_bytes is not None and nbytes > limits.memory_bytes:
        raise ResourceLimitError(
            f"{what}: needs {nbytes:,} bytes for its buffers, over the memory limit of "
            f"{limits.memory_bytes:,} bytes")


def check(status, what, where=""):
    """Raises the exception for a negative status."""
    if status < 0:
        raise error_for_status(status, what, where)


def version():
    """The module's version as (major, minor, patch)."""
    with session("version", decoding=False) as inst:
        number = inst.call("ngc_version")
    return (number // 10000, number // 100 % 100, number % 100)
