"""The host runtime: the one place that loads, instantiates and calls
ngcodec.wasm. Nothing outside this package touches linear memory.

A codec is one call here, after its own argument checks:

- :func:`decode` runs ``export(chunk, src, src_size, dst, dst_capacity)``
  and copies the result straight into the caller's array (any writable
  view, so a Volume can decode into its place in a larger output);
- :func:`encode` asks ``bound_export`` for the output bound, copies the
  array in (any strided view, one copy) and runs
  ``export(chunk, src, src_size, dst, dst_capacity, &dst_size)``;
- :func:`query` runs ``export(chunk, &value)`` and returns the value.

Each owns the buffers and the copies and turns a negative status into the
package's exception, with the channel and block that the module named in
``ngc_chunk.fail_channel``/``fail_block``. Traps and exhausted limits become
``InvalidFormatError``/``ResourceLimitError`` and drop the instance
(:mod:`.pool`).

Files: :mod:`.loader` (bytes, compile cache), :mod:`.calls` (fast and
public call paths), :mod:`.instance` (one instance's memory), :mod:`.pool`
(per-thread instances, sandbox limits, traps).
"""

from typing import NamedTuple

from ..errors import CODE, ResourceLimitError, error_for_status
from .instance import KeptMemory
from .loader import WASM_PATH, cache_dir, compiled, wasm_bytes
from .pool import EPOCH_TICK_SECONDS, peek_instance, run, session

__all__ = ["Chunk", "decode", "encode", "query", "check_memory", "version",
           "peek_instance", "WASM_PATH", "wasm_bytes", "compiled", "cache_dir",
           "EPOCH_TICK_SECONDS"]

_NO_MEMORY = CODE["NGC_ERR_NO_MEMORY"]


class Chunk(NamedTuple):
    """The geometry of one call (struct ngc_chunk): sizes are (x, y, z)."""
    size: tuple
    num_channels: int
    value_bytes: int
    block_size: tuple = (1, 1, 1)


def _fail(inst, status, what, chunk, used_before):
    channel, block = inst.place(chunk)
    if status == _NO_MEMORY and used_before:  # the module's scratch did not fit
        raise KeptMemory(f"{what}: out of memory for the module's scratch")
    raise error_for_status(status, what, channel=channel, block=block)


def decode(export, chunk, src, src_size, out, *, what, limits):
    """Decodes *src* (bytes, or a contiguous uint8 array, of *src_size*
    bytes) into *out*, whose C-order bytes are the export's whole output."""
    nbytes = out.nbytes

    def body(inst):
        used = inst.used
        inst.set_chunk(chunk)
        s, d = inst.buffers(src_size, nbytes)
        inst.write(s, src, src_size)
        status = inst.call(export, inst.chunk_ptr, s, src_size, d, nbytes)
        if status < 0:
            _fail(inst, status, what, chunk, used)
        inst.read_into(d, out)
        return out

    return run(what, True, limits, body)


def encode(export, bound_export, chunk, array, dtype, *, what, limits, mutable=False):
    """Encodes *array* (values of *dtype* in C order, any view) and returns
    the output as ``bytes`` (``bytearray`` when *mutable*)."""
    nbytes = array.size * dtype.itemsize

    def body(inst):
        used = inst.used
        inst.set_chunk(chunk)
        status = inst.call(bound_export, inst.chunk_ptr, inst.ret_ptr)
        if status < 0:
            raise error_for_status(status, what)
        bound = inst.read_u32(inst.ret_ptr)
        s, d = inst.buffers(nbytes, bound)
        inst.write_array(s, array, dtype)
        status = inst.call(export, inst.chunk_ptr, s, nbytes, d, bound, inst.ret_ptr)
        if status < 0:
            _fail(inst, status, what, chunk, used)
        return inst.read_bytes(d, inst.read_u32(inst.ret_ptr), mutable=mutable)

    return run(what, False, limits, body)


def query(export, chunk, *, what):
    """The value ``export(chunk, &value)`` writes (a size or a bound)."""
    with session(what, decoding=False) as inst:
        inst.set_chunk(chunk)
        status = inst.call(export, inst.chunk_ptr, inst.ret_ptr)
        if status < 0:
            raise error_for_status(status, what)
        return inst.read_u32(inst.ret_ptr)


def check_memory(limits, nbytes, what):
    """Refuses, before anything is allocated, a call whose buffers alone
    (*nbytes*: declared output plus input) exceed the memory limit."""
    if limits is not None and limits.memory_bytes is not None and nbytes > limits.memory_bytes:
        raise ResourceLimitError(
            f"{what}: needs {nbytes:,} bytes for its buffers, over the memory limit of "
            f"{limits.memory_bytes:,} bytes")


def version():
    """The module's version as (major, minor, patch)."""
    with session("version", decoding=False) as inst:
        number = inst.call("ngc_version")
    return (number // 10000, number // 100 % 100, number % 100)
