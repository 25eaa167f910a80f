"""Synthetic H&E tiles: Beer-Lambert mixtures of haematoxylin and eosin, for examples and tests."""

from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

from ..utils._constraints import POSITIVE_INT
from ..utils._sklearn_compat import Interval, validate_params

#: Haematoxylin and eosin optical densities per unit concentration (Ruifrok & Johnston).
HE_STAINS = np.array([[0.65, 0.07], [0.70, 0.99], [0.29, 0.11]])


@validate_params(
    {
        "n": POSITIVE_INT,
        "size": [Interval(Integral, 4, None, closed="left")],
        "stains": ["array-like", None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_stained_tiles(n, *, size=32, stains=None, random_state=None):
    """Draw synthetic H&E tiles: blobs of haematoxylin and eosin on white background.

    Each tile mixes two smooth random concentration maps through
    Beer-Lambert's law, ``255 * exp(-stains @ c)``; about a fifth of each
    tile is left unstained (white).

    Parameters
    ----------
    n : int
        Number of tiles.
    size : int, default=32
        Side of the square tiles.
    stains : array-like of shape (3, 2), optional
        Optical densities of haematoxylin and eosin per unit concentration
        (columns); default: Ruifrok & Johnston's.
    random_state : int, RandomState instance or None

    Returns
    -------
    ndarray of shape (n, size, size, 3), dtype uint8

    Examples
    --------
    >>> from skhisto.stain import make_stained_tiles
    >>> tiles = make_stained_tiles(2, size=16, random_state=0)
    >>> tiles.shape, tiles.dtype
    ((2, 16, 16, 3), dtype('uint8'))
    """
    rng = check_random_state(random_state)
    stains = HE_STAINS if stains is None else np.asarray(stains, dtype=float)
    if stains.shape != (3, 2):
        raise ValueError(f"stains must have shape (3, 2) (RGB x H, E); got {stains.shape}.")
    grid = (np.arange(size) + 0.5) / size
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    tiles = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        amounts = np.zeros((2, size, size))
        for k, scale in enumerate((1.2, 0.8)):
            for _ in range(6):
                cy, cx = rng.uniform(0, 1, 2)
                width = rng.uniform(0.08, 0.25)
                blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * width**2))
                amounts[k] += scale * rng.uniform(0.3, 1.0) * blob
        amounts += 0.05 * rng.standard_normal(amounts.shape)
        background = amounts.sum(axis=0) < np.quantile(amounts.sum(axis=0), 0.2)
        amounts[:, background] = 0.0
        od = np.einsum("ck,khw->hwc", stains, np.clip(amounts, 0, None))
        tiles[i] = np.clip(np.round(255 * np.exp(-od)), 0, 255).astype(np.uint8)
    return tiles
