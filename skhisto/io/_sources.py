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
from ._images import read_image

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
        self.images = images

    def __len__(self):
        return len(self.images)

    def read(self, index):
        return self.images[index]

    def take(self, positions):
        return ImageArray(self.images[np.asarray(positions, dtype=np.intp)])

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
