"""`skhisto active`: learning curves per query strategy, resumable, and one-line errors."""

import csv
import json

import numpy as np
import pytest
from conftest import fill_argv
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skhisto import (
    ActiveLearner,
    CoresetSampling,
    LinearHead,
    RandomSampling,
    TypiClustSampling,
    UncertaintySampling,
)

SMALL = ["--n-initial", "6", "--batch-size", "6", "--n-rounds", "3"]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def api_learner(source, strategy, estimator=None, seed=0):
    """The Python API's run that `active` documents in its --help, fitted."""
    data = np.load(source)
    X_pool, X_test, y_pool, y_test = train_test_split(
        data["embeddings"],
        data["labels"],
        test_size=0.25,
        stratify=data["labels"],
        random_state=seed,
    )
    learner = ActiveLearner(
        estimator or LogisticRegression(max_iter=1000, random_state=seed),
        strategy,
        batch_size=6,
        n_rounds=3,
        n_initial=6,
        scoring="balanced_accuracy",
        random_state=seed,
    )
    return learner.fit(X_pool, y_pool, X_test=X_test, y_test=y_test)


def test_curves_equal_the_python_api(run_cli, embeddings_file, tmp_path):
    source, out = embeddings_file(), tmp_path / "results"
    argv = ["--strategy", "random", "entropy", "coreset", *SMALL, "--out-dir", out]
    result = run_cli("active", source, *argv)
    assert result.code == 0, result.err
    strategies = {
        "random": RandomSampling(random_state=0),
        "entropy": UncertaintySampling("entropy"),
        "coreset": CoresetSampling(random_state=0),
    }
    rows = read_csv(out / "active.csv")
    assert [(r["strategy"], r["round"]) for r in rows] == [
        (name, str(k)) for name in strategies for k in range(4)
    ]
    for name, strategy in strategies.items():
        history = api_learner(source, strategy).history_
        mine = [r for r in rows if r["strategy"] == name]
        assert [int(r["n_labeled"]) for r in mine] == [6, 12, 18, 24]
        np.testing.assert_allclose(
            [float(r["balanced_accuracy"]) for r in mine], [e["score"] for e in history]
        )
    assert rows[-1]["query_time"] == "" and float(rows[0]["query_time"]) >= 0
    assert (out / "active.png").stat().st_size > 0
    lines = result.out.strip().splitlines()
    assert (
        lines[0].startswith("Balanced accuracy on 23 held-out samples") and "pool of 67" in lines[0]
    )
    assert lines[2].split() == ["n_labeled", "random", "entropy", "coreset"]
    assert [line.split()[0] for line in lines[3:]] == ["6", "12", "18", "24"]


@pytest.mark.slow  # trains LinearHead 4 times
def test_linear_head_and_json(run_cli, embeddings_file, tmp_path):
    source = embeddings_file()
    argv = ["--strategy", "margin", "--estimator", "linear", "--json", *SMALL]
    result = run_cli("active", source, *argv, "--out-dir", tmp_path / "r")
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    history = api_learner(
        source, UncertaintySampling("margin"), LinearHead(random_state=0)
    ).history_
    np.testing.assert_allclose(
        [row["balanced_accuracy"] for row in payload["rows"]], [e["score"] for e in history]
    )
    assert "LinearHead" in payload["title"]
    with open(tmp_path / "r" / "active.csv", newline="") as f:
        header = next(csv.reader(f))
    assert all(list(row) == header for row in payload["rows"])  # JSON keys in the CSV's order


class FirstSampling(RandomSampling):
    """A contributor's query strategy: the first candidates."""

    def _select(self, X, y, labeled, candidates, batch_size, estimator, rng):
        return candidates[:batch_size], -np.arange(len(candidates), dtype=float)


def test_a_registered_strategy_is_a_cli_choice(run_cli, embeddings_file, tmp_path):
    from skhisto.active import (
        list_query_strategies,
        make_query_strategy,
        register_query_strategy,
        unregister_query_strategy,
    )

    register_query_strategy("first")(FirstSampling)
    try:
        assert make_query_strategy("first", random_state=1).random_state == 1
        argv = ["--strategy", "first", *SMALL, "--out-dir", tmp_path / "r"]
        result = run_cli("active", embeddings_file(), *argv)
        assert result.code == 0, result.err
        assert {row["strategy"] for row in read_csv(tmp_path / "r" / "active.csv")} == {"first"}
    finally:
        unregister_query_strategy("first")
    assert "first" not in list_query_strategies()
    result = run_cli("active", embeddings_file(), "--strategy", "first")
    result.assert_one_line_error(2, "--strategy", "'first'", "coreset")


def test_checkpoint_dir_resumes_each_strategy(run_cli, embeddings_file, tmp_path, monkeypatch):
    source, checkpoints = embeddings_file(), tmp_path / "ckpt"
    argv = ["--strategy", "random", "typiclust", *SMALL, "--out-dir", tmp_path / "r"]
    first = run_cli("active", source, *argv, "--checkpoint-dir", checkpoints)
    assert first.code == 0, first.err
    assert sorted(p.relative_to(checkpoints).as_posix() for p in checkpoints.glob("*/*")) == [
        "random/checkpoint.npz",
        "typiclust/checkpoint.npz",
    ]

    fits = []
    fit = LogisticRegression.fit
    monkeypatch.setattr(LogisticRegression, "fit", lambda self, *a: fits.append(1) or fit(self, *a))
    second = run_cli("active", source, *argv, "--checkpoint-dir", checkpoints)
    assert second.code == 0, second.err
    # resumed after the last round: each strategy refits its final model once, queries nothing
    assert len(fits) == 2
    assert second.out == first.out
    for strategy in ("random", "typiclust"):
        where = checkpoints / strategy / "checkpoint.npz"
        assert f"resuming {strategy} from {where} (round 3 done)" in second.err
    # another run's checkpoint is refused, named, and left alone
    changed = run_cli("active", source, *argv, "--n-rounds", "2", "--checkpoint-dir", checkpoints)
    assert changed.code == 1 and "Traceback" not in changed.err
    last = changed.err.strip().splitlines()[-1]  # after the strategy's progress line
    assert last.startswith("skhisto active: error: ") and "random/checkpoint.npz" in last
    assert "n_rounds=3 there, 2 now" in last
    assert "--checkpoint-dir" in last and "checkpoint=" not in last  # the option, not Python


BAD_INPUTS = [
    ("missing", ["{tmp}/nowhere.npz"], 1, ["nowhere.npz", "does not exist"]),
    ("no images", ["{tmp}"], 1, ["images", ".jpg"]),  # a folder: read as images
    ("no labels", ["{unlabeled}"], 1, ["emb.npz", "has no labels"]),
    ("unknown strategy", ["{labeled}", "--strategy", "bald"], 2, ["--strategy", "'bald'"]),
    ("bad test size", ["{labeled}", "--test-size", "1.5"], 2, ["--test-size", "'1.5'"]),
    ("tiny test size", ["{labeled}", "--test-size", "0.01"], 1, ["--test-size 0.01"]),
    (
        "too many labels",
        ["{labeled}", "--n-rounds", "100"],
        1,
        ["= 1010 labels", "pool has 67"],
    ),
    ("zero batch", ["{labeled}", "--batch-size", "0"], 2, ["--batch-size"]),
    ("unwritable out-dir", ["{labeled}", "--out-dir", "{blocker}/sub"], 1, ["--out-dir"]),
    (
        "unwritable checkpoints",
        ["{labeled}", "--checkpoint-dir", "{blocker}/c"],
        1,
        ["--checkpoint-dir"],
    ),
]


@pytest.mark.parametrize(
    "case, argv, code, words", BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS]
)
def test_bad_input_is_one_line_before_any_work(
    case, argv, code, words, run_cli, embeddings_file, blocker, tmp_path, monkeypatch
):
    names = {
        "tmp": tmp_path,
        "unlabeled": embeddings_file(labels=False),
        "labeled": embeddings_file(name="labeled.npz"),
        "blocker": blocker,
    }

    def no_learning(*args, **kwargs):
        raise AssertionError("nothing is trained before the inputs are checked")

    monkeypatch.setattr(ActiveLearner, "fit", no_learning)
    argv = fill_argv(argv, tmp_path / "out", **names)
    result = run_cli("active", *argv)
    result.assert_one_line_error(code, *words)
    assert not (tmp_path / "out" / "active.csv").exists()


@pytest.mark.slow  # embeds 60 real LC25000 tiles
def test_on_embeddings_of_real_tiles(lc25000_small, run_cli, tmp_path):
    listing, emb = tmp_path / "tiles.csv", tmp_path / "emb.npz"
    labels = np.asarray(lc25000_small.target_names)[lc25000_small.target]
    with open(listing, "w", newline="") as f:
        rows = zip(lc25000_small.paths[::5], labels[::5], strict=True)
        csv.writer(f).writerows([("path", "label"), *rows])
    argv = ["--backbone", "resnet18", "--no-pretrained", "--image-size", "32", "--out", emb]
    assert run_cli("embed", listing, *argv).code == 0
    result = run_cli("active", emb, "--strategy", "typiclust", *SMALL, "--out-dir", tmp_path / "r")
    assert result.code == 0, result.err
    history = api_learner(emb, TypiClustSampling(random_state=0)).history_
    rows = read_csv(tmp_path / "r" / "active.csv")
    np.testing.assert_allclose(
        [float(r["balanced_accuracy"]) for r in rows], [e["score"] for e in history]
    )
