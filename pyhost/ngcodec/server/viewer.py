"""The Neuroglancer client of the PyPI ``neuroglancer`` package, served
offline beside the dataset (``pip install "ngcodec[view]"``).

That package ships the client built for its Python integration: the page
lives under ``/v/<token>/``, keeps an event stream open to
``/events/<token>`` and posts its state to ``/state/<token>``. This server
has no state to push, so it answers those as neuroglancer's own server does
for a viewer nobody drives from Python (an open, silent stream; each posted
state acknowledged with a new generation). The view comes from the URL's
``#!`` state (:func:`viewer_url`).
"""

import asyncio
import itertools
import json
import urllib.parse
from pathlib import Path

from . import require

TOKEN = "ngcodec"


def client_dir():
    """The built client's directory inside the installed neuroglancer package."""
    neuroglancer, = require("neuroglancer", extra="view")
    path = Path(neuroglancer.__file__).resolve().parent / "static" / "client"
    if not (path / "index.html").is_file():
        raise ImportError(f"the neuroglancer package has no built client in {path}: "
                          "pip install \"ngcodec[view]\"")
    return path


def routes(page=None):
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    generations = itertools.count(1)

    async def events(request):
        async def stream():
            yield ": ngcodec\n\n"
            while not await request.is_disconnected():
                await asyncio.sleep(1.0)
        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    async def state(request):
        await request.body()
        return JSONResponse({"g": str(next(generations))})

    async def action(request):
        await request.body()
        return Response(b"")

    extra = []
    if page is not None:  # a page of the user's (examples/editor), with the ES module
        web = Path(__file__).resolve().parent.parent / "web"
        extra = [Mount("/page", app=StaticFiles(directory=page, html=True)),
                 Mount("/ngcodec/web", app=StaticFiles(directory=web))]
    return extra + [
        Mount(f"/v/{TOKEN}", app=StaticFiles(directory=client_dir(), html=True)),
        Route(f"/events/{TOKEN}", events),
        Route(f"/state/{TOKEN}", state, methods=["POST"]),
        Route(f"/action/{TOKEN}", action, methods=["POST"]),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
    ]


def viewer_url(base, info, name="dataset"):
    """The client's URL at *base* (``http://host:port``) whose state shows
    the dataset served at *base* as one layer: segmentation or image, as its
    info's ``type`` says. Neuroglancer takes the dimensions and the position
    from the dataset."""
    kind = "segmentation" if info.get("type") == "segmentation" else "image"
    state = {"layers": [{"type": kind, "source": f"precomputed://{base}", "name": name}],
             "layout": "4panel", "selectedLayer": {"layer": name, "visible": False}}
    return (f"{base}/v/{TOKEN}/#!" +
            urllib.parse.quote(json.dumps(state, separators=(",", ":")), safe=""))
