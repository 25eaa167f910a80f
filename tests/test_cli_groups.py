"""The commands give the grouped answer when INPUT names groups (or --groups does)."""

import csv

import numpy as np
from test_groups import _slides_with_one_wrong_diagnosis


def _npz(path, X, y, groups=None):
    arrays = dict(
        embeddings=X.astype(np.float32),
        labels=np.array([f"class-{v}" for v in y]),
        paths=np.array([f"slide-{g}_tile-{i}.png" for i, g in enumerate(groups)]),
    )
    if groups is not None:
        arrays["groups"] = np.array([f"slide-{g}" for g in groups])
    np.savez(path, **arrays)
    return path


def _flagged(out_dir):
    with open(out_dir / "label_issues.csv") as f:
        return {row["path"] for row in csv.DictReader(f) if row["issue"] == "True"}


def _random_label_groups(tmp_path, n_groups=40, per_group=8, dim=64):
    """Near-copies in groups, one random label per group: nothing but memory predicts it."""
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(n_groups, dim))
    labels = rng.permutation(np.repeat([0, 1], n_groups // 2))
    X = np.repeat(centers, per_group, axis=0) + 0.01 * rng.normal(size=(n_groups * per_group, dim))
    ids = np.repeat(np.arange(n_groups), per_group)
    return _npz(tmp_path / "emb.npz", X, np.repeat(labels, per_group), ids)


def test_label_issues_lets_no_slide_vouch_for_its_own_wrong_label(run_cli, tmp_path):
    X, y, groups = _slides_with_one_wrong_diagnosis()
    emb = _npz(tmp_path / "emb.npz", X, y, groups)
    wrong = {f"slide-0_tile-{i}.png" for i in np.flatnonzero(groups == 0)}
    common = ("--n-neighbors", "5", "--out-dir")
    grouped = run_cli("label-issues", emb, *common, tmp_path / "grouped")
    assert grouped.code == 0, grouped.err
    assert "40 groups (column 'group')" in grouped.out
    assert wrong <= _flagged(tmp_path / "grouped")
    alone = run_cli("label-issues", emb, "--no-groups", *common, tmp_path / "alone")
    assert alone.code == 0, alone.err
    assert not wrong & _flagged(tmp_path / "alone")  # its 7 copies outvote each patch
    by_name = run_cli("label-issues", emb, "--groups", r"^(slide-\d+)_", *common, tmp_path / "re")
    assert _flagged(tmp_path / "re") == _flagged(tmp_path / "grouped"), by_name.err


def test_too_few_samples_outside_a_group_is_one_line(run_cli, tmp_path):
    X, y, groups = _slides_with_one_wrong_diagnosis()
    emb = _npz(tmp_path / "emb.npz", X, y, groups % 2)  # 2 groups of 160
    result = run_cli("label-issues", emb, "--n-neighbors", "200", "--out-dir", tmp_path)
    result.assert_one_line_error(1, "--n-neighbors 200")


def _final_scores(out_dir):
    with open(out_dir / "active.csv") as f:
        rows = list(csv.DictReader(f))
    last = max(int(row["round"]) for row in rows)
    return [float(row["balanced_accuracy"]) for row in rows if int(row["round"]) == last]


def test_active_holds_out_whole_groups(run_cli, tmp_path):
    # In 64 dimensions a linear model memorizes every group it has seen, and knows nothing
    # of one it has not.
    emb = _random_label_groups(tmp_path)
    common = ("--strategy", "random", "--n-rounds", "2", "--batch-size", "60", "--out-dir")
    grouped = run_cli("active", emb, *common, tmp_path / "grouped")
    assert grouped.code == 0, grouped.err
    assert "40 groups (column 'group')" in grouped.out
    patch = run_cli("active", emb, "--no-groups", *common, tmp_path / "patch")
    assert patch.code == 0, patch.err
    assert _final_scores(tmp_path / "patch")[0] > 0.9  # the test patches' copies were queried
    assert abs(_final_scores(tmp_path / "grouped")[0] - 0.5) < 0.25  # random labels: chance


def test_held_out_splits_of_active_and_active_simclr_keep_groups_whole():
    from skhisto.cli.commands.active_simclr import _split

    rng = np.random.default_rng(0)
    groups = np.repeat([f"patient-{i}" for i in range(24)], 5)
    labels = np.repeat(rng.permutation(np.repeat(["a", "b"], 12)), 5)
    labeled, test, pool = _split(labels.tolist(), groups, 0.25, 20, 0)
    assert not set(groups[test]) & set(groups[pool])
    assert set(labeled) <= set(pool) and 0.15 < len(test) / len(labels) < 0.35
    assert set(labels[test]) == {"a", "b"}


def test_noise_curve_scores_chance_with_groups_and_memory_without(run_cli, tmp_path):
    emb = _random_label_groups(tmp_path)
    common = ("--heads", "linear", "--rates", "0", "--cv", "4", "--json", "--out-dir")
    scores = {}
    for name, extra in (("grouped", ()), ("patch", ("--no-groups",))):
        result = run_cli("noise-curve", emb, *extra, *common, tmp_path / name)
        assert result.code == 0, result.err
        with open(tmp_path / name / "noise_curve.csv") as f:
            scores[name] = float(next(csv.DictReader(f))["balanced_accuracy_mean"])
    assert scores["patch"] > 0.9  # each test patch's copies were trained on
    assert abs(scores["grouped"] - 0.5) < 0.2
