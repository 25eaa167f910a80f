"""A few nearest neighbours of each class: what a reviewer compares a tile with."""

import numpy as np

from ..utils._constraints import POSITIVE_INT
from ..utils._sklearn_compat import validate_params


@validate_params(
    {
        "X": ["array-like"],
        "X_reference": ["array-like"],
        "y_reference": ["array-like"],
        "n_neighbors": POSITIVE_INT,
        "same": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def class_neighbors(X, X_reference, y_reference, *, n_neighbors=3, same=None):
    """The nearest reference rows of each class, by cosine similarity, for each row of ``X``.

    Parameters
    ----------
    X : array-like of shape (n_items, n_features)
        Embeddings of the reviewed items.
    X_reference : array-like of shape (n_reference, n_features)
        Embeddings of labeled images to compare with (e.g. the whole set).
    y_reference : array-like of shape (n_reference,)
        Their labels; empty labels are not used.
    n_neighbors : int, default=3
        Neighbours per class.
    same : array-like of int of shape (n_items,), default=None
        The reference row of each item (-1: none), never its own neighbour.

    Returns
    -------
    list of dict
        One per item: ``{class: [reference rows, nearest first]}``, classes
        sorted.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.review import class_neighbors
    >>> X_ref = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
    >>> class_neighbors(X_ref[:1], X_ref, ["a", "a", "b", "b"], n_neighbors=1, same=[0])
    [{'a': [1], 'b': [3]}]
    """
    X = _unit(X)
    reference = _unit(X_reference)
    y_reference = np.asarray(y_reference).astype(str)
    if X.shape[1] != reference.shape[1] or len(reference) != len(y_reference):
        raise ValueError(
            f"X has {X.shape[1]} features and X_reference {reference.shape[1]} with "
            f"{len(y_reference)} labels for {len(reference)} rows: they do not match"
        )
    same = np.full(len(X), -1) if same is None else np.asarray(same, dtype=int)
    similarity = X @ reference.T
    similarity[np.arange(len(X))[same >= 0], same[same >= 0]] = -np.inf
    found = [{} for _ in range(len(X))]
    for cls in sorted(set(y_reference) - {""}):
        rows = np.flatnonzero(y_reference == cls)
        order = np.argsort(-similarity[:, rows], axis=1, kind="stable")[:, :n_neighbors]
        for item, picked in enumerate(order):
            picked = rows[picked]
            found[item][str(cls)] = [int(r) for r in picked if np.isfinite(similarity[item, r])]
    return found


def _unit(X):
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"embeddings must be 2-D, got shape {X.shape}")
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
