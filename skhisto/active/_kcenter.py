"""Vectorized, chunked k-center greedy selection on CPU (numpy) or GPU (torch).

Selecting ``b`` points among ``n`` candidates is O(n * b * d) time and
O(n * d) memory. Each pick costs one matrix-vector product over the farthest
sixteenth of the candidates (the others provably cannot be picked yet, see
:class:`_ActiveSet`); distances to the existing centers are computed in bounded
blocks, never as a full candidates x centers matrix.
"""

import numbers

import numpy as np
from sklearn.utils import check_random_state

from ..utils import iter_slices, progress
from ..utils._batching import writable
from ..utils._constraints import DEVICE, NON_NEGATIVE_INT, POSITIVE_INT, VERBOSE
from ..utils._sklearn_compat import StrOptions, validate_params
from ._base import check_features, check_indices

METRICS = ("euclidean", "cosine")


@validate_params(
    {
        "X": ["array-like"],
        "n_select": NON_NEGATIVE_INT,
        "centers": ["array-like", None],
        "candidates": ["array-like", None],
        "metric": [StrOptions({"euclidean", "cosine"})],
        "device": DEVICE,
        "chunk_size": POSITIVE_INT,
        "random_state": ["random_state"],
        "return_distances": ["boolean"],
        "verbose": VERBOSE,
    },
    prefer_skip_nested_validation=True,
)
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
    verbose="auto",
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
    verbose : bool or "auto", default="auto"
        Show a progress bar over the picks (``"auto"``: once the selection
        has taken a couple of seconds).

    Returns
    -------
    selected : ndarray of int of shape (n_select,)
        Indices into ``X`` in selection order.
    distances : ndarray of float of shape (n_select,)
        Only with ``return_distances=True``; ``inf`` for a random first pick.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.active import k_center_greedy
    >>> X = np.array([[0.0], [1.0], [5.0], [10.0]])
    >>> k_center_greedy(X, 2, centers=[0]).tolist()
    [3, 2]
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
    X = check_features(X, "k_center_greedy")
    _check_float32_range(X)
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

    from ..utils import resolve_device  # torch, only once a query runs

    device = resolve_device(device)
    space = _Space(X, candidates, metric, device)
    min_dist = space.initial_distances(X, centers, chunk_size)
    initial = space.to_numpy(min_dist)[space.candidate_rows].astype(np.float64)
    first = []
    if centers.size == 0:
        # The random first pick becomes the first center before the greedy loop starts, so
        # the loop never begins with every candidate "farthest" (a copy of all rows).
        row = int(space.candidate_rows[check_random_state(random_state).randint(len(candidates))])
        space.fold_in(min_dist, space.rows[row : row + 1], space.base[row : row + 1], chunk_size)
        min_dist[row] = -np.inf
        first, n_select = [row], n_select - 1
    picks, radii = _ActiveSet(space, min_dist, chunk_size).select(n_select, verbose)
    picks = np.concatenate([np.asarray(first, dtype=np.intp), picks])
    radii = np.concatenate([np.full(len(first), np.inf), radii])
    return space.row_index[picks], space.finish(radii), space.finish(initial)


def _check_float32_range(X):
    """Refuse values whose float32 squared distances overflow: inf - inf would pick by NaN."""
    limit = np.sqrt(np.finfo(np.float32).max / 4 / X.shape[1])
    largest = max(float(X.max()), -float(X.min()))  # no |X| copy of a large pool
    if largest > limit:
        raise ValueError(
            f"X has values up to {largest:.3g}, too large for the float32 distances of "
            f"k-center greedy (at most {limit:.3g} with {X.shape[1]} features); "
            "standardize or rescale X first."
        )


class _Space:
    """Candidates in float32 on the compute device, with the distance formula.

    Both metrics are ``d(x, c) = base[x] + base[c] - scale * <x, c>`` on the
    prepared rows: squared euclidean with ``base = |x|^2, scale = 2``; cosine
    distance on unit rows with ``base = 1/2, scale = 1``. Distances to many
    centers are then one matrix product, to one center a matrix-vector product.

    When the candidates are most of a float32 ``X``, euclidean rows are ``X``
    itself (no copy) and the other rows are blocked from being picked;
    otherwise the candidate rows are copied out. ``row_index`` maps rows to
    indices into ``X``, ``candidate_rows`` lists the candidates' rows.
    """

    def __init__(self, X, candidates, metric, device):
        self.metric = metric
        self.device = device
        self.xp = _backend(device)
        in_place = (
            metric == "euclidean"
            and X.dtype == np.float32
            and X.flags.c_contiguous
            and 2 * len(candidates) >= len(X)
        )
        if in_place:
            rows, self.row_index, self.candidate_rows = X, np.arange(len(X)), candidates
        else:
            rows = np.ascontiguousarray(X[candidates], dtype=np.float32)
            self.row_index, self.candidate_rows = candidates, np.arange(len(candidates))
        self.blocked = np.setdiff1d(np.arange(len(rows)), self.candidate_rows)
        rows, base = self._prepare(rows)
        self.rows = self._to_device(rows)
        self.base = self._to_device(base)

    def _prepare(self, rows):
        if self.metric == "cosine":
            norms = np.linalg.norm(rows, axis=1, keepdims=True)
            rows = rows / np.where(norms > 0, norms, 1.0).astype(np.float32)
            return rows, np.full(len(rows), 0.5, dtype=np.float32)
        return rows, np.einsum("ij,ij->i", rows, rows)

    def _to_device(self, array):
        if self.xp is np:
            return array
        return self.xp.from_numpy(writable(np.ascontiguousarray(array))).to(self.device)

    def to_numpy(self, values):
        return values if self.xp is np else values.cpu().numpy()

    def distances(self, rows, base, center, center_base):
        """Distances of ``rows`` to one center (a vector) or to several (a matrix)."""
        dist = rows @ (center.T if center.ndim == 2 else center)
        dist *= -(1.0 if self.metric == "cosine" else 2.0)
        dist += base[:, None] if dist.ndim == 2 else base
        dist += center_base
        return dist

    def fold_in(self, min_dist, centers, centers_base, chunk_size):
        """``min_dist = min(min_dist, distance to centers)``, in blocks of candidate rows."""
        for rows in iter_slices(len(self.base), chunk_size):
            dist = self.distances(self.rows[rows], self.base[rows], centers, centers_base)
            self.xp.minimum(min_dist[rows], self.xp.amin(dist, axis=1), out=min_dist[rows])

    def initial_distances(self, X, centers, chunk_size):
        """Distance of every candidate to its nearest center, block by block."""
        min_dist = self.xp.full((len(self.base),), np.inf, dtype=_dtype(self.xp))
        if self.xp is not np:
            min_dist = min_dist.to(self.device)
        for block in iter_slices(len(centers), chunk_size):
            rows = np.ascontiguousarray(X[centers[block]], dtype=np.float32)
            self.fold_in(min_dist, *map(self._to_device, self._prepare(rows)), chunk_size)
        min_dist[self._to_device(self.blocked)] = -np.inf  # rows that are not candidates
        return min_dist

    def finish(self, distances):
        """Distances as reported: clipped at zero, euclidean as a true distance."""
        distances = np.where(np.isfinite(distances), np.maximum(distances, 0.0), distances)
        return np.sqrt(distances) if self.metric == "euclidean" else distances


#: Share of the candidates kept up to date at every pick, see :class:`_ActiveSet`.
ACTIVE_FRACTION = 1 / 16


class _ActiveSet:
    """Exact greedy picks while updating only the farthest candidates at each step.

    Distances to the nearest center only shrink, so ``min_dist`` from the last
    refresh bounds every candidate from above. Only the candidates whose bound
    is at least ``threshold`` (the top ``ACTIVE_FRACTION``) are updated at each
    pick, a matrix-vector product over ``n / 16`` rows; while the best of them
    stays at or above ``threshold`` no other candidate can beat it, so the pick
    is the exact k-center greedy one. When it drops below, every candidate
    catches up on the pending centers in one blocked matrix product, which runs
    near peak FLOPs instead of being memory-bound, and the set is rebuilt.
    """

    def __init__(self, space, min_dist, chunk_size):
        self.space, self.xp = space, space.xp
        self.min_dist, self.chunk_size = min_dist, chunk_size
        self.size = max(1, int(np.ceil(len(min_dist) * ACTIVE_FRACTION)))
        self.pending = []
        self._rebuild()

    def select(self, n_select, verbose):
        picks = np.empty(n_select, dtype=np.intp)
        radii = np.empty(n_select, dtype=np.float64)
        for step in progress(range(n_select), total=n_select, desc="k-center", verbose=verbose):
            slot = self._best()
            picks[step], radii[step] = int(self.active[slot]), float(self.values[slot])
            self._add_center(slot)
        return picks, radii

    def _rebuild(self):
        self.threshold = _kth_largest(self.xp, self.min_dist, self.size)
        self.active = _flatnonzero(self.xp, self.min_dist >= self.threshold)
        self.rows = self.space.rows[self.active]
        self.base = self.space.base[self.active]
        self.values = self.min_dist[self.active]

    def _best(self):
        slot = int(self.values.argmax())
        if self.values[slot] < self.threshold:  # an inactive candidate may be farther now
            self._refresh()
            slot = int(self.values.argmax())
        return slot

    def _add_center(self, slot):
        dist = self.space.distances(self.rows, self.base, self.rows[slot], self.base[slot])
        self.xp.minimum(self.values, dist, out=self.values)
        self.values[slot] = -np.inf  # never re-picked, even if rounding leaves it above zero
        self.pending.append(int(self.active[slot]))

    def _refresh(self):
        self.min_dist[self.active] = self.values
        pending = np.array(self.pending, dtype=np.intp)
        if self.xp is not np:
            pending = self.xp.from_numpy(pending).to(self.space.device)
        for block in iter_slices(len(pending), self.chunk_size):
            centers = pending[block]
            self.space.fold_in(
                self.min_dist, self.space.rows[centers], self.space.base[centers], self.chunk_size
            )
        self.min_dist[pending] = -np.inf
        self.pending = []
        self._rebuild()


def _backend(device):
    """numpy on the CPU (its BLAS matrix-vector product is the faster one there), else torch."""
    import torch  # already loaded: device is a torch.device

    return np if device.type == "cpu" else torch


def _dtype(xp):
    return xp.float32


def _kth_largest(xp, values, k):
    if xp is np:
        return values[np.argpartition(values, len(values) - k)[len(values) - k]]
    return xp.topk(values, k).values[-1]


def _flatnonzero(xp, mask):
    return np.flatnonzero(mask) if xp is np else xp.nonzero(mask).squeeze(1)
