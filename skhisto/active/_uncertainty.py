"""Uncertainty sampling: query where the model's predicted class is least certain."""

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ..utils import iter_slices, warn
from ..utils._sklearn_compat import StrOptions, _safe_indexing, validate_params
from ._base import MISSING_LABEL, QueryStrategy, check_finite_output, top_k
from ._registry import register_query_strategy

UNCERTAINTY_METHODS = ("entropy", "margin", "least_confident")

#: Candidates passed to ``predict_proba`` at once.
PREDICT_BLOCK = 16384


@validate_params(
    {"proba": ["array-like"], "method": [StrOptions({"entropy", "margin", "least_confident"})]},
    prefer_skip_nested_validation=True,
)
def uncertainty_scores(proba, method="entropy"):
    """Uncertainty of each row of class probabilities (higher is more uncertain).

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Predicted class probabilities, rows summing to one.
    method : {"entropy", "margin", "least_confident"}, default="entropy"
        - ``"entropy"``: ``-sum_k p_k log p_k`` (natural log, ``0 log 0 = 0``).
        - ``"margin"``: ``1 - (p_(1) - p_(2))``, one minus the gap between the
          two most probable classes.
        - ``"least_confident"``: ``1 - max_k p_k``.

    Returns
    -------
    scores : ndarray of shape (n_samples,)

    Examples
    --------
    >>> from skhisto.active import uncertainty_scores
    >>> proba = [[0.5, 0.5], [0.9, 0.1], [1.0, 0.0]]
    >>> uncertainty_scores(proba).round(3)
    array([0.693, 0.325, 0.   ])
    >>> uncertainty_scores(proba, method="margin").round(3)
    array([1. , 0.2, 0. ])
    """
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2:
        raise ValueError(f"proba must be 2-D (n_samples, n_classes), got shape {proba.shape}.")
    if not np.isfinite(proba).all():
        rows = np.flatnonzero(~np.isfinite(proba).all(axis=1))
        raise ValueError(
            f"proba contains NaN or inf in {len(rows)} rows (the first is row {rows[0]}); "
            "uncertainty is undefined there."
        )
    if method == "entropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(proba > 0, -proba * np.log(proba), 0.0)
        return terms.sum(axis=1)
    if method == "least_confident":
        return 1.0 - proba.max(axis=1)
    if method == "margin":
        if proba.shape[1] < 2:
            return np.ones(len(proba))
        top2 = -np.partition(-proba, 1, axis=1)[:, :2]
        return 1.0 - (top2[:, 0] - top2[:, 1])
    raise ValueError(f"method must be one of {UNCERTAINTY_METHODS}, got {method!r}.")


@register_query_strategy("entropy", method="entropy")
@register_query_strategy("margin", method="margin")
class UncertaintySampling(QueryStrategy):
    """Select the unlabeled samples the estimator is least certain about.

    The batch is the ``batch_size`` candidates with the highest uncertainty
    (ties broken by lowest index), as in the entropy sampling of the active
    contrastive-learning paper.

    Parameters
    ----------
    method : {"entropy", "margin", "least_confident"}, default="entropy"
        Uncertainty measure, see :func:`uncertainty_scores`.
    missing_label : scalar, str, None or np.nan, default=-1
        The value of ``y`` that marks an unlabeled sample.

    Notes
    -----
    ``query`` needs an estimator with ``predict_proba``. A fitted estimator is
    used as it is; an unfitted one is cloned and fitted on the labeled samples
    of ``(X, y)`` first, the caller's estimator is left untouched.

    Examples
    --------
    The unlabeled sample nearest the decision boundary comes first:

    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skhisto import UncertaintySampling
    >>> X = np.array([[0.0], [0.1], [0.5], [0.9], [1.0]])
    >>> y = np.array([0, -1, -1, -1, 1])
    >>> UncertaintySampling().query(X, y, LogisticRegression(), batch_size=1)
    array([2])
    """

    _parameter_constraints: dict = {
        **QueryStrategy._parameter_constraints,
        "method": [StrOptions(set(UNCERTAINTY_METHODS))],
    }
    _needs_numeric_X = False

    def __init__(self, method="entropy", *, missing_label=MISSING_LABEL):
        super().__init__(missing_label=missing_label)
        self.method = method

    def _select(self, X, y, labeled, candidates, batch_size, estimator, rng):
        estimator = self._fitted_estimator(estimator, X, y, labeled)
        # In blocks, so a large pool is never copied whole to index it.
        utilities = np.concatenate(
            [
                uncertainty_scores(self._proba(estimator, X, candidates[block]), self.method)
                for block in iter_slices(len(candidates), PREDICT_BLOCK)
            ]
        )
        if len(candidates) > batch_size and np.ptp(utilities) <= 1e-12:
            warn(
                f"{type(self).__name__}: all {len(candidates)} candidates have the same "
                f"{self.method} ({utilities[0]:.3g}), so the batch is simply the lowest indices. "
                f"{type(estimator).__name__}'s probabilities are constant or saturated: check its "
                "fit (lr, input scaling), or use RandomSampling or CoresetSampling.",
                UserWarning,
            )
        return candidates[top_k(utilities, batch_size)], utilities

    def _proba(self, estimator, X, indices):
        """predict_proba of ``X[indices]``, checked: one finite row per sample."""
        proba = np.asarray(estimator.predict_proba(_safe_indexing(X, indices)))
        if proba.ndim != 2 or len(proba) != len(indices):
            raise ValueError(
                f"{type(estimator).__name__}.predict_proba returned an array of shape "
                f"{proba.shape} for {len(indices)} samples; {type(self).__name__} needs "
                "(n_samples, n_classes)."
            )
        return check_finite_output(proba, "class probabilities", self, estimator, indices)

    def _fitted_estimator(self, estimator, X, y, labeled):
        if estimator is None:
            raise ValueError(
                f"{type(self).__name__} needs an estimator with predict_proba; got estimator=None."
            )
        if not hasattr(estimator, "predict_proba"):
            raise TypeError(
                f"{type(self).__name__} needs an estimator with predict_proba; "
                f"{type(estimator).__name__} has none."
            )
        try:
            check_is_fitted(estimator)
            return estimator
        except NotFittedError:
            pass
        labeled_idx = np.flatnonzero(labeled)
        if labeled_idx.size == 0:
            raise ValueError(
                f"The estimator {type(estimator).__name__} is not fitted and y has no labeled "
                "sample to fit it on; fit it first or label some samples."
            )
        return clone(estimator).fit(_safe_indexing(X, labeled_idx), y[labeled_idx])
