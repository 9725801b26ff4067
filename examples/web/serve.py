"""Serves the ngcodec browser demo on localhost (standard library only).

    python examples/web/serve.py [--host 127.0.0.1] [--port 8000] [--open]

The demo page lives here, in examples/web/; the library it runs is the
installed package's ``ngcodec/web/`` folder (found with ``import ngcodec``),
and the chunk it decodes is the package's bundled FIB-25 chunk:

    /                      -> this folder's index.html
    /index.html, /demo.js, /worker.js, /colors.js   (this folder)
    /web/ngcodec.js, /web/ngcodec.wasm, /web/ngcodec.d.ts,
    /web/package.json, /web/README.md               (ngcodec/web/)
    /data/fib25_64x64x64_uint64.cseg8               (ngcodec/data/)

Those paths are the whole allow-list: every other path, including any
spelling with "..", "%2e%2e" or a backslash, is a 404. Nothing is looked up
on disk from the request path.
"""

from __future__ import annotations

import argparse
import http.server
import socket
import threading
import urllib.parse
import webbrowser
from pathlib import Path

import ngcodec

HERE = Path(__file__).resolve().parent
PACKAGE = Path(ngcodec.__file__).resolve().parent

DEMO_FILES = ("index.html", "demo.js", "worker.js", "colors.js")
LIBRARY_FILES = ("ngcodec.js", "ngcodec.wasm", "ngcodec.d.ts", "package.json", "README.md")
DATA_FILES = ("fib25_64x64x64_uint64.cseg8",)

# URL path -> file. Built once; requests only ever look paths up here.
ROUTES = {
    "/": HERE / "index.html",
    **{f"/{name}": HERE / name for name in DEMO_FILES},
    **{f"/web/{name}": PACKAGE / "web" / name for name in LIBRARY_FILES},
    **{f"/data/{name}": PACKAGE / "data" / name for name in DATA_FILES},
}

# The MIME types browsers insist on: module scripts need a JavaScript type,
# WebAssembly.compileStreaming needs application/wasm.
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".ts": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}


class DemoHandler(http.server.BaseHTTPRequestHandler):
    """GET and HEAD of the files in ROUTES, nothing else."""

    server_version = "ngcodec-demo"

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self._send(head=False)

    def do_HEAD(self):  # noqa: N802
        self._send(head=True)

    def _send(self, head: bool):
        path = urllib.parse.urlsplit(self.path).path
        file = ROUTES.get(path)
        try:
            body = file.read_bytes() if file is not None else None
        except OSError:
            body = None
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", TYPES.get(file.suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        # A demo being edited should never show a stale module or page.
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 (http.server's naming)
        if self.server.verbose:
            super().log_message(format, *args)


def make_server(host: str = "127.0.0.1", port: int = 8000,
                verbose: bool = True) -> http.server.ThreadingHTTPServer:
    """A bound, not yet running server; ``port=0`` picks a free port (read it
    back from ``server.server_address``). Run it with ``serve_forever()``."""
    server_class = http.server.ThreadingHTTPServer
    if ":" in host:  # an IPv6 address such as ::1
        server_class = type("ThreadingHTTPServer6", (server_class,),
                            {"address_family": socket.AF_INET6})
    server = server_class((host, port), DemoHandler)
    server.daemon_threads = True
    server.verbose = verbose
    return server


def url_of(server) -> str:
    host, port = server.server_address[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description="Serve the ngcodec demo page: a Web Worker decodes a FIB-25 "
                    "compressed_segmentation chunk with ngcodec.wasm and the page draws z slices.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (0: any free port)")
    parser.add_argument("--open", action="store_true", help="open the page in a web browser")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)

    server = make_server(args.host, args.port, verbose=not args.quiet)
    url = url_of(server)
    print(f"ngcodec demo at {url} (Ctrl-C to stop)", flush=True)
    if args.open:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
