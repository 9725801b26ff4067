"""The dataset server: GET and HEAD of the ``info`` and of every chunk and
shard file under a local dataset directory, as Neuroglancer reads them.

- **CORS** on every response (Starlette's CORSMiddleware): any origin, the
  ``Range`` request header allowed in preflights, and ``Content-Range``,
  ``Content-Length``, ``Content-Encoding``, ``ETag`` exposed to scripts.
- **Range** requests (206 with ``Content-Range``, 416 when unsatisfiable):
  Starlette's FileResponse, which Neuroglancer's shard reads need.
- **gzip chunks**: a chunk stored as ``name.gz`` (cloud-volume) or as gzip
  bytes under its plain name is served under the plain name with
  ``Content-Encoding: gzip``, so the browser inflates it before Neuroglancer
  sees it. Shard files are never marked (their data_encoding says gzip).
- **Caching**: ``ETag`` and ``Last-Modified`` on every file, 304 for
  ``If-None-Match`` / ``If-Modified-Since`` (StaticFiles' own check).
- **Nothing outside the root**: a path must be a valid storage key (no
  ``..``, ``.``, empty components, NUL, backslash, absolute paths; Starlette
  has already undone percent-encoding), and its real path (symlinks
  resolved) must lie inside the root's real path. Directories are not
  listed, temporary files of writes are never served. Other methods get
  405.
"""

import os
import stat

from . import require
from ..errors import InvalidParameterError, NgcodecError
from ..precomputed.storage import GZIP_MAGIC, check_key, is_temporary

starlette, = require("starlette")
from starlette.applications import Starlette  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.datastructures import Headers  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.middleware.cors import CORSMiddleware  # noqa: E402
from starlette.responses import FileResponse, PlainTextResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402
from starlette.staticfiles import NotModifiedResponse, StaticFiles  # noqa: E402

__all__ = ["create_app", "DatasetFiles"]

EXPOSED = ["Content-Range", "Content-Length", "Content-Encoding", "ETag", "Accept-Ranges"]
SHARD_SUFFIX = ".shard"
_PROC_FD = os.path.isdir("/proc/self/fd")
SMALL_FILE = 1 << 20  # bytes; larger files (and every Range request) stream


class DatasetFiles:
    """Maps request paths to files of the dataset at *root* (see the module's
    documentation); ``endpoint`` answers GET and HEAD."""

    def __init__(self, root, transcode=False):
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise InvalidParameterError(f"{root}: not a directory")
        self.transcoder = None
        if transcode:
            from .transcode import Transcoder
            self.transcoder = Transcoder(self.root)
        # StaticFiles' conditional-request check (If-None-Match, If-Modified-Since)
        self._conditional = StaticFiles(directory=self.root)

    def locate(self, key):
        """``(path, gzip)`` of the file that serves *key*, or None. *gzip*:
        True for ``key.gz`` served as *key*, None when the file's first
        bytes decide (a chunk file that may hold gzip bytes), else False."""
        try:
            check_key(key)
        except InvalidParameterError:
            return None
        if is_temporary(key):  # a crashed write's leftover: neither old nor new
            return None
        plain = self._file(key)
        if plain is not None:
            return plain, None if not key.endswith((".gz", SHARD_SUFFIX)) and key != "info" \
                else False
        if not key.endswith(".gz"):
            packed = self._file(key + ".gz")
            if packed is not None:
                return packed, True
        return None

    def _file(self, key):
        path = os.path.join(self.root, *key.split("/"))
        real = os.path.realpath(path)
        if os.path.commonpath([real, self.root]) != self.root:
            return None  # a symlink out of the tree
        try:
            st = os.stat(real)
        except OSError:
            return None
        return real if stat.S_ISREG(st.st_mode) else None

    async def endpoint(self, request):
        key = request.path_params["key"]
        found = self.locate(key)
        if found is None:
            return PlainTextResponse("not found", status_code=404)
        path, gz = found
        if self.transcoder is not None:
            if key == "info":
                return Response(self.transcoder.info_bytes, media_type="application/json")
            try:
                done = await run_in_threadpool(self.transcoder.chunk, key, path)
            except NgcodecError as e:  # the stored chunk is damaged
                return PlainTextResponse(f"cannot transcode {key}: {e}", status_code=500)
            if done is not None:
                data, etag = done
                if request.headers.get("if-none-match") == etag:
                    return NotModifiedResponse(Headers({"etag": etag}))
                return Response(data, media_type="application/octet-stream",
                                headers={"ETag": etag})
        media = "application/json" if key == "info" else "application/octet-stream"
        try:
            f = open(path, "rb")  # noqa: SIM115 - held by the response, closed with it
        except OSError:  # gone since it was found
            return PlainTextResponse("not found", status_code=404)
        st = os.fstat(f.fileno())
        if gz is None:  # the magic, read from the file that is served
            gz = f.read(2) == GZIP_MAGIC
            f.seek(0)
        headers = {"Content-Encoding": "gzip"} if gz else {}
        # Served from the file opened here: a write renamed over it meanwhile
        # (every write is one) cannot give a body of the new file under the
        # old one's size and ETag. Where /proc/self/fd is missing (not
        # Linux), the path is reopened and that race remains.
        source = f"/proc/self/fd/{f.fileno()}" if _PROC_FD else path
        # stat_result given: the ETag and Last-Modified are set here, before the check below
        response = FileResponse(source, headers=headers, media_type=media, stat_result=st)
        response.held_file = f  # closed when the response is dropped
        if "range" not in request.headers:
            if self._conditional.is_not_modified(response.headers, request.headers):
                return NotModifiedResponse(response.headers)
            if st.st_size <= SMALL_FILE and request.method == "GET":
                # A chunk, read here at once: FileResponse's reads in a worker
                # thread cost more than the read itself (6x the GETs/s here).
                with f:
                    return Response(f.read(), headers=dict(response.headers))
        return response


def create_app(root, viewer=False, upload_token=None, limits=None, upload_body_seconds=None,
               transcode=False, page=None):
    """The Starlette app serving the dataset at *root* (a local directory);
    with *viewer*, also the Neuroglancer client (:mod:`.viewer`); with
    *upload_token*, checked uploads (:mod:`.upload`, decoded under *limits*);
    with *transcode*, raw label scales served as compressed_segmentation
    (:mod:`.transcode`); with *viewer* and *page* (a directory), that page at
    ``/page/`` beside ngcodec's ES module at ``/ngcodec/web/``."""
    files = DatasetFiles(root, transcode=transcode)
    routes = []
    if viewer:
        from .viewer import routes as viewer_routes
        routes += viewer_routes(page)
    routes.append(Route("/{key:path}", files.endpoint, methods=["GET", "HEAD"]))
    methods, headers = ["GET", "HEAD", "OPTIONS"], ["Range", "If-None-Match", "If-Modified-Since"]
    if upload_token is not None:
        from .upload import Uploads
        uploads = Uploads(root, upload_token, limits, **(
            {} if upload_body_seconds is None else {"body_seconds": upload_body_seconds}))
        routes.append(Route("/{key:path}", uploads.endpoint, methods=["PUT"]))
        routes.append(Route("/{key:path}", uploads.post_box, methods=["POST"]))
        methods = methods + ["PUT", "POST"]
        headers = headers + ["Authorization", "Content-Type"]
    return Starlette(routes=routes, middleware=[Middleware(
        CORSMiddleware, allow_origins=["*"], allow_methods=methods, allow_headers=headers,
        expose_headers=EXPOSED, max_age=86400)])
