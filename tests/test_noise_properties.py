"""Property-based tests (hypothesis) of the label-noise samplers' invariants.

Labels are drawn as int, str or (integral) float classes; ``X`` is any table.
"""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from skhisto import AsymmetricNoise, TransitionMatrixNoise, UniformNoise

FAST = settings(max_examples=40, deadline=None)
CLASS_VALUES = {
    "int": lambda k: np.arange(k) * 3,
    "str": lambda k: np.array([f"class_{i}" for i in range(k)]),
    "float": lambda k: np.arange(k, dtype=float) + 1.0,
}


@st.composite
def labelled(draw, min_classes=2, max_classes=5):
    """(y, label kind): 2-60 labels covering at least two of k classes."""
    k = draw(st.integers(min_classes, max_classes))
    codes = draw(st.lists(st.integers(0, k - 1), min_size=2, max_size=60))
    assume(len(set(codes)) >= 2)
    kind = draw(st.sampled_from(sorted(CLASS_VALUES)))
    return CLASS_VALUES[kind](k)[np.array(codes)], kind


rates = st.floats(0, 1, exclude_max=True)
seeds = st.integers(0, 2**31 - 1)


def _resample(noise, y):
    X = np.arange(2 * len(y), dtype=float).reshape(-1, 2)
    X_before, y_before = X.copy(), y.copy()
    X_out, y_noisy = noise.fit_resample(X, y)
    assert X_out is X
    np.testing.assert_array_equal(X, X_before)  # X untouched
    np.testing.assert_array_equal(y, y_before)  # y never mutated
    assert y_noisy.dtype == y.dtype
    assert set(np.unique(y_noisy).tolist()) <= set(np.unique(y).tolist())
    return y_noisy


@FAST
@given(labelled(), rates, seeds)
def test_uniform_flips_exactly_round_rate_n_never_to_the_same_class(data, rate, seed):
    y, _ = data
    noise = UniformNoise(rate, random_state=seed)
    y_noisy = _resample(noise, y)
    flipped = y_noisy != y
    assert flipped.sum() == round(rate * len(y))
    np.testing.assert_array_equal(noise.noise_mask_, flipped)


@FAST
@given(labelled(), rates, rates, seeds)
def test_uniform_flips_are_nested_across_rates_with_stable_new_classes(data, r1, r2, seed):
    y, _ = data
    low, high = sorted((r1, r2))
    y_low = _resample(UniformNoise(low, random_state=seed), y)
    y_high = _resample(UniformNoise(high, random_state=seed), y)
    flipped_low = y_low != y
    assert (flipped_low <= (y_high != y)).all()
    np.testing.assert_array_equal(y_low[flipped_low], y_high[flipped_low])


@FAST
@given(labelled(), rates, seeds, st.data())
def test_asymmetric_flips_round_rate_of_each_mapped_class_to_its_partner(data, rate, seed, draw):
    y, _ = data
    classes = np.unique(y)
    partners = draw.draw(st.permutations(classes.tolist()))
    mapping = {t: n for t, n in zip(classes.tolist(), partners, strict=True) if t != n}
    assume(mapping)
    y_noisy = _resample(AsymmetricNoise(rate, mapping=mapping, random_state=seed), y)
    for label in classes.tolist():
        members = y == label
        flipped = members & (y_noisy != y)
        if label in mapping:
            assert flipped.sum() == round(rate * members.sum())
            assert (y_noisy[flipped] == mapping[label]).all()
        else:
            assert not flipped.any()


@st.composite
def stochastic_matrices(draw, k):
    """Row-stochastic k x k matrices with some exact zeros."""
    rows = []
    for _ in range(k):
        weights = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0]), min_size=k, max_size=k))
        assume(sum(weights) > 0)
        rows.append(np.array(weights) / sum(weights))
    return np.array(rows)


@FAST
@given(labelled(), seeds, st.data())
def test_transition_noise_realises_a_stochastic_matrix_within_the_support(data, seed, draw):
    y, _ = data
    classes = np.unique(y)
    matrix = draw.draw(stochastic_matrices(len(classes)))
    noise = TransitionMatrixNoise(matrix, random_state=seed)
    y_noisy = _resample(noise, y)
    realised = noise.transition_matrix_
    np.testing.assert_allclose(realised.sum(axis=1), 1)
    assert (realised[matrix == 0] == 0).all(), "never a flip of probability 0"
    again = TransitionMatrixNoise(matrix, random_state=seed).fit_resample(np.zeros((len(y), 1)), y)
    np.testing.assert_array_equal(again[1], y_noisy)  # deterministic for a fixed seed
