"""Every score plot draws a dashed chance line with a legend entry (issue 24)."""

import matplotlib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from skhisto.active import ActiveLearner, RandomSampling
from skhisto.model_selection import noise_robustness_curve
from skhisto.plotting import plot_learning_curve, plot_noise_robustness

matplotlib.use("Agg")
rng = np.random.default_rng(0)
Y = np.repeat(["aca", "n", "scc"], [30, 20, 10])  # K = 3, majority share 0.5
Y = Y[rng.permutation(len(Y))]  # every class in the learners' first labels
X = rng.normal(size=(len(Y), 4)) + (Y == "n")[:, None]


def chance_lines(ax):
    return [line for line in ax.get_lines() if line.get_label().startswith("chance")]


@pytest.mark.parametrize(
    "scoring, level, words",
    [("balanced_accuracy", 1 / 3, "chance (1/K = 0.33)"), ("accuracy", 0.5, "majority class")],
)
def test_the_noise_curve_plot_draws_chance(scoring, level, words):
    curve = noise_robustness_curve(
        LogisticRegression(), X, Y, [0.0, 0.2], cv=2, scoring=scoring, random_state=0
    )
    ax = plot_noise_robustness(curve)
    (line,) = chance_lines(ax)
    assert line.get_linestyle() == "--" and line.get_ydata()[0] == pytest.approx(level)
    assert words in [t.get_text() for t in ax.get_legend().get_texts()][-1]
    assert not chance_lines(plot_noise_robustness(curve, chance=None))
    (line,) = chance_lines(plot_noise_robustness(curve, chance=0.25))
    assert line.get_ydata()[0] == 0.25
    matplotlib.pyplot.close("all")


def test_the_learning_curve_draws_chance_of_its_learners():
    learner = ActiveLearner(
        LogisticRegression(), RandomSampling(random_state=0), n_rounds=2,
        scoring="balanced_accuracy",
    ).fit(X[:45], Y[:45], X_test=X[45:], y_test=Y[45:])  # fmt: skip
    ax = plot_learning_curve({"random": learner})
    (line,) = chance_lines(ax)
    assert line.get_ydata()[0] == pytest.approx(1 / 3)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "random",
        "chance (1/K = 0.33)",
    ]
    assert not chance_lines(plot_learning_curve({"random": learner}, y="fit_time"))
    matplotlib.pyplot.close("all")
