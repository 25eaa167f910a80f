"""The internal validation split that drives the heads' early stopping."""

import math

import numpy as np
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit


def validation_split(y, fraction, random_state):
    """Train and validation indices for early stopping, or None when too few samples.

    The split is stratified so every class is validated in proportion. When a
    class is too small for that (a single member, or fewer validation
    samples than classes, as in small grid-search folds), it falls back to a
    plain shuffled split instead of failing.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Integer class codes.
    fraction : float in (0, 1)
        Share of samples held out for validation.
    random_state : int
        Seed of the split.

    Returns
    -------
    (train, valid) : tuple of ndarray, or None
        None when fewer than 2 samples would remain for training.
    """
    n = len(y)
    n_valid = math.ceil(fraction * n)
    if n - n_valid < 2:
        return None
    X_dummy = np.zeros((n, 1))
    try:
        splitter = StratifiedShuffleSplit(1, test_size=n_valid, random_state=random_state)
        return next(splitter.split(X_dummy, y))
    except ValueError:
        splitter = ShuffleSplit(1, test_size=n_valid, random_state=random_state)
        return next(splitter.split(X_dummy))
