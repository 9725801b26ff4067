"""storage.inflate on both inflaters: zlib-ng (the ``gzip`` extra, which the
test extra installs) and the standard library's zlib (the fallback). Every
input gets the same answer, the same exception class and the same message
(but for zlib's own error text), and a sharded gzip dataset reads the same."""

import gzip
import re
import zlib

import numpy as np
import pytest
from zlib_ng import zlib_ng  # the test extra installs it: never skipped

from ngcodec import InvalidFormatError, ResourceLimitError
from ngcodec.precomputed import create, open as open_volume
from ngcodec.precomputed import storage
from ngcodec.precomputed.storage import gzip_bytes, inflate

BACKENDS = {"zlib-ng": zlib_ng, "stdlib zlib": zlib}
PAYLOAD = (np.arange(1 << 16, dtype=np.uint64) // 7).tobytes()  # 512 KiB
GZ = gzip_bytes(PAYLOAD)
CASES = {
    "gzip": (GZ, {}),
    "two members": (GZ + gzip.compress(b"tail", mtime=0), {}),
    "zlib stream": (zlib.compress(PAYLOAD), {}),
    "zlib stream, gzip only": (zlib.compress(PAYLOAD), {"zlib_ok": False}),
    "truncated": (GZ[:len(GZ) // 2], {}),
    "corrupt": (GZ[:20] + bytes(40) + GZ[60:], {}),
    "garbage after": (GZ + b"garbage", {}),
    "empty": (b"", {}),
    "past the cap": (GZ, {"max_bytes": 1000}),
    "past a memory limit": (GZ, {"max_bytes": 1000, "over": ResourceLimitError}),
}


def outcome(data, kw):
    kw = dict(kw)
    try:
        return ("ok", inflate(data, kw.pop("max_bytes", 1 << 24), "the stream", **kw))
    except (InvalidFormatError, ResourceLimitError) as e:
        # zlib's own words ("Error -3 while decompressing ...") may differ
        return (type(e).__name__, re.sub(r"\(Error -?\d+ .*\)$", "(zlib error)", str(e)))


@pytest.fixture(params=list(BACKENDS))
def backend(request, monkeypatch):
    module = BACKENDS[request.param]
    monkeypatch.setattr(storage, "_inflater", module)
    monkeypatch.setattr(storage, "_ZLIB_ERRORS", (zlib.error, module.error))
    return module


def test_zlib_ng_is_the_default_when_installed():
    assert storage._inflater is zlib_ng


@pytest.mark.parametrize("case", list(CASES))
def test_same_outcome_on_both(case, monkeypatch):
    data, kw = CASES[case]
    got = {}
    for name, module in BACKENDS.items():
        monkeypatch.setattr(storage, "_inflater", module)
        monkeypatch.setattr(storage, "_ZLIB_ERRORS", (zlib.error, module.error))
        got[name] = outcome(data, kw)
    assert got["zlib-ng"] == got["stdlib zlib"]
    kind = got["zlib-ng"][0]
    expected = {"gzip": "ok", "two members": "ok", "zlib stream": "ok",
                "past a memory limit": "ResourceLimitError"}.get(case, "InvalidFormatError")
    assert kind == expected, got
    if kind == "ok":
        assert got["zlib-ng"][1] == (PAYLOAD + b"tail" if case == "two members" else PAYLOAD)


def test_sharded_gzip_dataset_reads_the_same(tmp_path, backend):
    info = {"type": "segmentation", "data_type": "uint32", "num_channels": 1,
            "scales": [{"key": "s0", "size": [64, 48, 40], "resolution": [1, 1, 1],
                        "chunk_sizes": [[16, 16, 16]], "encoding": "raw",
                        "sharding": {"@type": "neuroglancer_uint64_sharded_v1",
                                     "preshift_bits": 2, "hash": "murmurhash3_x86_128",
                                     "minishard_bits": 1, "shard_bits": 1,
                                     "minishard_index_encoding": "gzip",
                                     "data_encoding": "gzip"}}]}
    a = np.random.default_rng(0).integers(0, 9, (64, 48, 40, 1), dtype=np.uint32)
    create(tmp_path, info).scale(0, mode="r+")[...] = a
    assert np.array_equal(open_volume(tmp_path)[...], a)
    assert np.array_equal(open_volume(tmp_path)[5:40, 3:47, 1:39], a[5:40, 3:47, 1:39])
