"""What ActiveLearner and ActiveSimCLR share: one round's candidates and its history entry.

One vocabulary for both loops: ``batch_size`` samples are added per round,
chosen among ``n_candidates`` random unlabeled ones, and each round's history
entry has ``round``, ``score`` (None when there is no test set: JSON-safe, and
never mistaken for a scorer that returned NaN), ``fit_time`` and
``query_time`` (None in the last entry: nothing was queried).
"""

import warnings

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.metrics import check_scoring

from ._warnings import warn


def unselected(n_samples, selected):
    """Sorted indices of ``range(n_samples)`` that are not in ``selected``.

    Examples
    --------
    >>> from skhisto.utils._rounds import unselected
    >>> unselected(5, [3, 0]).tolist()
    [1, 2, 4]
    """
    mask = np.ones(n_samples, dtype=bool)
    mask[np.asarray(selected, dtype=np.intp)] = False
    return np.flatnonzero(mask)


def draw_candidates(pool, n_candidates, seed, round_):
    """The candidates of round ``round_``: ``n_candidates`` of ``pool`` at random, sorted.

    The whole ``pool`` when ``n_candidates`` is None or not smaller. The draw
    depends only on ``(seed, round_)``, so a resumed run draws what the
    uninterrupted one did.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.utils._rounds import draw_candidates
    >>> draw_candidates(np.arange(10), 3, seed=0, round_=1).tolist()
    [0, 4, 9]
    >>> draw_candidates(np.arange(4), None, seed=0, round_=1).tolist()
    [0, 1, 2, 3]
    """
    pool = np.asarray(pool)
    if n_candidates is None or n_candidates >= pool.size:
        return pool
    rng = np.random.RandomState([seed, round_])
    return np.sort(rng.choice(pool, size=n_candidates, replace=False))


def history_entry(round_, count, score=None, fit_time=0.0, query_time=None, **extra):
    """One round's history entry; ``count`` is the one loop-specific key, e.g. ``n_labeled``.

    Examples
    --------
    >>> from skhisto.utils._rounds import history_entry
    >>> history_entry(0, {"n_labeled": 10}, fit_time=1.5)
    {'round': 0, 'n_labeled': 10, 'score': None, 'fit_time': 1.5, 'query_time': None}
    """
    entry = {"round": round_, **count, "score": score, "fit_time": fit_time}
    return {**entry, "query_time": query_time, **extra}


def check_scorer(estimator, scoring, y_train=None, y_test=None, owner="scoring"):
    """The scorer of ``scoring``, tried up front on the labels it will score.

    With labels, the scorer is tried on a dummy classifier fitted on
    ``y_train`` and scored on ``y_test``, so a scorer that cannot score them
    (binary ``"f1"`` on three classes, a ``pos_label`` that is not a label)
    fails before any training rather than after the first round.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skhisto.utils._rounds import check_scorer
    >>> check_scorer(LogisticRegression(), "f1", [0, 1, 2], [0, 1, 2])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: scoring='f1' cannot score these labels (3 classes): Target is multiclass ...
    """
    scorer = check_scoring(estimator, scoring=scoring)
    if y_train is None or y_test is None:
        return scorer
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    X_train, X_test = np.zeros((len(y_train), 1)), np.zeros((len(y_test), 1))
    dummy = DummyClassifier(strategy="stratified", random_state=0).fit(X_train, y_train)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # undefined metrics of a dummy are expected
            scorer(dummy, X_test, y_test)
    except (ValueError, TypeError) as exc:
        n_classes = len(np.unique(np.concatenate([y_train, y_test])))
        raise ValueError(
            f"{owner}={scoring!r} cannot score these labels ({n_classes} classes): {exc} "
            "Pick a scorer for them, e.g. 'balanced_accuracy' or 'f1_macro'."
        ) from exc
    return scorer


def warn_unseen_test_labels(y_test, known, source):
    """Warn when ``y_test`` holds classes that ``source`` never gives the model.

    Such samples count as errors in every round's score, whatever is queried.

    Examples
    --------
    >>> import warnings
    >>> from skhisto.utils._rounds import warn_unseen_test_labels
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_unseen_test_labels([0, 1, 2], [0, 1], "y_labeled")
    >>> str(caught[0].message).split(":")[0]
    'y_test has labels [2] absent from y_labeled'
    """
    unseen = np.setdiff1d(np.asarray(y_test), np.asarray(known))
    if len(unseen):
        warn(
            f"y_test has labels {unseen.tolist()} absent from {source}: the model never "
            "predicts them, so they count as errors in every round's score.",
            UserWarning,
        )
