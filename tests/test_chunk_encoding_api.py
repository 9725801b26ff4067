"""ngcodec.chunk_encoding against the module it replaces,
neuroglancer_scripts.chunk_encoding (installed as a test requirement): the
same names, exceptions, return types, dtypes, shapes and argparse options.

Where both modules can run the same call, the test runs it on both and
compares what is observable; exception classes are compared by name (each
module has its own classes).
"""

import argparse

import numpy as np
import pytest

import ngcodec
from ngcodec import chunk_encoding as ours

import neuroglancer_scripts.chunk_encoding as upstream  # noqa: E402  (peer)

MODULES = [ours, upstream]


# -- names -----------------------------------------------------------------

def test_all_names_match_upstream():
    assert ours.__all__ == upstream.__all__
    for name in ours.__all__:
        assert hasattr(ours, name), name


def test_neuroglancer_data_types_match_upstream():
    assert ours.NEUROGLANCER_DATA_TYPES == upstream.NEUROGLANCER_DATA_TYPES


def test_exceptions_are_ngcodec_errors():
    for name in ("IncompatibleEncoderError", "InvalidInfoError", "InvalidFormatError"):
        cls = getattr(ours, name)
        assert issubclass(cls, ngcodec.NgcodecError)
        assert issubclass(cls, Exception)
        assert cls is getattr(ngcodec, name)


def test_every_package_exception_derives_from_ngcodec_error():
    classes = [getattr(ngcodec.errors, n) for n in ngcodec.errors.__all__
               if isinstance(getattr(ngcodec.errors, n), type)]
    assert len(classes) >= 6
    for cls in classes:
        assert issubclass(cls, ngcodec.NgcodecError), cls
    for name in ngcodec.__all__:
        obj = getattr(ngcodec, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, ngcodec.NgcodecError), name


def test_encoder_classes_derive_from_chunk_encoder():
    for name in ("RawChunkEncoder", "CompressedSegmentationEncoder", "JpegChunkEncoder"):
        assert issubclass(getattr(ours, name), ours.ChunkEncoder)


# -- get_encoder -----------------------------------------------------------------

CSEG_SCALE = {"encoding": "compressed_segmentation",
              "compressed_segmentation_block_size": [8, 8, 8]}

BAD_INFOS = {
    "empty": ({}, {}),
    "no_scale_keys": ({"data_type": "uint8", "num_channels": 1}, {}),
    "no_data_type": ({"num_channels": 1}, {"encoding": "raw"}),
    "no_num_channels": ({"data_type": "uint8"}, {"encoding": "raw"}),
    "negative_channels": ({"data_type": "uint8", "num_channels": -1}, {"encoding": "raw"}),
    "zero_channels": ({"data_type": "uint8", "num_channels": 0}, {"encoding": "raw"}),
    "float_channels": ({"data_type": "uint8", "num_channels": 1.5}, {"encoding": "raw"}),
    "string_channels": ({"data_type": "uint8", "num_channels": "1"}, {"encoding": "raw"}),
    "invalid_dtype": ({"data_type": "invalid_dtype", "num_channels": 1}, {"encoding": "raw"}),
    "int8_dtype": ({"data_type": "int8", "num_channels": 1}, {"encoding": "raw"}),
    "float64_dtype": ({"data_type": "float64", "num_channels": 1}, {"encoding": "raw"}),
    "invalid_encoding": ({"data_type": "uint8", "num_channels": 1},
                         {"encoding": "invalid_encoding"}),
    "cseg_no_block_size": ({"data_type": "uint32", "num_channels": 1},
                           {"encoding": "compressed_segmentation"}),
    "cseg_uint16": ({"data_type": "uint16", "num_channels": 1}, CSEG_SCALE),
    "cseg_uint8": ({"data_type": "uint8", "num_channels": 1}, CSEG_SCALE),
    "cseg_float32": ({"data_type": "float32", "num_channels": 1}, CSEG_SCALE),
    "jpeg_uint16": ({"data_type": "uint16", "num_channels": 1}, {"encoding": "jpeg"}),
    "jpeg_four_channels": ({"data_type": "uint8", "num_channels": 4}, {"encoding": "jpeg"}),
    "jpeg_two_channels": ({"data_type": "uint8", "num_channels": 2}, {"encoding": "jpeg"}),
}


@pytest.mark.parametrize("name", sorted(BAD_INFOS))
def test_get_encoder_invalid_info(name):
    info, scale = BAD_INFOS[name]
    with pytest.raises(ours.InvalidInfoError):
        ours.get_encoder(info, scale)
    with pytest.raises(upstream.InvalidInfoError):
        upstream.get_encoder(info, scale)


@pytest.mark.parametrize("info,scale,cls", [
    ({"data_type": "float32", "num_channels": 1}, {"encoding": "raw"}, "RawChunkEncoder"),
    ({"data_type": "uint64", "num_channels": 2}, {"encoding": "raw"}, "RawChunkEncoder"),
    ({"data_type": "uint32", "num_channels": 1}, CSEG_SCALE, "CompressedSegmentationEncoder"),
    ({"data_type": "uint64", "num_channels": 3}, CSEG_SCALE, "CompressedSegmentationEncoder"),
    ({"data_type": "uint8", "num_channels": 1}, {"encoding": "jpeg"}, "JpegChunkEncoder"),
    ({"data_type": "uint8", "num_channels": 3}, {"encoding": "jpeg"}, "JpegChunkEncoder"),
])
@pytest.mark.parametrize("options", [{}, {"jpeg_quality": 1, "jpeg_plane": "xz",
                                          "unknown_option": None}])
def test_get_encoder_attributes_match_upstream(info, scale, cls, options):
    mine = ours.get_encoder(info, scale, options)
    theirs = upstream.get_encoder(info, scale, options)
    assert type(mine).__name__ == type(theirs).__name__ == cls
    assert isinstance(mine, getattr(ours, cls))
    assert mine.lossy is theirs.lossy
    assert mine.mime_type == theirs.mime_type
    assert mine.num_channels == theirs.num_channels == info["num_channels"]
    assert mine.dtype == theirs.dtype
    assert mine.dtype.str == theirs.dtype.str
    assert mine.dtype.byteorder in ("<", "|")
    if cls == "CompressedSegmentationEncoder":
        assert list(mine.block_size) == list(theirs.block_size) == [8, 8, 8]
    if cls == "JpegChunkEncoder":
        assert mine.jpeg_quality == theirs.jpeg_quality == options.get("jpeg_quality", 95)
        assert mine.jpeg_plane == theirs.jpeg_plane == options.get("jpeg_plane", "xy")


def test_class_attributes_match_upstream():
    for name in ("ChunkEncoder", "RawChunkEncoder", "CompressedSegmentationEncoder",
                 "JpegChunkEncoder"):
        mine, theirs = getattr(ours, name), getattr(upstream, name)
        assert mine.lossy is theirs.lossy, name
        assert mine.mime_type == theirs.mime_type, name
    assert ours.JpegChunkEncoder.mime_type == "image/jpeg"
    assert ours.RawChunkEncoder.mime_type == "application/octet-stream"


def test_incompatible_encoder_errors():
    with pytest.raises(ours.IncompatibleEncoderError):
        ours.CompressedSegmentationEncoder("uint8", 1, [8, 8, 8])
    with pytest.raises(ours.IncompatibleEncoderError):
        ours.JpegChunkEncoder("uint16", 1, 95, "xy")
    with pytest.raises(ours.IncompatibleEncoderError):
        ours.JpegChunkEncoder("uint8", 4, 95, "xy")


# -- encode / decode -------------------------------------------------------------

def test_cseg_encode_returns_bytearray_and_decodes():
    for module in MODULES:
        encoder = module.CompressedSegmentationEncoder("uint64", 2, [8, 8, 8])
        chunk = (np.arange(2 * 5 * 6 * 7, dtype="<u8") % 5).reshape(2, 5, 6, 7)
        buf = encoder.encode(chunk)
        assert type(buf) is bytearray, module.__name__
        out = encoder.decode(buf, (7, 6, 5))
        assert out.shape == (2, 5, 6, 7)
        assert out.dtype == np.dtype("<u8")
        assert np.array_equal(out, chunk)


def test_cseg_decode_of_mutated_bytearray_raises():
    """As upstream's own test: set the bits byte of the first block header of
    a 2-channel chunk (byte 11) to 255."""
    encoder = ours.CompressedSegmentationEncoder("uint32", 2, [8, 8, 8])
    buf = encoder.encode(np.ones((2, 1, 1, 11), dtype="uint32"))
    assert np.array_equal(encoder.decode(buf, (11, 1, 1)), np.ones((2, 1, 1, 11)))
    buf[11] = 255
    with pytest.raises(ours.InvalidFormatError) as info:
        encoder.decode(buf, (11, 1, 1))
    assert info.value.status_name == "NGC_ERR_BAD_BITS"
    with pytest.raises(upstream.InvalidFormatError):
        upstream.CompressedSegmentationEncoder("uint32", 2, [8, 8, 8]).decode(buf, (11, 1, 1))


def test_upstream_invalid_data_cases():
    """The damaged chunks of upstream's test_cseg_decoder_invalid_data."""
    encoder = ours.CompressedSegmentationEncoder("uint32", 2, [8, 8, 8])
    buf = encoder.encode(np.ones((2, 1, 1, 11), dtype="uint32"))
    for damaged in (buf[:39], buf[:40], buf[:-1]):
        with pytest.raises(ours.InvalidFormatError):
            encoder.decode(damaged, (11, 1, 1))


def test_raw_encode_returns_bytes():
    for module in MODULES:
        encoder = module.RawChunkEncoder("float32", 2)
        chunk = np.arange(11 * 50 * 64 * 2, dtype="<f").reshape(2, 64, 50, 11)
        buf = encoder.encode(chunk)
        assert type(buf) is bytes, module.__name__
        assert buf == chunk.tobytes()
        out = encoder.decode(buf, (11, 50, 64))
        assert out.shape == chunk.shape and out.dtype == np.dtype("<f4")
        assert np.array_equal(out, chunk)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "uint32", "uint64", "float32"])
def test_raw_decode_dtype_and_shape_match_upstream(dtype):
    chunk = np.arange(3 * 4 * 5 * 2).astype(dtype).reshape(2, 5, 4, 3)
    buf = chunk.astype(np.dtype(dtype).newbyteorder("<")).tobytes()
    mine = ours.RawChunkEncoder(dtype, 2).decode(buf, (3, 4, 5))
    theirs = upstream.RawChunkEncoder(dtype, 2).decode(buf, (3, 4, 5))
    assert mine.shape == theirs.shape == (2, 5, 4, 3)
    assert mine.dtype == theirs.dtype and mine.dtype.str == theirs.dtype.str
    assert np.array_equal(mine, theirs)


def test_encode_big_endian_input_matches_upstream():
    chunk = np.arange(2 * 3 * 4 * 5, dtype=">u4").reshape(2, 3, 4, 5)
    for name, args in (("RawChunkEncoder", ("uint32", 2)),
                       ("CompressedSegmentationEncoder", ("uint32", 2, [2, 2, 2]))):
        mine = getattr(ours, name)(*args)
        theirs = getattr(upstream, name)(*args)
        assert np.array_equal(mine.decode(mine.encode(chunk), (5, 4, 3)),
                              theirs.decode(theirs.encode(chunk), (5, 4, 3)))
    assert ours.RawChunkEncoder("uint32", 2).encode(chunk) == \
        upstream.RawChunkEncoder("uint32", 2).encode(chunk)


@pytest.mark.parametrize("size", [(12, 1, 1), (10, 1, 1), (11, 1, 2)])
def test_raw_decode_wrong_size_raises_invalid_format(size):
    encoder = ours.RawChunkEncoder("uint8", 1)
    buf = encoder.encode(np.zeros((1, 1, 1, 11), dtype="uint8"))
    with pytest.raises(ours.InvalidFormatError):
        encoder.decode(buf, size)
    with pytest.raises(upstream.InvalidFormatError):
        upstream.RawChunkEncoder("uint8", 1).decode(buf, size)


@pytest.mark.parametrize("cls,args,chunk", [
    ("RawChunkEncoder", ("uint8", 1), np.ones((1, 1, 1, 1), "uint16")),
    ("RawChunkEncoder", ("uint32", 1), np.ones((1, 1, 1, 1), "int32")),
    ("RawChunkEncoder", ("uint16", 1), np.ones((1, 1, 1, 1), "float32")),
    ("CompressedSegmentationEncoder", ("uint32", 1, [8, 8, 8]), np.ones((1, 1, 1, 1), "uint64")),
    ("CompressedSegmentationEncoder", ("uint64", 1, [8, 8, 8]), np.ones((1, 1, 1, 1), "int64")),
    ("CompressedSegmentationEncoder", ("uint64", 1, [8, 8, 8]), np.ones((1, 1, 1, 1), "float64")),
])
def test_unsafe_cast_raises_type_error(cls, args, chunk):
    with pytest.raises(TypeError):
        getattr(ours, cls)(*args).encode(chunk)
    with pytest.raises(TypeError):
        getattr(upstream, cls)(*args).encode(chunk)


def test_safe_cast_is_accepted():
    chunk = np.arange(8, dtype="uint8").reshape(1, 2, 2, 2)
    for module in MODULES:
        encoder = module.CompressedSegmentationEncoder("uint64", 1, [2, 2, 2])
        assert np.array_equal(encoder.decode(encoder.encode(chunk), (2, 2, 2)), chunk)
    assert ours.RawChunkEncoder("uint32", 1).encode(chunk) == \
        upstream.RawChunkEncoder("uint32", 1).encode(chunk)


@pytest.mark.parametrize("cls,args", [
    ("RawChunkEncoder", ("uint8", 1)),
    ("RawChunkEncoder", ("uint8", 2)),
    ("CompressedSegmentationEncoder", ("uint32", 1, [8, 8, 8])),
    ("CompressedSegmentationEncoder", ("uint64", 2, [8, 8, 8])),
    ("JpegChunkEncoder", ("uint8", 1)),
    ("JpegChunkEncoder", ("uint8", 3)),
])
@pytest.mark.parametrize("shape", [(4, 4, 4), (5, 4, 4, 4), (1, 1, 4, 4, 4), (4,)],
                         ids=["3d", "wrong_channels", "5d", "1d"])
def test_wrong_ndim_or_channels_raises_assertion_error(cls, args, shape):
    channels = args[1]
    if len(shape) == 4 and shape[0] == channels:
        shape = (channels + 1,) + shape[1:]
    chunk = np.zeros(shape, "uint8")
    for module in MODULES:
        with pytest.raises(AssertionError):
            getattr(module, cls)(*args).encode(chunk)


# -- JPEG ---------------------------------------------------------------------------

def _smooth_chunk(channels):
    n = np.newaxis
    if channels == 1:
        return (np.linspace(0, 100, 50, dtype="B")[n, :, n, n]
                + np.linspace(50, 0, 11, dtype="B")[n, n, :, n]
                + np.linspace(0, 155, 64, dtype="B")[n, n, n, :])
    return np.stack(np.broadcast_arrays(
        np.linspace(0, 200, 50, dtype="B")[:, n, n],
        np.linspace(255, 100, 11, dtype="B")[n, :, n],
        np.linspace(20, 200, 64, dtype="B")[n, n, :]))


@pytest.mark.parametrize("quality", [95, 20])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("plane", ["xy", "xz"])
def test_jpeg_roundtrip_matches_upstream(plane, channels, quality):
    chunk = _smooth_chunk(channels)
    assert chunk.shape == (channels, 50, 11, 64)
    mine = ours.JpegChunkEncoder("uint8", channels, quality, plane)
    theirs = upstream.JpegChunkEncoder("uint8", channels, quality, plane)
    my_buf, their_buf = mine.encode(chunk), theirs.encode(chunk)
    assert isinstance(my_buf, bytes) and my_buf[:2] == b"\xff\xd8"
    decoded = mine.decode(my_buf, (64, 11, 50))
    assert decoded.shape == chunk.shape and decoded.dtype == np.uint8
    assert np.array_equal(decoded, theirs.decode(their_buf, (64, 11, 50)))
    # Each decodes the other's JPEG to the same pixels.
    assert np.array_equal(mine.decode(their_buf, (64, 11, 50)),
                          theirs.decode(their_buf, (64, 11, 50)))
    assert np.array_equal(theirs.decode(my_buf, (64, 11, 50)), decoded)
    if quality == 95:
        # Upstream's own error bounds for this chunk.
        bound = 0.51 * 1.1 if channels == 1 else 1.36 * 1.1
        assert np.mean(np.square(decoded.astype("f") - chunk)) < bound


def test_jpeg_quality_changes_the_output():
    chunk = _smooth_chunk(1)
    high = ours.JpegChunkEncoder("uint8", 1, 95).encode(chunk)
    low = ours.JpegChunkEncoder("uint8", 1, 5).encode(chunk)
    assert len(low) < len(high)


def test_jpeg_progressive_option():
    """Progressive with optimized tables by default (the reference's bytes);
    jpeg_progressive=False (through get_encoder too) gives baseline, which
    the reference decodes to the pixels we decode."""
    from tests.common import jpeg_frame_kind
    chunk = _smooth_chunk(3)
    default = ours.JpegChunkEncoder("uint8", 3, 90).encode(chunk)
    assert jpeg_frame_kind(default) == "progressive"
    assert default == upstream.JpegChunkEncoder("uint8", 3, 90).encode(chunk)
    info = {"data_type": "uint8", "num_channels": 3}
    enc = ours.get_encoder(info, {"encoding": "jpeg"},
                           {"jpeg_quality": 90, "jpeg_progressive": False})
    base = enc.encode(chunk)
    assert jpeg_frame_kind(base) == "baseline" and base != default
    ref = upstream.JpegChunkEncoder("uint8", 3, 90)
    assert np.array_equal(enc.decode(base, (64, 11, 50)), ref.decode(base, (64, 11, 50)))
    assert np.abs(enc.decode(base, (64, 11, 50)).astype(int) - chunk).mean() < 2


def test_jpeg_invalid_data():
    encoder = ours.JpegChunkEncoder("uint8", 1)
    encoder_3ch = ours.JpegChunkEncoder("uint8", 3)
    with pytest.raises(ours.InvalidFormatError):
        encoder.decode(b"", (1, 1, 1))
    with pytest.raises(ours.InvalidFormatError):
        encoder.decode(b"\xff\xd8garbage", (1, 1, 1))
    buf = encoder.encode(np.ones((1, 1, 1, 11), dtype="uint8"))
    with pytest.raises(ours.InvalidFormatError):
        encoder.decode(buf, (2, 1, 1))
    with pytest.raises(ours.InvalidFormatError):
        encoder_3ch.decode(buf, (1, 1, 1))
    buf = encoder_3ch.encode(np.ones((3, 1, 9, 1), dtype="uint8"))
    with pytest.raises(ours.InvalidFormatError):
        encoder.decode(buf, (1, 9, 1))


def test_jpeg_unsafe_cast_raises_assertion_error():
    for module in MODULES:
        with pytest.raises(AssertionError):
            module.JpegChunkEncoder("uint8", 1).encode(np.ones((1, 1, 1, 1), "uint16"))


# -- argparse --------------------------------------------------------------------------

def _describe(parser):
    actions = [(a.option_strings, a.dest, a.default, a.choices, a.metavar, a.help,
                a.nargs, a.required, a.const, type(a).__name__,
                getattr(a.type, "__name__", a.type)) for a in parser._actions]
    groups = [(g.title, g.description, [a.dest for a in g._group_actions])
              for g in parser._action_groups]
    return actions, groups


@pytest.mark.parametrize("allow_lossy", [False, True])
def test_add_argparse_options_matches_upstream(allow_lossy):
    parsers = []
    for module in MODULES:
        parser = argparse.ArgumentParser(prog="prog")
        module.add_argparse_options(parser, allow_lossy=allow_lossy)
        parsers.append(parser)
    assert _describe(parsers[0]) == _describe(parsers[1])
    assert parsers[0].format_help() == parsers[1].format_help()
    assert vars(parsers[0].parse_args([])) == vars(parsers[1].parse_args([]))


def test_add_argparse_options_default_is_not_lossy():
    parser = argparse.ArgumentParser()
    ours.add_argparse_options(parser)
    assert vars(parser.parse_args([])) == {}
    with pytest.raises(SystemExit):
        parser.parse_args(["--jpeg-quality", "50"])


@pytest.mark.parametrize("argv", [
    [], ["--jpeg-quality", "50", "--jpeg-plane", "xz"], ["--jpeg-quality", "1"],
    ["--jpeg-quality", "100"], ["--jpeg-quality", "0"], ["--jpeg-quality", "101"],
    ["--jpeg-quality", "-1"], ["--jpeg-quality", "abc"], ["--jpeg-plane", "yz"],
])
def test_add_argparse_options_parse_like_upstream(argv, capsys):
    results = []
    for module in MODULES:
        parser = argparse.ArgumentParser(prog="prog")
        module.add_argparse_options(parser, allow_lossy=True)
        try:
            results.append(("ok", vars(parser.parse_args(argv))))
        except SystemExit as exc:
            results.append(("exit", exc.code, capsys.readouterr().err))
    assert results[0] == results[1]
    if argv[:2] == ["--jpeg-quality", "50"]:
        assert results[0] == ("ok", {"jpeg_quality": 50, "jpeg_plane": "xz"})


def test_options_from_argparse_reach_the_encoder():
    parser = argparse.ArgumentParser()
    ours.add_argparse_options(parser, allow_lossy=True)
    args = parser.parse_args(["--jpeg-quality", "40", "--jpeg-plane", "xz"])
    encoder = ours.get_encoder({"data_type": "uint8", "num_channels": 1},
                               {"encoding": "jpeg"}, vars(args))
    assert (encoder.jpeg_quality, encoder.jpeg_plane) == (40, "xz")
