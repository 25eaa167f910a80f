"""`skhisto embed --per-class N`: a seeded draw of N images per class folder, as noise-curve's."""

import numpy as np

from skhisto.datasets import load_image_folder

TINY = ("--backbone", "resnet18", "--no-pretrained", "--image-size", "16", "--no-cache")


def test_embed_per_class_draws_as_load_image_folder(run_cli, tiny_folder, tmp_path):
    out = tmp_path / "emb.npz"
    result = run_cli("embed", tiny_folder, *TINY, "--per-class", "2", "--out", out)
    assert result.code == 0, result.err
    stored = np.load(out)
    expected = load_image_folder(tiny_folder, max_per_class=2, random_state=0)
    assert stored["paths"].tolist() == expected.paths.tolist()
    assert sorted(stored["labels"].tolist()) == ["benign"] * 2 + ["tumour"] * 2


def test_embed_per_class_is_refused_for_slides(run_cli, tiny_folder, tmp_path):
    out = tmp_path / "emb.npz"
    result = run_cli("embed", tiny_folder, "--slides", *TINY, "--per-class", "2", "--out", out)
    result.assert_one_line_error(1, "--per-class")
    assert not out.exists()
