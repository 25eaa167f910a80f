"""Groups (patients, slides): checked once, and never split across a fold.

Patches of one slide or patient are near-copies of each other; a split that
puts some in training and others in test scores memory, not generalization.
Every split skhisto makes goes through :func:`grouped_folds` when groups are
known.
"""

import numbers

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, check_cv
from sklearn.utils import column_or_1d

from ._labels import label_kind
from ._sklearn_compat import validate_params


@validate_params(
    {"groups": ["array-like", None], "n_samples": [numbers.Integral], "what": [str]},
    prefer_skip_nested_validation=True,
)
def check_groups(groups, n_samples, what="groups"):
    """Group ids, one per sample and none missing; None stays None.

    Parameters
    ----------
    groups : array-like of shape (n_samples,) or None
        Patient, slide or any id per sample.
    n_samples : int
    what : str, default="groups"
        How messages name the array.

    Returns
    -------
    ndarray of shape (n_samples,) or None

    Raises
    ------
    ValueError
        When the length differs or a group is missing (None, NaN, ``pd.NA``),
        naming the first such row.

    Examples
    --------
    >>> from skhisto.utils import check_groups
    >>> check_groups(["p1", "p1", "p2"], 3).tolist()
    ['p1', 'p1', 'p2']
    >>> check_groups(["p1", None], 2)
    Traceback (most recent call last):
    ...
    ValueError: groups[1] is missing (None); every sample needs its group (patient or slide).
    """
    if groups is None:
        return None
    groups = column_or_1d(np.asarray(groups, dtype=object), warn=False)
    if len(groups) != n_samples:
        raise ValueError(f"{what} has {len(groups)} entries for {n_samples} samples.")
    for i, value in enumerate(groups.tolist()):
        if label_kind(value) is None:
            raise ValueError(
                f"{what}[{i}] is missing ({value!r}); every sample needs its group "
                "(patient or slide)."
            )
    return groups


@validate_params(
    {
        "cv": ["cv_object"],
        "X": "no_validation",
        "y": ["array-like"],
        "groups": ["array-like", None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def grouped_folds(cv, X, y, groups=None, *, random_state=None):
    """The ``(train, test)`` folds of ``cv``, with no group on both sides of a fold.

    An int ``cv`` is :class:`~sklearn.model_selection.StratifiedKFold`, or
    :class:`~sklearn.model_selection.StratifiedGroupKFold` when ``groups`` are
    given (both shuffled by ``random_state``). Any other splitter gets
    ``groups``, and a fold that still shares a group between training and
    test is refused, naming the group.

    Parameters
    ----------
    cv : int, cross-validation generator or iterable
    X : array-like or list of length n_samples
    y : array-like of shape (n_samples,)
    groups : array-like of shape (n_samples,), default=None
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    list of (ndarray, ndarray)

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.utils import grouped_folds
    >>> y = np.array([0, 0, 1, 1, 0, 0, 1, 1])
    >>> groups = ["a", "a", "b", "b", "c", "c", "d", "d"]
    >>> folds = grouped_folds(2, np.zeros((8, 1)), y, groups, random_state=0)
    >>> sorted(sorted({groups[i] for i in test}) for _, test in folds)
    [['a', 'd'], ['b', 'c']]
    """
    groups = check_groups(groups, len(y))
    if isinstance(cv, numbers.Integral):
        split = StratifiedGroupKFold if groups is not None else StratifiedKFold
        cv = split(cv, shuffle=True, random_state=random_state)
    folds = list(check_cv(cv, y, classifier=True).split(X, y, groups))
    if groups is not None:
        for k, (train, test) in enumerate(folds):
            shared = set(groups[train].tolist()) & set(groups[test].tolist())
            if shared:
                raise ValueError(
                    f"Fold {k} of cv={cv!r} puts group {sorted(shared, key=str)[0]!r} in both "
                    "training and test, so its patches would vouch for each other; use a "
                    "group-aware splitter (StratifiedGroupKFold, GroupKFold) or an int cv."
                )
    return folds
