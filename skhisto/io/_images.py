"""Reading and validating images: the one place pixels enter skhisto."""

import os
from collections.abc import Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

#: File extensions recognised as images when scanning folders.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")


class ImageReadError(ValueError):
    """An image file could not be decoded (missing, truncated or not an image)."""


def _to_rgb(image, path):
    # Explicit conversions: alpha is composited on white (slide background is
    # white, so transparent pixels are background), grayscale is replicated.
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = array.max() or 1.0
        gray = np.round(array / peak * 255).astype(np.uint8)
        return Image.fromarray(np.repeat(gray[..., None], 3, axis=2))
    if image.mode == "F":
        raise ImageReadError(f"{path}: floating-point images are not supported; save it as 8-bit.")
    return image.convert("RGB")


def read_image(path):
    """Decode an image file into a ``uint8`` array of shape ``(H, W, 3)``.

    RGBA is composited on white, grayscale and palette images are converted to
    RGB, and 16-bit grayscale is rescaled to 8 bits.

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
        When the file is missing, truncated or not a readable image; the
        message names the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ImageReadError(f"Image file does not exist: {path!r}")
    try:
        with Image.open(path) as image:
            image.load()
            rgb = _to_rgb(image, path)
    except ImageReadError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"Cannot decode image {path!r}: {exc}") from exc
    return np.array(rgb, dtype=np.uint8)  # writable: torch.from_numpy warns on read-only


def check_image_input(X):
    """Validate embedder input and tell which kind it is.

    Parameters
    ----------
    X : ndarray of shape (n, H, W, 3), dtype uint8, or sequence of paths
        A batch of RGB images or image file paths.

    Returns
    -------
    kind : {"array", "paths"}
    X : ndarray or list of str
        The input itself (arrays are never copied or modified).
    """
    if isinstance(X, np.ndarray) and X.dtype.kind in "US":
        X = X.ravel().tolist()
    elif hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):
        values = X.to_numpy()
        if values.dtype == object or values.dtype.kind in "US":
            X = values.ravel().tolist()
    if isinstance(X, np.ndarray):
        if X.ndim != 4 or X.shape[-1] != 3:
            raise ValueError(
                "Expected images as a uint8 array of shape (n_images, height, width, 3); "
                f"got an array of shape {X.shape}."
            )
        if X.dtype != np.uint8:
            raise TypeError(
                f"Expected uint8 images (0-255); got dtype {X.dtype}. Convert explicitly, "
                "e.g. (X * 255).round().astype(np.uint8) for images scaled to [0, 1]."
            )
        if len(X) == 0:
            raise ValueError("Expected at least one image; got an empty array.")
        return "array", X
    if isinstance(X, (str, os.PathLike)):
        raise TypeError("Expected a sequence of image paths, got a single path; wrap it in a list.")
    if isinstance(X, Sequence) or hasattr(X, "__iter__"):
        paths = list(X)
        if not paths:
            raise ValueError("Expected at least one image path; got an empty sequence.")
        bad = [p for p in paths if not isinstance(p, (str, os.PathLike))]
        if bad:
            raise TypeError(
                "Expected image paths (str or os.PathLike) or a uint8 array; "
                f"got an element of type {type(bad[0]).__name__}."
            )
        return "paths", [os.fspath(p) for p in paths]
    raise TypeError(f"Expected a uint8 image array or a sequence of paths, got {type(X).__name__}.")
