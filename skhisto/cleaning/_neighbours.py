"""Label votes of each sample's nearest neighbours in embedding space.

Frozen embeddings place tissue of one type together, so the labels of a
sample's neighbours estimate its label distribution without training a model
(SimiFeat, Zhu et al. 2022). Neighbours are exact: scikit-learn's brute-force
search, which computes distances in chunks of bounded memory.
"""

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler, normalize

from ._confident import confident_joint, prune_by_noise_rate

# The second vote picks its k trusted neighbours among this many times k nearest.
_CANDIDATE_FACTOR = 3


def resolve_n_neighbors(n_neighbors, n_samples):
    """``n_neighbors`` as an int: "auto" is sqrt(n) clipped to [5, 50], at most n - 1."""
    if n_neighbors == "auto":
        return int(min(np.clip(round(np.sqrt(n_samples)), 5, 50), n_samples - 1))
    if n_neighbors >= n_samples:
        raise ValueError(
            f"n_neighbors={n_neighbors} needs more than {n_neighbors} samples (each sample's "
            f"neighbours exclude itself); X has {n_samples}. Pass a smaller n_neighbors or 'auto'."
        )
    return int(n_neighbors)


def neighbour_votes(X, codes, n_classes, n_neighbors, n_jobs=None):
    """Share of each sample's neighbours holding each label, shape (n, n_classes).

    Two rounds: the first vote flags likely-wrong labels (confident learning
    on the vote shares); the second counts only the first ``n_neighbors``
    unflagged neighbours, so at high noise a sample is judged by the labels
    most likely to be right.
    """
    neighbours = _nearest(X, min(_CANDIDATE_FACTOR * n_neighbors, len(codes) - 1), n_jobs)
    first = _shares(codes, neighbours[:, :n_neighbors], n_classes)
    flagged, _ = prune_by_noise_rate(first, codes, confident_joint(first, codes))
    order = np.argsort(flagged[neighbours], axis=1, kind="stable")[:, :n_neighbors]
    return _shares(codes, np.take_along_axis(neighbours, order, axis=1), n_classes)


def _nearest(X, n_neighbors, n_jobs):
    """Indices of each sample's nearest neighbours by cosine on standardised columns.

    Standardising first stops a few high-variance dimensions from deciding
    every distance; ``kneighbors()`` without a query leaves each sample out
    of its own neighbours, even when it has exact duplicates.
    """
    Z = normalize(StandardScaler().fit_transform(X))
    search = NearestNeighbors(n_neighbors=n_neighbors, algorithm="brute", n_jobs=n_jobs).fit(Z)
    return search.kneighbors(return_distance=False)


def _shares(codes, neighbours, n_classes):
    n, k = neighbours.shape
    flat = (np.arange(n)[:, None] * n_classes + codes[neighbours]).ravel()
    return np.bincount(flat, minlength=n * n_classes).reshape(n, n_classes) / k
