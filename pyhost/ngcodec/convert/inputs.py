"""The inputs of ``ngcodec convert``: each kind of volume as a :class:`Source`.

A source has a shape ``(X, Y, Z, C)``, a dtype and ``read(lower, upper)``,
which returns the box ``[lower, upper)`` (0-based voxels, x first) as a
``(C, Z, Y, X)`` array (often a view: the caller copies it into its own
buffer). Reading is lazy for every kind: ``.npy`` files are read box by box with
``os.preadv`` (never loaded whole, never mapped), TIFF slices, zarr
chunks, NIfTI slabs and precomputed chunks are read as a box needs them.

Axis orders (the ``axes`` of the source array, slowest first as stored;
``axes=`` overrides, e.g. ``"zyx"``, ``"xyzc"``):

========================  ===========  ==================
kind                      3-D          4-D
========================  ===========  ==================
NumPy array, ``.npy``     ``xyz``      ``xyzc``
TIFF (file or folder)     ``zyx``      ``zyxc`` (samples)
NIfTI                     ``xyz``      ``xyzc`` (4th dim)
zarr (v2, v3)             ``zyx``      ``czyx`` (OME-Zarr)
precomputed               (its own: ``xyzc``, axes= refused)
========================  ===========  ==================

2-D inputs are one z slice (``xy`` or, for TIFF and zarr, ``yx``).
"""

import hashlib
import itertools
import math
import os
import re
import threading

import numpy as np

from ..errors import InvalidParameterError, NgcodecError

__all__ = ["Source", "open_source", "MissingDependencyError", "KINDS"]

KINDS = ("array", "npy", "tiff", "nifti", "zarr", "precomputed")
INSTALL = 'pip install "ngcodec[convert]"'
TIFF_SUFFIXES = (".tif", ".tiff")
NIFTI_SUFFIXES = (".nii", ".nii.gz")

# Default axes per kind and number of dimensions.
DEFAULT_AXES = {
    "array": {2: "xy", 3: "xyz", 4: "xyzc"},
    "npy": {2: "xy", 3: "xyz", 4: "xyzc"},
    "tiff": {2: "yx", 3: "zyx", 4: "zyxc"},
    "nifti": {2: "xy", 3: "xyz", 4: "xyzc"},
    "zarr": {2: "yx", 3: "zyx", 4: "czyx"},
}


class MissingDependencyError(NgcodecError, ImportError):
    """An input kind needs a library of the ``convert`` extra."""


def _need(module, what):
    try:
        return __import__(module)
    except ImportError:
        raise MissingDependencyError(
            f"reading {what} needs the Python package {module!r}: {INSTALL}") from None


def parse_axes(axes, ndim, kind, where):
    """The source's axes string, checked: each of x, y, z, c at most once,
    x and y present, as many letters as the array has dimensions."""
    if axes is None:
        axes = DEFAULT_AXES[kind].get(ndim)
        if axes is None:
            raise InvalidParameterError(
                f"{where}: a {ndim}-D {kind} input has no default axis order (2-D, 3-D or "
                "4-D are understood); give axes=, e.g. 'zyxc'")
        return axes
    if not isinstance(axes, str):
        raise InvalidParameterError(f"axes must be a string such as 'zyx', got {axes!r}")
    a = axes.lower()
    if len(a) != ndim or set(a) - set("xyzc") or len(set(a)) != len(a) or not {"x", "y"} <= set(a):
        raise InvalidParameterError(
            f"{where}: axes {axes!r} do not fit a {ndim}-D array: give {ndim} distinct letters "
            "of x, y, z, c (x and y required), e.g. 'zyx' or 'xyzc'")
    return a


class Source:
    """A volume to convert: ``shape`` (X, Y, Z, C), ``dtype``, ``read()``.

    *array*: anything indexable with a tuple of slices in its own axis
    order (a NumPy array or memmap, a zarr array, a nibabel ArrayProxy);
    *axes*: that order. *info*: defaults the source gives (``resolution``,
    ``voxel_offset``, ``type``), and *description*: what identifies it for
    ``--resume`` (kind, path, size and modification times).
    """

    kind = "array"

    def __init__(self, array, axes, where, description, defaults=None, lock=None):
        self.array = array
        self.axes = axes
        self.where = where
        self.description = description
        self.defaults = defaults or {}
        self._lock = lock
        shape = dict(zip(axes, array.shape))
        self.shape = (shape["x"], shape["y"], shape.get("z", 1), shape.get("c", 1))
        if min(self.shape) < 1:
            raise InvalidParameterError(f"{where}: empty volume of shape {tuple(array.shape)} "
                                        f"({axes})")
        self.dtype = np.dtype(array.dtype)
        # the order boxes are best read in: the axes slowest in storage first
        # (a Fortran-ordered array stores its last dimension slowest)
        stored = axes[::-1] if _fortran(array) else axes
        self.slow_axes = tuple("xyz".index(a) for a in stored if a in "xyz") + \
            tuple(i for i, a in enumerate("xyz") if a not in axes)

    def read(self, lower, upper):
        """The box ``[lower, upper)`` (x, y, z) as a ``(C, Z, Y, X)`` array."""
        box = {"x": slice(lower[0], upper[0]), "y": slice(lower[1], upper[1]),
               "z": slice(lower[2], upper[2]), "c": slice(None)}
        key = tuple(box[a] for a in self.axes)
        if self._lock is not None:
            with self._lock:
                a = np.asarray(self.array[key])
        else:
            a = np.asarray(self.array[key])
        full = self.axes + "".join(x for x in "czyx" if x not in self.axes)
        a = a.reshape(a.shape + (1,) * (len(full) - a.ndim))
        return a.transpose([full.index(x) for x in "czyx"])

    def close(self):
        pass


def _fortran(array):
    """Whether *array* (an ndarray or a lazily read file) stores its last
    dimension slowest."""
    if isinstance(array, _NpyFile):
        return array.fortran
    flags = getattr(array, "flags", None)
    return bool(flags is not None and getattr(array, "ndim", 0) > 1 and flags.f_contiguous
                and not flags.c_contiguous)


class PrecomputedSource(Source):
    """A scale of a precomputed dataset (voxel coordinates relative to its
    ``voxel_offset``)."""

    kind = "precomputed"

    def __init__(self, volume, description):
        self.volume = volume
        self.where = volume.storage.url
        self.axes = "xyzc"
        self.description = description
        self.shape = volume.shape
        self.dtype = volume.dtype
        self.slow_axes = (2, 1, 0)
        info = volume.info
        self.defaults = {"resolution": list(volume.resolution),
                         "voxel_offset": list(volume.voxel_offset), "type": info["type"]}

    def read(self, lower, upper):
        off = self.volume.voxel_offset
        lo = [a + o for a, o in zip(lower, off)]
        hi = [a + o for a, o in zip(upper, off)]
        return self.volume.read(lo, hi).T


def _stamp(paths):
    """What identifies files' contents cheaply: names, sizes, mtimes."""
    h = hashlib.sha256()
    for p in paths:
        st = os.stat(p)
        h.update(f"{os.path.basename(p)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


def _natural(name):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _probe_dtype(array):
    """The dtype of what indexing *array* gives (nibabel may scale)."""
    return np.asarray(array[(slice(0, 1),) * len(array.shape)]).dtype


class _Slices:
    """A folder of 2-D TIFF slices as a lazily read (Z, Y, X[, S]) array."""

    def __init__(self, files, tifffile):
        self.files = files
        self.tifffile = tifffile
        first = tifffile.imread(files[0])
        self.shape = (len(files),) + first.shape
        self.dtype = first.dtype
        self.ndim = len(self.shape)

    def __getitem__(self, key):
        zs = range(len(self.files))[key[0]]
        out = None
        for i, z in enumerate(zs):
            page = self.tifffile.imread(self.files[z])
            if page.shape != self.shape[1:]:
                raise InvalidParameterError(
                    f"{self.files[z]}: slice of shape {page.shape}, the first slice is "
                    f"{self.shape[1:]} (every slice of a folder must have the same shape)")
            page = page[tuple(key[1:])]
            if out is None:
                out = np.empty((len(zs),) + page.shape, self.dtype)
            out[i] = page
        return out


class _Pages:
    """A multi-page TIFF read page range by page range (one reader at a time)."""

    def __init__(self, tif, series):
        self.tif = tif
        self.series = series
        self.shape = series.shape
        self.dtype = series.dtype
        self.ndim = len(self.shape)

    def __getitem__(self, key):
        if self.ndim == 2 or len(self.series.pages) == 1:
            return self.series.asarray()[key]
        zs = range(self.shape[0])[key[0]]
        a = self.series.asarray(key=list(zs))
        if len(zs) == 1 and a.ndim == self.ndim - 1:
            a = a[None]
        return a[(slice(None),) + tuple(key[1:])]


class _NpyFile:
    """A ``.npy`` file as a lazily read array: its header parsed by
    ``np.load(mmap_mode="r")``, its boxes read with ``os.preadv`` into new
    arrays. (Copying boxes out of the memory map instead leaves every page
    it touched mapped, and the kernel maps whole large folios: a 2 GiB file
    converted in shard-sized boxes peaked at 1.2 GiB resident.)"""

    MIN_RUN = 64 << 10  # shorter contiguous runs: read the next axis whole, then crop
    MAX_WIDEN = 1 << 20  # ... as long as that reads at most this much per run

    def __init__(self, path):
        m = np.load(path, mmap_mode="r", allow_pickle=False)
        self.shape, self.dtype, self.ndim = tuple(m.shape), m.dtype, m.ndim
        self.offset = int(m.offset)
        self.fortran = m.ndim > 1 and m.flags.f_contiguous and not m.flags.c_contiguous
        del m
        self.path = path
        self.fd = os.open(path, os.O_RDONLY)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __getitem__(self, key):
        bounds = [k.indices(n)[:2] for k, n in zip(key, self.shape)]
        if self.fortran:  # a Fortran array of shape S is the transpose of a C one of S[::-1]
            return self._read(self.shape[::-1], bounds[::-1]).T
        return self._read(self.shape, bounds)

    def _read(self, shape, bounds):
        lo = [a for a, _ in bounds]
        hi = [max(a, b) for a, b in bounds]
        nd, item = len(shape), self.dtype.itemsize
        out = np.empty([b - a for a, b in zip(lo, hi)], self.dtype)
        if out.size == 0:
            return out
        strides = [math.prod(shape[i + 1:]) for i in range(nd)]
        k = nd - 1  # axes after k are read whole
        while k >= 0 and lo[k] == 0 and hi[k] == shape[k]:
            k -= 1
        if k < 0:
            k = 0
        while k > 0 and (hi[k] - lo[k]) * strides[k] * item < self.MIN_RUN \
                and shape[k] * strides[k] * item <= self.MAX_WIDEN:
            k -= 1
        # When the axes after k are whole, each run lands in `out` as it is
        # read; otherwise a run is read into `tmp` and cropped.
        whole = all(lo[j] == 0 and hi[j] == shape[j] for j in range(k + 1, nd))
        tmp = None if whole else np.empty((hi[k] - lo[k],) + tuple(shape[k + 1:]), self.dtype)
        crop = (slice(None),) + tuple(slice(a, b) for a, b in zip(lo[k + 1:], hi[k + 1:]))
        for idx in itertools.product(*(range(a, b) for a, b in zip(lo[:k], hi[:k]))):
            pos = sum(i * s for i, s in zip(idx, strides)) + lo[k] * strides[k]
            at = tuple(i - a for i, a in zip(idx, lo[:k]))
            into = out[at] if whole else tmp
            got = os.preadv(self.fd, [into], self.offset + pos * item)
            if got != into.nbytes:
                raise InvalidParameterError(f"{self.path}: the file is shorter than its header "
                                            "says")
            if not whole:
                out[at] = tmp[crop]
        return out


def detect_kind(source):
    """The kind of *source* (one of KINDS), or an InvalidParameterError."""
    if isinstance(source, np.ndarray):
        return "array"
    if type(source).__module__.startswith("zarr"):
        return "zarr"
    if not isinstance(source, (str, os.PathLike)):
        if all(hasattr(source, a) for a in ("shape", "dtype", "__getitem__")):
            return "array"
        raise InvalidParameterError(
            f"cannot convert a {type(source).__name__}: give a NumPy array or a path")
    path = os.fspath(source)
    if path.startswith("precomputed://"):
        return "precomputed"
    if "://" in path and not path.startswith("file://"):
        return "precomputed"
    path = path[len("file://"):] if path.startswith("file://") else path
    low = path.lower().rstrip("/")
    if not os.path.exists(path):
        raise InvalidParameterError(f"{path}: no such file or directory")
    if os.path.isdir(path):
        names = os.listdir(path)
        if "info" in names:
            return "precomputed"
        if ".zarray" in names or "zarr.json" in names:
            return "zarr"
        if any(n.lower().endswith(TIFF_SUFFIXES) for n in names):
            return "tiff"
    else:
        if low.endswith(".npy"):
            return "npy"
        if low.endswith(TIFF_SUFFIXES):
            return "tiff"
        if low.endswith(NIFTI_SUFFIXES):
            return "nifti"
    raise InvalidParameterError(
        f"{path}: unknown kind of input (expected a .npy file, a .tif/.tiff file or a folder "
        "of them, a .nii/.nii.gz file, a zarr array (a folder with .zarray or zarr.json) or a "
        "precomputed dataset (a folder with an info file))")


def open_source(source, axes=None, kind=None, source_scale=0):
    """A :class:`Source` for *source* (see the module's documentation)."""
    kind = kind or detect_kind(source)
    if kind not in KINDS:
        raise InvalidParameterError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "array":
        a = source
        return Source(a, parse_axes(axes, len(a.shape), kind, "array"), "array",
                      {"kind": "array", "shape": list(a.shape), "dtype": np.dtype(a.dtype).str})
    if kind == "zarr" and not isinstance(source, (str, os.PathLike)):
        return Source(source, parse_axes(axes, source.ndim, kind, "zarr array"), "zarr array",
                      {"kind": "zarr", "shape": list(source.shape),
                       "dtype": np.dtype(source.dtype).str})
    path = os.fspath(source)
    if kind == "precomputed":
        from .. import precomputed

        if axes is not None:
            raise InvalidParameterError("axes= does not apply to a precomputed input (its "
                                        "axes are x, y, z, channels)")
        url = path[len("precomputed://"):] if path.startswith("precomputed://") else path
        vol = precomputed.open(url, scale=source_scale, threads=1)
        stamp = _stamp([os.path.join(url, "info")]) if "://" not in url else None
        return PrecomputedSource(vol, {"kind": kind, "path": os.path.abspath(url)
                                       if "://" not in url else url,
                                       "scale": vol.key, "stamp": stamp})
    path = path[len("file://"):] if path.startswith("file://") else path
    desc = {"kind": kind, "path": os.path.abspath(path)}
    if kind == "npy":
        try:
            a = _NpyFile(path)
        except (ValueError, OSError) as e:
            raise InvalidParameterError(f"{path}: not a readable .npy file ({e})") from None
        desc["stamp"] = _stamp([path])
        src = Source(a, parse_axes(axes, a.ndim, kind, path), path, desc)
        src.close = a.close
        return src
    if kind == "tiff":
        tifffile = _need("tifffile", "TIFF")
        if os.path.isdir(path):
            files = sorted((os.path.join(path, n) for n in os.listdir(path)
                            if n.lower().endswith(TIFF_SUFFIXES) and not n.startswith(".")),
                           key=lambda p: _natural(os.path.basename(p)))
            desc["stamp"] = _stamp(files)
            arr = _Slices(files, tifffile)
            return Source(arr, parse_axes(axes, arr.ndim, kind, path), path, desc)
        desc["stamp"] = _stamp([path])
        try:
            tif = tifffile.TiffFile(path)
        except Exception as e:  # tifffile raises its own TiffFileError and others
            raise InvalidParameterError(f"{path}: not a readable TIFF file ({e})") from None
        series = tif.series[0]
        arr = _Pages(tif, series)
        src = Source(arr, parse_axes(axes, arr.ndim, kind, path), path, desc,
                     lock=threading.Lock())
        src.close = tif.close
        return src
    if kind == "nifti":
        nibabel = _need("nibabel", "NIfTI")
        try:
            img = nibabel.load(path)
        except Exception as e:  # nibabel's ImageFileError and friends
            raise InvalidParameterError(f"{path}: not a readable NIfTI file ({e})") from None
        desc["stamp"] = _stamp([path])
        proxy = img.dataobj
        shape = tuple(proxy.shape)
        while len(shape) > 3 and shape[-1] == 1:  # (X, Y, Z, 1, 1) -> (X, Y, Z)
            shape = shape[:-1]

        class _Proxy:
            def __init__(self):
                self.shape, self.ndim = shape, len(shape)
                self.dtype = _probe_dtype(self)

            def __getitem__(self, key):
                extra = (0,) * (len(proxy.shape) - len(shape))
                return np.asarray(proxy[tuple(key) + extra])

        arr = _Proxy()
        defaults = {}
        zooms = img.header.get_zooms()[:3]
        if len(zooms) == 3 and all(z > 0 for z in zooms):
            unit = img.header.get_xyzt_units()[0]
            scale = {"meter": 1e9, "mm": 1e6, "micron": 1e3}.get(unit, 1e6)
            # float32 zooms: 0.008 mm is 8000.00038 nm; 6 digits are what they hold
            defaults["resolution"] = [float(f"{float(z) * scale:.6g}") for z in zooms]
        return Source(arr, parse_axes(axes, arr.ndim, kind, path), path, desc, defaults)
    if kind == "zarr":
        zarr = _need("zarr", "zarr arrays")
        try:
            a = zarr.open_array(path, mode="r")
        except Exception as e:  # zarr's own errors
            raise InvalidParameterError(f"{path}: not a readable zarr array ({e})") from None
        meta = [os.path.join(path, n) for n in (".zarray", "zarr.json")
                if os.path.exists(os.path.join(path, n))]
        desc["stamp"] = _stamp(meta)
        return Source(a, parse_axes(axes, a.ndim, kind, path), path, desc)
    raise AssertionError(kind)
