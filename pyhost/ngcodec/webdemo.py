"""A tiny HTTP server for the browser demo (``ngcodec web``).

It serves the package folder with the same layout the JavaScript host
expects in the installed package, so that ``web/ngcodec.js`` finds the
module at its default URL ``../ngcodec.wasm``:

    /                  -> redirect to /web/index.html
    /web/...           -> the demo page and the ES module (ngcodec/web/)
    /ngcodec.wasm      -> the WebAssembly module (application/wasm)
    /data/fib25_64x64x64_uint64.cseg8 -> the bundled FIB-25 chunk

Nothing else in the package (Python sources included) is served.
Standard library only.
"""

from __future__ import annotations

import functools
import http.server
import posixpath
import socket
import threading
import urllib.parse
import webbrowser
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
INDEX = "/web/index.html"
FILES = {"/ngcodec.wasm", "/data/fib25_64x64x64_uint64.cseg8"}
FOLDERS = ("/web/",)


class DemoHandler(http.server.SimpleHTTPRequestHandler):
    """Serves only the demo's files, with the MIME types browsers insist on
    (module scripts need a JavaScript type, compileStreaming application/wasm)."""

    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
        ".cseg8": "application/octet-stream",
        ".ts": "text/plain",
        ".md": "text/plain; charset=utf-8",
    }

    def _allowed(self) -> bool:
        # Judge the path the way translate_path() will read it (unquoted,
        # normalised), so "/web/%2e%2e/webdemo.py" cannot reach the sources.
        raw = urllib.parse.unquote(self.path.split("?", 1)[0].split("#", 1)[0])
        path = posixpath.normpath(raw)
        if path != raw or "\\" in path:
            return False
        return path in FILES or path.startswith(FOLDERS)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self._route(head=False)

    def do_HEAD(self):  # noqa: N802
        self._route(head=True)

    def _route(self, head: bool):
        if self.path.split("?", 1)[0] in ("/", "/web", "/web/", "/index.html"):
            self.send_response(302)
            self.send_header("Location", INDEX)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif not self._allowed():
            self.send_error(404)
        elif head:
            super().do_HEAD()
        else:
            super().do_GET()

    def end_headers(self):
        # A demo being edited should never show a stale module or page.
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()


def make_server(host: str = "127.0.0.1", port: int = 8000) -> http.server.ThreadingHTTPServer:
    """A bound, not yet running server; ``port=0`` picks a free port (read it
    back from ``server.server_address``). Run it with ``serve_forever()``."""
    handler = functools.partial(DemoHandler, directory=str(PACKAGE_DIR))
    server_class = http.server.ThreadingHTTPServer
    if ":" in host:  # an IPv6 address such as ::1
        server_class = type("ThreadingHTTPServer6", (server_class,), {"address_family": socket.AF_INET6})
    server = server_class((host, port), handler)
    server.daemon_threads = True
    return server


def serve(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False) -> None:
    """Serve the demo until interrupted (Ctrl-C)."""
    server = make_server(host, port)
    bound_host, bound_port = server.server_address[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    url = f"http://{shown}:{bound_port}{INDEX}"
    print(f"ngcodec demo at {url} (Ctrl-C to stop)", flush=True)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
