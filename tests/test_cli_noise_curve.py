"""`skhisto noise-curve`: the label-noise main job, its outputs, and one-line errors before work."""

import csv
import json

import numpy as np
import pytest
from conftest import assert_fails_before_embedding, fill_argv
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from skhisto import FoundationEmbedder, LinearHead, MLPHead, NoisyLabelClassifier, UniformNoise
from skhisto.datasets import load_image_folder
from skhisto.embedding import forward_count
from skhisto.model_selection import noise_robustness_curve
from skhisto.noise import BaseLabelNoise, register_noise_model, unregister_noise_model

SMALL = ["--rates", "0", "0.4", "--cv", "2", "--max-epochs", "3"]


def api_search(X, y, rates, cv, max_epochs, seed=0):
    """The Python API's search that `noise-curve` documents in its --help."""
    heads = [
        MLPHead(max_epochs=max_epochs, random_state=seed),
        LinearHead(max_epochs=max_epochs, random_state=seed),
    ]
    model = NoisyLabelClassifier(heads[0], UniformNoise(random_state=seed))
    search = GridSearchCV(
        model,
        {"noise__rate": rates, "estimator": heads},
        cv=StratifiedKFold(cv, shuffle=True, random_state=seed),
        scoring="balanced_accuracy",
        refit=False,
    )
    return search.fit(X, y)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def api_scores(search, cv):
    """{(rate, head): fold scores} of a fitted search."""
    results = search.cv_results_
    return {
        (p["noise__rate"], type(p["estimator"]).__name__): [
            results[f"split{k}_test_score"][i] for k in range(cv)
        ]
        for i, p in enumerate(results["params"])
    }


def test_embeddings_file_equals_the_python_api(run_cli, embeddings_file, tmp_path):
    source = embeddings_file()
    out = tmp_path / "results"
    result = run_cli("noise-curve", source, *SMALL, "--out-dir", out)
    assert result.code == 0, result.err
    data = np.load(source)
    expected = api_scores(api_search(data["embeddings"], data["labels"], [0.0, 0.4], 2, 3), 2)
    rows = read_csv(out / "noise_curve.csv")
    assert [(float(r["rate"]), r["head"]) for r in rows] == [
        (0.0, "MLPHead"),
        (0.0, "LinearHead"),
        (0.4, "MLPHead"),
        (0.4, "LinearHead"),
    ]
    for row in rows:
        folds = [float(row["fold_1"]), float(row["fold_2"])]
        np.testing.assert_allclose(folds, expected[(float(row["rate"]), row["head"])])
        assert float(row["balanced_accuracy_mean"]) == pytest.approx(np.mean(folds))
        assert row["n_images"] == "90" and row["weights"] == f"embeddings read from {source}"
    assert (out / "noise_curve.png").stat().st_size > 0
    # stdout: the title naming the metric and the source, then one line per rate x head
    lines = result.out.strip().splitlines()
    assert lines[0].startswith("Balanced accuracy on clean test labels") and str(source) in lines[0]
    assert lines[2].split() == ["rate", "head", "balanced_accuracy_mean", "balanced_accuracy_std"]
    assert lines[3].split()[:3] == [
        "0.000",
        "MLPHead",
        f"{float(rows[0]['balanced_accuracy_mean']):.3f}",
    ]
    assert len(lines) == 3 + len(rows)
    assert "noise rate fits" in result.err and "8 fits: 2 rates x 2 heads x 2 folds" in result.err


def test_table_equals_noise_robustness_curve(run_cli, embeddings_file, tmp_path):
    # The command is one noise_robustness_curve call per head, as its --help says.
    source = embeddings_file()
    result = run_cli("noise-curve", source, *SMALL, "--random-state", "3", "--out-dir", tmp_path)
    assert result.code == 0, result.err
    data = np.load(source)
    rows = read_csv(tmp_path / "noise_curve.csv")
    for head in (MLPHead, LinearHead):
        curve = noise_robustness_curve(
            head(max_epochs=3, random_state=3),
            data["embeddings"],
            data["labels"],
            [0.0, 0.4],
            noise=UniformNoise(random_state=3),
            cv=StratifiedKFold(2, shuffle=True, random_state=3),
        )
        mine = [r for r in rows if r["head"] == head.__name__]
        assert [float(r["rate"]) for r in mine] == [0.0, 0.4]
        for row in mine:
            expected = curve[curve["rate"] == float(row["rate"])].sort_values("fold")["score"]
            folds = [float(row["fold_1"]), float(row["fold_2"])]
            np.testing.assert_allclose(folds, expected.to_numpy())


class EveryOtherNoise(BaseLabelNoise):
    """A contributor's noise model: ``rate`` of the labels move to the next class."""

    def __init__(self, rate=0.2, *, random_state=None):
        super().__init__(random_state=random_state)
        self.rate = rate

    def _noisy_codes(self, codes, rng):
        flip = rng.permutation(len(codes))[: round(self.rate * len(codes))]
        noisy = codes.copy()
        noisy[flip] = (codes[flip] + 1) % len(self.classes_)
        return noisy


@pytest.fixture
def registered_noise():
    """``EveryOtherNoise`` registered as "next-class" for one test, then removed."""
    register_noise_model("next-class")(EveryOtherNoise)
    yield "next-class"
    unregister_noise_model("next-class")


def test_a_registered_noise_model_is_seen_by_the_library_and_the_cli(
    registered_noise, run_cli, embeddings_file, tmp_path
):
    source = embeddings_file()
    data = np.load(source)
    curve = noise_robustness_curve(
        LinearHead(max_epochs=3, random_state=0),
        data["embeddings"],
        data["labels"],
        [0.0, 0.4],
        noise=registered_noise,
        cv=2,
        random_state=0,
    )
    assert set(curve["noise"]) == {"EveryOtherNoise"}
    assert curve.loc[curve["rate"] == 0.4, "realized_rate"].to_numpy() == pytest.approx(0.4, 0.1)
    argv = ["--heads", "linear", "--noise", registered_noise, "--out-dir", tmp_path]
    result = run_cli("noise-curve", source, *SMALL, *argv)
    assert result.code == 0, result.err
    assert {row["noise"] for row in read_csv(tmp_path / "noise_curve.csv")} == {"next-class"}
    assert "next-class" in run_cli("noise-curve", "--help").out


def test_an_unregistered_noise_model_is_gone_from_the_cli(run_cli, embeddings_file, tmp_path):
    register_noise_model("next-class")(EveryOtherNoise)
    unregister_noise_model("next-class")
    result = run_cli("noise-curve", embeddings_file(), "--noise", "next-class")
    result.assert_one_line_error(2, "--noise", "'next-class'", "uniform")
    with pytest.raises(ValueError, match="'noise' parameter .* got 'next-class'"):
        noise_robustness_curve(
            LinearHead(), np.zeros((4, 2)), [0, 0, 1, 1], [0.1], noise="next-class"
        )


def test_json_output_one_head_asymmetric_noise(run_cli, embeddings_file, tmp_path):
    argv = ["--heads", "linear", "--noise", "asymmetric", "--json", "--out-dir", tmp_path / "r"]
    result = run_cli("noise-curve", embeddings_file(), *SMALL, *argv)
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    assert [(r["rate"], r["head"], r["noise"]) for r in payload["rows"]] == [
        (0.0, "LinearHead", "asymmetric"),
        (0.4, "LinearHead", "asymmetric"),
    ]
    rows = read_csv(tmp_path / "r" / "noise_curve.csv")
    assert rows[1]["noise"] == "asymmetric"
    # the JSON keys come in the CSV's column order (fold scores before n_images in both)
    assert [list(row) for row in payload["rows"]] == [list(row) for row in rows]


BAD_INPUTS = [
    ("missing", ["{tmp}/nowhere"], 1, ["INPUT", "nowhere", "does not exist"]),
    ("missing embeddings", ["{tmp}/nowhere.npz"], 1, ["nowhere.npz", "does not exist"]),
    ("no labels", ["{unlabeled}"], 1, ["emb.npz", "has no labels"]),
    ("csv without labels", ["{csv}"], 1, ["tiles.csv", "has no labels"]),
    ("rate 1", ["{folder}", "--rates", "0", "1"], 2, ["--rates", "[0, 1)", "'1'"]),
    ("rate -0.1", ["{folder}", "--rates", "-0.1"], 2, ["--rates", "'-0.1'"]),
    ("repeated rate", ["{folder}", "--rates", "0.2", "0.2"], 1, ["--rates", "repeated"]),
    ("unknown head", ["{folder}", "--heads", "mlp", "svm"], 2, ["--heads", "'svm'"]),
    ("one fold", ["{folder}", "--cv", "1"], 2, ["--cv", "at least 2 folds"]),
    ("too few per class", ["{folder}"], 1, ["'benign' has 3 images", "--cv 5"]),
    ("unwritable out-dir", ["{folder}", "--out-dir", "{blocker}/sub"], 1, ["--out-dir"]),
    ("unknown backbone", ["{folder}", "--cv", "2", "--backbone", "nope"], 1, ["nope"]),
    (
        "cache contradiction",
        ["{folder}", "--cv", "2", "--cache", "{tmp}/c", "--no-cache"],
        1,
        ["--no-cache"],
    ),
]


@pytest.mark.parametrize(
    "case, argv, code, words", BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS]
)
def test_bad_input_is_one_line_before_any_work(
    case, argv, code, words, run_cli, bad_input_names, tmp_path
):
    argv = fill_argv(argv, tmp_path / "out", **bad_input_names)
    never = tmp_path / "out" / "noise_curve.csv"
    assert_fails_before_embedding(run_cli, ["noise-curve", *argv], code, words, never)


@pytest.mark.slow  # embeds 30 real LC25000 tiles and trains 8 heads
def test_real_images_are_embedded_once_and_equal_the_python_api(lc25000_dir, run_cli, tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "results"
    argv = [lc25000_dir, "--no-pretrained", "--image-size", "32", "--per-class", "10"]
    argv += [*SMALL, "--cache", cache, "--out-dir", out]
    forwards = forward_count()
    first = run_cli("noise-curve", *argv)
    assert first.code == 0, first.err
    assert forward_count() - forwards == 30
    title = first.out.splitlines()[0]
    assert "30 images (ImageFolder, 3 classes)" in title
    assert "backbone resnet18 at 32 px, random init (seed 0), not pretrained" in title

    data = load_image_folder(lc25000_dir, max_per_class=10, random_state=0)
    X = FoundationEmbedder(
        "resnet18", pretrained=False, image_size=32, random_state=0
    ).fit_transform(data.paths)
    y = np.asarray(data.target_names)[data.target]
    expected = api_scores(api_search(X, y, [0.0, 0.4], 2, 3), 2)
    rows = read_csv(out / "noise_curve.csv")
    for row in rows:
        folds = [float(row["fold_1"]), float(row["fold_2"])]
        np.testing.assert_allclose(folds, expected[(float(row["rate"]), row["head"])])
        assert (row["backbone"], row["weights"]) == ("resnet18", "random init (seed 0)")

    forwards = forward_count()
    second = run_cli("noise-curve", *argv)
    assert forward_count() == forwards, "the second run reads the cache"
    assert second.out == first.out


@pytest.mark.parametrize("command", ["noise-curve", "active"])
def test_without_matplotlib_says_what_to_install(
    command, run_cli, embeddings_file, tmp_path, monkeypatch
):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else find_spec(name, *a),
    )
    result = run_cli(command, embeddings_file(), "--out-dir", tmp_path / "out")
    result.assert_one_line_error(1, "matplotlib", "pip install 'skhisto[plot]'")
    assert not (tmp_path / "out").exists()
