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
import re
import threading

from .. import compressed_segmentation
from ..precomputed import open_dataset

BLOCK = (8, 8, 8)
CACHE_BYTES = 256 << 20
CHUNK_NAME = re.compile(r"(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)")


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
        transcoded scale. *source_path* is the stored file (checked by the
        caller)."""
        scale, _, name = key.rpartition("/")
        vol = self.scales.get(scale)
        m = CHUNK_NAME.fullmatch(name)
        if vol is None or m is None:
            return None
        v = [int(g) for g in m.groups()]
        shape = (v[1] - v[0], v[3] - v[2], v[5] - v[4])
        st = os.stat(source_path)
        ident = (key, st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            hit = self._cache.get(ident)
            if hit is not None:
                self._cache.move_to_end(ident)
                return hit
        with open(source_path, "rb") as f:
            data = f.read()
        if source_path.endswith(".gz") or data[:2] == b"\x1f\x8b":
            from ..precomputed.storage import inflate
            data = inflate(data, vol.codec.max_encoded(shape), source_path)
        array = vol.codec.decode(data, shape, what=source_path)
        encoded = compressed_segmentation.encode(array, BLOCK)
        etag = f'"cseg-{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"'
        with self._lock:
            self._cache[ident] = (encoded, etag)
            self._cached += len(encoded)
            while self._cached > self.cache_bytes and self._cache:
                _, (old, _) = self._cache.popitem(last=False)
                self._cached -= len(old)
        return encoded, etag


__all__ = ["Transcoder"]
