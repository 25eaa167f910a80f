"""Active sampling under bad input and faults: every error names its cause, nothing is lost."""

import json
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from conftest import child_env
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from skhisto import (
    ActiveLearner,
    CoresetSampling,
    RandomSampling,
    TypiClustSampling,
    UncertaintySampling,
)
from skhisto.active import k_center_greedy, uncertainty_scores
from skhisto.exceptions import CheckpointError, CheckpointMismatchError, NonFiniteError
from skhisto.utils import CHECKPOINT_FILE, load_checkpoint, save_checkpoint


def _pool(n=60, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 4)
    y_true = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y_true


def _learner(**params):
    defaults = dict(batch_size=5, n_rounds=3, random_state=0)
    strategy = params.pop("query_strategy", RandomSampling(random_state=0))
    return ActiveLearner(LogisticRegression(), strategy, **{**defaults, **params})


class _Oracle:
    """Answers from ``labels``, records every call, and can be told to fail on a call."""

    def __init__(self, labels, fail_on=None, exc=RuntimeError("oracle unavailable")):
        self.labels, self.fail_on, self.exc, self.calls = labels, fail_on, exc, 0

    def __call__(self, indices):
        self.calls += 1
        if self.calls == self.fail_on:
            raise self.exc
        return self.labels[indices]


class _Proba(ClassifierMixin, BaseEstimator):
    """A fitted model whose probabilities are a fixed function of X (NaN where X is)."""

    def __init__(self, diverged=False):
        self.diverged = diverged
        self.classes_ = np.array([0, 1])

    def fit(self, X, y):
        return self

    def predict_proba(self, X):
        z = np.asarray(X, dtype=float)[:, 0]
        p = 1 / (1 + np.exp(-z))
        if self.diverged:
            p = np.full_like(p, np.nan)
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _state(learner):
    return (
        learner.labeled_indices_.copy(),
        learner.labels_.copy(),
        [dict(h) for h in learner.history_],
    )


# --- bullet 1: a checkpoint is resumed only by its own run ----------------------------------


@pytest.mark.parametrize(
    "change, named",
    [
        ({"X": "other"}, "data: not the same"),
        ({"batch_size": 4}, "batch_size"),
        ({"n_rounds": 5}, "n_rounds"),
        ({"query_strategy": CoresetSampling()}, "query_strategy"),
        ({"estimator": LogisticRegression(C=0.1)}, "estimator"),
        ({"n_candidates": 20}, "n_candidates"),
        ({"initial": [1, 2, 3, 4, 5]}, "initial indices: not the same"),
        ({"X_test": "other"}, "test data: not the same"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_checkpoint_of_another_run_is_refused_and_kept(tmp_path, change, named):
    X, y = _pool()
    path = tmp_path / CHECKPOINT_FILE
    _learner(checkpoint_dir=tmp_path, n_rounds=1).fit(X, y)
    before = path.read_bytes()
    params = dict(checkpoint_dir=tmp_path, n_rounds=1)
    X_new, fit_kw = X, {}
    if change.get("X") == "other":
        X_new = X + 1.0  # same pool size, another dataset
    elif "initial" in change:
        fit_kw["initial"] = change["initial"]
    elif "X_test" in change:
        fit_kw.update(X_test=X[:10], y_test=y[:10])
    elif "estimator" in change:
        params["estimator"] = change["estimator"]
    else:
        params.update(change)
    estimator = params.pop("estimator", LogisticRegression())
    strategy = params.pop("query_strategy", RandomSampling(random_state=0))
    learner = ActiveLearner(estimator, strategy, **{"batch_size": 5, "random_state": 0, **params})
    oracle = _Oracle(y)
    with pytest.raises(CheckpointMismatchError, match=rf"belongs to another run.*{named}"):
        learner.fit(X_new, oracle, **fit_kw)
    assert path.read_bytes() == before and oracle.calls == 0


def test_checkpoint_mismatch_says_how_to_start_afresh(tmp_path):
    X, y = _pool()
    path = tmp_path / CHECKPOINT_FILE
    _learner(checkpoint_dir=tmp_path, n_rounds=1).fit(X, y)
    with pytest.raises(CheckpointMismatchError, match="batch_size=5 there, 6 now") as info:
        _learner(checkpoint_dir=tmp_path, n_rounds=1, batch_size=6).fit(X, y)
    assert str(path) in str(info.value) and "delete it or pass another checkpoint_dir=" in str(
        info.value
    )


def test_checkpoint_of_the_same_run_resumes_with_a_random_state_instance(tmp_path):
    # A RandomState's repr holds its address: it must not make every resume a mismatch.
    X, y = _pool()
    first = _learner(checkpoint_dir=tmp_path, random_state=np.random.RandomState(0)).fit(X, y)
    again = _learner(checkpoint_dir=tmp_path, random_state=np.random.RandomState(0)).fit(X, y)
    np.testing.assert_array_equal(again.labeled_indices_, first.labeled_indices_)


def test_warm_start_on_another_pool_is_refused():
    X, y = _pool()
    learner = _learner(warm_start=True).fit(X, y)
    before = _state(learner)
    with pytest.raises(ValueError, match="warm_start=True continues the run on the pool"):
        learner.fit(X[::-1].copy(), y[::-1].copy())
    after = _state(learner)
    np.testing.assert_array_equal(after[0], before[0])
    assert after[2] == before[2]


def test_warm_start_and_checkpoint(tmp_path):
    """The documented interaction: memory first, then the checkpoint, never a foreign file."""
    X, y = _pool(80)
    learner = _learner(checkpoint_dir=tmp_path, n_rounds=2, warm_start=True).fit(X, y)
    learner.fit(X, y)  # a finished run in memory: two more rounds, written to the file
    assert [h["n_labeled"] for h in learner.history_] == [5, 10, 15, 20, 25]
    uninterrupted = _learner(n_rounds=4).fit(X, y)
    np.testing.assert_array_equal(learner.labeled_indices_, uninterrupted.labeled_indices_)
    # A new process (no state in memory) restores the extended run, warm_start or not.
    restored = _learner(checkpoint_dir=tmp_path, n_rounds=2, warm_start=True).fit(X, y)
    np.testing.assert_array_equal(restored.labeled_indices_, learner.labeled_indices_)
    assert len(restored.history_) == 5
    # A fitted learner pointed at another run's checkpoint does not overwrite it.
    other = tmp_path / "other"
    _learner(checkpoint_dir=other, n_rounds=1, random_state=1).fit(X, y)
    before = (other / CHECKPOINT_FILE).read_bytes()
    learner.set_params(checkpoint_dir=other)
    with pytest.raises(CheckpointMismatchError, match="holds another run.*checkpoint_dir="):
        learner.fit(X, y)
    assert (other / CHECKPOINT_FILE).read_bytes() == before


# --- bullet 2: the oracle's answers are checked, rounds are transactional -------------------


@pytest.mark.parametrize("as_array", [False, True])
def test_oracle_answering_the_missing_label_is_refused(as_array):
    X, y = _pool()
    y = y.copy()
    y[7] = -1
    oracle = y if as_array else _Oracle(y)
    learner = _learner(n_initial=60, batch_size=5) if not as_array else _learner()
    with pytest.raises(ValueError, match=r"missing-label value -1 for index 7.*missing_label=-1"):
        learner.fit(X, oracle)
    assert not hasattr(learner, "labels_")


def test_oracle_answering_nan_float_labels_is_refused():
    X, y = _pool()
    labels = y.astype(float)
    labels[3] = np.nan
    with pytest.raises(ValueError, match="missing-label value nan for index 3"):
        _learner(n_initial=60).fit(X, _Oracle(labels))


def test_oracle_switching_label_type_is_refused_and_nothing_changes():
    X, y = _pool()
    names = np.array(["benign", "tumour"])[y]
    calls = []

    def oracle(indices):  # ints for the initial set, then strings
        calls.append(1)
        return y[indices] if len(calls) == 1 else names[indices]

    learner = _learner(n_rounds=1)
    with pytest.raises(
        ValueError,
        match=r"ActiveLearner: oracle mixes label types: index \d+ holds '\w+' \(str\) "
        r"but labels_ so far has int labels",
    ):
        learner.fit(X, oracle)
    assert not hasattr(learner, "history_")


def test_mixed_type_labels_in_y_are_refused_naming_the_index():
    X, y = _pool()
    y_obj = np.where(y == 1, 1, -1).astype(object)
    y_obj[[3, 9]] = [0, "tumour"]
    for strategy in (RandomSampling(random_state=0), CoresetSampling()):
        with pytest.raises(
            ValueError, match=r"y mixes label types: index 9 holds 'tumour' \(str\)"
        ):
            strategy.query(X, y_obj, batch_size=2)


def test_oracle_exception_leaves_the_learner_as_before_the_round():
    X, y = _pool(80)
    uninterrupted = _learner(n_rounds=4).fit(X, y)
    learner = _learner(n_rounds=2, warm_start=True).fit(X, y)
    before = _state(learner)
    learner.set_params(n_rounds=2)
    oracle = _Oracle(y, fail_on=2)  # the second round's labels
    with pytest.raises(RuntimeError, match="oracle unavailable"):
        learner.fit(X, oracle)
    # The redone round 2 was committed whole (queried: 20 labels); nothing of round 3 was.
    labeled, labels, history = _state(learner)
    assert len(labeled) == len(labels) == 20 and len(history) == 3
    assert history[-1]["query_time"] is not None
    np.testing.assert_array_equal(labeled[:15], before[0])
    np.testing.assert_array_equal(labels, y[labeled])
    learner.fit(X, y)  # warm_start completes the interrupted run exactly
    np.testing.assert_array_equal(learner.labeled_indices_, uninterrupted.labeled_indices_)
    assert [h["n_labeled"] for h in learner.history_] == [5, 10, 15, 20, 25]


# --- bullet 3: checkpoint files -----------------------------------------------------------


def _corrupt(path, kind):
    data = path.read_bytes()
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "garbage":
        path.write_bytes(b"not a checkpoint at all")
    elif kind == "pickled":  # an array member holding pickled objects
        with np.load(path) as f:
            members = dict(f)
        members["array_0"] = np.array([{"a": 1}], dtype=object)
        np.savez(path, **members)
    elif kind == "foreign-npz":
        np.savez(path, labels=np.arange(3))
    elif kind == "missing-keys":  # a whole checkpoint of this run, but not an ActiveLearner's
        state = load_checkpoint(path)
        del state["labeled"]
        save_checkpoint(path, state)
    elif kind == "old-version":
        with np.load(path) as f:
            members = dict(f)
        header = json.loads(str(members["checkpoint"]))
        members["checkpoint"] = np.array(json.dumps(dict(header, version=0)))
        np.savez(path, **members)


@pytest.mark.parametrize("kind", ["truncated", "garbage", "pickled", "foreign-npz", "missing-keys"])
def test_unreadable_checkpoint_raises_checkpoint_error_and_is_kept(tmp_path, kind):
    X, y = _pool()
    path = tmp_path / CHECKPOINT_FILE
    _learner(checkpoint_dir=tmp_path, n_rounds=1).fit(X, y)
    _corrupt(path, kind)
    before = path.read_bytes()
    oracle = _Oracle(y)
    with pytest.raises(CheckpointError, match="cannot be read") as info:
        _learner(checkpoint_dir=tmp_path, n_rounds=1).fit(X, oracle)
    assert str(path) in str(info.value) and "delete it or pass another checkpoint_dir=" in str(
        info.value
    )
    assert path.read_bytes() == before and oracle.calls == 0


def test_checkpoint_of_an_older_format_is_not_resumed(tmp_path):
    X, y = _pool()
    path = tmp_path / CHECKPOINT_FILE
    _learner(checkpoint_dir=tmp_path, n_rounds=1).fit(X, y)
    _corrupt(path, "old-version")
    before = path.read_bytes()
    with pytest.raises(CheckpointMismatchError, match="another version of skhisto"):
        _learner(checkpoint_dir=tmp_path, n_rounds=1).fit(X, y)
    assert path.read_bytes() == before


def test_deprecated_checkpoint_file_still_resumes_and_warns(tmp_path):
    X, y = _pool()
    path = tmp_path / "run.npz"
    rename = r"'checkpoint' of ActiveLearner was renamed 'checkpoint_dir' in 0\.1.*removed in 0\.3"
    with pytest.warns(FutureWarning, match=rename) as caught:
        first = _learner(checkpoint=path, n_rounds=1).fit(X, y)
    assert caught[0].filename == __file__  # the user's line, not sklearn's wrapper
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]  # the file as given
    with (
        pytest.warns(FutureWarning, match=rename),
        pytest.raises(
            CheckpointMismatchError, match=r"batch_size=5 there, 6 now.*another checkpoint="
        ),
    ):
        _learner(checkpoint=path, n_rounds=1, batch_size=6).fit(X, y)
    with pytest.warns(FutureWarning, match=rename):
        again = _learner(checkpoint=path, n_rounds=1).fit(X, _Oracle(y, fail_on=1))
    np.testing.assert_array_equal(again.labeled_indices_, first.labeled_indices_)


def test_deprecated_checkpoint_keeps_the_sklearn_contract(tmp_path):
    learner = _learner(checkpoint_dir=tmp_path)
    assert learner.get_params()["checkpoint"] == "deprecated"
    assert clone(learner).get_params(deep=False)["checkpoint"] == "deprecated"
    assert clone(learner).get_params(deep=False)["checkpoint_dir"] == tmp_path
    X, y = _pool()
    with pytest.warns(FutureWarning, match="renamed 'checkpoint_dir'"):
        _learner().set_params(checkpoint=None).fit(X, y)  # explicitly None warns too
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="checkpoint_dir only"):
        _learner(checkpoint_dir=tmp_path, checkpoint=tmp_path / "run.npz").fit(X, y)
    assert not list(tmp_path.iterdir())
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # the new spelling is silent
        _learner(checkpoint_dir=tmp_path, n_rounds=1).fit(X, y)


def test_checkpoint_directory_is_checked_before_the_first_label(tmp_path):
    X, y = _pool()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    oracle = _Oracle(y)
    with pytest.raises(OSError, match=r"checkpoint_dir= directory.*a-file"):
        _learner(checkpoint_dir=blocker / "ckpt").fit(X, oracle)
    assert oracle.calls == 0
    (tmp_path / "taken" / CHECKPOINT_FILE).mkdir(parents=True)
    with pytest.raises(ValueError, match="which is not a file"):
        _learner(checkpoint_dir=tmp_path / "taken").fit(X, oracle)
    assert oracle.calls == 0
    # A missing directory is created, not discovered missing after round 0.
    learner = _learner(checkpoint_dir=tmp_path / "new", n_rounds=1).fit(X, y)
    assert (tmp_path / "new" / CHECKPOINT_FILE).is_file() and len(learner.history_) == 2


@pytest.mark.parametrize("fault", ["disk-full", "ctrl-c"])
def test_failed_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch, fault):
    from skhisto.active import _learner as module

    X, y = _pool()
    path = tmp_path / CHECKPOINT_FILE
    real_savez, writes = np.savez, []

    def failing(file, **arrays):
        writes.append(1)
        if len(writes) == 2:
            file.write(b"PK\x03\x04partial")
            if fault == "ctrl-c":
                raise KeyboardInterrupt
            raise OSError(28, "No space left on device")
        real_savez(file, **arrays)

    monkeypatch.setattr(module.np, "savez", failing)
    if fault == "disk-full":
        with pytest.raises(OSError, match=r"Cannot write .*checkpoint\.npz.*No space left") as info:
            _learner(checkpoint_dir=tmp_path).fit(X, y)
        assert info.value.errno == 28
    else:
        with pytest.raises(KeyboardInterrupt):
            _learner(checkpoint_dir=tmp_path).fit(X, y)
    monkeypatch.setattr(module.np, "savez", real_savez)
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_FILE]  # no temporary
    assert len(load_checkpoint(path)["labeled"]) == 10  # round 0 and its query, intact
    resumed = _learner(checkpoint_dir=tmp_path).fit(X, y)
    np.testing.assert_array_equal(resumed.labeled_indices_, _learner().fit(X, y).labeled_indices_)


@pytest.mark.slow
def test_kill_9_between_rounds_then_resume_gives_the_uninterrupted_run(tmp_path):
    X, y = _pool(80)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    script = textwrap.dedent(
        f"""
        import os, signal, numpy as np
        from sklearn.linear_model import LogisticRegression
        from skhisto import ActiveLearner, CoresetSampling
        X, y = np.load({str(tmp_path / "X.npy")!r}), np.load({str(tmp_path / "y.npy")!r})
        calls = []
        def oracle(indices):
            calls.append(1)
            if len(calls) == 4:
                os.kill(os.getpid(), signal.SIGKILL)
            return y[indices]
        ActiveLearner(LogisticRegression(), CoresetSampling(), batch_size=5, n_rounds=5,
                      random_state=0, checkpoint_dir={str(tmp_path)!r}).fit(
            X, oracle, X_test=X, y_test=y)
        """
    )
    env = child_env()
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    params = dict(batch_size=5, n_rounds=5, random_state=0)
    resumed = ActiveLearner(
        LogisticRegression(), CoresetSampling(), checkpoint_dir=tmp_path, **params
    ).fit(X, y, X_test=X, y_test=y)
    assert resumed.history_[2]["query_time"] is not None  # rounds 0-2 came from the file
    full = ActiveLearner(LogisticRegression(), CoresetSampling(), **params).fit(
        X, y, X_test=X, y_test=y
    )
    np.testing.assert_array_equal(resumed.labeled_indices_, full.labeled_indices_)
    assert [h["n_labeled"] for h in resumed.history_] == [h["n_labeled"] for h in full.history_]
    assert [h["score"] for h in resumed.history_] == [h["score"] for h in full.history_]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# --- bullet 4: non-finite outputs never make a silent pick --------------------------------


def test_nan_probabilities_raise_naming_strategy_and_estimator():
    X, _ = _pool()
    y = np.full(len(X), -1)
    y[:2] = [0, 1]
    for method in ("entropy", "margin", "least_confident"):
        with pytest.raises(
            NonFiniteError,
            match=r"UncertaintySampling got NaN .*probabilities from the "
            r"estimator _Proba for 58 of 58 candidates \(the first at index 2",
        ):
            UncertaintySampling(method).query(X, y, _Proba(diverged=True), batch_size=3)


def test_nan_probabilities_stop_the_active_learner_and_keep_its_state(tmp_path):
    X, y = _pool()
    learner = ActiveLearner(
        _Proba(diverged=True),
        UncertaintySampling(),
        batch_size=5,
        n_rounds=2,
        random_state=0,
        checkpoint_dir=tmp_path,
    )
    with pytest.raises(NonFiniteError, match="_Proba"):
        learner.fit(X, y)
    assert not hasattr(learner, "history_") and not (tmp_path / CHECKPOINT_FILE).exists()


def test_uncertainty_scores_refuses_non_finite_probabilities():
    with pytest.raises(ValueError, match="proba contains NaN or inf in 1 rows .*row 1"):
        uncertainty_scores(np.array([[0.5, 0.5], [np.nan, 0.5]]))


def test_predict_proba_of_the_wrong_shape_is_refused():
    class Flat(_Proba):
        def predict_proba(self, X):
            return super().predict_proba(X)[:, 1]

    X, _ = _pool()
    y = np.full(len(X), -1)
    y[:2] = [0, 1]
    with pytest.raises(ValueError, match=r"Flat.predict_proba returned an array of shape \(58,\)"):
        UncertaintySampling().query(X, y, Flat(), batch_size=1)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize(
    "query",
    [
        lambda X, y: CoresetSampling().query(X, y, batch_size=2),
        lambda X, y: TypiClustSampling(random_state=0).query(X, y, batch_size=2),
        lambda X, y: k_center_greedy(X, 2),
    ],
    ids=["CoresetSampling", "TypiClustSampling", "k_center_greedy"],
)
def test_non_finite_X_is_refused_naming_X(query, bad, request):
    X, _ = _pool()
    X[[4, 9], 1] = bad
    y = np.full(len(X), -1)
    who = request.node.callspec.id.split("-")[0]
    with pytest.raises(
        ValueError, match=rf"{who} got NaN or infinite values in X in 2 rows \(the first is row 4"
    ):
        query(X, y)


@pytest.mark.parametrize(
    "query",
    [
        lambda X: CoresetSampling().query(X, np.full(len(X), -1), batch_size=1),
        lambda X: TypiClustSampling().query(X, np.full(len(X), -1), batch_size=1),
        lambda X: k_center_greedy(X, 1),
    ],
    ids=["CoresetSampling", "TypiClustSampling", "k_center_greedy"],
)
def test_image_paths_for_a_feature_strategy_are_refused_naming_it(query, request):
    who = request.node.callspec.id
    with pytest.raises(ValueError, match=rf"{who} needs X as numeric feature vectors"):
        query(np.array(["a.png", "b.png", "c.png"]))
    with pytest.raises(ValueError, match="Expected 2D array"):
        query(np.arange(3.0))


def test_values_overflowing_float32_distances_are_refused():
    X, _ = _pool()
    X[3] = 1e30
    with pytest.raises(ValueError, match="too large for the float32 distances"):
        k_center_greedy(X, 3, centers=[0])
    with pytest.raises(ValueError, match="rescale X"):
        CoresetSampling().query(X, np.full(len(X), -1), batch_size=2)


# --- bullet 6: empty, wrong shape, wrong type --------------------------------------------


@pytest.mark.parametrize(
    "strategy",
    [RandomSampling(), UncertaintySampling(), CoresetSampling(), TypiClustSampling()],
    ids=repr,
)
def test_empty_X_is_refused(strategy):
    X = np.empty((0, 4)) if strategy._needs_numeric_X else []
    with pytest.raises(ValueError, match=r"X is empty|0 sample"):
        strategy.query(X, np.empty(0), _Proba(), batch_size=1)


def test_empty_X_is_refused_by_the_learner_before_labeling():
    oracle = _Oracle(np.empty(0))
    with pytest.raises(ValueError, match="X is empty"):
        _learner().fit(np.empty((0, 4)), oracle)
    assert oracle.calls == 0


def test_X_without_samples_is_refused_naming_X():
    with pytest.raises(
        TypeError, match="X must be a sequence or an array of samples, got NoneType"
    ):
        RandomSampling().query(None, [0, -1], batch_size=1)
    with pytest.raises(TypeError, match="X must be a sequence"):
        _learner().fit(np.float64(3.0), [0])


def test_empty_candidates_is_refused():
    X, _ = _pool()
    y = np.full(len(X), -1)
    with pytest.raises(ValueError, match="candidates is empty"):
        RandomSampling().query(X, y, candidates=[], batch_size=1)


def test_float_candidates_are_refused():
    X, _ = _pool()
    with pytest.raises(ValueError, match="candidates must be a 1-D array of integer indices"):
        RandomSampling().query(X, np.full(len(X), -1), candidates=[1.0, 2.0], batch_size=1)


def test_empty_initial_is_refused():
    X, y = _pool()
    with pytest.raises(ValueError, match="initial is empty"):
        _learner().fit(X, y, initial=[])


@pytest.mark.parametrize(
    "initial, message",
    [([3, 3], "initial contains duplicate indices"), ([60], "out of range"), ([0.5], "integer")],
)
def test_bad_initial_indices_are_refused(initial, message):
    X, y = _pool()
    oracle = _Oracle(y)
    with pytest.raises(ValueError, match=message):
        _learner().fit(X, oracle, initial=initial)
    assert oracle.calls == 0


def test_missing_label_of_another_type_than_y_is_explained():
    X, _ = _pool(5)
    with pytest.raises(ValueError, match="y holds int labels and missing_label is a str"):
        RandomSampling(missing_label="?").query(X, [0, 1, 0, 1, 0], batch_size=1)


def test_y_of_more_than_one_dimension_is_refused():
    from skhisto.active import is_unlabeled

    with pytest.raises(ValueError, match=r"y must be 1-D \(one label per sample\), got shape"):
        is_unlabeled(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="y must be 1-D with one label per sample of X"):
        RandomSampling().query(np.zeros((4, 2)), np.zeros((4, 1)), batch_size=1)


def test_one_labeled_class_fails_in_round_0_with_the_estimators_error(tmp_path):
    X, _ = _pool()
    with pytest.raises(ValueError, match="only one class"):
        _learner(checkpoint_dir=tmp_path).fit(X, np.zeros(len(X), dtype=int))
    assert not (tmp_path / CHECKPOINT_FILE).exists()


def test_unfitted_learner_refuses_predict_and_score():
    from sklearn.exceptions import NotFittedError

    X, y = _pool()
    for method in ("predict", "predict_proba", "score"):
        args = (X, y) if method == "score" else (X,)
        with pytest.raises(NotFittedError, match="ActiveLearner instance is not fitted"):
            getattr(_learner(), method)(*args)


def test_n_initial_larger_than_the_pool_is_refused():
    X, y = _pool(20)
    oracle = _Oracle(y)
    with pytest.raises(ValueError, match=r"n_initial=30 exceeds the pool size \(20\)"):
        _learner(n_initial=30).fit(X, oracle)
    assert oracle.calls == 0


def test_test_set_problems_are_refused_before_the_first_label():
    X, y = _pool()
    oracle = _Oracle(y)
    with pytest.raises(ValueError, match=r"y_test must hold one label per sample of X_test \(60"):
        _learner().fit(X, oracle, X_test=X, y_test=y[:-1])
    with pytest.raises(ValueError, match="not a valid scoring value|Invalid|scoring"):
        _learner(scoring="no-such-metric").fit(X, oracle, X_test=X, y_test=y)
    assert oracle.calls == 0


def test_oracle_of_the_wrong_length_is_refused():
    X, y = _pool()
    with pytest.raises(ValueError, match=r"returned labels of shape \(2,\) for 5 queried indices"):
        _learner().fit(X, lambda idx: y[idx][:2])
    with pytest.raises(ValueError, match=r"returned labels of shape \(5, 1\)"):
        _learner().fit(X, lambda idx: y[idx][:, None])


def test_oracle_array_is_copied_and_not_mutated():
    X, y = _pool()
    y_before = y.copy()
    learner = _learner().fit(X, y)
    np.testing.assert_array_equal(y, y_before)
    labels_before = learner.labels_.copy()
    y[:] = 1 - y  # changing the caller's array afterwards does not change the run
    np.testing.assert_array_equal(learner.labels_, labels_before)


# --- bullet 5: invariants of the strategies -------------------------------------------------

_KINDS = {
    "int": (np.array([0, 1]), -1, None),
    "str": (np.array(["normal", "tumour"]), "?", None),
    "float": (np.array([0.0, 1.0]), np.nan, float),
    "none": (np.array(["normal", "tumour"], dtype=object), None, object),
}

_FACTORIES = {
    "random": lambda ml, seed: RandomSampling(missing_label=ml, random_state=seed),
    "entropy": lambda ml, seed: UncertaintySampling(missing_label=ml),
    "margin": lambda ml, seed: UncertaintySampling("margin", missing_label=ml),
    "coreset": lambda ml, seed: CoresetSampling(missing_label=ml, random_state=seed),
    "cosine": lambda ml, seed: CoresetSampling("cosine", missing_label=ml, random_state=seed),
    "typiclust": lambda ml, seed: TypiClustSampling(
        missing_label=ml, n_neighbors=3, random_state=seed
    ),
}


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(3, 25),
    seed=st.integers(0, 2**16),
    kind=st.sampled_from(sorted(_KINDS)),
    name=st.sampled_from(sorted(_FACTORIES)),
    labeled_share=st.floats(0, 0.8),
    subset=st.booleans(),
    extra=st.integers(-30, 3),
)
def test_query_invariants(n, seed, kind, name, labeled_share, subset, extra):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 3)
    classes, missing, dtype = _KINDS[kind]
    labeled = rng.rand(n) < labeled_share
    labeled[0] = False  # at least one unlabeled sample
    y = np.empty(n, dtype=dtype or classes.dtype)
    y[:] = missing
    y[labeled] = classes[rng.randint(2, size=labeled.sum())]
    y_before = y.copy()
    unlabeled = np.flatnonzero(~labeled)
    candidates = None
    if subset:
        candidates = np.sort(
            rng.choice(unlabeled, size=rng.randint(1, len(unlabeled) + 1), replace=False)
        )
    pool = unlabeled if candidates is None else candidates
    batch_size = max(1, len(pool) + extra) if extra > 0 else max(1, min(len(pool), -extra))
    strategy = _FACTORIES[name](missing, seed)
    if batch_size > len(pool):
        with pytest.raises(ValueError, match=f"batch_size={batch_size} is larger"):
            strategy.query(X, y, _Proba(), candidates=candidates, batch_size=batch_size)
        return
    picked = strategy.query(X, y, _Proba(), candidates=candidates, batch_size=batch_size)
    assert picked.shape == (min(batch_size, len(pool)),) and picked.dtype.kind == "i"
    assert len(np.unique(picked)) == len(picked)
    assert set(picked.tolist()) <= set(pool.tolist())
    assert not labeled[picked].any()
    again = clone(strategy).query(X, y, _Proba(), candidates=candidates, batch_size=batch_size)
    np.testing.assert_array_equal(again, picked)
    assert y.dtype == y_before.dtype and all(
        a == b or (a != a and b != b) for a, b in zip(y, y_before, strict=True)
    )  # y not mutated


def _brute_force_k_center(X, n_select, centers, candidates, seed):
    centers, picks = list(centers), []
    if not centers:
        first = candidates[np.random.RandomState(seed).randint(len(candidates))]
        picks, centers = [first], [first]
    while len(picks) < n_select:
        remaining = [c for c in candidates if c not in picks]
        best = max(remaining, key=lambda c: (cdist(X[[c]], X[centers]).min(), -c))
        picks.append(best)
        centers.append(best)
    return picks


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 16),
    d=st.integers(1, 3),
    seed=st.integers(0, 2**16),
    n_centers=st.integers(0, 6),
    chunk_size=st.integers(1, 5),
    data=st.data(),
)
def test_k_center_greedy_matches_brute_force(n, d, seed, n_centers, chunk_size, data):
    # Small integer coordinates: float32 distances are exact, ties are real ties.
    rng = np.random.RandomState(seed)
    X = rng.randint(-4, 5, size=(n, d)).astype(np.float32)
    order = rng.permutation(n)
    centers = np.sort(order[: min(n_centers, n - 1)])
    candidates = np.sort(order[len(centers) :])
    n_select = data.draw(st.integers(1, len(candidates)))
    got = k_center_greedy(X, n_select, centers=centers, chunk_size=chunk_size, random_state=seed)
    expected = _brute_force_k_center(X, n_select, centers.tolist(), candidates.tolist(), seed)
    np.testing.assert_array_equal(got, expected)


def test_pool_digest_tells_other_samples_apart():
    # The data identity of a checkpoint: never equal for different pools, whatever their form.
    from skhisto.active._learner import _digest_pool

    images = [np.zeros((3, 3)), np.zeros((4, 4))]
    assert _digest_pool(images) != _digest_pool([np.zeros((3, 3)), np.ones((4, 4))])
    assert _digest_pool(["a.png", "b.png"]) == _digest_pool(np.array(["a.png", "b.png"]))
    assert _digest_pool(["a.png", "b.png"]) != _digest_pool(["b.png", "a.png"])
    big = np.arange(10_000.0)  # str() of a large array is abbreviated with "..."
    assert _digest_pool([big, big[:5]]) != _digest_pool([big + 1, big[:5]])


def test_uncertainty_sampling_warns_when_every_candidate_ties():
    # Before: a saturated model gave all-equal utilities and the first candidates were
    # picked without a word.
    from sklearn.dummy import DummyClassifier

    X = np.random.RandomState(0).normal(size=(30, 3))
    y = np.full(30, -1)
    y[:6] = [0, 1, 0, 1, 0, 1]
    saturated = DummyClassifier(strategy="prior").fit(X[:6], y[:6])
    with pytest.warns(UserWarning, match=r"all 24 candidates have the same entropy.*lowest"):
        picked = UncertaintySampling().query(X, y, saturated, batch_size=3)
    assert picked.tolist() == [6, 7, 8]


@pytest.mark.parametrize("array_oracle", [True, False], ids=["array", "callable"])
def test_y_test_of_another_label_type_is_refused_before_any_training(array_oracle):
    # Before: scikit-learn's raw "Mix of label input types" after the oracle had answered
    # and round 0 had been trained.
    X, y = make_classification(n_samples=80, n_features=5, random_state=0)
    oracle = y if array_oracle else (lambda indices: y[indices])
    learner = ActiveLearner(LogisticRegression(), RandomSampling(random_state=0), random_state=0)
    with pytest.raises(ValueError, match=r"y_test mixes label types: index 0 holds 'b'.*oracle"):
        learner.fit(X, oracle, X_test=X, y_test=np.where(y == 1, "a", "b"))
    assert not hasattr(learner, "estimator_")


def test_y_test_classes_the_oracle_never_gives_are_warned_about():
    X, y = make_classification(n_samples=80, n_features=5, random_state=0)
    learner = ActiveLearner(LogisticRegression(), RandomSampling(random_state=0), n_rounds=1)
    with pytest.warns(UserWarning, match=r"y_test has labels \[5, 6\] absent from the oracle"):
        learner.fit(X, y, X_test=X, y_test=y + 5)


def test_checkpoint_of_a_run_with_other_oracle_labels_is_refused(tmp_path):
    # Before: the run resumed and mixed rounds chosen and scored on two labelings.
    X, y = make_classification(n_samples=80, n_features=5, random_state=0)
    make = dict(batch_size=5, n_rounds=2, checkpoint_dir=tmp_path, random_state=0)
    ActiveLearner(LogisticRegression(), RandomSampling(random_state=0), **make).fit(X, y)
    before = (tmp_path / CHECKPOINT_FILE).read_bytes()
    with pytest.raises(
        CheckpointMismatchError,
        match=r"labeled 15 of its 15 samples otherwise than this oracle.*delete it",
    ):
        ActiveLearner(LogisticRegression(), RandomSampling(random_state=0), **make).fit(X, 1 - y)
    assert (tmp_path / CHECKPOINT_FILE).read_bytes() == before


def test_a_pool_that_runs_out_before_the_last_round_is_said():
    from sklearn.linear_model import LogisticRegression

    from skhisto.active import ActiveLearner, RandomSampling

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(18, 3)), np.tile([0, 1], 9)
    learner = ActiveLearner(
        LogisticRegression(),
        RandomSampling(random_state=0),
        n_rounds=20,
        batch_size=5,
        n_initial=3,
        random_state=0,
    )
    with pytest.warns(
        UserWarning, match="pool is labeled after round 3, so the run stops 17 rounds early"
    ):
        learner.fit(X, y)
    assert [entry["n_labeled"] for entry in learner.history_] == [3, 8, 13, 18]
