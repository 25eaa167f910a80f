"""Groups (patients, slides) are never split across a fold: patch-level scores leak."""

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold, KFold
from sklearn.neighbors import KNeighborsClassifier

from skhisto.model_selection import noise_robustness_curve
from skhisto.utils import check_groups, grouped_folds


def _near_copies(n_groups=40, per_group=8, seed=0):
    """Each group: one random label, its members near-copies of one random point."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_groups, 16))
    labels = rng.integers(0, 2, n_groups)
    X = np.repeat(centers, per_group, axis=0) + 0.01 * rng.normal(size=(n_groups * per_group, 16))
    groups = np.repeat([f"patient-{g}" for g in range(n_groups)], per_group)
    return X, np.repeat(labels, per_group), groups


def test_patch_level_cv_leaks_and_grouped_cv_does_not():
    X, y, groups = _near_copies()
    knn = KNeighborsClassifier(n_neighbors=1)
    patch = noise_robustness_curve(knn, X, y, [0.0], cv=4, random_state=0)
    grouped = noise_robustness_curve(knn, X, y, [0.0], cv=4, random_state=0, groups=groups)
    assert patch["score"].mean() > 0.95  # a test patch's copies sit in training
    assert abs(grouped["score"].mean() - 0.5) < 0.2  # labels are random per group: chance


@pytest.mark.parametrize("cv", [4, GroupKFold(4)])
def test_no_fold_shares_a_group(cv):
    X, y, groups = _near_copies()
    for train, test in grouped_folds(cv, X, y, groups, random_state=0):
        assert not set(groups[train]) & set(groups[test])


@pytest.mark.filterwarnings("ignore:The groups parameter is ignored")  # sklearn says so too
def test_a_splitter_blind_to_groups_is_refused_naming_a_group():
    X, y, groups = _near_copies()
    with pytest.raises(ValueError, match=r"Fold 0 of cv=KFold.* puts group 'patient-\d+' in both"):
        noise_robustness_curve(KNeighborsClassifier(1), X, y, [0.0], cv=KFold(3), groups=groups)


def test_groups_are_checked_before_any_work():
    X, y, groups = _near_copies()
    with pytest.raises(ValueError, match=r"groups has 319 entries for 320 samples"):
        noise_robustness_curve(KNeighborsClassifier(1), X, y, [0.1], groups=groups[:-1])
    missing = groups.astype(object)
    missing[5] = np.nan
    with pytest.raises(ValueError, match=r"groups\[5\] is missing \(nan\)"):
        check_groups(missing, len(missing))
    assert check_groups(None, 3) is None


def _slides_with_one_wrong_diagnosis(seed=0):
    """Two tissue classes, 20 slides each of 8 near-copy patches; slide 0's label is wrong."""
    rng = np.random.default_rng(seed)
    classes = np.repeat([0, 1], 20)
    centers = np.where(classes[:, None] == 0, 1.0, -1.0) * np.ones(16) + rng.normal(
        scale=0.5, size=(40, 16)
    )
    X = np.repeat(centers, 8, axis=0) + 0.01 * rng.normal(size=(320, 16))
    y = np.repeat(classes, 8)
    groups = np.repeat(np.arange(40), 8)
    y[groups == 0] = 1  # a slide-level diagnosis copied onto every patch
    return X, y, groups


@pytest.mark.parametrize("method", ["knn", "ensemble"])
def test_a_slides_copies_never_vouch_for_its_wrong_label(method):
    from skhisto.cleaning import estimate_noise, find_label_issues

    X, y, groups = _slides_with_one_wrong_diagnosis()
    options = dict(method=method, n_neighbors=5, random_state=0)
    alone = find_label_issues(X, y, **options)
    assert not alone[groups == 0].any()  # its 7 copies agree with each patch
    grouped = find_label_issues(X, y, groups=groups, **options)
    assert grouped[groups == 0].all() and grouped[groups != 0].mean() < 0.05
    rate, _ = estimate_noise(X, y, groups=groups, **options)
    assert rate == pytest.approx(8 / 320, abs=0.03)


def test_too_few_samples_outside_the_largest_group_is_said():
    from skhisto.cleaning import find_label_issues

    X, y, groups = _slides_with_one_wrong_diagnosis()
    groups = np.where(groups < 38, 0, groups)  # one group holds almost everything
    with pytest.raises(ValueError, match=r"largest group leaves only 16 samples outside it"):
        find_label_issues(X, y, groups=groups, n_neighbors=20)
