"""Grouping patch embeddings into slide bags for the multiple-instance heads."""

import numpy as np
from sklearn.utils import check_array, column_or_1d
from sklearn.utils.validation import check_consistent_length

from ..utils import label_kind
from ..utils._labels import plain_value
from ..utils._sklearn_compat import validate_params


@validate_params(
    {"X": ["array-like"], "groups": ["array-like"], "patients": ["array-like", None]},
    prefer_skip_nested_validation=True,
)
def make_bags(X, groups, *, patients=None):
    """Group row embeddings into bags, one bag per group (slide).

    Parameters
    ----------
    X : array-like of shape (n_patches, n_features)
        One embedding per patch, such as the rows of a patch table.
    groups : array-like of shape (n_patches,)
        The bag of each row (e.g. a patch table's ``slide`` column); any
        hashable values, no missing ones.
    patients : array-like of shape (n_patches,), default=None
        The patient of each row (e.g. a patch table's ``patient`` column).
        When given, the patient of each bag is returned too, so that
        cross-validation over bags can keep a patient's slides together
        (``GroupKFold`` or ``StratifiedGroupKFold`` with
        ``groups=bag_patients``). A bag whose rows name two patients is
        refused, naming the bag, both patients and a row of each.

    Returns
    -------
    bags : list of ndarray
        ``bags[i]`` holds the rows of group ``keys[i]``, shape
        ``(n_patches_i, n_features)``, in input order. The input for
        :class:`~skhisto.ABMILHead` and :class:`~skhisto.MeanPoolHead`.
    keys : ndarray of shape (n_bags,)
        The group of each bag, in order of first appearance in ``groups``
        (to look up slide labels: ``y = slide_labels.loc[keys]``).
    bag_patients : ndarray of shape (n_bags,)
        The patient of each bag; returned only when ``patients`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto import make_bags
    >>> X = np.arange(10.0).reshape(5, 2)
    >>> bags, keys = make_bags(X, ["s2", "s1", "s2", "s3", "s1"])
    >>> keys.tolist()
    ['s2', 's1', 's3']
    >>> bags[0].tolist()
    [[0.0, 1.0], [4.0, 5.0]]
    >>> [len(bag) for bag in bags]
    [2, 2, 1]

    With the patient of each patch, for patient-grouped cross-validation:

    >>> bags, keys, bag_patients = make_bags(
    ...     X, ["s2", "s1", "s2", "s3", "s1"], patients=["p1", "p1", "p1", "p2", "p1"]
    ... )
    >>> bag_patients.tolist()
    ['p1', 'p1', 'p2']
    """
    X = check_array(X, dtype="numeric", ensure_all_finite=False, input_name="X")
    groups = column_or_1d(groups)
    check_consistent_length(X, groups)
    first, first_rows = {}, []
    codes = np.empty(len(groups), dtype=np.intp)
    for i, key in enumerate(groups.tolist()):
        if label_kind(key) is None:  # None, NaN, pd.NA, pd.NaT: one rule for every key
            raise ValueError(
                f"make_bags: groups[{i}] is missing ({key!r}); every row needs its group "
                "(slide) key."
            )
        code = first.get(key)
        if code is None:
            code = first[key] = len(first)
            first_rows.append(i)
        codes[i] = code
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=len(first)))[:-1]
    bags = np.split(X[order], bounds)
    first_rows = np.asarray(first_rows, dtype=np.intp)
    keys = groups[first_rows]
    if patients is None:
        return bags, keys
    return bags, keys, _bag_patients(patients, codes, first_rows, keys)


def _bag_patients(patients, codes, first_rows, keys):
    """The one patient of each bag; a missing patient or a bag of two patients raises."""
    patients = column_or_1d(patients)
    check_consistent_length(codes, patients)
    values = patients.tolist()
    for i, patient in enumerate(values):
        if label_kind(patient) is None:
            raise ValueError(
                f"make_bags: patients[{i}] is missing ({patient!r}); every row needs its patient."
            )
    owner = patients[first_rows]
    for i, code in enumerate(codes.tolist()):
        if values[i] != owner[code]:
            raise ValueError(
                f"make_bags: bag {plain_value(keys[code])!r} has rows of two patients: "
                f"{plain_value(owner[code])!r} (row {int(first_rows[code])}) and "
                f"{plain_value(values[i])!r} (row {i}); a slide belongs to one patient, so "
                "check the slide and patient columns."
            )
    return owner
