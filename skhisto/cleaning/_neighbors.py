"""Label votes of each sample's nearest neighbors in embedding space.

Frozen embeddings place tissue of one type together, so the labels of a
sample's neighbors estimate its label distribution without training a model
(SimiFeat, Zhu et al. 2022). Neighbors come from skhisto's one engine,
:func:`skhisto.utils.nearest_neighbors`: an exact brute-force search in torch,
block by block so memory stays bounded (on the GPU when there is one), or
above 50,000 squared pairs an IVF index when faiss is installed.
"""

from numbers import Integral

import numpy as np

from ..utils import check_groups, nearest_neighbors
from ..utils._sklearn_compat import Interval, StrOptions, validate_params
from ._confident import confident_joint, prune_by_noise_rate

# The second vote picks its k trusted neighbors among this many times k nearest.
_CANDIDATE_FACTOR = 3
# Bytes of one block of similarities: 100,000 samples take blocks of 671 rows.
_BLOCK_BYTES = 256 * 2**20


@validate_params(
    {
        "n_neighbors": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "groups": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def resolve_n_neighbors(n_neighbors, n_samples, groups=None):
    """The number of neighbors the k-NN label check of ``n_samples`` samples uses.

    Parameters
    ----------
    n_neighbors : "auto" or int
        As given to :func:`find_label_issues`: ``"auto"`` is
        ``sqrt(n_samples)`` clipped to [5, 50] and to the samples a sample
        may have as neighbors.
    n_samples : int
        Number of samples checked.
    groups : array-like of shape (n_samples,), default=None
        The group of each sample: its neighbors come from other groups only,
        so the largest group leaves the fewest.

    Returns
    -------
    n_neighbors : int

    Raises
    ------
    ValueError
        When an int ``n_neighbors`` exceeds the neighbors some sample has (a
        sample is never its own neighbor, nor, with ``groups``, one of its
        group's).

    Examples
    --------
    >>> from skhisto.cleaning import resolve_n_neighbors
    >>> resolve_n_neighbors("auto", 400), resolve_n_neighbors("auto", 10)
    (20, 5)
    >>> resolve_n_neighbors(8, 10)
    8
    >>> resolve_n_neighbors("auto", 400, groups=[0] * 390 + [1] * 10)
    10
    """
    codes = None
    if groups is not None:
        groups = check_groups(groups, n_samples)
        codes = np.unique(groups.astype(str), return_inverse=True)[1].ravel()
    outside = samples_outside(n_samples, codes)
    if outside < 1:
        raise ValueError(
            "Every sample is in one group, so none has a neighbor outside its own group; "
            "pass the groups of several patients or slides, or none."
        )
    if n_neighbors == "auto":
        return int(min(np.clip(round(np.sqrt(n_samples)), 5, 50), outside))
    if n_neighbors > outside and groups is not None:
        raise ValueError(
            f"With groups, each sample's {n_neighbors} neighbors come from other groups, but "
            f"the largest group leaves only {outside} samples outside it; pass a smaller "
            "n_neighbors or more groups."
        )
    if n_neighbors >= n_samples:
        raise ValueError(
            f"n_neighbors={n_neighbors} needs more than {n_neighbors} samples (each sample's "
            f"neighbors exclude itself); X has {n_samples}. Pass a smaller n_neighbors or 'auto'."
        )
    return int(n_neighbors)


def neighbor_votes(X, codes, n_classes, n_neighbors, device="auto", groups=None, search="auto"):
    """Similarity-weighted share of each sample's neighbors holding each label, (n, n_classes).

    Two rounds: the first vote flags likely-wrong labels (confident learning
    on the vote shares); the second counts only the first ``n_neighbors``
    unflagged neighbors, so at high noise a sample is judged by the labels
    most likely to be right. Each vote weighs ``(1 + cosine) / 2``: nearer
    neighbors count more, and shares rarely tie, so which samples are
    flagged does not depend on the order of the rows. With ``groups``
    (integer codes), neighbors come from other groups only.
    """
    n_candidates = min(_CANDIDATE_FACTOR * n_neighbors, samples_outside(len(codes), groups))
    neighbors, similarity = nearest(X, n_candidates, device, groups=groups, method=search)
    weights = (1 + similarity) / 2
    first = _shares(codes, neighbors[:, :n_neighbors], weights[:, :n_neighbors], n_classes)
    flagged, _ = prune_by_noise_rate(first, codes, confident_joint(first, codes))
    order = np.argsort(flagged[neighbors], axis=1, kind="stable")[:, :n_neighbors]
    trusted = np.take_along_axis(neighbors, order, axis=1)
    return _shares(codes, trusted, np.take_along_axis(weights, order, axis=1), n_classes)


def samples_outside(n_samples, groups):
    """The fewest neighbors any sample has: all others, or those outside the largest group."""
    if groups is None:
        return n_samples - 1
    return n_samples - int(np.bincount(groups).max())


def nearest(X, n_neighbors, device="auto", rows=None, groups=None, method="auto"):
    """Each sample's nearest neighbors by cosine on standardized columns, nearest first.

    Standardizing first stops a few high-variance dimensions from deciding
    every distance. A sample is never its own neighbor, but its exact
    duplicates are. ``rows`` (default: every sample) limits the search to
    the neighbors of those samples, among all of ``X``. ``groups``
    (integer codes) keeps each sample's neighbors outside its own group:
    patches of one slide or patient, near-copies, never vouch for each other.
    The search is :func:`skhisto.utils.nearest_neighbors`'s (``method``):
    exact up to 50,000 squared pairs, an IVF index above when faiss is
    installed.

    Returns
    -------
    indices : ndarray of shape (n_rows, n_neighbors), int64
    similarity : ndarray of shape (n_rows, n_neighbors), float64
        The cosine similarity of each neighbor, in [-1, 1].
    """
    return nearest_neighbors(
        X, n_neighbors, queries=rows, groups=groups, method=method, device=device,
        block_bytes=_BLOCK_BYTES,
    )  # fmt: skip


def neighbor_shares(codes, neighbors, similarity, n_classes):
    """Each row's similarity-weighted share of neighbors holding each label, (n, n_classes)."""
    return _shares(codes, neighbors, (1 + similarity) / 2, n_classes)


def _shares(codes, neighbors, weights, n_classes):
    """Per sample, the weight of its neighbors holding each label over their total weight."""
    n = len(neighbors)
    flat = (np.arange(n)[:, None] * n_classes + codes[neighbors]).ravel()
    totals = np.bincount(flat, weights=weights.ravel(), minlength=n * n_classes)
    totals = totals.reshape(n, n_classes)
    # All-zero weights (every neighbor exactly opposite) fall back to an even split.
    sums = totals.sum(axis=1, keepdims=True)
    return np.divide(totals, sums, out=np.full_like(totals, 1 / n_classes), where=sums > 0)
