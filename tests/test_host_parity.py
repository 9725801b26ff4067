"""The two hosts, one interface: the JS host (pyhost/ngcodec/web/ngcodec.js)
has Python's status table and raises, for the same bad input, the same class
with the same status, statusName, channel, block and message.

Each case is run by Python here and by Node (one script for all cases); the
JS arguments are the same values in the JS signature.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import ngcodec
from ngcodec import compressed_segmentation as cseg
from ngcodec import raw

REPO = Path(__file__).resolve().parents[1]
NGCODEC_JS = (REPO / "pyhost" / "ngcodec" / "web" / "ngcodec.js").as_uri()


def words(*values):
    return np.asarray(values, "<u4").tobytes()


B8 = (8, 8, 8)
# name -> (python call, JS expression (bytes are `b`), bytes)
CASES = {
    "truncated": (lambda b: cseg.decode(b, B8, "uint32", B8),
                  'n.decodeCompressedSegmentation(b, [8,8,8], "uint32", [8,8,8])', words(1)),
    "truncated_empty": (lambda b: cseg.decode(b, B8, "uint32", B8),
                        'n.decodeCompressedSegmentation(b, [8,8,8], "uint32", [8,8,8])', b""),
    "unaligned": (lambda b: cseg.decode(b, B8, "uint32", B8),
                  'n.decodeCompressedSegmentation(b, [8,8,8], "uint32", [8,8,8])', words(1, 2, 3, 42)[:15]),
    "bad_bits_block_1": (lambda b: cseg.decode(b, (16, 8, 8), "uint32", B8),
                         'n.decodeCompressedSegmentation(b, [16,8,8], "uint32", [8,8,8])',
                         words(1, 4, 5, (3 << 24) | 4, 5, 42)),
    "bad_table_index": (lambda b: cseg.decode(b, B8, "uint32", B8),
                        'n.decodeCompressedSegmentation(b, [8,8,8], "uint32", [8,8,8])',
                        words(1, (1 << 24) | 18, 2, *([0] * 15), 1 << 31, 7)),
    "bad_channel_offset": (lambda b: cseg.decode(b, B8, "uint32", B8),
                           'n.decodeCompressedSegmentation(b, [8,8,8], "uint32", [8,8,8])',
                           words(100, 2, 3, 42)),
    "bad_channel_offset_1": (lambda b: cseg.decode(b, B8, "uint32", B8, num_channels=2),
                             'n.decodeCompressedSegmentation(b, [8,8,8], "uint32", [8,8,8], {numChannels: 2})',
                             words(2, 99, 2, 2, 42)),
    "empty_table_uint64": (lambda b: cseg.decode(b, B8, "uint64", B8),
                           'n.decodeCompressedSegmentation(b, [8,8,8], "uint64", [8,8,8])', words(1, 2, 2, 42)),
    "too_large": (lambda b: cseg.decode(b, (65536, 65536, 2), "uint64", B8),
                  'n.decodeCompressedSegmentation(b, [65536,65536,2], "uint64", [8,8,8])', words(1, 2, 3, 42)),
    "raw_size_mismatch": (lambda b: raw.decode(b, (2, 2, 2), "uint8"),
                          'n.decodeRaw(b, [2,2,2], "uint8")', bytes(10)),
    "raw_size_mismatch_2ch": (lambda b: raw.decode(b, (2, 2, 2), "uint16", num_channels=2),
                              'n.decodeRaw(b, [2,2,2], "uint16", {numChannels: 2})', bytes(16)),
    "raw_too_large": (lambda b: raw.decode(b, (1024, 1024, 1024), "uint32"),
                      'n.decodeRaw(b, [1024,1024,1024], "uint32")', bytes(1)),
    "unknown_dtype_raw": (lambda b: raw.decode(b, (1, 1, 1), "float64"),
                          'n.decodeRaw(b, [1,1,1], "float64")', bytes(8)),
    "unknown_dtype_cseg": (lambda b: cseg.decode(b, B8, "float32", B8),
                           'n.decodeCompressedSegmentation(b, [8,8,8], "float32", [8,8,8])', words(1, 2, 3, 42)),
    "encode_dtype_int64": (lambda b: raw.encode(np.zeros((1, 1, 1), np.int64)),
                           'n.encodeRaw(new BigInt64Array(1), {chunkSize: [1,1,1]})', b""),
    "zero_block_size": (lambda b: cseg.decode(b, B8, "uint32", (0, 8, 8)),
                        'n.decodeCompressedSegmentation(b, [8,8,8], "uint32", [0,8,8])', words(1, 2, 3, 42)),
    "zero_block_size_encode": (lambda b: cseg.encode(np.zeros((2, 2, 2), np.uint32), (2, 0, 2)),
                               'n.encodeCompressedSegmentation(new Uint32Array(8), [2,0,2], {chunkSize: [2,2,2]})',
                               b""),
}


def node_results(script):
    node = shutil.which("node")
    assert node, "node is required (see build_scripts/test.sh)"
    proc = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_status_tables_are_equal():
    script = (f'import * as n from {json.dumps(NGCODEC_JS)};'
              'console.log(JSON.stringify(n.STATUSES.map((s) => [s.code, s.name, s.error.name, s.text])));')
    js = [tuple(row) for row in node_results(script)]
    assert js == [(s.code, s.name, s.error.__name__, s.text) for s in ngcodec.errors.STATUSES]


def python_error(call, data):
    with pytest.raises(ngcodec.errors.NgcodecError) as info:
        call(data)
    e = info.value
    return {"class": type(e).__name__, "status": e.status, "statusName": e.status_name,
            "channel": e.channel, "block": list(e.block) if e.block is not None else None,
            "message": str(e)}


@pytest.fixture(scope="module")
def js_errors():
    lines = [f'import * as n from {json.dumps(NGCODEC_JS)};', "const out = {};"]
    for name, (_, expr, data) in CASES.items():
        lines.append(f"{{ const b = new Uint8Array({json.dumps(list(data))});"
                     f"try {{ await {expr}; out[{json.dumps(name)}] = null; }} catch (e) {{"
                     f"out[{json.dumps(name)}] = {{class: e.name, status: e.status, statusName: e.statusName,"
                     "channel: e.channel, block: e.block, message: e.message}; } }")
    lines.append("console.log(JSON.stringify(out));")
    return node_results("\n".join(lines))


@pytest.mark.parametrize("name", list(CASES))
def test_same_error_in_both_hosts(js_errors, name):
    call, _, data = CASES[name]
    assert js_errors[name] == python_error(call, data)
