"""The unsharded layout: one file per chunk, ``{key}/{x0}-{x1}_{y0}-{y1}_{z0}-{z1}``.

Coordinates are absolute voxels (``voxel_offset`` included), chunks aligned to
the grid that starts at ``voxel_offset`` and clipped to the bounds at the far
edge, as Neuroglancer, tensorstore and cloud-volume name them.

Reading accepts a chunk stored as ``name``, as gzip bytes under ``name``
(magic 1f 8b) or as ``name.gz`` (cloud-volume's ``compress="gzip"``); the
inflation is capped at the most bytes a valid chunk of that shape takes.
Writing with ``compress="gzip"`` writes ``name.gz`` and removes ``name``
(and the other way round), so one chunk never has two versions.
"""

from ..errors import InvalidParameterError
from .storage import gzip_bytes, inflate, is_gzip

__all__ = ["UnshardedStore", "COMPRESS"]

COMPRESS = (None, "gzip")


class UnshardedStore:
    """The chunk files of one unsharded scale, keyed by grid position (x, y, z).

    ``get(grid) -> bytes | None``: the chunk's encoded bytes (inflated);
    ``put(grid, data)``: an atomic write; ``name(grid)``: the file's key.
    """

    def __init__(self, storage, scale, codec, compress=None, fsync=False):
        if compress not in COMPRESS:
            raise InvalidParameterError(f"compress must be None or 'gzip', got {compress!r}")
        self.storage = storage
        self.scale = scale
        self.codec = codec
        self.compress = compress
        self.fsync = fsync

    def name(self, grid):
        return self.scale.chunk_name(grid)

    def get(self, grid):
        """The encoded chunk at *grid*, or None when neither ``name`` nor
        ``name.gz`` exists."""
        name = self.scale.chunk_name(grid)
        data = self.storage.read(name)
        if data is None:
            name += ".gz"
            data = self.storage.read(name)
            if data is None:
                return None
        if is_gzip(data):
            data = inflate(data, self.codec.max_encoded(self.scale.chunk_shape(grid)),
                           self.storage.describe(name))
        return data

    def put(self, grid, data):
        name = self.scale.chunk_name(grid)
        if self.compress == "gzip":
            self.storage.write(name + ".gz", gzip_bytes(data), fsync=self.fsync)
            self.storage.delete(name)
        else:
            self.storage.write(name, data, fsync=self.fsync)
            self.storage.delete(name + ".gz")
