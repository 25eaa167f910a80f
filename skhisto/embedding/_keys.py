"""Content keys of images and the id of a backbone fingerprint."""

import hashlib
import json

import numpy as np

from ..utils import io_error, open_regular

#: Bump when the stored layout or the meaning of an embedding changes.
#: 2: 16-bit images are read as value // 256 (no longer stretched per file).
FORMAT_VERSION = 2
KEY_BYTES = 16


def fingerprint_id(fingerprint):
    """Short stable hex id of a fingerprint dict."""
    blob = json.dumps(fingerprint, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def array_keys(X):
    """Content keys of uint8 images ``(n, H, W, 3)``: hash of shape and pixels."""
    keys = np.empty(len(X), dtype=f"S{KEY_BYTES * 2}")
    for i, image in enumerate(X):
        digest = hashlib.blake2b(repr(image.shape).encode(), digest_size=KEY_BYTES)
        digest.update(np.ascontiguousarray(image).data)
        keys[i] = digest.hexdigest().encode()
    return keys


def path_keys(paths):
    """Content keys of image files: hash of their bytes (renames keep their entries)."""
    keys = np.empty(len(paths), dtype=f"S{KEY_BYTES * 2}")
    for i, path in enumerate(paths):
        try:
            with open_regular(path, "image") as f:
                digest = hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=KEY_BYTES))
        except FileNotFoundError:
            raise FileNotFoundError(f"Image file does not exist: {path!r}") from None
        except OSError as exc:
            raise io_error(exc, "read image", path) from exc
        keys[i] = digest.hexdigest().encode()
    return keys
