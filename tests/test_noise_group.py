"""GroupNoise: a slide's wrong diagnosis copied onto all of its patches."""

import numpy as np
import pytest
import sklearn
from imblearn.pipeline import Pipeline
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold

from skhisto import AsymmetricNoise, GroupNoise, NoisyLabelClassifier, UniformNoise
from skhisto.model_selection import noise_robustness_curve
from skhisto.noise import get_noise_model


def _slides(n_slides=20, per_slide=5, seed=0):
    """Three classes, slides of ``per_slide`` patches each with the slide's class."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 3, n_slides)
    y = np.repeat(classes, per_slide)
    groups = np.repeat([f"slide-{s}" for s in range(n_slides)], per_slide)
    X = rng.normal(size=(len(y), 4)) + y[:, None]
    return X, y, groups


def test_whole_groups_flip_to_one_wrong_label():
    X, y, groups = _slides()
    noise = GroupNoise(0.3, random_state=0)
    _, y_noisy = noise.fit_resample(X, y, groups=groups)
    assert len(noise.noisy_groups_) == round(0.3 * 20) and noise.realized_group_rate_ == 0.3
    for g in np.unique(groups):
        members = groups == g
        assert len(set(y_noisy[members])) == 1  # one label per slide, flipped or not
        assert (g in noise.noisy_groups_) == noise.noise_mask_[members].all()
    assert noise.noise_mask_.mean() == pytest.approx(0.3)  # equal sizes: samples = groups
    assert get_noise_model("group") is GroupNoise


def test_rate_counts_groups_not_samples():
    X, y, groups = _slides()
    groups = groups.copy()
    groups[:40] = "big"  # one slide of 40 patches, twelve of 5
    noise = GroupNoise(0.5, random_state=1)
    noise.fit_resample(X, y, groups=groups)
    n_groups = len(np.unique(groups))
    assert len(noise.noisy_groups_) == round(0.5 * n_groups)
    flipped_share = np.isin(groups, noise.noisy_groups_).mean()
    assert noise.noise_mask_.mean() <= flipped_share  # patches already so labeled keep it


def test_nested_across_rates_and_independent_of_row_order():
    X, y, groups = _slides()
    low = GroupNoise(0.2, random_state=3).fit(X, y, groups=groups).noisy_groups_
    high = GroupNoise(0.5, random_state=3).fit(X, y, groups=groups).noisy_groups_
    assert set(low) <= set(high)
    order = np.random.default_rng(0).permutation(len(y))
    shuffled = GroupNoise(0.5, random_state=3).fit(X[order], y[order], groups=groups[order])
    assert set(shuffled.noisy_groups_) == set(high)


def test_asymmetric_wrong_labels_follow_the_mapping():
    X, y, groups = _slides()
    noise = GroupNoise(0.6, noise=AsymmetricNoise(mapping={0: 1, 1: 0}), random_state=0)
    _, y_noisy = noise.fit_resample(X, y, groups=groups)
    flipped = noise.noise_mask_
    assert flipped.any()
    assert set(zip(y[flipped].tolist(), y_noisy[flipped].tolist(), strict=True)) <= {(0, 1), (1, 0)}
    assert not flipped[y == 2].any()
    assert noise.noise_.rate == 0.6  # the group model's rate is GroupNoise's
    by_name = GroupNoise(0.6, noise="asymmetric", random_state=0).fit(X, y, groups=groups)
    assert isinstance(by_name.noise_, AsymmetricNoise)


def test_a_mixed_group_gets_its_majority_flipped():
    y = np.array([0, 0, 0, 1, 2, 2])
    groups = np.array(["a", "a", "a", "a", "b", "b"])
    noise = GroupNoise(0.6, noise=AsymmetricNoise(mapping={0: 1, 2: 0}), random_state=0)
    _, y_noisy = noise.fit_resample(np.zeros((6, 1)), y, groups=groups)
    # a's diagnosis 0 becomes 1 (its 1-patch keeps its label), b's 2 becomes 0
    assert noise.noisy_groups_.tolist() == ["a", "b"]
    assert y_noisy.tolist() == [1, 1, 1, 1, 0, 0]
    assert noise.noise_mask_.tolist() == [True, True, True, False, True, True]


def test_no_groups_is_a_clear_error():
    X, y, _ = _slides()
    with pytest.raises(ValueError, match=r"GroupNoise flips whole groups and needs groups"):
        GroupNoise().fit_resample(X, y)
    with pytest.raises(ValueError, match=r"groups has 99 entries for 100 samples"):
        GroupNoise().fit_resample(X, y, groups=np.arange(99))
    with pytest.raises(ValueError, match=r"cannot be GroupNoise itself"):
        GroupNoise(noise=GroupNoise()).fit_resample(X, y, groups=np.arange(100))
    with pytest.raises(ValueError, match=r"got no groups: pass groups="):
        noise_robustness_curve(LogisticRegression(), X, y, [0.1], noise="group")
    with pytest.raises(ValueError, match=r"UniformNoise.fit_resample takes no groups"):
        NoisyLabelClassifier(LogisticRegression(), UniformNoise()).fit(X, y, groups=y)


def test_noise_robustness_curve_passes_each_training_folds_groups():
    X, y, groups = _slides(n_slides=40)
    curve = noise_robustness_curve(
        LogisticRegression(),
        X,
        y,
        [0.0, 0.25],
        noise="group",
        groups=groups,
        cv=4,
        random_state=0,
    )
    assert (curve["noise"] == "GroupNoise").all()
    noisy = curve[curve["rate"] == 0.25]["realized_rate"]
    assert noisy.between(0.15, 0.35).all()  # equal slides: about the share of groups
    assert (curve[curve["rate"] == 0.0]["realized_rate"] == 0).all()
    # a noise model without groups is left as it is when groups are given
    plain = noise_robustness_curve(
        LogisticRegression(), X, y, [0.25], groups=groups, cv=4, random_state=0
    )
    assert np.allclose(plain["realized_rate"], 0.25, atol=0.01)


def test_noisy_label_classifier_gives_groups_to_the_noise_only():
    X, y, groups = _slides()
    clf = NoisyLabelClassifier(LogisticRegression(), GroupNoise(0.3), random_state=0)
    clf.fit(X, y, groups=groups)
    flipped = clf.noise_.noise_mask_
    for g in np.unique(groups):
        assert len(set(flipped[groups == g])) == 1


def test_in_a_grid_search_pipeline_with_metadata_routing():
    X, y, groups = _slides(n_slides=30)
    with sklearn.config_context(enable_metadata_routing=True):
        noise = GroupNoise(random_state=0).set_fit_resample_request(groups=True)
        pipe = Pipeline([("noise", noise), ("clf", LogisticRegression())])
        search = GridSearchCV(pipe, {"noise__rate": [0.0, 0.4]}, cv=GroupKFold(3))
        search.fit(X, y, groups=groups)
    assert search.cv_results_["mean_test_score"].shape == (2,)
    fitted = search.best_estimator_.named_steps["noise"]
    assert len(fitted.noisy_groups_) == round(fitted.rate * 30)


def test_in_a_pipeline_without_routing_a_missing_groups_is_said():
    X, y, groups = _slides()
    pipe = Pipeline([("noise", GroupNoise(0.3)), ("clf", LogisticRegression())])
    with pytest.raises(ValueError, match=r"enable metadata routing"):
        pipe.fit(X, y)
