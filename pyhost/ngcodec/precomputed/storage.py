"""Key-value storage under a dataset's root: a local directory, or an fsspec URL.

>>> store = open_storage("/data/fib25")          # or "file:///data/fib25"
>>> store.write("8_8_8/0-64_0-64_0-64", data)    # atomic: temporary file + os.replace
>>> store.read("8_8_8/0-64_0-64_0-64")           # bytes, or None when missing
>>> store.read_range("8_8_8/0.shard", 0, 4096)   # fewer bytes at EOF; the caller checks

Keys are relative paths with "/" separators. A key that could escape the
root (absolute, "..", ".", empty components, NUL, backslash) is refused with
InvalidParameterError before any file is touched.

Other URLs (``gs://``, ``s3://``, ``https://``, ``memory://``...) go through
fsspec when it is installed (``pip install ngcodec[remote]``).

This module also holds the capped gzip helpers that every layer above uses
for untrusted streams: :func:`inflate` and :func:`gzip_bytes`. With zlib-ng
installed (``pip install ngcodec[gzip]``) inflating runs on it, about 5x faster
than the standard library's zlib 1.2 here; compression stays on zlib (zlib-ng's
level 6 writes streams about 3x larger on segmentation).
"""

import os
import secrets
import stat
import zlib

from ..errors import InvalidFormatError, InvalidParameterError

try:
    from zlib_ng import zlib_ng as _inflater
except ImportError:  # the optional extra "gzip"
    _inflater = zlib
_ZLIB_ERRORS = tuple({zlib.error, _inflater.error})

__all__ = ["Storage", "LocalStorage", "FsspecStorage", "open_storage", "check_key",
           "inflate", "gzip_bytes", "is_gzip", "is_temporary", "GZIP_MAGIC"]

GZIP_MAGIC = b"\x1f\x8b"
_TMP_MARK = ".ngcodec-tmp-"


def is_temporary(key):
    """True for the name of a write's temporary file (``.name.ngcodec-tmp-…``,
    left behind only by a crash): never listed, never served."""
    return _TMP_MARK in key


# ---------------------------------------------------------------- gzip

def is_gzip(data):
    """True when *data* starts with the gzip magic bytes 1f 8b."""
    return bytes(data[:2]) == GZIP_MAGIC


def gzip_bytes(data, level=6):
    """*data* as one gzip member (RFC 1952), as Neuroglancer and tensorstore
    read it. The header's time is 0 so equal data gives equal bytes."""
    c = zlib.compressobj(level, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def inflate(data, max_bytes, what, *, zlib_ok=True, over=None):
    """Inflates the gzip stream *data* (concatenated members too), refusing
    output past *max_bytes* early: at most ``max_bytes + 1`` bytes are ever
    produced, so a gzip bomb costs its cap, not its expansion.

    *zlib_ok*: also accept a zlib (RFC 1950) stream, which some writers
    (neuroglancer-scripts) produce where gzip is declared; with False only
    gzip is accepted. Every failure is an InvalidFormatError whose message
    starts with *what* (name the file there), but for output past the cap
    when *over* is given: then it is ``over`` (e.g. ResourceLimitError, when
    the cap is the caller's memory limit rather than a bound of the format).
    """
    if max_bytes < 0:
        raise InvalidParameterError(f"{what}: max_bytes must be >= 0, got {max_bytes}")
    data = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    if not is_gzip(data) and not zlib_ok:
        raise InvalidFormatError(f"{what}: not a gzip stream (no 1f 8b magic)")
    wbits = 47 if zlib_ok else 31  # 47: gzip or zlib by the header
    parts = []
    produced = 0
    rest = data
    try:
        while True:
            d = _inflater.decompressobj(wbits)
            chunk = d.decompress(rest, max_bytes + 1 - produced)
            produced += len(chunk)
            parts.append(chunk)
            if produced > max_bytes:
                if over is not None:
                    raise over(f"{what}: gzip stream inflates past the memory limit of "
                               f"{max_bytes} bytes")
                raise InvalidFormatError(
                    f"{what}: gzip stream inflates past the {max_bytes}-byte cap (gzip bomb?)")
            if not d.eof:  # all input consumed (else the cap was hit above)
                raise InvalidFormatError(f"{what}: truncated gzip stream "
                                         f"({len(data)} bytes, no end of stream)")
            rest = d.unused_data
            # Further gzip members are part of the stream (gzip -c a b > c);
            # anything else after the end is trailing garbage.
            if not rest:
                break
            if not is_gzip(rest):
                raise InvalidFormatError(
                    f"{what}: {len(rest)} bytes of garbage after the end of the gzip stream")
    except _ZLIB_ERRORS as e:
        raise InvalidFormatError(f"{what}: corrupt gzip stream ({e})") from None
    return parts[0] if len(parts) == 1 else b"".join(parts)


# ---------------------------------------------------------------- keys

def check_key(key, allow_empty=False):
    """*key* if it is a relative "/"-separated path that stays inside the
    root; InvalidParameterError otherwise."""
    if not isinstance(key, str):
        raise InvalidParameterError(f"storage key must be a str, got {type(key).__name__}")
    if key == "" and allow_empty:
        return key
    if (not key or "\x00" in key or "\\" in key or key.startswith("/")
            or (len(key) > 1 and key[1] == ":")):
        raise InvalidParameterError(f"invalid storage key {key!r} (must be a relative path "
                                    "inside the dataset, '/' separators)")
    for part in key.split("/"):
        if part in ("", ".", ".."):
            raise InvalidParameterError(
                f"invalid storage key {key!r}: the component {part!r} is not allowed")
    return key


# ---------------------------------------------------------------- stores

class Storage:
    """The interface of a key-value store (see :class:`LocalStorage`).

    - ``read(key) -> bytes | None`` (None when missing)
    - ``read_range(key, offset, length) -> bytes | None`` (fewer bytes at
      EOF, None when the key is missing)
    - ``size(key) -> int | None``
    - ``write(key, data, fsync=False)``: atomic replace
    - ``delete(key)`` (no error when missing), ``exists(key)``
    - ``list(prefix="")``: the keys that start with *prefix*, sorted
    - ``describe(key)``: the file's name for messages
    """

    url = None

    def describe(self, key):
        return f"{self.url.rstrip('/')}/{key}"

    def __repr__(self):
        return f"{type(self).__name__}({self.url!r})"

    def __eq__(self, other):
        return type(other) is type(self) and other.url == self.url

    def __hash__(self):
        return hash((type(self), self.url))


class LocalStorage(Storage):
    """Files under a local directory (pathlib/os). Writes go to a temporary
    file in the target's directory, then ``os.replace``; with
    ``fsync=True`` the file and its directory are fsynced, so after a crash
    each file is either the old one or the new one."""

    def __init__(self, root):
        self.root = os.path.abspath(os.fspath(root))
        self.url = self.root

    def describe(self, key):
        return os.path.join(self.root, *key.split("/"))

    def path(self, key):
        """The local path of *key* (checked)."""
        return os.path.join(self.root, *check_key(key).split("/"))

    def read(self, key):
        try:
            with open(self.path(key), "rb") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except IsADirectoryError:
            raise self._directory(key) from None

    def read_range(self, key, offset, length):
        if offset < 0 or length < 0:
            raise InvalidParameterError(
                f"read_range {self.describe(key)}: negative offset or length ({offset}, {length})")
        try:
            with open(self.path(key), "rb") as f:
                f.seek(offset)
                return f.read(length)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except IsADirectoryError:
            raise self._directory(key) from None

    def size(self, key):
        try:
            st = os.stat(self.path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        if stat.S_ISDIR(st.st_mode):
            raise self._directory(key)
        return st.st_size

    def _directory(self, key):
        return InvalidFormatError(f"{self.describe(key)}: is a directory, not a file")

    def exists(self, key):
        return os.path.isfile(self.path(key))

    def write(self, key, data, fsync=False):
        target = self.path(key)
        directory = os.path.dirname(target)
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, f".{os.path.basename(target)}{_TMP_MARK}{secrets.token_hex(6)}")
        try:
            with open(tmp, "xb") as f:
                f.write(data)
                if fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        if fsync:
            _fsync_dir(directory)

    def delete(self, key):
        try:
            os.unlink(self.path(key))
        except FileNotFoundError:
            pass

    def list(self, prefix=""):
        if prefix:
            check_key(prefix.rstrip("/"))
        head, _, tail = prefix.rpartition("/")
        start = os.path.join(self.root, *head.split("/")) if head else self.root
        base = head + "/" if head else ""
        yield from (k for k in _walk(start, base) if k.startswith(prefix))


def _walk(directory, base):
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return
    for e in entries:
        if is_temporary(e.name):
            continue
        if e.is_dir(follow_symlinks=False):
            yield from _walk(e.path, base + e.name + "/")
        elif e.is_file():
            yield base + e.name


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class FsspecStorage(Storage):
    """Keys under an fsspec URL (``gs://bucket/ds``, ``s3://``, ``https://``,
    ``memory://``). Object stores replace whole objects, so a write is atomic
    there; ``fsync`` is ignored."""

    def __init__(self, url, **storage_options):
        try:
            import fsspec
        except ImportError:
            raise InvalidParameterError(
                f"{url}: URLs other than local paths need fsspec (pip install ngcodec[remote])"
            ) from None
        self.url = url.rstrip("/")
        self.fs, self._root = fsspec.core.url_to_fs(self.url, **storage_options)
        self._root = self._root.rstrip("/")

    def _p(self, key):
        return f"{self._root}/{check_key(key)}"

    def read(self, key):
        try:
            return self.fs.cat_file(self._p(key))
        except FileNotFoundError:
            return None

    def read_range(self, key, offset, length):
        if offset < 0 or length < 0:
            raise InvalidParameterError(
                f"read_range {self.describe(key)}: negative offset or length ({offset}, {length})")
        if length == 0:
            return b"" if self.exists(key) else None
        try:
            return self.fs.cat_file(self._p(key), start=offset, end=offset + length)
        except FileNotFoundError:
            return None

    def size(self, key):
        try:
            return int(self.fs.size(self._p(key)))
        except FileNotFoundError:
            return None

    def exists(self, key):
        p = self._p(key)
        return self.fs.exists(p) and not self.fs.isdir(p)

    def write(self, key, data, fsync=False):
        self.fs.pipe_file(self._p(key), bytes(data))

    def delete(self, key):
        try:
            self.fs.rm_file(self._p(key))
        except FileNotFoundError:
            pass

    def list(self, prefix=""):
        if prefix:
            check_key(prefix.rstrip("/"))
        head = prefix.rpartition("/")[0]
        start = f"{self._root}/{head}" if head else self._root
        try:
            found = self.fs.find(start)
        except FileNotFoundError:
            return
        n = len(self._root) + 1
        for p in sorted(found):
            p = p.rstrip("/")
            # memory:// and some others give paths with a leading "/"
            key = p[n:] if p.startswith(self._root + "/") else p.lstrip("/")[len(self._root.lstrip("/")) + 1:]
            if key.startswith(prefix) and not is_temporary(key):
                yield key


def open_storage(path, **storage_options):
    """A :class:`Storage` for a local path, a ``file://`` URL, an existing
    Storage (returned as is), or any other URL through fsspec."""
    if isinstance(path, Storage):
        return path
    if isinstance(path, os.PathLike):
        return LocalStorage(path)
    if not isinstance(path, str):
        raise InvalidParameterError(f"expected a path or URL, got {type(path).__name__}")
    if path.startswith("file://"):
        return LocalStorage(path[len("file://"):])
    if "://" in path:
        return FsspecStorage(path, **storage_options)
    return LocalStorage(path)
