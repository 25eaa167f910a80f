"""TypiClust: typical samples of uncovered clusters, a strong low-budget strategy."""

import numbers

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans

from ..utils import nearest_neighbors
from ..utils._constraints import POSITIVE_INT
from ..utils._sklearn_compat import Interval, validate_params
from ._base import MISSING_LABEL, QueryStrategy
from ._registry import register_query_strategy

#: Up to this many clusters use full KMeans, beyond it MiniBatchKMeans (as the reference code).
_FULL_KMEANS_MAX_CLUSTERS = 50


@validate_params(
    {"features": ["array-like"], "n_neighbors": POSITIVE_INT}, prefer_skip_nested_validation=True
)
def typicality(features, n_neighbors=20):
    """Inverse mean euclidean distance of each row to its nearest other rows.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
    n_neighbors : int, default=20
        Neighbors averaged over; capped at half the number of rows, as in the
        reference implementation, so tiny clusters still get a density.

    Returns
    -------
    typicality : ndarray of shape (n_samples,)
        ``1 / (mean distance to the k nearest neighbors + 1e-5)``; ones when
        there are too few rows to have a neighbor.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.active import typicality
    >>> features = np.array([[0.0], [0.1], [0.2], [5.0]])
    >>> typicality(features, n_neighbors=1).round(1)
    array([10. , 10. , 10. ,  0.2])
    """
    k = min(n_neighbors, len(features) // 2)
    if k < 1:
        return np.ones(len(features))
    # Each row's k nearest other rows (the reference code drops the row itself).
    features = np.asarray(features, dtype=np.float64)
    _, dist = nearest_neighbors(features, k, metric="euclidean", standardize=False, verbose=False)
    return 1.0 / (dist.mean(axis=1) + 1e-5)


@register_query_strategy("typiclust")
class TypiClustSampling(QueryStrategy):
    """TypiClust (Hacohen et al., ICML 2022): the most typical sample of each uncovered cluster.

    The pool is clustered with k-means into ``n_labeled + batch_size`` clusters
    (at most ``max_clusters``). Clusters with the fewest labeled samples come
    first, larger ones before smaller; from each, in turn, the candidate with
    the highest typicality (inverse mean distance to its ``n_neighbors``
    nearest unlabeled neighbors in the cluster) is picked. Clusters with at
    most ``min_cluster_size`` samples are skipped when larger ones exist. It
    targets the low-budget regime, where uncertainty sampling is unreliable.

    Parameters
    ----------
    n_neighbors : int, default=20
        Neighbors in the typicality estimate.
    max_clusters : int, default=500
        Cap on the number of k-means clusters; beyond it clusters are visited
        again in the same order.
    min_cluster_size : int, default=5
        Clusters of at most this size are skipped while larger ones exist.
    missing_label : scalar, str, None or np.nan, default=-1
        The value of ``y`` that marks an unlabeled sample.
    random_state : int, RandomState instance or None, default=None
        Seeds k-means.

    Notes
    -----
    As in the reference code, k-means runs on the whole pool (labeled and
    unlabeled) with full ``KMeans`` for up to 50 clusters and
    ``MiniBatchKMeans`` beyond. ``candidates`` restricts which samples can be
    picked; the typicality is still estimated over all unlabeled samples of a
    cluster. The utilities returned with ``return_utilities=True`` are each
    candidate's typicality within its cluster before any pick.

    References
    ----------
    G. Hacohen, A. Dekel and D. Weinshall. Active Learning on a Budget:
    Opposite Strategies Suit High and Low Budgets. ICML 2022.

    Examples
    --------
    With one sample labeled in the first of two blobs, the pick is a typical
    sample of the other, uncovered blob:

    >>> import numpy as np
    >>> from skhisto import TypiClustSampling
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (20, 2)), rng.normal(10, 1, (20, 2))])
    >>> y = np.full(40, -1)
    >>> y[0] = 0
    >>> picked = TypiClustSampling(random_state=0).query(X, y, batch_size=1)
    >>> bool(picked[0] >= 20)
    True
    """

    _parameter_constraints: dict = {
        **QueryStrategy._parameter_constraints,
        "n_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
        "min_cluster_size": [Interval(numbers.Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        n_neighbors=20,
        max_clusters=500,
        min_cluster_size=5,
        missing_label=MISSING_LABEL,
        random_state=None,
    ):
        super().__init__(missing_label=missing_label)
        self.n_neighbors = n_neighbors
        self.max_clusters = max_clusters
        self.min_cluster_size = min_cluster_size
        self.random_state = random_state

    def _select(self, X, y, labeled, candidates, batch_size, estimator, rng):
        clusters = self._cluster(X, int(labeled.sum()) + batch_size, rng)
        available = ~labeled  # unlabeled and not yet picked: the density support
        is_candidate = np.zeros(len(X), dtype=bool)
        is_candidate[candidates] = True

        typical = np.empty(len(X))
        for cluster in np.unique(clusters[available]):
            members = np.flatnonzero((clusters == cluster) & available)
            typical[members] = typicality(X[members], self.n_neighbors)
        utilities = typical[candidates]

        order = self._cluster_order(clusters, labeled, self.min_cluster_size)
        selected = []
        visits = np.zeros(clusters.max() + 1, dtype=int)
        position = misses = 0
        while len(selected) < batch_size:
            cluster = order[position % len(order)]
            position += 1
            pickable = np.flatnonzero((clusters == cluster) & is_candidate)
            if pickable.size == 0:
                misses += 1
                if misses >= len(order):  # the large clusters hold no candidate left
                    order, position, misses = self._cluster_order(clusters, labeled, -1), 0, 0
                continue
            misses = 0
            if visits[cluster]:  # picks changed the cluster's unlabeled set: re-estimate
                members = np.flatnonzero((clusters == cluster) & available)
                typical[members] = typicality(X[members], self.n_neighbors)
            visits[cluster] += 1
            pick = pickable[np.argmax(typical[pickable])]
            selected.append(pick)
            available[pick] = is_candidate[pick] = False
        return np.array(selected), utilities

    def _cluster(self, X, n_clusters, rng):
        n_clusters = min(n_clusters, self.max_clusters, len(X))
        seed = rng.randint(np.iinfo(np.int32).max)
        if n_clusters <= _FULL_KMEANS_MAX_CLUSTERS:
            kmeans = KMeans(n_clusters=n_clusters, n_init=1, random_state=seed)
        else:
            kmeans = MiniBatchKMeans(
                n_clusters=n_clusters, batch_size=5000, n_init=1, random_state=seed
            )
        return kmeans.fit_predict(X)

    @staticmethod
    def _cluster_order(clusters, labeled, min_size):
        """Ids of clusters above ``min_size``: fewest labeled, then largest, then lowest id."""
        sizes = np.bincount(clusters)
        n_labeled = np.bincount(clusters[labeled], minlength=len(sizes))
        ids = np.flatnonzero(sizes)
        large = ids[sizes[ids] > min_size]
        ids = large if large.size else ids
        return ids[np.lexsort((ids, -sizes[ids], n_labeled[ids]))]
