"""Attention heat maps: per-patch scores drawn over a slide's thumbnail."""

import os
from numbers import Real

import numpy as np

from ..utils._constraints import PATH, POSITIVE_INT
from ..utils._sklearn_compat import HasMethods, Interval, validate_params
from ._mpl import require_pyplot


@validate_params(
    {
        "slide": PATH + [HasMethods(["thumbnail"])],
        "table": ["array-like"],
        "scores": ["array-like"],
        "ax": [HasMethods(["plot"]), None],
        "thumbnail_size": POSITIVE_INT,
        "cmap": [str, callable],
        "alpha": [Interval(Real, 0, 1, closed="both")],
    },
    prefer_skip_nested_validation=True,
)
def plot_attention_heatmap(
    slide, table, scores, *, ax=None, thumbnail_size=1024, cmap="inferno", alpha=0.5
):
    """Draw per-patch scores (e.g. ABMIL attention) over a slide's thumbnail.

    Parameters
    ----------
    slide : str, os.PathLike or skhisto.slides.Slide
        The slide the patches come from.
    table : pandas.DataFrame
        Its patch table (``x``, ``y``, ``level``, ``size``): rows of other
        slides are refused.
    scores : array-like of shape (len(table),)
        One score per row of ``table``, e.g. ``ABMILHead.attention(bags)[i]``
        for the bag of this slide; they are min-max scaled for the colors.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure's when None.
    thumbnail_size : int, default=1024
        Longer side of the thumbnail drawn.
    cmap : str, default="inferno"
    alpha : float, default=0.5
        Opacity of the heat map over the tissue.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import tempfile, numpy as np
    >>> from skhisto.datasets import make_slide
    >>> from skhisto.slides import SlideTiler
    >>> from skhisto.plotting import plot_attention_heatmap
    >>> tissue = np.full((64, 64, 3), (200, 80, 160), np.uint8)
    >>> path = make_slide(tempfile.mktemp(suffix=".tif"), [tissue], [[0, 0], [0, -1]])
    >>> table = SlideTiler(patch_size=32, mpp=0.5).tile(path)
    >>> ax = plot_attention_heatmap(path, table, np.arange(len(table)))
    >>> ax.get_title()
    'attention'
    >>> import matplotlib.pyplot as plt
    >>> plt.close("all")
    """
    from ..slides import open_slide

    plt = require_pyplot()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if not np.isfinite(scores).all():
        raise ValueError(
            f"scores must be finite; {int((~np.isfinite(scores)).sum())} of {len(scores)} are "
            "NaN or infinite."
        )
    if len(scores) != len(table):
        raise ValueError(
            f"scores has {len(scores)} values but the patch table has {len(table)} rows; give "
            "one score per patch of this slide."
        )
    owned = isinstance(slide, (str, os.PathLike))
    wsi = open_slide(slide) if owned else slide
    try:
        others = {os.fspath(s) for s in table["slide"]} - {wsi.path}
        if others:
            raise ValueError(
                f"The patch table holds patches of other slides ({sorted(others)[:2]}); select "
                f"the rows of {wsi.path!r} first."
            )
        thumbnail = wsi.thumbnail(thumbnail_size)
        scale = thumbnail.shape[1] / wsi.dimensions[0]
        footprint = table["size"].to_numpy() * np.take(wsi.level_downsamples, table["level"])
    finally:
        if owned:
            wsi.close()
    heat = np.full(thumbnail.shape[:2], np.nan)
    span = np.ptp(scores) if len(scores) else 0.0
    scaled = (scores - scores.min()) / span if span > 0 else np.ones_like(scores)
    for x, y, side, value in zip(table["x"], table["y"], footprint, scaled, strict=True):
        x0, y0 = int(x * scale), int(y * scale)
        x1, y1 = max(x0 + 1, int((x + side) * scale)), max(y0 + 1, int((y + side) * scale))
        heat[y0:y1, x0:x1] = np.fmax(heat[y0:y1, x0:x1], value)
    if ax is None:
        _, ax = plt.subplots()
    ax.imshow(thumbnail)
    image = ax.imshow(heat, cmap=cmap, alpha=alpha, vmin=0.0, vmax=1.0)
    ax.figure.colorbar(image, ax=ax, label="score (min-max scaled)")
    ax.set_title("attention")
    ax.set_axis_off()
    return ax
