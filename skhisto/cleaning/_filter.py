"""Label cleaning as a Pipeline step: an imbalanced-learn sampler that drops or fixes labels."""

import numpy as np
from imblearn.base import BaseSampler
from sklearn.utils.validation import validate_data

from ..utils._labels import like_input
from ..utils._samplers import FitByResampling
from ..utils._sklearn_compat import StrOptions, _fit_context, _safe_indexing
from ._detect import OPTIONS_DOC, PARAMETER_CONSTRAINTS, detection_options, inspect_labels


class LabelIssueFilter(FitByResampling, BaseSampler):
    """Remove or relabel the samples whose labels look wrong, while fitting only.

    A sampler: it has ``fit_resample`` and no ``transform``, so an
    imbalanced-learn :class:`~imblearn.pipeline.Pipeline` cleans the
    training labels and leaves prediction and scoring alone. Placed after
    a label-noise sampler, as in ``Pipeline([noise, LabelIssueFilter(),
    head])``, a grid search injects noise into the training folds, cleans
    them, and scores the head on the clean test labels. A head that holds
    out part of its training data for early stopping then validates on the
    cleaned labels.

    Parameters
    ----------
    method : {"knn", "confident_learning", "ensemble"}, default="knn"
        How labels are checked, as in :func:`find_label_issues`.
    action : {"remove", "relabel"}, default="remove"
        ``"remove"`` drops the flagged samples; ``"relabel"`` keeps every
        sample and gives each flagged one the class the method finds most
        probable besides its own label.
    {params}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The classes of ``y`` (sorted).
    label_issues_ : ndarray of shape (n_samples,), dtype=bool
        True for the samples flagged in the last ``fit_resample``.
    label_quality_ : ndarray of shape (n_samples,)
        Each label's quality score (lower is more likely wrong).
    suggested_labels_ : ndarray of shape (n_samples,)
        The most probable class other than each sample's label: the new
        label of the flagged samples under ``action="relabel"``.
    noise_rate_ : float
        Estimated share of wrong labels, as :func:`estimate_noise`.
    transition_matrix_ : ndarray of shape (n_classes, n_classes)
        Estimated ``P(noisy = j | true = i)``, rows and columns in
        ``classes_`` order.
    sampling_strategy_ : dict
        Number of returned samples per class (imbalanced-learn's sampler
        attribute).
    sample_indices_ : ndarray
        Indices of the returned samples in the input (imbalanced-learn's
        attribute of cleaning samplers).
    n_features_in_ : int
        Number of embedding columns.

    See Also
    --------
    find_label_issues : The flags as a mask, outside a Pipeline.
    skhisto.UniformNoise : Inject the noise this step removes.

    Examples
    --------
    >>> from imblearn.pipeline import make_pipeline
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skhisto import LabelIssueFilter, UniformNoise
    >>> X, y = make_blobs(300, centers=[[0, 0], [8, 0], [0, 8]], random_state=0)
    >>> pipe = make_pipeline(
    ...     UniformNoise(0.3, random_state=0), LabelIssueFilter(), LogisticRegression()
    ... ).fit(X, y)
    >>> cleaner = pipe.named_steps["labelissuefilter"]
    >>> int(cleaner.label_issues_.sum()), len(cleaner.sample_indices_)
    (90, 210)
    >>> round(cleaner.noise_rate_, 2)
    0.3

    With groups (patients, slides), routed to the filter so that the patches
    of one slide do not vouch for each other:

    >>> import numpy as np, sklearn
    >>> slides = np.arange(300) // 3
    >>> with sklearn.config_context(enable_metadata_routing=True):
    ...     pipe = make_pipeline(
    ...         LabelIssueFilter().set_fit_resample_request(groups=True), LogisticRegression()
    ...     ).fit(X, y, groups=slides)
    >>> int(pipe[0].label_issues_.sum())
    0
    """

    # imbalanced-learn's sampling type for samplers that drop samples without a target count.
    _sampling_type = "clean-sampling"

    _parameter_constraints: dict = {
        **PARAMETER_CONSTRAINTS,
        "action": [StrOptions({"remove", "relabel"})],
    }

    def __init__(
        self,
        *,
        method="knn",
        action="remove",
        estimator=None,
        cv=5,
        n_neighbors="auto",
        random_state=None,
        device="auto",
        n_jobs=None,
        search="auto",
    ):
        self.method = method
        self.action = action
        self.estimator = estimator
        self.cv = cv
        self.n_neighbors = n_neighbors
        self.random_state = random_state
        self.device = device
        self.n_jobs = n_jobs
        self.search = search

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_resample(self, X, y, groups=None):
        """Return the cleaned samples and labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings. Never modified.
        y : array-like of shape (n_samples,)
            Labels, possibly noisy. Never modified.
        groups : array-like of shape (n_samples,), default=None
            Patient or slide of each sample: neighbors then come from other
            groups only and confident learning's folds never split a group,
            so a slide's copies cannot vouch for each other, as in
            :func:`find_label_issues`. It is data, so in a Pipeline it is
            routed: ``sklearn.set_config(enable_metadata_routing=True)`` and
            ``LabelIssueFilter().set_fit_resample_request(groups=True)``,
            then ``pipe.fit(X, y, groups=groups)`` (an imbalanced-learn
            Pipeline passes a sampler no fit parameter without routing).

        Returns
        -------
        X_clean : array-like
            ``X`` without the flagged rows (``"remove"``) or ``X`` itself
            (``"relabel"``), in the input's container type.
        y_clean : array-like
            The matching labels, in the type of ``y``.
        """
        options = detection_options(self.get_params(deep=False))
        report = inspect_labels(X, y, owner=type(self).__name__, groups=groups, **options)
        validate_data(self, X, skip_check_array=True)  # n_features_in_, feature_names_in_
        self.classes_ = report.classes
        self.label_issues_ = report.issues
        self.label_quality_ = report.quality
        self.suggested_labels_ = report.classes[report.suggested]
        self.noise_rate_, self.transition_matrix_ = report.noise()
        labels = report.labels()
        if self.action == "relabel":
            self.sample_indices_ = np.arange(len(labels))
            fixed = report.relabeled()
            self.sampling_strategy_ = _class_counts(report.classes, fixed)
            return X, like_input(fixed, y)
        self.sample_indices_ = np.flatnonzero(~report.issues)
        self.sampling_strategy_ = _class_counts(report.classes, labels[self.sample_indices_])
        kept = like_input(labels, y)
        return _safe_indexing(X, self.sample_indices_), _safe_indexing(kept, self.sample_indices_)

    def _fit_resample(self, X, y):  # imbalanced-learn's hook; fit_resample does the work
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False  # embeddings are dense: check_array refuses sparse X
        tags.sampler_tags.sample_indices = True
        return tags


def _class_counts(classes, labels):
    """imbalanced-learn's ``sampling_strategy_``: how many returned samples each class has."""
    return {c: int(np.sum(labels == c)) for c in classes.tolist()}


LabelIssueFilter.__doc__ = LabelIssueFilter.__doc__.replace("{params}", OPTIONS_DOC)
