"""``skhisto embed`` on whole-slide images: tiled here, or from TRIDENT coordinate files."""

import csv

import numpy as np
import pytest

from skhisto import FoundationEmbedder, SlideTiler
from skhisto.datasets import make_slide
from skhisto.slides import write_coordinates

EMBED = ("--backbone", "resnet18", "--no-pretrained", "--image-size", "32", "--no-cache")


@pytest.fixture(scope="module")
def slide_folder(lc25000_dir, tmp_path_factory):
    """Class folders of two small slides each (tumour: squamous carcinoma; benign: lung)."""
    root = tmp_path_factory.mktemp("slides")
    layout = np.full((4, 4), -1)
    layout[1:3, :] = [[0, 1, 2, 3], [1, 2, 3, 0]]
    for label, source in (("tumour", "lung_scc"), ("benign", "lung_aca")):
        (root / label).mkdir()
        tiles = sorted(str(p) for p in (lc25000_dir / source).iterdir())[:4]
        for i in range(2):
            make_slide(root / label / f"{label}-{i}.tif", tiles, layout, mpp=0.5, random_state=i)
    return root


def test_embed_tiles_class_folders_of_slides(run_cli, slide_folder, tmp_path):
    out = tmp_path / "patches.npz"
    result = run_cli("embed", slide_folder, "--slides", "--mpp", "0.5", "--out", out, *EMBED)
    assert result.code == 0, result.err
    data = np.load(out)
    table = SlideTiler(patch_size=224, mpp=0.5).tile(sorted(slide_folder.glob("*/*.tif")))
    assert len(data["embeddings"]) == len(table) == 32  # 2 x 4 tissue cells x 4 slides
    assert sorted(set(data["labels"])) == ["benign", "tumour"]
    assert (data["paths"] == data["slide"]).all()
    assert all(data["labels"][i] in data["slide"][i] for i in range(len(table)))
    # Rows are those of the Python API on the same patch table.
    keys = zip(table["slide"], table["x"], table["y"], strict=True)
    rows = {key: i for i, key in enumerate(keys)}
    order = [rows[key] for key in zip(data["slide"], data["x"], data["y"], strict=True)]
    expected = FoundationEmbedder(
        "resnet18", pretrained=False, image_size=32, random_state=0
    ).fit_transform(table)
    np.testing.assert_allclose(data["embeddings"], expected[order], atol=1e-5)


def test_embed_one_slide_file_needs_no_flag(run_cli, slide_folder, tmp_path):
    slide = slide_folder / "tumour" / "tumour-0.tif"
    result = run_cli("embed", slide, "--out", tmp_path / "one.npz", *EMBED)
    assert result.code == 0, result.err
    assert np.load(tmp_path / "one.npz")["labels"].tolist() == [""] * 8


def test_embed_reads_trident_coordinates(run_cli, slide_folder, tmp_path):
    slide = slide_folder / "benign" / "benign-1.tif"
    table = SlideTiler(patch_size=112, mpp=1.0, min_tissue=0.9).tile(slide)
    write_coordinates(table, tmp_path / "benign-1_patches.h5")
    out = tmp_path / "coords.npz"
    result = run_cli("embed", slide_folder, "--coordinates", tmp_path, "--out", out, *EMBED)
    assert result.code == 0, result.err
    data = np.load(out)
    assert data["x"].tolist() == table["x"].tolist() and set(data["labels"]) == {"benign"}


def test_embed_reads_a_csv_of_slides(run_cli, slide_folder, tmp_path):
    listing = tmp_path / "slides.csv"
    with open(listing, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["slide", "label"])
        writer.writerow([slide_folder / "tumour" / "tumour-1.tif", "high"])
    result = run_cli("embed", listing, "--slides", "--out", tmp_path / "c.npz", *EMBED)
    assert result.code == 0, result.err
    assert set(np.load(tmp_path / "c.npz")["labels"]) == {"high"}


@pytest.mark.parametrize(
    "args, code, words",
    [
        (("--mpp", "0.1"), 1, ("scanned at 0.5", "mpp >= 0.5")),
        (("--mpp", "0"), 2, ("--mpp", "expected a positive number")),
        (("--min-tissue", "1.5"), 2, ("--min-tissue", "from 0 to 1")),
        (("--overlap", "224"), 1, ("--overlap 224 must be smaller than --patch-size 224",)),
        (("--coordinates", "nowhere"), 1, ("--coordinates", "does not exist")),
        (("--coordinates", "x.h5", "--mpp", "0.5"), 1, ("--mpp", "--coordinates gives")),
        (("--out", "x.zarr"), 1, (".zarr", ".npz or .parquet")),
    ],
)
def test_embed_slide_errors_are_one_line(run_cli, slide_folder, tmp_path, args, code, words):
    out = ("--out", tmp_path / "e.npz") if "--out" not in args else ()
    result = run_cli("embed", slide_folder, "--slides", *out, *args, *EMBED)
    result.assert_one_line_error(code, *words)
    assert not list(tmp_path.iterdir())  # nothing written


def test_slide_csv_lists_each_slide_once_with_a_label(run_cli, slide_folder, tmp_path):
    slide = slide_folder / "tumour" / "tumour-1.tif"
    for rows, words in (
        ([[slide, "high"], [slide, "low"]], ("lists slide", "twice (lines 2 and 3)")),
        ([[slide, ""]], ("line 2", "has no label")),
    ):
        listing = tmp_path / "slides.csv"
        with open(listing, "w", newline="") as f:
            csv.writer(f).writerows([["slide", "label"], *rows])
        result = run_cli("embed", listing, "--slides", "--out", tmp_path / "c.npz", *EMBED)
        result.assert_one_line_error(1, *words)


def test_unmatched_coordinate_files_and_slides_are_said(run_cli, slide_folder, tmp_path):
    slide = slide_folder / "benign" / "benign-1.tif"
    write_coordinates(SlideTiler().tile(slide), tmp_path / "benign-1_patches.h5")
    write_coordinates(SlideTiler().tile(slide), tmp_path / "orphan_patches.h5")
    out = tmp_path / "p.npz"
    result = run_cli("embed", slide_folder, "--coordinates", tmp_path, "--out", out, *EMBED)
    assert result.code == 0
    assert "warning: 3 slides of INPUT without a coordinates file" in result.err
    assert "1 coordinates file without a slide (e.g. 'orphan_patches.h5')" in result.err


def test_slides_read_as_images_point_to_slides(run_cli, slide_folder, tmp_path):
    result = run_cli("embed", slide_folder / "tumour", "--out", tmp_path / "e.npz", *EMBED)
    result.assert_one_line_error(1, "holds 2 pages", "pass --slides")
    listing = tmp_path / "slides.csv"
    listing.write_text(f"slide\n{slide_folder / 'tumour' / 'tumour-0.tif'}\n")
    result = run_cli("embed", listing, "--out", tmp_path / "e.npz", *EMBED)
    result.assert_one_line_error(1, "no 'path' column", "pass --slides")


def test_embed_folder_without_slides_is_named(run_cli, tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli("embed", tmp_path / "empty", "--slides", "--out", tmp_path / "e.npz", *EMBED)
    result.assert_one_line_error(1, "holds no slides")


def test_label_issues_names_and_draws_patches_of_slides(run_cli, slide_folder, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "patches.npz"
    assert run_cli("embed", slide_folder, "--slides", "--out", out, *EMBED).code == 0
    result = run_cli(
        "label-issues", out, "--gallery", "2", "--out-dir", tmp_path / "issues", "--json"
    )
    assert result.code == 0, result.err
    with open(tmp_path / "issues" / "label_issues.csv") as f:
        names = [row["path"] for row in csv.DictReader(f)]
    assert len(set(names)) == 32 and all(".tif@" in name for name in names)
    slide, corner = names[0].rsplit("@", 1)
    assert slide.endswith(".tif") and len(corner.split(",")) == 2
    if '"n_flagged": 0' not in result.out:
        assert (tmp_path / "issues" / "label_issues.png").stat().st_size > 0


def test_patches_are_grouped_by_patient_of_a_slide_csv_else_by_slide(
    run_cli, slide_folder, tmp_path
):
    slides = sorted(slide_folder.glob("*/*.tif"))
    listing = tmp_path / "slides.csv"
    with open(listing, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["slide", "label", "patient"])
        for i, slide in enumerate(slides):
            writer.writerow([slide, slide.parent.name, f"patient-{i // 2}"])  # 2 slides each
    result = run_cli("embed", listing, "--slides", "--out", tmp_path / "p.npz", *EMBED)
    assert result.code == 0, result.err
    data = np.load(tmp_path / "p.npz")
    patient_of = {str(s): f"patient-{i // 2}" for i, s in enumerate(slides)}
    assert data["groups"].tolist() == [patient_of[s] for s in data["slide"]]
    assert "2 groups (column 'patient')" in result.err
    result = run_cli("embed", slide_folder, "--slides", "--out", tmp_path / "s.npz", *EMBED)
    assert result.code == 0, result.err
    data = np.load(tmp_path / "s.npz")
    assert (data["groups"] == data["slide"]).all() and len(set(data["groups"])) == 4
