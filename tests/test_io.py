"""Image decoding and input validation."""

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from skhisto.io import (
    ImageArray,
    ImageReadError,
    ImageSource,
    check_image_input,
    load_images,
    read_image,
)


def test_real_formats_decode_to_uint8_rgb(kather_dir, lc25000_small):
    for path in [
        lc25000_small.paths[0],
        next((kather_dir / "kather2016" / "01_TUMOR").glob("*.tif")),
        next((kather_dir / "crc_val_he_7k" / "ADI").glob("*.png")),
        next((kather_dir / "nct_crc_he_100k" / "ADI").glob("*.tif")),
    ]:
        image = read_image(path)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert image.shape[0] in (150, 224)


def test_rgba_is_composited_on_white_and_grayscale_replicated(tmp_path):
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[:2, :, 3] = 255  # top half opaque red, bottom half transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    assert out[0, 0].tolist() == [200, 0, 0] and out[3, 3].tolist() == [255, 255, 255]
    Image.fromarray(np.full((3, 3), 77, np.uint8), "L").save(tmp_path / "g.png")
    assert read_image(tmp_path / "g.png")[1, 1].tolist() == [77, 77, 77]
    Image.fromarray(np.full((3, 3), 1000, np.uint16)).save(tmp_path / "g16.png")
    # 16-bit: value // 256 (1000 -> 3), not stretched to the file's own maximum.
    assert read_image(tmp_path / "g16.png")[0, 0].tolist() == [3, 3, 3]


def test_truncated_and_missing_files_name_the_file(tmp_path, lc25000_small):
    data = open(lc25000_small.paths[0], "rb").read()
    (tmp_path / "cut.jpeg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="cut.jpeg"):
        read_image(tmp_path / "cut.jpeg")
    with pytest.raises(ImageReadError, match="does not exist.*nothere.png"):
        read_image(tmp_path / "nothere.png")
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(ImageReadError, match="text.png"):
        read_image(tmp_path / "text.png")


def test_check_image_input_errors_name_the_problem():
    with pytest.raises(TypeError, match="float64"):
        check_image_input(np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match=r"\(2, 8, 8, 4\)"):
        check_image_input(np.zeros((2, 8, 8, 4), np.uint8))
    with pytest.raises(ValueError, match=r"\(8, 8, 3\)"):
        check_image_input(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(TypeError, match="single path"):
        check_image_input("image.png")
    with pytest.raises(ValueError, match="empty"):
        check_image_input([])
    with pytest.raises(TypeError, match="int"):
        check_image_input([1, 2])
    kind, paths = check_image_input(np.array(["a.png", "b.png"]))
    assert kind == "paths" and paths == ["a.png", "b.png"]


def _png16_rgb(path, array):
    # Pillow cannot write 48-bit PNG: a minimal encoder (IHDR, one IDAT, IEND).
    import struct
    import zlib

    height, width, _ = array.shape
    raw = b"".join(b"\x00" + array[i].astype(">u2").tobytes() for i in range(height))

    def chunk(kind, data):
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("fmt", ["png", "tif", "rgb-png"])
def test_16_bit_images_use_one_rule_for_every_file(tmp_path, fmt):
    # The same intensity maps to the same byte in two files whatever their maxima:
    # value // 256 (the high byte), never a per-file stretch.
    values = np.array([[0, 255, 256, 1000], [32768, 40000, 65280, 65535]], np.uint16)
    for name, peak in (("a", 1000), ("b", 65535)):
        image = values.copy()
        image[image > peak] = peak
        path = tmp_path / f"{name}.{fmt.split('-')[-1]}"
        if fmt == "rgb-png":
            _png16_rgb(path, np.repeat(image[..., None], 3, axis=2))
        else:
            Image.fromarray(image).save(path)
        out = read_image(path)
        assert out.dtype == np.uint8 and out.shape == (2, 4, 3)
        np.testing.assert_array_equal(out[..., 0], (image >> 8).astype(np.uint8), err_msg=name)


@pytest.mark.parametrize(
    "array, match",
    [
        (np.full((3, 3), 0.5, np.float32), "floating-point"),
        (np.full((3, 3), 70000, np.int32), "32-bit integer"),
    ],
)
def test_float_and_32_bit_images_are_refused_naming_the_file(tmp_path, array, match):
    Image.fromarray(array).save(tmp_path / "odd.tif")
    with pytest.raises(ImageReadError, match=f"odd.tif.*{match}"):
        read_image(tmp_path / "odd.tif")


def test_decompression_bomb_names_file_pixels_and_the_way_out(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageReadError, match=r"huge.png.*4,096 pixels.*MAX_IMAGE_PIXELS"):
        read_image(tmp_path / "huge.png")


def test_odd_formats_decode_as_documented(tmp_path):
    cmyk = Image.new("CMYK", (4, 4), (0, 255, 255, 0))  # pure red in CMYK
    cmyk.save(tmp_path / "cmyk.jpg")
    assert read_image(tmp_path / "cmyk.jpg")[2, 2].tolist() == pytest.approx([254, 0, 0], abs=3)
    bits = np.zeros((4, 4), bool)
    bits[0] = True
    Image.fromarray(bits).save(tmp_path / "one-bit.png")
    out = read_image(tmp_path / "one-bit.png")
    assert out[0, 0].tolist() == [255, 255, 255] and out[3, 3].tolist() == [0, 0, 0]
    palette = Image.new("P", (2, 2), 1)
    palette.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    palette.save(tmp_path / "palette.png")
    assert read_image(tmp_path / "palette.png")[0, 0].tolist() == [10, 20, 30]
    palette.save(tmp_path / "clear.png", transparency=1)
    assert read_image(tmp_path / "clear.png")[0, 0].tolist() == [255, 255, 255]
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty.png"):
        read_image(tmp_path / "empty.png")


def test_multi_frame_files_are_refused(tmp_path):
    frames = [Image.new("RGB", (4, 4), c) for c in ("red", "blue")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    frames[0].save(tmp_path / "pages.tif", save_all=True, append_images=frames[1:])
    for name in ("anim.gif", "pages.tif"):
        with pytest.raises(ImageReadError, match=f"{name}.*2 frames"):
            read_image(tmp_path / name)


def test_a_directory_is_not_reported_as_missing(tmp_path):
    with pytest.raises(ImageReadError, match="got a directory"):
        read_image(tmp_path)


@pytest.mark.parametrize("wrap", ["object-array", "series", "one-column-frame", "str-array"])
def test_arrays_and_series_of_paths_are_paths(wrap):
    import pandas as pd

    paths = ["a.png", "b.png", "c.png"]
    X = {
        "object-array": lambda: pd.DataFrame({"path": paths})["path"].to_numpy(),
        "series": lambda: pd.Series(paths).values,
        "one-column-frame": lambda: pd.DataFrame({"path": paths}),
        "str-array": lambda: np.array(paths),
    }[wrap]()
    assert check_image_input(X) == ("paths", paths)


def test_mixed_path_arrays_name_the_first_bad_element():
    X = np.array(["a.png", "b.png", 3.0, None], dtype=object)
    with pytest.raises(TypeError, match=r"element 2 is 3.0 of type float"):
        check_image_input(X)
    with pytest.raises(ValueError, match=r"1-D array of image paths.*\(2, 2\)"):
        check_image_input(np.array([["a", "b"], ["c", "d"]], dtype=object))


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.zeros((8, 8, 3), np.uint8), ValueError, r"one image: add a batch axis"),
        (np.zeros((2, 8, 8, 4), np.uint8), ValueError, "RGBA"),
        (np.zeros((2, 3, 8, 8), np.uint8), ValueError, "channels-first"),
        (np.zeros((2, 8, 8), np.uint8), ValueError, "grayscale"),
        (np.zeros((2, 8, 8, 3), bool), TypeError, "dtype bool"),
        (np.full((2, 8, 8, 3), np.nan), TypeError, "dtype float64"),
        (np.zeros((0, 8, 8, 3), np.uint8), ValueError, "at least one image"),
        (np.zeros((2, 0, 8, 3), np.uint8), ValueError, "at least 1x1"),
        (np.array([], dtype=object), ValueError, "at least one image path"),
        (b"image.png", TypeError, "single path"),
        (42, TypeError, "got int"),
    ],
)
def test_bad_image_input_says_what_to_do(X, error, match):
    with pytest.raises(error, match=match):
        check_image_input(X)


def test_numpy_string_paths_come_back_as_plain_str():
    # np.str_ would show as np.str_('...') in every error message naming the file.
    kind, paths = check_image_input(list(np.array(["a.png", "b.png"])))
    assert kind == "paths" and [type(p) for p in paths] == [str, str]


@settings(max_examples=25, deadline=None)
@given(
    image=arrays(np.uint16, st.tuples(st.integers(1, 6), st.integers(1, 6))),
    fmt=st.sampled_from(["png", "tif"]),
)
def test_16_bit_rule_holds_for_any_image(tmp_path_factory, image, fmt):
    path = tmp_path_factory.mktemp("p16") / f"x.{fmt}"
    Image.fromarray(image).save(path)
    out = read_image(path)
    np.testing.assert_array_equal(out, np.repeat((image >> 8).astype(np.uint8)[..., None], 3, 2))


@settings(max_examples=50, deadline=None)
# NUL is excluded: numpy's fixed-width str arrays drop trailing NULs (no path holds one).
@given(
    names=st.lists(
        # Paths that exist (".", "/") are folders, refused as images before any work.
        st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=8).filter(
            lambda name: not os.path.lexists(name)
        ),
        min_size=1,
        max_size=6,
    )
)
def test_any_array_or_list_of_paths_comes_back_unchanged(names):
    for X in (names, np.array(names, dtype=object), np.array(names)):
        assert check_image_input(X) == ("paths", names)


def test_load_images_resizes_arrays_and_files_alike(tmp_path, lc25000_small):
    paths = list(lc25000_small.paths[:3])
    from_files = load_images(paths, 32)
    from_arrays = load_images(np.stack([read_image(p) for p in paths]), 32)
    assert from_files.shape == (3, 32, 32, 3) and from_files.dtype == np.uint8
    np.testing.assert_array_equal(from_files, from_arrays)
    images = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    assert load_images(images) is images and load_images(images, 8) is images  # never copied
    assert load_images(paths).shape == (3, 224, 224, 3)  # their own (square) size


def test_load_images_errors_name_the_file(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((8, 6, 3), np.uint8)).save(tmp_path / "wide.png")
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "small.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    a, wide, small = (str(tmp_path / n) for n in ("a.png", "wide.png", "small.png"))
    with pytest.raises(ValueError, match=r"'.*wide.png' is not square \(6x8\); pass image_size="):
        load_images([wide])
    with pytest.raises(ValueError, match=r"'.*small.png' is 4x4 but earlier images are 8x8"):
        load_images([a, small])
    with pytest.raises(ImageReadError, match=r"bad.png"):
        load_images([a, tmp_path / "bad.png"], 8)
    with pytest.raises(ValueError, match="image 0 is not square"):
        load_images(np.zeros((1, 8, 6, 3), np.uint8))
    with pytest.raises(ValueError, match=r"'image_size' parameter of load_images .*Got 0"):
        load_images([a], 0)
    assert load_images([wide, small], 4).shape == (2, 4, 4, 3)


@pytest.mark.parametrize(
    "dtype, value, hint",
    [
        (np.float32, 0.5, r"\[0, 1\]: \(X \* 255\)"),
        (np.float32, 200.0, r"0-255: X.round\(\).clip\(0, 255\)"),
        (np.uint16, 4000, r"16-bit.*\(X // 256\)"),
    ],
)
def test_non_uint8_arrays_get_the_conversion_their_values_need(dtype, value, hint):
    # Before: every dtype got the [0, 1] hint, which wraps 0-255 data around silently.
    with pytest.raises(TypeError, match=rf"got dtype {np.dtype(dtype).name}\. For .*{hint}"):
        check_image_input(np.full((2, 8, 8, 3), value, dtype))


class _Source(ImageSource):
    """A user's source that breaks the protocol as asked."""

    def __init__(self, pixels, keys=None):
        self.pixels_, self.keys_ = pixels, keys

    def __len__(self):
        return len(self.pixels_)

    def read(self, index):
        return self.pixels_[index]

    def take(self, positions):
        return _Source([self.pixels_[i] for i in positions], self.keys_)

    def keys(self, *, digest_dir=None):
        return self.keys_

    def name(self, index):
        return f"tile #{index}"


def test_a_users_source_is_checked_where_skhisto_reads_it(tmp_path):
    from skhisto import FoundationEmbedder

    good = [np.full((8, 8, 3), v, np.uint8) for v in (0, 255)]
    floats = [image / 255.0 for image in good]  # [0, 1] floats would embed as black
    with pytest.raises(TypeError, match=r"_Source.read\(0\) must return .* uint8 .*tile #0"):
        load_images(_Source(floats), 8)
    make = dict(pretrained=False, image_size=32, random_state=0)
    embedder = FoundationEmbedder(**make, cache=tmp_path)
    with pytest.raises(TypeError, match=r"_Source.keys\(\) must return 2 keys of dtype S32"):
        embedder.fit(_Source(good, keys=["a", "b"])).transform(_Source(good, keys=["a", "b"]))
    keys = np.asarray([f"{v:032d}".encode() for v in (0, 1)], dtype="S32")
    embedded = embedder.transform(_Source(good, keys=keys))
    expected = FoundationEmbedder(**make).fit_transform(np.stack(good))
    np.testing.assert_allclose(embedded, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="ImageArray takes a uint8 array; got list"):
        ImageArray(good)


def test_an_empty_source_and_a_wrong_resize_are_refused_naming_them():
    from skhisto.io import image_source, resize_image

    with pytest.raises(ValueError, match="Expected at least one image; _Source holds none"):
        image_source(_Source([]))
    image = np.zeros((8, 8, 3), np.uint8)
    assert resize_image(image, (4, 6)).shape == (6, 4, 3)  # (width, height)
    for size in ((4, -1), 10**9, (4, 4, 4)):
        with pytest.raises(ValueError, match="size must be a side or a \\(width, height\\) pair"):
            resize_image(image, size)
    with pytest.raises(
        ValueError, match=r"one \(H, W, 3\) uint8 image; got shape \(8, 8, 3\), dtype float64"
    ):
        resize_image(image.astype(float), 4)
