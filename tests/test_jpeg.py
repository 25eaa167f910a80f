"""Corrupt JPEG scan data is reported by name, intact JPEGs decode as Pillow does."""

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from skhisto.io import ImageReadError, read_image


def _jpeg(shape=(32, 32, 3), **save):
    pixels = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=90, **save)
    return buf.getvalue()


def _pillow(path):
    with Image.open(path) as image:
        return np.array(image.convert("RGB"))


def test_real_tiles_decode_as_pillow_does(lc25000_small):
    for path in lc25000_small.paths[::10]:
        pixels = read_image(path)
        assert pixels.dtype == np.uint8 and pixels.flags.writeable
        np.testing.assert_array_equal(pixels, _pillow(path))


def test_grayscale_and_cmyk_jpegs_decode_as_pillow_does(tmp_path):
    for mode in ("L", "CMYK"):
        path = tmp_path / f"{mode}.jpg"
        Image.open(io.BytesIO(_jpeg())).convert(mode).save(path)
        np.testing.assert_array_equal(read_image(path), _pillow(path))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fraction=st.floats(0.0, 0.999))
def test_truncated_scan_data_is_named_never_decoded(tmp_path, fraction):
    data = _jpeg()
    start = data.index(b"\xff\xda")  # start of scan: everything after it is pixels
    cut = start + int(fraction * (len(data) - start))
    path = tmp_path / "tile.jpg"
    path.write_bytes(data[:cut])
    with pytest.raises(ImageReadError, match=r"tile\.jpg"):
        read_image(path)


def test_damaged_scan_data_is_reported_as_corrupt(tmp_path, lc25000_small):
    data = bytearray(open(lc25000_small.paths[0], "rb").read())
    start = data.index(b"\xff\xda") + 1000
    data[start : start + 4096] = bytes(4096)  # a lost disk block inside the entropy-coded data
    path = tmp_path / "tile.jpg"
    path.write_bytes(bytes(data))
    Image.open(path).convert("RGB")  # Pillow decodes it without a word
    with pytest.raises(ImageReadError, match=r"Corrupt JPEG data in .*tile\.jpg"):
        read_image(path)


def test_bytes_between_segments_lose_no_pixel(tmp_path):
    data = _jpeg()
    table = data.index(b"\xff\xdb")  # junk before the quantisation table: libjpeg skips it
    path = tmp_path / "padded.jpg"
    path.write_bytes(data[:table] + b"\x00\x00" + data[table:])
    np.testing.assert_array_equal(read_image(path), _pillow(io.BytesIO(data)))
