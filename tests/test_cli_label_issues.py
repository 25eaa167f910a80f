"""`skhisto label-issues`: the rows equal the Python API's on real LC25000 embeddings, flipped
labels come first, and a bad input is one line before any work."""

import csv
import json

import numpy as np
import pytest
from conftest import assert_fails_before_embedding, fill_argv
from PIL import Image

from skhisto import FoundationEmbedder, LabelIssueFilter, estimate_noise, find_label_issues
from skhisto.cli._gallery import PANEL_HEIGHT, PANEL_WIDTH
from skhisto.embedding import forward_count

IMAGE_SIZE = 32  # a random-init resnet18 at 32 px: 300 tiles embed in about a second


@pytest.fixture(scope="module")
def lc25000_embeddings(lc25000_small):
    """300 real LC25000 tiles (100 per class) embedded once: X, true labels, paths."""
    embedder = FoundationEmbedder(
        "resnet18", pretrained=False, image_size=IMAGE_SIZE, random_state=0
    )
    X = embedder.fit_transform(lc25000_small.paths)
    y = np.asarray(lc25000_small.target_names)[lc25000_small.target]
    return X, y, np.asarray(lc25000_small.paths)


def write_npz(path, X, labels, paths):
    """An embeddings file as `skhisto embed` writes it."""
    np.savez(path, embeddings=X, labels=np.asarray(labels, dtype=str), paths=paths)
    return path


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize(
    "method, argv",
    [
        ("knn", ["--n-neighbors", "12"]),
        ("knn", ["--n-neighbors", "12", "--search", "faiss"]),  # the index, asked at any size
        pytest.param("ensemble", ["--cv", "3"], marks=pytest.mark.slow),  # trains 3 heads twice
    ],
)
def test_csv_rows_equal_the_python_api(method, argv, lc25000_embeddings, run_cli, tmp_path):
    X, y, paths = lc25000_embeddings
    source = write_npz(tmp_path / "emb.npz", X, y, paths)
    result = run_cli("label-issues", source, "--method", method, *argv, "--out-dir", tmp_path)
    assert result.code == 0, result.err
    options = {"method": method, "random_state": 0}
    options.update({"n_neighbors": 12} if method == "knn" else {"cv": 3})
    if "--search" in argv:
        pytest.importorskip("faiss")
        options["search"] = argv[argv.index("--search") + 1]
    issues, quality = find_label_issues(X, y, return_scores=True, **options)
    rows = read_csv(tmp_path / "label_issues.csv")
    index = {path: i for i, path in enumerate(paths)}
    order = [index[row["path"]] for row in rows]
    assert sorted(order) == list(range(len(y))), "one row per sample"
    np.testing.assert_array_equal([row["issue"] == "True" for row in rows], issues[order])
    np.testing.assert_allclose([float(row["label_quality"]) for row in rows], quality[order])
    assert [row["label"] for row in rows] == y[order].tolist()
    relabeled = LabelIssueFilter(action="relabel", **options).fit_resample(X, y)[1]
    assert [row["suggested_label"] for row in rows] == relabeled[order].tolist()
    # most suspect first: the flagged, then the others, each by label quality from the lowest
    n_flagged = int(issues.sum())
    assert 0 < n_flagged < len(y) and not issues[order][n_flagged:].any()
    for group in (rows[:n_flagged], rows[n_flagged:]):
        scores = [float(row["label_quality"]) for row in group]
        assert scores == sorted(scores)
    noise_rate, _ = estimate_noise(X, y, **options)
    title, _, header, *table = result.out.strip().splitlines()
    assert title.startswith(f"{n_flagged} of 300 labels flagged, estimated noise rate ")
    assert f"{noise_rate:.3f}" in title and str(source) in title
    assert header.split() == ["path", "label", "suggested_label", "label_quality"]
    assert [line.split()[0] for line in table] == [row["path"] for row in rows[:20]]


def test_flipped_labels_rank_first(lc25000_embeddings, run_cli, tmp_path):
    """Benign tiles labeled tumour and tumour tiles labeled benign, 15 of 300: the CSV puts
    them near the top (median rank 18 on these random-init embeddings, 150 by chance) and flags
    most of them (13; a quarter, by chance)."""
    X, y, paths = lc25000_embeddings
    rng = np.random.default_rng(0)
    flipped = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), 5, replace=False) for c in np.unique(y)]
    )
    noisy = y.copy()
    noisy[flipped] = np.where(y[flipped] == "lung_n", "lung_aca", "lung_n")
    source = write_npz(tmp_path / "noisy.npz", X, noisy, paths)
    result = run_cli("label-issues", source, "--out-dir", tmp_path)
    assert result.code == 0, result.err
    rows = read_csv(tmp_path / "label_issues.csv")
    rank = {row["path"]: r for r, row in enumerate(rows)}
    ranks = np.array([rank[p] for p in paths[flipped]])
    assert np.median(ranks) < 30, sorted(ranks)
    flagged = [rows[r] for r in ranks if rows[r]["issue"] == "True"]
    assert len(flagged) >= 10, sorted(ranks)
    # a flagged benign tile labeled tumour is suggested benign; a tumour tile, a tumour class
    truth = dict(zip(paths, y, strict=True))
    for row in flagged:
        assert (row["suggested_label"] == "lung_n") == (truth[row["path"]] == "lung_n"), row


def test_json_keys_follow_the_csv_columns(embeddings_file, run_cli, tmp_path):
    source = embeddings_file()
    result = run_cli("label-issues", source, "--json", "--out-dir", tmp_path)
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    assert list(payload) == [
        "title",
        "n_samples",
        "n_flagged",
        "noise_rate",
        "classes",
        "transition",
        "rows",
    ]
    rows = read_csv(tmp_path / "label_issues.csv")
    assert [list(row) for row in payload["rows"]] == [list(row) for row in rows]
    assert [row["path"] for row in payload["rows"]] == [row["path"] for row in rows]
    assert payload["n_flagged"] == sum(row["issue"] for row in payload["rows"])
    assert payload["classes"] == ["adenocarcinoma", "benign", "squamous"]
    with np.load(source) as data:
        noise_rate, transition = estimate_noise(data["embeddings"], data["labels"])
    assert payload["noise_rate"] == pytest.approx(noise_rate)
    np.testing.assert_allclose(payload["transition"], transition)
    assert f"estimated noise rate {payload['noise_rate']:.3f}" in payload["title"]


def bare_file(tmp_path, embeddings_file):
    """An embeddings file whose paths are empty."""
    with np.load(embeddings_file(name="labeled.npz")) as data:
        X, labels = data["embeddings"], data["labels"]
    return write_npz(tmp_path / "bare.npz", X, labels, np.full(len(X), ""))


def test_embeddings_without_paths_name_rows_by_index(embeddings_file, run_cli, tmp_path):
    source = bare_file(tmp_path, embeddings_file)
    with np.load(source) as data:
        X, labels = data["embeddings"], data["labels"]
    result = run_cli("label-issues", source, "--show", "0", "--out-dir", tmp_path)
    assert result.code == 0, result.err
    rows = read_csv(tmp_path / "label_issues.csv")
    assert sorted(int(row["path"]) for row in rows) == list(range(len(X)))
    assert labels[int(rows[0]["path"])] == rows[0]["label"]
    # --show 0: the title alone, no table header over nothing
    assert result.out.strip().splitlines() == [result.out.splitlines()[0]]
    assert " labels flagged, estimated noise rate " in result.out


def test_nothing_flagged_is_one_clear_line_and_the_csv(run_cli, tmp_path):
    centers = np.repeat(np.eye(3, 8) * 100, 20, axis=0)  # three clusters far apart
    X = centers + np.random.default_rng(0).normal(size=centers.shape)
    labels = np.repeat(["adenocarcinoma", "benign", "squamous"], 20)
    paths = np.array([f"tile_{i}.png" for i in range(len(X))])
    source = write_npz(tmp_path / "clean.npz", X.astype(np.float32), labels, paths)
    result = run_cli("label-issues", source, "--out-dir", tmp_path)
    assert result.code == 0, result.err
    title, blank, line = result.out.strip().splitlines()
    assert title.startswith("0 of 60 labels flagged") and blank == ""
    assert line == "no label flagged" and "suggested_label" not in result.out
    rows = read_csv(tmp_path / "label_issues.csv")
    assert len(rows) == 60 and not any(row["issue"] == "True" for row in rows)


def test_image_folder_checks_every_image(tiny_folder, run_cli, tmp_path):
    cache = tmp_path / "cache"
    argv = [tiny_folder, "--no-pretrained", "--image-size", "16", "--cache", cache]
    forwards = forward_count()
    result = run_cli("label-issues", *argv, "--out-dir", tmp_path / "out")
    assert result.code == 0, result.err
    assert forward_count() - forwards == 6
    rows = read_csv(tmp_path / "out" / "label_issues.csv")
    assert sorted(row["path"] for row in rows) == sorted(str(p) for p in tiny_folder.glob("*/*"))
    assert "6 images (ImageFolder, 2 classes)" in result.out.splitlines()[0]
    assert "embedding 6 images with resnet18" in result.err
    second = run_cli("label-issues", *argv, "--out-dir", tmp_path / "out")
    assert forward_count() - forwards == 6, "the second run reads the cache"
    assert second.out == result.out


def test_gallery_draws_the_most_suspect_tiles(tiny_folder, run_cli, tmp_path):
    argv = [tiny_folder, "--no-pretrained", "--image-size", "16", "--gallery", "3"]
    result = run_cli("label-issues", *argv, "--out-dir", tmp_path)
    assert result.code == 0, result.err
    flagged = [row for row in read_csv(tmp_path / "label_issues.csv") if row["issue"] == "True"]
    assert flagged, "random tiles: some label is flagged"
    n_panels = min(3, len(flagged))
    with Image.open(tmp_path / "label_issues.png") as png:  # one row of panels
        ratio = PANEL_WIDTH * n_panels / PANEL_HEIGHT
        assert png.width / png.height == pytest.approx(ratio, rel=0.02)
    csv_path, png_path = tmp_path / "label_issues.csv", tmp_path / "label_issues.png"
    assert f"wrote {csv_path} and {png_path}" in result.err


def test_only_the_gallery_needs_matplotlib(tiny_folder, run_cli, tmp_path, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else find_spec(name, *a),
    )
    argv = [tiny_folder, "--no-pretrained", "--image-size", "16"]
    assert run_cli("label-issues", *argv, "--out-dir", tmp_path / "plain").code == 0
    result = run_cli("label-issues", *argv, "--gallery", "4", "--out-dir", tmp_path / "out")
    result.assert_one_line_error(1, "matplotlib", "pip install 'skhisto[plot]'")
    assert not (tmp_path / "out").exists()


def one_class_file(tmp_path, embeddings_file):
    with np.load(embeddings_file(name="labeled.npz")) as data:
        return write_npz(tmp_path / "one.npz", data["embeddings"], ["benign"] * 90, data["paths"])


BAD_INPUTS = [
    ("no labels", ["{unlabeled}"], 1, ["emb.npz", "has no labels"]),
    ("csv without labels", ["{csv}"], 1, ["tiles.csv", "has no labels"]),
    ("one class", ["{one_class}"], 1, ["one.npz", "has one class ['benign']"]),
    (
        "class smaller than --cv",
        ["{folder}", "--method", "confident_learning"],
        1,
        ["'benign' has 3 images", "--method confident_learning with --cv 5"],
    ),
    ("n-neighbors >= samples", ["{folder}", "--n-neighbors", "6"], 1, ["--n-neighbors 6", "has 6"]),
    ("gallery of missing images", ["{labeled}", "--gallery", "4"], 1, ["do not exist"]),
    ("gallery without paths", ["{bare}", "--gallery", "4"], 1, ["lists no image paths"]),
    ("unwritable out-dir", ["{folder}", "--out-dir", "{blocker}/sub"], 1, ["--out-dir"]),
    ("unknown method", ["{folder}", "--method", "vote"], 2, ["--method", "'vote'"]),
    ("n-neighbors 0", ["{folder}", "--n-neighbors", "0"], 2, ["--n-neighbors", "auto or a", "'0'"]),
    ("one fold", ["{folder}", "--cv", "1"], 2, ["--cv", "at least 2 folds"]),
    ("negative show", ["{folder}", "--show", "-1"], 2, ["--show", "'-1'"]),
]


@pytest.mark.parametrize(
    "case, argv, code, words", BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS]
)
def test_bad_input_is_one_line_before_any_work(
    case, argv, code, words, run_cli, bad_input_names, embeddings_file, tmp_path
):
    names = {**bad_input_names, "one_class": one_class_file(tmp_path, embeddings_file)}
    names["labeled"] = embeddings_file(name="labeled.npz")
    names["bare"] = bare_file(tmp_path, embeddings_file)
    argv = fill_argv(argv, tmp_path / "out", **names)
    never = tmp_path / "out" / "label_issues.csv"
    assert_fails_before_embedding(run_cli, ["label-issues", *argv], code, words, never)


def test_relative_paths_are_written_as_review_reads_them(run_cli, tmp_path, monkeypatch):
    """An input named relative to the working folder lists its images relative to it; the CSV
    lists them absolute, so `skhisto review out/label_issues.csv` (which reads relative paths
    from the CSV's folder) finds every one."""
    from pathlib import Path

    from skhisto.cli.commands.review import read_items

    rng = np.random.default_rng(0)
    labels = np.repeat(["benign", "tumor"], 10)
    (tmp_path / "tiles").mkdir()
    paths = [f"tiles/{i}.png" for i in range(len(labels))]
    for path in paths:
        (tmp_path / path).touch()
    X = rng.normal(size=(len(labels), 8)).astype(np.float32)
    write_npz(tmp_path / "emb.npz", X, labels, np.asarray(paths))
    monkeypatch.chdir(tmp_path)
    result = run_cli("label-issues", "emb.npz", "--out-dir", "out")
    assert result.code == 0, result.err
    rows = read_csv(tmp_path / "out" / "label_issues.csv")
    assert sorted(row["path"] for row in rows) == sorted(str(tmp_path / p) for p in paths)
    items = read_items(Path("out/label_issues.csv"))
    assert all(Path(file).is_file() for file in items["file"])
