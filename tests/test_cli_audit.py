"""`skhisto audit`: the CSV rows are audit_dataset's, leakage follows the groups stored with the
embeddings, unlabeled input is audited, real images give the gallery, bad input is one line."""

import csv
import json

import numpy as np
import pytest
from conftest import assert_fails_before_embedding

from skhisto.cleaning import audit_dataset


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def cohort_file(tmp_path):
    """``cohort_file(labels=True)``: a .npz of 90 tiles in 3 classes and 5 patients, in which
    tile 1 copies tile 0 of another patient and tile 11 copies tile 10 of the same one."""

    def write(labels=True, name="cohort.npz"):
        rng = np.random.default_rng(0)
        codes = np.repeat(np.arange(3), 30)
        X = (1.5 * rng.normal(size=(3, 24)))[codes] + rng.normal(size=(90, 24))
        groups = np.array([f"p{i % 5}" for i in range(90)])
        groups[[0, 1, 10, 11]] = ["p0", "p1", "p2", "p2"]
        X[1], X[11] = X[0] + 1e-4, X[10] + 1e-4
        names = np.array(["adenocarcinoma", "benign", "squamous"])[codes]
        path = tmp_path / name
        np.savez(
            path,
            embeddings=X.astype(np.float32),
            paths=np.array([f"tile_{i}.png" for i in range(90)]),
            labels=names if labels else np.full(90, ""),
            groups=groups,
        )
        return path

    return write


def test_rows_are_the_library_audit_and_leakage_follows_stored_groups(
    cohort_file, run_cli, tmp_path
):
    source = cohort_file()
    result = run_cli("audit", source, "--out-dir", tmp_path)
    assert result.code == 0, result.err
    with np.load(source) as data:
        X, y, groups = data["embeddings"], data["labels"], data["groups"]
    expected = audit_dataset(X, y, groups=groups).flagged()
    rows = read_csv(tmp_path / "audit.csv")
    assert [(int(r["sample"]), r["issue_type"]) for r in rows] == list(
        zip(expected["sample"], expected["issue_type"], strict=True)
    )
    leaks = [r for r in rows if r["issue_type"] == "leakage"]
    assert sorted(int(r["sample"]) for r in leaks) == [0, 1]
    assert {r["path"]: r["partner_path"] for r in leaks} == {
        "tile_0.png": "tile_1.png",
        "tile_1.png": "tile_0.png",
    }
    copies = {int(r["sample"]) for r in rows if r["issue_type"] == "near_duplicate"}
    assert {0, 1, 10, 11} <= copies
    title, _, header, *table = result.out.strip().splitlines()
    assert "of 90 samples flagged" in title and "5 groups (column 'group')" in title
    assert header.split() == ["issue_type", "n_issues", "share", "meaning"]
    assert [line.split()[0] for line in table] == [
        "near_duplicate",
        "leakage",
        "outlier",
        "class_outlier",
        "label_issue",
        "class_balance",
    ]
    assert "audit.png" not in result.err, "no images: no gallery by default"


def test_no_groups_means_no_leakage(cohort_file, run_cli, tmp_path):
    result = run_cli("audit", cohort_file(), "--no-groups", "--out-dir", tmp_path)
    assert result.code == 0, result.err
    assert not [r for r in read_csv(tmp_path / "audit.csv") if r["issue_type"] == "leakage"]
    assert "skipped: no groups or split given" in result.out


def test_unlabeled_embeddings_are_audited_without_label_checks(cohort_file, run_cli, tmp_path):
    result = run_cli("audit", cohort_file(labels=False), "--json", "--out-dir", tmp_path)
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    assert list(payload) == ["title", "n_samples", "n_flagged", "summary", "balance_issues", "rows"]
    summary = {row["issue_type"]: row for row in payload["summary"]}
    for name in ("class_outlier", "label_issue", "class_balance"):
        assert not summary[name]["checked"] and summary[name]["n_issues"] is None
        assert "skipped: no labels" in summary[name]["meaning"]
    assert summary["leakage"]["n_issues"] == 2
    rows = read_csv(tmp_path / "audit.csv")
    assert [list(row) for row in payload["rows"]] == [list(row) for row in rows]
    assert {row["issue_type"] for row in rows} <= {"near_duplicate", "leakage", "outlier"}


def test_real_images_are_embedded_and_drawn(lc25000_dir, run_cli, tmp_path):
    images = sorted((lc25000_dir / "lung_n").glob("*.jpeg"))[:6]
    images += sorted((lc25000_dir / "lung_aca").glob("*.jpeg"))[:6]
    listing = tmp_path / "tiles.csv"
    rows = [f"{path},{path.parent.name},{'a' if i % 2 else 'b'}" for i, path in enumerate(images)]
    listing.write_text("path,label,patient\n" + "\n".join(rows + [f"{images[0]},lung_n,a"]))
    argv = ["audit", listing, "--no-pretrained", "--backbone", "resnet18", "--image-size", "32"]
    result = run_cli(*argv, "--n-neighbors", "3", "--gallery", "2", "--out-dir", tmp_path)
    result.assert_one_line_error(1, "lists image", "twice")  # one file, one row
    listing.write_text("path,label,patient\n" + "\n".join(rows))
    copy = tmp_path / "copy.jpeg"
    copy.write_bytes(images[0].read_bytes())  # the same tile filed under the other patient
    with listing.open("a") as f:
        f.write(f"\n{copy},lung_n,a")
    result = run_cli(*argv, "--n-neighbors", "3", "--gallery", "2", "--out-dir", tmp_path)
    assert result.code == 0, result.err
    assert "2 groups (column 'patient')" in result.out.splitlines()[0]
    found = read_csv(tmp_path / "audit.csv")
    leaks = {(r["path"], r["partner_path"]) for r in found if r["issue_type"] == "leakage"}
    assert (str(copy), str(images[0])) in leaks
    assert (tmp_path / "audit.png").stat().st_size > 0
    assert f"wrote {tmp_path / 'audit.csv'} and {tmp_path / 'audit.png'}" in result.err


BAD_INPUTS = [
    ("gallery without images", ["{npz}", "--gallery", "3"], 1, ["do not exist"]),
    ("unknown group column", ["{npz}", "--groups", "patient("], 1, ["--groups 'patient('"]),
    ("threshold 0", ["{npz}", "--duplicate-threshold", "0"], 2, ["--duplicate-threshold"]),
    ("unknown method", ["{npz}", "--label-method", "vote"], 2, ["--label-method", "'vote'"]),
    ("missing input", ["{tmp}/nothing"], 1, ["does not exist"]),
]


@pytest.mark.parametrize("case, argv, code, words", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_one_line_before_any_work(
    case, argv, code, words, cohort_file, run_cli, tmp_path
):
    names = {"npz": cohort_file(), "tmp": tmp_path}
    argv = [arg.format(**names) for arg in argv] + ["--out-dir", str(tmp_path / "out")]
    never = tmp_path / "out" / "audit.csv"
    assert_fails_before_embedding(run_cli, ["audit", *argv], code, words, never)
