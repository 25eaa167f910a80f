"""Image decoding and input validation."""

import numpy as np
import pytest
from PIL import Image

from skhisto.io import ImageReadError, check_image_input, read_image


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
    assert read_image(tmp_path / "g16.png")[0, 0].tolist() == [255, 255, 255]


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
