"""A meta-classifier that corrupts its training labels and nothing else."""

import inspect
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_is_fitted,
    column_or_1d,
    get_tags,
    has_fit_parameter,
)

from ..utils import check_groups, check_labels
from ..utils._sklearn_compat import HasMethods, Interval, _fit_context, _safe_indexing
from ..utils._split import validation_split


def _estimator_has(method):
    """``available_if`` condition: the fitted (or unfitted) estimator has ``method``."""

    def check(self):
        estimator = getattr(self, "estimator_", self.estimator)
        getattr(estimator, method)
        return True

    return check


class NoisyLabelClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Train ``estimator`` on labels corrupted by ``noise``; predict and score cleanly.

    ``fit`` passes ``(X, y)`` through a clone of ``noise`` and fits a clone
    of ``estimator`` on the noisy labels. ``predict``, ``predict_proba``,
    ``decision_function`` and ``score`` go straight to the fitted estimator,
    so cross-validation and grid searches score against the clean test
    labels. Because it is an ordinary classifier, it works in scikit-learn's
    own :class:`~sklearn.pipeline.Pipeline`, :func:`~sklearn.model_selection.cross_validate`
    and :class:`~sklearn.model_selection.GridSearchCV`, whose grids can
    reach the noise (``clf__noise__rate``) and the model (``clf__estimator``).

    Parameters
    ----------
    estimator : classifier
        The model to train on noisy labels; cloned in ``fit``.
    noise : label-noise sampler
        An object with ``fit_resample(X, y) -> (X, y_noisy)`` such as
        :class:`UniformNoise`; cloned in ``fit``.
    random_state : int, RandomState instance or None, default=None
        When not None, replaces the ``random_state`` of the noise clone, so
        a search can seed the corruption (``clf__random_state``); None
        keeps ``noise``'s own. The estimator's seeding is left to it.
    validation_fraction : float in (0, 1) or None, default=None
        When set, ``fit`` first holds out this share of the CLEAN labels
        (stratified by class, seeded by ``random_state``, else by the
        estimator's own ``random_state``), injects noise into the rest only
        and fits the estimator with ``X_val`` and ``y_val`` set to the clean
        held-out part, for early stopping on clean labels. The estimator's
        ``fit`` must take ``X_val`` (as :class:`~skhisto.MLPHead` and
        :class:`~skhisto.LinearHead` do); None trains on all samples and
        leaves validation to the estimator.

    Attributes
    ----------
    estimator_ : classifier
        The clone of ``estimator`` fitted on the noisy labels.
    noise_ : sampler
        The fitted clone of ``noise`` (its ``noise_mask_`` and
        ``transition_matrix_`` describe the corruption).
    classes_ : ndarray of shape (n_classes,)
        Classes known to ``estimator_``.
    n_features_in_ : int
        Number of features seen by ``estimator_``, when it records them.
    validation_indices_ : ndarray of int or None
        Indices in ``X`` of the clean validation samples held out by
        ``validation_fraction`` (sorted); None when it is None.

    Notes
    -----
    Extra ``fit`` keyword arguments (such as ``sample_weight``) go to
    ``estimator.fit``; noise never reorders or drops samples, so they stay
    aligned (with ``validation_fraction``, per-sample arguments are cut to
    the training part).

    The label-noise paper's protocol (arXiv 2404.07605: validation split of
    clean labels taken before noise is injected, early stopping that keeps
    the last epoch's weights and counts any decrease of the validation
    loss) is one line::

        NoisyLabelClassifier(
            MLPHead(restore_best_weights=False, tol=0.0),
            UniformNoise(0.6),
            validation_fraction=0.2,  # the paper holds out 20 %
        )

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skhisto import NoisyLabelClassifier, UniformNoise
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = NoisyLabelClassifier(LogisticRegression(max_iter=500), UniformNoise(random_state=0))
    >>> search = GridSearchCV(clf, {"noise__rate": [0.0, 0.4]}, cv=3).fit(X, y)
    >>> search.cv_results_["mean_test_score"].shape
    (2,)

    Early stopping on clean held-out labels:

    >>> from skhisto import LinearHead
    >>> clf = NoisyLabelClassifier(
    ...     LinearHead(max_epochs=5, random_state=0), UniformNoise(0.4), validation_fraction=0.2
    ... ).fit(X, y)
    >>> len(clf.validation_indices_)
    30
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "noise": [HasMethods(["fit_resample"])],
        "random_state": ["random_state"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
    }

    def __init__(self, estimator, noise, *, random_state=None, validation_fraction=None):
        self.estimator = estimator
        self.noise = noise
        self.random_state = random_state
        self.validation_fraction = validation_fraction

    # The wrapped estimator and noise validate their own parameters.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, groups=None, **fit_params):
        """Corrupt ``y`` with a clone of ``noise`` and fit a clone of ``estimator``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, as ``estimator`` accepts it.
        y : array-like of shape (n_samples,)
            Clean training labels (left unmodified).
        groups : array-like of shape (n_samples,), default=None
            The group (slide, patient) of each sample, passed to the noise
            sampler's ``fit_resample`` (:class:`GroupNoise` needs it), never
            to ``estimator``. With ``validation_fraction`` it is cut to the
            training part.
        **fit_params : dict
            Passed to ``estimator.fit`` (with ``validation_fraction``,
            arrays of one value per sample are cut to the training part).

        Returns
        -------
        self : object
            The fitted classifier.
        """
        check_labels(y, type(self).__name__)
        check_classification_targets(y)
        y = column_or_1d(y, warn=True)
        self.noise_ = clone(self.noise)
        if self.random_state is not None:
            self.noise_.set_params(random_state=self.random_state)
        self.validation_indices_ = None
        noise_params = {}
        if groups is not None:
            noise_params["groups"] = self._check_noise_takes_groups(groups, len(y))
        if self.validation_fraction is not None:
            X, y, fit_params = self._hold_out_clean(X, y, {**fit_params, **noise_params})
            noise_params = {key: fit_params.pop(key) for key in noise_params}
        X_train, y_noisy = self.noise_.fit_resample(X, y, **noise_params)
        self.estimator_ = clone(self.estimator).fit(X_train, y_noisy, **fit_params)
        return self

    def _check_noise_takes_groups(self, groups, n_samples):
        if "groups" not in inspect.signature(self.noise_.fit_resample).parameters:
            raise ValueError(
                f"{type(self).__name__}.fit got groups, but {type(self.noise_).__name__}."
                "fit_resample takes no groups (it flips samples, not groups); use GroupNoise "
                "or leave groups out."
            )
        return check_groups(groups, n_samples)

    def _hold_out_clean(self, X, y, fit_params):
        """Training part of (X, y, fit_params), with the clean held-out part as X_val, y_val."""
        name = type(self).__name__
        if not has_fit_parameter(self.estimator, "X_val"):
            raise ValueError(
                f"{name}(validation_fraction={self.validation_fraction}) passes the clean "
                f"held-out samples as X_val and y_val, but {type(self.estimator).__name__}.fit "
                "takes no X_val parameter; use an estimator that does (MLPHead, LinearHead) or "
                "validation_fraction=None."
            )
        given = sorted({"X_val", "y_val"} & set(fit_params))
        if given:
            raise ValueError(
                f"{name}(validation_fraction={self.validation_fraction}) holds out its own "
                f"validation set; do not also pass {given}."
            )
        seed = self.random_state
        if seed is None:
            seed = self.estimator.get_params().get("random_state")
        split = validation_split(y, self.validation_fraction, seed)
        if split is None:
            raise ValueError(
                f"{name}: validation_fraction={self.validation_fraction} of {len(y)} samples "
                "leaves fewer than 2 to train on; give more samples or a smaller fraction."
            )
        train, valid = (np.sort(part) for part in split)
        self.validation_indices_ = valid
        fit_params = {
            key: _safe_indexing(value, train) if _per_sample(value, len(y)) else value
            for key, value in fit_params.items()
        }
        fit_params.update(X_val=_safe_indexing(X, valid), y_val=y[valid])
        return _safe_indexing(X, train), y[train], fit_params

    @property
    def classes_(self):
        """Classes known to the fitted estimator."""
        return self.estimator_.classes_

    @property
    def n_features_in_(self):
        """Number of features seen by the fitted estimator."""
        return self.estimator_.n_features_in_

    def predict(self, X):
        """Predict classes with the estimator fitted on noisy labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the fitted estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities from the fitted estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the fitted estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.estimator_.decision_function(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator).input_tags
        tags.input_tags.sparse = inner.sparse
        tags.input_tags.allow_nan = inner.allow_nan
        return tags


def _per_sample(value, n_samples):
    """Whether a fit parameter holds one value per sample (scikit-learn's own rule)."""
    return hasattr(value, "__len__") and not isinstance(value, str) and len(value) == n_samples
