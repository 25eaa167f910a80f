"""Query strategies, k-center greedy and the active-learning loop."""

import pickle

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC
from sklearn.utils._param_validation import InvalidParameterError

from skhisto import (
    ActiveLearner,
    CoresetSampling,
    RandomSampling,
    TypiClustSampling,
    UncertaintySampling,
)
from skhisto.active import _kcenter, is_unlabeled, k_center_greedy, uncertainty_scores


def naive_k_center(X, n_select, centers, candidates, metric, seed):
    """Algorithm 1 verbatim in float64: argmax over candidates of min distance to the set."""
    centers = list(centers)
    candidates = list(candidates)
    picks = []
    if not centers:
        first = candidates[np.random.RandomState(seed).randint(len(candidates))]
        picks.append(first)
        centers.append(first)
    while len(picks) < n_select:
        remaining = [c for c in candidates if c not in picks]
        dist = cdist(X[remaining].astype(np.float64), X[centers].astype(np.float64), metric)
        pick = remaining[int(np.argmax(dist.min(axis=1)))]
        picks.append(pick)
        centers.append(pick)
    return np.array(picks)


def _pool(seed, n=120, d=6):
    rng = np.random.RandomState(seed)
    X = (rng.randn(n, d) + rng.randint(0, 4, size=(n, 1)) * 3).astype(np.float32)
    return X, rng


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("n_labeled", [0, 1, 17])
@pytest.mark.parametrize("subset", [False, True])
def test_k_center_greedy_matches_naive_reference(seed, metric, n_labeled, subset):
    X, rng = _pool(seed)
    order = rng.permutation(len(X))
    centers = np.sort(order[:n_labeled])
    rest = np.sort(order[n_labeled:])
    candidates = np.sort(rng.choice(rest, size=40, replace=False)) if subset else rest
    expected = naive_k_center(X, 12, centers, candidates, metric, seed)
    got = k_center_greedy(
        X,
        12,
        centers=centers,
        candidates=candidates if subset else None,
        metric=metric,
        chunk_size=7,  # several blocks of centers and of candidates
        random_state=seed,
    )
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("fraction", [1.0, 0.3, 0.004])
def test_k_center_greedy_exact_whatever_the_active_set_size(monkeypatch, fraction):
    # Picks must not depend on how many candidates are updated eagerly per step.
    X, rng = _pool(7, n=250)
    centers = rng.choice(250, size=5, replace=False)
    monkeypatch.setattr(_kcenter, "ACTIVE_FRACTION", fraction)
    got = k_center_greedy(X, 30, centers=centers, chunk_size=9)
    rest = np.setdiff1d(np.arange(250), centers)
    np.testing.assert_array_equal(got, naive_k_center(X, 30, centers, rest, "euclidean", 0))


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_k_center_greedy_torch_backend_matches_numpy(monkeypatch, metric):
    # The GPU path is the torch code; run it on CPU tensors to check it picks the same.
    X, rng = _pool(5, n=300)
    centers = rng.choice(300, size=20, replace=False)
    expected = k_center_greedy(X, 25, centers=centers, metric=metric, chunk_size=16)
    monkeypatch.setattr(_kcenter, "_backend", lambda device: torch)
    got, radii = k_center_greedy(
        X, 25, centers=centers, metric=metric, chunk_size=16, return_distances=True
    )
    np.testing.assert_array_equal(got, expected)
    assert isinstance(radii, np.ndarray) and np.all(np.diff(radii) <= 1e-6)


def test_k_center_greedy_distances_are_the_covering_radii():
    X, rng = _pool(1)
    centers = np.arange(10)
    picks, radii = k_center_greedy(X, 8, centers=centers, return_distances=True)
    for step, pick in enumerate(picks):
        chosen = np.concatenate([centers, picks[:step]])
        expected = cdist(X[[pick]], X[chosen]).min()
        assert radii[step] == pytest.approx(expected, rel=1e-4)
    assert np.all(np.diff(radii) <= 0)
    _, radii = k_center_greedy(X, 3, random_state=0, return_distances=True)
    assert np.isinf(radii[0])


def test_k_center_greedy_ties_break_by_lowest_index():
    X = np.zeros((6, 2), dtype=np.float32)
    X[[1, 3, 5]] = [[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0]]  # equally far from the center 0
    np.testing.assert_array_equal(k_center_greedy(X, 3, centers=[0]), [1, 3, 5])


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_k_center_greedy_does_not_mutate_its_input(metric):
    X, _ = _pool(2)  # float32, most rows candidates: euclidean works on X in place
    before = X.copy()
    k_center_greedy(X, 5, centers=[0, 1], metric=metric)
    np.testing.assert_array_equal(X, before)


def test_k_center_greedy_errors():
    X, _ = _pool(0, n=20)
    with pytest.raises(ValueError, match="overlap"):
        k_center_greedy(X, 2, centers=[1, 2], candidates=[2, 3, 4])
    with pytest.raises(ValueError, match="n_select=30"):
        k_center_greedy(X, 30)
    with pytest.raises(ValueError, match="metric"):
        k_center_greedy(X, 2, metric="manhattan")
    with pytest.raises(ValueError, match="out of range"):
        k_center_greedy(X, 2, centers=[25])


# --- strategies -------------------------------------------------------------------------


def _strategies():
    return [
        RandomSampling(random_state=0),
        UncertaintySampling(method="entropy"),
        UncertaintySampling(method="margin"),
        UncertaintySampling(method="least_confident"),
        CoresetSampling(random_state=0),
        CoresetSampling(metric="cosine", random_state=0),
        TypiClustSampling(random_state=0),
    ]


def _labeled_pool(seed=0, n=150, n_labeled=12):
    X, rng = _pool(seed, n=n)
    y_true = (X[:, 0] + X[:, 1] > X[:, :2].sum(axis=1).mean()).astype(int)
    y = np.full(n, -1)
    labeled = rng.choice(n, size=n_labeled, replace=False)
    y[labeled] = y_true[labeled]
    y[labeled[:2]] = [0, 1]  # both classes labeled
    return X, y, y_true


@pytest.mark.parametrize("strategy", _strategies(), ids=repr)
def test_strategies_return_distinct_unlabeled_indices(strategy):
    X, y, _ = _labeled_pool()
    picked = strategy.query(X, y, LogisticRegression(), batch_size=20)
    assert picked.shape == (20,) and picked.dtype.kind == "i"
    assert len(set(picked.tolist())) == 20
    assert np.all(y[picked] == -1)

    candidates = np.flatnonzero(y == -1)[::3]
    picked, utilities = strategy.query(
        X, y, LogisticRegression(), candidates=candidates, batch_size=15, return_utilities=True
    )
    assert set(picked.tolist()) <= set(candidates.tolist()) and len(set(picked.tolist())) == 15
    assert utilities.shape == (len(X),)
    assert np.all(np.isnan(np.delete(utilities, candidates)))
    assert not np.any(np.isnan(utilities[candidates]))


@pytest.mark.parametrize("strategy", _strategies(), ids=repr)
def test_strategies_can_take_the_whole_pool(strategy):
    X, y, _ = _labeled_pool(n=40, n_labeled=10)
    picked = strategy.query(X, y, LogisticRegression(), batch_size=30)
    np.testing.assert_array_equal(np.sort(picked), np.flatnonzero(y == -1))


@pytest.mark.parametrize("strategy", _strategies(), ids=repr)
def test_strategies_are_sklearn_estimators(strategy):
    X, y, _ = _labeled_pool()
    est = LogisticRegression()
    expected = strategy.query(X, y, est, batch_size=7)
    cloned = clone(strategy)
    assert cloned.get_params() == strategy.get_params()
    np.testing.assert_array_equal(cloned.query(X, y, est, batch_size=7), expected)
    restored = pickle.loads(pickle.dumps(strategy))
    np.testing.assert_array_equal(restored.query(X, y, est, batch_size=7), expected)
    cloned.set_params(missing_label=-2)
    assert cloned.get_params()["missing_label"] == -2


@pytest.mark.parametrize("cls", [RandomSampling, CoresetSampling, TypiClustSampling])
def test_same_random_state_same_selection(cls):
    X, _, _ = _labeled_pool()
    y = np.full(len(X), -1)  # nothing labeled: coreset starts from a random center
    picks = {seed: cls(random_state=seed).query(X, y, batch_size=10) for seed in (0, 0, 1, 2)}
    np.testing.assert_array_equal(cls(random_state=0).query(X, y, batch_size=10), picks[0])
    assert any(not np.array_equal(picks[0], picks[s]) for s in (1, 2))


def test_coreset_strategy_is_k_center_greedy_around_the_labeled_set():
    X, y, _ = _labeled_pool(3)
    labeled = np.flatnonzero(y != -1)
    candidates = np.flatnonzero(y == -1)[5:80]
    picked, utilities = CoresetSampling(chunk_size=5).query(
        X, y, candidates=candidates, batch_size=9, return_utilities=True
    )
    np.testing.assert_array_equal(
        picked, naive_k_center(X, 9, labeled, candidates, "euclidean", seed=None)
    )
    expected = cdist(X[candidates], X[labeled]).min(axis=1)
    np.testing.assert_allclose(utilities[candidates], expected, rtol=1e-4)


def test_uncertainty_scores_on_hand_made_probabilities():
    proba = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(
        uncertainty_scores(proba, "entropy"),
        [0.0, np.log(2), -(0.2 * np.log(0.2) + 0.3 * np.log(0.3) + 0.5 * np.log(0.5)), np.log(3)],
    )
    np.testing.assert_allclose(uncertainty_scores(proba, "margin"), [0.0, 1.0, 0.8, 1.0])
    np.testing.assert_allclose(uncertainty_scores(proba, "least_confident"), [0.0, 0.5, 0.5, 2 / 3])


class _FixedProba(ClassifierMixin, BaseEstimator):
    """A fitted 'model' whose probabilities are given, to check what is queried."""

    def __init__(self, proba):
        self.proba = proba
        self.classes_ = np.arange(proba.shape[1])  # fitted from the start

    def fit(self, X, y):
        return self

    def predict_proba(self, X):
        return self.proba[np.asarray(X[:, 0], dtype=int)]


def test_uncertainty_sampling_picks_the_most_uncertain_first():
    proba = np.array([[0.9, 0.1], [0.5, 0.5], [0.6, 0.4], [0.99, 0.01], [0.55, 0.45], [0.5, 0.5]])
    X = np.arange(6, dtype=float)[:, None]
    y = np.array([0, -1, -1, -1, -1, -1])
    for method in ("entropy", "margin", "least_confident"):
        picked = UncertaintySampling(method).query(X, y, _FixedProba(proba), batch_size=4)
        # 1 and 5 tie (0.5/0.5): the lower index first.
        np.testing.assert_array_equal(picked, [1, 5, 4, 2])


def test_uncertainty_sampling_predicts_in_blocks(monkeypatch):
    from skhisto.active import _uncertainty

    X, y, _ = _labeled_pool()
    expected = UncertaintySampling().query(X, y, LogisticRegression(), batch_size=9)
    monkeypatch.setattr(_uncertainty, "PREDICT_BLOCK", 7)
    np.testing.assert_array_equal(
        UncertaintySampling().query(X, y, LogisticRegression(), batch_size=9), expected
    )


def test_uncertainty_sampling_fits_a_clone_of_an_unfitted_estimator():
    X, y, _ = _labeled_pool()
    est = LogisticRegression()
    picked = UncertaintySampling().query(X, y, est, batch_size=5)
    assert not hasattr(est, "coef_")  # the caller's estimator is untouched
    labeled = y != -1
    fitted = LogisticRegression().fit(X[labeled], y[labeled])
    np.testing.assert_array_equal(UncertaintySampling().query(X, y, fitted, batch_size=5), picked)


def test_query_errors_name_the_problem():
    X, y, _ = _labeled_pool(n=30, n_labeled=10)
    with pytest.raises(ValueError, match="batch_size=21 is larger than the number of unlabeled"):
        RandomSampling().query(X, y, batch_size=21)
    with pytest.raises(TypeError, match="predict_proba"):
        UncertaintySampling().query(X, y, SVC(), batch_size=1)
    with pytest.raises(ValueError, match="needs an estimator"):
        UncertaintySampling().query(X, y, batch_size=1)
    y_full = np.zeros(len(X), dtype=int)
    for strategy in _strategies():
        with pytest.raises(ValueError, match="unlabeled pool is empty"):
            strategy.query(X, y_full, LogisticRegression(), batch_size=1)
    labeled = np.flatnonzero(y != -1)
    with pytest.raises(ValueError, match="already labeled samples"):
        CoresetSampling().query(X, y, candidates=labeled[:2], batch_size=1)
    with pytest.raises(ValueError, match="out of range"):
        CoresetSampling().query(X, y, candidates=[len(X)], batch_size=1)
    with pytest.raises(ValueError, match="duplicate"):
        RandomSampling().query(X, y, candidates=[11, 11], batch_size=1)
    with pytest.raises(ValueError, match="y must be 1-D"):
        RandomSampling().query(X, y[:-1], batch_size=1)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        RandomSampling().query(X, y, batch_size=0)
    with pytest.raises(InvalidParameterError, match="method"):
        UncertaintySampling(method="variance").query(X, y, LogisticRegression())
    with pytest.raises(ValueError, match="not fitted and y has no labeled"):
        UncertaintySampling().query(X, np.full(len(X), -1), LogisticRegression())


def test_nan_marks_missing_float_labels():
    X, y, _ = _labeled_pool()
    y_float = np.where(y == -1, np.nan, y.astype(float))
    for strategy in _strategies():
        picked = strategy.query(X, y_float, LogisticRegression(), batch_size=5)
        assert np.all(np.isnan(y_float[picked]))
    picked = CoresetSampling(missing_label=np.nan).query(X, y_float, batch_size=5)
    np.testing.assert_array_equal(picked, CoresetSampling().query(X, y, batch_size=5))


def test_string_labels_with_a_string_missing_label():
    X, y, _ = _labeled_pool()
    y_str = np.where(y == -1, "?", np.where(y == 1, "tumour", "normal"))
    for strategy in _strategies():
        strategy.set_params(missing_label="?")
        picked = strategy.query(X, y_str, LogisticRegression(), batch_size=5)
        assert np.all(y_str[picked] == "?")
    y_obj = np.where(y == -1, None, y_str).astype(object)
    picked = UncertaintySampling(missing_label=None).query(
        X, y_obj, LogisticRegression(), batch_size=3
    )
    assert all(y_obj[i] is None for i in picked)


def test_is_unlabeled():
    np.testing.assert_array_equal(is_unlabeled([1, -1, 0]), [False, True, False])
    np.testing.assert_array_equal(is_unlabeled([1.0, np.nan, -1.0]), [False, True, True])
    np.testing.assert_array_equal(is_unlabeled(["a", "b"], -1), [False, False])
    np.testing.assert_array_equal(is_unlabeled(np.array(["a", None], dtype=object), None), [0, 1])


def test_typiclust_picks_the_most_typical_sample_of_each_cluster():
    rng = np.random.RandomState(0)
    centres = np.array([[0, 0], [20, 0], [0, 20], [20, 20]], dtype=float)
    sizes = [60, 45, 30, 20]
    X = np.vstack([c + rng.randn(s, 2) for c, s in zip(centres, sizes, strict=True)])
    blob = np.repeat(np.arange(4), sizes)
    y = np.full(len(X), -1)
    y[0] = 0  # the largest blob is already covered
    picked = TypiClustSampling(random_state=0, n_neighbors=10).query(X, y, batch_size=3)
    # Uncovered clusters first, largest first: blobs 1, 2, 3 in that order.
    np.testing.assert_array_equal(blob[picked], [1, 2, 3])
    for pick in picked:
        members = np.flatnonzero(blob == blob[pick])
        dist = np.sort(cdist(X[members], X[members]), axis=1)[:, 1:11].mean(axis=1)
        assert pick == members[np.argmin(dist)]


# --- the loop ---------------------------------------------------------------------------


def test_active_learner_history_is_consistent():
    X, _, y_true = _labeled_pool(n=200)
    learner = ActiveLearner(
        LogisticRegression(), CoresetSampling(), batch_size=7, n_rounds=4, random_state=0
    )
    learner.fit(X, y_true, X_test=X, y_test=y_true)
    history = learner.history_
    assert [h["round"] for h in history] == [0, 1, 2, 3, 4]
    assert [h["n_labeled"] for h in history] == [7, 14, 21, 28, 35]
    assert all(h["fit_time"] > 0 for h in history)
    assert all(h["query_time"] > 0 for h in history[:-1]) and history[-1]["query_time"] is None
    assert all(0 <= h["score"] <= 1 for h in history)
    assert len(set(learner.labeled_indices_.tolist())) == 35
    np.testing.assert_array_equal(learner.labels_, y_true[learner.labeled_indices_])
    assert learner.score(X, y_true) == history[-1]["score"]
    np.testing.assert_array_equal(learner.classes_, [0, 1])
    assert learner.predict_proba(X).shape == (len(X), 2)
    restored = pickle.loads(pickle.dumps(learner))
    np.testing.assert_array_equal(restored.predict(X), learner.predict(X))
    assert restored.history_ == history and repr(clone(learner)) == repr(learner)


def test_active_learner_callable_oracle_and_string_labels():
    X, _, y_true = _labeled_pool(n=120)
    names = np.array(["benign", "tumour"])[y_true]
    asked = []

    def oracle(indices):
        asked.extend(indices.tolist())
        return names[indices]

    learner = ActiveLearner(
        LogisticRegression(),
        UncertaintySampling(missing_label="unlabeled"),
        batch_size=5,
        n_rounds=3,
        n_initial=10,
        n_candidates=30,
        random_state=0,
    ).fit(X, oracle)
    assert sorted(asked) == sorted(learner.labeled_indices_.tolist())
    assert len(asked) == 25 and len(set(asked)) == 25
    assert set(learner.predict(X)) <= {"benign", "tumour"}
    assert learner.history_[0]["score"] is None


def test_active_learner_resumes_from_checkpoint(tmp_path):
    X, _, y_true = _labeled_pool(n=200)
    params = dict(batch_size=6, n_rounds=5, random_state=0)
    full = ActiveLearner(LogisticRegression(), TypiClustSampling(random_state=0), **params)
    full.fit(X, y_true, X_test=X, y_test=y_true)

    calls = []

    def flaky_oracle(indices):
        calls.append(len(indices))
        if len(calls) == 3:
            raise KeyboardInterrupt  # interrupted in round 2
        return y_true[indices]

    interrupted = ActiveLearner(
        LogisticRegression(), TypiClustSampling(random_state=0), checkpoint_dir=tmp_path, **params
    )
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(X, flaky_oracle, X_test=X, y_test=y_true)
    resumed = ActiveLearner(
        LogisticRegression(), TypiClustSampling(random_state=0), checkpoint_dir=tmp_path, **params
    ).fit(X, y_true, X_test=X, y_test=y_true)
    np.testing.assert_array_equal(resumed.labeled_indices_, full.labeled_indices_)
    assert [h["score"] for h in resumed.history_] == [h["score"] for h in full.history_]
    assert not list(tmp_path.glob("*.tmp*"))


def test_active_learner_warm_start_continues():
    X, _, y_true = _labeled_pool(n=150)
    learner = ActiveLearner(
        LogisticRegression(),
        RandomSampling(random_state=0),
        batch_size=5,
        n_rounds=2,
        warm_start=True,
        random_state=0,
    ).fit(X, y_true)
    first = learner.labeled_indices_.copy()
    learner.fit(X, y_true)
    assert [h["n_labeled"] for h in learner.history_] == [5, 10, 15, 20, 25]
    np.testing.assert_array_equal(learner.labeled_indices_[:15], first)


def test_active_learner_stops_when_the_pool_is_used_up():
    X, _, y_true = _labeled_pool(n=30)
    learner = ActiveLearner(
        LogisticRegression(), CoresetSampling(), batch_size=8, n_rounds=10, random_state=0
    )
    with pytest.warns(UserWarning, match="stops 7 rounds early"):
        learner.fit(X, y_true)
    assert [h["n_labeled"] for h in learner.history_] == [8, 16, 24, 30]
    assert learner.history_[-1]["query_time"] is None


def test_active_learner_errors():
    X, _, y_true = _labeled_pool(n=30)
    with pytest.raises(ValueError, match="one label per sample"):
        ActiveLearner(LogisticRegression(), RandomSampling()).fit(X, y_true[:-1])
    with pytest.raises(ValueError, match="X_test and y_test"):
        ActiveLearner(LogisticRegression(), RandomSampling()).fit(X, y_true, X_test=X)
    with pytest.raises(InvalidParameterError, match="query_strategy"):
        ActiveLearner(LogisticRegression(), "coreset").fit(X, y_true)
    with pytest.raises(ValueError, match="returned labels of shape"):
        ActiveLearner(LogisticRegression(), RandomSampling()).fit(X, lambda idx: [0])


@pytest.mark.slow
def test_active_learning_on_real_lc25000_patches(lc25000_small):
    """ResNet-18 embeddings (64 px) of 300 real LC25000 patches: scores rise with labels."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skhisto import FoundationEmbedder

    features = FoundationEmbedder(
        "resnet18", pretrained=False, image_size=64, random_state=0, verbose=False
    ).fit_transform(lc25000_small.paths)
    target = lc25000_small.target
    test = np.random.RandomState(0).rand(len(features)) < 0.3
    curves = {}
    for name, strategy in {
        "random": RandomSampling(random_state=0),
        "entropy": UncertaintySampling(),
        "coreset": CoresetSampling(),
        "typiclust": TypiClustSampling(random_state=0),
    }.items():
        learner = ActiveLearner(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
            strategy,
            batch_size=10,
            n_rounds=6,
            random_state=1,
        ).fit(features[~test], target[~test], X_test=features[test], y_test=target[test])
        curves[name] = [h["score"] for h in learner.history_]
        assert len(set(learner.labeled_indices_.tolist())) == 70
    first = np.mean([c[0] for c in curves.values()])
    last = np.mean([c[-1] for c in curves.values()])
    assert last > first + 0.1, curves


def test_plot_learning_curve(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from skhisto.plotting import plot_learning_curve

    X, _, y_true = _labeled_pool(n=120)
    runs = {
        name: [
            ActiveLearner(
                LogisticRegression(), strategy, batch_size=5, n_rounds=3, random_state=seed
            ).fit(X, y_true, X_test=X, y_test=y_true)
            for seed in range(2)
        ]
        for name, strategy in {"random": RandomSampling(), "coreset": CoresetSampling()}.items()
    }
    ax = plot_learning_curve(runs, title="toy")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["random", "coreset"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [5, 10, 15, 20])
    ax.figure.savefig(tmp_path / "curve.png")
    with pytest.raises(ValueError, match="test set"):
        plot_learning_curve(ActiveLearner(LogisticRegression(), RandomSampling()).fit(X, y_true))


def test_active_learning_with_the_linear_head():
    from skhisto import LinearHead

    X, _, y_true = _labeled_pool(n=120)
    head = LinearHead(max_epochs=5, early_stopping=False, device="cpu", random_state=0)
    learner = ActiveLearner(
        head, UncertaintySampling("margin"), batch_size=6, n_rounds=2, random_state=0
    ).fit(X, y_true, X_test=X, y_test=y_true)
    assert [h["n_labeled"] for h in learner.history_] == [6, 12, 18]
    assert learner.predict_proba(X).shape == (len(X), 2)


def test_uncertainty_sampling_with_a_skorch_classifier():
    from skorch import NeuralNetClassifier

    X, _, y_true = _labeled_pool(n=120)
    net = NeuralNetClassifier(
        torch.nn.Linear(X.shape[1], 2),
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=3,
        lr=0.1,
        train_split=None,
        verbose=0,
    )
    learner = ActiveLearner(
        net, UncertaintySampling(), batch_size=5, n_rounds=2, random_state=0
    ).fit(X, y_true, X_test=X, y_test=y_true)
    assert [h["n_labeled"] for h in learner.history_] == [5, 10, 15]
    assert not hasattr(net, "module_")  # clones were trained, the caller's net was not


def test_model_based_strategies_take_any_input_the_estimator_takes():
    # e.g. image paths for a Pipeline(FoundationEmbedder, classifier): X is not a table.
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X_num, y, _ = _labeled_pool()
    paths = [f"patch_{i}.png" for i in range(len(X_num))]
    lookup = FunctionTransformer(lambda names: X_num[[int(n[6:-4]) for n in names]])
    model = make_pipeline(lookup, LogisticRegression())
    picked = UncertaintySampling().query(paths, y, model, batch_size=5)
    expected = UncertaintySampling().query(X_num, y, LogisticRegression(), batch_size=5)
    np.testing.assert_array_equal(picked, expected)
    assert np.all(y[RandomSampling(random_state=0).query(paths, y, batch_size=5)] == -1)
    with pytest.raises(ValueError):
        CoresetSampling().query(paths, y, batch_size=5)  # needs feature vectors
