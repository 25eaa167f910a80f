"""Label-issue detection and cleaning (skhisto.cleaning), on real H&E embeddings.

The bad inputs are listed in docs/reliability.md (area: cleaning).
"""

import pickle

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler, normalize
from sklearn.svm import LinearSVC

from skhisto import (
    AsymmetricNoise,
    LabelIssueFilter,
    LinearHead,
    UniformNoise,
    estimate_noise,
    find_label_issues,
)

CENTERS = [[0, 0], [3, 0], [0, 3]]  # close enough for a few borderline samples


@pytest.fixture(scope="module")
def blobs():
    """300 samples of three touching clusters, 30% of their labels flipped (mask known)."""
    X, y = make_blobs(300, centers=CENTERS, random_state=0)
    noise = UniformNoise(0.3, random_state=0)
    _, y_noisy = noise.fit_resample(X, y)
    return X, y, y_noisy, noise.noise_mask_


@pytest.fixture(scope="module")
def lc25000_embeddings(lc25000_small):
    """ResNet-18 (random init, 64 px) embeddings of 300 LC25000 tiles, 100 per class."""
    from skhisto import FoundationEmbedder

    embedder = FoundationEmbedder(
        "resnet18", pretrained=False, image_size=64, random_state=0, verbose=False
    )
    X = embedder.fit_transform(lc25000_small.paths)
    return X, np.asarray(lc25000_small.target_names)[lc25000_small.target]


def _noisy(X, y, rate, seed):
    noise = UniformNoise(rate, random_state=seed)
    return noise.fit_resample(X, y)[1], noise.noise_mask_


def _majority_vote_issues(X, y_noisy, k=20):
    """The plain baseline: flag a label when its k nearest neighbours' majority differs."""
    Z = normalize(StandardScaler().fit_transform(X))
    neighbours = NearestNeighbors(n_neighbors=k).fit(Z).kneighbors(return_distance=False)
    classes, codes = np.unique(y_noisy, return_inverse=True)
    votes = np.array([np.bincount(codes[row], minlength=len(classes)) for row in neighbours])
    return votes.argmax(axis=1) != codes


# --- detection on real embeddings ------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("rate", [0.2, 0.4])
def test_knn_on_real_embeddings_finds_flips_far_above_chance(lc25000_embeddings, rate):
    X, y = lc25000_embeddings
    f1, majority_f1, auroc = [], [], []
    for seed in range(3):
        y_noisy, flipped = _noisy(X, y, rate, seed)
        issues, scores = find_label_issues(X, y_noisy, return_scores=True)
        f1.append(f1_score(flipped, issues))
        majority_f1.append(f1_score(flipped, _majority_vote_issues(X, y_noisy)))
        auroc.append(roc_auc_score(~flipped, scores))  # kept labels should score higher
    chance = 2 * rate / (1 + rate)  # F1 of flagging every sample
    assert np.mean(f1) > chance + 0.15, (f1, chance)
    assert np.mean(auroc) > 0.85, auroc
    # These random-init embeddings confuse about 20% of tiles by themselves, which caps every
    # neighbour-based detector: here the k-NN detector matches the majority vote, it does not
    # beat it (see docs/guide/label_issues.md).
    assert np.mean(f1) > np.mean(majority_f1) - 0.03, (f1, majority_f1)


@pytest.mark.slow
def test_flags_and_noise_estimate_grow_with_the_injected_rate(lc25000_embeddings):
    X, y = lc25000_embeddings
    flags, rates = [], []
    for rate in (0.0, 0.2, 0.4):
        y_noisy, _ = _noisy(X, y, rate, seed=0)
        flags.append(int(find_label_issues(X, y_noisy).sum()))
        noise_rate, transition = estimate_noise(X, y_noisy)
        np.testing.assert_allclose(transition.sum(axis=1), 1)
        rates.append(noise_rate)
    assert flags[0] < flags[1] < flags[2], flags
    assert rates[0] < rates[1] < rates[2], rates
    # With no noise, what is flagged is the embedding's own confusion: at most the samples
    # whose 20 nearest neighbours mostly hold another (clean) label, plus a small margin.
    assert flags[0] <= 1.2 * _majority_vote_issues(X, y).sum(), flags


@pytest.mark.slow
@pytest.mark.parametrize(
    "method, estimator",
    [
        ("confident_learning", None),  # the default LinearHead
        ("confident_learning", LogisticRegression(max_iter=1000)),
        ("ensemble", LogisticRegression(max_iter=1000)),
    ],
    ids=["cl-linearhead", "cl-logreg", "ensemble-logreg"],
)
def test_trained_methods_on_real_embeddings(lc25000_embeddings, method, estimator):
    X, y = lc25000_embeddings
    y_noisy, flipped = _noisy(X, y, 0.4, seed=0)
    issues, scores = find_label_issues(
        X, y_noisy, method=method, estimator=estimator, cv=3, random_state=0, return_scores=True
    )
    assert f1_score(flipped, issues) > 2 * 0.4 / 1.4 + 0.1
    assert roc_auc_score(~flipped, scores) > 0.8


# --- detection contract (fast, on synthetic clusters) ----------------------------------------


def test_return_scores_shapes_and_dtypes(blobs):
    X, _, y_noisy, _ = blobs
    issues = find_label_issues(X, y_noisy)
    same, scores = find_label_issues(X, y_noisy, return_scores=True)
    assert issues.shape == scores.shape == (len(y_noisy),)
    assert issues.dtype == bool and scores.dtype == np.float64
    np.testing.assert_array_equal(issues, same)
    assert scores.min() >= 0 and scores.max() <= 1
    assert scores[issues].mean() < scores[~issues].mean()


def test_no_noise_on_separated_clusters_flags_nothing():
    X, y = make_blobs(300, centers=[[0, 0], [8, 0], [0, 8]], random_state=0)
    assert not find_label_issues(X, y).any()
    assert estimate_noise(X, y)[0] == 0


def test_knn_flags_flips_of_touching_clusters(blobs):
    X, _, y_noisy, flipped = blobs
    issues = find_label_issues(X, y_noisy)
    assert f1_score(flipped, issues) > 0.8
    assert f1_score(flipped, issues) > f1_score(flipped, _majority_vote_issues(X, y_noisy)) - 0.02


def test_transition_matrix_is_in_sorted_label_order_not_appearance_order():
    X, codes = make_blobs(600, centers=[[0, 0], [8, 0], [0, 8]], random_state=1)
    names = np.array(["scc", "aca", "n"])  # appearance order differs from np.unique's
    y = names[codes]
    noise = AsymmetricNoise(0.3, mapping={"scc": "n"}, random_state=0)
    _, y_noisy = noise.fit_resample(X, y)
    rate, transition = estimate_noise(X, y_noisy)
    # Rows and columns are ["aca", "n", "scc"]: scc (row 2) flips to n (column 1), nothing else.
    np.testing.assert_allclose(transition.sum(axis=1), 1)
    np.testing.assert_allclose(transition, noise.transition_matrix_, atol=0.1)
    assert transition[2, 1] > 0.2 and np.delete(transition[2], [1, 2]).max() < 0.02
    assert np.abs(transition[:2] - np.eye(3)[:2]).max() < 0.02
    assert abs(rate - noise.noise_mask_.mean()) < 0.05


def test_confident_learning_is_seeded_by_random_state(blobs):
    X, _, y_noisy, _ = blobs
    head = LinearHead(max_epochs=2)  # its own random_state unset: seeded from random_state

    def run(seed):
        return find_label_issues(
            X, y_noisy, method="confident_learning", estimator=head, cv=2,
            random_state=seed, return_scores=True,
        )  # fmt: skip

    first, again, other = run(0), run(0), run(1)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])
    assert head.get_params()["random_state"] is None  # the caller's estimator is not touched


def _assert_row_order_free(X, y_noisy):
    issues, scores = find_label_issues(X, y_noisy, return_scores=True)
    for seed in range(3):
        order = np.random.RandomState(seed).permutation(len(y_noisy))
        shuffled, shuffled_scores = find_label_issues(X[order], y_noisy[order], return_scores=True)
        np.testing.assert_allclose(shuffled_scores, scores[order], rtol=1e-12)
        np.testing.assert_array_equal(shuffled, issues[order])


def test_knn_permuting_the_samples_permutes_the_mask(blobs):
    X, _, y_noisy, _ = blobs
    _assert_row_order_free(X, y_noisy)


@pytest.mark.slow
def test_knn_on_real_embeddings_does_not_depend_on_row_order(lc25000_embeddings):
    # Unweighted votes tie often on real data (shares are multiples of 1/k); weighted ones do not.
    X, y = lc25000_embeddings
    _assert_row_order_free(X, _noisy(X, y, 0.4, 0)[0])


def _containers(X, y):
    names = np.array(["aca", "n", "scc"])[y]
    return {
        "float64/int": (X, y),
        "float32/str": (X.astype(np.float32), names),
        "list/list": (X.tolist(), names.tolist()),
        "DataFrame/Series": (pd.DataFrame(X, index=np.arange(len(y)) + 100), pd.Series(names)),
        "array/Categorical": (X, pd.Categorical(names, categories=["scc", "n", "aca"])),
    }


def test_any_container_gives_the_same_flags_and_is_never_modified(blobs):
    # Also through LabelIssueFilter, whose relabel action builds new labels in y's container.
    X, _, y_noisy, _ = blobs
    expected = find_label_issues(X, y_noisy)
    for name, (X_in, y_in) in _containers(X, y_noisy).items():
        X_copy, y_copy = pickle.loads(pickle.dumps((X_in, y_in)))
        np.testing.assert_array_equal(find_label_issues(X_in, y_in), expected, err_msg=name)
        for action in ("remove", "relabel"):
            cleaner = LabelIssueFilter(action=action)
            cleaner.fit_resample(X_in, y_in)
            np.testing.assert_array_equal(cleaner.label_issues_, expected, err_msg=name)
        assert pickle.dumps((X_in, y_in)) == pickle.dumps((X_copy, y_copy)), name


# --- LabelIssueFilter ------------------------------------------------------------------------


def test_remove_drops_exactly_the_flagged_rows_and_keeps_pandas_index(blobs):
    X, _, y_noisy, _ = blobs
    issues = find_label_issues(X, y_noisy)
    index = pd.Index(np.arange(len(y_noisy)) * 7 + 3, name="tile")
    X_df = pd.DataFrame(X, index=index, columns=["a", "b"])
    y_s = pd.Series(np.array(["aca", "n", "scc"])[y_noisy], index=index, name="label")
    cleaner = LabelIssueFilter()
    X_res, y_res = cleaner.fit_resample(X_df, y_s)
    assert isinstance(X_res, pd.DataFrame) and isinstance(y_res, pd.Series)
    pd.testing.assert_frame_equal(X_res, X_df[~issues])
    pd.testing.assert_series_equal(y_res, y_s[~issues])
    np.testing.assert_array_equal(cleaner.sample_indices_, np.flatnonzero(~issues))
    assert cleaner.sampling_strategy_ == y_res.value_counts().sort_index().to_dict()
    X_list, y_list = LabelIssueFilter().fit_resample(X.tolist(), y_noisy.tolist())
    assert isinstance(X_list, list) and isinstance(y_list, list)
    assert y_list == y_noisy[~issues].tolist()


def test_relabel_keeps_every_row_and_changes_only_flagged_labels(blobs):
    X, y, y_noisy, _ = blobs
    cleaner = LabelIssueFilter(action="relabel")
    X_res, y_res = cleaner.fit_resample(X, y_noisy)
    issues = cleaner.label_issues_
    assert X_res is X and len(y_res) == len(y_noisy)
    np.testing.assert_array_equal(y_res[~issues], y_noisy[~issues])
    np.testing.assert_array_equal(y_res[issues], cleaner.suggested_labels_[issues])
    assert (y_res[issues] != y_noisy[issues]).all()
    assert (y_res == y).mean() > (y_noisy == y).mean() + 0.15  # half the flips are undone
    np.testing.assert_array_equal(cleaner.sample_indices_, np.arange(len(y)))


def test_fitted_attributes_agree_with_the_functions(blobs):
    X, _, y_noisy, _ = blobs
    cleaner = LabelIssueFilter(n_neighbors=10).fit(X, y_noisy)
    issues, scores = find_label_issues(X, y_noisy, n_neighbors=10, return_scores=True)
    np.testing.assert_array_equal(cleaner.label_issues_, issues)
    np.testing.assert_array_equal(cleaner.label_quality_, scores)
    rate, transition = estimate_noise(X, y_noisy, n_neighbors=10)
    assert cleaner.noise_rate_ == rate
    np.testing.assert_array_equal(cleaner.transition_matrix_, transition)
    np.testing.assert_array_equal(cleaner.classes_, [0, 1, 2])
    assert cleaner.n_features_in_ == 2
    assert (cleaner.suggested_labels_ != y_noisy).all()


def test_clone_get_params_and_pickle(blobs):
    X, _, y_noisy, _ = blobs
    params = dict(method="ensemble", action="relabel", estimator=LogisticRegression(), cv=3)
    cleaner = LabelIssueFilter(**params, n_neighbors=7, random_state=0)
    copy = clone(cleaner)
    assert copy.get_params()["n_neighbors"] == 7 and copy.get_params()["action"] == "relabel"
    assert copy.estimator is not cleaner.estimator
    assert not hasattr(copy, "label_issues_")
    _, y_res = cleaner.fit_resample(X, y_noisy)
    restored = pickle.loads(pickle.dumps(cleaner))
    np.testing.assert_array_equal(restored.label_issues_, cleaner.label_issues_)
    np.testing.assert_array_equal(restored.fit_resample(X, y_noisy)[1], y_res)


# --- acceptance: a grid search over noise x cleaning x heads ---------------------------------


class RecordingFilter(LabelIssueFilter):
    """A LabelIssueFilter that records the samples and labels it is given."""

    calls = []  # clones share it; the search runs in this process (n_jobs=None)

    def fit_resample(self, X, y):
        RecordingFilter.calls.append((np.array(X, copy=True), np.array(y, copy=True)))
        return super().fit_resample(X, y)


@pytest.mark.slow
def test_grid_search_cleans_noisy_training_folds_and_scores_on_clean_labels(lc25000_embeddings):
    from imblearn.pipeline import Pipeline
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from skhisto import MLPHead

    X, y = lc25000_embeddings
    rows = {row.tobytes(): i for i, row in enumerate(X)}
    assert len(rows) == len(X)  # every sample is known by its embedding

    def indices(X_part):
        return np.array([rows[row.tobytes()] for row in np.asarray(X_part)])

    scored = []

    def scorer(estimator, X_test, y_test):
        scored.append((indices(X_test), np.asarray(y_test)))
        return balanced_accuracy_score(y_test, estimator.predict(X_test))

    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    small = dict(max_epochs=5, random_state=0)
    grid = {
        "noise__rate": [0.0, 0.4],
        "clean": [
            "passthrough",
            RecordingFilter(),
            RecordingFilter(method="confident_learning", estimator=LinearHead(**small), cv=3),
        ],
        "head": [MLPHead((64,), **small), LinearHead(**small)],
    }
    pipe = Pipeline(
        [("noise", UniformNoise(random_state=0)), ("clean", "passthrough"), ("head", LinearHead())]
    )
    RecordingFilter.calls.clear()
    search = GridSearchCV(pipe, grid, cv=cv, scoring=scorer, refit=False).fit(X, y)

    results = search.cv_results_
    assert len(results["params"]) == 12 and np.isfinite(results["mean_test_score"]).all()
    folds = list(cv.split(X, y))
    test_folds = {tuple(np.sort(test)) for _, test in folds}
    train_folds = {tuple(np.sort(train)) for train, _ in folds}
    # The scorer saw every (candidate, fold) once, always a test fold with its clean labels.
    assert len(scored) == 12 * 3
    for idx, labels in scored:
        assert tuple(np.sort(idx)) in test_folds
        np.testing.assert_array_equal(labels, y[idx])
    # The filters saw only training folds, with labels as noisy as the searched rate.
    assert len(RecordingFilter.calls) == 2 * 2 * 2 * 3  # rates x filters x heads x folds
    flipped = []
    for X_seen, y_seen in RecordingFilter.calls:
        idx = indices(X_seen)
        assert tuple(np.sort(idx)) in train_folds
        flipped.append((y_seen != y[idx]).mean())
    assert sorted(set(np.round(flipped, 1))) == [0.0, 0.4], flipped


# --- bad input -------------------------------------------------------------------------------

_X, _Y = make_blobs(60, centers=CENTERS, random_state=0)
_ROW3 = np.arange(60)[:, None] == 3

BAD_INPUTS = {
    "one class": (dict(y=np.zeros(60)), "needs at least 2 classes in y .* one class: \\[0.0\\]"),
    "too few for n_neighbors": (
        dict(X=_X[:5], y=_Y[:5], n_neighbors=5),
        "n_neighbors=5 needs more than 5 samples .* X has 5",
    ),
    "class smaller than cv": (
        dict(X=_X[:13], y=_Y[:13], method="confident_learning", estimator=LogisticRegression()),
        "needs at least cv=5 samples of every class .* too few in \\{1: 4, 2: 3\\}",
    ),
    "NaN in X": (dict(X=np.where(_ROW3, np.nan, _X)), "Input X contains NaN"),
    "inf in X": (dict(X=np.where(_ROW3, np.inf, _X)), "Input X contains infinity"),
    "1-D X": (dict(X=_X[:, 0]), "Expected 2D array, got 1D array"),
    "3-D X": (dict(X=_X[:, :, None]), "Found array with dim 3"),
    "sparse X": (
        dict(X=sparse.csr_matrix(_X)),
        "Sparse data was passed for X, but dense data is required|'X' parameter .* array-like",
    ),
    "X and y lengths differ": (dict(y=_Y[:-1]), "inconsistent numbers of samples: \\[60, 59\\]"),
    "NaN label": (dict(y=np.where(np.arange(60) == 4, np.nan, _Y)), "y has 1 missing labels"),
    "None label": (dict(y=[None, *_Y[1:]]), "y has 1 missing labels .* at indices \\[0\\]"),
    "continuous y": (dict(y=np.linspace(0, 1, 60)), "Unknown label type: continuous"),
    "one-hot y": (dict(y=np.eye(3)[_Y]), "y should be a 1d array, got an array of shape"),
    "unknown method": (dict(method="cleanlab"), "'method' parameter .* Got 'cleanlab'"),
    "no predict_proba": (
        dict(method="confident_learning", estimator=LinearSVC()),
        "'estimator' parameter .* implementing 'fit' and 'predict_proba'",
    ),
    "empty X": (dict(X=np.empty((0, 2)), y=[]), "y is empty"),
    "identical rows": (dict(X=np.ones((60, 4))), "every row of X is the same embedding"),
    "one feature": (dict(X=np.arange(60.0)[:, None]), "at least 2 features; X has n_features=1"),
    "empty X, labels given": (dict(X=np.empty((0, 2))), "Found array with 0 sample\\(s\\)"),
}
# The messages that skhisto writes name the function or class that refused the input.
OWNER_NAMED = {
    "one class",
    "NaN label",
    "None label",
    "empty X",
    "identical rows",
    "one feature",
    "unknown method",
    "no predict_proba",
}

ENTRIES = {
    "find_label_issues": find_label_issues,
    "estimate_noise": estimate_noise,
    "LabelIssueFilter": lambda X, y, **params: LabelIssueFilter(**params).fit_resample(X, y),
}


@pytest.mark.parametrize("entry", sorted(ENTRIES))
@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_inputs_raise_errors_naming_the_problem(case, entry):
    kwargs, match = BAD_INPUTS[case]
    kwargs = {"X": _X, "y": _Y, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match) as error:
        ENTRIES[entry](kwargs.pop("X"), kwargs.pop("y"), **kwargs)
    if case in OWNER_NAMED:
        assert entry in str(error.value)


def test_unknown_action_is_named():
    with pytest.raises(ValueError, match="'action' parameter of LabelIssueFilter .* Got 'drop'"):
        LabelIssueFilter(action="drop").fit_resample(_X, _Y)


def test_samples_tied_at_the_count_are_all_flagged():
    from skhisto.cleaning._confident import prune_by_noise_rate

    # Three labels of class 0 that every neighbour gives to class 1 tie at margin 1; the joint
    # counts two flips. All three go, whatever their rows, rather than the first two in order.
    codes = np.array([0] * 8 + [1] * 8)
    proba = np.tile([0.9, 0.1], (16, 1))
    proba[8:] = [0.1, 0.9]
    suspects = [1, 4, 6]
    proba[suspects] = [0.0, 1.0]
    joint = np.array([[6.0, 2.0], [0.0, 8.0]])
    flagged, suggested = prune_by_noise_rate(proba, codes, joint)
    assert np.flatnonzero(flagged).tolist() == suspects
    assert suggested[suspects].tolist() == [1, 1, 1]


@pytest.mark.parametrize("owner", ["find_label_issues", "estimate_noise", "LabelIssueFilter"])
def test_search_picks_the_neighbour_engine_everywhere(owner, monkeypatch):
    pytest.importorskip("faiss")
    import skhisto.utils._neighbors as engine

    X, y = make_blobs(900, centers=6, n_features=16, cluster_std=4.0, random_state=0)
    y_noisy, _ = _noisy(X, y % 3, 0.3, seed=0)
    monkeypatch.setattr(engine, "EXACT_MAX_PAIRS", 0)  # "auto" takes the index at any size
    used = []
    ivf = engine._ivf
    monkeypatch.setattr(engine, "_ivf", lambda *a, **k: used.append("faiss") or ivf(*a, **k))

    def run(**search):
        if owner == "LabelIssueFilter":
            return LabelIssueFilter(**search).fit_resample(X, y_noisy)[1]
        found = globals()[owner](X, y_noisy, **search)
        return found[1] if owner == "estimate_noise" else found  # the transition matrix

    exact = run(search="exact")
    assert used == []
    monkeypatch.setattr(engine, "EXACT_MAX_PAIRS", float("inf"))
    assert np.array_equal(run(), exact)  # "auto" below the threshold
    monkeypatch.setattr(engine, "EXACT_MAX_PAIRS", 0)
    run()
    assert used == ["faiss"]
    run(search="faiss")
    assert used == ["faiss", "faiss"]
