"""The host call of ``ngc_downsample``: the array and its
``ngc_downsample_params`` are copied into the input buffer
(``[array, padded to 8][params]``), the module writes the downsampled array
into the output buffer, and that is copied out into the caller's array.
"""

import struct

from ..errors import CODE, error_for_status
from .instance import KeptMemory
from .pool import run

__all__ = ["downsample", "MEAN", "MODE", "KIND_UNSIGNED", "KIND_SIGNED", "KIND_FLOAT"]

# ngc_downsample_params: size[3], num_channels, value_bytes, value_kind,
# factors[3], method.
_PARAMS = struct.Struct("<10I")
MEAN, MODE = 0, 1  # NGC_DOWNSAMPLE_*
KIND_UNSIGNED, KIND_SIGNED, KIND_FLOAT = 0, 1, 2  # NGC_KIND_*

_NO_MEMORY = CODE["NGC_ERR_NO_MEMORY"]


def downsample(array, dtype, kind, factors, method, out, *, what, limits):
    """Downsamples the (C, Z, Y, X) *array* (values of *dtype*, any view)
    by *factors* (x, y, z) into *out* (a C-contiguous array of the output's
    shape and dtype) and returns *out*."""
    c, z, y, x = array.shape
    nbytes = array.size * dtype.itemsize
    params = _PARAMS.pack(x, y, z, c, dtype.itemsize, kind, *factors, method)
    pos = -(-nbytes // 8) * 8
    out_nbytes = out.nbytes

    def body(inst):
        used = inst.used
        s, d = inst.buffers(pos + _PARAMS.size, out_nbytes)
        inst.write_array(s, array, dtype)
        inst.write(s + pos, params, _PARAMS.size)
        status = inst.call("ngc_downsample", s + pos, s, nbytes, d, out_nbytes)
        if status < 0:
            if status == _NO_MEMORY and used:  # scratch did not fit beside kept buffers
                raise KeptMemory(f"{what}: out of memory for the module's scratch")
            raise error_for_status(status, what)
        inst.read_into(d, out)
        return out

    return run(what, False, limits, body)
