"""Noise-rate searches and curves on real LC25000 embeddings, and their plots."""

import matplotlib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skhisto import (
    FoundationEmbedder,
    LinearHead,
    NoisyLabelClassifier,
    TransitionMatrixNoise,
    UniformNoise,
)
from skhisto.embedding import forward_count
from skhisto.model_selection import noise_robustness_curve
from skhisto.plotting import plot_noise_robustness

matplotlib.use("Agg")

RATES = [0.0, 0.2, 0.4, 0.6]


@pytest.fixture(scope="module")
def embeddings(lc25000_small):
    """Random-init ResNet-18 embeddings of 300 real LC25000 tiles (no downloads here)."""
    embedder = FoundationEmbedder("resnet18", pretrained=False, image_size=64, random_state=0)
    return embedder.fit_transform(lc25000_small.paths), lc25000_small.target


def _plain():
    return Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=300))])


def _model():
    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("clf", NoisyLabelClassifier(LogisticRegression(max_iter=300), UniformNoise())),
        ]
    )


@pytest.mark.slow  # trains on real patches
def test_grid_search_over_rates_scores_on_clean_labels_only(embeddings):
    X, y = embeddings
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    seen = []

    def recording_scorer(estimator, X_test, y_test):
        seen.append(np.array(y_test, copy=True))
        return float(np.mean(estimator.predict(X_test) == y_test))

    search = GridSearchCV(
        _model(),
        {"clf__noise__rate": RATES, "clf__noise__random_state": [0]},
        cv=folds,
        scoring=recording_scorer,
        refit=False,
        error_score="raise",
    )
    search.fit(X, y)
    # One scorer call per rate and fold, each with exactly the clean labels of its test fold.
    assert len(seen) == len(RATES) * len(folds)
    clean = {tuple(y[test]) for _, test in folds}
    assert {tuple(labels) for labels in seen} == clean
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] > 0.6  # 3 classes: chance is 1/3
    assert scores[0] > scores[-1]


def test_noise_robustness_curve_is_tidy_nested_and_clean_scored(embeddings):
    X, y = embeddings
    curve = noise_robustness_curve(_plain(), X, y, RATES, cv=3, random_state=0)
    assert list(curve.columns[:4]) == ["rate", "fold", "score", "realized_rate"]
    assert len(curve) == len(RATES) * 3
    assert sorted(curve["fold"].unique()) == [0, 1, 2]
    assert set(curve["noise"]) == {"UniformNoise"} and set(curve["estimator"]) == {"Pipeline"}
    n_train = len(y) * 2 // 3
    for rate, realised in curve.groupby("rate")["realized_rate"].first().items():
        assert realised == pytest.approx(round(rate * n_train) / n_train)
    # The former spelling stays, last, until 0.3.
    assert curve.columns[-1] == "realised_rate"
    assert curve["realised_rate"].equals(curve["realized_rate"])
    means = curve.groupby("rate")["score"].mean()
    assert means[0.0] > means[0.6]
    again = noise_robustness_curve(_plain(), X, y, RATES, cv=3, random_state=0)
    np.testing.assert_array_equal(curve["score"], again["score"])


def test_curve_with_a_head_and_asymmetric_noise(embeddings):
    X, y = embeddings
    model = Pipeline(
        [("scale", StandardScaler()), ("head", LinearHead(max_epochs=20, random_state=0))]
    )
    curve = noise_robustness_curve(
        model, X, y, [0.0, 0.4], noise="asymmetric", cv=2, random_state=1
    )
    assert set(curve["noise"]) == {"AsymmetricNoise"}
    assert curve["score"].between(0, 1).all()


def test_curve_rejects_bad_rates_and_rateless_noise(embeddings):
    X, y = embeddings
    with pytest.raises(
        ValueError, match=r"rates must be noise rates in \[0, 1\); got \[0.0, 1.0\]"
    ):
        noise_robustness_curve(_plain(), X, y, [0.0, 1.0])
    with pytest.raises(ValueError, match="has no 'rate' parameter"):
        noise_robustness_curve(_plain(), X, y, [0.1], noise=TransitionMatrixNoise(np.eye(3)))


def test_search_over_rates_reuses_cached_embeddings(lc25000_small, tmp_path):
    paths, y = lc25000_small.paths[::5], lc25000_small.target[::5]  # 60 tiles
    embed = FoundationEmbedder(
        "resnet18", pretrained=False, image_size=64, cache=tmp_path, random_state=0
    )
    pipe = Pipeline(
        [
            ("embed", embed),
            ("clf", NoisyLabelClassifier(LogisticRegression(max_iter=300), UniformNoise())),
        ]
    )
    start = forward_count()
    search = GridSearchCV(pipe, {"clf__noise__rate": [0.0, 0.5]}, cv=2, error_score="raise")
    search.fit(paths, y)
    assert forward_count() - start == len(paths), "each tile is embedded once across the search"
    assert search.cv_results_["mean_test_score"].shape == (2,)


def test_plot_from_curve_table_and_from_cv_results(embeddings):
    X, y = embeddings
    curve = noise_robustness_curve(_plain(), X[:150], y[:150], [0.0, 0.5], cv=2, random_state=0)
    ax = plot_noise_robustness(curve, title="LC25000")
    line, chance = ax.get_lines()
    assert chance.get_linestyle() == "--" and chance.get_ydata()[0] == 1 / len(set(y[:150]))
    np.testing.assert_allclose(line.get_xdata(), [0.0, 0.5])
    np.testing.assert_allclose(line.get_ydata(), curve.groupby("rate")["score"].mean())
    assert ax.get_title() == "LC25000"

    search = GridSearchCV(
        _model(),
        {
            "clf__noise__rate": [0.0, 0.5],
            "clf__noise__random_state": [0],
            "clf__estimator__C": [0.1, 1.0],
        },
        cv=2,
        refit=False,
    ).fit(X[:150], y[:150])
    ax = plot_noise_robustness(search.cv_results_)
    labels = sorted(text.get_text() for text in ax.get_legend().get_texts())
    assert labels == ["C=0.1", "C=1.0"]
    assert all(len(line.get_xdata()) == 2 for line in ax.get_lines())
    with pytest.raises(TypeError, match="'results' parameter of plot_noise_robustness"):
        plot_noise_robustness([1, 2])
    with pytest.raises(ValueError, match="pass rate_param"):
        plot_noise_robustness({"params": [{"C": 1}], "mean_test_score": [1], "std_test_score": [0]})
