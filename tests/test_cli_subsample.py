"""--per-class and --max-images: one seeded draw for every command that reads images, and
`skhisto active`'s defaults on a small set (issue 24)."""

import csv

import numpy as np
import pytest

from skhisto.cli._inputs import read_input

TINY = ["--no-pretrained", "--image-size", "32"]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_the_draw_is_seeded_and_keeps_the_input_order(lc25000_dir):
    drawn = read_input(lc25000_dir, max_per_class=10, random_state=0, max_images=7)
    again = read_input(lc25000_dir, max_per_class=10, random_state=0, max_images=7)
    other = read_input(lc25000_dir, max_per_class=10, random_state=1, max_images=7)
    whole = read_input(lc25000_dir, max_per_class=10, random_state=0)
    assert len(drawn.paths) == 7 and drawn.paths == again.paths != other.paths
    assert set(drawn.paths) <= set(whole.paths)
    index = [whole.paths.index(p) for p in drawn.paths]
    assert index == sorted(index)  # in the input's order
    assert drawn.labels == [whole.labels[i] for i in index]
    assert (
        read_input(lc25000_dir, max_per_class=10, random_state=0, max_images=100).paths
        == whole.paths
    )


@pytest.mark.parametrize(
    "command, extra",
    [
        ("embed", ["--backbone", "resnet18", "--out", "{out}/e.npz"]),
        ("label-issues", ["--out-dir", "{out}"]),
        ("audit", ["--out-dir", "{out}"]),
    ],
)
def test_every_image_command_takes_max_images(run_cli, lc25000_dir, tmp_path, command, extra):
    argv = [a.replace("{out}", str(tmp_path)) for a in extra]
    result = run_cli(command, lc25000_dir, "--per-class", "10", "--max-images", "9", *TINY, *argv)
    assert result.code == 0, result.err
    assert " 9 images" in result.err or "9 images" in result.out, result.err


def test_noise_curve_takes_max_images(run_cli, lc25000_dir, tmp_path):
    result = run_cli(
        "noise-curve", lc25000_dir, *TINY, "--per-class", "8", "--max-images", "18", "--cv", "2",
        "--rates", "0", "--max-epochs", "2", "--heads", "linear", "--out-dir", tmp_path,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert {r["n_images"] for r in read_csv(tmp_path / "noise_curve.csv")} == {"18"}


def test_active_defaults_fit_a_120_image_set(run_cli, lc25000_dir, tmp_path):
    emb = tmp_path / "e120.npz"
    made = run_cli("embed", lc25000_dir, "--per-class", "40", "--backbone", "resnet18", *TINY,
                   "--out", emb)  # fmt: skip
    assert made.code == 0, made.err
    result = run_cli("active", emb, "--strategy", "random", "--out-dir", tmp_path / "al")
    assert result.code == 0, result.err
    # 120 images: a pool of 90 holds 10 initial + 8 rounds of 10, said on stderr
    assert "--n-rounds 8: a pool of 90 samples" in result.err
    rows = read_csv(tmp_path / "al" / "active.csv")
    assert [int(r["n_labeled"]) for r in rows] == list(range(10, 100, 10))
    # an explicit --n-rounds the pool cannot hold is still refused
    refused = run_cli("active", emb, "--n-rounds", "10", "--out-dir", tmp_path / "no")
    refused.assert_one_line_error(1, "= 110 labels", "pool has 90")
    assert np.load(emb)["embeddings"].shape[0] == 120


def test_active_takes_images_embedded_once(run_cli, lc25000_dir, tmp_path):
    """`active DIR` embeds the images once through the cache, as `embed` then `active`."""
    from skhisto.embedding import forward_count

    emb = tmp_path / "e.npz"
    argv = ["--per-class", "20", *TINY]
    made = run_cli("embed", lc25000_dir, *argv, "--backbone", "resnet18", "--out", emb)
    assert made.code == 0, made.err
    by_file = run_cli("active", emb, "--strategy", "random", "--out-dir", tmp_path / "f")
    assert by_file.code == 0, by_file.err
    start = forward_count()
    by_images = run_cli(
        "active", lc25000_dir, *argv, "--strategy", "random", "--out-dir", tmp_path / "i"
    )
    assert by_images.code == 0, by_images.err
    assert forward_count() == start, "read from the cache the embed run filled"
    assert "embedding 60 images with resnet18" in by_images.err
    f, i = read_csv(tmp_path / "f" / "active.csv"), read_csv(tmp_path / "i" / "active.csv")
    assert [r["balanced_accuracy"] for r in f] == [r["balanced_accuracy"] for r in i]
