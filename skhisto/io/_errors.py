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
