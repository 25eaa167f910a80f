"""User input to an image source: arrays, paths, and any registered source."""

import os
import reprlib
from collections.abc import Iterable

import numpy as np

from ..utils import check_regular_file
from ..utils._sklearn_compat import validate_params
from ._sources import ImageArray, ImageFiles, ImageSource


def _check_paths(items):
    paths = list(items)
    if not paths:
        raise ValueError("Expected at least one image path; got an empty sequence.")
    for index, item in enumerate(paths):
        if isinstance(item, np.ndarray):
            raise TypeError(
                f"Expected image paths or one uint8 array; element {index} is an array of shape "
                f"{item.shape}. Stack same-size images: np.stack(images)."
            )
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(
                "Expected image paths (str or os.PathLike) or a uint8 array; element "
                f"{index} is {reprlib.repr(item)} of type {type(item).__name__}."
            )
    # Plain str: numpy's np.str_ would show as np.str_('...') in every message.
    paths = [str(os.fspath(p)) for p in paths]
    for path in paths:  # a FIFO or /dev/zero would hang a hash or a decoder: refused now
        check_regular_file(path, "image")
    return ImageFiles(paths)


#: The hint of a table of images without a usable ``path`` column.
TABLE_HINT = "pass df['path'] (and df['label'] as y)"


def _path_column(X):
    """A table's ``path`` column (a table of several columns without one: a TypeError)."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "iloc"):
        return X
    names = [str(c) for c in columns]
    if "path" in names:
        return X[columns[names.index("path")]]
    if len(names) > 1:
        raise TypeError(
            f"Expected image paths; got a DataFrame with columns {names} and no 'path' column: "
            f"{TABLE_HINT}, naming the column of image paths."
        )
    return X


# Any object is input (the checks below name what is wrong with it); being validated, the
# calls inside skip their own validation, a per-path cost on a list of a million files.
@validate_params({"X": "no_validation"}, prefer_skip_nested_validation=True)
def image_source(X):
    """The :class:`ImageSource` for user input ``X`` (arrays, paths or a source), validated.

    Parameters
    ----------
    X : ndarray of shape (n, H, W, 3), dtype uint8, sequence of paths, or ImageSource
        A batch of RGB images; image file paths (a list, a 1-D array of str
        or objects such as ``df["path"].to_numpy()``, a pandas Series, or a
        DataFrame with a ``path`` column, whose other columns are not read: a
        DataFrame without one is refused with the hint "pass df['path'] (and
        df['label'] as y)"); an :class:`ImageSource` (such as
        :class:`skhisto.slides.PatchRegions`).
        Embedders also take patch tables: :func:`skhisto.embedding.as_image_source`.

    Returns
    -------
    ImageSource
        :class:`ImageArray` (the array itself, never copied), :class:`ImageFiles`
        (paths as plain ``str``, each a regular file) or the source itself.

    Raises
    ------
    TypeError, ValueError
        Naming what is wrong and how to fix it (a single path, a float or
        RGBA array, an empty sequence, a FIFO among the paths ...).

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.io import image_source
    >>> source = image_source(np.zeros((2, 8, 8, 3), np.uint8))
    >>> type(source).__name__, len(source), source.name(1)
    ('ImageArray', 2, 'image 1')
    """
    if isinstance(X, ImageSource):
        if len(X) == 0:
            raise ValueError(f"Expected at least one image; {type(X).__name__} holds none.")
        return X
    if "slide" in {str(c) for c in getattr(X, "columns", ())}:  # a patch table
        raise TypeError(
            "A table with a 'slide' column is a patch table: pass "
            "skhisto.slides.check_patch_table(table) (embedders take the table as it is)."
        )
    X = _path_column(X)
    if hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):
        X = X.to_numpy()  # pandas Series / one-column DataFrame
    if isinstance(X, (str, bytes, os.PathLike)):
        raise TypeError("Expected a sequence of image paths, got a single path; wrap it in a list.")
    if isinstance(X, np.ndarray) and X.dtype.kind in "OUS":
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]  # one column of paths
        if X.ndim != 1:
            raise ValueError(
                "Expected a 1-D array of image paths; got an array of dtype "
                f"{X.dtype} and shape {X.shape}."
            )
        return _check_paths(X.tolist())
    if isinstance(X, np.ndarray):
        return ImageArray(X)  # checked there
    if isinstance(X, Iterable):
        return _check_paths(X)
    raise TypeError(f"Expected a uint8 image array or a sequence of paths, got {type(X).__name__}.")


def check_image_input(X):
    """Validate embedder input and tell which kind it is (see :func:`image_source`).

    Parameters
    ----------
    X : ndarray of shape (n, H, W, 3), dtype uint8, sequence of paths or ImageSource
        As :func:`image_source` takes.

    Returns
    -------
    kind : {"array", "paths", "source"}
        ``"source"`` for any other :class:`ImageSource` (patches of slides ...).
    X : ndarray, list of str or ImageSource
        The array itself (never copied or modified), the paths as plain
        ``str``, or the source.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.io import check_image_input
    >>> check_image_input(np.array(["a.png", "b.png"], dtype=object))
    ('paths', ['a.png', 'b.png'])
    """
    source = image_source(X)
    if isinstance(source, ImageArray):
        return "array", source.images
    if isinstance(source, ImageFiles):
        return "paths", source.paths
    return "source", source
