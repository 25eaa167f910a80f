"""Pool-based active learning: train, score, query an oracle, repeat."""

import json
import numbers
import os
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone
from sklearn.metrics import check_scoring
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ..utils import progress
from ._base import QueryStrategy, _n_samples, check_indices

_CHECKPOINT_VERSION = 1


def _estimator_has(attr):
    def check(self):
        return hasattr(self.estimator_ if hasattr(self, "estimator_") else self.estimator, attr)

    return check


class ActiveLearner(MetaEstimatorMixin, BaseEstimator):
    """Run pool-based active-learning rounds against an oracle.

    Each round fits a clone of ``estimator`` on the labeled samples, scores it
    on the test set when one is given, asks ``query_strategy`` for the next
    ``batch_size`` samples and gets their labels from the oracle. Per round it
    records the labeled count, the score and the time to train and to query in
    ``history_``.

    Parameters
    ----------
    estimator : estimator
        Classifier retrained from scratch (a clone) every round, e.g. a
        logistic regression on embeddings or a skorch head.
    query_strategy : QueryStrategy
        A strategy from :mod:`skhisto.active`, e.g. :class:`CoresetSampling`.
    batch_size : int, default=10
        Samples labeled per round.
    n_rounds : int, default=10
        Query rounds; ``history_`` gets ``n_rounds + 1`` entries (the initial
        labeled set, then one per round).
    n_initial : int, default=None
        Size of the random initial labeled set when ``fit`` gets no
        ``initial``; defaults to ``batch_size``.
    n_candidates : int, default=None
        Query each round among a random subset of this many unlabeled samples
        (the paper draws 10,000 a round) instead of the whole pool.
    scoring : str or callable, default=None
        Test-set score, as in :func:`sklearn.metrics.check_scoring` (default:
        the estimator's ``score``).
    checkpoint : str or path-like, default=None
        File (``.npz``) the state is written to after every round, atomically.
        ``fit`` resumes from it when it exists, so an interrupted run continues
        where it stopped.
    warm_start : bool, default=False
        When fitted, ``fit`` continues from the current labeled set for
        ``n_rounds`` more rounds instead of starting over.
    verbose : bool or "auto", default=False
        Show a progress bar over the rounds.
    random_state : int, RandomState instance or None, default=None
        Draws the initial labeled set and the candidate subsets.

    Attributes
    ----------
    estimator_ : estimator
        The estimator fitted on every labeled sample after the last round.
    labeled_indices_ : ndarray of int
        Indices into ``X`` of the labeled samples, in the order they were labeled.
    labels_ : ndarray
        Their labels, from the oracle.
    history_ : list of dict
        One dict per round with ``round``, ``n_labeled``, ``score`` (None without
        a test set), ``fit_time`` and ``query_time`` in seconds (None in the
        last entry, after which nothing is queried). ``pandas.DataFrame(history_)``
        makes it a table.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skhisto import ActiveLearner, CoresetSampling
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> learner = ActiveLearner(
    ...     LogisticRegression(), CoresetSampling(), batch_size=10, n_rounds=3, random_state=0
    ... ).fit(X, y, X_test=X, y_test=y)
    >>> [entry["n_labeled"] for entry in learner.history_]
    [10, 20, 30, 40]
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "query_strategy": [QueryStrategy],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_rounds": [Interval(numbers.Integral, 0, None, closed="left")],
        "n_initial": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "n_candidates": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "scoring": [str, callable, None],
        "checkpoint": [str, os.PathLike, None],
        "warm_start": ["boolean"],
        "verbose": ["boolean", str],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        query_strategy,
        *,
        batch_size=10,
        n_rounds=10,
        n_initial=None,
        n_candidates=None,
        scoring=None,
        checkpoint=None,
        warm_start=False,
        verbose=False,
        random_state=None,
    ):
        self.estimator = estimator
        self.query_strategy = query_strategy
        self.batch_size = batch_size
        self.n_rounds = n_rounds
        self.n_initial = n_initial
        self.n_candidates = n_candidates
        self.scoring = scoring
        self.checkpoint = checkpoint
        self.warm_start = warm_start
        self.verbose = verbose
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, oracle, *, initial=None, X_test=None, y_test=None):
        """Run the active-learning rounds.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            The unlabeled pool, in whatever form ``estimator`` takes.
        oracle : array-like of shape (n_samples,) or callable
            The labels of ``X`` (revealed only when queried), or a function
            mapping an array of indices into ``X`` to their labels.
        initial : array-like of int, default=None
            Indices of the samples labeled before the first round; default a
            random draw of ``n_initial`` samples.
        X_test, y_test : array-like, default=None
            Held-out set scored after every round.

        Returns
        -------
        self : ActiveLearner
        """
        n_samples = _n_samples(X)
        oracle = _check_oracle(oracle, n_samples)
        if (X_test is None) != (y_test is None):
            raise ValueError("Give both X_test and y_test, or neither.")
        if not self._resume(n_samples):
            self._start(n_samples, oracle, initial)
        scorer = None if X_test is None else check_scoring(self.estimator, scoring=self.scoring)

        first, last = len(self.history_), self._last_round
        if first > last:  # a finished run restored from its checkpoint
            self._train(X, last, None, None, None)
        for round_ in progress(
            range(first, last + 1), total=last + 1 - first, desc="rounds", verbose=self.verbose
        ):
            entry = self._train(X, round_, scorer, X_test, y_test)
            more = round_ < last and self._query(X, oracle, round_, entry)
            if not more:
                self._last_round = round_  # a pool used up early ends the run here
            self.history_.append(entry)
            self._save_checkpoint(n_samples)
            if not more:
                break
        return self

    def _start(self, n_samples, oracle, initial):
        rng = check_random_state(self.random_state)
        self._seed = int(rng.randint(np.iinfo(np.int32).max))
        if initial is None:
            n_initial = self.batch_size if self.n_initial is None else self.n_initial
            if n_initial > n_samples:
                raise ValueError(f"n_initial={n_initial} exceeds the pool size ({n_samples}).")
            initial = rng.choice(n_samples, size=n_initial, replace=False)
        else:
            initial = check_indices(initial, n_samples, "initial")
        self.labeled_indices_ = np.asarray(initial, dtype=np.intp)
        self.labels_ = np.asarray(oracle(self.labeled_indices_))
        self.history_ = []
        self._last_round = self.n_rounds

    def _resume(self, n_samples):
        """Continue from the checkpoint file or, with warm_start, the fitted state."""
        if self.checkpoint is not None and Path(self.checkpoint).exists():
            self._load_checkpoint(n_samples)
            return True
        if self.warm_start and hasattr(self, "history_"):
            self._last_round = len(self.history_) - 1 + self.n_rounds
            if self.history_:
                self.history_.pop()  # its model is retrained and its query made below
            return True
        return False

    def _train(self, X, round_, scorer, X_test, y_test):
        start = time.perf_counter()
        self.estimator_ = clone(self.estimator).fit(
            _safe_indexing(X, self.labeled_indices_), self.labels_
        )
        fit_time = time.perf_counter() - start
        score = None if scorer is None else float(scorer(self.estimator_, X_test, y_test))
        return {
            "round": round_,
            "n_labeled": len(self.labeled_indices_),
            "score": score,
            "fit_time": fit_time,
            "query_time": None,
        }

    def _query(self, X, oracle, round_, entry):
        """Query one batch into the labeled set; False when the pool is used up."""
        unlabeled = np.ones(_n_samples(X), dtype=bool)
        unlabeled[self.labeled_indices_] = False
        pool = np.flatnonzero(unlabeled)
        if pool.size == 0:
            return False
        rng = np.random.RandomState([self._seed, round_])
        candidates = pool
        if self.n_candidates is not None and self.n_candidates < pool.size:
            candidates = np.sort(rng.choice(pool, size=self.n_candidates, replace=False))
        y = _labels_with_missing(
            self.labels_, self.labeled_indices_, len(unlabeled), self.query_strategy.missing_label
        )
        start = time.perf_counter()
        picked = self.query_strategy.query(
            X,
            y,
            self.estimator_,
            candidates=candidates,
            batch_size=min(self.batch_size, candidates.size),
        )
        entry["query_time"] = time.perf_counter() - start
        self.labeled_indices_ = np.concatenate([self.labeled_indices_, picked])
        self.labels_ = np.concatenate([self.labels_, np.asarray(oracle(picked))])
        return True

    def _save_checkpoint(self, n_samples):
        if self.checkpoint is None:
            return
        path = Path(self.checkpoint)
        state = {
            "version": _CHECKPOINT_VERSION,
            "n_samples": n_samples,
            "seed": self._seed,
            "last_round": self._last_round,
            "history": self.history_,
        }
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(
            tmp,
            labeled_indices=self.labeled_indices_,
            labels=_savable(self.labels_),
            state=np.array(json.dumps(state)),
        )
        os.replace(tmp, path)

    def _load_checkpoint(self, n_samples):
        with np.load(self.checkpoint, allow_pickle=False) as data:
            state = json.loads(str(data["state"]))
            if state["n_samples"] != n_samples:
                raise ValueError(
                    f"Checkpoint {str(self.checkpoint)!r} was written for a pool of "
                    f"{state['n_samples']} samples, X has {n_samples}."
                )
            self.labeled_indices_ = data["labeled_indices"].astype(np.intp)
            self.labels_ = data["labels"]
        self._seed = state["seed"]
        self._last_round = state["last_round"]
        self.history_ = state["history"]

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict with the estimator fitted on the labeled samples."""
        check_is_fitted(self)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the estimator fitted on the labeled samples."""
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    def score(self, X, y):
        """Score of the final estimator on ``(X, y)`` (its own ``score``)."""
        check_is_fitted(self)
        return self.estimator_.score(X, y)

    @property
    def classes_(self):
        """Class labels known to the final estimator."""
        check_is_fitted(self)
        return self.estimator_.classes_


def _check_oracle(oracle, n_samples):
    """The oracle as a function of indices, checking it answers one label per index."""
    if callable(oracle):

        def ask(indices):
            labels = np.asarray(oracle(np.asarray(indices)))
            if labels.shape != (len(indices),):
                raise ValueError(
                    f"The oracle returned labels of shape {labels.shape} for "
                    f"{len(indices)} queried indices."
                )
            return labels

        return ask
    labels = np.asarray(oracle)
    if labels.shape != (n_samples,):
        raise ValueError(
            f"oracle must be a callable or one label per sample of X ({n_samples}), "
            f"got shape {labels.shape}."
        )
    return lambda indices: labels[np.asarray(indices, dtype=np.intp)]


def _labels_with_missing(labels, indices, n_samples, missing_label):
    """A full ``y`` with ``labels`` at ``indices`` and ``missing_label`` elsewhere."""
    numeric_labels = labels.dtype.kind in "iufb"
    if numeric_labels and isinstance(missing_label, numbers.Real):
        dtype = np.result_type(labels.dtype, np.asarray(missing_label).dtype)
    elif labels.dtype.kind == "U" and isinstance(missing_label, str):
        dtype = np.result_type(labels.dtype, np.asarray(missing_label).dtype)
    else:
        dtype = object
    y = np.full(n_samples, missing_label, dtype=dtype)
    y[indices] = labels
    return y


def _savable(labels):
    if labels.dtype == object:
        return labels.astype(str)  # checkpoints never hold pickled objects
    return labels
