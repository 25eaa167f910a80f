"""Repeat an experiment with several seeds; its mean and standard deviation across them."""

import numbers

import numpy as np

from ..utils._optional import import_pandas
from ..utils._sklearn_compat import validate_params

#: The columns of a noise_robustness_curve or compare_backbones table that name a setting.
SETTING_COLUMNS = ("rate", "backbone", "family", "head", "loss", "noise", "estimator")


@validate_params(
    {"function": [callable], "seeds": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def repeat_over_seeds(function, seeds, *args, **kwargs):
    """Run ``function(*args, random_state=seed, **kwargs)`` once per seed; one table.

    Parameters
    ----------
    function : callable
        Returns a :class:`pandas.DataFrame` (one row per measurement), e.g.
        :func:`~skhisto.model_selection.noise_robustness_curve` or
        :func:`~skhisto.model_selection.compare_backbones`; it takes
        ``random_state``, which seeds everything it draws (folds, noise, model).
    seeds : array-like of int
        The seeds, each a run; at least one, no repeats.
    *args, **kwargs
        The other arguments of ``function``, the same for every seed.

    Returns
    -------
    table : pandas.DataFrame
        The runs' tables, one after the other, with a ``seed`` column first;
        :func:`summarize_seeds` gives each setting's mean and std across seeds.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skhisto.model_selection import noise_robustness_curve, repeat_over_seeds
    >>> X, y = load_iris(return_X_y=True)
    >>> table = repeat_over_seeds(
    ...     noise_robustness_curve, [0, 1], LogisticRegression(max_iter=500), X, y,
    ...     [0.0, 0.4], cv=3,
    ... )
    >>> table.groupby("seed").size().tolist()
    [6, 6]
    """
    pd = import_pandas("repeat_over_seeds")
    seeds = check_seeds(seeds)
    tables = []
    for seed in seeds:
        table = function(*args, random_state=seed, **kwargs)
        table.insert(0, "seed", seed)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def check_seeds(seeds):
    """``seeds`` as a list of distinct ints; a ValueError otherwise."""
    seeds = list(np.asarray(seeds).ravel().tolist())
    if not seeds:
        raise ValueError("seeds is empty: pass at least one seed, e.g. [0, 1, 2].")
    bad = [s for s in seeds if not isinstance(s, numbers.Integral) or isinstance(s, bool)]
    if bad:
        raise ValueError(f"seeds must be integers, got {bad[0]!r}.")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ValueError(f"seeds {repeated} are repeated: each seed is one run, give it once.")
    return [int(s) for s in seeds]


@validate_params(
    {
        "table": ["array-like"],
        "by": [list, tuple, str, None],
        "score": [str],
    },
    prefer_skip_nested_validation=True,
)
def summarize_seeds(table, *, by=None, score="score"):
    """Mean and standard deviation across seeds of each setting's score.

    Each seed's score of a setting is first averaged over its rows (the
    folds); the mean and (population) standard deviation are then taken
    across the seeds, so the spread is that of repeated runs, not of folds.

    Parameters
    ----------
    table : pandas.DataFrame
        A table with a ``seed`` column, as :func:`repeat_over_seeds` returns.
    by : str or list of str, optional
        The columns that name a setting (default: those of ``rate``,
        ``backbone``, ``family``, ``head``, ``loss``, ``noise`` and
        ``estimator`` in ``table``).
    score : str, default="score"
        The score column.

    Returns
    -------
    summary : pandas.DataFrame
        One row per setting: the ``by`` columns, ``<score>_mean``,
        ``<score>_std`` and ``n_seeds``.

    Examples
    --------
    >>> import pandas as pd
    >>> from skhisto.model_selection import summarize_seeds
    >>> table = pd.DataFrame({
    ...     "seed": [0, 0, 1, 1], "rate": [0.0, 0.0, 0.0, 0.0], "score": [0.8, 1.0, 0.6, 0.8],
    ... })
    >>> summarize_seeds(table)
       rate  score_mean  score_std  n_seeds
    0   0.0         0.8        0.1        2
    """
    pd = import_pandas("summarize_seeds")
    table = pd.DataFrame(table)
    if by is None:
        by = [c for c in SETTING_COLUMNS if c in table]
    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in ["seed", score, *by] if c not in table]
    if missing:
        raise ValueError(
            f"table has no {missing}; it has {list(table.columns)}. Pass the table of "
            "repeat_over_seeds (or by=/score= naming its columns)."
        )
    keys = by or [lambda _: 0]
    per_seed = table.groupby([*by, "seed"], sort=False, dropna=False)[score].mean().reset_index()
    grouped = per_seed.groupby(keys, sort=False, dropna=False)[score]
    summary = grouped.agg(
        **{
            f"{score}_mean": "mean",
            f"{score}_std": lambda s: float(np.std(s.to_numpy(dtype=float))),
            "n_seeds": "size",
        }
    )
    return summary.reset_index(drop=not by)
