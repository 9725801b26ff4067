"""The options of ``ngcodec convert INPUT OUTPUT`` and the command's body."""

import argparse
import re
import sys

from ..errors import NgcodecError
from .plan import DEFAULT_MEMORY, DEFAULT_SHARD_BYTES

__all__ = ["add_arguments", "main", "DESCRIPTION"]

DESCRIPTION = """\
Convert a volume into a multi-scale Neuroglancer precomputed dataset: a .npy
file (read box by box), a TIFF file or a folder of TIFF slices, a NIfTI file, a
zarr v2/v3 array, or a precomputed dataset (re-encoded, re-chunked,
re-sharded). Scale 0 is written from INPUT, every other scale downsampled
from the one before it (mode for segmentation, mean for images). A
conversion that was interrupted is finished by running the same command
again with --resume. See docs/CONVERT.md."""

EPILOG = """\
axis orders (--axes overrides): .npy and NumPy xyz / xyzc; TIFF zyx / zyxc;
NIfTI xyz / xyzc; zarr zyx / czyx; precomputed its own.
exit status: 0 converted; 2 an error (bad options or input are found before
anything is written); 130 interrupted (finish with --resume)."""


def _triple(kind):
    def parse(text):
        parts = [p for p in re.split(r"[,x ]+", text.strip()) if p]
        try:
            values = [kind(p) for p in parts]
        except ValueError:
            values = []
        if len(values) == 1:
            values *= 3
        if len(values) != 3:
            raise argparse.ArgumentTypeError(f"expected X,Y,Z (or one value for all three), "
                                             f"got {text!r}")
        return tuple(values)
    return parse


def _number(text):
    v = float(text)
    return int(v) if v.is_integer() else v


def _bytes(text):
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text.lower())
    if not m:
        raise argparse.ArgumentTypeError(f"expected a size such as 512M or 2G, got {text!r}")
    return int(float(m.group(1)) * 1024 ** " kmgt".index(m.group(2) or " "))


def _positive(text):
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def add_arguments(p):
    p.add_argument("input", metavar="INPUT",
                   help=".npy, .tif/.tiff (or a folder of them), .nii/.nii.gz, a zarr array, "
                        "or a precomputed dataset")
    p.add_argument("output", metavar="OUTPUT", help="the dataset to write (a folder or URL)")
    p.add_argument("--type", choices=("image", "segmentation"),
                   help="default: segmentation for uint32/uint64 data, else image")
    p.add_argument("--encoding", choices=("raw", "compressed_segmentation", "jpeg"),
                   help="default: compressed_segmentation for uint32/uint64 segmentation, "
                        "else raw")
    p.add_argument("--chunk-size", type=_triple(int), metavar="X,Y,Z",
                   help="default: 64,64,64 (clipped to the volume)")
    p.add_argument("--block-size", type=_triple(int), metavar="X,Y,Z",
                   help="compressed_segmentation block size (default 8,8,8)")
    p.add_argument("--resolution", type=_triple(_number), metavar="X,Y,Z",
                   help="nm per voxel (default: the input's (NIfTI, precomputed), else 1,1,1)")
    p.add_argument("--voxel-offset", type=_triple(int), metavar="X,Y,Z",
                   help="default: the input's (precomputed), else 0,0,0")
    p.add_argument("--scales", type=_positive, metavar="N",
                   help="number of scales (default: until the volume fits in one chunk)")
    p.add_argument("--factors", type=_triple(int), metavar="X,Y,Z",
                   help="downsampling factors of every scale (default: 2,2,2, or 2,2,1 while "
                        "the resolution is anisotropic)")
    p.add_argument("--downsample", choices=("mode", "mean"),
                   help="default: mode for segmentation, mean for images")
    p.add_argument("--sharded", action="store_true",
                   help="write sharded scales (neuroglancer_uint64_sharded_v1)")
    p.add_argument("--shard-bytes", type=_bytes, metavar="SIZE",
                   help=f"uncompressed bytes of a full shard, at most (default "
                        f"{DEFAULT_SHARD_BYTES >> 20}M)")
    p.add_argument("--gzip", action="store_true",
                   help="gzip chunks (unsharded: NAME.gz files; sharded: data_encoding gzip)")
    p.add_argument("--jpeg-quality", type=int, metavar="Q", help="1..100 (default 95)")
    p.add_argument("--dtype", help="cast the data to this type (e.g. uint32)")
    p.add_argument("--axes", help="the input's axis order, slowest first (e.g. zyx, xyzc)")
    p.add_argument("--source-scale", default="0", metavar="SCALE",
                   help="precomputed input: the scale to read (index or key; default 0)")
    p.add_argument("--jobs", type=_positive, metavar="N", help="threads (default: the cores)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run every scale's units as tasks on the distributed scheduler at "
                        "ADDRESS (e.g. tcp://host:8786); the output must be a path the "
                        "workers reach (needs ngcodec[dask])")
    p.add_argument("--memory", type=_bytes, metavar="SIZE",
                   help=f"voxel buffers in flight, about (default {DEFAULT_MEMORY >> 20}M)")
    p.add_argument("--resume", action="store_true",
                   help="finish an interrupted conversion of the same INPUT with the same "
                        "options")
    p.add_argument("--overwrite", action="store_true",
                   help="replace whatever dataset OUTPUT holds")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def main(args):
    from .run import convert

    scale = args.source_scale
    scale = int(scale) if re.fullmatch(r"-?\d+", scale) else scale
    try:
        result = convert(
            args.input, args.output, type=args.type, encoding=args.encoding,
            chunk_size=args.chunk_size, block_size=args.block_size,
            resolution=args.resolution, voxel_offset=args.voxel_offset, scales=args.scales,
            factors=args.factors, downsample=args.downsample, sharded=args.sharded,
            shard_bytes=args.shard_bytes, gzip=args.gzip, jpeg_quality=args.jpeg_quality,
            dtype=args.dtype, axes=args.axes, source_scale=scale, jobs=args.jobs, dask=args.dask,
            memory=args.memory, resume=args.resume, overwrite=args.overwrite,
            progress=False if args.no_progress else None)
    except (NgcodecError, ImportError, FileExistsError) as e:
        print(f"ngcodec convert: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ngcodec convert: interrupted; run the same command with --resume to finish",
              file=sys.stderr)
        return 130
    print(result.summary())
    return 0
