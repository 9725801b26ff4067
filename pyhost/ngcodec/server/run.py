"""``ngcodec serve`` and ``ngcodec view`` on uvicorn."""

import os
import sys

from . import require

ROOT_ENV = "NGCODEC_SERVE_ROOT"
VIEWER_ENV = "NGCODEC_SERVE_VIEWER"


TOKEN_FILE_ENV = "NGCODEC_SERVE_TOKEN_FILE"
TRANSCODE_ENV = "NGCODEC_SERVE_TRANSCODE"
PAGE_ENV = "NGCODEC_SERVE_PAGE"


def app_from_env():
    """The app uvicorn runs (in each worker process with ``--workers N``),
    built from the environment the command set."""
    from .app import create_app
    token_file = os.environ.get(TOKEN_FILE_ENV)
    token = None
    if token_file:
        from .upload import read_token
        token = read_token(token_file)
    return create_app(os.environ[ROOT_ENV], viewer=os.environ.get(VIEWER_ENV) == "1",
                      upload_token=token, transcode=os.environ.get(TRANSCODE_ENV) == "1",
                      page=os.environ.get(PAGE_ENV) or None)


def add_arguments(parser, view=False):
    parser.add_argument("path", help="the dataset's directory (the one holding its info)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000 if not view else 8080,
                        help="TCP port (default %(default)s; 0 picks a free one)")
    parser.add_argument("--workers", type=int, default=1,
                        help="uvicorn worker processes (default 1)")
    parser.add_argument("--allow-upload", action="store_true",
                        help="accept PUT /<scale key>/<chunk name> of encoded chunks, each "
                             "decoded in the sandbox before it is written (needs --token-file "
                             "and --workers 1)")
    parser.add_argument("--token-file", metavar="FILE",
                        help="the bearer token uploads must carry (the file's content)")
    parser.add_argument("--transcode", action="store_true",
                        help="serve unsharded raw uint32/uint64 scales as "
                             "compressed_segmentation (encoded on the fly, cached)")
    if view:
        parser.add_argument("--open", action="store_true",
                            help="open the viewer's URL in the default browser")
        parser.add_argument("--page", metavar="DIR",
                            help="also serve this page at /page/ (and ngcodec's ES module at "
                                 "/ngcodec/web/), e.g. examples/editor")


def main(args, view=False):
    from ..errors import NgcodecError
    from ..precomputed import open_dataset

    try:
        uvicorn, = require("uvicorn", extra="view" if view else "serve")
        require("starlette", extra="view" if view else "serve")
        if view:
            from .viewer import client_dir
            client_dir()
    except ImportError as e:
        print(f"ngcodec: {e}", file=sys.stderr)
        return 2
    try:
        info = open_dataset(args.path).info
    except (NgcodecError, OSError) as e:
        print(f"ngcodec: {e}", file=sys.stderr)
        return 2
    if args.workers < 1 or not 0 <= args.port < 65536:
        print("ngcodec: --workers must be >= 1 and --port in [0, 65535]", file=sys.stderr)
        return 2
    os.environ.pop(TOKEN_FILE_ENV, None)
    if args.allow_upload or args.token_file:
        from .upload import read_token
        if not (args.allow_upload and args.token_file):
            print("ngcodec: --allow-upload and --token-file go together", file=sys.stderr)
            return 2
        if args.workers != 1:
            print("ngcodec: --allow-upload needs --workers 1 (shard locks are per process)",
                  file=sys.stderr)
            return 2
        try:
            read_token(args.token_file)
        except (OSError, ValueError) as e:
            print(f"ngcodec: {e}", file=sys.stderr)
            return 2
        os.environ[TOKEN_FILE_ENV] = os.path.abspath(args.token_file)
    os.environ[TRANSCODE_ENV] = "1" if args.transcode else "0"
    page = getattr(args, "page", None)
    if page and not os.path.isdir(page):
        print(f"ngcodec: --page {page}: not a directory", file=sys.stderr)
        return 2
    os.environ[PAGE_ENV] = os.path.abspath(page) if page else ""
    os.environ[ROOT_ENV] = os.path.abspath(args.path)
    os.environ[VIEWER_ENV] = "1" if view else "0"
    config = uvicorn.Config("ngcodec.server.run:app_from_env", factory=True, host=args.host,
                            port=args.port, workers=args.workers, log_level="warning",
                            lifespan="off")
    server = uvicorn.Server(config)
    sock = config.bind_socket()  # bound now, so the URL printed has the real port
    sock.listen(config.backlog)  # and listening: a client may connect before run() starts
    port = sock.getsockname()[1]
    host = args.host if args.host not in ("0.0.0.0", "::") else "127.0.0.1"
    base = f"http://{host}:{port}"
    print(f"serving {os.path.abspath(args.path)} at {base}/ (Ctrl-C stops)", flush=True)
    if view:
        from .viewer import viewer_url
        url = viewer_url(base, info, os.path.basename(os.path.abspath(args.path)))
        print(f"Neuroglancer: {url}", flush=True)
        if page:
            print(f"page: {base}/page/", flush=True)
        if args.open:
            import webbrowser
            webbrowser.open(url)
    if args.workers > 1:
        from uvicorn.supervisors import Multiprocess
        Multiprocess(config, sockets=[sock]).run()
    else:
        server.run(sockets=[sock])
    return 0
