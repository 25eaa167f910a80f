"""`--seeds` on `active` and `active-simclr`, and `--per-class`/`--max-images` on every command
that reads images or an embeddings file, one seeded draw for all (issue 24)."""

import csv
import os

import numpy as np
import pandas as pd
import pytest
import yaml

from skhisto.cli import build_parser
from skhisto.cli._inputs import read_input
from skhisto.cli._labeled import read_any
from skhisto.model_selection import summarize_seeds

ACTIVE = ["--strategy", "random", "entropy", "--n-rounds", "2"]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def without(rows, *names):
    return [
        {k: v for k, v in row.items() if k not in names and not k.endswith("time")} for row in rows
    ]


@pytest.fixture(scope="module")
def folder_and_files(tmp_path_factory):
    """Class folders of 9, 5 and 7 tiny PNGs, and their embeddings as `skhisto embed` writes
    them to .npz and .zarr (random init, 32 px)."""
    from PIL import Image

    from skhisto.cli import main

    root = tmp_path_factory.mktemp("draw")
    rng = np.random.default_rng(0)
    for name, count in (("benign", 9), ("squamous", 5), ("adeno", 7)):
        (root / "images" / name).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "images" / name / f"{i}.png")
    for suffix in (".npz", ".zarr"):
        argv = ["embed", root / "images", "--backbone", "resnet18", "--no-pretrained"]
        argv += ["--image-size", "32", "--no-cache", "--out", root / f"emb{suffix}"]
        assert main([str(a) for a in argv]) == 0
    return root / "images", root / "emb.npz", root / "emb.zarr"


@pytest.mark.parametrize("per_class, max_images", [(4, None), (4, 7), (None, 6), (100, None)])
def test_an_embeddings_file_draws_the_images_its_folder_draws(
    folder_and_files, per_class, max_images
):
    """--per-class (of each label) then --max-images on a file of whole class folders keeps
    the rows of the images the same options keep of the folder, for every seed."""
    folder, *files = folder_and_files
    for seed in (0, 1):
        draw = {"random_state": seed, "max_images": max_images}
        images = read_input(folder, max_per_class=per_class, **draw)
        for file in files:
            data, _ = read_any(file, per_class=per_class, **draw)
            assert data.paths == images.paths, (file.suffix, seed)
            assert data.labels.tolist() == images.labels
            assert len(data.embeddings) == len(images.paths)


@pytest.mark.parametrize("per_class, max_images", [(4, None), (4, 7), (None, 6)])
def test_a_labeled_csv_is_drawn_by_its_labels_as_its_folder(
    folder_and_files, tmp_path, per_class, max_images
):
    """--per-class of a CSV with a label column draws per label (it was read whole, the
    option silently unused), the very images the class folders' draw keeps."""
    folder = folder_and_files[0]
    whole = read_input(folder)
    listing = tmp_path / "tiles.csv"
    listing.write_text(
        "path,label\n"
        + "".join(f"{p},{lab}\n" for p, lab in zip(whole.paths, whole.labels, strict=True))
    )
    for seed in (0, 1):
        draw = {"max_per_class": per_class, "random_state": seed, "max_images": max_images}
        assert read_input(listing, **draw).paths == read_input(folder, **draw).paths


def test_noise_curve_reads_a_csv_whole_unless_asked(run_cli, folder_and_files, tmp_path):
    """Its default --per-class (100) is of class folders: a CSV is drawn only when asked."""
    from skhisto.cli.commands.noise_curve import PER_CLASS, _per_class

    folder, npz, _ = folder_and_files
    assert _per_class(None, str(folder)) == PER_CLASS
    assert _per_class(None, str(npz)) is None and _per_class(3, str(npz)) == 3
    listing = tmp_path / "tiles.csv"
    listing.write_text("path,label\n")
    assert _per_class(None, str(listing)) is None and _per_class(3, str(listing)) == 3


def test_a_zarr_store_reads_only_the_drawn_rows(folder_and_files, monkeypatch):
    import zarr

    _, npz, store = folder_and_files
    whole, _ = read_any(npz)
    reads = []
    original = zarr.Array.__getitem__

    def recording(self, selection):
        reads.append(self.name)
        return original(self, selection)

    monkeypatch.setattr(zarr.Array, "__getitem__", recording)
    drawn, _ = read_any(store, per_class=3, max_images=5, random_state=0)
    assert "/embeddings" not in reads and len(drawn.embeddings) == 5
    rows = [whole.paths.index(p) for p in drawn.paths]
    assert rows == sorted(rows)
    np.testing.assert_allclose(drawn.embeddings, whole.embeddings[rows], rtol=1e-6)


@pytest.mark.parametrize(
    "command", ["embed", "noise-curve", "label-issues", "review", "audit", "active", "simclr",
                "active-simclr"],
)  # fmt: skip
def test_every_command_that_reads_images_draws_them(command):
    parser = build_parser()
    sub = next(a for a in parser._actions if hasattr(a, "choices") and a.choices).choices[command]
    options = {o for action in sub._actions for o in action.option_strings}
    assert {"--per-class", "--max-images", "--random-state"} <= options


def test_commands_with_an_embeddings_file_draw_its_rows(run_cli, embeddings_file, tmp_path):
    emb = embeddings_file()  # 90 rows, 30 per class
    result = run_cli("audit", emb, "--per-class", "10", "--max-images", "20", "--out-dir", tmp_path)
    assert result.code == 0, result.err
    assert "auditing 20 samples" in result.err
    issues = run_cli("label-issues", emb, "--per-class", "8", "--out-dir", tmp_path / "li")
    assert issues.code == 0, issues.err
    rows = read_csv(tmp_path / "li" / "label_issues.csv")
    assert pd.Series([r["label"] for r in rows]).value_counts().tolist() == [8, 8, 8]


def test_active_seeds_are_each_seeds_run_and_their_mean_and_std(run_cli, embeddings_file, tmp_path):
    emb = embeddings_file()
    result = run_cli("active", emb, *ACTIVE, "--seeds", "0", "3", "--out-dir", tmp_path / "s")
    assert result.code == 0, result.err
    assert "mean ± std over seeds 0 3" in result.out and " ± " in result.out.splitlines()[3]
    rows = read_csv(tmp_path / "s" / "active.csv")
    assert list(rows[0])[0] == "seed" and [r["seed"] for r in rows].count("3") == 2 * 3
    # each seed's rows are the run with --random-state SEED
    alone = run_cli("active", emb, *ACTIVE, "--random-state", "3", "--out-dir", tmp_path / "3")
    assert alone.code == 0, alone.err
    assert without([r for r in rows if r["seed"] == "3"], "seed") == without(
        read_csv(tmp_path / "3" / "active.csv")
    )
    # the summary is summarize_seeds of the per-seed table
    table = pd.read_csv(tmp_path / "s" / "active.csv")
    expected = summarize_seeds(
        table, by=["strategy", "round", "n_labeled"], score="balanced_accuracy"
    )
    got = pd.read_csv(tmp_path / "s" / "active_seeds.csv")
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert (tmp_path / "s" / "active.png").read_bytes()[:4] == b"\x89PNG"


def test_active_seeds_by_config_give_the_command_line_table(run_cli, embeddings_file, tmp_path):
    emb = embeddings_file()
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump({"strategy": ["random", "entropy"], "n_rounds": 2, "seeds": [0, 1]})
    )
    by_file = run_cli("active", emb, "--config", config, "--out-dir", tmp_path / "file")
    by_line = run_cli("active", emb, *ACTIVE, "--seeds", "0", "1", "--out-dir", tmp_path / "line")
    assert by_file.code == by_line.code == 0, (by_file.err, by_line.err)
    assert by_file.out == by_line.out
    file_rows = read_csv(tmp_path / "file" / "active_seeds.csv")
    assert file_rows == read_csv(tmp_path / "line" / "active_seeds.csv")
    assert without(read_csv(tmp_path / "file" / "active.csv")) == without(
        read_csv(tmp_path / "line" / "active.csv")
    )
    resolved = yaml.safe_load((tmp_path / "file" / "active.config.yaml").read_text())
    assert resolved["seeds"] == [0, 1]


@pytest.mark.parametrize(
    "command, argv, words",
    [
        ("active", ["--seeds", "1", "1"], ["--seeds", "1 repeated"]),
        ("active", ["--seeds", "0", "1", "--annotate", "{tmp}/al"], ["--seeds", "--annotate"]),
        ("active-simclr", ["{folder}", "--seeds", "0", "1", "--out", "{tmp}/e.safetensors"],
         ["--out", "--seeds"]),
    ],
)  # fmt: skip
def test_seeds_that_cannot_run_are_one_line(
    run_cli, embeddings_file, folder_and_files, tmp_path, command, argv, words
):
    names = {"tmp": tmp_path, "folder": folder_and_files[0]}
    argv = [a.format(**names) for a in argv]
    if command == "active":
        argv = [embeddings_file(), *argv]
    result = run_cli(command, *argv, "--out-dir", tmp_path / "out")
    result.assert_one_line_error(1, *words)


def test_active_simclr_seeds_and_per_class(run_cli, folder_and_files, tmp_path):
    folder = folder_and_files[0]
    result = run_cli(
        "active-simclr", folder, "--per-class", "4", "--seeds", "0", "1", "--batch-size", "3",
        "--n-rounds", "1", "--n-candidates", "4", "--probe-epochs", "1", "--epochs", "1",
        "--simclr-batch-size", "6", "--image-size", "32", "--device", "cpu",
        "--checkpoint-dir", tmp_path / "ckpt", "--out-dir", tmp_path,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert result.err.count("12 images (ImageFolder, 3 classes)") == 2  # 4 of each class
    title = result.out.splitlines()[0]
    assert title.startswith("Balanced accuracy of a linear probe on resnet18 ")
    assert "from random init, " in title and title.count("seeds 0 1") == 1  # said once
    assert "score_std" in result.out
    rows = read_csv(tmp_path / "active_simclr.csv")
    assert [(r["seed"], r["round"]) for r in rows] == [("0", "0"), ("1", "0")]
    summary = read_csv(tmp_path / "active_simclr_seeds.csv")
    assert [(s["round"], s["n_images"], s["n_seeds"]) for s in summary] == [("0", "3", "2")]
    scores = [float(r["score"]) for r in rows]
    assert float(summary[0]["score_mean"]) == pytest.approx(np.mean(scores))
    assert float(summary[0]["score_std"]) == pytest.approx(np.std(scores))
    assert {p.name for p in (tmp_path / "ckpt").iterdir()} == {"seed_0", "seed_1"}


def test_review_draws_per_class_then_max_images(tmp_path, folder_and_files):
    from pathlib import Path

    from skhisto.cli.commands.review import read_items

    folder = folder_and_files[0]
    items = read_items(Path(folder), per_class=2, max_images=5, random_state=0)
    drawn = read_input(folder, max_per_class=2, random_state=0, max_images=5)
    assert items["file"].tolist() == [os.path.abspath(p) for p in drawn.paths]
    # a CSV (a label-issues result) is drawn by its labels, the same draw
    listing = tmp_path / "issues.csv"
    whole = read_input(folder)
    listing.write_text(
        "path,label,label_quality\n"
        + "".join(f"{p},{lab},0.5\n" for p, lab in zip(whole.paths, whole.labels, strict=True))
    )
    from_csv = read_items(listing, per_class=2, max_images=5, random_state=0)
    assert from_csv["path"].tolist() == drawn.paths


@pytest.mark.parametrize("command", ["embed", "simclr"])
def test_per_class_of_an_input_without_classes_is_one_line(run_cli, tmp_path, command):
    """A flat folder or a CSV without labels has no classes to draw from: --per-class is
    refused before any work, pointing to --max-images (it was silently unused)."""
    from PIL import Image

    (tmp_path / "flat").mkdir()
    for i in range(3):
        Image.new("RGB", (16, 16), (i, 0, 0)).save(tmp_path / "flat" / f"{i}.png")
    (tmp_path / "tiles.csv").write_text("path\n" + "".join(f"flat/{i}.png\n" for i in range(3)))
    out = tmp_path / ("e.npz" if command == "embed" else "e.safetensors")
    extra = ["--backbone", "resnet18"] if command == "embed" else ["--out-dir", tmp_path / "o"]
    for source, what in ((tmp_path / "flat", "a flat folder"), (tmp_path / "tiles.csv", "CSV")):
        result = run_cli(command, source, "--per-class", "2", "--out", out, *extra)
        result.assert_one_line_error(1, "--per-class 2", what, "--max-images 2")
        assert not out.exists()
