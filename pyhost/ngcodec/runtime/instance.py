"""One Store + Instance of ngcodec.wasm and its linear memory: the only code
that reads or writes module memory.

Data is copied in, the export runs, results are copied out into the
caller's objects: no view of linear memory outlives the copy that made it,
and the base address is re-read for every copy because memory can grow
and move during a call.
"""

import ctypes
import struct

import numpy as np
import wasmtime

from ..errors import ResourceLimitError
from .calls import make_calls
from .loader import compiled

# An instance whose linear memory grew past this is dropped after its call,
# so one huge chunk does not pin its memory for the life of the thread.
RETAIN_MEMORY_BYTES = 256 << 20

# Linear memory is 32-bit: no pointer, size or argument reaches 2**32.
MAX_WASM_BYTES = (1 << 32) - 1

_CHUNK_STRUCT = struct.Struct("<10I")  # struct ngc_chunk of ngcodec.h
_CHUNK_BYTES = _CHUNK_STRUCT.size
_FAIL_OFFSET = 32  # fail_channel, fail_block
NO_PLACE = 0xFFFFFFFF  # NGC_NO_PLACE


def u32(value):
    """A wasm i32 result read as unsigned (pointers above 2 GiB)."""
    return value & 0xFFFFFFFF


def _address(array):
    """Address of a C-contiguous ndarray's data (from_buffer is 4x faster
    than .ctypes.data but needs a writable buffer)."""
    if array.flags.writeable:
        return ctypes.addressof(ctypes.c_char.from_buffer(array))
    return array.ctypes.data


class KeptMemory(ResourceLimitError):
    """An allocation failed in an instance holding memory of earlier calls:
    the call is retried once in a fresh instance (see pool.run)."""


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
        self.calls = make_calls(self.store, exports, self.memory)
        self.base = self.calls.base
        self._copy = self.calls.copy
        self.fn = {name: self.calls.func(name) for name in self.calls.funcs}
        exports["_initialize"](self.store)
        self.chunk_ptr = self.malloc(_CHUNK_BYTES + 8)
        self.ret_ptr = self.chunk_ptr + _CHUNK_BYTES
        self._last_chunk = None
        self._slots = [[0, 0], [0, 0]]  # [ptr, capacity] for input, output
        self.used = False  # buffers were handed out at least once
        self.oversized = False  # a buffer passed RETAIN_MEMORY_BYTES / 2

    # -- memory -------------------------------------------------------------
    def malloc(self, size):
        if size > MAX_WASM_BYTES:
            raise ResourceLimitError(
                f"cannot allocate {size:,} bytes in the module's 32-bit memory")
        ptr = u32(self.fn["malloc"](max(size, 1)))
        if ptr == 0:
            raise ResourceLimitError(
                f"cannot allocate {size} bytes in the module's memory"
                + (f" (memory limit {self.memory_limit} bytes)"
                   if self.memory_limit is not None else ""))
        return ptr

    def _buffer(self, slot, size):
        entry = self._slots[slot]
        if entry[1] < size:
            if entry[0]:
                self.fn["free"](entry[0])
                entry[0] = entry[1] = 0
            entry[0] = self.malloc(size)
            entry[1] = size
            self.oversized |= size > RETAIN_MEMORY_BYTES // 2
        return entry[0]

    def buffers(self, src_size, dst_size):
        """Pointers to the input and output buffers of one call, grown when
        needed (the largest seen is kept). If they cannot be had in an
        instance that holds memory from earlier calls, raises KeptMemory:
        under a memory cap, a thread's history must not decide the outcome."""
        try:
            pointers = self._buffer(0, src_size), self._buffer(1, dst_size)
        except ResourceLimitError as exc:
            if self.used:
                raise KeptMemory(str(exc)) from exc
            raise
        self.used = True
        return pointers

    def memory_size(self):
        """Bytes of linear memory now."""
        return self.memory.data_len(self.store)

    def _view(self, ptr, dtype, shape):
        nbytes = dtype.itemsize * int(np.prod(shape))
        buf = (ctypes.c_char * nbytes).from_address(self.base() + ptr)
        return np.frombuffer(buf, dtype=dtype).reshape(shape)

    def write(self, ptr, data, size):
        """Copies *size* bytes in from bytes or a C-contiguous ndarray."""
        if size:
            self._copy(self.base() + ptr, data if type(data) is bytes else _address(data), size)

    def write_array(self, ptr, array, dtype):
        """Copies *array* in as C-order values of *dtype*: one memmove when
        it already is that, else one strided NumPy copy (a transposed view,
        another byte order) straight into linear memory."""
        if array.dtype == dtype and array.flags.c_contiguous:
            self.write(ptr, array, array.nbytes)
        elif array.size:
            np.copyto(self._view(ptr, dtype, array.shape), array, casting="equiv")

    def read_into(self, ptr, out):
        """Copies ``out.nbytes`` bytes out into *out*, any writable ndarray
        (C-contiguous: one memmove; a strided view: one NumPy copy)."""
        if not out.size:
            return
        if out.flags.c_contiguous:
            self._copy(_address(out), self.base() + ptr, out.nbytes)
        else:
            np.copyto(out, self._view(ptr, out.dtype, out.shape))

    def read_bytes(self, ptr, size, mutable=False):
        if mutable:
            result = bytearray(size)
            if size:
                self._copy(ctypes.addressof((ctypes.c_char * size).from_buffer(result)),
                           self.base() + ptr, size)
            return result
        return ctypes.string_at(self.base() + ptr, size)

    def read_u32(self, ptr):
        return ctypes.c_uint32.from_address(self.base() + ptr).value

    def read_u64(self, ptr):
        return ctypes.c_uint64.from_address(self.base() + ptr).value

    # -- the call's chunk -----------------------------------------------------
    def set_chunk(self, chunk):
        """Writes the call's ngc_chunk (size, num_channels, value_bytes,
        block_size). The module writes only its fail_* fields, so a chunk
        equal to the last one is already there."""
        if chunk != self._last_chunk:
            size, num_channels, value_bytes, block_size = chunk
            self._copy(self.base() + self.chunk_ptr, _CHUNK_STRUCT.pack(
                *size, num_channels, value_bytes, *block_size, NO_PLACE, NO_PLACE),
                _CHUNK_BYTES)
            self._last_chunk = chunk

    def place(self, chunk):
        """(channel, (bx, by, bz)) that the module named in fail_channel and
        fail_block, with None for what it did not name."""
        base = self.base() + self.chunk_ptr + _FAIL_OFFSET
        channel = ctypes.c_uint32.from_address(base).value
        block = ctypes.c_uint32.from_address(base + 4).value
        if channel == NO_PLACE:
            return None, None
        if block == NO_PLACE:
            return channel, None
        (x, y, z), _, _, (bx, by, bz) = chunk
        gx, gy = -(-x // bx), -(-y // by)
        return channel, (block % gx, block // gx % gy, block // (gx * gy))

    def call(self, name, *args):
        """Calls export *name*; arguments are below 2**32 or negative."""
        return self.fn[name](*args)

    def error_name(self, status):
        ptr = u32(self.fn["ngc_error_name"](status))
        return ctypes.string_at(self.base() + ptr).decode("ascii")
