"""Loading ngcodec.wasm: its bytes, one Engine and compiled Module per
configuration for the whole process, and the on-disk cache of compiled code.

The cache key is the wasm's sha256, the wasmtime version and the engine
configuration; artifacts are written atomically behind their own sha256, so
a damaged or foreign file is recompiled, never loaded.
"""

import hashlib
import importlib.metadata
import os
import tempfile
import threading
from pathlib import Path

import wasmtime

# The module's one home, shared with the JavaScript host (web/ngcodec.js
# loads ./ngcodec.wasm beside itself).
WASM_PATH = Path(__file__).resolve().parent.parent / "web" / "ngcodec.wasm"

CONFIGS = ("fast", "epoch")
"""Engine configurations: "fast" (no interruption) and "epoch" (epoch
deadlines bound a call's time, for sandboxed calls with a time limit)."""

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
    """A cache that cannot be written only costs the next process a compile."""
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
    """The shared (Engine, Module) of a configuration, compiled on first use."""
    entry = _compiled.get(config_name)
    if entry is not None:
        return entry
    if config_name not in CONFIGS:
        raise ValueError(f"unknown engine configuration {config_name!r}")
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
