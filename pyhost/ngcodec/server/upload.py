"""Uploads, checked before they land: ``PUT /<scale key>/<chunk name>``.

With ``--allow-upload --token-file FILE`` the server accepts an encoded
chunk as the request body, and before anything is written:

1. the bearer token (``Authorization: Bearer <token>``, compared in
   constant time): 401 without one, 403 when wrong;
2. the scale key and the chunk name against the scale's grid (the name
   must be a chunk of that scale, clipped at the far edge as Neuroglancer
   names them): 404 for an unknown scale, 400 for a name that is not one
   of its chunks;
3. the body's size against the most bytes a valid encoding of that chunk
   takes, from ``Content-Length`` and again while the body streams in: 413;
   a body that takes longer than 30 s to arrive: 408;
4. the body decoded **in the sandbox** (``Limits``) as the scale's encoding,
   data type, channels and chunk shape: 400 with a JSON body giving the
   decoder's message and status name.

Only then is it written: atomically (temporary file, fsync, rename) for an
unsharded scale; for a sharded one, its shard is rewritten with the chunk
merged in. ``POST /<scale key>/<box>`` (the box written like a chunk name,
absolute voxels, inside the bounds) takes the box's voxels raw, ``(C, Z, Y,
X)`` little-endian as a raw chunk holds them (exactly that many bytes, else
400 or 413), and the server encodes them; chunks it covers partly are read,
merged and rewritten. The server's writes run one at a time (a lock), so
concurrent uploads into one chunk or shard all land; the lock is per
process, so uploads need ``--workers 1``. A rejected upload leaves every file
as it was.
"""

import asyncio
import hmac
import threading

import numpy as np

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from ..errors import NgcodecError
from ..limits import Limits
from ..precomputed import open_dataset
from ..precomputed.info import parse_box

BODY_SECONDS = 30.0  # an upload's body must arrive within this


def read_token(path):
    """The token in *path* (surrounding whitespace ignored); refused empty."""
    with open(path, encoding="utf-8") as f:
        token = f.read().strip()
    if not token:
        raise ValueError(f"{path}: the token file is empty")
    return token


def _reply(status, reason, **extra):
    return JSONResponse({"error": reason, **extra}, status_code=status)


class Uploads:
    """The PUT endpoint for the dataset at *root*."""

    def __init__(self, root, token, limits=None, body_seconds=BODY_SECONDS):
        self.root = root
        self.body_seconds = body_seconds
        self._token = token.encode()
        self.limits = limits or Limits()
        self.dataset = open_dataset(root, mode="r+", limits=self.limits, fsync=True,
                                    threads=1)
        self._volumes = {}
        # Every write of this server, one at a time: a box's partly covered
        # chunks are read, merged and rewritten, which must not interleave
        # with another write of the same chunk or shard.
        self._write_lock = threading.Lock()

    def _volume(self, key):
        if key not in self._volumes:
            if key not in self.dataset.keys:
                return None
            self._volumes[key] = self.dataset.scale(key)
        return self._volumes[key]

    def _target(self, request):
        """``(volume, scale key, name, None)`` of a request whose bearer
        token is right and whose scale exists, else ``(None, None, None,
        reply)`` with the 401, 403 or 404."""
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return None, None, None, _reply(401, "an upload needs 'Authorization: Bearer <token>'")
        if not hmac.compare_digest(auth[len("Bearer "):].strip().encode(), self._token):
            return None, None, None, _reply(403, "wrong token")
        key, _, name = request.path_params["key"].rpartition("/")
        vol = self._volume(key)
        if vol is None:
            return None, None, None, _reply(404, f"no scale {key!r} in this dataset")
        return vol, key, name, None

    async def _body(self, request, cap, what):
        """``(bytes, None)``, or ``(None, a 413 reply)`` past *cap* bytes."""
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > cap):
            return None, _reply(413, f"Content-Length {declared} exceeds the {cap} bytes {what}")
        body = bytearray()
        try:
            async with asyncio.timeout(self.body_seconds):  # a slow body holds no slot forever
                async for part in request.stream():
                    body += part
                    if len(body) > cap:
                        return None, _reply(413, f"the body exceeds the {cap} bytes {what}")
        except TimeoutError:
            return None, _reply(408, f"the body did not arrive within {self.body_seconds} s "
                                     f"({len(body)} bytes came)")
        return bytes(body), None

    async def endpoint(self, request):
        """PUT /<scale key>/<chunk name>: an encoded chunk."""
        vol, key, name, refused = self._target(request)
        if refused is not None:
            return refused
        grid = vol._scale.grid_of(name)
        if grid is None:
            return _reply(400, f"{name!r} is not a chunk name of scale {key!r} "
                               "(x0-x1_y0-y1_z0-z1 on its grid, clipped at the far edge)")
        shape = vol._scale.chunk_shape(grid)
        cap = vol.codec.max_encoded(shape)
        data, refused = await self._body(request, cap, f"a chunk of shape {shape} can take")
        if refused is not None:
            return refused
        try:
            await run_in_threadpool(vol.codec.decode, data, shape, None, f"{key}/{name}")
        except NgcodecError as e:
            return _reply(400, str(e), exception=type(e).__name__, status_name=e.status_name)
        await run_in_threadpool(self._write, vol, grid, data)
        return JSONResponse({"written": f"{key}/{name}", "bytes": len(data)}, status_code=201)

    async def post_box(self, request):
        """POST /<scale key>/<box>: the box's voxels, raw (C, Z, Y, X),
        little-endian, x fastest; encoded here in the scale's encoding."""
        vol, key, name, refused = self._target(request)
        if refused is not None:
            return refused
        box = parse_box(name)
        if box is None:
            return _reply(400, f"{name!r} is not a box (x0-x1_y0-y1_z0-z1, absolute voxels)")
        lo, hi = box
        (blo, bhi) = vol.bounds
        if any(a >= b for a, b in zip(lo, hi)) or any(
                a < l or b > h for a, b, l, h in zip(lo, hi, blo, bhi)):
            return _reply(400, f"box {name} is empty or outside the bounds "
                               f"{vol._describe_bounds()} of scale {key!r}")
        shape = tuple(b - a for a, b in zip(lo, hi))
        n = vol.num_channels * shape[0] * shape[1] * shape[2] * vol.dtype.itemsize
        what = (f"of {vol.num_channels} channel(s) of {shape} {vol.dtype.name} "
                "(raw, little-endian) take")
        data, refused = await self._body(request, n, what)
        if refused is not None:
            return refused
        if len(data) != n:
            return _reply(400, f"the body has {len(data)} bytes; {n} bytes {what}")
        voxels = np.frombuffer(data, vol.dtype.newbyteorder("<")).reshape(
            (vol.num_channels,) + shape[::-1]).transpose(3, 2, 1, 0)
        try:
            await run_in_threadpool(self._write_box, vol, lo, hi, voxels)
        except NgcodecError as e:  # e.g. a damaged chunk the box covers partly
            return _reply(409, str(e), exception=type(e).__name__, status_name=e.status_name)
        return JSONResponse({"written": f"{key}/{name}", "bytes": n}, status_code=201)

    def _write_box(self, vol, lo, hi, voxels):
        with self._write_lock:
            vol.write(lo, hi, voxels)

    def _write(self, vol, grid, data):
        with self._write_lock:
            if vol.sharding is None:
                vol._store.put(grid, data)
            else:
                vol._store.write_shards({vol._cids([grid])[0]: data}, fsync=True)


__all__ = ["Uploads", "read_token"]
