"""scikit-learn's estimator checks over every public skhisto estimator.

Every estimator exported from ``skhisto`` must appear either in
``CHECKED_INSTANCES`` (tabular estimators, run through
``parametrize_with_checks``) or in ``NOT_TABULAR`` with the reason it cannot be.
"""

import inspect

import numpy as np
from imblearn.utils.estimator_checks import (
    parametrize_with_checks as parametrize_with_sampler_checks,
)
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

import skhisto
from skhisto import (
    ABMILHead,
    AsymmetricNoise,
    GroupNoise,
    LabelIssueFilter,
    LinearHead,
    MeanPoolHead,
    MLPHead,
    NoisyLabelClassifier,
    TransitionMatrixNoise,
    UniformNoise,
)


class GroupNoiseInPairs(GroupNoise):
    """GroupNoise given groups of two consecutive samples when none are passed.

    GroupNoise refuses to run without groups, and the checks pass none.
    """

    def fit_resample(self, X, y, groups=None):
        if groups is None and y is not None:
            groups = np.arange(np.shape(y)[0]) // 2
        return super().fit_resample(X, y, groups=groups)


# Public estimators whose checks run on a stand-in, with why.
CHECKED_AS = {"GroupNoise": "GroupNoiseInPairs: the checks pass no groups, which it needs"}

# Label-noise samplers: scikit-learn's checks below, and imbalanced-learn's sampler checks
# (which, unlike scikit-learn's, do not seed random_state themselves).
SAMPLER_INSTANCES = [
    UniformNoise(0.3, random_state=0),
    AsymmetricNoise(0.3, random_state=0),
    GroupNoiseInPairs(0.3, random_state=0),
    # The checks use labels 0-3 with 2 or 3 of them present; `classes` labels the matrix.
    TransitionMatrixNoise(
        [[0.8, 0.2, 0, 0], [0.1, 0.8, 0.1, 0], [0, 0.3, 0.7, 0], [0, 0, 0.5, 0.5]],
        classes=[0, 1, 2, 3],
        random_state=0,
    ),
    # Default parameters: the k-NN detector, which trains nothing.
    LabelIssueFilter(),
]

# Tabular estimators and the (small, fast) instances the checks run on.
CHECKED_INSTANCES = [
    # Default parameters: the heads' defaults must converge on small data.
    MLPHead(random_state=0),
    LinearHead(random_state=0),
    # The slide-level heads take a 2-D table as bags of one patch each.
    ABMILHead(random_state=0),
    MeanPoolHead(random_state=0),
    NoisyLabelClassifier(LogisticRegression(), UniformNoise(0.3)),
    *SAMPLER_INSTANCES,
]

_SAMPLER_PASSES_1D_X = (
    "label noise ignores X and returns it untouched, so 1-D X (a list of image paths for a "
    "following embedder) is accepted on purpose; the next pipeline step validates X"
)

# Expected check failures: {estimator class name: {check name: reason}}.
EXPECTED_FAILED_CHECKS = {
    **{
        name: {"check_fit1d": _SAMPLER_PASSES_1D_X}
        for name in (
            "UniformNoise",
            "AsymmetricNoise",
            "TransitionMatrixNoise",
            "GroupNoiseInPairs",
        )
    },
    "LabelIssueFilter": {
        "check_samplers_pandas_sparse": (
            "embeddings are dense: sparse X, also a DataFrame of sparse columns, is refused with "
            "scikit-learn's 'Sparse data was passed for X, but dense data is required' (the "
            "sparse tag is False, but imbalanced-learn runs it for any sampler of DataFrames)"
        ),
        "check_samplers_multiclass_ova": (
            "the filter takes 1-D class labels, as find_label_issues does; one-hot y is refused "
            "with 'y should be a 1d array, got an array of shape (n, k)'"
        ),
    },
    "NoisyLabelClassifier": {
        "check_classifiers_one_label_sample_weights": (
            "the check keeps one class by weight, but the noise moves some weighted samples "
            "to the other class, so predicting both classes is the correct outcome"
        ),
    },
}

# Estimators whose input is images, not a numeric table, with why.
NOT_TABULAR = {
    "FoundationEmbedder": "input is uint8 images (n, H, W, 3) or image paths, not a numeric table",
    "SimCLREmbedder": "trains a CNN on uint8 images (n, H, W, 3) or paths, not a numeric table",
    "ActiveSimCLR": "trains SimCLR on an image pool and needs a labeled image set in fit",
    "StainNormalizer": "maps uint8 H&E images (n, H, W, 3) or paths, not a numeric table "
    "(tests/test_stain.py tests its clone, pickling and parameter checks)",
}


# Estimators without the fit/predict(/transform) contract the checks exercise, with why;
# tests/test_active.py tests their clone, get_params and pickling instead.
NOT_FIT_PREDICT = {
    name: "an active-learning query strategy: no fit, it selects samples with query(X, y)"
    for name in ("RandomSampling", "UncertaintySampling", "CoresetSampling", "TypiClustSampling")
} | {
    "ActiveLearner": "fit(X, oracle) labels only the samples it queries, so its model never "
    "sees all of y, which the classifier checks assume",
    "SlideTiler": "no fit: tile(slides) turns slide files into a patch table (tests/test_slides.py "
    "tests its clone, get_params, pickling and parameter checks)",
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
    missing -= set(CHECKED_AS)
    assert not missing, f"add these estimators to CHECKED_INSTANCES or NOT_TABULAR: {missing}"


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


if CHECKED_INSTANCES:

    @parametrize_with_checks(CHECKED_INSTANCES, expected_failed_checks=_expected_failed_checks)
    def test_sklearn_compatible_estimator(estimator, check):
        check(estimator)


@parametrize_with_sampler_checks(SAMPLER_INSTANCES, expected_failed_checks=_expected_failed_checks)
def test_imblearn_compatible_sampler(estimator, check):
    check(estimator)
