"""`skhisto simclr` and `active-simclr`: real tiny runs, resume after a kill, one-line errors."""

import csv
import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from skhisto import FoundationEmbedder
from skhisto.contrastive import _active_simclr, _simclr
from skhisto.utils import CHECKPOINT_FILE

# Tiny and fast: the runs are checked for what they write and resume, not for their quality.
TINY = ["--image-size", "32", "--lr", "1e-3", "--device", "cpu"]


@pytest.fixture
def images_csv(tmp_path, lc25000_small):
    """A CSV of 8 LC25000 images per class (24), with labels."""
    path = tmp_path / "images.csv"
    rows = [
        (p, lc25000_small.target_names[t])
        for p, t in zip(lc25000_small.paths, lc25000_small.target, strict=True)
    ]
    rows = [r for i, r in enumerate(rows) if sum(x[1] == r[1] for x in rows[:i]) < 8]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([("path", "label"), *rows])
    return path


def simclr(run_cli, images, tmp_path, name, *extra):
    """`skhisto simclr` on ``images``, writing under ``tmp_path/name``."""
    out = tmp_path / name
    argv = ["simclr", images, "--out", out / "enc.safetensors", "--out-dir", out]
    return run_cli(*argv, "--epochs", "2", "--batch-size", "4", "--max-images", "8", *TINY, *extra)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def without_times(rows):
    return [{k: v for k, v in row.items() if not k.endswith("time")} for row in rows]


def errors(result):
    """``result`` with only its last stderr line: progress lines may come before an error."""
    result.err = result.err.strip().splitlines()[-1]
    return result


@pytest.mark.slow
def test_simclr_writes_encoder_table_and_plot_that_embed_loads(run_cli, images_csv, tmp_path):
    r = simclr(run_cli, images_csv, tmp_path, "run")
    assert r.code == 0, r.err
    encoder = tmp_path / "run" / "enc.safetensors"
    rows = read_csv(tmp_path / "run" / "simclr.csv")
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert all(np.isfinite(float(row["loss"])) and row["n_images"] == "8" for row in rows)
    # the same layout as noise-curve and active: title, table on stdout, files named on stderr
    title, blank, header = r.out.splitlines()[:3]
    assert title == "SimCLR loss of resnet18 trained from random init (seed 0)" and blank == ""
    assert header.split() == ["epoch", "loss", "time", "n_images"]
    assert "wrote" not in r.out and "simclr.csv" in r.err and "enc.safetensors" in r.err
    assert (tmp_path / "run" / "simclr.png").read_bytes()[:4] == b"\x89PNG"

    emb = tmp_path / "emb.npz"
    argv = ["embed", images_csv, "--backbone", "resnet18", "--weights", encoder, "--out", emb]
    assert run_cli(*argv, "--image-size", "32").code == 0
    with np.load(emb) as data:
        paths, X = data["paths"].tolist(), data["embeddings"]
    expected = FoundationEmbedder("resnet18", weights=encoder, image_size=32).fit_transform(paths)
    np.testing.assert_array_equal(X, expected)
    random_init = FoundationEmbedder("resnet18", pretrained=False, image_size=32, random_state=0)
    assert not np.allclose(X, random_init.fit_transform(paths))  # the trained weights were used


def interrupt_after(monkeypatch, module, key, value):
    """Make ``module.save_checkpoint`` raise KeyboardInterrupt once it saved ``key == value``."""
    real = module.save_checkpoint

    def save_then_stop(path, payload):
        real(path, payload)
        state = payload.get("state", payload)
        if state[key] == value:
            raise KeyboardInterrupt

    monkeypatch.setattr(module, "save_checkpoint", save_then_stop)


@pytest.mark.slow
def test_killed_simclr_resumes_to_the_uninterrupted_result(
    run_cli, images_csv, tmp_path, monkeypatch
):
    whole = simclr(run_cli, images_csv, tmp_path, "whole")
    assert whole.code == 0, whole.err
    checkpoints = ["--checkpoint-dir", tmp_path / "ckpt"]
    with monkeypatch.context() as m:
        interrupt_after(m, _simclr, "epoch", 1)
        killed = simclr(run_cli, images_csv, tmp_path, "resumed", *checkpoints)
    assert killed.code == 130 and "interrupted" in killed.err
    assert not (tmp_path / "resumed" / "enc.safetensors").exists()

    resumed = simclr(run_cli, images_csv, tmp_path, "resumed", *checkpoints, "--json")
    assert resumed.code == 0 and "checkpoint.npz after epoch 1 " in resumed.err
    assert "SimCLR epoch 1/2" not in resumed.err  # epoch 1 was not trained again
    got = load_file(tmp_path / "resumed" / "enc.safetensors")
    want = load_file(tmp_path / "whole" / "enc.safetensors")
    assert got.keys() == want.keys()
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])
    rows = [read_csv(tmp_path / name / "simclr.csv") for name in ("resumed", "whole")]
    assert without_times(rows[0]) == without_times(rows[1])
    payload = json.loads(resumed.out)  # --json: the CSV's rows, keys in its column order
    assert payload["title"].startswith("SimCLR loss of resnet18")
    assert [list(row) for row in payload["rows"]] == [list(row) for row in rows[0]]
    assert [row["epoch"] for row in payload["rows"]] == [1, 2]


@pytest.mark.slow
def test_another_command_line_against_a_checkpoint_is_refused(run_cli, images_csv, tmp_path):
    checkpoints = ["--checkpoint-dir", tmp_path / "ckpt", "--epochs", "1", "--max-images", "4"]
    assert simclr(run_cli, images_csv, tmp_path, "first", *checkpoints).code == 0
    saved = (tmp_path / "ckpt" / CHECKPOINT_FILE).read_bytes()
    r = simclr(run_cli, images_csv, tmp_path, "second", *checkpoints, "--temperature", "0.5")
    words = ("belongs to another run", "temperature=0.1 there, 0.5 now", "--checkpoint-dir")
    errors(r).assert_one_line_error(1, *words)
    assert (tmp_path / "ckpt" / CHECKPOINT_FILE).read_bytes() == saved
    assert not (tmp_path / "second" / "enc.safetensors").exists()


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["{tmp}/nowhere"], 1, ["INPUT", "nowhere", "does not exist"]),
        (["{csv}", "--out", "enc.pt"], 2, ["--out", "must end in .safetensors"]),
        (["{csv}", "--out-dir", "{tmp}/file"], 1, ["--out-dir", "file"]),
        (["{csv}", "--out", "{tmp}/file/enc.safetensors"], 1, ["--out", "file"]),
        (["{csv}", "--out", "{tmp}/dir.safetensors"], 1, ["--out", "is a directory"]),
        (["{csv}", "--backbone", "nosuchnet"], 1, ["Unknown backbone 'nosuchnet'"]),
        (["{csv}", "--weights", "{tmp}/none.safetensors"], 1, ["--weights", "none.safetensors"]),
        (["{csv}", "--epochs", "0"], 2, ["--epochs", "positive integer"]),
        (["{csv}", "--lr", "-1"], 2, ["--lr", "positive number"]),
    ],
)
def test_bad_simclr_command_lines_are_one_line(
    run_cli, images_csv, tmp_path, monkeypatch, argv, code, words
):
    monkeypatch.setattr(_simclr.SimCLREmbedder, "fit", lambda *a: pytest.fail("training started"))
    monkeypatch.chdir(tmp_path)  # the default --out-dir is relative
    (tmp_path / "file").write_text("in the way")
    (tmp_path / "dir.safetensors").mkdir()
    argv = [arg.format(tmp=tmp_path, csv=images_csv) for arg in argv]
    if "--out" not in argv:
        argv += ["--out", "enc.safetensors"]
    run_cli("simclr", *argv, *TINY).assert_one_line_error(code, *words)


def active(run_cli, images, tmp_path, name, *extra):
    """`skhisto active-simclr` on ``images``: 3 rounds of 4 images, 2 SimCLR epochs each."""
    out = tmp_path / name
    argv = ["active-simclr", images, "--out-dir", out, "--out", out / "enc.safetensors"]
    sizes = ["--batch-size", "4", "--n-rounds", "3", "--n-candidates", "8", "--probe-epochs", "5"]
    return run_cli(*argv, *sizes, "--epochs", "2", "--simclr-batch-size", "4", *TINY, *extra)


@pytest.mark.slow
def test_active_simclr_runs_and_resumes_after_a_kill(run_cli, images_csv, tmp_path, monkeypatch):
    whole = active(run_cli, images_csv, tmp_path, "whole", "--strategy", "coreset")
    assert whole.code == 0, whole.err
    rows = read_csv(tmp_path / "whole" / "active_simclr.csv")
    assert [(r["round"], r["n_images"]) for r in rows] == [("0", "4"), ("1", "8"), ("2", "12")]
    assert all(0 <= float(r["score"]) <= 1 for r in rows)
    assert (tmp_path / "whole" / "active_simclr.png").read_bytes()[:4] == b"\x89PNG"
    title = "Balanced accuracy of a linear probe on resnet18 trained by SimCLR from random init"
    assert whole.out.startswith(title) and "wrote" not in whole.out

    checkpoints = ["--strategy", "coreset", "--checkpoint-dir", tmp_path / "ckpt"]
    with monkeypatch.context() as m:
        interrupt_after(m, _active_simclr, "round", 1)
        killed = active(run_cli, images_csv, tmp_path, "resumed", *checkpoints)
    assert killed.code == 130
    resumed = active(run_cli, images_csv, tmp_path, "resumed", *checkpoints)
    assert resumed.code == 0 and "checkpoint.npz after round 1 " in resumed.err
    got = read_csv(tmp_path / "resumed" / "active_simclr.csv")
    assert without_times(got) == without_times(rows)
    encoders = [load_file(tmp_path / name / "enc.safetensors") for name in ("resumed", "whole")]
    for key in encoders[1]:
        np.testing.assert_array_equal(encoders[0][key], encoders[1][key])


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["{flat}"], ["has no labels", "class folders"]),
        (["{csv}", "--batch-size", "10", "--n-rounds", "3"], ["exceed the pool of 18 images"]),
        (["{csv}", "--max-images", "4"], ["cannot split the 4 images"]),
        (["{csv}", "--scoring", "f1", "--batch-size", "4"], ["cannot score these labels"]),
        (["{csv}", "--weights", "{tmp}/none.safetensors"], ["--weights", "none.safetensors"]),
    ],
)
def test_bad_active_simclr_runs_fail_before_training(
    run_cli, images_csv, tmp_path, monkeypatch, argv, words
):
    monkeypatch.setattr(_simclr.SimCLREmbedder, "fit", lambda *a: pytest.fail("training started"))
    flat = tmp_path / "flat"
    flat.mkdir()
    for row in read_csv(images_csv)[:4]:
        (flat / row["path"].rsplit("/", 1)[-1]).symlink_to(row["path"])
    argv = [arg.format(tmp=tmp_path, csv=images_csv, flat=flat) for arg in argv]
    r = run_cli("active-simclr", *argv, "--out-dir", tmp_path / "res", *TINY)
    errors(r).assert_one_line_error(1, *words)


def test_a_failed_run_leaves_no_empty_output_folder(run_cli, tmp_path, monkeypatch):
    from PIL import Image

    (tmp_path / "data" / "a").mkdir(parents=True)
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "data" / "a" / "0.png")
    monkeypatch.chdir(tmp_path)
    kept = tmp_path / "kept"
    kept.mkdir()  # the user's own folder stays, empty or not
    for out_dir in ("results", "deep/er/results", "kept"):
        r = run_cli("simclr", "data", "--out", "enc.safetensors", "--out-dir", out_dir, *TINY)
        assert r.code == 1 and "error: SimCLR needs at least 2 images" in r.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "kept"]
