"""The errors skhisto raises on purpose, each naming the file, parameter or label at fault.

All derive from the built-in class a caller would already catch
(``ValueError``, ``RuntimeError``), so ``except ValueError`` keeps working.
"""

__all__ = [
    "CheckpointError",
    "CheckpointMismatchError",
    "NonFiniteError",
]


class CheckpointError(ValueError):
    """A checkpoint file exists but cannot be read (truncated, corrupt, foreign format).

    The file is left in place; the message names it and says how to start afresh.

    Examples
    --------
    Every checkpoint error is a ``ValueError``:

    >>> from skhisto.exceptions import CheckpointError, CheckpointMismatchError
    >>> [issubclass(CheckpointMismatchError, c) for c in (CheckpointError, ValueError)]
    [True, True]
    """


class CheckpointMismatchError(CheckpointError):
    """A checkpoint belongs to another run (other data or settings) and is not resumed.

    The message lists what differs and how to start afresh.

    Examples
    --------
    >>> from skhisto.exceptions import CheckpointMismatchError
    >>> from skhisto.utils import check_identity, run_identity
    >>> try:
    ...     check_identity(
    ...         run_identity({"lr": 0.1}), run_identity({"lr": 0.01}), "run.pt", restart="delete it"
    ...     )
    ... except CheckpointMismatchError as exc:
    ...     print(exc)  # doctest: +ELLIPSIS
    Checkpoint 'run.pt' belongs to another run and is not resumed: lr=0.1 there, 0.01 now. ...
    """


class NonFiniteError(RuntimeError):
    """Training produced a NaN or infinite loss or output (diverged).

    Examples
    --------
    A query with a diverged model fails instead of picking arbitrary samples:

    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from skhisto import UncertaintySampling
    >>> from skhisto.exceptions import NonFiniteError
    >>> class Diverged(DummyClassifier):
    ...     def predict_proba(self, X):
    ...         return np.full((len(X), 2), np.nan)
    >>> model = Diverged().fit([[0.0], [1.0]], [0, 1])
    >>> try:
    ...     UncertaintySampling().query(np.zeros((3, 1)), [0, 1, -1], model)
    ... except NonFiniteError as exc:
    ...     print(str(exc).split(" for ")[0])
    UncertaintySampling got NaN or infinite class probabilities from the estimator Diverged
    """
