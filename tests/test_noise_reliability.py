"""Label noise, NoisyLabelClassifier, noise curves and their plots under bad input."""

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from skhisto import AsymmetricNoise, NoisyLabelClassifier, TransitionMatrixNoise, UniformNoise
from skhisto.model_selection import noise_robustness_curve
from skhisto.plotting import plot_noise_robustness

matplotlib.use("Agg")

SAMPLERS = {
    "uniform": lambda: UniformNoise(0.3, random_state=0),
    "asymmetric": lambda: AsymmetricNoise(0.3, random_state=0),
    "transition": lambda: TransitionMatrixNoise([[0.5, 0.5], [0.5, 0.5]], random_state=0),
    "classifier": lambda: NoisyLabelClassifier(LogisticRegression(), UniformNoise(0.3)),
}

MIXED = r"y mixes label types: index 1 holds 'a' \(str\) but index 0 holds 1 \(int\)"
BAD_LABELS = {
    "none_in_list": (["a", "b", None, "a", "b", "a"], r"y has 1 missing labels .* \[2\]"),
    "none_in_object_array": (
        np.array(["a", None, None, "a", "b", "a"], dtype=object),
        r"y has 2 missing labels \(None or NaN\), at indices \[1, 2\]",
    ),
    "nan_in_float": ([0.0, 1.0, np.nan, 0.0, 1.0, 1.0], r"y has 1 missing labels"),
    "pandas_na": (pd.Series(["a", "b", pd.NA, "a", "b", "a"], dtype="string"), "y has 1 missing"),
    "inf": ([0.0, 1.0, np.inf, 0.0, 1.0, 1.0], r"y has infinite labels at indices \[2\]"),
    "mixed_list": ([1, "a", 1, "a", 1, "a"], MIXED),
    "mixed_object_array": (np.array([1, "a"] * 3, dtype=object), "y mixes label types"),
    "empty": ([], "y is empty"),
}


@pytest.mark.parametrize("labels", sorted(BAD_LABELS))
@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_bad_labels_are_refused_by_every_sampler_naming_the_samples(sampler, labels):
    y, match = BAD_LABELS[labels]
    estimator = SAMPLERS[sampler]()
    X = np.zeros((len(y), 2))
    name = type(estimator).__name__
    run = estimator.fit if sampler == "classifier" else estimator.fit_resample
    with pytest.raises(ValueError, match=f"^{name}: {match}"):
        run(X, y)


def test_mixed_labels_were_silently_turned_into_strings_before():
    # The failure this guards: [1, "a"] came back as ["1", "a", ...], the int label lost.
    with pytest.raises(ValueError, match="mixes label types"):
        UniformNoise(0.5, random_state=0).fit_resample(np.zeros((4, 1)), [1, "a", 1, "a"])


@pytest.mark.parametrize(
    "noise, match",
    [
        (AsymmetricNoise(0.5, mapping={}), "mapping is empty, so no label would be flipped"),
        (TransitionMatrixNoise([[1], [0, 1]]), "transition must be a numeric .* array"),
        (TransitionMatrixNoise([["a", "b"], ["c", "d"]]), "could not be read as one"),
        (TransitionMatrixNoise([[np.nan, 1], [0, 1]]), "finite, non-negative probabilities"),
        (
            TransitionMatrixNoise(np.eye(2), classes=[[0, 1]]),
            r"classes must be a 1-D list of labels, got an array of shape \(1, 2\)",
        ),
        (TransitionMatrixNoise(np.eye(2), classes=[0, None]), "classes has 1 missing labels"),
        (TransitionMatrixNoise(np.eye(2), classes=[0, "a"]), "classes mixes label types"),
    ],
)
def test_bad_mapping_matrix_and_classes_are_named(noise, match):
    with pytest.raises(ValueError, match=match):
        noise.fit_resample(np.zeros((6, 1)), [0, 1] * 3)


def test_unseen_labels_at_score_count_as_errors():
    X = np.random.RandomState(0).normal(size=(40, 2))
    y = np.repeat([0, 1], 20)
    clf = NoisyLabelClassifier(LogisticRegression(), UniformNoise(0.1, random_state=0)).fit(X, y)
    assert clf.score(X[:4], [7, 7, 8, 8]) == 0.0  # scikit-learn's convention: never right


@pytest.fixture(scope="module")
def table_data():
    rng = np.random.RandomState(0)
    return rng.normal(size=(60, 3)), np.repeat(["a", "b", "c"], 20)


@pytest.mark.parametrize(
    "rates, match",
    [
        ([np.nan], r"rates must be noise rates in \[0, 1\); got \[nan\]"),
        (["low"], r"rates must be numbers in \[0, 1\); got \['low'\]"),
        ([0.1, 0.1], r"rates has repeated values \[0.1, 0.1\]"),
        ([], r"got \[\]"),
    ],
)
def test_curve_rejects_nan_non_numeric_repeated_and_empty_rates(rates, match, table_data):
    X, y = table_data
    with pytest.raises(ValueError, match=match):
        noise_robustness_curve(LogisticRegression(), X, y, rates, cv=2)


def test_curve_refuses_missing_labels_before_any_fit(table_data):
    X, y = table_data
    y = y.astype(object)
    y[5] = None
    with pytest.raises(ValueError, match=r"noise_robustness_curve: y has 1 missing labels .*\[5\]"):
        noise_robustness_curve(LogisticRegression(), X, y, [0.1], cv=2)


CV = {"params": [{"rate": 0.1}], "mean_test_score": [0.5], "std_test_score": [0.1]}
TABLE = pd.DataFrame({"rate": [0.1], "score": [0.5]})


@pytest.mark.parametrize(
    "results, kwargs, match",
    [
        ({**CV, "params": []}, {}, "cv_results has no parameter settings"),
        ({"mean_test_score": [0.5]}, {}, r"cv_results has no \['params', 'std_test_score'\]"),
        (CV, {"metric": "acc"}, r"no \['mean_test_acc', 'std_test_acc'\]; it has"),
        (CV, {"rate_param": "noise__rate"}, r"cv_results\['params'\] has no \['noise__rate'\]"),
        ({**CV, "params": [{"C": 1}]}, {}, "cannot tell which searched parameter is the noise"),
        (TABLE.iloc[:0], {}, "the results table is empty"),
        (TABLE[["score"]], {}, r"the results table has no \['rate'\]"),
        (TABLE, {"metric": "acc"}, r"the results table has no \['acc'\]"),
        (TABLE, {"group_by": "model"}, r"the results table has no \['model'\]"),
    ],
    ids=[
        "cv_no_settings",
        "cv_no_params_key",
        "cv_unknown_metric",
        "cv_unknown_rate_param",
        "cv_no_noise_parameter",
        "table_empty",
        "table_no_rate",
        "table_unknown_metric",
        "table_unknown_group_by",
    ],
)
def test_plot_names_what_the_results_lack(results, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_noise_robustness(results, **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"cv": 50}, "n_splits=50 cannot be greater than the number of members in each class"),
        ({"y": np.zeros(60)}, r"UniformNoise needs at least 2 classes in y .* one class: \[0.0\]"),
        ({"y": np.repeat(["a", "b", "c"], 20)[:59]}, "inconsistent numbers of samples"),
        ({"scoring": "no_such_score"}, "'scoring' parameter of noise_robustness_curve"),
        ({"noise": "gaussian"}, "'noise' parameter of noise_robustness_curve"),
    ],
    ids=["cv_too_many_folds", "one_class", "length_mismatch", "unknown_scoring", "unknown_noise"],
)
def test_curve_other_bad_inputs_are_named(kwargs, match, table_data):
    X, y = table_data
    kwargs = {"y": y, "cv": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        noise_robustness_curve(LogisticRegression(), X, rates=[0.2], **kwargs)


@pytest.mark.parametrize("noise", [UniformNoise(0.5), AsymmetricNoise(0.5)])
def test_pandas_categorical_labels_come_back_as_categorical(noise):
    # Before: AttributeError: 'Categorical' object has no attribute 'index'.
    pd = pytest.importorskip("pandas")
    y = pd.Categorical(list("abcabcabca"), categories=["a", "b", "c", "unused"])
    _, y_noisy = noise.set_params(random_state=0).fit_resample(np.zeros((10, 2)), y)
    assert isinstance(y_noisy, pd.Categorical)
    assert list(y_noisy.categories) == ["a", "b", "c", "unused"]
    flipped = np.asarray(y_noisy) != np.asarray(y)
    assert flipped.sum() >= 5 and (flipped == noise.noise_mask_).all()
