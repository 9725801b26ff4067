"""The ``ngcodec`` command: ``demo`` (round trip on the bundled FIB-25
chunk, timed), ``verify`` (every chunk of a dataset, in the sandbox),
``convert`` (a volume into a multi-scale dataset), ``serve`` and ``view``
(a dataset over HTTP, with Neuroglancer).

The browser demo is an example, not part of the library:
``python examples/web/serve.py``."""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__, compressed_segmentation
from .runtime import version as wasm_version

DATA_DIR = Path(__file__).with_name("data")
FIB25_CHUNK = DATA_DIR / "fib25_64x64x64_uint64.cseg8"
FIB25_GEOMETRY = dict(chunk_size=(64, 64, 64), dtype="uint64", block_size=(8, 8, 8))


def _best_seconds(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def demo(args):
    """Decode the bundled FIB-25 chunk, re-encode it, check the round trip."""
    buf = FIB25_CHUNK.read_bytes()
    labels = compressed_segmentation.decode(buf, **FIB25_GEOMETRY)
    encoded = compressed_segmentation.encode(labels, FIB25_GEOMETRY["block_size"])
    again = compressed_segmentation.decode(encoded, **FIB25_GEOMETRY)
    if not np.array_equal(again, labels):
        print("round trip FAILED: re-encoded chunk decodes differently", file=sys.stderr)
        return 1
    decode_s = _best_seconds(lambda: compressed_segmentation.decode(buf, **FIB25_GEOMETRY),
                             args.repeat)
    encode_s = _best_seconds(lambda: compressed_segmentation.encode(
        labels, FIB25_GEOMETRY["block_size"]), args.repeat)
    mb = labels.nbytes / 1e6
    print(f"ngcodec {__version__} (wasm module {'.'.join(map(str, wasm_version()))})")
    print(f"chunk: FIB-25 64x64x64 uint64, 8x8x8 blocks, "
          f"{len(np.unique(labels))} labels, {labels.nbytes:,} bytes decoded")
    print(f"bundled encoding: {len(buf):,} bytes; ngcodec re-encoding: {len(encoded):,} bytes "
          f"(compression ratio {labels.nbytes / len(encoded):.1f}x)")
    print("round trip: OK (decode -> encode -> decode is identical)")
    print(f"decode: {decode_s * 1e3:.3f} ms  ({mb / decode_s / 1e3:.2f} GB/s of decoded data)")
    print(f"encode: {encode_s * 1e3:.3f} ms  ({mb / encode_s / 1e3:.2f} GB/s of decoded data)")
    print(f"(best of {args.repeat} runs each, end to end from Python)")
    return _demo_dataset(labels, args.output)


def _demo_dataset(labels, output):
    """The main job on the sample: the chunk tiled into a 128x128x64 volume,
    converted into a multi-scale sharded dataset, verified."""
    import tempfile

    from . import convert as _convert
    from .verify import verify as _verify

    volume = np.tile(labels[0], (1, 2, 2)).T  # (X, Y, Z) = 128 x 128 x 64
    path = Path(output) if output else Path(tempfile.mkdtemp(prefix="ngcodec-demo-")) / "fib25"
    result = _convert(volume, path, resolution=(8, 8, 8), chunk_size=(32, 32, 32),
                      sharded=True, overwrite=True, progress=False)
    print()
    print(f"converted a 128x128x64 tiling of the chunk into {path}:")
    for line in result.summary().splitlines():
        print(line)
    report = _verify(path)
    if report.exit_code != 0:
        print("\n".join(report.summary_lines()), file=sys.stderr)
        return 1
    print(f"verify: OK ({len(report.scales)} scales, every chunk decoded in the sandbox)")
    print(f"view it in Neuroglancer:  ngcodec view {path} --open   "
          '(needs pip install "ngcodec[view]")')
    return 0


def verify(args):
    from . import verify as _verify

    return _verify.main(args)


def convert(args):
    from .convert import command as _convert

    return _convert.main(args)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="ngcodec", description="Neuroglancer precomputed chunk codecs in WebAssembly.")
    parser.add_argument("--version", action="version", version=f"ngcodec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="round-trip the bundled FIB-25 chunk, time it, and convert it "
                       "into a small multi-scale dataset",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--repeat", type=_positive_int, default=20, metavar="N",
                   help="timing runs of each of decode and encode (the best is kept)")
    p.add_argument("--output", metavar="DIR", default=None,
                   help="where to write the demo dataset (default: a new temporary folder)")
    p.set_defaults(func=demo)

    from . import verify as _verify

    p = sub.add_parser("verify", help="check every chunk of a precomputed dataset on disk",
                       description=_verify.DESCRIPTION, epilog=_verify.EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _verify.add_arguments(p)
    p.set_defaults(func=verify)

    from .convert import command as _convert

    p = sub.add_parser("convert", help="a volume (.npy, TIFF, NIfTI, zarr, precomputed) into a "
                                       "multi-scale precomputed dataset; needs ngcodec[convert]",
                       description=_convert.DESCRIPTION, epilog=_convert.EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _convert.add_arguments(p)
    p.set_defaults(func=convert)

    from .server import run as _serve  # imports neither Starlette nor uvicorn yet

    p = sub.add_parser("serve", help="serve a dataset to Neuroglancer over HTTP (CORS, Range, "
                                     "gzip chunks); needs ngcodec[serve]")
    _serve.add_arguments(p)
    p.set_defaults(func=lambda args: _serve.main(args))
    p = sub.add_parser("view", help="serve a dataset and the Neuroglancer client, offline, "
                                    "and print the viewer's URL; needs ngcodec[view]")
    _serve.add_arguments(p, view=True)
    p.set_defaults(func=lambda args: _serve.main(args, view=True))
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
