"""compressed_segmentation for the zarr ecosystem (docs/ZARR.md is the spec).

- :class:`ngcodec.zarr.numcodecs_codec.CompressedSegmentation`: a numcodecs
  codec, id ``"ngcodec_compressed_segmentation"`` (a small header, then the
  Neuroglancer chunk: the bytes describe themselves, as numcodecs needs).
- :class:`ngcodec.zarr.v3.CompressedSegmentationCodec`: a zarr-python 3
  array-to-bytes codec, name ``"ngcodec.compressed_segmentation"`` (the
  Neuroglancer chunk alone: zarr's metadata gives shape and dtype), with
  partial decoding.

Both are found through entry points (``numcodecs.codecs``, ``zarr.codecs``),
so nobody needs to import this package by hand. Arrays are (Z, Y, X) or
(C, Z, Y, X); ``block_shape`` lists the block's extent in that axis order
(z, y, x), unlike ngcodec's own ``block_size`` (x, y, z).

This package imports neither numcodecs nor zarr itself: each submodule
imports the library it serves.
"""

__all__ = ["numcodecs_codec", "v3"]
