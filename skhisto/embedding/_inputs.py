"""What embedders take: every image source, patch tables of slides included."""

from ..io import image_source
from ..slides import check_patch_table, is_patch_table
from ..utils._sklearn_compat import validate_params


@validate_params({"X": "no_validation"}, prefer_skip_nested_validation=True)  # see image_source
def as_image_source(X):
    """The image source of embedder input ``X``: the one adapter every embedder uses.

    Parameters
    ----------
    X : ndarray of shape (n, H, W, 3), dtype uint8, sequence of paths, patch table or ImageSource
        Images in memory, image files, a patch table (a DataFrame with
        columns ``slide``, ``x``, ``y``, ``level``, ``size``, as
        :meth:`skhisto.SlideTiler.tile` returns) whose regions are read from
        the slides, or any :class:`skhisto.io.ImageSource`.

    Returns
    -------
    skhisto.io.ImageSource
        :class:`skhisto.slides.PatchRegions` for a patch table (checked by
        :func:`skhisto.slides.check_patch_table`), else
        :func:`skhisto.io.image_source` of ``X``.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from skhisto.datasets import make_slide
    >>> from skhisto.embedding import as_image_source
    >>> from skhisto.slides import SlideTiler
    >>> tissue = np.full((64, 64, 3), (200, 80, 160), np.uint8)
    >>> slide = make_slide(tempfile.mktemp(suffix=".tif"), [tissue], [[0, 0]])
    >>> source = as_image_source(SlideTiler(patch_size=32, mpp=0.5).tile(slide))
    >>> type(source).__name__, len(source), source.read(0).shape
    ('PatchRegions', 2, (64, 64, 3))
    """
    if is_patch_table(X):
        return check_patch_table(X)
    return image_source(X)
