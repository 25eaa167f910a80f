"""Plot classification score against training label-noise rate."""

import numpy as np

from ..utils._sklearn_compat import HasMethods, validate_params
from ._chance import CHANCE_CONSTRAINT, chance_level, draw_chance, table_chance
from ._mpl import require_pyplot


def _describe(value):
    """Short legend text of a parameter value (estimators by class name)."""
    return type(value).__name__ if hasattr(value, "get_params") else repr(value)


def _metric_label(metric):
    """Axis text of a scorer name: ``balanced_accuracy`` -> ``balanced accuracy``."""
    return metric.replace("_", " ")


def _line_labels(params, others):
    """Legend text of each setting: the value alone when it is one estimator parameter, else
    ``name=value`` pairs with the short names (the last ``__`` component) when they are unique."""
    short = [name.rsplit("__", 1)[-1] for name in others]
    names = short if len(set(short)) == len(short) else others
    estimators_only = len(others) == 1 and all(hasattr(p[others[0]], "get_params") for p in params)
    if estimators_only:
        return [_describe(setting[others[0]]) for setting in params]
    return [
        ", ".join(
            f"{name}={_describe(setting[key])}" for name, key in zip(names, others, strict=True)
        )
        for setting in params
    ]


def _rate_param(params):
    candidates = [name for name in params if name == "rate" or name.endswith("__rate")]
    if len(candidates) != 1:
        raise ValueError(
            "cannot tell which searched parameter is the noise rate: expected exactly one "
            f"parameter named 'rate' or ending in '__rate', found {candidates or 'none'}; "
            "pass rate_param."
        )
    return candidates[0]


def _require(present, needed, what, hint):
    """Raise a ValueError listing the keys of ``needed`` missing from ``present``."""
    missing = [key for key in needed if key not in present]
    if missing:
        raise ValueError(f"{what} has no {missing}; it has {sorted(present)}. {hint}")


def _curves_from_cv_results(cv_results, rate_param, metric):
    """{label: (rates, means, stds)} from a search's ``cv_results_``."""
    hint = "Pass a fitted search's cv_results_ (or metric= naming one of its scorers)."
    _require(
        cv_results, ["params", f"mean_test_{metric}", f"std_test_{metric}"], "cv_results", hint
    )
    params = cv_results["params"]
    if not len(params):
        raise ValueError("cv_results has no parameter settings to plot.")
    rate_param = rate_param or _rate_param(params[0])
    _require(params[0], [rate_param], "cv_results['params']", "Pass the rate's name as rate_param.")
    means, stds = cv_results[f"mean_test_{metric}"], cv_results[f"std_test_{metric}"]
    # Only the parameters that vary across the search separate the lines.
    others = [
        name
        for name in params[0]
        if name != rate_param and len({_describe(p[name]) for p in params}) > 1
    ]
    curves = {}
    labels = _line_labels(params, others)
    for setting, label, mean, std in zip(params, labels, means, stds, strict=True):
        curves.setdefault(label, []).append((setting[rate_param], mean, std))
    return {
        label: (*(np.array(v) for v in zip(*sorted(points), strict=True)), {})
        for label, points in curves.items()
    }


#: The columns that separate the lines of a compare_backbones table, when they vary.
COMPARED = ("backbone", "head", "loss", "noise")
LINE_STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P")


def _curves_from_table(table, group_by, metric):
    """{label: (rates, means, stds, style)} from a :func:`noise_robustness_curve` table or a
    :func:`compare_backbones` one (a ``backbone`` column: a color per backbone, with its
    ``family`` in the label, and a line style per head and loss)."""
    if group_by is None:
        candidates = COMPARED if "backbone" in table else ("estimator", "noise")
        group_by = [c for c in candidates if c in table and table[c].nunique() > 1]
    group_by = [group_by] if isinstance(group_by, str) else list(group_by)
    hint = "Pass the table of noise_robustness_curve (or metric=/group_by= naming its columns)."
    _require(table.columns, ["rate", metric, *group_by], "the results table", hint)
    if not len(table):
        raise ValueError("the results table is empty: there is nothing to plot.")
    # A comparison keeps the order of its backbones and heads; other tables sort their lines.
    groups = table.groupby(group_by, sort="backbone" not in table) if group_by else [((), table)]
    styles = _Styles(group_by)
    curves = {}
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        stats = part.groupby("rate")[metric].agg(["mean", "std"]).fillna(0.0)
        setting = dict(zip(group_by, key, strict=True))
        label = ", ".join(_key_text(name, value, part) for name, value in setting.items())
        curves[label] = (
            stats.index.to_numpy(),
            stats["mean"].to_numpy(),
            stats["std"].to_numpy(),
            styles(setting),
        )
    return curves


def _key_text(column, value, part):
    """A line's label part: a backbone with its registry family, ``"UNI (contrastive)"``."""
    if column == "backbone" and "family" in part and str(part["family"].iloc[0]):
        return f"{value} ({part['family'].iloc[0]})"
    return str(value)


class _Styles:
    """Plot keywords of each line: with ``backbone`` among the columns, a color per backbone
    and a line style and marker per setting of the other columns; else matplotlib's cycle."""

    def __init__(self, columns):
        self.columns = columns
        self.colors, self.others = {}, {}

    def __call__(self, key):
        if "backbone" not in self.columns:
            return {}
        color = self.colors.setdefault(key["backbone"], f"C{len(self.colors) % 10}")
        rest = tuple(value for column, value in key.items() if column != "backbone")
        k = self.others.setdefault(rest, len(self.others))
        return {
            "color": color,
            "linestyle": LINE_STYLES[k % len(LINE_STYLES)],
            "marker": MARKERS[k % len(MARKERS)],
        }


def _search_metric(search, metric):
    """(cv_results_ key, scorer name) of a fitted search; a multi-metric one plots ``refit``'s."""
    from sklearn.base import is_classifier

    scoring = search.scoring
    if metric is not None:
        return metric, metric
    if isinstance(scoring, str):
        return "score", scoring
    if scoring is None:  # the estimator's own score: accuracy for a classifier
        return "score", "accuracy" if is_classifier(search.estimator) else "score"
    if callable(scoring):
        return "score", getattr(scoring, "__name__", "score")
    if isinstance(search.refit, str):
        return search.refit, search.refit
    raise ValueError(
        f"the search has several scorers {sorted(scoring)}; pass metric= naming the one to plot."
    )


def _table_metric(table, metric):
    """The table's score column and its scorer's name (the ``scoring`` column, when one)."""
    if metric is not None or "scoring" not in table or table["scoring"].nunique() != 1:
        return metric or "score", metric or "score"
    name = str(table["scoring"].iloc[0])
    return "score", name if name.isidentifier() else "score"


def _curves(results, rate_param, metric, group_by):
    """{label: (rates, means, stds)} and the metric's name, from any accepted ``results``."""
    if hasattr(results, "cv_results_"):
        key, name = _search_metric(results, metric)
        return _curves_from_cv_results(results.cv_results_, rate_param, key), name
    if isinstance(results, dict):
        return _curves_from_cv_results(results, rate_param, metric or "score"), metric or "score"
    if hasattr(results, "groupby"):
        key, name = _table_metric(results, metric)
        return _curves_from_table(results, group_by, key), name
    raise TypeError(
        "results must be a noise_robustness_curve DataFrame, a fitted search or its cv_results_ "
        f"dict, got {type(results).__name__}."
    )


def _auto_chance(results, metric):
    """The chance level of ``metric`` that ``results`` tell (None when they do not)."""
    if hasattr(results, "groupby"):
        return table_chance(results, metric)
    classes = getattr(results, "classes_", None) if hasattr(results, "cv_results_") else None
    return chance_level(metric, None if classes is None else len(classes))


@validate_params(
    {
        "results": [dict, HasMethods(["groupby"]), HasMethods(["fit"])],
        "ax": [HasMethods(["plot"]), None],
        "rate_param": [str, None],
        "metric": [str, None],
        "group_by": [str, list, tuple, None],
        "title": [str, None],
        "ylabel": [str, None],
        "chance": CHANCE_CONSTRAINT,
    },
    prefer_skip_nested_validation=True,
)
def plot_noise_robustness(
    results,
    *,
    ax=None,
    rate_param=None,
    metric=None,
    group_by=None,
    title=None,
    ylabel=None,
    chance="auto",
):
    """Plot mean score (with a one-standard-deviation band) against noise rate.

    Parameters
    ----------
    results : pandas.DataFrame, fitted search or dict
        The table of :func:`skhisto.model_selection.noise_robustness_curve`
        or :func:`skhisto.model_selection.compare_backbones` (one row per
        rate and fold), a fitted
        :class:`~sklearn.model_selection.GridSearchCV` whose grid includes a
        noise rate (e.g. ``clf__noise__rate``), or its ``cv_results_``; one
        line is drawn per setting of the other searched parameters.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made when None.
    rate_param : str, optional
        Name of the rate parameter in ``cv_results_`` (found automatically
        when exactly one parameter is named ``rate`` or ends in ``__rate``).
    metric : str, optional
        The score to plot: the table's column (default ``"score"``) or the
        scorer name of a multi-metric search (default: its ``refit`` scorer).
    group_by : str or list of str, optional
        Table columns that separate the lines (default: those of ``estimator``
        and ``noise`` that vary; in a :func:`compare_backbones` table, those of
        ``backbone``, ``head``, ``loss`` and ``noise`` that vary).
    title : str, optional
        Axes title.
    ylabel : str, optional
        The y-axis label. By default it names the metric: the search's
        ``scoring`` or the table's ``scoring`` column (``balanced_accuracy``
        is written "balanced accuracy"), else ``metric``.
    chance : "auto", float or None, default="auto"
        A dashed line at the score of a classifier that ignores its input,
        with a legend entry. "auto": ``1/K`` for balanced accuracy and the
        majority class's share for accuracy, where the number of classes
        ``K`` is known (a :func:`noise_robustness_curve` or
        :func:`compare_backbones` table records it; a refitted search has
        ``classes_``); a float draws it at that score; None draws none.

    Returns
    -------
    ax : matplotlib Axes

    Notes
    -----
    The legend names each line by what separates it: the estimator's class
    name (``MLPHead``) when the search varies one estimator parameter besides
    the rate, else ``name=value`` pairs with short parameter names
    (``estimator=MLPHead, loss='gce'``). A
    :func:`~skhisto.model_selection.compare_backbones` table gets a color per
    backbone, named with its registry family (``uni (non-contrastive),
    MLPHead, gce``), and a line style and marker per head and loss; past six
    lines the legend goes beside the axes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skhisto import NoisyLabelClassifier, UniformNoise
    >>> from skhisto.plotting import plot_noise_robustness
    >>> X, y = load_iris(return_X_y=True)
    >>> model = NoisyLabelClassifier(LogisticRegression(), UniformNoise(random_state=0))
    >>> grid = {
    ...     "noise__rate": [0.0, 0.4],
    ...     "estimator": [LogisticRegression(max_iter=500), DecisionTreeClassifier(random_state=0)],
    ... }
    >>> search = GridSearchCV(model, grid, scoring="balanced_accuracy", cv=2).fit(X, y)
    >>> ax = plot_noise_robustness(search)
    >>> ax.get_ylabel()
    'balanced accuracy (clean test labels)'
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['LogisticRegression', 'DecisionTreeClassifier', 'chance (1/K = 0.33)']
    >>> import matplotlib.pyplot as plt
    >>> plt.close("all")
    """
    plt = require_pyplot()
    curves, name = _curves(results, rate_param, metric, group_by)
    many = len(curves) > 6
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5) if many else (5, 3.5))
    for label, (rates, means, stds, style) in curves.items():
        (line,) = ax.plot(rates, means, **{"marker": "o", **style}, label=label or None)
        band = 0.08 if many else 0.2  # many overlapping bands would hide the lines
        ax.fill_between(rates, means - stds, means + stds, color=line.get_color(), alpha=band)
    if chance == "auto":
        chance = _auto_chance(results, name)
    chance_line = draw_chance(ax, chance, name)
    ax.set_xlabel("training label-noise rate")
    ax.set_ylabel(ylabel or f"{_metric_label(name)} (clean test labels)")
    if chance_line is not None and not any(curves):
        ax.legend(fontsize="small")
    elif any(curves) and many:  # beside the axes, not over the curves
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1))
    elif any(curves):
        ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax
