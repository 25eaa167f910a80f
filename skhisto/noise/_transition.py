"""Label noise drawn from an arbitrary transition matrix P(noisy | true)."""

import numpy as np

from ..utils import check_labels
from ._base import BaseLabelNoise, document_fitted_attributes

_ATOL = 1e-6


@document_fitted_attributes
class TransitionMatrixNoise(BaseLabelNoise):
    """Draw each noisy label from a row of a transition matrix.

    Each sample of true class ``classes_[i]`` receives the noisy label
    ``classes_[j]`` with probability ``transition[i, j]``, independently.
    The number of flips is therefore random (use :class:`UniformNoise` or
    :class:`AsymmetricNoise` for exact counts).

    Parameters
    ----------
    transition : array-like of shape (n_classes, n_classes)
        Row-stochastic ``P(noisy = j | true = i)``: rows are true classes,
        columns noisy classes, both in the order of ``classes``; entries are
        non-negative and each row sums to 1.

        cleanlab uses the transposed, column-stochastic convention: its
        ``noise_matrix[i, j]`` is ``P(label = i | true_label = j)``, so its
        columns sum to 1. Pass ``noise_matrix.T`` to use a cleanlab matrix
        here.
    classes : array-like of shape (n_classes,) or None, default=None
        The labels of the rows and columns of ``transition``. ``None`` means
        the sorted classes of ``y``, which then must have exactly
        ``n_classes`` classes. Naming them lets ``y`` miss some classes (a
        cross-validation fold without a rare class) while the matrix keeps
        its meaning; every label of ``y`` must be one of them.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws.

    Attributes
    ----------
    {fitted_attributes}

    See Also
    --------
    UniformNoise : Exactly ``round(rate * n)`` flips to other classes.
    AsymmetricNoise : Class-conditional flips to a partner class.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto import TransitionMatrixNoise
    >>> P = [[0.8, 0.2], [0.0, 1.0]]  # 20% of class 0 becomes class 1
    >>> y = np.repeat([0, 1], 500)
    >>> noise = TransitionMatrixNoise(P, random_state=0)
    >>> _, y_noisy = noise.fit_resample(np.zeros((1000, 1)), y)
    >>> bool((y_noisy[y == 1] == 1).all())
    True
    """

    _parameter_constraints: dict = {
        **BaseLabelNoise._parameter_constraints,
        "transition": ["array-like"],
        "classes": ["array-like", None],
    }

    def __init__(self, transition, *, classes=None, random_state=None):
        super().__init__(random_state=random_state)
        self.transition = transition
        self.classes = classes

    def _encode(self, y):
        if self.classes is None:
            return super()._encode(y)
        check_labels(self.classes, "TransitionMatrixNoise", name="classes")
        classes = np.asarray(self.classes)
        if classes.ndim != 1:
            raise ValueError(
                f"classes must be a 1-D list of labels, got an array of shape {classes.shape}."
            )
        if len(np.unique(classes)) != len(classes):
            raise ValueError(f"classes has repeated labels: {classes.tolist()}.")
        index = {label: code for code, label in enumerate(classes.tolist())}
        unknown = sorted(set(np.unique(y).tolist()) - set(index))
        if unknown:
            raise ValueError(f"y has labels {unknown} that are not in classes={classes.tolist()}.")
        return classes, np.array([index[label] for label in y.tolist()], dtype=np.intp)

    def _checked_transition(self):
        try:
            matrix = np.asarray(self.transition, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                "transition must be a numeric (n_classes, n_classes) array of probabilities; "
                f"it could not be read as one: {exc}"
            ) from exc
        n_classes = len(self.classes_)
        if matrix.shape != (n_classes, n_classes):
            source = "classes" if self.classes is not None else "y"
            raise ValueError(
                f"transition has shape {matrix.shape}, but {source} has {n_classes} classes "
                f"{self.classes_.tolist()}: expected ({n_classes}, {n_classes})."
            )
        if not np.isfinite(matrix).all() or (matrix < 0).any():
            raise ValueError("transition must hold finite, non-negative probabilities.")
        row_sums = matrix.sum(axis=1)
        if not np.allclose(row_sums, 1, atol=_ATOL):
            hint = ""
            if np.allclose(matrix.sum(axis=0), 1, atol=_ATOL):
                hint = (
                    " Its columns sum to 1: a column-stochastic matrix such as cleanlab's "
                    "noise_matrix must be transposed (pass noise_matrix.T)."
                )
            raise ValueError(
                "transition must be row-stochastic (row i is P(noisy | true = classes_[i]) "
                f"and sums to 1); its row sums are {np.round(row_sums, 6).tolist()}.{hint}"
            )
        return matrix

    def _noisy_codes(self, codes, rng):
        cdf = np.cumsum(self._checked_transition(), axis=1)
        # Inverse-CDF draw per sample; u in (0, 1] so a zero-probability first class is never hit.
        u = 1.0 - rng.random_sample(len(codes))
        noisy = (u[:, None] > cdf[codes]).sum(axis=1)
        return np.minimum(noisy, len(self.classes_) - 1)
