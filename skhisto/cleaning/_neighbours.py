"""Label votes of each sample's nearest neighbours in embedding space.

Frozen embeddings place tissue of one type together, so the labels of a
sample's neighbours estimate its label distribution without training a model
(SimiFeat, Zhu et al. 2022). Neighbours are exact: a brute-force search in
torch, block by block so memory stays bounded, on the GPU when there is one.
"""

import numpy as np
import torch
from sklearn.preprocessing import StandardScaler, normalize

from ..utils import progress, resolve_device
from ._confident import confident_joint, prune_by_noise_rate

# The second vote picks its k trusted neighbours among this many times k nearest.
_CANDIDATE_FACTOR = 3
# Bytes of one block of similarities: 100,000 samples take blocks of 671 rows.
_BLOCK_BYTES = 256 * 2**20


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


def neighbour_votes(X, codes, n_classes, n_neighbors, device="auto"):
    """Share of each sample's neighbours holding each label, shape (n, n_classes).

    Two rounds: the first vote flags likely-wrong labels (confident learning
    on the vote shares); the second counts only the first ``n_neighbors``
    unflagged neighbours, so at high noise a sample is judged by the labels
    most likely to be right.
    """
    neighbours = nearest(X, min(_CANDIDATE_FACTOR * n_neighbors, len(codes) - 1), device)
    first = _shares(codes, neighbours[:, :n_neighbors], n_classes)
    flagged, _ = prune_by_noise_rate(first, codes, confident_joint(first, codes))
    order = np.argsort(flagged[neighbours], axis=1, kind="stable")[:, :n_neighbors]
    return _shares(codes, np.take_along_axis(neighbours, order, axis=1), n_classes)


def nearest(X, n_neighbors, device="auto"):
    """Indices of each sample's nearest neighbours by cosine on standardised columns, nearest first.

    Standardising first stops a few high-variance dimensions from deciding
    every distance. A sample is never its own neighbour, but its exact
    duplicates are.
    """
    Z = normalize(StandardScaler().fit_transform(X), copy=False).astype(np.float32, copy=False)
    device = resolve_device(device)
    n = len(Z)
    rows = max(1, _BLOCK_BYTES // (4 * n))
    found = np.empty((n, n_neighbors), dtype=np.int64)
    with torch.inference_mode():
        Z = torch.from_numpy(Z).to(device)
        for start in progress(range(0, n, rows), total=-(-n // rows), desc="neighbours"):
            block = Z[start : start + rows] @ Z.T
            own = torch.arange(len(block), device=device)
            block[own, own + start] = -torch.inf
            found[start : start + rows] = block.topk(n_neighbors, dim=1).indices.cpu().numpy()
    return found


def _shares(codes, neighbours, n_classes):
    n, k = neighbours.shape
    flat = (np.arange(n)[:, None] * n_classes + codes[neighbours]).ravel()
    return np.bincount(flat, minlength=n * n_classes).reshape(n, n_classes) / k
