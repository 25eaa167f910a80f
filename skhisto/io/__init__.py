"""Image input: decoding files, image sources and the one resizer; review decisions files."""

from typing import TYPE_CHECKING

from ..utils._lazy import attach

if TYPE_CHECKING:  # the exports; at run time each loads on first use (utils._lazy)
    from ._decisions import append_decision, export_labels, listing_digest, read_decisions
    from ._errors import ImageReadError, MultiFrameImageError
    from ._images import IMAGE_EXTENSIONS, read_image
    from ._inputs import check_image_input, image_source
    from ._load import load_images
    from ._resize import resize_batch, resize_image
    from ._sources import ImageArray, ImageFiles, ImageSource

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageArray",
    "ImageFiles",
    "ImageReadError",
    "ImageSource",
    "MultiFrameImageError",
    "append_decision",
    "check_image_input",
    "export_labels",
    "image_source",
    "listing_digest",
    "load_images",
    "read_decisions",
    "read_image",
    "resize_batch",
    "resize_image",
]

__getattr__, __dir__ = attach(__name__, __file__)
