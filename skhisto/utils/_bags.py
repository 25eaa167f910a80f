"""Bags of patch embeddings (one bag per slide): detection and validation, numpy only."""

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import validate_data

from ._sklearn_compat import _check_feature_names


def is_bag_list(X):
    """Whether ``X`` is a sequence of bags: a list, tuple or 1-D object array of 2-D arrays.

    Only the first element is looked at (a list of rows, a table, has 1-D
    elements); :func:`check_bags` then checks every bag.

    Parameters
    ----------
    X : object
        Anything given as ``X``.

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.utils._bags import is_bag_list
    >>> is_bag_list([np.zeros((3, 4)), np.zeros((5, 4))]), is_bag_list([[0.0, 1.0], [2.0, 3.0]])
    (True, False)
    """
    if isinstance(X, np.ndarray):
        if X.ndim != 1 or X.dtype != object:
            return False
    elif not isinstance(X, list | tuple):
        return False
    if len(X) == 0:
        return False
    first = X[0]
    if isinstance(first, str | bytes):
        return False
    try:
        return np.ndim(first) == 2  # only the first bag is converted, when it is a list
    except ValueError:  # a ragged nested list
        return False


def bag_width(X):
    """Embedding width ``d`` of the first bag of a bag list (see :func:`is_bag_list`)."""
    return int(np.shape(X[0])[1])


def check_bags(X, *, estimator, reset, input_name="X"):
    """Validate bags of patch embeddings and return them as numeric arrays.

    Accepted forms:

    - a list, tuple or 1-D object array of 2-D arrays ``(n_patches_i, d)``,
      ragged ``n_patches_i`` allowed, every bag with at least one patch and
      the same ``d``;
    - a 3-D array ``(n_bags, n_patches, d)`` of equal-size bags;
    - a 2-D array or DataFrame ``(n, d)``: each row is a bag of one patch
      (validated by scikit-learn's ``validate_data``, feature names
      included).

    No bag is padded or stacked with another: a bag list stays a list.

    Parameters
    ----------
    X : bags
        The input, in one of the forms above.
    estimator : estimator
        Gets (``reset=True``) or is checked against (``reset=False``)
        ``n_features_in_`` (the width ``d``) and ``feature_names_in_``.
    reset : bool
        True in ``fit``, False when predicting.
    input_name : str, default="X"
        The name in error messages (``"X_val"``).

    Returns
    -------
    bags : list of ndarray or ndarray of shape (n_bags, n_patches, d)
        ``bags[i]`` is bag ``i`` of shape ``(n_patches_i, d)``. The arrays
        of a bag list keep their real dtype (a float16 or memory-mapped
        store is not copied; batches are cast to float32); other forms are
        float32.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto import ABMILHead
    >>> from skhisto.utils._bags import check_bags
    >>> bags = check_bags([np.zeros((3, 4)), np.ones((5, 4))], estimator=ABMILHead(), reset=True)
    >>> [bag.shape for bag in bags]
    [(3, 4), (5, 4)]
    >>> check_bags(np.zeros((2, 4)), estimator=ABMILHead(), reset=True).shape  # bags of 1
    (2, 1, 4)
    """
    owner = type(estimator).__name__
    if is_bag_list(X):
        bags = [_check_bag(bag, i, owner, input_name) for i, bag in enumerate(X)]
        widths = {bag.shape[1] for bag in bags}
        if len(widths) > 1:
            odd = next(i for i, bag in enumerate(bags) if bag.shape[1] != bags[0].shape[1])
            raise ValueError(
                f"{owner}: {input_name} bags must all have the same number of features; bag 0 "
                f"has shape {bags[0].shape} but bag {odd} has shape {bags[odd].shape}."
            )
        return _check_width(bags, bags[0].shape[1], estimator, reset, input_name)
    if getattr(X, "ndim", None) == 3 and not hasattr(X, "columns"):
        X = check_array(X, dtype=np.float32, allow_nd=True, input_name=input_name)
        if 0 in X.shape[1:]:
            raise ValueError(
                f"{owner}: {input_name} of shape {X.shape} has empty bags; every bag needs at "
                "least one patch of at least one feature."
            )
        return _check_width(X, X.shape[2], estimator, reset, input_name)
    if input_name == "X":
        X = validate_data(estimator, X, dtype=np.float32, reset=reset)
    else:  # a validation set: checked like X, without touching the fitted attributes
        X = check_array(X, dtype=np.float32, input_name=input_name)
    return X[:, None, :]  # a view: n bags of one patch


def _check_bag(bag, i, owner, input_name):
    if hasattr(bag, "tocsr") or hasattr(bag, "toarray"):
        raise ValueError(f"{owner}: {input_name} bag {i} is sparse; bags must be dense arrays.")
    try:
        arr = np.asarray(bag)
        if arr.dtype.kind == "c":
            raise ValueError("complex data is not supported")
        if arr.dtype.kind not in "fiu":  # real numbers stay as given: cast a batch at a time
            arr = arr.astype(np.float32)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{owner}: {input_name} bag {i} is not a numeric 2-D array: {exc}"
        ) from exc
    if arr.ndim != 2:
        raise ValueError(
            f"{owner}: {input_name} bag {i} has shape {arr.shape}; every bag must be a 2-D "
            "array (n_patches, n_features)."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(
            f"{owner}: {input_name} bag {i} is empty (shape {arr.shape}); every bag needs at "
            "least one patch of at least one feature."
        )
    if not np.isfinite(arr).all():
        raise ValueError(
            f"{owner}: {input_name} bag {i} (shape {arr.shape}) contains NaN or infinity."
        )
    return arr


def _check_width(bags, width, estimator, reset, input_name):
    if input_name != "X":
        return bags
    _check_feature_names(estimator, bags, reset=reset)  # a bag list has no feature names
    if reset:
        estimator.n_features_in_ = int(width)
    elif width != estimator.n_features_in_:
        raise ValueError(
            f"X has {width} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    return bags
