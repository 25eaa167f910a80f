"""Image input: decoding files and validating image batches."""

from typing import TYPE_CHECKING

from ..utils._lazy import attach

if TYPE_CHECKING:  # the exports; at run time each loads on first use (utils._lazy)
    from ._images import IMAGE_EXTENSIONS, ImageReadError, check_image_input, read_image
    from ._load import load_images

__all__ = ["IMAGE_EXTENSIONS", "ImageReadError", "check_image_input", "load_images", "read_image"]

__getattr__, __dir__ = attach(__name__, __file__)
