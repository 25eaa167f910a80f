"""A pathologist as the oracle: ActiveLearner with a HumanOracle, and `skhisto active --annotate`.

The acceptance (issue 25): a reviewer answering the true labels, round by round through
decisions files, gives the simulated oracle's learning curve, on real LC25000 tiles.
"""

import csv
import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from skhisto.active import (
    ActiveLearner,
    CoresetSampling,
    HumanOracle,
    oracle_from_decisions,
)
from skhisto.io import listing_digest

SMALL = ["--n-initial", "6", "--batch-size", "6", "--n-rounds", "3"]


@pytest.fixture(scope="module")
def lc25000_embeddings(lc25000_small):
    """60 real LC25000 tiles (20 per class) embedded small: X, labels, paths."""
    from skhisto import FoundationEmbedder

    target = np.asarray(lc25000_small.target)
    rows = np.concatenate([np.flatnonzero(target == c)[:20] for c in np.unique(target)])
    paths = np.asarray(lc25000_small.paths)[rows].astype(str)
    names = np.asarray(lc25000_small.target_names)[target[rows]]
    embedder = FoundationEmbedder("resnet18", pretrained=False, image_size=32, random_state=0)
    return embedder.fit_transform(list(paths)), names, paths


def write_queries(path, paths):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["path", "label", "score"])
        writer.writerows([p, "", ""] for p in paths)


def write_decisions(path, queries, rows):
    """A decisions file as `skhisto review` writes it: rows of (path, decision, new_label)."""
    with open(path, "w", newline="") as f:
        with open(queries, newline="") as listing:
            listed = [row["path"] for row in csv.DictReader(listing)]
        f.write(f"# skhisto review decisions v1; input={listing_digest(listed)}\n")
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["path", "label", "decision", "new_label", "reviewed_at"])
        for p, decision, new_label in rows:
            writer.writerow([p, "", decision, new_label, "2025-01-01T00:00:00"])


def learner(checkpoint_dir=None):
    return ActiveLearner(
        LogisticRegression(max_iter=1000, random_state=0),
        CoresetSampling(random_state=0),
        batch_size=6,
        n_rounds=4,
        test_size=0.3,
        scoring="balanced_accuracy",
        verbose=False,
        random_state=0,
        checkpoint_dir=checkpoint_dir,
    )


def review_loop(X, paths, tmp_path, answer, max_steps=20):
    """Run fit, write the batch as queries, answer it in a decisions file, until done."""
    decisions, steps = [], 0
    while True:
        oracle = (
            oracle_from_decisions(decisions, paths)
            if decisions
            else HumanOracle(np.full(len(paths), ""), pending=np.ones(len(paths), dtype=bool))
        )
        fitted = learner(tmp_path / "ckpt").fit(X, oracle)
        if not fitted.pending_.size:
            return fitted, decisions
        steps += 1
        assert steps < max_steps
        queries = tmp_path / f"queries_{steps}.csv"
        write_queries(queries, paths[fitted.pending_])
        decisions.append(tmp_path / f"queries_{steps}.decisions.csv")
        write_decisions(decisions[-1], queries, [answer(i) for i in fitted.pending_])


def test_reviewer_with_true_labels_gives_the_simulated_curve(lc25000_embeddings, tmp_path):
    X, y, paths = lc25000_embeddings
    simulated = learner().fit(X, y)
    human, _ = review_loop(X, paths, tmp_path, lambda i: (paths[i], "relabel", y[i]))
    assert [e["score"] for e in human.history_] == [e["score"] for e in simulated.history_]
    assert [e["n_labeled"] for e in human.history_] == [6, 12, 18, 24, 30]
    np.testing.assert_array_equal(human.labeled_indices_, simulated.labeled_indices_)
    np.testing.assert_array_equal(human.test_indices_, simulated.test_indices_)
    # the curve records what the reviewer labelled: round r trained first on the batch of r-1
    for before, entry in zip(human.history_, human.history_[1:], strict=False):
        assert len(entry["reviewed"]) == 6 and entry["n_unusable"] == 0
        assert set(entry["reviewed"]) <= set(human.labeled_indices_.tolist())
        assert not set(entry["reviewed"]) & set(before["reviewed"])
    assert len(human.history_[0]["reviewed"]) == simulated.history_[0]["n_labeled"]


def test_unusable_items_are_never_queried_again(lc25000_embeddings, tmp_path):
    X, y, paths = lc25000_embeddings
    marked = set()

    def answer(i):
        if len(marked) < 4 and i not in marked:  # the first four asked are unusable
            marked.add(int(i))
            return paths[i], "unusable", ""
        return paths[i], "relabel", y[i]

    fitted, decisions = review_loop(X, paths, tmp_path, answer)
    assert len(marked) == 4
    assert set(fitted.unusable_indices_.tolist()) == marked
    assert not marked & set(fitted.labeled_indices_.tolist())
    assert not marked & set(fitted.test_indices_.tolist())
    asked = [row["path"] for d in decisions for row in csv.DictReader(open(d).readlines()[1:])]
    assert len(asked) == len(set(asked))  # nothing asked twice
    assert sum(e.get("n_unusable", 0) for e in fitted.history_) <= 4


def test_decisions_of_another_input_are_refused(tmp_path):
    queries, other = tmp_path / "queries.csv", tmp_path / "other.csv"
    write_queries(queries, ["a.png", "b.png"])
    write_queries(other, ["a.png", "c.png"])
    decisions = tmp_path / "queries.decisions.csv"
    write_decisions(decisions, other, [("a.png", "relabel", "x")])
    with pytest.raises(ValueError, match="belongs to another input"):
        digest = listing_digest(["a.png", "b.png"])
        oracle_from_decisions(decisions, ["a.png", "b.png"], input_digest=digest)
    with pytest.raises(ValueError, match="absent from the pool"):
        oracle_from_decisions(decisions, ["b.png", "c.png"])


def test_oracle_from_decisions_last_row_wins_and_classes_type():
    import pandas as pd

    table = pd.DataFrame(
        {
            "path": ["a", "b", "c", "a", "d"],
            "label": ["1", "0", "", "1", "0"],
            "decision": ["relabel", "keep", "unusable", "pending", "relabel"],
            "new_label": ["0", "", "", "", "1"],
        }
    )
    oracle = oracle_from_decisions(table, ["a", "b", "c", "d", "e"], classes=[0, 1])
    assert oracle.pending.tolist() == [True, False, False, False, True]
    assert oracle.unusable.tolist() == [False, False, True, False, False]
    assert oracle.labels[[1, 3]].tolist() == [0, 1]
    assert oracle.relabeled.tolist() == [False, False, False, True, False]
    with pytest.raises(ValueError, match="none of the classes"):
        oracle_from_decisions(table, ["a", "b", "c", "d", "e"], classes=[0, 2])


def review_as_truth(queries, truth):
    """`skhisto review`, answered with the true labels."""
    with open(queries, newline="") as f:
        listed = [row["path"] for row in csv.DictReader(f)]
    decisions = queries.with_name("queries.decisions.csv")
    write_decisions(decisions, queries, [(p, "relabel", truth[p]) for p in listed])


def test_cli_round_trip_gives_the_simulated_curve(run_cli, embeddings_file, tmp_path, monkeypatch):
    source = embeddings_file()
    data = np.load(source)
    truth = dict(zip(data["paths"].tolist(), data["labels"].tolist(), strict=True))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tile_0.png").write_bytes(b"")  # a path that names a file: listed absolute
    truth[str(tmp_path / "tile_0.png")] = truth["tile_0.png"]
    folder, out = tmp_path / "al", tmp_path / "res"
    argv = ["active", source, "--annotate", folder, "--strategy", "coreset", *SMALL]
    for step in range(10):
        result = run_cli(*argv, "--out-dir", out)
        assert result.code == 0, result.err
        if "skhisto review" not in result.out:
            break
        assert result.out.strip() == f"skhisto review {folder / 'queries.csv'} --out-dir {folder}"
        hints = json.loads((folder / "queries.json").read_text())
        assert hints["classes"] == ["adenocarcinoma", "benign", "squamous"]
        assert hints["round"] == (0 if step == 0 else step)
        # before review, a rerun writes nothing new and asks again
        again = run_cli(*argv, "--out-dir", out)
        assert again.out == result.out and "not labelled yet" in again.err
        review_as_truth(folder / "queries.csv", truth)
    assert step == 4  # the initial set and three batches
    simulated = tmp_path / "sim"
    result = run_cli("active", source, "--strategy", "coreset", *SMALL, "--out-dir", simulated)
    assert result.code == 0, result.err
    with open(out / "active.csv") as f:
        human = list(csv.DictReader(f))
    with open(simulated / "active.csv") as f:
        expected = list(csv.DictReader(f))
    columns = ["strategy", "round", "n_labeled", "balanced_accuracy"]
    assert [[r[c] for c in columns] for r in human] == [[r[c] for c in columns] for r in expected]
    assert (out / "active.png").is_file()
    assert sorted(p.name for p in (folder / "rounds").glob("*.decisions.csv")) == [
        f"round_{r}.decisions.csv" for r in range(4)
    ]


def test_cli_refuses_in_one_line(run_cli, embeddings_file, tmp_path):
    source, folder = embeddings_file(), tmp_path / "al"
    base = ["active", source, "--annotate", folder]
    result = run_cli(*base, "--strategy", "random", "coreset")
    result.assert_one_line_error(1, "--annotate runs one strategy")
    result = run_cli("active", embeddings_file(labels=False, name="u.npz"), "--annotate", folder)
    result.assert_one_line_error(1, "--classes")
    result = run_cli(*base, *SMALL, "--out-dir", tmp_path / "res")
    assert result.code == 0, result.err
    other = tmp_path / "other.csv"
    write_queries(other, ["tile_0.png"])
    write_decisions(folder / "queries.decisions.csv", other, [("tile_0.png", "relabel", "benign")])
    result = run_cli(*base, *SMALL, "--out-dir", tmp_path / "res")
    result.assert_one_line_error(1, "belongs to another input")
