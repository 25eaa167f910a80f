"""Reading and validating images: the one place pixels enter skhisto."""

import os
import re
import reprlib
from collections.abc import Iterable

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..utils import NotRegularFileError, check_regular_file, open_regular
from ._errors import ImageReadError
from ._jpeg import decode_jpeg

#: File extensions recognised as images when scanning folders.
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
            "mapping to 8-bit colour; convert it to 8- or 16-bit with the scaling you intend."
        )
    return image.convert("RGB")


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
                raise ImageReadError(
                    f"Cannot read {path!r}: it holds {frames} frames (animated or multi-page); "
                    "save the frame you want as a single image."
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


def _shape_hint(shape):
    if len(shape) == 3 and shape[-1] == 3:
        return " This looks like one image: add a batch axis, X[None]."
    if len(shape) == 4 and shape[-1] == 4:
        return " This looks like RGBA: drop or composite the alpha channel first."
    if len(shape) == 4 and shape[1] == 3:
        return " This looks channels-first: use X.transpose(0, 2, 3, 1)."
    if len(shape) == 3:
        return " For grayscale, replicate the channel: np.repeat(X[..., None], 3, axis=-1)."
    return ""


def _conversion_hint(X):
    """How to convert ``X`` to uint8, judged from its dtype and value range."""
    if X.dtype in (np.uint16, np.int32, np.uint32, np.int64, np.uint64) and X.size:
        if X.max() > 255:  # the documented 16-bit rule of read_image
            return "For 16-bit images, as skhisto reads 16-bit files: (X // 256).astype(np.uint8)."
    if X.dtype.kind == "f" and X.size and np.nanmax(X) <= 1.0:
        return "For images scaled to [0, 1]: (X * 255).round().astype(np.uint8)."
    if X.dtype.kind in "fiub":
        return "For values in 0-255: X.round().clip(0, 255).astype(np.uint8)."
    return "Convert them to uint8 RGB explicitly."


def _check_image_array(X):
    if X.ndim != 4 or X.shape[-1] != 3:
        raise ValueError(
            "Expected images as a uint8 array of shape (n_images, height, width, 3); "
            f"got an array of shape {X.shape}.{_shape_hint(X.shape)}"
        )
    if X.dtype != np.uint8:
        raise TypeError(
            f"Expected uint8 images (0-255); got dtype {X.dtype}. {_conversion_hint(X)}"
        )
    if len(X) == 0:
        raise ValueError("Expected at least one image; got an empty array.")
    if 0 in X.shape[1:3]:
        raise ValueError(f"Expected images of at least 1x1 pixel; got shape {X.shape}.")
    return "array", X


def _check_paths(items):
    paths = list(items)
    if not paths:
        raise ValueError("Expected at least one image path; got an empty sequence.")
    for index, item in enumerate(paths):
        if isinstance(item, np.ndarray):
            raise TypeError(
                f"Expected image paths or one uint8 array; element {index} is an array of shape "
                f"{item.shape}. Stack same-size images: np.stack(images)."
            )
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(
                "Expected image paths (str or os.PathLike) or a uint8 array; element "
                f"{index} is {reprlib.repr(item)} of type {type(item).__name__}."
            )
    # Plain str: numpy's np.str_ would show as np.str_('...') in every message.
    paths = [str(os.fspath(p)) for p in paths]
    for path in paths:  # a FIFO or /dev/zero would hang a hash or a decoder: refused now
        check_regular_file(path, "image")
    return "paths", paths


def check_image_input(X):
    """Validate embedder input and tell which kind it is.

    Parameters
    ----------
    X : ndarray of shape (n, H, W, 3), dtype uint8, or sequence of paths
        A batch of RGB images, or image file paths: a list, a 1-D array of
        str or objects (``df["path"].to_numpy()``), a pandas Series.

        Or a patch table (a DataFrame with columns ``slide``, ``x``, ``y``,
        ``level``, ``size``, see :class:`skhisto.slides.SlideTiler`): regions
        of whole-slide images, read lazily.

    Returns
    -------
    kind : {"array", "paths", "patches"}
    X : ndarray, list of str or skhisto.slides.PatchRegions
        The input itself (arrays are never copied or modified).

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.io import check_image_input
    >>> check_image_input(np.array(["a.png", "b.png"], dtype=object))
    ('paths', ['a.png', 'b.png'])
    """
    from ..slides._table import PatchRegions, check_patch_table, is_patch_table

    if isinstance(X, PatchRegions):  # already checked
        return "patches", X
    if is_patch_table(X):
        return "patches", check_patch_table(X)
    if hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):
        X = X.to_numpy()  # pandas Series / one-column DataFrame
    if isinstance(X, (str, bytes, os.PathLike)):
        raise TypeError("Expected a sequence of image paths, got a single path; wrap it in a list.")
    if isinstance(X, np.ndarray) and X.dtype.kind in "OUS":
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]  # one column of paths
        if X.ndim != 1:
            raise ValueError(
                "Expected a 1-D array of image paths; got an array of dtype "
                f"{X.dtype} and shape {X.shape}."
            )
        return _check_paths(X.tolist())
    if isinstance(X, np.ndarray):
        return _check_image_array(X)
    if isinstance(X, Iterable):
        return _check_paths(X)
    raise TypeError(f"Expected a uint8 image array or a sequence of paths, got {type(X).__name__}.")


def read_item(kind, X, index):
    """Image ``index`` of input ``X`` of ``kind`` (see :func:`check_image_input`) as uint8 RGB."""
    if kind == "paths":
        return read_image(X[index])
    if kind == "patches":
        return X.read(index)
    return X[index]
