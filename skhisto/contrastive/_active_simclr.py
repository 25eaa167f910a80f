"""ActiveSimCLR: contrastive training on actively sampled subsets (Algorithm 2, Reasat & Smith)."""

import contextlib
import os
import time
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, clone
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted

from ..backbones import check_image_size, get_backbone_info
from ..embedding import as_image_source
from ..io import load_images
from ..utils import (
    CHECKPOINT_FILE,
    check_labels,
    checkpoint_file,
    digest_arrays,
    progress,
    resume_checkpoint,
    run_identity,
    save_checkpoint,
    torch_seed,
)
from ..utils._params import with_seed
from ..utils._rounds import (
    check_scorer,
    draw_candidates,
    history_entry,
    unselected,
    warn_unseen_test_labels,
)
from ..utils._sklearn_compat import HasMethods, Interval, StrOptions, _fit_context
from ._simclr import SimCLREmbedder


def _default_proxy():
    from .. import LinearHead

    return LinearHead()


def _default_strategy():
    from .. import UncertaintySampling

    return UncertaintySampling(method="entropy")


def _check_labels(y, name, n_images, images_name, kind=None):
    """``y`` as a 1-D array and its label kind; also refuses a length mismatch.

    ``kind`` (that of ``y_labeled``) is the kind ``y`` must have.
    """
    if np.ndim(y) != 1:
        raise ValueError(f"{name} must be 1-D; got shape {np.shape(y)}.")
    kind = check_labels(y, "ActiveSimCLR", name, kind=kind, kind_source="y_labeled")
    if len(y) != n_images:
        raise ValueError(f"{images_name} has {n_images} images but {name} has {len(y)} labels.")
    return np.asarray(y), kind


def _discard(directory):
    """Remove a finished round's SimCLR checkpoint (the round checkpoint supersedes it)."""
    with contextlib.suppress(OSError):
        os.remove(os.path.join(directory, CHECKPOINT_FILE))
        os.rmdir(directory)


class ActiveSimCLR(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """SimCLR trained on a growing, actively sampled subset of an unlabeled pool.

    Algorithm 2 of Reasat & Smith, "Data efficient contrastive learning in
    histopathology using active sampling": a random first subset of
    ``batch_size`` images; then every round (1) continue training SimCLR on
    the current subset, (2) embed the small labeled set with the encoder and
    train the proxy from scratch on it, (3) optionally score the proxy on a
    test set, (4) draw ``n_candidates`` images at random from the rest of the
    pool and let ``query_strategy`` pick the next ``batch_size`` of them, and
    append those. Parameters and history speak :class:`~skhisto.ActiveLearner`'s
    language (``batch_size``, ``n_candidates``, ``fit_time``, ``query_time``,
    a score of None without a test set); the candidate draw is the same code.

    The strategy is called as ``query(X, y, proxy, batch_size=batch_size)`` with
    ``X`` the embeddings of the labeled set followed by those of the
    candidates and ``y`` the labeled set's (encoded) labels followed by the
    strategy's ``missing_label`` for the candidates: uncertainty sampling
    scores the candidates with the proxy, coreset sampling picks candidates
    far from the labeled set.

    Parameters
    ----------
    simclr : SimCLREmbedder, optional
        The contrastive learner (cloned); its ``max_epochs`` are the epochs per
        round. Default ``SimCLREmbedder()``.
    query_strategy : object with ``query``, optional
        Default ``UncertaintySampling(method="entropy")``.
    proxy : classifier, optional
        Trained from scratch each round on the labeled set's embeddings.
        Default ``LinearHead()`` (a single linear layer, as in the paper).
    batch_size : int, default=1000
        Images added per round (and the size of the first random subset).
    n_rounds : int, default=20
        Rounds of SimCLR training.
    n_candidates : int or None, default=10000
        Random candidates the strategy chooses from each round (None: every
        image not yet selected).
    scoring : str, callable or None, default=None
        Scorer of the proxy on the test set, as in
        :func:`sklearn.metrics.check_scoring`; None is the proxy's own
        ``score`` (accuracy for classifiers), which works for any number of
        classes. Checked against ``y_labeled`` and ``y_test`` before training:
        a scorer that cannot score them (``"f1"`` on three classes) is refused
        up front; use e.g. ``"f1_macro"`` or ``"balanced_accuracy"``.
    random_state : int, RandomState instance or None
        Seeds the subset draws and, where unset, SimCLR, proxy and strategy.
    checkpoint_dir : str or path, optional
        Round state saved atomically after every round as
        :data:`skhisto.utils.CHECKPOINT_FILE` (SimCLR's epoch checkpoints
        under ``checkpoint_dir/simclr/round-<t>``); a killed
        ``fit`` with the same data and parameters resumes after the last
        finished round. Checked writable before training starts; a checkpoint
        of another run raises
        :class:`~skhisto.exceptions.CheckpointMismatchError` and is left
        untouched.
    verbose : {"auto"} or bool, default="auto"
        Progress bar over the rounds (``"auto"``: once the run has taken a
        couple of seconds); the epochs inside a round follow ``simclr``'s own
        ``verbose``.

    Attributes
    ----------
    simclr_ : SimCLREmbedder
        Encoder after the last round.
    proxy_ : classifier
        Proxy of the last round.
    selected_ : ndarray of int
        Pool indices in the order they were added (the last round's training set
        is ``selected_[:history_[-1]["n_images"]]``).
    history_ : list of dict
        Per round: ``round``, ``n_images`` (images SimCLR trained on; they are
        never labeled, hence not ``n_labeled``), ``score`` (``scoring`` on the
        test set, None without one), ``fit_time`` (SimCLR), ``query_time``
        (None in the last round, after which nothing is queried),
        ``proxy_time``, ``score_time`` (None without a test set) and the
        cumulative ``time`` (seconds).
    n_features_out_ : int

    Examples
    --------
    Two rounds on a pool of 8 images, 2 more each round, scored on 4 test images:

    >>> import numpy as np
    >>> from skhisto import ActiveSimCLR, CoresetSampling, LinearHead, SimCLREmbedder
    >>> rng = np.random.default_rng(0)
    >>> pool = rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    >>> labeled, y = pool[:4], np.array([0, 1, 0, 1])
    >>> simclr = SimCLREmbedder(
    ...     image_size=32, batch_size=4, max_epochs=1, device="cpu", verbose=False
    ... )
    >>> model = ActiveSimCLR(
    ...     simclr, CoresetSampling(device="cpu"), LinearHead(max_epochs=10),
    ...     batch_size=2, n_rounds=2, n_candidates=4, random_state=0, verbose=False,
    ... ).fit(pool, X_labeled=labeled, y_labeled=y, X_test=pool[4:], y_test=y)
    >>> [record["n_images"] for record in model.history_], len(model.selected_)
    ([2, 4], 4)
    >>> model.transform(pool).shape
    (8, 512)
    """

    _parameter_constraints = {
        "simclr": [HasMethods(["fit", "transform"]), None],
        "query_strategy": [HasMethods(["query"]), None],
        "proxy": [HasMethods(["fit", "predict"]), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_rounds": [Interval(Integral, 1, None, closed="left")],
        "n_candidates": [Interval(Integral, 1, None, closed="left"), None],
        "scoring": [str, callable, None],
        "random_state": ["random_state"],
        "checkpoint_dir": [str, os.PathLike, None],
        "verbose": [StrOptions({"auto"}), "boolean"],
    }

    def __init__(
        self,
        simclr=None,
        query_strategy=None,
        proxy=None,
        *,
        batch_size=1000,
        n_rounds=20,
        n_candidates=10000,
        scoring=None,
        random_state=None,
        checkpoint_dir=None,
        verbose="auto",
    ):
        self.simclr = simclr
        self.query_strategy = query_strategy
        self.proxy = proxy
        self.batch_size = batch_size
        self.n_rounds = n_rounds
        self.n_candidates = n_candidates
        self.scoring = scoring
        self.random_state = random_state
        self.checkpoint_dir = checkpoint_dir
        self.verbose = verbose

    def _identity(self, pool, labeled, y_labeled, test):
        """Parameters (sub-estimators' included) and data that must match to resume."""
        params = {}
        for key, value in self.get_params(deep=True).items():
            if key.rsplit("__", 1)[-1] in ("verbose", "checkpoint_dir"):
                continue
            if hasattr(value, "get_params"):  # its parameters are listed one by one
                value = type(value).__name__
            params[key] = value  # run_identity compares a generator by its type
        tested = digest_arrays(*test) if test is not None else None
        return run_identity(params, data=digest_arrays(pool, labeled, y_labeled), test=tested)

    def _start(self, identity, n_pool, simclr, path):
        """Fresh state, or the state after the last finished round of a killed run."""
        checkpoint = resume_checkpoint(path, identity)
        if checkpoint is not None:
            simclr.set_training_state(checkpoint["simclr"])
            return checkpoint
        seed = torch_seed(self.random_state)
        first = np.random.default_rng([seed, 0]).choice(n_pool, self.batch_size, replace=False)
        return {
            "seed": seed,
            "round": 0,
            "selected": torch.from_numpy(np.sort(first)),
            "history": [],
        }

    def _check_sizes(self, n_pool):
        if self.batch_size * self.n_rounds > n_pool:
            raise ValueError(
                f"batch_size={self.batch_size} images x n_rounds={self.n_rounds} exceed the pool "
                f"of {n_pool} images; lower batch_size or n_rounds."
            )
        if self.n_candidates is not None and self.n_candidates < self.batch_size:
            raise ValueError(
                f"n_candidates={self.n_candidates} is smaller than batch_size={self.batch_size}: "
                "each round could not add batch_size images."
            )

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, *, X_labeled, y_labeled, X_test=None, y_test=None):
        """Run the active contrastive rounds.

        Parameters
        ----------
        X : ndarray of shape (n, H, W, 3), dtype uint8, or sequence of paths
            The unlabeled pool SimCLR subsets are drawn from.
        y : ignored
        X_labeled : images
            The small labeled set the proxy is trained on each round.
        y_labeled : array-like of shape (n_labeled,)
        X_test, y_test : images and labels, optional
            Scored with ``scoring`` after every round.

        Returns
        -------
        self
        """
        simclr = clone(self.simclr) if self.simclr is not None else SimCLREmbedder()
        check_image_size(get_backbone_info(simclr.backbone), simclr.image_size)
        path = checkpoint_file(self.checkpoint_dir)
        self._simclr_dir = simclr.checkpoint_dir if path is None else path.parent / "simclr"
        if (X_test is None) != (y_test is None):
            raise ValueError("Pass both X_test and y_test, or neither.")
        size = simclr.image_size
        pool = load_images(as_image_source(X), size)
        self._check_sizes(len(pool))
        labeled = load_images(as_image_source(X_labeled), size)
        y_labeled, kind = _check_labels(y_labeled, "y_labeled", len(labeled), "X_labeled")
        if len(np.unique(y_labeled)) < 2:
            raise ValueError("y_labeled must contain at least two classes to train the proxy.")
        test = None
        if X_test is not None:
            X_test = load_images(as_image_source(X_test), size)
            y_test, _ = _check_labels(y_test, "y_test", len(X_test), "X_test", kind)
            warn_unseen_test_labels(y_test, y_labeled, "y_labeled")
            test = (X_test, y_test)
        proxy = self.proxy if self.proxy is not None else _default_proxy()
        y_scored = test[1] if test is not None else None
        self._scorer = check_scorer(proxy, self.scoring, y_labeled, y_scored)

        identity = self._identity(pool, labeled, y_labeled, test)
        state = self._start(identity, len(pool), simclr, path)
        seed = state["seed"]
        if self._simclr_dir is not None and state["round"] > 0:  # killed before its cleanup
            _discard(self._round_dir(int(state["round"]) - 1))
        if simclr.random_state is None:
            simclr.set_params(random_state=seed)
        self.simclr_ = simclr
        selected = state["selected"].numpy()
        history = [dict(r) for r in state["history"]]
        rounds = range(int(state["round"]), self.n_rounds)
        for t in progress(rounds, total=len(rounds), desc="rounds", verbose=self.verbose):
            record, selected = self._round(t, seed, pool, selected, labeled, y_labeled, test)
            history.append(
                dict(record, time=record["time"] + (history[-1]["time"] if history else 0))
            )
            if path is not None:
                save_checkpoint(
                    path,
                    {
                        "identity": identity,
                        "seed": seed,
                        "round": t + 1,
                        "selected": torch.from_numpy(selected),
                        "history": history,
                        "simclr": self.simclr_.get_training_state(),
                    },
                )
            if self._simclr_dir is not None:
                _discard(self._round_dir(t))
        if int(state["round"]) >= self.n_rounds:  # resumed after the last round: no proxy yet
            self.proxy_ = self._fit_proxy(seed, self.n_rounds - 1, labeled, y_labeled)
        self.selected_ = selected
        self.history_ = history
        self.n_features_out_ = self._n_features_out = self.simclr_.n_features_out_
        return self

    def _round_dir(self, t):
        # One folder per round: a finished round's checkpoint never meets the next round's data.
        return os.path.join(os.fspath(self._simclr_dir), f"round-{t}")

    def _fit_proxy(self, seed, t, labeled, y_labeled):
        proxy = self.proxy if self.proxy is not None else _default_proxy()
        proxy = with_seed(proxy, seed + t)
        return proxy.fit(self.simclr_.transform(labeled), y_labeled)

    def _round(self, t, seed, pool, selected, labeled, y_labeled, test):
        n_images = len(selected)
        start = time.perf_counter()
        self.simclr_.set_params(warm_start=t > 0)
        if self._simclr_dir is not None:
            self.simclr_.set_params(checkpoint_dir=self._round_dir(t))
        self.simclr_.fit(pool[selected])
        fit_time = time.perf_counter() - start

        start = time.perf_counter()
        self.proxy_ = self._fit_proxy(seed, t, labeled, y_labeled)
        proxy_time = time.perf_counter() - start

        score, score_time = None, None  # not scored without a test set
        if test is not None:
            start = time.perf_counter()
            score = float(self._scorer(self.proxy_, self.simclr_.transform(test[0]), test[1]))
            score_time = time.perf_counter() - start

        query_time = None  # nothing is queried after the last round
        if t < self.n_rounds - 1:
            start = time.perf_counter()
            new = self._query(t, seed, pool, selected, labeled, y_labeled)
            selected = np.concatenate([selected, new])
            query_time = time.perf_counter() - start
        record = history_entry(
            t,
            {"n_images": n_images},
            score,
            fit_time,
            query_time,
            proxy_time=proxy_time,
            score_time=score_time,
            time=fit_time + proxy_time + (query_time or 0.0),
        )
        return record, selected

    def _query(self, t, seed, pool, selected, labeled, y_labeled):
        """Pool indices of the next ``batch_size`` images, chosen among random candidates."""
        remaining = unselected(len(pool), selected)
        if len(remaining) == 0:
            return np.empty(0, dtype=selected.dtype)
        candidates = draw_candidates(remaining, self.n_candidates, seed, t)
        strategy = self.query_strategy
        strategy = with_seed(strategy if strategy is not None else _default_strategy(), seed + t)
        missing = getattr(strategy, "missing_label", -1)
        codes = LabelEncoder().fit_transform(y_labeled)
        X_query = np.vstack(
            [self.simclr_.transform(labeled), self.simclr_.transform(pool[candidates])]
        )
        y_query = np.concatenate([codes, np.full(len(candidates), missing)])
        chosen = strategy.query(
            X_query, y_query, self.proxy_, batch_size=min(self.batch_size, len(candidates))
        )
        return candidates[np.asarray(chosen) - len(labeled)]

    def transform(self, X):
        """Encoder features of ``X`` after the last round (float32, ``(n, n_features_out_)``)."""
        check_is_fitted(self, "simclr_")
        return self.simclr_.transform(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.non_deterministic = True
        return tags
