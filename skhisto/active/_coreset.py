"""Coreset sampling: k-center greedy relative to the labeled samples."""

import numbers

from ..utils._lazy import TorchDevice
from ..utils._sklearn_compat import Interval, StrOptions
from ._base import MISSING_LABEL, QueryStrategy
from ._kcenter import METRICS, _k_center_greedy
from ._registry import register_query_strategy


@register_query_strategy("coreset")
class CoresetSampling(QueryStrategy):
    """Select a batch that covers the pool: greedy k-center around the labeled set.

    Algorithm 1 of Sener & Savarese (2018), as used for coreset sampling in the
    active contrastive-learning paper: each pick is the candidate farthest from
    its nearest labeled or already picked sample. With no labeled sample the
    first pick is a random candidate. See :func:`k_center_greedy` for the
    vectorised, chunked implementation (GPU through torch when present).

    Parameters
    ----------
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between feature vectors.
    missing_label : scalar, str, None or np.nan, default=-1
        The value of ``y`` that marks an unlabeled sample.
    device : {"auto"} or str, default="auto"
        Where to compute; ``"auto"`` uses CUDA when present, else the CPU.
    chunk_size : int, default=4096
        Block side for the distances to the labeled samples.
    random_state : int, RandomState instance or None, default=None
        Draws the first pick when no sample is labeled.

    Notes
    -----
    The utilities returned with ``return_utilities=True`` are each candidate's
    distance to its nearest labeled sample (``inf`` when none is labeled).

    Examples
    --------
    Each pick is the candidate farthest from the labeled and picked samples:

    >>> import numpy as np
    >>> from skhisto import CoresetSampling
    >>> X = np.array([[0.0], [1.0], [5.0], [10.0]])
    >>> y = np.array([0, -1, -1, -1])
    >>> CoresetSampling(device="cpu").query(X, y, batch_size=2)
    array([3, 2])
    """

    _parameter_constraints: dict = {
        **QueryStrategy._parameter_constraints,
        "metric": [StrOptions(set(METRICS))],
        "device": [str, TorchDevice],
        "chunk_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        metric="euclidean",
        *,
        missing_label=MISSING_LABEL,
        device="auto",
        chunk_size=4096,
        random_state=None,
    ):
        super().__init__(missing_label=missing_label)
        self.metric = metric
        self.device = device
        self.chunk_size = chunk_size
        self.random_state = random_state

    def _select(self, X, y, labeled, candidates, batch_size, estimator, rng):
        selected, _, initial = _k_center_greedy(
            X,
            batch_size,
            centers=labeled,
            candidates=candidates,
            metric=self.metric,
            device=self.device,
            chunk_size=self.chunk_size,
            random_state=rng,
            verbose="auto",  # a bar only when a selection takes seconds
        )
        return selected, initial
