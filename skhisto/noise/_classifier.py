"""A meta-classifier that corrupts its training labels and nothing else."""

from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, get_tags

from ..utils import check_labels
from ..utils._sklearn_compat import HasMethods, _fit_context


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

    Notes
    -----
    Extra ``fit`` keyword arguments (such as ``sample_weight``) go to
    ``estimator.fit``; noise never reorders or drops samples, so they stay
    aligned.

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
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "noise": [HasMethods(["fit_resample"])],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator, noise, *, random_state=None):
        self.estimator = estimator
        self.noise = noise
        self.random_state = random_state

    # The wrapped estimator and noise validate their own parameters.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **fit_params):
        """Corrupt ``y`` with a clone of ``noise`` and fit a clone of ``estimator``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, as ``estimator`` accepts it.
        y : array-like of shape (n_samples,)
            Clean training labels (left unmodified).
        **fit_params : dict
            Passed to ``estimator.fit``.

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
        X_train, y_noisy = self.noise_.fit_resample(X, y)
        self.estimator_ = clone(self.estimator).fit(X_train, y_noisy, **fit_params)
        return self

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
