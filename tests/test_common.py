"""scikit-learn's estimator checks over every public skhisto estimator.

Every estimator exported from ``skhisto`` must appear either in
``CHECKED_INSTANCES`` (tabular estimators, run through
``parametrize_with_checks``) or in ``NOT_TABULAR`` with the reason it cannot be.
"""

import inspect

from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import skhisto

# Tabular estimators and the (small, fast) instances the checks run on.
CHECKED_INSTANCES = []

# Expected check failures: {estimator class name: {check name: reason}}.
EXPECTED_FAILED_CHECKS = {}

# Estimators whose input is images, not a numeric table, with why.
NOT_TABULAR = {
    "FoundationEmbedder": "input is uint8 images (n, H, W, 3) or image paths, not a numeric table",
    "SimCLREmbedder": "trains a CNN on uint8 images (n, H, W, 3) or paths, not a numeric table",
    "ActiveSimCLR": "trains SimCLR on an image pool and needs a labeled image set in fit",
}


# Estimators without the fit/predict(/transform) contract the checks exercise, with why;
# tests/test_active.py tests their clone, get_params and pickling instead.
NOT_FIT_PREDICT = {
    name: "an active-learning query strategy: no fit, it selects samples with query(X, y)"
    for name in ("RandomSampling", "UncertaintySampling", "CoresetSampling", "TypiClustSampling")
} | {
    "ActiveLearner": "fit(X, oracle) labels only the samples it queries, so its model never "
    "sees all of y, which the classifier checks assume",
}


def _public_estimators():
    return sorted(
        name
        for name in skhisto.__all__
        if inspect.isclass(getattr(skhisto, name))
        and issubclass(getattr(skhisto, name), BaseEstimator)
    )


def test_every_public_estimator_is_checked_or_exempted():
    checked = {type(est).__name__ for est in CHECKED_INSTANCES}
    missing = set(_public_estimators()) - checked - set(NOT_TABULAR) - set(NOT_FIT_PREDICT)
    assert not missing, f"add these estimators to CHECKED_INSTANCES or NOT_TABULAR: {missing}"


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


if CHECKED_INSTANCES:

    @parametrize_with_checks(CHECKED_INSTANCES, expected_failed_checks=_expected_failed_checks)
    def test_sklearn_compatible_estimator(estimator, check):
        check(estimator)
