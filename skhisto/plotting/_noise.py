"""Plot classification score against training label-noise rate."""

import numpy as np

from ._mpl import require_pyplot


def _describe(value):
    """Short legend text of a parameter value (estimators by class name)."""
    return type(value).__name__ if hasattr(value, "get_params") else repr(value)


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
    for setting, mean, std in zip(params, means, stds, strict=True):
        label = ", ".join(f"{name}={_describe(setting[name])}" for name in others)
        curves.setdefault(label, []).append((setting[rate_param], mean, std))
    return {
        label: tuple(np.array(v) for v in zip(*sorted(points), strict=True))
        for label, points in curves.items()
    }


def _curves_from_table(table, group_by, metric):
    """{label: (rates, means, stds)} from a :func:`noise_robustness_curve` table."""
    if group_by is None:
        group_by = [c for c in ("estimator", "noise") if c in table and table[c].nunique() > 1]
    group_by = [group_by] if isinstance(group_by, str) else list(group_by)
    hint = "Pass the table of noise_robustness_curve (or metric=/group_by= naming its columns)."
    _require(table.columns, ["rate", metric, *group_by], "the results table", hint)
    if not len(table):
        raise ValueError("the results table is empty: there is nothing to plot.")
    groups = table.groupby(group_by) if group_by else [("", table)]
    curves = {}
    for key, part in groups:
        stats = part.groupby("rate")[metric].agg(["mean", "std"]).fillna(0.0)
        label = ", ".join(map(str, key)) if isinstance(key, tuple) else str(key)
        curves[label] = (stats.index.to_numpy(), stats["mean"].to_numpy(), stats["std"].to_numpy())
    return curves


def plot_noise_robustness(
    results, *, ax=None, rate_param=None, metric=None, group_by=None, title=None
):
    """Plot mean score (with a one-standard-deviation band) against noise rate.

    Parameters
    ----------
    results : pandas.DataFrame or dict
        Either the table of
        :func:`skhisto.model_selection.noise_robustness_curve` (one row per
        rate and fold), or a search's ``cv_results_`` whose grid includes a
        noise rate (e.g. ``clf__noise__rate``); one line is drawn per
        setting of the other searched parameters.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made when None.
    rate_param : str, optional
        Name of the rate parameter in ``cv_results_`` (found automatically
        when exactly one parameter is named ``rate`` or ends in ``__rate``).
    metric : str, optional
        The score to plot: the table's column (default ``"score"``) or the
        scorer name of a multi-metric search (default ``"score"``).
    group_by : str or list of str, optional
        Table columns that separate the lines (default: ``estimator`` and
        ``noise`` when they vary).
    title : str, optional
        Axes title.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    One line per head, the mean over folds at each rate:

    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> from skhisto.plotting import plot_noise_robustness
    >>> table = pd.DataFrame({
    ...     "estimator": ["MLPHead"] * 4 + ["LinearHead"] * 4,
    ...     "rate": [0.0, 0.0, 0.4, 0.4] * 2,
    ...     "score": [0.90, 0.92, 0.80, 0.78, 0.88, 0.90, 0.70, 0.72],
    ... })
    >>> ax = plot_noise_robustness(table)
    >>> {line.get_label(): line.get_ydata().round(2).tolist() for line in ax.get_lines()}
    {'LinearHead': [0.89, 0.71], 'MLPHead': [0.91, 0.79]}
    >>> plt.close("all")
    """
    plt = require_pyplot()
    metric = metric or "score"
    if isinstance(results, dict):
        curves = _curves_from_cv_results(results, rate_param, metric)
    elif hasattr(results, "groupby"):
        curves = _curves_from_table(results, group_by, metric)
    else:
        raise TypeError(
            "results must be a noise_robustness_curve DataFrame or a search's cv_results_ "
            f"dict, got {type(results).__name__}."
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    for label, (rates, means, stds) in curves.items():
        (line,) = ax.plot(rates, means, marker="o", label=label or None)
        ax.fill_between(rates, means - stds, means + stds, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("training label-noise rate")
    ax.set_ylabel(f"{metric} (clean test labels)")
    if any(curves):
        ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax
