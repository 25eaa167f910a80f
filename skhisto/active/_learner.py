"""Pool-based active learning: train, score, query an oracle, repeat."""

import numbers
import os
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ..exceptions import CheckpointError, CheckpointMismatchError
from ..utils import (
    check_groups,
    check_labels,
    checkpoint_file,
    digest_arrays,
    ensure_writable_dir,
    label_kind,
    load_checkpoint,
    progress,
    resume_checkpoint,
    run_identity,
    save_checkpoint,
    warn,
)
from ..utils._arrays import materialize
from ..utils._checkpoint import restart_hint
from ..utils._labels import plain_value
from ..utils._rounds import (
    check_scorer,
    draw_candidates,
    history_entry,
    unselected,
    warn_unseen_test_labels,
)
from ..utils._sklearn_compat import HasMethods, Interval, _fit_context, _safe_indexing
from ._base import QueryStrategy, _n_samples, check_indices, is_unlabeled
from ._oracle import HumanOracle


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
        labeled set, then one per round), fewer when the pool runs out first
        (warned).
    n_initial : int, default=None
        Size of the random initial labeled set when ``fit`` gets no
        ``initial``; defaults to ``batch_size``.
    n_candidates : int, default=None
        Query each round among a random subset of this many unlabeled samples
        (the paper draws 10,000 a round) instead of the whole pool.
    scoring : str or callable, default=None
        Test-set score, as in :func:`sklearn.metrics.check_scoring` (default:
        the estimator's ``score``).
    checkpoint_dir : str or path-like, default=None
        Folder the state is written to after every round, atomically, as
        :data:`skhisto.utils.CHECKPOINT_FILE` (made when missing, and checked
        writable before the first label is asked for). ``fit`` resumes from it
        when it exists, so an interrupted run continues where it stopped, but
        only when it is this run: same data (and ``initial``) and same
        estimator, query_strategy, batch_size, n_rounds, n_initial,
        n_candidates, scoring, random_state and test_size, same test set and
        same ``groups``. Otherwise
        :class:`~skhisto.exceptions.CheckpointMismatchError` lists what differs;
        an unreadable file raises :class:`~skhisto.exceptions.CheckpointError`.
        Either way the file is left as it is.
    warm_start : bool, default=False
        When fitted, ``fit`` continues from the state in memory (on the same
        ``X``) instead of starting over: a finished run gets ``n_rounds`` more
        rounds, an interrupted one is completed. A checkpoint is read only by a
        learner with no state in memory.
    verbose : bool or "auto", default="auto"
        Show a progress bar over the rounds (``"auto"``: once the run has
        taken a couple of seconds).
    random_state : int, RandomState instance or None, default=None
        Draws the held-out set, the initial labeled set and the candidate
        subsets.
    test_size : float in (0, 1), int or None, default=None
        When set, ``fit`` holds out this share (float) or number (int) of
        ``X`` before anything is labeled, asks the oracle for their labels
        once, and scores every round on them; they are never queried nor
        trained on (``test_indices_``). With ``groups`` whole groups are held
        out (:class:`~sklearn.model_selection.GroupShuffleSplit`, ``test_size``
        then being a share or number of groups), so no patient or slide is
        on both sides: a held-out patch whose near-copies were labeled scores
        memory, not generalization. The draw is not stratified: no label is
        known before it. Exclusive with ``X_test``.
    checkpoint : str or path-like, default="deprecated"
        The checkpoint file itself (``.npz``).

        .. deprecated:: 0.1
            ``checkpoint`` was renamed ``checkpoint_dir`` (a folder, as for
            :class:`~skhisto.SimCLREmbedder`) in 0.1 and will be removed in
            0.3. Until then a file given here is still written and resumed.

    Attributes
    ----------
    estimator_ : estimator
        The estimator fitted on every labeled sample after the last round.
    labeled_indices_ : ndarray of int
        Indices into ``X`` of the labeled samples, in the order they were labeled.
    labels_ : ndarray
        Their labels, from the oracle.
    test_indices_ : ndarray of int
        Indices into ``X`` of the held-out samples of ``test_size`` (empty
        without it).
    history_ : list of dict
        One dict per round with ``round``, ``n_labeled``, ``score`` (None without
        a test set), ``fit_time`` and ``query_time`` in seconds (None in the
        last entry, after which nothing is queried). ``pandas.DataFrame(history_)``
        makes it a table. With a :class:`~skhisto.active.HumanOracle`, each
        entry also has ``reviewed`` (the indices the reviewer labelled that
        this round trained on first: the initial set in round 0, the previous
        round's batch after), ``n_relabeled`` (labels the reviewer changed
        among them) and ``n_unusable`` (samples of that batch marked
        unusable, dropped).
    pending_ : ndarray of int
        Indices into ``X`` whose labels the run waits for (empty when it ran
        to its end): the queried batch, or the initial and held-out sets.
    unusable_indices_ : ndarray of int
        Indices into ``X`` the reviewer marked unusable, never trained on, scored
        on nor queried (empty without a :class:`~skhisto.active.HumanOracle`).

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
        "checkpoint_dir": [str, os.PathLike, None],
        "warm_start": ["boolean"],
        "verbose": ["boolean", str],
        "random_state": ["random_state"],
        "checkpoint": [str, os.PathLike, None],  # deprecated; default "deprecated"
        "test_size": [
            Interval(numbers.Real, 0, 1, closed="neither"),
            Interval(numbers.Integral, 1, None, closed="left"),
            None,
        ],
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
        checkpoint_dir=None,
        warm_start=False,
        verbose="auto",
        random_state=None,
        checkpoint="deprecated",
        test_size=None,
    ):
        self.estimator = estimator
        self.query_strategy = query_strategy
        self.batch_size = batch_size
        self.n_rounds = n_rounds
        self.n_initial = n_initial
        self.n_candidates = n_candidates
        self.scoring = scoring
        self.checkpoint_dir = checkpoint_dir
        self.warm_start = warm_start
        self.verbose = verbose
        self.random_state = random_state
        self.checkpoint = checkpoint
        self.test_size = test_size

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(
        self, X, oracle, *, groups=None, initial=None, X_test=None, y_test=None, groups_test=None
    ):
        """Run the active-learning rounds.

        Everything is checked before the first label is asked for: the oracle,
        the test set, ``initial``, the checkpoint (its directory writable, its
        run the same as this one).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            The unlabeled pool, in whatever form ``estimator`` takes.
        oracle : array-like of shape (n_samples,) or callable
            The labels of ``X`` (revealed only when queried), or a function
            mapping an array of indices into ``X`` to their labels. It must
            never answer the strategy's ``missing_label`` (or NaN), and all its
            labels must have one type. Or a :class:`~skhisto.active.HumanOracle`
            (e.g. from :func:`~skhisto.active.oracle_from_decisions`), whose
            samples may await their labels: a batch (or the initial or
            held-out set) with such a sample stops the run, ``pending_``
            naming them, and a later ``fit`` with their labels resumes it
            (from ``checkpoint_dir``, or with ``warm_start=True``); samples it
            marks unusable are never trained on, scored on nor queried.
        groups : array-like of shape (n_samples,), default=None
            Patient or slide of each sample of ``X``. With ``test_size`` the
            held-out set is whole groups; with ``X_test`` and ``groups_test``
            a test group that is also in the pool is refused. Part of the
            run's identity: a checkpoint of a run with other groups is not
            resumed.
        initial : array-like of int, default=None
            Indices of the samples labeled before the first round; default a
            random draw of ``n_initial`` samples (outside the held-out set).
        X_test, y_test : array-like, default=None
            Held-out set scored after every round.
        groups_test : array-like of shape (n_test,), default=None
            Patient or slide of each sample of ``X_test``; with ``groups``, a
            group on both sides is refused, naming it.

        Returns
        -------
        self : ActiveLearner

        Notes
        -----
        Each round is a transaction: the model is trained, the batch queried
        and labeled, and only then are ``estimator_``, ``labeled_indices_``,
        ``labels_`` and ``history_`` updated together (and the checkpoint
        written). An exception in a round (a failing oracle, ``Ctrl-C``)
        leaves the learner as it was after the previous round, so
        ``warm_start=True`` or the checkpoint continue the run exactly.

        With a :class:`~skhisto.active.HumanOracle`, a batch whose labels are
        not all given yet is not a failure: ``fit`` saves the checkpoint and
        returns with ``pending_`` set (``history_`` up to the last round whose
        batch was labelled); the model that chose the batch is ``estimator_``.
        The batch is kept in the state, so the resumed run trains on exactly
        what it chose and its curve equals a simulated run's when the reviewer
        answers the true labels.

        ``warm_start=True`` on a fitted learner continues from its state in
        memory: an interrupted fit is completed, a finished one gets
        ``n_rounds`` more rounds; ``X`` must be the same pool. A checkpoint is
        read only when the learner has no state in memory (a new process):
        then it is resumed to its planned last round, with or without
        ``warm_start``.
        """
        X, X_test = materialize(X), materialize(X_test)  # a Zarr or Dask pool: read once
        n_samples = _n_samples(X)
        if n_samples == 0:
            raise ValueError("X is empty (0 samples): there is nothing to label.")
        missing_label = self.query_strategy.missing_label
        human = oracle if isinstance(oracle, HumanOracle) else None
        if human is not None:
            if len(human) != n_samples:
                raise ValueError(
                    f"The HumanOracle has {len(human)} samples and X {n_samples}: it must "
                    "hold one entry per sample of X."
                )
            oracle, known = None, None
        else:
            oracle, known = _check_oracle(oracle, n_samples, missing_label)
        scorer = self._check_test_set(X_test, y_test, known)
        groups = check_groups(groups, n_samples)
        self._check_test_groups(groups, X_test, groups_test)
        if self.test_size is not None:
            if X_test is not None:
                raise ValueError(
                    "Give test_size (the learner holds out part of X) or X_test and y_test, "
                    "not both."
                )
            scorer = check_scorer(self.estimator, self.scoring)
        if initial is not None:
            initial = check_indices(initial, n_samples, "initial")
            if initial.size == 0:
                raise ValueError("initial is empty: give at least one index to label first.")
        path = self._checkpoint_path()
        identity = self._identity(X, initial, X_test, y_test, groups)

        state = self._resumable_state(path, identity)
        if state is not None and known is not None:
            _check_same_labels(state, known, path, self._checkpoint_parameter())
        if state is not None and human is not None:
            _check_same_human_labels(state, human, path, self._checkpoint_parameter())
        if state is None:
            state = self._start(n_samples, oracle, initial, groups)
            # a callable oracle's label type is known only now
            if human is None and y_test is not None:
                check_labels(
                    y_test,
                    _OWNER,
                    "y_test",
                    kind=label_kind(state["labels"][0]),
                    kind_source="the oracle",
                )
        state["identity"] = identity
        if human is not None and "pending" not in state:  # a run begun with labels known
            state.update(pending=np.array([], dtype=np.intp), pending_entry=False)
            state["excluded"] = np.array([], dtype=np.intp)
        if human is not None and "pending" in state and state["pending_entry"] is None:
            state = self._deliver_initial(state, human)  # the initial and held-out sets
            if state["pending"].size:
                return self._stop(path, state, None)
        finished = not state["history"] or state["history"][-1]["query_time"] is None
        # A finished run's last model is trained again (and queried if rounds are added).
        first = len(state["history"]) - 1 if finished else len(state["history"])
        first = max(first, 0)
        last = state["last_round"]
        rounds = range(first, last + 1)
        for round_ in progress(rounds, total=len(rounds), desc="rounds", verbose=self.verbose):
            waiting = state.get("pending_entry")
            picked, labels = None, None
            if waiting and waiting["round"] == round_:  # its batch was chosen before
                estimator, entry, picked = None, dict(waiting), state["pending"]
            else:
                estimator, entry = self._train(X, state, round_, scorer, X_test, y_test)
                if round_ < state["last_round"]:
                    picked, labels = self._query(X, oracle, state, round_, estimator, entry, human)
            if human is not None and picked is not None:
                state = dict(state, pending=picked, pending_entry=entry)
                state, picked, labels = self._deliver(state, human)
                if picked is None:
                    return self._stop(path, state, estimator)
            state = self._commit(state, round_, estimator, entry, picked, labels)
            self._save_checkpoint(path, state)
            if picked is None:
                if round_ < last:
                    warn(
                        f"ActiveLearner: every sample of the pool is labeled after round "
                        f"{round_}, so the run stops {last - round_} rounds "
                        f"early; history_ has {len(state['history'])} entries.",
                        UserWarning,
                    )
                break
        return self

    def _stop(self, path, state, estimator):
        """End a fit whose batch awaits labels: the state saved, ``pending_`` set."""
        if estimator is not None:
            self.estimator_ = estimator
        self.labeled_indices_ = state["labeled"]
        self.labels_ = state["labels"]
        self.test_indices_ = state["test"]
        self.history_ = list(state["history"])
        self.pending_ = np.asarray(state["pending"], dtype=np.intp)
        self.unusable_indices_ = state["excluded"]
        self._state = state
        self._save_checkpoint(path, state)
        return self

    def _deliver_initial(self, state, human):
        """The initial and held-out sets labelled, or the state with what still waits."""
        batch = state["pending"]
        waiting = batch[human.pending[batch]]
        if waiting.size:
            return dict(state, pending=batch)
        usable = batch[~human.unusable[batch]]
        test = np.isin(usable, state["test"])
        initial, kept_test = usable[~test], np.sort(usable[test])
        if state["test"].size and not kept_test.size:
            raise ValueError(
                "Every held-out sample was marked unusable: there is nothing to score on."
            )
        if not initial.size:
            raise ValueError(
                "Every sample of the initial set was marked unusable: there is nothing to "
                "train on. Pass other initial indices."
            )
        labels = _native(np.asarray(human.labels[initial]))
        check_labels(labels, _OWNER, "oracle", indices=initial)
        unusable = batch[human.unusable[batch]]
        test_labels = _native(np.asarray(human.labels[kept_test])) if kept_test.size else None
        return dict(
            state,
            labeled=initial,
            labels=labels,
            test=kept_test,
            test_labels=np.array([]) if test_labels is None else test_labels,
            pending=np.array([], dtype=np.intp),
            pending_entry=False,
            excluded=np.union1d(state["excluded"], unusable).astype(np.intp),
            review=_review(human, initial, unusable),
        )

    def _deliver(self, state, human):
        """``(state, picked, labels)`` of a labelled batch; picked None while some wait."""
        batch = state["pending"]
        if human.pending[batch].any():
            return state, None, None
        unusable = batch[human.unusable[batch]]
        picked = batch[~human.unusable[batch]]
        labels = _native(np.asarray(human.labels[picked]))
        if picked.size:
            kind = check_labels(state["labels"], _OWNER, "labels_", allow_empty=True)
            check_labels(
                labels, _OWNER, "oracle", indices=picked, kind=kind, kind_source="labels_ so far"
            )
        state = dict(
            state,
            pending=np.array([], dtype=np.intp),
            pending_entry=False,
            excluded=np.union1d(state["excluded"], unusable).astype(np.intp),
            review=_review(human, picked, unusable),
        )
        return state, picked, labels

    def _check_test_set(self, X_test, y_test, known=None):
        if (X_test is None) != (y_test is None):
            raise ValueError("Give both X_test and y_test, or neither.")
        if X_test is None:
            return None
        n_test, y_test = _n_samples(X_test), np.asarray(y_test)
        if n_test == 0 or y_test.shape != (n_test,):
            raise ValueError(
                f"y_test must hold one label per sample of X_test ({n_test}, at least one), "
                f"got shape {y_test.shape}."
            )
        if known is None:
            check_labels(y_test, _OWNER, "y_test")
        else:  # an array oracle: every label it can give is known before the first round
            check_labels(
                y_test,
                _OWNER,
                "y_test",
                kind=label_kind(known[0]),
                kind_source="the oracle",
            )
            warn_unseen_test_labels(y_test, known, "the oracle's labels")
        return check_scorer(self.estimator, self.scoring)

    def _check_test_groups(self, groups, X_test, groups_test):
        if groups_test is None:
            return
        if X_test is None or groups is None:
            raise ValueError(
                "groups_test names the groups of X_test, to check them against the pool's: "
                "give X_test and groups as well."
            )
        groups_test = check_groups(groups_test, _n_samples(X_test), "groups_test")
        shared = set(groups.tolist()) & set(groups_test.tolist())
        if shared:
            group = sorted(shared, key=str)[0]
            raise ValueError(
                f"Group {plain_value(group)!r} is both in the pool (groups) and in the test set "
                f"(groups_test), {len(shared)} such groups: its pool patches can be labeled and "
                "vouch for its test patches. Split by group (GroupShuffleSplit), or let the "
                "learner hold out whole groups with test_size."
            )

    def _checkpoint_parameter(self):
        return "checkpoint_dir" if self.checkpoint == "deprecated" else "checkpoint"

    def _checkpoint_path(self):
        """The checkpoint file, its folder proven writable before any round runs."""
        if self.checkpoint == "deprecated":
            return checkpoint_file(self.checkpoint_dir)
        warn(
            "The parameter 'checkpoint' of ActiveLearner was renamed 'checkpoint_dir' in 0.1 "
            "and will be removed in 0.3; pass checkpoint_dir=<folder> (the state is written "
            "to <folder>/checkpoint.npz).",
            FutureWarning,
        )
        if self.checkpoint_dir is not None:
            raise ValueError(
                "Pass checkpoint_dir only: checkpoint is its deprecated spelling, and both were "
                "given."
            )
        if self.checkpoint is None:
            return None
        path = Path(self.checkpoint).expanduser()
        if path.exists() and not path.is_file():
            raise ValueError(
                f"checkpoint={str(path)!r} is a directory or a special file; give a file name, "
                "e.g. 'run.npz'."
            )
        ensure_writable_dir(path.parent, "checkpoint")
        return path

    def _identity(self, X, initial, X_test, y_test, groups=None):
        """What makes a run this run: its shaping parameters and digests of its data.

        The test set is part of it: a resumed history must not mix two test sets' scores.
        """
        params = {
            "estimator": self.estimator,
            "query_strategy": self.query_strategy,
            "batch_size": self.batch_size,
            "n_rounds": self.n_rounds,
            "n_initial": self.n_initial,
            "n_candidates": self.n_candidates,
            "scoring": self.scoring,
            "random_state": self.random_state,
        }
        data = {"data": _digest_pool(X)}
        if X_test is not None:
            data["test data"] = _digest_pool(X_test) + digest_arrays(np.asarray(y_test))
        if initial is not None:
            data["initial indices"] = digest_arrays(initial)
        if self.test_size is not None:  # absent otherwise: earlier checkpoints stay this run's
            params["test_size"] = self.test_size
        if groups is not None:
            data["groups"] = digest_arrays(groups.astype(str))
        return run_identity(params, **data)

    def _resumable_state(self, path, identity):
        """The state to continue: the fitted one with warm_start, else the checkpoint's."""
        if self.warm_start and hasattr(self, "history_"):
            saved = self._state["identity"] or {}
            if saved.get("data") != identity["data"]:
                raise ValueError(
                    "warm_start=True continues the run on the pool it was fitted on, and X "
                    "differs from it (other samples, order, shape or dtype); pass the same X "
                    "or set warm_start=False to start afresh."
                )
            state = dict(self._state, history=list(self.history_))
            if path is not None and path.exists():
                _check_own_checkpoint(path, state, identity, self._checkpoint_parameter())
            if state["history"] and state["history"][-1]["query_time"] is None:  # finished
                state["last_round"] = len(state["history"]) - 1 + self.n_rounds
            return state
        parameter = self._checkpoint_parameter()
        state = resume_checkpoint(path, identity, parameter=parameter)
        return None if state is None else _checked(state, path, parameter)

    def _start(self, n_samples, oracle, initial, groups=None):
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        test = self._hold_out(n_samples, groups, rng)
        pool = unselected(n_samples, test)
        if initial is None:
            n_initial = self.batch_size if self.n_initial is None else self.n_initial
            if n_initial > pool.size:
                raise ValueError(
                    f"n_initial={n_initial} exceeds the pool size ({pool.size}"
                    f"{' outside the held-out set' if test.size else ''}); "
                    "lower n_initial (or batch_size, its default)."
                )
            initial = rng.choice(pool, size=n_initial, replace=False)
        held = np.flatnonzero(np.isin(initial, test))
        if held.size:
            raise ValueError(
                f"initial[{held[0]}] = {int(initial[held[0]])} is in the held-out set of "
                f"test_size={self.test_size} ({held.size} such indices); the held-out samples "
                "are never trained on. Pick initial among the other samples."
            )
        labeled = np.asarray(initial, dtype=np.intp)
        if oracle is None:  # a HumanOracle: the initial and held-out sets are asked first
            return {
                "labeled": np.array([], dtype=np.intp),
                "labels": np.array([]),
                "history": [],
                "seed": seed,
                "last_round": self.n_rounds,
                "test": test,
                "test_labels": np.array([]),
                "pending": np.concatenate([labeled, test]).astype(np.intp),
                "pending_entry": None,
                "excluded": np.array([], dtype=np.intp),
            }
        return {
            "labeled": labeled,
            "labels": oracle(labeled),
            "history": [],
            "seed": seed,
            "last_round": self.n_rounds,
            "test": test,
            "test_labels": oracle(test) if test.size else np.array([]),
        }

    def _hold_out(self, n_samples, groups, rng):
        """Sorted indices of the held-out set of ``test_size``: whole groups when given."""
        if self.test_size is None:
            return np.array([], dtype=np.intp)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        split = ShuffleSplit if groups is None else GroupShuffleSplit
        splitter = split(n_splits=1, test_size=self.test_size, random_state=seed)
        try:
            pool, test = next(splitter.split(np.zeros((n_samples, 1)), groups=groups))
        except ValueError as exc:
            units = "samples" if groups is None else "groups"
            raise ValueError(f"test_size={self.test_size} cannot split the {units}: {exc}") from exc
        if pool.size == 0:
            raise ValueError(f"test_size={self.test_size} leaves no sample in the pool.")
        return np.sort(test).astype(np.intp)

    def _train(self, X, state, round_, scorer, X_test, y_test):
        if state["test"].size:
            X_test, y_test = _safe_indexing(X, state["test"]), state["test_labels"]
        start = time.perf_counter()
        estimator = clone(self.estimator).fit(_safe_indexing(X, state["labeled"]), state["labels"])
        fit_time = time.perf_counter() - start
        score = None if scorer is None else float(scorer(estimator, X_test, y_test))
        count = {"n_labeled": len(state["labeled"])}
        review = state.get("review") or {}
        return estimator, history_entry(round_, count, score, fit_time, **review)

    def _query(self, X, oracle, state, round_, estimator, entry, human=None):
        """The next batch and its labels, or (None, None) when the pool is used up.

        With a HumanOracle only the batch: its labels are delivered apart.
        """
        n_samples = _n_samples(X)
        taken = [state["labeled"], state["test"]]
        if human is not None:  # unusable samples, now or earlier, are never queried
            taken += [state["excluded"], np.flatnonzero(human.unusable)]
        pool = unselected(n_samples, np.concatenate(taken))
        if pool.size == 0:
            return None, None
        candidates = draw_candidates(pool, self.n_candidates, state["seed"], round_)
        y = _labels_with_missing(
            state["labels"], state["labeled"], n_samples, self.query_strategy.missing_label
        )
        start = time.perf_counter()
        picked = self.query_strategy.query(
            X, y, estimator, candidates=candidates, batch_size=min(self.batch_size, candidates.size)
        )
        entry["query_time"] = time.perf_counter() - start
        if human is not None:
            return np.asarray(picked, dtype=np.intp), None
        labels = oracle(picked)
        kind = check_labels(state["labels"], _OWNER, "labels_", allow_empty=True)
        check_labels(
            labels, _OWNER, "oracle", indices=picked, kind=kind, kind_source="labels_ so far"
        )
        return picked, labels

    def _commit(self, state, round_, estimator, entry, picked, labels):
        """Make one finished round the learner's state, every attribute at once."""
        state = dict(state, history=state["history"][:round_] + [entry])
        if picked is None:
            state["last_round"] = round_  # a pool used up early ends the run here
        else:
            state["labeled"] = np.concatenate([state["labeled"], picked])
            state["labels"] = np.concatenate([state["labels"], labels])
        if estimator is not None:  # None: a resumed batch, whose model was not kept
            self.estimator_ = estimator
        self.labeled_indices_ = state["labeled"]
        self.labels_ = state["labels"]
        self.test_indices_ = state["test"]
        self.history_ = list(state["history"])
        self.pending_ = np.array([], dtype=np.intp)
        self.unusable_indices_ = state.get("excluded", np.array([], dtype=np.intp))
        self._state = state
        return state

    def _save_checkpoint(self, path, state):
        if path is not None:
            saved = dict(
                state,
                labels=_savable(state["labels"]),
                test_labels=_savable(state["test_labels"]),
            )
            if "pending" in state:  # a HumanOracle's run; others' files stay as they were
                entry = state["pending_entry"]
                saved["pending_entry"] = {"initial": True} if entry is None else entry or {}
            save_checkpoint(path, saved)

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


_OWNER = "ActiveLearner"


def _check_oracle(oracle, n_samples, missing_label):
    """The oracle as a function of indices, each answer checked before it is used.

    One label per index, none of them the missing label (it would be trained
    on as a class), all of one type. An array oracle is checked whole, at once.
    """
    if callable(oracle):

        def ask(indices):
            indices = np.asarray(indices)
            labels = np.asarray(oracle(indices.copy()))
            if labels.shape != (len(indices),):
                raise ValueError(
                    f"The oracle returned labels of shape {labels.shape} for "
                    f"{len(indices)} queried indices; it must return one label per index."
                )
            _refuse_missing(labels, indices, missing_label, "The oracle returned")
            check_labels(labels, _OWNER, "oracle", indices=indices)
            return _native(labels)

        return ask, None
    labels = np.asarray(oracle)
    if labels.shape != (n_samples,):
        raise ValueError(
            f"oracle must be a callable or one label per sample of X ({n_samples}), "
            f"got shape {labels.shape}."
        )
    _refuse_missing(labels, np.arange(n_samples), missing_label, "oracle has")
    check_labels(labels, _OWNER, "oracle", allow_empty=True)
    labels = _native(labels)  # a copy: the caller's array may change, the run's labels not
    return (lambda indices: labels[np.asarray(indices, dtype=np.intp)]), labels


def _check_same_labels(state, known, path, parameter):
    """Refuse to continue a run whose labels so far differ from the array oracle's.

    Its rounds were chosen and scored on those labels: continuing with others
    would mix two labelings in one history. (A callable oracle cannot be
    checked ahead; the same oracle as a callable or an array is fine.)
    """
    # the held-out labels too: its scores were computed on them
    labeled = np.concatenate([state["labeled"], state["test"]])
    saved = np.asarray(state["labels"])
    if state["test"].size:
        saved = np.concatenate([saved, np.asarray(state["test_labels"], dtype=saved.dtype)])
    differ = np.flatnonzero(np.asarray(known[labeled] != saved, dtype=bool))
    if differ.size:
        first = differ[0]
        source, restart = (
            (f"Checkpoint {str(path)!r}", restart_hint(parameter))
            if path is not None and path.exists()
            else ("The fitted run", "set warm_start=False")
        )
        raise CheckpointMismatchError(
            f"{source} labeled "
            f"{differ.size} of its {len(labeled)} samples otherwise than this oracle (index "
            f"{int(labeled[first])}: {plain_value(saved[first])!r} there, "
            f"{plain_value(known[labeled[first]])!r} now), so it is another run and is not "
            "resumed. "
            f"To start afresh, {restart}."
        )


def _review(human, labeled, unusable):
    """What a reviewer's batch brought, for the history entry of the round it trains."""
    return {
        "reviewed": [int(i) for i in labeled],
        "n_relabeled": int(human.relabeled[labeled].sum()),
        "n_unusable": int(len(unusable)),
    }


def _check_same_human_labels(state, human, path, parameter):
    """Refuse to continue a run whose labels so far differ from the reviewer's given ones."""
    labeled = state["labeled"]
    given = human.labeled[labeled]
    known = np.asarray(human.labels, dtype=object)[labeled[given]]
    saved = np.asarray(state["labels"], dtype=object)[given]
    differ = np.flatnonzero([str(a) != str(b) for a, b in zip(known, saved, strict=True)])
    if differ.size:
        index = int(labeled[given][differ[0]])
        raise CheckpointMismatchError(
            f"Checkpoint {str(path)!r} labeled {differ.size} samples otherwise than this "
            f"HumanOracle (index {index}: {plain_value(saved[differ[0]])!r} there, "
            f"{plain_value(known[differ[0]])!r} now); labels of finished rounds are not "
            f"changed. To start afresh, {restart_hint(parameter)}."
        )


def _refuse_missing(labels, indices, missing_label, what):
    missing = np.flatnonzero(is_unlabeled(labels, missing_label))
    if missing.size:
        raise ValueError(
            f"{what} the missing-label value {plain_value(labels[missing[0]])!r} for index "
            f"{int(indices[missing[0]])} ({missing.size} such labels): that value is "
            f"query_strategy's missing_label={missing_label!r} (or NaN), which marks "
            "unlabeled samples and cannot be a class; give the true labels, or set "
            "missing_label to a value that is not a class."
        )


def _check_own_checkpoint(path, state, identity, parameter):
    """Refuse to overwrite a checkpoint that is not an earlier state of this learner's run."""
    saved = _load_checkpoint(path, parameter)
    n_saved = len(saved["labeled"])
    if (saved["identity"] or {}).get("data") != identity["data"] or not np.array_equal(
        saved["labeled"], state["labeled"][:n_saved]
    ):
        raise CheckpointMismatchError(
            f"Checkpoint {str(path)!r} holds another run than this fitted learner, and "
            f"warm_start=True would overwrite it; it was left as it is. To continue, "
            f"{restart_hint(parameter)}."
        )


def _digest_pool(X):
    """Digest of the pool: of the array, of each image array, or of the samples as text.

    Text (e.g. image paths) is digested as str; samples given as separate arrays
    (images of different sizes) each by content, never by a truncated repr.
    """
    if isinstance(X, np.ndarray):
        return digest_arrays(X)
    if isinstance(X, list | tuple) and X and all(isinstance(x, np.ndarray) for x in X):
        return digest_arrays(*X)
    try:
        return digest_arrays(np.asarray(X))
    except ValueError:  # ragged
        return digest_arrays(np.array([str(x) for x in X]))


def _load_checkpoint(path, parameter):
    """A checkpoint's state, or CheckpointError naming the file; the file is never touched."""
    return _checked(load_checkpoint(path, parameter=parameter), path, parameter)


def _checked(state, path, parameter):
    """The saved state with its types, after checking it is an ActiveLearner's, whole."""
    try:
        checked = {
            "labeled": np.asarray(state["labeled"]).astype(np.intp),
            "labels": np.asarray(state["labels"]),
            "history": list(state["history"]),
            "seed": int(state["seed"]),
            "last_round": int(state["last_round"]),
            "identity": dict(state["identity"]),
            # absent from checkpoints written before test_size: no held-out set
            "test": np.asarray(state.get("test", []), dtype=np.intp),
            "test_labels": np.asarray(state.get("test_labels", [])),
        }
        if "pending" in state:  # written by a run with a HumanOracle
            entry = dict(state["pending_entry"])
            checked.update(
                pending=np.asarray(state["pending"]).astype(np.intp),
                pending_entry=None if entry.get("initial") else (entry or False),
                excluded=np.asarray(state["excluded"]).astype(np.intp),
                review=dict(state.get("review") or {}),
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"Checkpoint {str(path)!r} cannot be read ({type(exc).__name__}: {exc}); it is not "
            f"an ActiveLearner checkpoint. It was left as it is; to start afresh, "
            f"{restart_hint(parameter)}."
        ) from exc
    if checked["labeled"].shape != checked["labels"].shape:
        raise CheckpointError(
            f"Checkpoint {str(path)!r} is inconsistent: {checked['labeled'].shape} labeled "
            f"indices for {checked['labels'].shape} labels. It was left as it is; to start "
            f"afresh, {restart_hint(parameter)}."
        )
    return checked


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


def _native(labels):
    """Labels of one type as a typed array (object ints become int), as a checkpoint has them."""
    if labels.dtype == object and labels.size:
        typed = np.array(labels.tolist())
        return typed if typed.dtype != object else labels.copy()
    return labels.copy()


def _savable(labels):
    if labels.dtype == object:
        return labels.astype(str)  # checkpoints never hold pickled objects
    return labels
