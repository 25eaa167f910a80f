"""Where groups come from: file names, a CSV's column, the embeddings `skhisto embed` wrote."""

import csv

import numpy as np
import pytest

from skhisto.cli._labeled import labeled_input
from skhisto.datasets import load_image_folder
from skhisto.utils import groups_from_paths

EMBED = ("--backbone", "resnet18", "--no-pretrained", "--image-size", "32", "--no-cache")


def test_groups_from_file_names_or_whole_paths():
    paths = ["a/TCGA-A7-A0CE_1.png", "b/TCGA-A7-A0CE_2.png", "a/TCGA-BH-A18V_1.png"]
    assert groups_from_paths(paths, r"TCGA-..-....").tolist() == [
        "TCGA-A7-A0CE",
        "TCGA-A7-A0CE",
        "TCGA-BH-A18V",
    ]
    assert groups_from_paths(paths, r"^([ab])/").tolist() == ["a", "b", "a"]  # a '/': the path
    assert groups_from_paths(paths, lambda p: p.split("_")[0][-4:]).tolist() == [
        "A0CE",
        "A0CE",
        "A18V",
    ]


@pytest.mark.parametrize(
    "groups, words",
    [
        (r"^P(\d+)", r"finds no group in the file name 'x_1.png'; 1 of 2 paths have none"),
        (r"(", r"groups='\(' is not a regular expression"),
        (lambda p: None if "x" in p else "p", r"groups\('b/x_1.png'\) returned None"),
    ],
)
def test_a_path_without_a_group_is_named(groups, words):
    with pytest.raises(ValueError, match=words):
        groups_from_paths(["a/P1_1.png", "b/x_1.png"], groups)


def test_load_image_folder_reads_groups_and_keeps_them_in_order(lc25000_dir):
    data = load_image_folder(
        lc25000_dir, max_per_class=5, shuffle=True, random_state=0, groups=r"lung(\D+)\d"
    )
    assert data.groups.tolist() == [data.target_names[t].split("_")[1] for t in data.target]
    assert "3 groups" in data.DESCR


def _write_csv(path, rows, header=("path", "label", "patient")):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return path


@pytest.fixture
def patient_csv(lc25000_dir, tmp_path):
    """12 LC25000 tiles of 2 classes, 3 patients per class."""
    rows = []
    for label in ("lung_aca", "lung_n"):
        for i, tile in enumerate(sorted((lc25000_dir / label).iterdir())[:6]):
            rows.append([tile, label, f"{label}-p{i % 3}"])
    return _write_csv(tmp_path / "tiles.csv", rows)


@pytest.mark.parametrize("suffix", [".npz", ".parquet"])
def test_embed_stores_the_groups_and_the_commands_read_them_back(
    run_cli, patient_csv, tmp_path, suffix
):
    pytest.importorskip("pyarrow") if suffix == ".parquet" else None
    out = tmp_path / f"emb{suffix}"
    result = run_cli("embed", patient_csv, "--out", out, *EMBED)
    assert result.code == 0, result.err
    assert "6 groups (column 'patient')" in result.err
    data = labeled_input(out, min_per_class=2, what="test")
    expected = [row["patient"] for row in csv.DictReader(open(patient_csv))]
    assert data.groups.values.tolist() == expected
    assert labeled_input(out, min_per_class=2, what="test", groups=False).groups.values is None


def test_groups_option_picks_a_column_or_a_pattern(patient_csv):
    by_column = labeled_input(patient_csv, min_per_class=2, what="t", groups="patient")
    assert by_column.groups.describe() == "6 groups (column 'patient')"
    by_name = labeled_input(patient_csv, min_per_class=2, what="t", groups=r"lung(\D+)")
    assert by_name.groups.values.tolist() == ["aca"] * 6 + ["n"] * 6


def test_missing_groups_are_refused_naming_the_row(run_cli, patient_csv, tmp_path):
    rows = list(csv.reader(open(patient_csv)))
    rows[3][2] = ""
    listing = _write_csv(tmp_path / "holes.csv", rows[1:])
    result = run_cli("embed", listing, "--out", tmp_path / "e.npz", *EMBED)
    result.assert_one_line_error(1, "column 'patient' is empty for 1 of 12 rows", "--no-groups")
    result = run_cli("embed", patient_csv, "--out", tmp_path / "e.npz", "--groups", "P(", *EMBED)
    result.assert_one_line_error(1, "--groups 'P(' is no column", "not a regular expression")
    assert not (tmp_path / "e.npz").exists()


def test_a_zarr_store_holds_the_groups_and_refuses_others_on_resume(lc25000_dir, tmp_path):
    pytest.importorskip("zarr")
    from skhisto import FoundationEmbedder
    from skhisto.embedding import embed_dataset

    data = load_image_folder(lc25000_dir, max_per_class=2, random_state=0, groups=r"lung(\D+)")
    embedder = FoundationEmbedder("resnet18", pretrained=False, image_size=32, cache=None)
    store = embed_dataset(data, embedder, tmp_path / "e.zarr", chunk_size=2, verbose=False)
    assert store["groups"][:].tolist() == data.groups.tolist()
    with pytest.raises(ValueError, match="groups"):
        embed_dataset(data, embedder, tmp_path / "e.zarr", groups=np.arange(6), verbose=False)


def test_default_group_columns_are_found_in_any_case(patient_csv, tmp_path):
    rows = list(csv.reader(open(patient_csv)))
    listing = _write_csv(tmp_path / "cases.csv", rows[1:], header=("path", "label", "Case_ID"))
    data = labeled_input(listing, min_per_class=2, what="t")
    assert data.groups.describe() == "6 groups (column 'Case_ID')"
    assert labeled_input(listing, min_per_class=2, what="t", groups="case_id").groups.values[0]


def test_too_few_groups_for_the_folds_is_said_before_any_work(run_cli, patient_csv, tmp_path):
    argv = ("noise-curve", patient_csv, "--cv", "3", "--groups", r"lung(\D+)")
    result = run_cli(*argv, "--out-dir", tmp_path, *EMBED)
    result.assert_one_line_error(1, r"2 groups (pattern 'lung(\\D+)')", "needs at least 3")
