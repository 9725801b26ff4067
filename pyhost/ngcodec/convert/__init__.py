"""``ngcodec convert``: a volume (NumPy array, ``.npy``, TIFF, NIfTI, zarr, or a
precomputed dataset) into a multi-scale precomputed dataset.

>>> import ngcodec
>>> ngcodec.convert("labels.npy", "/data/labels", sharded=True)
>>> ngcodec.convert(array, "/data/image", resolution=(4, 4, 40))

The modules: :mod:`.inputs` (each input kind as a lazily read source),
:mod:`.plan` (options checked, the info, the work units), :mod:`.run` (the
scales written, the resume record, progress) and :mod:`.command` (the CLI's
options). See docs/CONVERT.md.
"""

from .inputs import MissingDependencyError, open_source
from .run import RECORD, ConvertResult, convert

__all__ = ["convert", "ConvertResult", "open_source", "MissingDependencyError", "RECORD"]
