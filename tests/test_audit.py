"""audit_dataset: planted copies, leaks, outliers and label flips are found where they are."""

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from skhisto import find_label_issues
from skhisto.cleaning import DataAudit, audit_dataset


@pytest.fixture
def cohort():
    """120 samples in 4 tight classes, 6 patients, and nothing planted yet."""
    rng = np.random.default_rng(0)
    centers = 1.5 * rng.normal(size=(4, 32))
    codes = np.repeat(np.arange(4), 30)
    X = centers[codes] + rng.normal(size=(120, 32))
    y = np.array(["adi", "lym", "str", "tum"])[codes]
    groups = np.array([f"p{i}" for i in rng.integers(0, 6, 120)])
    return X, y, groups


def test_copies_across_groups_are_leakage_and_within_a_group_are_not(cohort):
    X, y, groups = cohort
    groups = groups.copy()
    across, within = (0, 1), (10, 11)
    groups[list(across)] = ["p0", "p1"]
    groups[list(within)] = ["p2", "p2"]
    for a, b in (across, within):
        X[b] = X[a] + 1e-4
    audit = audit_dataset(X, y, groups=groups)
    duplicates = audit.get_issues("near_duplicate")
    assert set(duplicates.index) == {0, 1, 10, 11}
    assert duplicates.loc[0, "duplicate_set"] == duplicates.loc[1, "duplicate_set"] >= 0
    assert duplicates.loc[10, "duplicate_set"] != duplicates.loc[0, "duplicate_set"]
    leaked = audit.get_issues("leakage")
    assert sorted(leaked.index) == [0, 1]
    assert leaked.loc[0, "leakage_partner"] == 1 and leaked.loc[1, "leakage_partner"] == 0
    assert set(leaked["leakage_kind"]) == {"group"}
    pairs = audit.pairs.set_index(["first", "second"])
    assert pairs.loc[(0, 1), "cross_group"] and not pairs.loc[(10, 11), "cross_group"]
    long = audit.flagged()
    assert sorted(long.loc[long["issue_type"] == "leakage", "sample"]) == [0, 1]
    assert set(long.columns) >= {"sample", "issue_type", "score", "partner", "label", "group"}


def test_copies_across_a_split_are_leakage(cohort):
    X, y, _ = cohort
    split = np.where(np.arange(120) % 3 == 0, "test", "train")
    X[3] = X[4]  # 3 is test, 4 train
    X[6] = X[9]  # both test
    audit = audit_dataset(X, y, split=split)
    assert sorted(audit.get_issues("leakage").index) == [3, 4]
    assert set(audit.get_issues("near_duplicate").index) == {3, 4, 6, 9}
    assert set(audit.get_issues("leakage")["leakage_kind"]) == {"split"}


def test_a_planted_outlier_is_found_first(cohort):
    X, y, groups = cohort
    X[5] = np.random.default_rng(1).normal(size=32)  # in no class's cluster
    audit = audit_dataset(X, y, groups=groups)
    outliers = audit.get_issues("outlier")
    assert outliers.index[0] == 5
    assert len(outliers) <= 6  # the others are the ordinary tail
    assert audit.get_issues("class_outlier").index[0] == 5
    fence = audit.thresholds["outlier_fence"]
    assert (outliers["knn_distance"] > fence).all()


def test_label_issues_are_find_label_issues_with_groups(cohort):
    X, y, groups = cohort
    y = y.copy()
    y[[2, 40, 70]] = ["tum", "adi", "lym"]
    audit = audit_dataset(X, y, groups=groups)
    issues, quality = find_label_issues(X, y, groups=groups, return_scores=True)
    np.testing.assert_array_equal(audit.issues["label_issue"], issues)
    np.testing.assert_allclose(audit.issues["label_quality"], quality)
    assert {2, 40, 70} <= set(audit.get_issues("label_issue").index)
    assert audit.issues.loc[2, "suggested_label"] == "adi"


def test_unlabeled_input_skips_the_label_checks_and_says_so(cohort):
    X, _, _ = cohort
    X[1] = X[0]
    audit = audit_dataset(X)
    summary = audit.get_issue_summary().set_index("issue_type")
    assert list(summary.index) == [
        "near_duplicate",
        "leakage",
        "outlier",
        "class_outlier",
        "label_issue",
        "class_balance",
    ]
    assert summary.loc["near_duplicate", "n_issues"] == 2 and summary.loc["outlier", "checked"]
    for name in ("class_outlier", "label_issue", "class_balance"):
        assert not summary.loc[name, "checked"]
        assert summary.loc[name, "note"] == "skipped: no labels (y=None)"
    assert summary.loc["leakage", "note"] == "skipped: no groups or split given"
    assert "label_issue" not in audit.issues.columns
    with pytest.raises(ValueError, match="The label_issue check did not run: skipped: no labels"):
        audit.get_issues("label_issue")
    assert audit.balance_issues.empty and isinstance(audit, DataAudit)
    assert repr(audit).startswith("DataAudit(120 samples: near_duplicate=2, outlier=")


def test_class_balance_names_missing_and_dominated_classes(cohort):
    X, y, groups = cohort
    groups = np.where(y == "tum", "p9", groups)  # one patient holds every tumor tile
    split = np.where((np.arange(120) % 2 == 0) & (y != "str"), "test", "train")
    audit = audit_dataset(X, y, groups=groups, split=split)
    found = audit.balance_issues
    assert set(zip(found["kind"], found["where"], found["class"], strict=True)) >= {
        ("missing_from_split", "test", "str"),
        ("dominant_group", "p9", "tum"),
    }
    assert audit.class_balance.loc[("all", "all")].tolist() == [30, 30, 30, 30]
    assert audit.class_balance.loc[("split", "test"), "str"] == 0
    y_rare = y.copy()
    y_rare[:28] = "lym"  # adi keeps 2 of 120 samples
    rare = audit_dataset(X, y_rare).balance_issues
    assert rare[["kind", "class", "count"]].values.tolist() == [["rare_class", "adi", 2]]


def test_blocks_give_the_same_answer(cohort, monkeypatch):
    X, y, groups = cohort
    X[1] = X[0]
    whole = audit_dataset(X, y, groups=groups)
    from skhisto.cleaning import _audit

    monkeypatch.setattr(_audit, "_BLOCK_BYTES", 4 * 120 * 7)  # blocks of 7 rows
    blocked = audit_dataset(X, y, groups=groups)
    np.testing.assert_allclose(blocked.issues["knn_distance"], whole.issues["knn_distance"])
    assert blocked.issues["leakage"].equals(whole.issues["leakage"])


BAD = [
    ("y length", {"y": ["a"] * 5}, ValueError, "y has 5 labels for the 120 rows of X"),
    ("missing group", {"groups": [None] + ["g"] * 119}, ValueError, r"groups\[0\] is missing"),
    ("split length", {"split": ["train"] * 3}, ValueError, "split has 3 entries for 120"),
    ("None label", {"y": [None] + ["a"] * 119}, ValueError, "missing labels"),
    ("threshold", {"duplicate_threshold": 3.0}, InvalidParameterError, "duplicate_threshold"),
    ("method", {"label_method": "vote"}, InvalidParameterError, "label_method"),
]


@pytest.mark.parametrize("case, kwargs, error, match", BAD, ids=[c[0] for c in BAD])
def test_bad_input_is_named(case, kwargs, error, match, cohort):
    X = cohort[0]
    y = kwargs.pop("y", None)
    with pytest.raises(error, match=match):
        audit_dataset(X, y, **kwargs)


def test_identical_rows_and_unknown_issue_types_are_refused(cohort):
    with pytest.raises(ValueError, match="every row of X is the same embedding"):
        audit_dataset(np.ones((10, 4)))
    audit = audit_dataset(cohort[0])
    with pytest.raises(ValueError, match="'class_balance' is not a per-sample issue type"):
        audit.get_issues("class_balance")


def test_one_group_skips_the_label_check_with_a_warning(cohort):
    X, y, _ = cohort
    with pytest.warns(UserWarning, match="label_issue skipped: every sample is in one group"):
        audit = audit_dataset(X, y, groups=["p0"] * 120)
    summary = audit.get_issue_summary().set_index("issue_type")
    assert not summary.loc["label_issue", "checked"] and summary.loc["leakage", "checked"]
    assert not audit.issues["leakage"].any()
