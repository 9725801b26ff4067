"""``ngcodec serve --transcode``: unsharded raw uint32/uint64 scales are
served as compressed_segmentation (8x8x8 blocks), for many times fewer bytes
on the wire (about 30x for FIB-25 labels).

The ``info`` served says so for those scales; each chunk requested is read
(``name`` or ``name.gz``), decoded, encoded with the same module and cached
(least recently used first out, 256 MiB of encodings by default), keyed by
the source file's identity (inode, size, mtime), so a chunk rewritten on
disk is encoded again. Its ETag is derived from that identity. Sharded
scales and other encodings are served as they are (a shard would have to be
rebuilt to change its chunks' encoding).
"""

import collections
import json
import os
import threading

from .. import compressed_segmentation
from ..precomputed import open_dataset

BLOCK = (8, 8, 8)
CACHE_BYTES = 256 << 20


class Transcoder:
    def __init__(self, root, cache_bytes=CACHE_BYTES):
        self.dataset = open_dataset(root, threads=1)
        info = json.loads(json.dumps(self.dataset.info))
        self.scales = {}
        for s in info["scales"]:
            if (s["encoding"] == "raw" and s.get("sharding") is None
                    and info["data_type"] in ("uint32", "uint64")):
                s["encoding"] = "compressed_segmentation"
                s["compressed_segmentation_block_size"] = list(BLOCK)
                self.scales[s["key"]] = self.dataset.scale(s["key"])
        self.info_bytes = json.dumps(info, indent=1).encode()
        self.cache_bytes = cache_bytes
        self._cache = collections.OrderedDict()
        self._cached = 0
        self._lock = threading.Lock()

    def chunk(self, key, source_path):
        """``(bytes, etag)`` of chunk *key* (``{scale}/{name}``) encoded as
        compressed_segmentation, or None when *key* is not a chunk of a
        transcoded scale. *source_path* is its stored file (found by the
        caller): its identity keys the cache."""
        scale, _, name = key.rpartition("/")
        vol = self.scales.get(scale)
        grid = vol._scale.grid_of(name) if vol is not None else None
        if grid is None:
            return None
        st = os.stat(source_path)
        ident = (key, st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            hit = self._cache.get(ident)
            if hit is not None:
                self._cache.move_to_end(ident)
                return hit
        data = vol._store.get(grid)  # name or name.gz, gzip inflated under the chunk's bound
        if data is None:  # removed since it was found
            return None
        encoded = compressed_segmentation.encode(vol._decode(data, grid), BLOCK)
        etag = f'"cseg-{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"'
        with self._lock:
            self._cache[ident] = (encoded, etag)
            self._cached += len(encoded)
            while self._cached > self.cache_bytes and self._cache:
                _, (old, _) = self._cache.popitem(last=False)
                self._cached -= len(old)
        return encoded, etag


__all__ = ["Transcoder"]
