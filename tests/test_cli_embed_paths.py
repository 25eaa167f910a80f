"""The image paths an embeddings file stores resolve from any folder, old files' included."""

import os

import numpy as np
import pytest

from skhisto.cli._embeddings import read_embeddings, read_embeddings_with_columns
from skhisto.cli.commands import embed as embed_command

TINY = ("--backbone", "resnet18", "--no-pretrained", "--image-size", "16", "--no-cache")


def _stored_paths(source):
    return read_embeddings_with_columns(source, provenance=False)[2]


@pytest.mark.parametrize("name", ["emb.npz", "emb.zarr"])
def test_a_file_embedded_from_relative_paths_is_read_from_another_folder(
    run_cli, tiny_folder, tmp_path, monkeypatch, name
):
    if name.endswith(".zarr"):
        pytest.importorskip("zarr")
        pytest.importorskip("distributed")
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)
    result = run_cli("embed", "images", *TINY, "--out", os.path.join("out", name))
    assert result.code == 0, result.err
    monkeypatch.chdir(tmp_path / "elsewhere")
    paths = read_embeddings(os.path.join("..", "out", name))[2]
    assert all(os.path.isabs(p) and os.path.isfile(p) for p in paths)
    assert sorted(paths) == sorted(str(p) for p in tiny_folder.rglob("*.png"))
    argv = ["label-issues", os.path.join("..", "out", name), "--gallery", "4"]
    result = run_cli(*argv, "--out-dir", "issues", "--n-neighbors", "2")
    assert result.code == 0, result.err


def test_an_older_file_of_relative_paths_is_read_from_its_folder_and_elsewhere(
    tiny_folder, tmp_path, monkeypatch
):
    # as an older `skhisto embed` run in tmp_path wrote it: paths relative to tmp_path
    stored = ["images/benign/0.png", "images/tumour/1.png"]
    X = np.zeros((2, 4), dtype=np.float32)
    np.savez(tmp_path / "old.npz", embeddings=X, labels=np.array(["b", "t"]), paths=stored)
    monkeypatch.chdir(tmp_path)
    assert _stored_paths("old.npz").tolist() == stored  # as before, from its folder
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    paths = _stored_paths(os.path.join("..", "old.npz"))
    assert paths.tolist() == [os.path.join("..", p) for p in stored]
    assert all(os.path.isfile(p) for p in paths)


def test_a_store_an_older_version_began_is_resumed_with_its_paths(
    run_cli, tiny_folder, tmp_path, monkeypatch
):
    pytest.importorskip("zarr")
    pytest.importorskip("distributed")
    monkeypatch.chdir(tmp_path)
    with monkeypatch.context() as older:  # an older version stored the paths as given
        older.setattr(embed_command, "paths_to_store", lambda paths: [str(p) for p in paths])
        assert run_cli("embed", "images", *TINY, "--out", "emb.zarr").code == 0
    result = run_cli("embed", "images", *TINY, "--out", "emb.zarr")
    assert result.code == 0, result.err
    assert not any(os.path.isabs(p) for p in read_embeddings("emb.zarr")[2])
