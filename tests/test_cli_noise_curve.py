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
        "unknown second backbone",
        ["{folder}", "--cv", "2", "--backbone", "resnet18", "nope"],
        1,
        ["nope"],
    ),
    ("unknown loss", ["{folder}", "--losses", "ce", "focal"], 2, ["--losses", "'focal'"]),
    (
        "group noise, no groups",
        ["{folder}", "--cv", "2", "--noise", "group"],
        1,
        ["--noise group", "--groups"],
    ),
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


# --- several backbones (issue 23, item 4): the paper's comparison in one command ---

#: Tiny timm models registered under two families of the paper; resnet18 is 'supervised'.
TINY = {
    "tiny-contrastive": ("test_vit", "contrastive"),
    "tiny-noncontrastive": ("test_convnext", "non-contrastive"),
}
THREE = ["tiny-contrastive", "tiny-noncontrastive", "resnet18"]
TINY_ARGV = ["--no-pretrained", "--image-size", "32", *SMALL]


@pytest.fixture
def tiny_backbones():
    from skhisto.backbones import BackboneInfo, register_backbone, unregister_backbone

    for name, (architecture, family) in TINY.items():
        register_backbone(BackboneInfo(name, architecture, 64, input_size=32, family=family))
    yield THREE
    for name in TINY:
        unregister_backbone(name)


@pytest.fixture
def eight_per_class(tmp_path):
    """2 classes x 8 random 32 px PNGs (enough for MLPHead's early-stopping split at --cv 2)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("benign", "tumor"):
        (tmp_path / "eight" / name).mkdir(parents=True)
        for i in range(8):
            pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "eight" / name / f"{i}.png")
    return tmp_path / "eight"


def test_three_backbones_one_table_one_figure_each_image_embedded_once(
    tiny_backbones, eight_per_class, run_cli, tmp_path
):
    out, cache = tmp_path / "results", tmp_path / "cache"
    argv = [eight_per_class, "--backbone", *tiny_backbones, *TINY_ARGV, "--cache", cache]
    forwards = forward_count()
    result = run_cli("noise-curve", *argv, "--out-dir", out)
    assert result.code == 0, result.err
    assert forward_count() - forwards == 3 * 16, "each of the 16 images once per backbone"
    assert sorted(p.name for p in out.iterdir()) == [
        "noise-curve.config.yaml",
        "noise_curve.csv",
        "noise_curve.png",
    ]
    rows = read_csv(out / "noise_curve.csv")
    assert list(rows[0]) == [
        "rate", "head", "loss", "noise", "balanced_accuracy_mean", "balanced_accuracy_std",
        "fold_1", "fold_2", "n_images", "backbone", "family", "weights",
    ]  # fmt: skip
    assert [(r["rate"], r["backbone"], r["head"]) for r in rows[:6]] == [
        ("0.0", backbone, head) for backbone in tiny_backbones for head in ("MLPHead", "LinearHead")
    ]
    assert len(rows) == 2 * 3 * 2  # rates x backbones x heads
    families = {r["backbone"]: r["family"] for r in rows}
    assert families == {
        "tiny-contrastive": "contrastive",
        "tiny-noncontrastive": "non-contrastive",
        "resnet18": "supervised",
    }
    assert {r["loss"] for r in rows} == {"cross_entropy"}
    lines = result.out.strip().splitlines()
    assert lines[2].split() == [
        "rate", "backbone", "head", "balanced_accuracy_mean", "balanced_accuracy_std"
    ]  # fmt: skip
    assert (
        "backbones tiny-contrastive at 32 px, tiny-noncontrastive at 32 px, resnet18 at 32 px, "
        "random init (seed 0), not pretrained" in lines[0]
    )
    assert "24 fits: 3 backbones x 2 rates x 2 heads x 2 folds" in result.err
    # A second run, or one adding a backbone, embeds only what the cache lacks.
    forwards = forward_count()
    again = run_cli("noise-curve", *argv, "--out-dir", tmp_path / "again")
    assert again.code == 0, again.err
    assert forward_count() == forwards
    assert read_csv(tmp_path / "again" / "noise_curve.csv") == rows


def test_the_figure_has_a_curve_per_backbone_and_head_with_the_family(
    tiny_backbones, eight_per_class, run_cli, tmp_path, monkeypatch
):
    from skhisto.cli.commands import noise_curve

    drawn = {}

    def keep(curve, title):
        ax = plot(curve, title)
        drawn["legend"] = [t.get_text() for t in ax.get_legend().get_texts()]
        drawn["colors"] = [line.get_color() for line in ax.get_lines()]
        return ax

    plot = noise_curve._plot
    monkeypatch.setattr(noise_curve, "_plot", keep)
    argv = [eight_per_class, "--backbone", *tiny_backbones[:2], *TINY_ARGV, "--losses", "ce", "gce"]
    result = run_cli("noise-curve", *argv, "--heads", "linear", "--out-dir", tmp_path)
    assert result.code == 0, result.err
    assert drawn["legend"] == [
        "tiny-contrastive (contrastive), cross_entropy",
        "tiny-contrastive (contrastive), gce",
        "tiny-noncontrastive (non-contrastive), cross_entropy",
        "tiny-noncontrastive (non-contrastive), gce",
        "chance (1/K = 0.50)",  # the dashed line of two classes
    ]
    assert drawn["colors"][0] == drawn["colors"][1] != drawn["colors"][2]
    rows = read_csv(tmp_path / "noise_curve.csv")
    assert [(r["backbone"], r["loss"]) for r in rows[:4]] == [
        ("tiny-contrastive", "cross_entropy"),
        ("tiny-contrastive", "gce"),
        ("tiny-noncontrastive", "cross_entropy"),
        ("tiny-noncontrastive", "gce"),
    ]
    assert result.out.strip().splitlines()[2].split()[:4] == ["rate", "backbone", "head", "loss"]


def test_losses_map_to_the_heads_loss_names():
    from skhisto.cli.commands.noise_curve import LOSSES
    from skhisto.heads import LOSSES as HEAD_LOSSES

    assert sorted(LOSSES.values()) == sorted(HEAD_LOSSES)


def test_the_command_equals_compare_backbones(run_cli, embeddings_file, tmp_path):
    # One backbone (an embeddings file) with --losses: the rows of the documented call.
    from skhisto.model_selection import compare_backbones

    source = embeddings_file()
    argv = [*SMALL, "--heads", "linear", "--losses", "ce", "sce", "--random-state", "2"]
    result = run_cli("noise-curve", source, *argv, "--out-dir", tmp_path)
    assert result.code == 0, result.err
    data = np.load(source)
    table = compare_backbones(
        None,
        data["labels"],
        {"resnet18": data["embeddings"]},
        heads=[LinearHead(max_epochs=3, random_state=2)],
        losses=["cross_entropy", "sce"],
        rates=[0.0, 0.4],
        noise=UniformNoise(random_state=2),
        cv=StratifiedKFold(2, shuffle=True, random_state=2),
        random_state=2,
    )
    for row in read_csv(tmp_path / "noise_curve.csv"):
        mine = table[(table["rate"] == float(row["rate"])) & (table["loss"] == row["loss"])]
        np.testing.assert_allclose([float(row["fold_1"]), float(row["fold_2"])], mine["score"])
        assert (row["backbone"], row["family"]) == ("", "")  # the file does not say


def test_groups_from_a_csv_column_make_grouped_folds(eight_per_class, run_cli, tmp_path):
    listing = tmp_path / "tiles.csv"
    rows = [(c, i, f"{c}-{i // 4}") for c in ("benign", "tumor") for i in range(8)]
    listing.write_text(
        "path,label,patient\n" + "".join(f"eight/{c}/{i}.png,{c},{p}\n" for c, i, p in rows)
    )
    argv = [listing, "--no-pretrained", "--image-size", "16", *SMALL, "--heads", "linear"]
    result = run_cli("noise-curve", *argv, "--out-dir", tmp_path / "out")
    assert result.code == 0, result.err
    title = result.out.splitlines()[0]
    assert "mean and std over 2 grouped folds, 4 groups (column 'patient')" in title
    assert {r["n_groups"] for r in read_csv(tmp_path / "out" / "noise_curve.csv")} == {"4"}
    ungrouped = run_cli("noise-curve", *argv, "--no-groups", "--out-dir", tmp_path / "patch")
    assert ungrouped.code == 0, ungrouped.err
    assert "n_groups" not in read_csv(tmp_path / "patch" / "noise_curve.csv")[0]


def test_several_backbones_need_images(run_cli, embeddings_file, tmp_path):
    result = run_cli(
        "noise-curve", embeddings_file(), "--backbone", "resnet18", "uni", "--out-dir", tmp_path
    )
    result.assert_one_line_error(1, "emb.npz", "one backbone's embeddings", "resnet18 uni")
    assert not (tmp_path / "noise_curve.csv").exists()
