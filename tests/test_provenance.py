"""Embeddings files carry their provenance: written by `skhisto embed` and embed_dataset, read
back by `skhisto info` and every command that reads embeddings, and mixtures refused."""

import csv
import importlib.util
import json

import numpy as np
import pytest

import skhisto
from skhisto import FoundationEmbedder
from skhisto.embedding import embed_dataset, embedding_provenance, read_provenance
from skhisto.exceptions import CheckpointMismatchError

SMALL = ["--per-class", "4", "--backbone", "resnet18", "--no-pretrained", "--image-size", "32"]


@pytest.fixture
def embed(run_cli, lc25000_dir, tmp_path):
    """``embed(name, *options)``: `skhisto embed` 12 LC25000 tiles into tmp_path / name."""

    def run(name, *options):
        out = tmp_path / name
        result = run_cli("embed", lc25000_dir, *SMALL, *options, "--out", out)
        assert result.code == 0, result.err
        return out

    return run


def test_embed_writes_provenance_that_info_shows(embed, run_cli):
    out = embed("emb.npz")
    with np.load(out, allow_pickle=False) as data:  # JSON text in a 0-d str array, no pickle
        assert data["provenance"].shape == () and data["provenance"].dtype.kind == "U"
        stored = json.loads(str(data["provenance"]))
    record = read_provenance(out)
    assert record == stored
    assert record["backbone"] == "resnet18" and record["pretrained"] is False
    assert record["weights"].startswith("random:") and record["random_state"] == 0
    assert record["image_size"] == 32 and record["dim"] == 512
    assert record["preprocessing"]["mean"] == [0.485, 0.456, 0.406]
    assert record["skhisto_version"] == skhisto.__version__ and record["created"][:2] == "20"

    result = run_cli("info", out)
    assert result.code == 0, result.err
    assert "12 x 512" in result.out and "3 classes" in result.out
    assert "resnet18 (architecture resnet18" in result.out
    assert "no: random init (seed 0)" in result.out and "32 px" in result.out
    assert skhisto.__version__ in result.out
    as_json = json.loads(run_cli("info", out, "--json").out)
    assert as_json[0]["provenance"] == record and as_json[0]["rows"] == 12


def test_noise_curve_prints_the_file_provenance(embed, run_cli, tmp_path):
    out = embed("emb.npz")
    argv = ["--rates", "0", "0.3", "--heads", "linear", "--cv", "2", "--max-epochs", "2"]
    result = run_cli("noise-curve", out, *argv, "--out-dir", tmp_path / "nc")
    assert result.code == 0, result.err
    line = f"skhisto noise-curve: {out}: embedded by resnet18, random init (seed 0), 32 px"
    assert result.err.count(line) == 1, result.err
    assert "embeddings read from" in result.out and "(resnet18, random init (seed 0))" in result.out
    with open(tmp_path / "nc" / "noise_curve.csv") as f:
        rows = list(csv.DictReader(f))
    assert {(r["backbone"], r["family"], r["weights"]) for r in rows} == {
        ("resnet18", "supervised", "random init (seed 0)")
    }


def test_backbone_options_unlike_the_file_are_said_unused(embed, run_cli, tmp_path):
    out = embed("emb.npz")
    argv = ["--rates", "0", "--heads", "linear", "--cv", "2", "--max-epochs", "1"]
    result = run_cli(
        "noise-curve", out, "--backbone", "resnet50", *argv, "--out-dir", tmp_path / "nc"
    )
    assert result.code == 0, result.err
    assert "warning: --backbone resnet50 is not used" in result.err
    assert "made with --backbone resnet18" in result.err
    same = run_cli("noise-curve", out, "--image-size", "32", *argv, "--out-dir", tmp_path / "nc")
    assert same.code == 0 and "warning" not in same.err, same.err
    # active too: the warning, and the file's backbone and weights in its title
    argv = ["--strategy", "random", "--n-initial", "3", "--batch-size", "3", "--n-rounds", "1"]
    result = run_cli("active", out, "--backbone", "resnet50", *argv, "--out-dir", tmp_path / "a")
    assert result.code == 0, result.err
    assert "warning: --backbone resnet50 is not used" in result.err
    title = result.out.splitlines()[0]
    assert f"embeddings read from {out} (resnet18, random init (seed 0))" in title, title


def test_files_written_before_provenance_are_read_and_said_unknown(embeddings_file, run_cli):
    old = embeddings_file()
    assert read_provenance(old) is None
    result = run_cli("info", old)
    assert result.code == 0 and "provenance unknown (written before skhisto 0.1.0)" in result.out
    result = run_cli(
        "active", old, "--strategy", "random", "--n-initial", "6", "--n-rounds", "1",
        "--batch-size", "3", "--out-dir", old.parent / "act",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert f"{old}: provenance unknown (written before skhisto 0.1.0)" in result.err


def test_an_annotate_folder_refuses_embeddings_of_another_backbone(embed, run_cli, tmp_path):
    first, other = embed("a.npz"), embed("b.npz", "--random-state", "1")
    loop = ["--n-initial", "3", "--n-rounds", "1", "--batch-size", "3"]
    folder, results = tmp_path / "loop", tmp_path / "results"
    result = run_cli("active", first, "--annotate", folder, *loop, "--out-dir", results)
    assert result.code == 0, result.err
    assert (folder / "queries.csv").exists()
    refused = run_cli("active", other, "--annotate", folder, *loop, "--out-dir", results)
    refused.assert_one_line_error(1, "b.npz", "random init (seed 1)", "random init (seed 0)")
    assert "a.npz" in refused.err
    again = run_cli("active", first, "--annotate", folder, *loop, "--out-dir", results)
    assert again.code == 0, again.err


def test_two_files_of_different_backbones_in_one_run_are_refused(embed):
    from skhisto.cli._errors import CommandError
    from skhisto.cli._provenance import note_embeddings, start_run

    first, same, other = embed("a.npz"), embed("a2.npz"), embed("b.npz", "--image-size", "48")
    start_run("test")
    assert note_embeddings(first)["image_size"] == 32
    note_embeddings(same)  # same backbone, weights and size: fine
    with pytest.raises(CommandError, match=r"\(resnet18, random init \(seed 0\), 48 px\) and"):
        note_embeddings(other)


def test_embed_dataset_stores_provenance_and_refuses_another_backbone(lc25000_small, tmp_path):
    paths = lc25000_small.paths[:6]
    embedder = FoundationEmbedder(pretrained=False, image_size=32, random_state=0)
    store = embed_dataset(paths, embedder, tmp_path / "emb.zarr", verbose=False)
    record = read_provenance(tmp_path / "emb.zarr")
    assert record == dict(store.attrs["provenance"])
    assert record["backbone"] == "resnet18" and record["pretrained"] is False
    other = FoundationEmbedder("resnet50", pretrained=False, image_size=32, random_state=0)
    with pytest.raises(CheckpointMismatchError, match="backbone='resnet18' there, 'resnet50' now"):
        embed_dataset(paths, other, tmp_path / "emb.zarr", verbose=False)
    bigger = FoundationEmbedder(pretrained=False, image_size=48, random_state=0)
    with pytest.raises(CheckpointMismatchError, match="image_size=32 there, 48 now"):
        embed_dataset(paths, bigger, tmp_path / "emb.zarr", verbose=False)


def test_the_cache_records_provenance_and_cache_info_shows_the_weights(
    lc25000_small, tmp_path, run_cli
):
    embedder = FoundationEmbedder(
        pretrained=False, image_size=32, random_state=3, cache=tmp_path / "cache"
    )
    embedder.fit_transform(lc25000_small.paths[:3])
    folder = tmp_path / "cache" / embedding_provenance(embedder)["fingerprint"]
    assert (folder / "provenance.json").is_file()
    record = read_provenance(folder)
    assert record["pretrained"] is False and record["random_state"] == 3
    result = run_cli("cache", "info", "--cache", tmp_path / "cache")
    assert result.code == 0 and "random init (seed 3)" in result.out
    assert "no: random init (seed 3)" in run_cli("info", folder).out
    # the cache itself is not one backbone's folder: the error names one and `cache info`
    result = run_cli("info", tmp_path / "cache")
    result.assert_one_line_error(1, "is the embedding cache", f"skhisto info {folder}")
    assert "skhisto cache info --cache" in result.err


def test_a_random_init_is_told_from_pretrained_weights(tmp_path):
    import torch

    from skhisto.backbones import create_backbone

    model, _ = create_backbone("resnet18", pretrained=False, random_state=0)
    weights = tmp_path / "resnet18.pth"
    torch.save(model.state_dict(), weights)
    images = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    record = embedding_provenance(FoundationEmbedder(weights=weights, image_size=32).fit(images))
    assert record["pretrained"] is True and record["weights"].startswith("sha256:")
    assert record["weights_source"] == str(weights) and record["random_state"] is None


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None, reason="needs pyarrow")
def test_parquet_keeps_provenance_in_its_schema_metadata(embed, run_cli):
    out = embed("emb.parquet")
    assert read_provenance(out)["backbone"] == "resnet18"
    assert "no: random init (seed 0)" in run_cli("info", out).out
