"""The plots name what they show: the metric on the y axis, short legend texts."""

import matplotlib
import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.tree import DecisionTreeClassifier

from skhisto import ActiveLearner, NoisyLabelClassifier, RandomSampling, UniformNoise
from skhisto.model_selection import noise_robustness_curve
from skhisto.plotting import plot_learning_curve, plot_noise_robustness

matplotlib.use("Agg")

X, Y = make_classification(n_samples=90, n_informative=4, n_classes=3, random_state=0)
HEADS = [LogisticRegression(max_iter=300), DecisionTreeClassifier(max_depth=3, random_state=0)]


def search(grid, **params):
    model = NoisyLabelClassifier(LogisticRegression(), UniformNoise(random_state=0))
    return GridSearchCV(model, {"noise__rate": [0.0, 0.4], **grid}, cv=2, **params).fit(X, Y)


def legend(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_search_plot_names_its_metric_and_its_heads():
    fitted = search({"estimator": HEADS}, scoring="balanced_accuracy", refit=False)
    for results in (fitted, fitted.cv_results_):
        ax = plot_noise_robustness(results)
        assert legend(ax) == ["LogisticRegression", "DecisionTreeClassifier"]
        np.testing.assert_allclose(
            ax.get_lines()[0].get_ydata(), fitted.cv_results_["mean_test_score"][:2]
        )
    assert plot_noise_robustness(fitted).get_ylabel() == "balanced accuracy (clean test labels)"
    # cv_results_ alone does not say its scorer; metric= or ylabel= does
    assert plot_noise_robustness(fitted.cv_results_).get_ylabel() == "score (clean test labels)"
    ax = plot_noise_robustness(fitted.cv_results_, ylabel="balanced accuracy")
    assert ax.get_ylabel() == "balanced accuracy"


def test_search_without_scoring_says_accuracy():
    fitted = search({"estimator__C": [0.1, 1.0]}, refit=False)
    ax = plot_noise_robustness(fitted)
    assert ax.get_ylabel() == "accuracy (clean test labels)"
    assert legend(ax) == ["C=0.1", "C=1.0"]


def test_several_varying_parameters_get_short_names():
    fitted = search(
        {"estimator": HEADS[:1], "estimator__C": [0.1, 1.0], "noise__random_state": [0, 1]}
    )
    ax = plot_noise_robustness(fitted)
    assert legend(ax) == [
        "C=0.1, random_state=0",
        "C=0.1, random_state=1",
        "C=1.0, random_state=0",
        "C=1.0, random_state=1",
    ]
    # refit=True on one scorer: the plain "score" key
    assert ax.get_ylabel() == "accuracy (clean test labels)"


def test_colliding_short_names_keep_their_full_names():
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    model = NoisyLabelClassifier(pipe, UniformNoise(random_state=0))
    grid = {
        "noise__rate": [0.0, 0.4],
        "estimator__scale__with_mean": [True, False],
        "estimator__clf__C": [1.0],
        "noise__random_state": [0, 1],
    }
    fitted = GridSearchCV(model, grid, cv=2, refit=False).fit(X, Y)
    assert legend(plot_noise_robustness(fitted))[0] == "with_mean=True, random_state=0"
    grid = {"noise__rate": [0.0, 0.4], "estimator__clf__random_state": [0, 1]}
    grid["noise__random_state"] = [0, 1]
    fitted = GridSearchCV(model, grid, cv=2, refit=False).fit(X, Y)
    assert legend(plot_noise_robustness(fitted))[0] == (
        "estimator__clf__random_state=0, noise__random_state=0"
    )


def test_multi_metric_search_plots_the_refit_scorer_or_the_named_one():
    scoring = ["accuracy", "balanced_accuracy"]
    fitted = search({"estimator": HEADS}, scoring=scoring, refit="balanced_accuracy")
    assert plot_noise_robustness(fitted).get_ylabel() == "balanced accuracy (clean test labels)"
    ax = plot_noise_robustness(fitted, metric="accuracy")
    assert ax.get_ylabel() == "accuracy (clean test labels)"
    np.testing.assert_allclose(
        ax.get_lines()[0].get_ydata(), fitted.cv_results_["mean_test_accuracy"][:2]
    )
    with pytest.raises(ValueError, match="several scorers .* pass metric="):
        plot_noise_robustness(search({"estimator": HEADS}, scoring=scoring, refit=False))


def test_curve_table_plot_names_its_scoring_column():
    curve = noise_robustness_curve(
        LogisticRegression(max_iter=300), X, Y, [0.0, 0.4], cv=2, scoring="f1_macro", random_state=0
    )
    assert plot_noise_robustness(curve).get_ylabel() == "f1 macro (clean test labels)"


def test_learning_curve_names_the_learners_scorer():
    def run(scoring):
        learner = ActiveLearner(
            LogisticRegression(), RandomSampling(random_state=0), n_rounds=2, scoring=scoring
        )
        return learner.fit(X[:60], Y[:60], X_test=X[60:], y_test=Y[60:])

    ax = plot_learning_curve(run("balanced_accuracy"))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("labeled samples", "balanced accuracy")
    ax = plot_learning_curve({"a": run("balanced_accuracy"), "b": [run("balanced_accuracy")]})
    chance = f"chance (1/K = {1 / len(set(Y[:60].tolist())):.2f})"
    assert ax.get_ylabel() == "balanced accuracy" and legend(ax) == ["a", "b", chance]
    assert plot_learning_curve({"a": run(None), "b": run("f1_macro")}).get_ylabel() == "score"
    assert plot_learning_curve(run(None).history_, ylabel="accuracy").get_ylabel() == "accuracy"
    assert plot_learning_curve(run(None), y="fit_time").get_ylabel() == "fit time"
