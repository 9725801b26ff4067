"""The runtime's two call paths: every export's signature is checked at load,
and wasmtime-py's public API serves (with one warning) when the fast path's
private attributes are missing (forced here with NGCODEC_PUBLIC_CALLS=1)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import wasmtime

import ngcodec
from ngcodec.runtime import calls
from tests import common, spec

PUBLIC_SCRIPT = r"""
import json, sys, warnings
import numpy as np
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    import ngcodec
    from ngcodec import compressed_segmentation as cseg, raw
    from ngcodec.runtime import calls, peek_instance
    labels = np.load(sys.argv[1])
    data = cseg.encode(labels, (8, 8, 8))
    again = cseg.decode(data, (64, 64, 64), "uint64", (8, 8, 8))
    out = np.zeros((1, 64, 64, 64), np.uint64)[..., ::-1]  # a strided view
    cseg.decode(data, (64, 64, 64), "uint64", (8, 8, 8), out=out)
    try:
        cseg.decode(data[:-4], (64, 64, 64), "uint64", (8, 8, 8))
        message = None
    except ngcodec.InvalidFormatError as e:
        message = str(e)
    for _ in range(3):
        raw.decode(raw.encode(labels), (64, 64, 64), "uint64")
print(json.dumps({
    "same": bool((again[0] == labels).all()),
    "strided": bool((out[0] == labels).all()),
    "encoded": data.hex(),
    "message": message,
    "calls": type(peek_instance().calls).__name__,
    "warnings": [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)],
}))
"""


@pytest.fixture(scope="module")
def public_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("public") / "fib25.npy"
    np.save(path, common.fib25())
    env = dict(os.environ, NGCODEC_PUBLIC_CALLS="1")
    proc = subprocess.run([sys.executable, "-c", PUBLIC_SCRIPT, str(path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_public_path_is_the_one_in_use(public_run):
    assert public_run["calls"] == "PublicCalls"


def test_public_path_warns_once(public_run):
    assert len(public_run["warnings"]) == 1
    assert "public API" in public_run["warnings"][0]
    assert "NGCODEC_PUBLIC_CALLS" in public_run["warnings"][0]


def test_public_path_decodes_and_encodes_as_the_fast_one(public_run, fib25):
    assert public_run["same"] and public_run["strided"]
    # The fast path (this process) writes the very same bytes.
    assert bytes.fromhex(public_run["encoded"]) == ngcodec.compressed_segmentation.encode(
        fib25, (8, 8, 8))


def test_public_path_raises_the_same_error(public_run, fib25):
    data = ngcodec.compressed_segmentation.encode(fib25, (8, 8, 8))
    with pytest.raises(ngcodec.InvalidFormatError) as info:
        ngcodec.compressed_segmentation.decode(data[:-4], (64, 64, 64), "uint64", (8, 8, 8))
    assert public_run["message"] == str(info.value)


def test_this_process_uses_the_fast_path():
    ngcodec.compressed_segmentation.decode(spec.pack_words(1, 2, 0, 7), (8, 8, 8), "uint32",
                                           (8, 8, 8))
    assert calls.fast_path_problem() is None
    assert type(ngcodec.runtime.peek_instance().calls).__name__ == "FastCalls"


def _exports_of(wat):
    store = wasmtime.Store(wasmtime.Engine())
    module = wasmtime.Module(store.engine, wat)
    return wasmtime.Instance(store, module, []).exports(store), store


def _module_with(**overrides):
    """A module exporting every name of calls.EXPORTS with the expected
    signature, except for *overrides* (name -> WAT func type, or None: absent)."""
    funcs = []
    for name, (nparams, nresults) in calls.EXPORTS.items():
        sig = overrides.get(name, " ".join(["(param i32)"] * nparams + ["(result i32)"] * nresults))
        if sig is None:
            continue
        body = " ".join("(i32.const 0)" for _ in range(sig.count("result i32")))
        body += " ".join("(i64.const 0)" for _ in range(sig.count("result i64")))
        funcs.append(f'(func (export "{name}") {sig} {body})')
    return "(module (memory (export \"memory\") 1) " + " ".join(funcs) + ")"


def test_signature_check_accepts_the_expected_signatures():
    calls.check_signatures(*_exports_of(_module_with()))


def test_signature_check_accepts_the_real_module():
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    module = wasmtime.Module(engine, ngcodec.runtime.WASM_PATH.read_bytes())
    calls.check_signatures(wasmtime.Instance(store, module, []).exports(store), store)


@pytest.mark.parametrize("name, sig, mentions", [
    ("ngc_cseg_decode", "(param i32 i32 i32 i32) (result i32)", "[i32, i32, i32, i32] -> [i32]"),
    ("ngc_raw_encode", "(param i32 i32 i32 i32 i32 i64) (result i32)", "i64"),
    ("malloc", "(param i32)", "[]"),
    ("ngc_version", "(result i64)", "i64"),
])
def test_signature_check_refuses_a_wrong_signature(name, sig, mentions):
    with pytest.raises(ngcodec.NgcodecError) as info:
        calls.check_signatures(*_exports_of(_module_with(**{name: sig})))
    message = str(info.value)
    assert f"export {name} has the signature" in message and mentions in message


def test_signature_check_refuses_a_missing_export():
    with pytest.raises(ngcodec.NgcodecError, match="export ngc_cseg_encode_bound is missing"):
        calls.check_signatures(*_exports_of(_module_with(ngc_cseg_encode_bound=None)))
