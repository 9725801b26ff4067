"""``ngcodec serve`` and ``ngcodec view``: a local dataset over HTTP for
Neuroglancer (Starlette on uvicorn; ``pip install "ngcodec[serve]"``, and
``"ngcodec[view]"`` for the bundled Neuroglancer client).

>>> from ngcodec.server import create_app
>>> app = create_app("/data/fib25")              # an ASGI app: run it with uvicorn
>>> app = create_app("/data/fib25", viewer=True) # + Neuroglancer at /v/ngcodec/

See :mod:`.app` for what is served and how, :mod:`.viewer` for the client.
"""

__all__ = ["create_app", "require"]


def require(*modules, extra="serve"):
    """Imports *modules*, or raises ImportError with the one line that says
    which ``pip install`` provides them."""
    import importlib
    try:
        return [importlib.import_module(m) for m in modules]
    except ImportError as e:
        raise ImportError(f"{e.name} is needed here: pip install \"ngcodec[{extra}]\"") from None


def create_app(root, **options):
    """See :func:`.app.create_app` for the options."""
    from .app import create_app as _create
    return _create(root, **options)
