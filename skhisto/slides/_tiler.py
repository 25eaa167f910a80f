"""SlideTiler: a grid of tissue patches at a target resolution, as a patch table."""

import os
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator

from ..utils import progress, warn
from ..utils._sklearn_compat import Interval, StrOptions
from ._reader import open_slide_or_assume
from ._table import patch_table
from ._tissue import tissue_mask

#: The thumbnail the mask is made on gives each patch at least this many pixels a side.
_MASK_PIXELS_PER_PATCH = 16
_MASK_SIDE = (256, 8192)


class SlideTiler(BaseEstimator):
    """Cut whole-slide images into a grid of tissue patches at a fixed resolution.

    The tissue mask is made on a thumbnail (Otsu on saturation, see
    :func:`tissue_mask`) fine enough that every patch covers at least 16x16
    of its pixels; each grid patch gets the share of its area that is tissue,
    and patches with less than ``min_tissue`` are dropped. Nothing is read at
    full resolution: tiling a slide costs one thumbnail.

    Parameters
    ----------
    patch_size : int, default=224
        Side of a patch in pixels at ``mpp``.
    mpp : float, default=0.5
        Target microns per pixel (0.5 ~ 20x, 0.25 ~ 40x).
    overlap : int, default=0
        Pixels (at ``mpp``) shared by neighboring patches.
    tissue_threshold : "otsu" or float in (0, 1), default="otsu"
        Saturation above which a thumbnail pixel is tissue.
    min_tissue : float in [0, 1], default=0.5
        Least tissue share a patch must have to be kept.
    slide_mpp : float, optional
        Microns per pixel of level 0 for slides that do not record it
        (slides that do keep theirs).
    verbose : {"auto"} or bool, default="auto"
        Progress bar over slides.

    See Also
    --------
    read_coordinates : The same table from TRIDENT's or CLAM's patch files.
    skhisto.FoundationEmbedder : Embeds a patch table, reading the regions lazily.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from skhisto.datasets import make_slide
    >>> from skhisto.slides import SlideTiler
    >>> tissue = np.full((64, 64, 3), (200, 80, 160), np.uint8)
    >>> path = make_slide(tempfile.mktemp(suffix=".tif"), [tissue], [[0, -1], [0, 0]], mpp=0.5)
    >>> table = SlideTiler(patch_size=32, mpp=1.0).tile(path)
    >>> len(table), table.columns.tolist()
    (3, ['slide', 'x', 'y', 'level', 'size', 'mpp', 'tissue'])
    """

    _parameter_constraints: dict = {
        "patch_size": [Interval(Integral, 1, None, closed="left")],
        "mpp": [Interval(Real, 0, None, closed="neither")],
        "overlap": [Interval(Integral, 0, None, closed="left")],
        "tissue_threshold": [StrOptions({"otsu"}), Interval(Real, 0, 1, closed="neither")],
        "min_tissue": [Interval(Real, 0, 1, closed="both")],
        "slide_mpp": [Interval(Real, 0, None, closed="neither"), None],
        "verbose": [StrOptions({"auto"}), "boolean"],
    }

    def __init__(
        self,
        *,
        patch_size=224,
        mpp=0.5,
        overlap=0,
        tissue_threshold="otsu",
        min_tissue=0.5,
        slide_mpp=None,
        verbose="auto",
    ):
        self.patch_size = patch_size
        self.mpp = mpp
        self.overlap = overlap
        self.tissue_threshold = tissue_threshold
        self.min_tissue = min_tissue
        self.slide_mpp = slide_mpp
        self.verbose = verbose

    def tile(self, slides):
        """The tissue patches of one slide or of several.

        Parameters
        ----------
        slides : str, os.PathLike or sequence of them
            Slide files (any format :func:`open_slide` reads), each once. A
            slide that gives no patch (smaller than a patch, or no tissue)
            is named in a ``UserWarning``: it will have no bag.

        Returns
        -------
        pandas.DataFrame
            One row per patch, slide by slide, row-major within a slide:
            ``slide`` (the absolute path), ``x``, ``y`` (top-left, level-0 pixels),
            ``level`` and ``size`` (the region read: ``size`` pixels a side
            at ``level``), ``mpp`` and ``tissue`` (share of the patch that
            is tissue).
        """
        self._validate_params()
        if self.overlap >= self.patch_size:
            raise ValueError(
                f"overlap ({self.overlap}) must be smaller than patch_size ({self.patch_size})."
            )
        paths = _slide_paths(slides)
        parts = [
            self._tile_one(path)
            for path in progress(paths, total=len(paths), desc="tiling", verbose=self.verbose)
        ]
        empty = [(path, why) for path, (part, why) in zip(paths, parts, strict=True) if why]
        if empty:
            warn(
                f"{len(empty)} of {len(paths)} slides gave no patches, so they will have no "
                f"bag: {'; '.join(f'{p!r} ({why})' for p, why in empty[:3])}"
                f"{'; ...' if len(empty) > 3 else ''}.",
                UserWarning,
            )
        parts = [part for part, _ in parts]
        if not parts:
            return patch_table(slide=[], x=[], y=[], level=[], size=[], mpp=[], tissue=[])
        return patch_table(**{k: np.concatenate([p[k] for p in parts]) for k in parts[0]})

    def _tile_one(self, path):
        with open_slide_or_assume(path, self.slide_mpp) as slide:
            level, size = slide.level_for(self.mpp, self.patch_size)
            footprint = size * slide.level_downsamples[level]  # level-0 pixels per patch
            mask, scale = self._mask(slide, footprint)
            width, height = slide.dimensions
        step = footprint * (self.patch_size - self.overlap) / self.patch_size
        xs = _grid(width, footprint, step)
        ys = _grid(height, footprint, step)
        gx, gy = np.meshgrid(xs, ys)
        tissue = _coverage(mask, scale, gx.ravel(), gy.ravel(), footprint)
        keep = tissue >= self.min_tissue
        n = int(keep.sum())
        why = None
        if n == 0:
            side = f"{self.patch_size} px patch at {self.mpp:g} mpp ({footprint:.0f} px at level 0)"
            small = f"it is {width} x {height} px, smaller than one {side}"
            why = small if not len(tissue) else f"no {side} has min_tissue={self.min_tissue:g}"
        return {
            "slide": np.full(n, path, dtype=object),
            "x": gx.ravel()[keep],
            "y": gy.ravel()[keep],
            "level": np.full(n, level),
            "size": np.full(n, size),
            "mpp": np.full(n, float(self.mpp)),
            "tissue": tissue[keep],
        }, why

    def _mask(self, slide, footprint):
        side = max(slide.dimensions) * _MASK_PIXELS_PER_PATCH / footprint
        side = int(np.clip(side, *_MASK_SIDE))
        thumbnail = slide.thumbnail(min(side, max(slide.dimensions)))
        scale = (
            thumbnail.shape[1] / slide.dimensions[0],
            thumbnail.shape[0] / slide.dimensions[1],
        )
        return tissue_mask(thumbnail, self.tissue_threshold), scale


def _slide_paths(slides):
    """Absolute slide paths (a table must not depend on the working directory), each once."""
    items = [slides] if isinstance(slides, (str, os.PathLike)) else list(slides)
    paths = [os.path.abspath(os.fspath(item)) for item in items]
    seen = {}
    for index, path in enumerate(paths):
        if path in seen:
            raise ValueError(
                f"Slide {path!r} is listed twice (items {seen[path]} and {index}); each slide "
                "is one bag of patches, so list it once."
            )
        seen[path] = index
    return paths


def _grid(length, footprint, step):
    """Top-left coordinates of whole patches along one axis."""
    count = int(np.floor((length - footprint) / step + 1e-9)) + 1 if length >= footprint else 0
    return np.round(np.arange(count) * step).astype(np.int64)


def _coverage(mask, scale, x, y, footprint):
    """Share of each patch's footprint that is tissue, from a summed-area table of ``mask``."""
    table = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=np.int64)
    table[1:, 1:] = mask.cumsum(0).cumsum(1)
    sx, sy = scale
    x0 = np.clip(np.round(x * sx).astype(np.int64), 0, mask.shape[1] - 1)
    y0 = np.clip(np.round(y * sy).astype(np.int64), 0, mask.shape[0] - 1)
    x1 = np.clip(np.round((x + footprint) * sx).astype(np.int64), x0 + 1, mask.shape[1])
    y1 = np.clip(np.round((y + footprint) * sy).astype(np.int64), y0 + 1, mask.shape[0])
    inside = table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]
    return inside / ((x1 - x0) * (y1 - y0))
