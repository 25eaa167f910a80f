"""Uniform random sampling, the baseline every strategy is compared against."""

from ._base import MISSING_LABEL, QueryStrategy, top_k
from ._registry import register_query_strategy


@register_query_strategy("random")
class RandomSampling(QueryStrategy):
    """Select unlabeled samples uniformly at random.

    Parameters
    ----------
    missing_label : scalar, str, None or np.nan, default=-1
        The value of ``y`` that marks an unlabeled sample.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw; an int gives the same selection on every call.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto import RandomSampling
    >>> X = np.arange(10.0).reshape(5, 2)
    >>> y = np.array([0, -1, -1, 1, -1])
    >>> sorted(RandomSampling(random_state=0).query(X, y, batch_size=2).tolist())
    [2, 4]
    """

    _parameter_constraints: dict = {
        **QueryStrategy._parameter_constraints,
        "random_state": ["random_state"],
    }
    _needs_numeric_X = False

    def __init__(self, *, missing_label=MISSING_LABEL, random_state=None):
        super().__init__(missing_label=missing_label)
        self.random_state = random_state

    def _select(self, X, y, labeled, candidates, batch_size, estimator, rng):
        # Random utilities make "top-k of the utilities" a uniform draw without replacement.
        utilities = rng.random_sample(len(candidates))
        return candidates[top_k(utilities, batch_size)], utilities
