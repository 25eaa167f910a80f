"""Groups (patients, slides): checked once, and never split across a fold.

Patches of one slide or patient are near-copies of each other; a split that
puts some in training and others in test scores memory, not generalization.
Every split skhisto makes goes through :func:`grouped_folds` when groups are
known.
"""

import numbers
import os
import re

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


@validate_params(
    {"paths": ["array-like"], "groups": [str, callable]},
    prefer_skip_nested_validation=True,
)
def groups_from_paths(paths, groups):
    """The group (patient, slide) of each image, read from its path.

    Parameters
    ----------
    paths : array-like of str
        Image paths.
    groups : str or callable
        A regular expression searched (``re.search``) in each file's name, or
        in its whole path (``/`` separators) when the pattern holds a ``/``;
        the group is the pattern's first capture group, else the whole match.
        Or a callable taking a path (str) and returning its group.

    Returns
    -------
    ndarray of str, shape (n_paths,)

    Raises
    ------
    ValueError
        When the pattern is not a regular expression, or a path does not
        match it (or the callable returns no group), naming the path.

    Examples
    --------
    >>> from skhisto.utils import groups_from_paths
    >>> paths = ["tumor/TCGA-A7-A0CE_x0_y0.png", "tumor/TCGA-A7-A0CE_x0_y224.png",
    ...          "normal/TCGA-BH-A18V_x0_y0.png"]
    >>> groups_from_paths(paths, r"TCGA-\\w\\w-\\w{4}").tolist()
    ['TCGA-A7-A0CE', 'TCGA-A7-A0CE', 'TCGA-BH-A18V']
    >>> groups_from_paths(["cases/p01/a.png", "cases/p02/b.png"], r"cases/([^/]+)/").tolist()
    ['p01', 'p02']
    """
    paths = [os.fspath(p) for p in column_or_1d(np.asarray(paths, dtype=object), warn=False)]
    if callable(groups):
        found = [groups(path) for path in paths]
        for path, group in zip(paths, found, strict=True):
            if label_kind(group) is None:
                raise ValueError(f"groups({path!r}) returned {group!r}; every image needs a group.")
        return np.asarray([str(group) for group in found])
    try:
        pattern = re.compile(groups)
    except re.error as exc:
        raise ValueError(f"groups={groups!r} is not a regular expression: {exc}") from None
    whole_path = "/" in groups
    found = [_group_match(pattern, path, whole_path) for path in paths]
    misses = [i for i, group in enumerate(found) if group is None]
    if misses:
        path = paths[misses[0]]
        where, text = ("path", path) if whole_path else ("file name", os.path.basename(path))
        raise ValueError(
            f"groups={groups!r} finds no group in the {where} {text!r}; {len(misses)} of "
            f"{len(paths)} paths have none. The pattern is searched in each file name, or in "
            "the whole path when it holds a '/'."
        )
    return np.asarray(found, dtype=str)


def _group_match(pattern, path, whole_path):
    text = path.replace(os.sep, "/") if whole_path else os.path.basename(path)
    match = pattern.search(text)
    if match is None:
        return None
    return (match.group(1) if pattern.groups else match.group(0)) or None
