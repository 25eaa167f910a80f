"""The error every image read raises, named by the file it could not read."""


class ImageReadError(ValueError):
    """An image file could not be decoded (missing, truncated or not an image).

    Examples
    --------
    >>> import os, tempfile
    >>> from skhisto.io import read_image
    >>> path = os.path.join(tempfile.mkdtemp(), "tile.png")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"not a png")
    >>> read_image(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skhisto.io._errors.ImageReadError: ...tile.png...
    """


class MultiFrameImageError(ImageReadError):
    """An image file holds several frames: an animation, a multi-page or a pyramidal TIFF.

    ``frames`` is how many (None when the error was re-raised from a
    DataLoader worker with its message only). A pyramidal TIFF is a whole-slide
    image: read it with :func:`skhisto.slides.open_slide` or tile it with
    :class:`skhisto.SlideTiler`.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from PIL import Image
    >>> from skhisto.io import MultiFrameImageError, read_image
    >>> path = tempfile.mktemp(suffix=".tif")
    >>> frames = [Image.fromarray(np.zeros((4, 4, 3), np.uint8))] * 2
    >>> frames[0].save(path, save_all=True, append_images=frames[1:])
    >>> try:
    ...     read_image(path)
    ... except MultiFrameImageError as error:
    ...     print(error.frames)
    2
    """

    def __init__(self, message, frames=None):
        super().__init__(message)
        self.frames = frames
