"""Image sources: the one protocol every input of images goes through.

An embedder, a loader or a cache never asks what kind of input it was given:
it asks the source for its length, its cache keys, one image, a subset and a
name for messages. Arrays and image files are built in; whole-slide patches
(:class:`skhisto.slides.PatchRegions`) and any source a user writes subclass
:class:`ImageSource`, and are taken wherever images are.
"""

from abc import ABC, abstractmethod

import numpy as np
from sklearn import config_context

from ..utils import content_key, file_content_key
from ._images import is_rgb_image, read_image

#: dtype of content keys: 32 hex characters (:func:`skhisto.utils.content_key`).
KEY_DTYPE = "S32"


class ImageSource(ABC):
    """Images read one at a time, with content keys and names.

    Subclass it for a new kind of input (a tile server, an archive): implement
    ``__len__``, :meth:`read`, :meth:`take`, :meth:`keys` and :meth:`name`,
    and pass an instance wherever images are taken. Sources are pickled into
    DataLoader workers: keep open handles out of the pickled state.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.io import ImageSource, image_source
    >>> class Constant(ImageSource):
    ...     def __init__(self, values):
    ...         self.values = list(values)
    ...     def __len__(self):
    ...         return len(self.values)
    ...     def read(self, index):
    ...         return np.full((8, 8, 3), self.values[index], np.uint8)
    ...     def take(self, positions):
    ...         return Constant([self.values[i] for i in positions])
    ...     def keys(self, *, digest_dir=None):
    ...         return np.asarray([f"{v:032d}" for v in self.values], dtype="S32")
    ...     def name(self, index):
    ...         return f"constant {self.values[index]}"
    >>> source = image_source(Constant([0, 255]))
    >>> len(source), source.read(1)[0, 0].tolist(), source.take([1]).name(0)
    (2, [255, 255, 255], 'constant 255')
    """

    #: Resolution of each image in µm per pixel (an array), or None when unknown.
    mpp = None

    @abstractmethod
    def __len__(self):
        """Number of images."""

    @abstractmethod
    def read(self, index):
        """Image ``index`` as a ``(H, W, 3)`` uint8 array; the error names its origin."""

    @abstractmethod
    def take(self, positions):
        """A source of the images at ``positions``, in that order."""

    @abstractmethod
    def keys(self, *, digest_dir=None):
        """Content keys (``S32`` array): equal keys only for equal content.

        ``digest_dir`` is a folder where digests of large files may be
        remembered across processes (the embedding cache's).
        """

    @abstractmethod
    def name(self, index):
        """How messages name image ``index`` (a path, ``image 3``, a slide region)."""

    def pixels(self):
        """All images as one ``(n, H, W, 3)`` uint8 array when held in memory, else None."""
        return None

    def read_checked(self, index):
        """:meth:`read`, checked to be ``(H, W, 3)`` uint8: what skhisto calls."""
        image = self.read(index)
        if not is_rgb_image(image):
            raise TypeError(
                f"{type(self).__name__}.read({index}) must return a (H, W, 3) uint8 RGB array; "
                f"it did not for {self.name(index)}."
            )
        return image

    def keys_checked(self, *, digest_dir=None):
        """:meth:`keys`, checked to be one ``S32`` key per image: what the cache calls."""
        keys = np.asarray(self.keys(digest_dir=digest_dir))
        if keys.shape != (len(self),) or keys.dtype != np.dtype(KEY_DTYPE):
            raise TypeError(
                f"{type(self).__name__}.keys() must return {len(self)} keys of dtype "
                f"{KEY_DTYPE} (32 hex characters, as skhisto.utils.content_key makes them); it "
                f"returned shape {keys.shape} and dtype {keys.dtype}."
            )
        return keys


class ImageArray(ImageSource):
    """Images held in memory: a uint8 array ``(n, H, W, 3)``, never copied or modified.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.io import ImageArray
    >>> source = ImageArray(np.zeros((3, 4, 4, 3), np.uint8))
    >>> len(source), source.name(2), source.keys()[0] == source.keys()[1]
    (3, 'image 2', True)
    """

    def __init__(self, images):
        if not isinstance(images, np.ndarray):
            raise TypeError(f"ImageArray takes a uint8 array; got {type(images).__name__}.")
        _check_image_array(images)  # float or RGBA pixels would be embedded as wrong colors
        self.images = images

    def __len__(self):
        return len(self.images)

    def read(self, index):
        return self.images[index]

    def take(self, positions):
        subset = ImageArray.__new__(ImageArray)  # rows of checked images: no second check
        subset.images = self.images[np.asarray(positions, dtype=np.intp)]
        return subset

    def keys(self, *, digest_dir=None):
        # Shape and pixels: two images share a key only if they are the same picture.
        keys = np.empty(len(self.images), dtype=KEY_DTYPE)
        for i, image in enumerate(self.images):
            keys[i] = content_key(repr(image.shape).encode(), np.ascontiguousarray(image).data)
        return keys

    def name(self, index):
        return f"image {index}"

    def pixels(self):
        return self.images


class ImageFiles(ImageSource):
    """Image files (JPEG, PNG, TIFF, ...), decoded by :func:`read_image` when read.

    Keys hash each file's bytes, so a renamed or copied file keeps its cache
    entries and a rewritten one gets new ones.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from PIL import Image
    >>> from skhisto.io import ImageFiles
    >>> path = tempfile.mktemp(suffix=".png")
    >>> Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(path)
    >>> source = ImageFiles([path, path])
    >>> source.read(0).shape, source.name(1) == repr(path), len(set(source.keys()))
    ((4, 4, 3), True, 1)
    """

    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def read(self, index):
        return read_image(self.paths[index])

    def take(self, positions):
        return ImageFiles([self.paths[i] for i in positions])

    def keys(self, *, digest_dir=None):
        with config_context(skip_parameter_validation=True):  # paths checked on the way in
            keys = [file_content_key(p, "image") for p in self.paths]
        return np.asarray(keys, dtype=KEY_DTYPE)

    def name(self, index):
        return repr(self.paths[index])


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
    if X.dtype.kind == "f" and np.isfinite(X).any() and np.nanmax(X) <= 1.0:
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
