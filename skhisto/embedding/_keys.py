"""Content keys of images and the id of a backbone fingerprint."""

import json

from ..io import ImageArray, ImageFiles
from ..utils import new_digest

#: Bump when the stored layout or the meaning of an embedding changes.
#: 2: 16-bit images are read as value // 256 (no longer stretched per file).
FORMAT_VERSION = 2


def fingerprint_id(fingerprint):
    """Short stable hex id of a fingerprint dict."""
    blob = json.dumps(fingerprint, sort_keys=True, default=str).encode()
    return new_digest("identity", blob).hexdigest()[:24]


def array_keys(X):
    """Content keys of uint8 images ``(n, H, W, 3)``: hash of shape and pixels."""
    return ImageArray(X).keys()


def path_keys(paths):
    """Content keys of image files: hash of their bytes (renames keep their entries)."""
    return ImageFiles(paths).keys()
