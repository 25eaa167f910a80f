"""Learning curves of active-learning runs: score against the number of labels."""

import numpy as np

from ..utils._sklearn_compat import HasMethods, validate_params
from ._chance import CHANCE_CONSTRAINT, chance_level, draw_chance
from ._mpl import require_pyplot


@validate_params(
    {
        "results": [dict, list, HasMethods(["fit"])],
        "x": [str, None],
        "y": [str],
        "ax": [HasMethods(["plot"]), None],
        "title": [str, None],
        "ylabel": [str, None],
        "chance": CHANCE_CONSTRAINT,
    },
    prefer_skip_nested_validation=True,
)
def plot_learning_curve(
    results, *, x=None, y="score", ax=None, title=None, ylabel=None, chance="auto"
):
    """Plot score against the selected count for one or several active-learning runs.

    Parameters
    ----------
    results : ActiveLearner, ActiveSimCLR, list of dict, or dict
        A fitted :class:`~skhisto.ActiveLearner` or
        :class:`~skhisto.ActiveSimCLR`, a ``history_`` list, or a
        dict mapping a curve label (e.g. the strategy name) to any of these or
        to a list of them (one per seed). Several runs of one label are drawn
        as their mean with a band of one standard deviation.
    x : str, default=None
        History key on the x axis; None is the run's count: ``n_labeled``
        (ActiveLearner) or ``n_images`` (ActiveSimCLR).
    y : str, default="score"
        History key on the y axis (e.g. ``"query_time"``).
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure's when None.
    title : str, default=None
    ylabel : str, default=None
        The y-axis label; by default the learners' ``scoring`` when ``y`` is
        ``"score"`` and they all share one named scorer (``balanced_accuracy``
        is written "balanced accuracy"), else ``y``.
    chance : "auto", float or None, default="auto"
        A dashed line at the score of a classifier that ignores its input,
        with a legend entry. "auto": ``1/K`` when ``y`` is the score, the
        learners share the ``balanced_accuracy`` scorer and their ``K``
        classes are known (fitted learners); a float draws it at that score;
        None draws none.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skhisto import ActiveLearner, RandomSampling, UncertaintySampling
    >>> from skhisto.plotting import plot_learning_curve
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> strategies = {"random": RandomSampling(random_state=0), "entropy": UncertaintySampling()}
    >>> runs = {
    ...     name: ActiveLearner(
    ...         LogisticRegression(), strategy, n_rounds=3, scoring="balanced_accuracy"
    ...     ).fit(X[:150], y[:150], X_test=X[150:], y_test=y[150:])
    ...     for name, strategy in strategies.items()
    ... }
    >>> ax = plot_learning_curve(runs)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('labeled samples', 'balanced accuracy')
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['random', 'entropy', 'chance (1/K = 0.50)']
    >>> import matplotlib.pyplot as plt
    >>> plt.close("all")
    """
    plt = require_pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    runs = results if isinstance(results, dict) else {None: results}
    curves = {label: _histories(run) for label, run in runs.items()}
    x = _count_key(curves) if x is None else x
    for label, histories in curves.items():
        xs, mean, std = _mean_curve(histories, x, y)
        (line,) = ax.plot(xs, mean, marker="o", markersize=3, label=label)
        if np.any(std > 0):
            ax.fill_between(xs, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    name = _score_name(runs.values(), y)
    if chance == "auto":
        chance = chance_level(name, _n_classes(runs.values())) if y == "score" else None
    chance_line = draw_chance(ax, chance, name)
    ax.set_xlabel(_AXIS_NAMES.get(x, x.replace("_", " ")))
    ax.set_ylabel(ylabel or name.replace("_", " "))
    if title:
        ax.set_title(title)
    if any(label is not None for label in curves) or chance_line is not None:
        ax.legend()
    ax.grid(alpha=0.3)
    return ax


#: Axis text of the counts a history records.
_AXIS_NAMES = {"n_labeled": "labeled samples", "n_images": "images used"}


def _score_name(runs, y):
    """The scorer the learners among ``runs`` share, when ``y`` is their score; else ``y``."""
    if y != "score":
        return y
    learners = []
    for run in runs:
        learners += (
            [run] if hasattr(run, "history_") else [r for r in run if hasattr(r, "history_")]
        )
    names = {getattr(learner, "scoring", None) for learner in learners}
    (name,) = names if len(names) == 1 else (None,)
    return name if isinstance(name, str) else y


def _n_classes(runs):
    """The number of classes the fitted learners among ``runs`` share (None if unknown)."""
    found = set()
    for run in runs:
        for learner in [run] if hasattr(run, "history_") else list(run):
            try:
                found.add(len(learner.classes_))
            except (AttributeError, TypeError):
                continue
    return found.pop() if len(found) == 1 else None


def _histories(runs):
    """A list of history lists from a learner, a history, or a list of either."""
    if hasattr(runs, "history_"):
        return [runs.history_]
    runs = list(runs)
    if runs and isinstance(runs[0], dict):
        return [runs]
    return [run.history_ if hasattr(run, "history_") else list(run) for run in runs]


def _count_key(curves):
    """The count a run records: ``n_images`` for ActiveSimCLR, else ``n_labeled``."""
    for histories in curves.values():
        for history in histories:
            for entry in history:
                return "n_images" if "n_images" in entry else "n_labeled"
    return "n_labeled"


def _mean_curve(histories, x, y):
    """Mean and standard deviation of ``y`` over runs at each value of ``x``."""
    points = {}
    for history in histories:
        for entry in history:
            if entry.get(y) is not None:
                points.setdefault(entry[x], []).append(entry[y])
    if not points:
        raise ValueError(f"No history entry has a value for {y!r}; was a test set given?")
    xs = np.array(sorted(points))
    values = [np.asarray(points[k], dtype=float) for k in xs]
    return xs, np.array([v.mean() for v in values]), np.array([v.std() for v in values])
