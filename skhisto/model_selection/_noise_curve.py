"""Cross-validated score as a function of the training label-noise rate."""

import inspect
import warnings

import numpy as np
from sklearn import get_config
from sklearn.base import clone, is_classifier
from sklearn.model_selection import cross_validate
from sklearn.utils import check_random_state

from ..noise import (
    GroupNoise,
    NoisyLabelClassifier,
    check_majority_rates,
    check_noise_rates,
    get_noise_model,
    list_noise_models,
)
from ..utils import check_groups, check_labels, grouped_folds, progress
from ..utils._optional import import_pandas
from ..utils._params import with_seed
from ..utils._sklearn_compat import (
    HasMethods,
    InvalidParameterError,
    StrOptions,
    validate_params,
)
from ._tracking import fit_tags

_MAX_SEED = np.iinfo(np.int32).max


def _noise_template(noise, seed):
    if isinstance(noise, str):
        noise = get_noise_model(noise)()
    if "rate" not in noise.get_params():
        names = ", ".join(repr(name) for name in list_noise_models())
        raise ValueError(
            f"noise={noise!r} has no 'rate' parameter to vary; use {names} "
            "or a noise sampler with a rate."
        )
    return with_seed(noise, seed)


@validate_params(
    {
        "estimator": [HasMethods(["fit", "predict"])],
        "X": ["array-like", list],
        "y": ["array-like"],
        "rates": ["array-like"],
        # A registered name (checked by get_noise_model) or a sampler.
        "noise": [str, HasMethods(["fit_resample"])],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        "n_jobs": [int, None],
        "random_state": ["random_state"],
        "verbose": [StrOptions({"auto"}), "boolean"],
        "groups": ["array-like", None],
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
    verbose=False,
    groups=None,
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
    noise : str or noise sampler, default="uniform"
        The noise model: a name of :func:`~skhisto.noise.list_noise_models`
        (``"uniform"``, ``"asymmetric"``, ``"group"`` or one added with
        :func:`~skhisto.noise.register_noise_model`), or a sampler instance
        with a ``rate`` parameter (e.g. ``AsymmetricNoise(mapping=...)``).
        Its ``random_state``, when None, is drawn from ``random_state``.
    cv : int, cross-validation generator or iterable, default=5
        As in :func:`~sklearn.model_selection.cross_validate`; an int means
        stratified folds shuffled with ``random_state``.
    scoring : str or callable, default="balanced_accuracy"
        One scorer, applied to clean test labels.
    n_jobs : int or None, default=None
        Parallel fits within each rate.
    random_state : int, RandomState instance or None, default=None
        Seeds the fold shuffling and the noise.
    verbose : {"auto"} or bool, default=False
        Progress bar over the fits (advanced after each rate's folds);
        ``"auto"`` shows it once the run is long.
    groups : array-like of shape (n_samples,), default=None
        Patient or slide of each sample. An int ``cv`` is then
        :class:`~sklearn.model_selection.StratifiedGroupKFold`, and no fold of
        any ``cv`` may share a group between training and test: patches of
        one slide are near-copies, and a patch-level split scores memory.
        A noise sampler whose ``fit_resample`` takes ``groups`` gets each
        training fold's groups: ``noise="group"`` (:class:`~skhisto.GroupNoise`)
        flips whole groups, and needs them.

    Returns
    -------
    curve : pandas.DataFrame
        One row per rate and fold, with columns ``rate``, ``fold``,
        ``score``, ``realized_rate`` (the fraction of training labels
        actually flipped), ``noise`` (the sampler's class name),
        ``estimator`` (the estimator's class name), ``scoring``,
        ``fit_time`` and ``score_time``; and ``realised_rate``, the same
        as ``realized_rate`` under its former spelling (deprecated, removed
        in 0.3). Its ``attrs`` hold ``n_classes`` and ``class_shares`` (of
        ``y``), from which the plots draw the chance level.

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
    rates = check_noise_rates(rates)
    if isinstance(noise, str) and noise not in list_noise_models():  # before any work
        raise InvalidParameterError(
            "The 'noise' parameter of noise_robustness_curve must be a registered noise model "
            f"({', '.join(map(repr, list_noise_models()))}) or a sampler; got {noise!r}."
        )
    check_labels(y, "noise_robustness_curve")
    rng = check_random_state(random_state)
    folds = grouped_folds(cv, X, y, groups, random_state=rng.randint(_MAX_SEED))
    template = _noise_template(noise, rng.randint(_MAX_SEED))
    noise_groups = _noise_groups(template, groups)
    # once, naming every rate past the point where a class's noisy label is the majority
    check_majority_rates(template, rates, len(np.unique(np.asarray(y))))
    rows = []
    bar = progress(None, total=len(rates) * len(folds), desc="noise rate fits", verbose=verbose)
    with bar, warnings.catch_warnings():
        # said above; not again by each fold's sampler
        warnings.filterwarnings("ignore", message=".*is no longer the majority")
        for rate in rates:
            with fit_tags("fold", rate=float(rate)):  # names tracked fits (Tracker.callback)
                rows += _rate_rows(
                    estimator, X, y, rate, template, folds, scoring, n_jobs, noise_groups
                )
            bar.update(len(folds))
    table = pd.DataFrame(rows)
    # the chance level of the plots (skhisto.plotting draws it): K and each class's share
    _, counts = np.unique(np.asarray(y), return_counts=True)
    table.attrs.update(n_classes=len(counts), class_shares=(counts / counts.sum()).tolist())
    return table


def _noise_groups(noise, groups):
    """The groups to pass to ``noise`` (None when it takes none); refused when it needs them."""
    if groups is None and isinstance(noise, GroupNoise):  # before any work
        raise ValueError(
            f"noise={type(noise).__name__} flips whole groups, and noise_robustness_curve got "
            "no groups: pass groups=<the slide or patient of each sample>."
        )
    takes_groups = "groups" in inspect.signature(noise.fit_resample).parameters
    return groups if takes_groups else None


def _rate_rows(estimator, X, y, rate, template, folds, scoring, n_jobs, groups=None):
    """The rows of one rate: ``estimator`` cross-validated on labels noisy at ``rate``.

    ``groups``, when given, reaches the noise sampler: each training fold's own.
    """
    model = NoisyLabelClassifier(estimator, clone(template).set_params(rate=rate))
    params = None
    if groups is not None:
        params = {"groups": check_groups(groups, len(y))}
        if get_config()["enable_metadata_routing"]:
            model.set_fit_request(groups=True)
    result = cross_validate(
        model,
        X,
        y,
        cv=folds,
        scoring=scoring,
        n_jobs=n_jobs,
        return_estimator=True,
        error_score="raise",
        params=params,
    )
    return [
        {
            "rate": rate,
            "fold": fold,
            "score": result["test_score"][fold],
            "realized_rate": fitted.noise_.noise_mask_.mean(),
            "noise": type(template).__name__,
            "estimator": type(estimator).__name__,
            "scoring": scoring if isinstance(scoring, str) else repr(scoring),
            "fit_time": result["fit_time"][fold],
            "score_time": result["score_time"][fold],
            "realised_rate": fitted.noise_.noise_mask_.mean(),  # deprecated: removed in 0.3
        }
        for fold, fitted in enumerate(result["estimator"])
    ]
