"""How the host calls the module's exports and moves bytes: a fast path
through wasmtime's C API, and wasmtime-py's public API as the fallback.

wasmtime-py's ``Func.__call__`` converts every argument through ``Val``
(~7 us each); ``wasmtime_func_call_unchecked`` with a reusable array of raw
values costs ~1 us per call. The fast path needs a few private attributes
of wasmtime-py (``Store._context``, ``Func._func``, ``Memory._memory``,
``_ffi.wasmtime_val_raw_t``); :func:`fast_path_problem` checks them once, and
when one is missing every call goes through the public API instead (slower,
never wrong), with one warning.

Every export the host uses is checked against :data:`EXPORTS` when an
instance is made: the fast path writes arguments as raw i32 words, which is
only sound for exactly these signatures.
"""

import ctypes
import os
import warnings

import wasmtime

try:
    from wasmtime import _ffi
except ImportError:  # a wasmtime-py without it: the public path is used
    _ffi = None

from ..errors import NgcodecError

# name -> (number of i32 parameters, number of i32 results), as ngcodec.h
# and emmalloc declare them (size_t and pointers are i32 in wasm32).
EXPORTS = {
    "malloc": (1, 1),
    "free": (1, 0),
    "ngc_version": (0, 1),
    "ngc_error_name": (1, 1),
    "ngc_decoded_size": (2, 1),
    "ngc_raw_decode": (5, 1),
    "ngc_raw_encode": (6, 1),
    "ngc_cseg_encode_bound": (2, 1),
    "ngc_cseg_encode": (6, 1),
    "ngc_cseg_decode": (5, 1),
    "ngc_cseg_decode_box": (6, 1),
    "ngc_cseg_read_voxels": (6, 1),
    "ngc_cseg_label_counts": (7, 1),
    "ngc_cseg_contains": (5, 1),
    "ngc_cseg_mask": (6, 1),
    "ngc_cseg_remap": (6, 1),
    "ngc_downsample": (5, 1),
}

# Copies up to this size hold the GIL (~5 us: less than two GIL hand-overs
# to a waiting thread); larger ones release it.
SMALL_COPY_BYTES = 256 << 10

_I32 = wasmtime.ValType.i32()


def check_signatures(exports, store):
    """Raises NgcodecError unless every export of EXPORTS is a function of
    exactly the i32 signature the host writes its arguments for."""
    for name, (nparams, nresults) in EXPORTS.items():
        try:
            func = exports[name]
        except KeyError:
            func = None
        if not isinstance(func, wasmtime.Func):
            raise NgcodecError(f"ngcodec.wasm: export {name} is missing")
        ty = func.type(store)
        params, results = list(ty.params), list(ty.results)
        if (len(params), len(results)) != (nparams, nresults) or \
                any(t != _I32 for t in params + results):
            raise NgcodecError(
                f"ngcodec.wasm: export {name} has the signature {params} -> {results}, "
                f"the host expects {nparams} i32 parameter(s) -> {nresults} i32 result(s)")


_problem = None
_probed = False


def fast_path_problem():
    """Why the fast path cannot be used (a string), or None. Probed once;
    ``NGCODEC_PUBLIC_CALLS=1`` forces the public API (for tests)."""
    global _problem, _probed
    if not _probed:
        _problem = _probe()
        _probed = True
        if _problem is not None:
            warnings.warn(f"ngcodec: calling the module through wasmtime-py's public API "
                          f"(slower): {_problem}", RuntimeWarning, stacklevel=3)
    return _problem


def _probe():
    if os.environ.get("NGCODEC_PUBLIC_CALLS"):
        return "NGCODEC_PUBLIC_CALLS is set"
    if _ffi is None:
        return "wasmtime._ffi is missing"
    try:
        _ffi.dll.wasmtime_func_call_unchecked
        _ffi.dll.wasmtime_memory_data
        _ffi.wasmtime_val_raw_t, _ffi.wasmtime_error_t, _ffi.wasm_trap_t
        ctypes._memmove_addr
        for cls, attr in ((wasmtime.Store, "_context"), (wasmtime.WasmtimeError, "_from_ptr"),
                          (wasmtime.Trap, "_from_ptr")):
            if not hasattr(cls, attr):
                return f"wasmtime.{cls.__name__}.{attr} is missing"
    except (ImportError, AttributeError) as exc:
        return f"a wasmtime-py internal is missing ({exc})"
    return None


class PublicCalls:
    """Exports called through wasmtime-py's public API."""

    def __init__(self, store, exports, memory):
        self.store = store
        self.memory = memory
        self.funcs = {name: exports[name] for name in EXPORTS}

    def func(self, name):
        func, store = self.funcs[name], self.store

        def call(*args):
            # Public calls take i32 values as signed Python ints.
            result = func(store, *[a - (1 << 32) if a >= 1 << 31 else a for a in args])
            return 0 if result is None else result

        return call

    def base(self):
        return ctypes.cast(self.memory.data_ptr(self.store), ctypes.c_void_p).value or 0

    @staticmethod
    def copy(dst, src, size):
        ctypes.memmove(dst, src, size)


class FastCalls:
    """Exports called through wasmtime_func_call_unchecked; memory base and
    copies through ctypes objects of this instance's own.

    Every CFUNCTYPE call releases and re-takes the GIL; with another thread
    waiting, that is a hand-over costing a thread wake-up, so only the
    module call and large copies release it (small ones are PYFUNCTYPE).
    Each instance (one per thread) makes its own ctypes objects: one shared
    by threads has its reference count written by both cores at every call.
    """

    def __init__(self, store, exports, memory):
        ffi = _ffi
        self.call_unchecked = ctypes.CFUNCTYPE(
            ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
            ctypes.c_size_t, ctypes.c_void_p,
        )(("wasmtime_func_call_unchecked", ffi.dll))
        memory_data = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(
            ("wasmtime_memory_data", ffi.dll))
        args = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
        self._memmove_holding_gil = ctypes.PYFUNCTYPE(*args)(ctypes._memmove_addr)
        self._memmove = ctypes.CFUNCTYPE(*args)(ctypes._memmove_addr)
        self.store = store
        self.exports = exports
        context = store._context()
        memory_ref = ctypes.byref(memory._memory)
        self.base = lambda: memory_data(context, memory_ref)
        self.funcs = {name: _RawFunc(store, exports[name], nparams, self.call_unchecked)
                      for name, (nparams, _) in EXPORTS.items()}

    def func(self, name):
        return self.funcs[name]

    def copy(self, dst, src, size):
        if size <= SMALL_COPY_BYTES:
            self._memmove_holding_gil(dst, src, size)
        else:
            self._memmove(dst, src, size)


class _RawFunc:
    """An exported i32 function called through the unchecked API.

    Arguments are unsigned 32-bit values (pointers, sizes) or negative
    status codes, written as their 32-bit pattern; the result is the i32
    read as signed (a status; pointers are masked by the caller).
    """

    __slots__ = ("context", "func_struct", "func", "size", "values", "words", "result",
                 "trap", "trap_address", "call_unchecked", "stride")

    def __init__(self, store, func, nparams, call_unchecked):
        ffi = _ffi
        self.call_unchecked = call_unchecked
        # Plain addresses: the instance keeps the store alive, and we keep
        # the wasmtime_func_t they point into.
        self.context = ctypes.cast(store._context(), ctypes.c_void_p).value
        self.func_struct = func._func
        self.func = ctypes.addressof(self.func_struct)
        self.size = max(nparams, 1)
        values = (ffi.wasmtime_val_raw_t * self.size)()
        self.values = ctypes.addressof(values)
        self.stride = ctypes.sizeof(ffi.wasmtime_val_raw_t) // 4
        # Views of the same bytes: setting a c_uint32 element creates no
        # Python object, and wraps negatives to their 32-bit pattern.
        self.words = (ctypes.c_uint32 * (self.stride * self.size)).from_buffer(values)
        self.result = ctypes.c_int32.from_buffer(values)
        self.trap = ctypes.c_void_p()
        self.trap_address = ctypes.addressof(self.trap)

    def __call__(self, *args):
        words = self.words
        i = 0
        for arg in args:
            words[i] = arg
            i += self.stride
        trap = self.trap
        trap.value = None
        error = self.call_unchecked(self.context, self.func, self.values, self.size,
                                    self.trap_address)
        if error:
            raise wasmtime.WasmtimeError._from_ptr(
                ctypes.cast(error, ctypes.POINTER(_ffi.wasmtime_error_t)))
        if trap.value:
            raise wasmtime.Trap._from_ptr(ctypes.cast(trap.value, ctypes.POINTER(_ffi.wasm_trap_t)))
        return self.result.value


def make_calls(store, exports, memory):
    """The fast calls, or the public ones when the fast path is unavailable."""
    global _problem
    check_signatures(exports, store)
    if fast_path_problem() is None:
        try:
            return FastCalls(store, exports, memory)
        except AttributeError as exc:  # Func._func or Memory._memory is gone
            _problem = f"a wasmtime-py internal is missing ({exc})"
            warnings.warn(f"ngcodec: calling the module through wasmtime-py's public API "
                          f"(slower): {_problem}", RuntimeWarning, stacklevel=2)
    return PublicCalls(store, exports, memory)
