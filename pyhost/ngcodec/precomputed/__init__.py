"""Neuroglancer precomputed datasets: the info, storage, chunk layouts and Volume.

>>> vol = ngcodec.precomputed.open("/data/fib25", scale=0)     # a Volume
>>> a = vol[0:64, 0:64, 0:32]                                  # (X, Y, Z, C)

See docs/DATASETS.md. The layers, each its own module: :mod:`.storage`
(files and URLs), :mod:`.info` (the info file and scale geometry),
:mod:`.chunks` (one chunk's codec), :mod:`.unsharded` and :mod:`.sharded`
(the two chunk layouts), :mod:`.volume` (a scale as an array) and
:mod:`.dataset` (open/create).
"""

from .dataset import Dataset, create, open, open_dataset
from .info import InfoExistsError
from .volume import MissingChunkError, Volume

__all__ = ["open", "create", "open_dataset", "Dataset", "Volume", "MissingChunkError",
           "InfoExistsError"]
