"""Vectorised, chunked k-center greedy selection on CPU (numpy) or GPU (torch).

Each pick costs one matrix-vector product over the candidates, so selecting
``b`` points among ``n`` candidates is O(n * b * d) time and O(n * d) memory;
distances to the existing centers are computed in bounded blocks, never as a
full candidates x centers matrix.
"""

import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from ..utils import iter_slices, progress, resolve_device
from ._base import check_indices

METRICS = ("euclidean", "cosine")


def k_center_greedy(
    X,
    n_select,
    *,
    centers=None,
    candidates=None,
    metric="euclidean",
    device="auto",
    chunk_size=4096,
    random_state=None,
    return_distances=False,
    verbose=False,
):
    """Greedy k-center (farthest-first) selection, Algorithm 1 of Sener & Savarese.

    Repeatedly picks the candidate farthest from its nearest center and makes
    it a center. Ties are broken by the lowest index into ``X``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Feature vectors (embeddings); computed on in float32.
    n_select : int
        Number of candidates to pick.
    centers : array-like of int or bool, default=None
        Indices into ``X`` (or a boolean mask) of the existing centers, e.g. the
        labeled samples. With none, the first pick is a uniformly random
        candidate drawn from ``random_state``.
    candidates : array-like of int or bool, default=None
        Indices into ``X`` (or a boolean mask) to pick from; default every
        sample that is not a center. Must not overlap ``centers``.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between samples; cosine distance is ``1 - cos(x, c)``.
    device : {"auto"} or str or torch.device, default="auto"
        ``"cpu"`` computes with numpy's BLAS; any other device with torch,
        holding the candidates on it (``"auto"`` picks CUDA when present).
    chunk_size : int, default=4096
        Block side for the distances to the existing centers: at most
        ``chunk_size**2`` distances are held at once.
    random_state : int, RandomState instance or None, default=None
        Draws the first center when there is no existing center.
    return_distances : bool, default=False
        Also return, for each pick, its distance to the nearest center at the
        moment it was picked (the covering radius, non-increasing).
    verbose : bool or "auto", default=False
        Show a progress bar over the picks.

    Returns
    -------
    selected : ndarray of int of shape (n_select,)
        Indices into ``X`` in selection order.
    distances : ndarray of float of shape (n_select,)
        Only with ``return_distances=True``; ``inf`` for a random first pick.
    """
    selected, distances, _ = _k_center_greedy(
        X,
        n_select,
        centers=centers,
        candidates=candidates,
        metric=metric,
        device=device,
        chunk_size=chunk_size,
        random_state=random_state,
        verbose=verbose,
    )
    return (selected, distances) if return_distances else selected


def _k_center_greedy(
    X, n_select, *, centers, candidates, metric, device, chunk_size, random_state, verbose
):
    """Greedy selection; also returns each candidate's initial center distance."""
    X = check_array(X, dtype=[np.float32, np.float64], input_name="X")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.")
    if not isinstance(chunk_size, numbers.Integral) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    centers = (
        np.empty(0, dtype=np.intp) if centers is None else check_indices(centers, len(X), "centers")
    )
    if candidates is None:
        candidates = np.setdiff1d(np.arange(len(X)), centers)
    else:
        candidates = check_indices(candidates, len(X), "candidates")
    overlap = np.intersect1d(centers, candidates)
    if overlap.size:
        raise ValueError(f"candidates and centers overlap at indices {overlap[:5].tolist()}.")
    if isinstance(n_select, bool) or not isinstance(n_select, numbers.Integral):
        raise TypeError(f"n_select must be an int, got {n_select!r}.")
    if not 1 <= n_select <= len(candidates):
        raise ValueError(
            f"n_select={n_select} must be between 1 and the number of candidates "
            f"({len(candidates)})."
        )

    device = resolve_device(device)
    space = _Space(X, candidates, metric, device)
    min_dist = space.initial_distances(X, centers, chunk_size)
    initial = space.to_numpy(min_dist).astype(np.float64)

    selected = np.empty(n_select, dtype=np.intp)
    radii = np.empty(n_select, dtype=np.float64)
    for step in progress(range(n_select), total=n_select, desc="k-center", verbose=verbose):
        if step == 0 and centers.size == 0:
            pick = int(check_random_state(random_state).randint(len(candidates)))
        else:
            pick = int(min_dist.argmax())
        selected[step] = candidates[pick]
        radii[step] = float(min_dist[pick])
        space.add_center(min_dist, pick)
    return selected, space.finish(radii), space.finish(initial)


class _Space:
    """Candidates in float32 on the compute device, with the distance formula.

    Both metrics are ``d(x, c) = base[x] + base[c] - scale * <x, c>`` on the
    prepared rows: squared euclidean with ``base = |x|^2, scale = 2``; cosine
    distance on unit rows with ``base = 1/2, scale = 1``. One matrix-vector
    product per new center then updates every candidate.
    """

    def __init__(self, X, candidates, metric, device):
        self.metric = metric
        self.device = device
        self.xp = _backend(device)
        if len(candidates) == len(X):
            rows = np.asarray(X, dtype=np.float32, order="C")  # no copy for float32 input
        else:
            rows = np.ascontiguousarray(X[candidates], dtype=np.float32)
        rows, base = self._prepare(rows)
        self.rows = self._to_device(rows)
        self.base = self._to_device(base)

    def _prepare(self, rows):
        if self.metric == "cosine":
            norms = np.linalg.norm(rows, axis=1, keepdims=True)
            rows = rows / np.where(norms > 0, norms, 1.0).astype(np.float32)
            return rows, np.full(len(rows), 0.5, dtype=np.float32)
        return rows, np.einsum("ij,ij->i", rows, rows)

    @property
    def scale(self):
        return 1.0 if self.metric == "cosine" else 2.0

    def _to_device(self, array):
        if self.xp is np:
            return array
        return torch.from_numpy(np.ascontiguousarray(array)).to(self.device)

    def to_numpy(self, values):
        return values if self.xp is np else values.cpu().numpy()

    def initial_distances(self, X, centers, chunk_size):
        """Distance of every candidate to its nearest center, block by block."""
        min_dist = self.xp.full((len(self.base),), np.inf, dtype=_dtype(self.xp))
        if self.xp is torch:
            min_dist = min_dist.to(self.device)
        for center_block in iter_slices(len(centers), chunk_size):
            block = np.ascontiguousarray(X[centers[center_block]], dtype=np.float32)
            block, block_base = map(self._to_device, self._prepare(block))
            for rows in iter_slices(len(self.base), chunk_size):
                dist = self.rows[rows] @ block.T
                dist *= -self.scale
                dist += self.base[rows][:, None]
                dist += block_base[None, :]
                self.xp.minimum(min_dist[rows], self.xp.amin(dist, axis=1), out=min_dist[rows])
        return min_dist

    def add_center(self, min_dist, pick):
        """Fold candidate ``pick`` in as a center: one matrix-vector product."""
        dist = self.rows @ self.rows[pick]
        dist *= -self.scale
        dist += self.base
        dist += self.base[pick]
        self.xp.minimum(min_dist, dist, out=min_dist)
        min_dist[pick] = -np.inf  # never re-picked, even if rounding leaves it above zero

    def finish(self, distances):
        """Distances as reported: clipped at zero, euclidean as a true distance."""
        distances = np.where(np.isfinite(distances), np.maximum(distances, 0.0), distances)
        return np.sqrt(distances) if self.metric == "euclidean" else distances


def _backend(device):
    """numpy on the CPU (its BLAS matrix-vector product is the faster one there), else torch."""
    return np if device.type == "cpu" else torch


def _dtype(xp):
    return np.float32 if xp is np else torch.float32
