"""Datasets: the ``info`` at a path and its scales; ``open``, ``create``, ``open_dataset``.

>>> vol = ngcodec.precomputed.open("gs://bucket/ds", scale="8_8_8")   # a Volume
>>> ds = ngcodec.precomputed.create("/data/new", info)                # writes info
>>> ds.scale(0, mode="r+")[0:64, 0:64, 0:64] = labels

A path is a local directory, a ``file://`` URL, any other fsspec URL, or a
:class:`~.storage.Storage`.
"""

from ..errors import InvalidInfoError, InvalidParameterError, NgcodecError
from .info import InfoExistsError, dump_info, parse_info, validate_info
from .storage import inflate, is_gzip, open_storage
from .volume import Volume

__all__ = ["Dataset", "open", "open_dataset", "create"]

INFO = "info"
MAX_INFO_BYTES = 64 << 20  # an info larger than this is not an info (a gzip bomb?)


def _read_info(storage):
    where = storage.describe(INFO)
    data = storage.read(INFO)
    if data is None:
        raise InvalidInfoError(f"{where}: no info file (not a precomputed dataset?)")
    if is_gzip(data):  # some servers and copies keep it gzipped
        data = inflate(data, MAX_INFO_BYTES, where)
    return parse_info(data, where)


class Dataset:
    """A precomputed dataset: its validated ``info`` and its scales.

    ``scale(i_or_key, **options)`` opens one scale as a :class:`Volume`;
    *options* given here (mode, missing, threads, limits, compress, fsync,
    jpeg_quality) are the defaults of every scale opened from it.
    """

    def __init__(self, path, info=None, **options):
        self.storage = open_storage(path, **options.pop("storage_options", None) or {})
        self.info = _read_info(self.storage) if info is None else validate_info(
            info, self.storage.describe(INFO))
        self.options = options

    @property
    def scales(self):
        """The info's scale dicts, finest first."""
        return self.info["scales"]

    @property
    def keys(self):
        """The scales' keys."""
        return [s["key"] for s in self.info["scales"]]

    def scale_index(self, scale):
        """The index of *scale*, an index or a key."""
        keys = [k.strip("/") for k in self.keys]
        if isinstance(scale, str):
            if scale.strip("/") not in keys:
                raise InvalidParameterError(
                    f"{self.storage.describe(INFO)}: no scale with key {scale!r} "
                    f"(keys: {', '.join(keys)})")
            return keys.index(scale.strip("/"))
        if isinstance(scale, bool) or not isinstance(scale, int) \
                or not -len(keys) <= scale < len(keys):
            raise InvalidParameterError(
                f"{self.storage.describe(INFO)}: scale must be a key or an index in "
                f"[0, {len(keys)}), got {scale!r}")
        return scale % len(keys)

    def scale(self, scale=0, **options):
        """Scale *scale* (an index or a key) as a :class:`Volume`."""
        return Volume(self.storage, self.info, self.scale_index(scale),
                      **{**self.options, **options})

    def __len__(self):
        return len(self.info["scales"])

    def __repr__(self):
        return f"Dataset({self.storage.url!r}, scales={self.keys})"


def open_dataset(path, **options):
    """The :class:`Dataset` at *path* (its info read and validated)."""
    return Dataset(path, **options)


def open(path, scale=0, mode="r", missing="zero", threads=None, limits=None, **options):
    """Scale *scale* (an index or a key) of the dataset at *path* as a
    :class:`Volume`. *options*: ``compress``, ``fsync``, ``jpeg_quality``,
    ``storage_options`` (for fsspec)."""
    storage_options = options.pop("storage_options", None) or {}
    ds = Dataset(path, storage_options=storage_options)
    return ds.scale(scale, mode=mode, missing=missing, threads=threads, limits=limits,
                    **options)


def create(path, info, overwrite=False, fsync=False, **options):
    """Validates *info* and writes it to *path* (atomically), returning the
    :class:`Dataset`, whose scales open with ``mode="r+"`` by default. An
    existing info that differs is an :class:`~.info.InfoExistsError` unless
    *overwrite*; an equal one is left as it is. Chunks already there are
    not touched."""
    storage = open_storage(path, **options.pop("storage_options", None) or {})
    where = storage.describe(INFO)
    info = validate_info(info, where)
    if storage.exists(INFO):
        try:
            same = _read_info(storage) == info
        except NgcodecError:  # an unreadable info is a different one
            same = False
        if same:
            return Dataset(storage, info, mode="r+", fsync=fsync, **options)
        if not overwrite:
            raise InfoExistsError(f"{where}: a different info exists (pass overwrite=True "
                                  "to replace it)")
    storage.write(INFO, dump_info(info), fsync=fsync)
    return Dataset(storage, info, mode="r+", fsync=fsync, **options)
