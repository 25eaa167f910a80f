"""Shared machinery of the label-noise samplers: target checks, output types, fitted state."""

import textwrap
from abc import abstractmethod

import numpy as np
from imblearn.base import BaseSampler
from imblearn.utils import check_target_type
from sklearn.preprocessing import label_binarize
from sklearn.utils import check_array, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, validate_data

from ..utils import check_labels
from ..utils._bags import bag_width, is_bag_list
from ..utils._labels import like_input
from ..utils._samplers import FitByResampling
from ..utils._sklearn_compat import _fit_context


def _as_labels(y):
    """1-D label array of ``y`` and whether it arrived one-hot (one-vs-all)."""
    check_classification_targets(y)
    labels, one_hot = check_target_type(y, indicate_one_vs_all=True)
    return np.asarray(labels), one_hot


class BaseLabelNoise(FitByResampling, BaseSampler):
    """Base class of the label-noise samplers.

    A label-noise sampler returns ``X`` untouched and a corrupted copy of
    ``y``. It has ``fit_resample`` and no ``transform``, so an
    imbalanced-learn :class:`~imblearn.pipeline.Pipeline` applies it while
    fitting and skips it when predicting or scoring: the model learns from
    noisy labels and is evaluated against clean ones.

    ``X`` is returned as given, never converted or copied. It is only
    checked to be a non-empty collection of ``len(y)`` samples of any type
    and dimension, since label noise does not depend on it: the sampler can
    sit before an image embedder that takes image paths or uint8 arrays.

    Subclasses implement ``_noisy_codes(codes, rng)``, which maps the
    integer codes of ``y`` in ``classes_`` to noisy codes.

    Examples
    --------
    A sampler only maps label codes to noisy codes:

    >>> import numpy as np
    >>> from skhisto.noise import BaseLabelNoise
    >>> class NextClass(BaseLabelNoise):
    ...     def _noisy_codes(self, codes, rng):
    ...         return (codes + 1) % len(self.classes_)
    >>> X, y_noisy = NextClass().fit_resample(np.zeros((3, 1)), ["aca", "n", "scc"])
    >>> y_noisy
    ['n', 'scc', 'aca']
    """

    # imbalanced-learn's sampling type for samplers that keep every sample.
    _sampling_type = "bypass"

    _parameter_constraints: dict = {"random_state": ["random_state"]}

    def __init__(self, *, random_state=None):
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_resample(self, X, y):
        """Return ``X`` unchanged and a noisy copy of ``y``.

        Parameters
        ----------
        X : array-like, DataFrame, sparse matrix or list of length n_samples
            Any samples (tables, images, image paths, a list of bags of
            patch embeddings); returned as is.
        y : array-like of shape (n_samples,)
            Clean labels (integers or strings; a one-hot matrix is
            accepted as imbalanced-learn does). Never modified.

        Returns
        -------
        X : same object as the input ``X``
        y_noisy : same type as ``y``
            Labels with the fitted noise applied.
        """
        check_labels(y, type(self).__name__)
        labels, one_hot = _as_labels(y)
        check_consistent_length(X, labels)
        if is_bag_list(X):  # ragged bags of patch embeddings (the MIL heads' input)
            self.n_features_in_ = bag_width(X)
            self.__dict__.pop("feature_names_in_", None)
        else:
            # Checked (non-empty, any dimension), never converted: the caller's X is returned.
            check_array(
                X,
                accept_sparse=True,
                dtype=None,
                ensure_2d=False,
                allow_nd=True,
                ensure_all_finite=False,
                input_name="X",
            )
            validate_data(self, X, skip_check_array=True)  # n_features_in_ for tables
        _, y_noisy = self._fit_resample(X, labels)
        if one_hot:
            return X, label_binarize(y_noisy, classes=self.classes_)
        return X, like_input(y_noisy, y)

    def _fit_resample(self, X, y):
        """Draw the noise for 1-D labels ``y`` and return ``(X, y_noisy)``."""
        present = np.unique(y)
        if len(present) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y to flip labels "
                f"between; y has one class: {present.tolist()}."
            )
        self.classes_, codes = self._encode(y)
        noisy_codes = self._checked_codes(
            self._noisy_codes(codes, check_random_state(self.random_state)), codes
        )
        self.noise_mask_ = noisy_codes != codes
        self.transition_matrix_ = _realized_transition(codes, noisy_codes, len(self.classes_))
        # imbalanced-learn's samplers expose their per-class target; noise keeps every sample.
        counts = np.bincount(codes, minlength=len(self.classes_))
        self.sampling_strategy_ = dict(zip(self.classes_.tolist(), counts.tolist(), strict=True))
        y_noisy = y.copy()
        if y.dtype.kind in "US":  # room for longer class names that y itself lacks
            y_noisy = y_noisy.astype(np.result_type(y.dtype, self.classes_.dtype))
        y_noisy[self.noise_mask_] = self.classes_[noisy_codes[self.noise_mask_]]
        return X, y_noisy

    def _encode(self, y):
        """``classes_`` and the integer code of each label of ``y`` in it."""
        return np.unique(y, return_inverse=True)

    def _checked_codes(self, noisy, codes):
        # A noise model may be a user's (register_noise_model): its output is checked here.
        noisy = np.asarray(noisy)
        n_classes = len(self.classes_)
        if (
            noisy.shape != codes.shape
            or noisy.dtype.kind not in "iu"
            or (noisy.size and (noisy.min() < 0 or noisy.max() >= n_classes))
        ):
            raise ValueError(
                f"{type(self).__name__}._noisy_codes must return one class code in "
                f"[0, {n_classes - 1}] per sample ({codes.shape[0]} integers); it returned "
                f"shape {noisy.shape}, dtype {noisy.dtype}."
            )
        return noisy

    @abstractmethod
    def _noisy_codes(self, codes, rng):
        """Map the codes of ``y`` in ``classes_`` to noisy codes (a new array)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # X passes through unread, so NaN, strings and any container are fine.
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        return tags


_FITTED_ATTRIBUTES = """classes_ : ndarray of shape (n_classes,)
    The classes of ``y`` (sorted), or the given ``classes``.
noise_mask_ : ndarray of shape (n_samples,), dtype=bool
    True where the label was flipped.
transition_matrix_ : ndarray of shape (n_classes, n_classes)
    Realised ``P(noisy = j | true = i)``: row ``i`` is the true class
    ``classes_[i]`` and sums to 1 (NaN for a class absent from ``y``).
sampling_strategy_ : dict
    Number of samples per class (imbalanced-learn's sampler attribute;
    noise keeps every sample).
n_features_in_ : int
    Number of columns of ``X`` when it is a table.
"""


def document_fitted_attributes(cls):
    """Fill the ``{fitted_attributes}`` line of a sampler's docstring (shared by all)."""
    text = textwrap.indent(_FITTED_ATTRIBUTES, "    ")
    cls.__doc__ = cls.__doc__.replace("    {fitted_attributes}\n", text)
    return cls


def _realized_transition(codes, noisy_codes, n_classes):
    """Row-normalized counts of (true, noisy) pairs: P(noisy = j | true = i).

    Rows of classes absent from ``y`` are NaN: nothing was observed for them.
    """
    counts = np.zeros((n_classes, n_classes))
    np.add.at(counts, (codes, noisy_codes), 1)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        return counts / totals
