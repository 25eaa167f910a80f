"""Label-noise samplers and NoisyLabelClassifier: exact flips, nesting, types, pipelines."""

import numpy as np
import pandas as pd
import pytest
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skhisto import AsymmetricNoise, NoisyLabelClassifier, TransitionMatrixNoise, UniformNoise

KATHER = np.array(["ADI", "DEB", "LYM", "MUC", "MUS", "STR", "TUM"])


def _labels(n, classes, seed=0):
    return np.random.RandomState(seed).choice(classes, size=n)


class RecordingClassifier(ClassifierMixin, BaseEstimator):
    """Predicts the majority class and records the labels and rows it was fitted on."""

    def fit(self, X, y):
        self.y_fit_ = np.array(y, copy=True)
        self.X_fit_ = X
        self.classes_, counts = np.unique(y, return_counts=True)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


@pytest.mark.parametrize("n, seed", [(101, 0), (1000, 1), (37, 2)])
def test_uniform_flips_exactly_round_rate_n_to_other_classes_nested_across_rates(n, seed):
    y = _labels(n, KATHER[:4], seed)
    X = np.zeros((n, 2))
    previous = np.zeros(n, dtype=bool)
    for rate in [0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 0.99]:
        noise = UniformNoise(rate, random_state=seed)
        X_out, y_noisy = noise.fit_resample(X, y)
        flipped = y_noisy != y
        assert flipped.sum() == round(rate * n)
        np.testing.assert_array_equal(noise.noise_mask_, flipped)
        assert X_out is X
        assert (previous <= flipped).all(), "flips at a lower rate must stay flipped"
        # A flipped label keeps its new class at every higher rate too.
        previous = flipped


def test_uniform_new_classes_are_uniform_over_the_other_classes():
    y = np.repeat([0, 1, 2, 3], 5000)
    noise = UniformNoise(0.6, random_state=0)
    _, y_noisy = noise.fit_resample(np.zeros((len(y), 1)), y)
    matrix = noise.transition_matrix_
    np.testing.assert_allclose(matrix.sum(axis=1), 1)
    np.testing.assert_allclose(np.diag(matrix), 0.4, atol=0.03)
    off = matrix[~np.eye(4, dtype=bool)]
    np.testing.assert_allclose(off, 0.2, atol=0.03)


def test_uniform_same_seed_same_noise_and_new_class_is_stable_across_rates():
    y = _labels(500, KATHER, 3)
    X = np.zeros((500, 1))
    _, low = UniformNoise(0.2, random_state=7).fit_resample(X, y)
    _, high = UniformNoise(0.6, random_state=7).fit_resample(X, y)
    _, again = UniformNoise(0.2, random_state=7).fit_resample(X, y)
    np.testing.assert_array_equal(low, again)
    flipped_low = low != y
    np.testing.assert_array_equal(high[flipped_low], low[flipped_low])
    _, other_seed = UniformNoise(0.2, random_state=8).fit_resample(X, y)
    assert (other_seed != low).any()


def test_asymmetric_flips_only_along_mapping_rate_per_class_and_nested():
    y = np.repeat(KATHER, [30, 41, 17, 55, 23, 60, 9])
    mapping = {"STR": "MUS", "MUS": "STR", "DEB": "MUC", "MUC": "DEB"}
    X = np.zeros((len(y), 3))
    previous = np.zeros(len(y), dtype=bool)
    for rate in [0.0, 0.15, 0.3, 0.45, 0.9]:
        noise = AsymmetricNoise(rate, mapping=mapping, random_state=0)
        _, y_noisy = noise.fit_resample(X, y)
        flipped = y_noisy != y
        pairs = set(zip(y[flipped].tolist(), y_noisy[flipped].tolist(), strict=True))
        assert pairs <= set(mapping.items())
        for label in KATHER:
            members = y == label
            expected = rate * members.sum() if label in mapping else 0
            assert abs(flipped[members].sum() - expected) <= 1
        assert (previous <= flipped).all()
        previous = flipped


def test_asymmetric_default_mapping_is_next_class_cyclic_with_integer_labels():
    y = np.repeat([3, 5, 9], 40)
    noise = AsymmetricNoise(0.25, random_state=0)
    _, y_noisy = noise.fit_resample(np.zeros((120, 1)), y)
    flipped = y_noisy != y
    assert set(zip(y[flipped].tolist(), y_noisy[flipped].tolist(), strict=True)) == {
        (3, 5),
        (5, 9),
        (9, 3),
    }
    expected = np.array([[0.75, 0.25, 0], [0, 0.75, 0.25], [0.25, 0, 0.75]])
    np.testing.assert_allclose(noise.transition_matrix_, expected)
    np.testing.assert_array_equal(noise.classes_, [3, 5, 9])


def test_transition_matrix_noise_follows_the_matrix_and_realises_it():
    P = np.array([[0.7, 0.2, 0.1], [0.0, 1.0, 0.0], [0.3, 0.0, 0.7]])
    y = np.repeat(["aca", "n", "scc"], 4000)
    noise = TransitionMatrixNoise(P, random_state=0)
    _, y_noisy = noise.fit_resample(np.zeros((len(y), 1)), y)
    assert (y_noisy[y == "n"] == "n").all()
    assert not ((y == "scc") & (y_noisy == "n")).any()
    np.testing.assert_allclose(noise.transition_matrix_, P, atol=0.03)
    identity = TransitionMatrixNoise(np.eye(3), random_state=0)
    np.testing.assert_array_equal(identity.fit_resample(np.zeros((len(y), 1)), y)[1], y)


def test_transition_matrix_classes_label_the_matrix_when_y_misses_a_class():
    P = [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    y = np.array(["a"] * 20 + ["b"] * 20)  # no "ccc" in this fold
    noise = TransitionMatrixNoise(P, classes=["a", "b", "ccc"], random_state=0)
    _, y_noisy = noise.fit_resample(np.zeros((40, 1)), y)
    assert set(y_noisy) == {"a", "b"}
    assert np.isnan(noise.transition_matrix_[2]).all()
    with pytest.raises(ValueError, match=r"labels \['z'\] that are not in classes"):
        noise.fit_resample(np.zeros((41, 1)), np.append(y, "z"))
    # Longer class names than y's own fit in the noisy labels.
    P_to_c = [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    noise = TransitionMatrixNoise(P_to_c, classes=["a", "b", "ccc"], random_state=0)
    assert (noise.fit_resample(np.zeros((40, 1)), y)[1][:20] == "ccc").all()


@pytest.mark.parametrize(
    "make_y",
    [list, pd.Series, lambda v: pd.Series(v, dtype="category"), np.asarray],
    ids=["list", "series", "categorical", "ndarray"],
)
def test_y_keeps_its_type_and_is_never_mutated(make_y):
    values = ["lung_aca", "lung_n", "lung_scc"] * 10
    y = make_y(values)
    before = list(values)
    X = np.arange(30.0).reshape(15, 2).repeat(2, axis=0)
    X_copy = X.copy()
    X_out, y_noisy = UniformNoise(0.5, random_state=0).fit_resample(X, y)
    assert list(y) == before
    np.testing.assert_array_equal(X, X_copy)
    assert X_out is X
    assert type(y_noisy) is type(y)
    assert sum(a != b for a, b in zip(list(y_noisy), before, strict=True)) == 15
    if isinstance(y, pd.Series):
        assert y_noisy.index.equals(y.index)
        assert y_noisy.dtype == y.dtype


def test_X_of_image_paths_or_images_passes_through_untouched():
    paths = [f"/images/{i}.jpg" for i in range(12)]
    images = np.zeros((12, 8, 8, 3), dtype=np.uint8)
    y = [0, 1, 2] * 4
    for X in (paths, images):
        X_out, y_noisy = UniformNoise(0.25, random_state=0).fit_resample(X, y)
        assert X_out is X
        assert sum(a != b for a, b in zip(y_noisy, y, strict=True)) == 3
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        UniformNoise(0.25).fit_resample(paths[:5], y)


@pytest.mark.parametrize(
    "noise, y, match",
    [
        (UniformNoise(rate=1.0), [0, 1] * 5, r"'rate' parameter of UniformNoise.*\[0.0, 1.0\)"),
        (UniformNoise(rate=-0.1), [0, 1] * 5, r"'rate' parameter of UniformNoise"),
        (UniformNoise(rate=np.nan), [0, 1] * 5, r"'rate' parameter of UniformNoise.*Got nan"),
        (AsymmetricNoise(rate=1.5), [0, 1] * 5, r"'rate' parameter of AsymmetricNoise"),
        (
            AsymmetricNoise(mapping={"STR": "MUS"}),
            ["STR", "TUM"] * 5,
            r"names the class 'MUS', which is not in y",
        ),
        (AsymmetricNoise(mapping={"STR": "STR"}), ["STR", "TUM"] * 5, "to itself"),
        (
            TransitionMatrixNoise([[0.9, 0.2], [0.1, 0.8]]),
            [0, 1] * 5,
            r"row-stochastic.*row sums are \[1.1, 0.9\].*pass noise_matrix.T",
        ),
        (TransitionMatrixNoise([[1.2, -0.2], [0, 1]]), [0, 1] * 5, "non-negative"),
        (TransitionMatrixNoise(np.eye(3)), [0, 1] * 5, r"shape \(3, 3\).*expected \(2, 2\)"),
        (UniformNoise(0.2), ["STR"] * 10, r"at least 2 classes in y.*one class: \['STR'\]"),
        (AsymmetricNoise(0.2), [4] * 10, r"one class: \[4\]"),
        (UniformNoise(0.2), np.linspace(0, 1, 10), "Unknown label type"),
    ],
)
def test_bad_parameters_and_targets_raise_errors_naming_the_problem(noise, y, match):
    with pytest.raises((ValueError, InvalidParameterError), match=match):
        noise.fit_resample(np.zeros((len(y), 2)), y)


def test_cleanlab_column_stochastic_matrix_works_after_transposing():
    # cleanlab's noise_matrix[i, j] = P(label = i | true_label = j): columns sum to 1.
    cleanlab_matrix = np.array([[0.8, 0.3], [0.2, 0.7]])
    y = np.repeat([0, 1], 5000)
    with pytest.raises(ValueError, match="noise_matrix.T"):
        TransitionMatrixNoise(cleanlab_matrix).fit_resample(np.zeros((len(y), 1)), y)
    noise = TransitionMatrixNoise(cleanlab_matrix.T, random_state=0)
    noise.fit_resample(np.zeros((len(y), 1)), y)
    np.testing.assert_allclose(noise.transition_matrix_, cleanlab_matrix.T, atol=0.02)


def test_imblearn_pipeline_applies_noise_only_during_fit():
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(60, 3)), np.repeat(["a", "b", "c"], 20)
    pipe = ImbPipeline(
        [("noise", UniformNoise(0.5, random_state=0)), ("clf", RecordingClassifier())]
    )
    pipe.fit(X, y)
    _, expected_noisy = UniformNoise(0.5, random_state=0).fit_resample(X, y)
    recorded = pipe.named_steps["clf"].y_fit_
    np.testing.assert_array_equal(recorded, expected_noisy)
    assert (recorded != y).sum() == 30
    # At predict time the sampler is skipped: X reaches the classifier unchanged.
    assert pipe.predict(X).shape == (60,)
    assert pipe.named_steps["noise"].noise_mask_.sum() == 30


def test_noisy_label_classifier_fits_on_noisy_labels_scores_on_clean_ones():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(90, 4))
    y = np.repeat(["a", "b", "c"], 30)
    X[:, :2] += np.repeat([[0, 0], [6, 0], [0, 6]], 30, axis=0)
    noise = UniformNoise(0.4, random_state=0)
    clf = NoisyLabelClassifier(RecordingClassifier(), noise).fit(X, y)
    assert not hasattr(noise, "noise_mask_"), "the given noise object is cloned, not fitted"
    assert (clf.estimator_.y_fit_ != y).sum() == 36
    np.testing.assert_array_equal(clf.noise_.noise_mask_, clf.estimator_.y_fit_ != y)

    seen = []

    def recording_scorer(estimator, X_test, y_test):
        seen.append(np.asarray(y_test))
        return float(np.mean(estimator.predict(X_test) == y_test))

    model = Pipeline(
        [
            ("scale", StandardScaler()),
            ("clf", NoisyLabelClassifier(LogisticRegression(), UniformNoise(0.3, random_state=0))),
        ]
    )
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    result = cross_validate(model, X, y, cv=folds, scoring=recording_scorer, return_estimator=True)
    for (_, test), y_test in zip(folds, seen, strict=True):
        np.testing.assert_array_equal(y_test, y[test])
    # Clean-label accuracy beats the 70% label agreement the model was trained on.
    assert result["test_score"].mean() > 0.8
    fitted = result["estimator"][0].named_steps["clf"]
    assert fitted.noise_.noise_mask_.sum() == round(0.3 * 60)
    assert set(fitted.predict_proba(X).shape) == {90, 3}
    assert fitted.decision_function(X).shape == (90, 3)
    assert not hasattr(NoisyLabelClassifier(RecordingClassifier(), noise), "predict_proba")
