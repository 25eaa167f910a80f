"""One image loader: arrays or files in, one uint8 ``(n, s, s, 3)`` batch out."""

import numpy as np

from ..utils._constraints import POSITIVE_INT
from ..utils._sklearn_compat import validate_params
from ._inputs import image_source


@validate_params(
    {"X": "no_validation", "image_size": POSITIVE_INT + [None]},  # image_source checks X
    prefer_skip_nested_validation=True,
)
def load_images(X, image_size=None):
    """Decode and resize images once into a ``(n, s, s, 3)`` uint8 array.

    The loader of :func:`~skhisto.datasets.load_image_folder`,
    :class:`~skhisto.SimCLREmbedder` and :class:`~skhisto.ActiveSimCLR`: files
    are read with :func:`read_image` and resized with antialiased bilinear
    interpolation, the resize every embedder applies.

    Parameters
    ----------
    X : ndarray of shape (n, H, W, 3), dtype uint8, sequence of paths or ImageSource
        Images, image file paths or patches of slides (see :func:`image_source`).
    image_size : int, default=None
        Side ``s`` of the square output. None keeps the images' own size,
        which must then be square and the same for every image.

    Returns
    -------
    ndarray of shape (n, s, s, 3), dtype uint8
        An array ``X`` that already has that shape is returned as is (not
        copied); anything else is a new array.

    Raises
    ------
    ImageReadError
        When a file cannot be decoded; the message names it.
    ValueError
        With ``image_size=None``, when an image is not square or differs in
        size from the first; the message names the file (or the index).

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.io import load_images
    >>> images = np.zeros((2, 16, 16, 3), dtype=np.uint8)
    >>> load_images(images, 8).shape
    (2, 8, 8, 3)
    >>> load_images(images) is images
    True
    """
    source = image_source(X)
    X = source.pixels()
    if X is not None:
        size = image_size or _own_size(X.shape[1:3], source.name(0), X.shape[1:3])
        if X.shape[1:3] == (size, size):
            return X
    first = source.read_checked(0)
    size = image_size or _own_size(first.shape[:2], source.name(0), first.shape[:2])
    # Imported here: torch is needed only when an image has to be resized.
    from ._resize import resize_image

    out = np.empty((len(source), size, size, 3), dtype=np.uint8)
    for i in range(len(source)):
        image = first if i == 0 else source.read_checked(i)
        if image_size is None:
            _own_size(image.shape[:2], source.name(i), (size, size))
        out[i] = resize_image(image, size)
    return out


def _own_size(shape, name, expected):
    """The side of a square image of ``expected`` size; the error says to pass image_size=."""
    height, width = shape
    if height != width:
        raise ValueError(
            f"{name} is not square ({width}x{height}); pass image_size= to resize the images "
            "on load."
        )
    if (height, width) != tuple(expected):
        raise ValueError(
            f"{name} is {width}x{height} but earlier images are {expected[1]}x{expected[0]}; "
            "pass image_size= to resize them on load."
        )
    return height
