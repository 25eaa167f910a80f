"""The `skhisto` command: backbones and embed, their help, output files and one-line errors."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CliResult
from PIL import Image

from skhisto import FoundationEmbedder
from skhisto.cli import main
from skhisto.datasets import load_image_folder

ROOT = Path(__file__).resolve().parents[1]
# Small and random: the CLI's rows are compared with the Python API's, not judged.
BACKBONE = ["--backbone", "resnet18", "--no-pretrained", "--image-size", "32"]


def api(paths, **params):
    """The Python API's embeddings of ``paths`` for the options in BACKBONE."""
    embedder = FoundationEmbedder("resnet18", pretrained=False, image_size=32, random_state=0)
    return embedder.set_params(**params).fit_transform(list(paths))


@pytest.fixture
def image_folder(tmp_path):
    """6 tiny PNGs in two class folders."""
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    for name in ("normal", "tumour"):
        (root / name).mkdir(parents=True)
        for i in range(3):
            pixels = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def embed(capsys, *argv):
    """Run `skhisto embed`; its exit code and stderr."""
    code = main(["embed", *map(str, argv)])
    return code, capsys.readouterr().err


def assert_one_line_error(code, err, expected_code, *words):
    CliResult("embed", code, "", err).assert_one_line_error(expected_code, *words)


def test_version(capsys):
    import skhisto

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"skhisto {skhisto.__version__}"


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["--colour"]])
def test_missing_or_unknown_command_is_one_usage_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("skhisto: error: ")
    assert "see 'skhisto --help'" in err


def test_python_m_skhisto_help():
    result = subprocess.run(
        [sys.executable, "-m", "skhisto", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0 and "skhisto embed" in result.stdout


def test_importing_the_cli_does_not_import_torch():
    code = "import sys, skhisto.cli; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_backbones_lists_the_registry(fmt, capsys):
    assert main(["backbones", "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        rows = {row["name"]: row for row in json.loads(out)}
        assert rows["uni"]["gated"] is True and rows["uni"]["hub_id"] == "MahmoodLab/UNI"
        columns = ["name", "family", "embed_dim", "input_size", "mpp", "gated", "hub_id"]
        assert list(rows["ctranspath"]) == columns
        assert rows["uni"]["mpp"] == [0.5, 0.5] and rows["pathoduet"]["mpp"] is None
    elif fmt == "csv":
        rows = {row["name"]: row for row in csv.DictReader(out.splitlines())}
        assert rows["ctranspath"]["embed_dim"] == "768"
    else:
        assert out.splitlines()[0].split()[:3] == ["name", "family", "embed"]
        names = [line.split()[0] for line in out.splitlines()[1:]]
        assert "ctranspath" in names and "uni" in names


def test_embed_image_folder_equals_the_python_api(image_folder, tmp_path, capsys):
    out = tmp_path / "emb.npz"
    code, err = embed(capsys, image_folder, *BACKBONE, "--out", out)
    assert code == 0, err
    data = np.load(out)
    assert sorted(data.files) == ["embeddings", "labels", "paths", "provenance"]
    expected = load_image_folder(image_folder)
    assert data["paths"].tolist() == expected.paths.tolist()
    assert data["labels"].tolist() == ["normal"] * 3 + ["tumour"] * 3
    assert data["embeddings"].dtype == np.float32
    assert np.array_equal(data["embeddings"], api(expected.paths))
    assert "6 images" in err and "random init" in err


def test_embed_csv_with_relative_paths_and_labels(image_folder, tmp_path, capsys):
    listing = image_folder / "tiles.csv"  # paths relative to the CSV's folder, not the cwd
    rows = [("tumour/1.png", "T"), ("normal/0.png", "N"), (str(image_folder / "normal/2.png"), "")]
    with open(listing, "w", newline="") as f:
        csv.writer(f).writerows([("label", "path", "slide"), *((y, p, "s1") for p, y in rows)])
    out = tmp_path / "emb.npz"
    # No cache: a cached row from a batch of 64 may differ from a batch of 2 in the last bit.
    argv = [listing, *BACKBONE, "--out", out, "--batch-size", "2", "--no-cache"]
    code, err = embed(capsys, *argv)
    assert code == 0, err
    data = np.load(out)
    paths = [str(image_folder / p) for p, _ in rows]
    assert data["paths"].tolist() == paths
    assert data["labels"].tolist() == ["T", "N", ""]
    assert np.array_equal(data["embeddings"], api(paths, batch_size=2))


def test_embed_flat_folder_has_empty_labels(image_folder, tmp_path, capsys):
    out = tmp_path / "emb.npz"
    code, err = embed(capsys, image_folder / "tumour", *BACKBONE, "--out", out)
    assert code == 0, err
    data = np.load(out)
    paths = [str(image_folder / "tumour" / f"{i}.png") for i in range(3)]
    assert data["paths"].tolist() == paths and data["labels"].tolist() == [""] * 3
    assert np.array_equal(data["embeddings"], api(paths))


def test_embed_parquet(image_folder, tmp_path, capsys, monkeypatch):
    import importlib.util

    pd = pytest.importorskip("pandas")
    read = pd.read_parquet
    if importlib.util.find_spec("pyarrow") is None:  # the same table, through a stand-in writer
        find_spec = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec", lambda name: find_spec("pandas"))
        monkeypatch.setattr(pd.DataFrame, "to_parquet", lambda self, f, index: self.to_pickle(f))
        read = pd.read_pickle
    out = tmp_path / "emb.parquet"
    code, err = embed(capsys, image_folder, *BACKBONE, "--out", out)
    assert code == 0, err
    table = read(out)
    assert list(table.columns[:3]) == ["path", "label", "resnet18_0"] and table.shape == (6, 514)
    assert table["label"].tolist() == ["normal"] * 3 + ["tumour"] * 3
    embeddings = table.drop(columns=["path", "label"]).to_numpy()
    assert embeddings.dtype == np.float32
    assert np.array_equal(embeddings, api(table["path"]))


def test_embed_parquet_without_pyarrow_says_what_to_install(
    image_folder, tmp_path, capsys, monkeypatch
):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "pyarrow" else find_spec(name)
    )
    code, err = embed(capsys, image_folder, *BACKBONE, "--out", tmp_path / "emb.parquet")
    assert_one_line_error(code, err, 1, ".parquet", "pip install pyarrow")
    assert not (tmp_path / "emb.parquet").exists()


def test_embed_missing_input(tmp_path, capsys):
    code, err = embed(capsys, tmp_path / "nowhere", *BACKBONE, "--out", tmp_path / "e.npz")
    assert_one_line_error(code, err, 1, "does not exist", "nowhere")


def test_embed_unknown_backbone(image_folder, tmp_path, capsys):
    argv = [
        image_folder,
        "--backbone",
        "resnet1800",
        "--no-pretrained",
        "--out",
        tmp_path / "e.npz",
    ]
    code, err = embed(capsys, *argv)
    assert_one_line_error(code, err, 1, "resnet1800")


def test_embed_csv_without_path_column(tmp_path, capsys):
    listing = tmp_path / "tiles.csv"
    listing.write_text("file,label\na.png,T\n")
    code, err = embed(capsys, listing, *BACKBONE, "--out", tmp_path / "e.npz")
    assert_one_line_error(code, err, 1, "no 'path' column", "['file', 'label']")


def test_embed_csv_listing_missing_files(image_folder, capsys, tmp_path):
    listing = image_folder / "tiles.csv"
    listing.write_text("path\nnormal/0.png\nnormal/gone.png\n")
    code, err = embed(capsys, listing, *BACKBONE, "--out", tmp_path / "e.npz")
    assert_one_line_error(code, err, 1, "1 of the 2 images", "gone.png", "line 3")


@pytest.mark.parametrize(
    "listing_text",
    [
        "path,label\nnormal/0.png,N\ntumour/0.png,T\nnormal/0.png,T\n",  # two labels
        "path,label\nnormal/0.png,N\n./normal/../normal/0.png,N\n",  # one image, two spellings
    ],
)
def test_embed_csv_listing_an_image_twice(image_folder, capsys, tmp_path, listing_text):
    # Listed twice, an image would sit in training and test folds (or carry two labels).
    listing = image_folder / "tiles.csv"
    listing.write_text(listing_text)
    code, err = embed(capsys, listing, *BACKBONE, "--out", tmp_path / "e.npz")
    assert_one_line_error(code, err, 1, "lists image", "twice (lines 2 and", "list it once")
    assert not (tmp_path / "e.npz").exists()


def test_embed_folder_without_images(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("no images")
    code, err = embed(capsys, tmp_path, *BACKBONE, "--out", tmp_path / "e.npz")
    assert_one_line_error(code, err, 1, "holds no images")


@pytest.mark.parametrize(
    "option, value", [("--image-size", "0"), ("--image-size", "big"), ("--batch-size", "-1")]
)
def test_embed_bad_number_is_a_usage_error(image_folder, tmp_path, capsys, option, value):
    code, err = embed(capsys, image_folder, *BACKBONE, "--out", tmp_path / "e.npz", option, value)
    assert_one_line_error(code, err, 2, option, repr(value))


def test_embed_image_size_the_backbone_refuses(image_folder, tmp_path, capsys):
    argv = ["--backbone", "vit_small_patch16_224", "--no-pretrained", "--image-size", "100"]
    code, err = embed(capsys, image_folder, *argv, "--out", tmp_path / "e.npz")
    assert_one_line_error(code, err, 1, "100")


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--out", "e.npz"], ["--backbone"]),  # a required option left out
        (["--backbone", "resnet18", "--out", "e.csv"], [".npz, .parquet or .zarr", "e.csv"]),
        (["--backbone", "resnet18", "--out", "e.npz", "--colour"], ["--colour"]),
    ],
)
def test_embed_bad_option_is_a_usage_error(image_folder, capsys, argv, words):
    code, err = embed(capsys, image_folder, *argv)
    assert_one_line_error(code, err, 2, *words)


def test_embed_unwritable_out_writes_nothing(image_folder, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output folder should be")
    code, err = embed(capsys, image_folder, *BACKBONE, "--out", blocker / "e.npz")
    assert_one_line_error(code, err, 1, "cannot write --out")
    code, err = embed(capsys, image_folder, *BACKBONE, "--out", tmp_path)  # no extension
    assert code == 2


def test_embed_out_that_is_a_directory(image_folder, tmp_path, capsys):
    (tmp_path / "e.npz").mkdir()
    code, err = embed(capsys, image_folder, *BACKBONE, "--out", tmp_path / "e.npz")
    assert_one_line_error(code, err, 1, "is a directory")


def test_embed_interrupted_exits_130_and_writes_nothing(
    image_folder, tmp_path, capsys, monkeypatch
):
    def interrupt(self, X):
        raise KeyboardInterrupt

    monkeypatch.setattr(FoundationEmbedder, "transform", interrupt)
    out = tmp_path / "e.npz"
    code, err = embed(capsys, image_folder, *BACKBONE, "--out", out)
    assert (
        code == 130
        and err.strip().splitlines()[-1]
        == "skhisto embed: error: interrupted; no partial file was left"
    )
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("where", ["after the command", "before the command"])
def test_debug_shows_the_traceback(tmp_path, where):
    argv = ["embed", str(tmp_path / "nowhere"), *BACKBONE, "--out", str(tmp_path / "e.npz")]
    argv = [*argv, "--debug"] if where == "after the command" else ["--debug", *argv]
    with pytest.raises(Exception, match="does not exist"):
        main(argv)


@pytest.mark.slow
def test_embed_real_images_from_a_csv_equal_the_python_api(lc25000_small, tmp_path, capsys):
    paths = lc25000_small.paths[::10]  # 30 JPEGs, 10 per class
    labels = [lc25000_small.target_names[i] for i in lc25000_small.target[::10]]
    listing = tmp_path / "tiles.csv"
    with open(listing, "w", newline="") as f:
        csv.writer(f).writerows([("path", "label"), *zip(paths, labels, strict=True)])
    out = tmp_path / "emb.npz"
    argv = [listing, "--backbone", "resnet18", "--no-pretrained", "--out", out]
    code, err = embed(capsys, *argv)
    assert code == 0, err
    data = np.load(out)
    expected = FoundationEmbedder("resnet18", pretrained=False, random_state=0).fit_transform(paths)
    assert np.array_equal(data["embeddings"], expected)
    assert data["labels"].tolist() == labels and data["paths"].tolist() == paths.tolist()


def test_embed_without_weights_says_the_flags_that_fix_it(image_folder, tmp_path, run_cli):
    """Pretrained weights that cannot be had (offline here): one line naming the CLI's way out."""
    result = run_cli("embed", image_folder, "--backbone", "resnet18", "--out", tmp_path / "e.npz")
    result.assert_one_line_error(1, "resnet18", "--weights FILE", "--no-pretrained")
    assert ".." not in result.err and not (tmp_path / "e.npz").exists()


@pytest.mark.parametrize("command", ["label-issues", "noise-curve"])
def test_an_embeddings_file_that_is_a_fifo_or_a_folder_is_said_so(run_cli, tmp_path, command):
    import os

    fifo, folder = tmp_path / "fifo.npz", tmp_path / "folder.npz"
    os.mkfifo(fifo)
    folder.mkdir()
    run_cli(command, fifo).assert_one_line_error(1, "fifo.npz", "FIFO")
    run_cli(command, folder).assert_one_line_error(1, "folder.npz", "directory")
