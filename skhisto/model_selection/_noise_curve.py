"""Cross-validated score as a function of the training label-noise rate."""

import numbers

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.model_selection import StratifiedKFold, check_cv, cross_validate
from sklearn.utils import check_random_state

from ..noise import AsymmetricNoise, NoisyLabelClassifier, UniformNoise
from ..utils import check_labels
from ..utils._optional import import_pandas
from ..utils._params import with_seed
from ..utils._sklearn_compat import HasMethods, StrOptions, validate_params

_NOISES = {"uniform": UniformNoise, "asymmetric": AsymmetricNoise}
_MAX_SEED = np.iinfo(np.int32).max


def _checked_rates(rates):
    """Rates as a 1-D float array: non-empty, distinct, each a finite number in [0, 1)."""
    try:
        values = np.asarray(rates, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"rates must be numbers in [0, 1); got {rates!r}.") from exc
    # NaN fails both comparisons, so the range is checked positively.
    if not len(values) or not ((values >= 0) & (values < 1)).all():
        raise ValueError(f"rates must be noise rates in [0, 1); got {values.tolist()}.")
    if len(np.unique(values)) != len(values):
        raise ValueError(f"rates has repeated values {values.tolist()}; give each rate once.")
    return values


def _noise_template(noise, seed):
    if isinstance(noise, str):
        return _NOISES[noise](random_state=seed)
    if "rate" not in noise.get_params():
        raise ValueError(
            f"noise={noise!r} has no 'rate' parameter to vary; use 'uniform', 'asymmetric' "
            "or a noise sampler with a rate."
        )
    return with_seed(noise, seed)


@validate_params(
    {
        "estimator": [HasMethods(["fit", "predict"])],
        "X": ["array-like", list],
        "y": ["array-like"],
        "rates": ["array-like"],
        "noise": [StrOptions(set(_NOISES)), HasMethods(["fit_resample"])],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        "n_jobs": [int, None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=False,
)
def noise_robustness_curve(
    estimator,
    X,
    y,
    rates,
    *,
    noise="uniform",
    cv=5,
    scoring="balanced_accuracy",
    n_jobs=None,
    random_state=None,
):
    """Score ``estimator`` trained on noisy labels, for each noise rate and fold.

    For every rate, ``estimator`` is wrapped in a
    :class:`~skhisto.NoisyLabelClassifier` and cross-validated: noise is
    injected into the training folds only, and every score is computed on
    the clean labels of the test fold. All rates use the same folds and the
    same noise seed, so with :class:`~skhisto.UniformNoise` or
    :class:`~skhisto.AsymmetricNoise` the labels flipped at a lower rate
    stay flipped at every higher rate: the curve is one nested experiment.

    Parameters
    ----------
    estimator : classifier
        Trained on the noisy labels (cloned), e.g. a
        :class:`~sklearn.pipeline.Pipeline` of an embedder and a head.
    X : array-like of shape (n_samples, ...) or list
        Samples as ``estimator`` takes them (embeddings, images or paths).
    y : array-like of shape (n_samples,)
        Clean labels.
    rates : array-like of float in [0, 1)
        Noise rates to evaluate.
    noise : {"uniform", "asymmetric"} or noise sampler, default="uniform"
        The noise model; a sampler instance must have a ``rate`` parameter
        (e.g. ``AsymmetricNoise(mapping=...)``). Its ``random_state``, when
        None, is drawn from ``random_state``.
    cv : int, cross-validation generator or iterable, default=5
        As in :func:`~sklearn.model_selection.cross_validate`; an int means
        stratified folds shuffled with ``random_state``.
    scoring : str or callable, default="balanced_accuracy"
        One scorer, applied to clean test labels.
    n_jobs : int or None, default=None
        Parallel fits within each rate.
    random_state : int, RandomState instance or None, default=None
        Seeds the fold shuffling and the noise.

    Returns
    -------
    curve : pandas.DataFrame
        One row per rate and fold, with columns ``rate``, ``fold``,
        ``score``, ``realised_rate`` (the fraction of training labels
        actually flipped), ``noise`` (the sampler's class name),
        ``estimator`` (the estimator's class name), ``scoring``,
        ``fit_time`` and ``score_time``.

    See Also
    --------
    skhisto.plotting.plot_noise_robustness : Plot the returned table.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skhisto.model_selection import noise_robustness_curve
    >>> X, y = load_iris(return_X_y=True)
    >>> curve = noise_robustness_curve(
    ...     LogisticRegression(max_iter=500), X, y, [0.0, 0.4], cv=3, random_state=0
    ... )
    >>> curve.groupby("rate")["score"].size().tolist()
    [3, 3]
    """
    pd = import_pandas("noise_robustness_curve (it returns a DataFrame)")
    if not is_classifier(estimator):
        raise ValueError(f"estimator must be a classifier, got {estimator!r}.")
    rates = _checked_rates(rates)
    check_labels(y, "noise_robustness_curve")
    rng = check_random_state(random_state)
    if isinstance(cv, numbers.Integral):
        cv = StratifiedKFold(cv, shuffle=True, random_state=rng.randint(_MAX_SEED))
    folds = list(check_cv(cv, y, classifier=True).split(X, y))
    template = _noise_template(noise, rng.randint(_MAX_SEED))
    rows = []
    for rate in rates:
        model = NoisyLabelClassifier(estimator, clone(template).set_params(rate=rate))
        result = cross_validate(
            model,
            X,
            y,
            cv=folds,
            scoring=scoring,
            n_jobs=n_jobs,
            return_estimator=True,
            error_score="raise",
        )
        for fold, fitted in enumerate(result["estimator"]):
            rows.append(
                {
                    "rate": rate,
                    "fold": fold,
                    "score": result["test_score"][fold],
                    "realised_rate": fitted.noise_.noise_mask_.mean(),
                    "noise": type(template).__name__,
                    "estimator": type(estimator).__name__,
                    "scoring": scoring if isinstance(scoring, str) else repr(scoring),
                    "fit_time": result["fit_time"][fold],
                    "score_time": result["score_time"][fold],
                }
            )
    return pd.DataFrame(rows)
