"""The validation set that drives the heads' early stopping: held out, or given by the user."""

import math

import numpy as np
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils import check_array, check_consistent_length, column_or_1d

from ._batching import writable
from ._labels import check_labels


def validation_split(y, fraction, random_state):
    """Train and validation indices for early stopping, or None when too few samples.

    The split is stratified so every class is validated in proportion. When a
    class is too small for that (a single member, or fewer validation
    samples than classes, as in small grid-search folds), it falls back to a
    plain shuffled split instead of failing.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Class labels (integer codes, or labels of any type).
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


def check_validation_set(X_val, y_val, *, n_features, classes, early_stopping, owner, check_X=None):
    """The user's ``(X_val, y_val)`` as float32 features and labels, checked against the fit.

    Parameters
    ----------
    X_val, y_val : array-like or None
        The validation set given to ``fit``; both or neither.
    n_features : int
        Width of the training ``X``.
    classes : ndarray
        Classes of the training ``y``.
    early_stopping : "auto" or bool
        The head's setting; ``False`` has no use for a validation set.
    owner : str
        The head named in the messages.
    check_X : callable or None, default=None
        Checks and converts ``X_val`` (the MIL heads take bags); None reads
        a float32 table.

    Returns
    -------
    (X_val, y_val) : tuple of ndarray
    """
    if X_val is None or y_val is None:
        given, missing = ("X_val", "y_val") if y_val is None else ("y_val", "X_val")
        raise ValueError(f"{owner}.fit got {given} without {missing}; pass both or neither.")
    if early_stopping is False:
        raise ValueError(
            f"{owner}(early_stopping=False) was given X_val and y_val, which only serve early "
            "stopping; pass early_stopping=True (or 'auto') or leave them out."
        )
    check_labels(y_val, owner, "y_val")
    y_val = column_or_1d(y_val)
    if check_X is None:
        X_val = writable(check_array(X_val, dtype=np.float32, input_name="X_val"))
    else:
        X_val = check_X(X_val)
    check_consistent_length(X_val, y_val)
    width = X_val.shape[-1] if hasattr(X_val, "shape") else X_val[0].shape[-1]
    if width != n_features:
        raise ValueError(
            f"{owner}: X_val has {width} features, but X has {n_features}; the "
            "validation set must be embedded (and transformed) like the training set."
        )
    known = set(classes.tolist())
    unknown = sorted({label for label in y_val.tolist() if label not in known}, key=str)
    if unknown:
        raise ValueError(
            f"{owner}: y_val holds labels {unknown} that are not classes of y "
            f"{classes.tolist()}; a validation loss cannot score them."
        )
    return X_val, y_val
