"""Labels crafted to collide in the encoder's hash sets must not make it slow.

The label set once hashed with (label * K) >> 32 masked to its size, which
ignores a label's top bits: labels differing only there all landed in one
probe cluster (the native fuzzer found 10 s encodes). Wall-clock time is not
asserted (it depends on the machine and its load); work is counted instead.
wasmtime's fuel counts the WebAssembly instructions a call executes, exactly
and deterministically, so the test runs ngc_cseg_encode through the public C
ABI (wasm_src/ngcodec.h) in a fuel-metered store of its own and compares two
chunks of identical structure: the same voxel pattern of 16,384 labels per
block, once as labels differing only in their top 14 bits, once as random
64-bit labels. With a sound hash both cost about the same; with the old one
the colliding chunk costs hundreds of times more (every lookup walks the
cluster), so it runs out of its budget of twice the control's fuel at once.
"""

import struct
from pathlib import Path

import numpy as np
import wasmtime

import ngcodec
from ngcodec import compressed_segmentation as cseg

WASM = Path(ngcodec.__file__).parent / "web" / "ngcodec.wasm"
SHAPE = (4, 64, 64, 64)  # (C, Z, Y, X), one 64^3 block per channel
BLOCK = (64, 64, 64)
MAX_RATIO = 2.0


def _labels():
    """(colliding, control): the same index pattern of 2**14 labels, as
    k << 50 and as distinct random 64-bit labels."""
    rng = np.random.default_rng(1)
    index = rng.integers(0, 1 << 14, SHAPE)
    colliding = np.arange(1 << 14, dtype=np.uint64) << np.uint64(50)
    control = np.unique(rng.integers(0, 1 << 63, 3 << 14, dtype=np.uint64))
    control = rng.permutation(control)[:1 << 14]
    assert control.size == 1 << 14
    return colliding[index], control[index]


def encode_fuel(labels, fuel):
    """(status, fuel used) of ngc_cseg_encode on *labels* in a new store with
    *fuel* units; status None when the fuel ran out."""
    config = wasmtime.Config()
    config.consume_fuel = True
    engine = wasmtime.Engine(config)
    store = wasmtime.Store(engine)
    store.set_fuel(1 << 62)  # set-up, not counted
    instance = wasmtime.Instance(store, wasmtime.Module(engine, WASM.read_bytes()), [])
    ex = instance.exports(store)
    memory = ex["memory"]
    if "_initialize" in ex:
        ex["_initialize"](store)
    data = np.ascontiguousarray(labels, "<u8").tobytes()
    chunk = ex["malloc"](store, 48)
    ret = ex["malloc"](store, 4)
    C, Z, Y, X = labels.shape
    memory.write(store, struct.pack("<10I", X, Y, Z, C, 8, *BLOCK, 0xFFFFFFFF, 0xFFFFFFFF), chunk)
    assert ex["ngc_cseg_encode_bound"](store, chunk, ret) == 0
    bound = struct.unpack("<I", memory.read(store, ret, ret + 4))[0]
    src = ex["malloc"](store, len(data))
    dst = ex["malloc"](store, bound)
    assert 0 not in (chunk, ret, src, dst)
    memory.write(store, data, src)
    store.set_fuel(fuel)
    try:
        status = ex["ngc_cseg_encode"](store, chunk, src, len(data), dst, bound, ret)
    except wasmtime.Trap as trap:
        assert trap.trap_code == wasmtime.TrapCode.OUT_OF_FUEL, trap
        status = None
    return status, fuel - store.get_fuel()


def test_labels_differing_only_in_their_top_bits_encode_in_bounded_work():
    colliding, control = _labels()
    status, control_fuel = encode_fuel(control, 1 << 62)
    assert status == 0
    status, fuel = encode_fuel(colliding, int(MAX_RATIO * control_fuel))
    assert status is not None, (
        f"encoding colliding labels ran out of {MAX_RATIO}x the fuel of the control chunk "
        f"({control_fuel:,} instructions): they probe quadratically")
    assert status == 0
    assert fuel <= MAX_RATIO * control_fuel
    # And through the package, the colliding chunk round-trips.
    buf = cseg.encode(colliding, BLOCK)
    assert np.array_equal(cseg.decode(buf, BLOCK, "uint64", BLOCK, SHAPE[0]), colliding)
