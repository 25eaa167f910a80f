"""Image input: decoding files and validating image batches."""

from ._images import IMAGE_EXTENSIONS, ImageReadError, check_image_input, read_image
from ._load import load_images

__all__ = ["IMAGE_EXTENSIONS", "ImageReadError", "check_image_input", "load_images", "read_image"]
