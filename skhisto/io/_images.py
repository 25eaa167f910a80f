"""Reading and validating images: the one place pixels enter skhisto."""

import os
import re

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..utils import NotRegularFileError, open_regular
from ..utils._constraints import PATH
from ..utils._sklearn_compat import validate_params
from ._errors import ImageReadError, MultiFrameImageError
from ._jpeg import decode_jpeg

#: File extensions recognized as images when scanning folders.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_UINT16_MODES = ("I;16", "I;16B", "I;16L", "I;16N")


def _to_rgb(image, path):
    # Explicit conversions: alpha is composited on white (slide background is
    # white, so transparent pixels are background), grayscale is replicated.
    if image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in _UINT16_MODES:
        # The one 16-bit rule, the same for every file: keep the high byte
        # (value // 256), as Pillow itself does for 16-bit RGB. A per-file
        # stretch would map one intensity differently in two files.
        gray = (np.asarray(image).astype(np.uint16) >> 8).astype(np.uint8)
        return Image.fromarray(np.repeat(gray[..., None], 3, axis=2))
    if image.mode in ("I", "F") or image.mode.startswith("I;"):
        kind = "floating-point" if image.mode == "F" else "32-bit integer"
        raise ImageReadError(
            f"Cannot read {path!r}: {kind} images (mode {image.mode}) have no standard "
            "mapping to 8-bit color; convert it to 8- or 16-bit with the scaling you intend."
        )
    return image.convert("RGB")


def is_rgb_image(image):
    """Whether ``image`` is one ``(H, W, 3)`` uint8 array, the only pixels skhisto embeds."""
    return (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[2] == 3
    )


def _bomb_error(path, exc):
    pixels = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{int(pixels.group(1)):,} pixels" if pixels else "too many pixels"
    return ImageReadError(
        f"Refusing to decode {path!r}: {size}, over Pillow's decompression-bomb limit "
        f"({Image.MAX_IMAGE_PIXELS:,} pixels). Tile a whole-slide image into patches first, or, "
        "if the file is trusted, raise PIL.Image.MAX_IMAGE_PIXELS."
    )


def _decode(image, f, path):
    # Baseline RGB and grayscale JPEGs (every scanner tile) go through the
    # strict decoder, which reports the damage Pillow decodes silently.
    if image.format == "JPEG" and image.mode in ("RGB", "L"):
        f.seek(0)
        pixels = decode_jpeg(f.read(), path)
        if pixels is not None:
            return pixels
    image.load()
    return np.array(_to_rgb(image, path), dtype=np.uint8)  # writable: torch warns on read-only


@validate_params({"path": PATH}, prefer_skip_nested_validation=True)
def read_image(path):
    """Decode an image file into a ``uint8`` array of shape ``(H, W, 3)``.

    RGBA is composited on white, grayscale, 1-bit and palette images are
    converted to RGB, and 16-bit images (grayscale or RGB) keep their high
    byte: ``value // 256``, the same linear rule for every file (never a
    per-file stretch). 32-bit integer and floating-point images, multi-frame
    files (animated GIF, multi-page TIFF) and images over Pillow's
    decompression-bomb limit are refused.

    Parameters
    ----------
    path : str or os.PathLike
        JPEG, PNG, TIFF, BMP or WebP file.

    Returns
    -------
    ndarray of shape (H, W, 3), dtype uint8

    Raises
    ------
    ImageReadError
        When the file is missing, truncated, not a readable image or one of
        the refused kinds above; the message names the file.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from PIL import Image
    >>> from skhisto.io import read_image
    >>> path = tempfile.mktemp(suffix=".png")
    >>> Image.fromarray(np.full((2, 2), 65535, np.uint16)).save(path)
    >>> read_image(path)[0, 0].tolist()
    [255, 255, 255]
    """
    path = os.fspath(path)
    try:
        with open_regular(path, "image") as f, Image.open(f) as image:
            frames = getattr(image, "n_frames", 1)
            if frames > 1:
                raise MultiFrameImageError(
                    f"Cannot read {path!r}: it holds {frames} frames (animated or multi-page); "
                    "save the frame you want as a single image.",
                    frames,
                )
            rgb = _decode(image, f, path)
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        raise _bomb_error(path, exc) from exc
    except IsADirectoryError as exc:  # open_regular's check: one stat, no race
        raise ImageReadError(f"Expected an image file, got a directory: {path!r}") from exc
    except FileNotFoundError as exc:
        raise ImageReadError(f"Image file does not exist: {path!r}") from exc
    except NotRegularFileError as exc:
        raise ImageReadError(str(exc)) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"Cannot decode image {path!r}: {exc}") from exc
    return rgb
