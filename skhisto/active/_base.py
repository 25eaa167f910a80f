"""The query-strategy interface shared by every active-sampling strategy."""

import numbers
from abc import ABCMeta, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from ..exceptions import NonFiniteError
from ..utils import check_labels, label_kind
from ..utils._arrays import materialize
from ..utils._sklearn_compat import validate_params

#: The label that marks a sample as unlabeled (NaN also counts in float labels).
MISSING_LABEL = -1


@validate_params(
    {"y": ["array-like"], "missing_label": "no_validation"}, prefer_skip_nested_validation=True
)
def is_unlabeled(y, missing_label=MISSING_LABEL):
    """Boolean mask of the samples of ``y`` that carry no label.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels, with ``missing_label`` where a sample is unlabeled.
    missing_label : scalar, str, None or np.nan, default=-1
        The value that marks an unlabeled sample. In float labels NaN always
        marks an unlabeled sample too, since NaN can never be a class.

    Returns
    -------
    mask : ndarray of bool of shape (n_samples,)

    Examples
    --------
    >>> from skhisto.active import is_unlabeled
    >>> is_unlabeled([0, -1, 1, -1])
    array([False,  True, False,  True])
    >>> is_unlabeled(["tumor", "", "normal"], missing_label="")
    array([False,  True, False])
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (one label per sample), got shape {y.shape}.")
    mask = np.zeros(len(y), dtype=bool)
    if y.dtype.kind == "f":
        mask |= np.isnan(y)
    if _is_nan(missing_label):
        if y.dtype.kind == "O":  # None, NaN, pd.NA and pd.NaT: every missing value
            mask |= np.array([label_kind(v) is None for v in y], dtype=bool)
        return mask
    if y.dtype.kind in "fiub" and isinstance(missing_label, str):
        return mask
    if y.dtype.kind in "US" and not isinstance(missing_label, str):
        return mask
    return mask | np.asarray(y == missing_label, dtype=bool)


def _is_nan(value):
    return isinstance(value, float | np.floating) and np.isnan(value)


def check_finite_output(values, what, strategy, estimator=None, indices=None, allow_inf=False):
    """Refuse NaN (and inf unless ``allow_inf``) in model outputs or utilities.

    The one guard between a diverged model and a silent pick of the first
    candidates. ``indices`` (into X, one per row of ``values``) name the first
    bad sample.
    """
    values = np.asarray(values, dtype=np.float64)
    rows = values.reshape(len(values), -1)
    bad_rows = (np.isnan(rows) | (np.isinf(rows) & (not allow_inf))).any(axis=1)
    if bad_rows.any():
        first = int(np.flatnonzero(bad_rows)[0])
        first = first if indices is None else int(indices[first])
        source = "" if estimator is None else f" from the estimator {type(estimator).__name__}"
        raise NonFiniteError(
            f"{type(strategy).__name__} got NaN or infinite {what}{source} for "
            f"{int(bad_rows.sum())} of {len(values)} candidates (the first at index {first} "
            "of X); the model has probably diverged: lower its learning rate or check its "
            "inputs, and query again."
        )
    return values


def top_k(utilities, k):
    """Indices of the ``k`` largest ``utilities``, ties broken by lowest index."""
    return np.argsort(-utilities, kind="stable")[:k]


class QueryStrategy(BaseEstimator, metaclass=ABCMeta):
    """Base class of the pool-based query strategies.

    Subclasses implement :meth:`_select`; :meth:`query` validates the inputs,
    works out the unlabeled candidates and maps the selection back to indices
    into ``X``.

    Parameters
    ----------
    missing_label : scalar, str, None or np.nan, default=-1
        The value of ``y`` that marks an unlabeled sample.

    Examples
    --------
    A strategy is a :meth:`_select` that returns the chosen candidates and
    their utilities; :meth:`query` does the rest:

    >>> import numpy as np
    >>> from skhisto.active import QueryStrategy
    >>> class FirstCandidates(QueryStrategy):
    ...     def _select(self, X, y, labeled, candidates, batch_size, estimator, rng):
    ...         return candidates[:batch_size], np.zeros(len(candidates))
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> FirstCandidates().query(X, [0, -1, 1, -1], batch_size=2)
    array([1, 3])
    """

    _parameter_constraints: dict = {
        "missing_label": [numbers.Real, str, None],
    }

    #: Whether :meth:`query` needs a numeric feature matrix ``X``.
    _needs_numeric_X = True

    def __init__(self, *, missing_label=MISSING_LABEL):
        self.missing_label = missing_label

    def query(self, X, y, estimator=None, *, candidates=None, batch_size=1, return_utilities=False):
        """Select the unlabeled samples whose labels should be queried next.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The whole pool, labeled and unlabeled samples together. Strategies
            that only call ``estimator`` (uncertainty, random) accept any input
            the estimator accepts, e.g. images for a pipeline with an embedder.
        y : array-like of shape (n_samples,)
            Labels, with ``missing_label`` (or NaN for float labels) where a
            sample is unlabeled.
        estimator : estimator, default=None
            The model to query with; only used by model-based strategies.
        candidates : array-like of int or of bool, default=None
            Indices into ``X`` (or a boolean mask over ``X``) of the unlabeled
            samples to choose from, e.g. a random subset of a large pool. By
            default every unlabeled sample is a candidate.
        batch_size : int, default=1
            Number of samples to select.
        return_utilities : bool, default=False
            Also return the per-sample utilities the selection started from.

        Returns
        -------
        query_indices : ndarray of int of shape (batch_size,)
            Indices into ``X`` of the selected samples, in selection order.
        utilities : ndarray of float of shape (n_samples,)
            Only when ``return_utilities=True``: each candidate's score before
            the first pick of this batch (higher is selected first), NaN for
            the samples that were not candidates.
        """
        self._validate_params()
        X = materialize(X)  # a Zarr or Dask pool: read once, indexed as NumPy
        X, unlabeled, candidates, batch_size = self._validate_query(X, y, candidates, batch_size)
        rng = check_random_state(getattr(self, "random_state", None))
        selected, cand_utilities = self._select(
            X, y, ~unlabeled, candidates, batch_size, estimator, rng
        )
        # +inf is a real utility (coreset: no labeled sample yet), NaN never is.
        cand_utilities = check_finite_output(
            cand_utilities, "utilities", self, estimator, candidates, allow_inf=True
        )
        selected = np.asarray(selected, dtype=np.intp)
        if not return_utilities:
            return selected
        utilities = np.full(_n_samples(X), np.nan)
        utilities[candidates] = cand_utilities
        return selected, utilities

    @abstractmethod
    def _select(self, X, y, labeled, candidates, batch_size, estimator, rng):
        """Return (indices into X in selection order, utilities of ``candidates``)."""

    def _validate_query(self, X, y, candidates, batch_size):
        if self._needs_numeric_X:
            X = check_features(X, type(self).__name__)
        n_samples = _n_samples(X)
        if n_samples == 0:
            raise ValueError("X is empty (0 samples): there is nothing to query.")
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != n_samples:
            raise ValueError(
                f"y must be 1-D with one label per sample of X ({n_samples}), got shape {y.shape}."
            )
        unlabeled = is_unlabeled(y, self.missing_label)
        labeled = np.flatnonzero(~unlabeled)
        check_labels(y[labeled], type(self).__name__, "y", indices=labeled, allow_empty=True)
        candidates = _check_candidates(candidates, unlabeled)
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
            raise TypeError(f"batch_size must be an int, got {batch_size!r}.")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        if len(candidates) == 0:
            raise ValueError(
                "The unlabeled pool is empty: y has no sample marked with "
                f"missing_label={self.missing_label!r}, so there is nothing to query."
                + _kind_hint(y, self.missing_label)
            )
        if batch_size > len(candidates):
            raise ValueError(
                f"batch_size={batch_size} is larger than the number of unlabeled candidates "
                f"({len(candidates)})."
            )
        return X, unlabeled, candidates, int(batch_size)


def _kind_hint(y, missing_label):
    """Why no sample may match: a missing_label of another type than the labels."""
    kind = label_kind(y[0]) if y.dtype.kind in "biufUS" and len(y) else None
    if kind is None or missing_label is None or _is_nan(missing_label):
        return ""
    if (kind == "str") != isinstance(missing_label, str):
        return (
            f" y holds {kind} labels and missing_label is a {type(missing_label).__name__}: "
            "mark the unlabeled samples with a value of the labels' type."
        )
    return ""


def _n_samples(X):
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape):
        return shape[0]
    if shape is not None or isinstance(X, str | bytes) or not hasattr(X, "__len__"):
        raise TypeError(
            f"X must be a sequence or an array of samples, got {type(X).__name__}: {X!r:.60}."
        )
    return len(X)


def check_features(X, who):
    """X as a finite float matrix; ``who`` (the strategy or function) is named in errors."""
    try:
        return check_array(X, dtype=[np.float32, np.float64], input_name="X")
    except ValueError as exc:
        if "Input X contains" in str(exc):  # NaN or infinity: say where, and what to do
            rows = np.flatnonzero(~np.isfinite(np.asarray(X, dtype=np.float64)).all(axis=1))
            raise ValueError(
                f"{who} got NaN or infinite values in X in {rows.size} rows (the first is row "
                f"{rows[0]}); remove or recompute those samples (e.g. embed their images again) "
                "before querying."
            ) from exc
        if "convert" not in str(exc):
            raise
        raise ValueError(
            f"{who} needs X as numeric feature vectors of shape (n_samples, n_features), "
            f"e.g. embeddings from FoundationEmbedder; X holds values that are not numbers "
            f"({exc})."
        ) from exc


def check_indices(indices, n_samples, name):
    """Sorted unique int indices from an index array or a boolean mask over X."""
    indices = np.asarray(indices)
    if indices.dtype == bool:
        if indices.shape != (n_samples,):
            raise ValueError(
                f"A boolean {name} mask must have shape ({n_samples},), got {indices.shape}."
            )
        return np.flatnonzero(indices)
    if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
        raise ValueError(
            f"{name} must be a 1-D array of integer indices into X or a boolean mask, "
            f"got dtype {indices.dtype} and shape {indices.shape}."
        )
    indices = indices.astype(np.intp)
    out_of_range = indices[(indices < 0) | (indices >= n_samples)]
    if out_of_range.size:
        raise ValueError(
            f"{name} contains indices out of range for X with {n_samples} samples: "
            f"{out_of_range[:5].tolist()}."
        )
    unique = np.unique(indices)
    if len(unique) != len(indices):
        raise ValueError(f"{name} contains duplicate indices.")
    return unique


def _check_candidates(candidates, unlabeled):
    """Sorted candidate indices, checked to be unlabeled samples of X."""
    if candidates is None:
        return np.flatnonzero(unlabeled)
    if np.size(candidates) == 0:
        raise ValueError("candidates is empty: give at least one unlabeled index to choose from.")
    candidates = check_indices(candidates, len(unlabeled), "candidates")
    labeled = candidates[~unlabeled[candidates]]
    if labeled.size:
        raise ValueError(
            f"candidates contains already labeled samples (indices {labeled[:5].tolist()}); "
            "only unlabeled samples can be queried."
        )
    return candidates
