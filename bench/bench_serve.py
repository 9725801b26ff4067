"""ngcodec serve on loopback, side by side with `python -m http.server` and
`npx http-server --cors`, all loaded by the same client (wrk, from Debian's
package): chunk GETs per second, Range reads of a shard, and validated
uploads per second of the FIB-25 chunk (PUT, decoded in the sandbox before
the write).

    python bench/bench_serve.py [--seconds 10] [--connections 64] [--markdown FILE]

Servers and wrk share the machine's cores (2 here), so the figures are what
one machine serves to itself; the ratios are the point.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import ngcodec.precomputed as ngp
from ngcodec import compressed_segmentation as cseg
from machine import describe, git_describe, version_of  # bench/machine.py, beside this script

FIB25 = Path(__file__).resolve().parents[1] / "pyhost" / "ngcodec" / "data" / \
    "fib25_64x64x64_uint64.cseg8"
TOKEN = "bench-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def make_dataset(root):
    """FIB-25 as one unsharded cseg scale (8 chunks, tiled) and a sharded raw one."""
    labels = cseg.decode(FIB25.read_bytes(), (64, 64, 64), "uint64", (8, 8, 8))[0].T
    info = {"type": "segmentation", "data_type": "uint64", "num_channels": 1, "scales": [
        {"key": "cseg", "size": [128, 128, 64], "resolution": [8, 8, 8],
         "chunk_sizes": [[64, 64, 64]], "encoding": "compressed_segmentation",
         "compressed_segmentation_block_size": [8, 8, 8]},
        {"key": "sharded", "size": [128, 128, 64], "resolution": [8, 8, 8],
         "chunk_sizes": [[64, 64, 64]], "encoding": "raw",
         "sharding": {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 0,
                      "hash": "identity", "minishard_bits": 0, "shard_bits": 0,
                      "minishard_index_encoding": "gzip", "data_encoding": "gzip"}}]}
    ds = ngp.create(root, info)
    tiled = np.concatenate([np.concatenate([labels, labels + 1], 0)] * 2, 1)
    ds.scale(0, mode="r+")[...] = tiled
    ds.scale(1, mode="r+")[...] = tiled


LUA_PUT = """wrk.method = "PUT"
wrk.headers["Authorization"] = "Bearer %s"
local f = io.open("%s", "rb"); wrk.body = f:read("*all"); f:close()
"""
LUA_RANGE = """local n = 0
request = function()
  n = n + 1
  local lo = (n * 7919) %% %d
  return wrk.format("GET", "%s", {["Range"] = "bytes=" .. lo .. "-" .. (lo + 4095)})
end
"""


def wrk(url, seconds, connections, threads, script=None):
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock_err = re.search(r"Socket errors: (.*)", out)
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    return {"rps": rps, "non2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": sock_err.group(1) if sock_err else "", "p50": lat.get("50"),
            "p99": lat.get("99")}


def start(cmd, port, cwd=None):
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    wait_port(port, proc)
    return proc


def stop(proc):
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--markdown", type=Path)
    args = ap.parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("bench_serve needs wrk: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="bench_serve_"))
    root = tmp / "ds"
    make_dataset(root)
    (tmp / "token").write_text(TOKEN)
    chunk = "/cseg/0-64_0-64_0-64"
    shard = "/sharded/0.shard"
    shard_size = (root / "sharded" / "0.shard").stat().st_size
    (tmp / "range.lua").write_text(LUA_RANGE % (shard_size - 4096, shard))
    (tmp / "put.lua").write_text(LUA_PUT % (TOKEN, FIB25))
    threads = 2
    servers = {
        "ngcodec serve": lambda p: [sys.executable, "-m", "ngcodec.cli", "serve", str(root),
                                    "--port", str(p), "--allow-upload", "--token-file",
                                    str(tmp / "token")],
        "python -m http.server": lambda p: [sys.executable, "-m", "http.server", str(p),
                                            "--bind", "127.0.0.1", "--directory", str(root)],
        "npx http-server --cors": lambda p: ["npx", "-y", "http-server@14", str(root), "-p",
                                             str(p), "-a", "127.0.0.1", "--cors", "-s", "-c-1"],
    }
    rows = []
    try:
        for name, cmd in servers.items():
            port = free_port()
            proc = start(cmd(port), port)
            try:
                base = f"http://127.0.0.1:{port}"
                r = {"server": name,
                     "get": wrk(base + chunk, args.seconds, args.connections, threads)}
                r["range"] = wrk(base + shard, args.seconds, args.connections, threads,
                                 str(tmp / "range.lua"))
                if name == "ngcodec serve":
                    r["put"] = wrk(base + chunk, args.seconds, args.connections, threads,
                                   str(tmp / "put.lua"))
                rows.append(r)
                print(json.dumps(r), flush=True)
            finally:
                stop(proc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    ng = rows[0]
    lines = [
        "# ngcodec serve benchmark (issue 13)", "",
        f"Machine: {describe()}",
        f"Python {sys.version.split()[0]}, starlette {version_of('starlette')}, uvicorn "
        f"{version_of('uvicorn')}, ngcodec git {git_describe()}; client: wrk, {threads} threads, "
        f"{args.connections} connections, {args.seconds} s per row, on the same machine",
        f"Chunk: FIB-25 64³ uint64 compressed_segmentation ({(FIB25.stat().st_size):,} bytes); "
        "Range: 4 KiB reads at varying offsets of a gzip raw shard; PUT: the FIB-25 chunk, "
        "each decoded in the sandbox, then written atomically with fsync", "",
        "| server | chunk GETs/s (p50, p99) | × ngcodec | shard Range GETs/s (p50, p99) | "
        "validated PUTs/s (p50, p99) | errors |",
        "|---|---|---|---|---|---|"]
    for r in rows:
        g, rg = r["get"], r["range"]
        put = r.get("put")
        errs = sum(x["non2xx"] for x in (g, rg) + ((put,) if put else ()))
        lines.append(
            f"| {r['server']} | {g['rps']:.0f} ({g['p50']}, {g['p99']}) | "
            f"{ng['get']['rps'] / g['rps']:.2f} | {rg['rps']:.0f} ({rg['p50']}, {rg['p99']}) | "
            + (f"{put['rps']:.0f} ({put['p50']}, {put['p99']})" if put else "—")
            + f" | {errs} non-2xx{'; socket ' + g['socket_errors'] if g['socket_errors'] else ''} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
