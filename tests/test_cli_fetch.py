"""`skhisto fetch`: datasets unpacked from local archives and file:// downloads, one-line errors."""

import hashlib
import zipfile
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from skhisto.datasets import _fetch


def _zip(path, folder, counts):
    """A zip of PNGs laid out as ``folder/<class>/<i>.png``, ``counts[class]`` per class."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, n in counts.items():
            for i in range(n):
                image = path.parent / "tmp.png"
                Image.fromarray(np.full((8, 8, 3), 30 * i, np.uint8)).save(image)
                zf.write(image, f"{folder}/{name}/{i}.png")
    return path


def test_lc25000_from_a_local_archive_lists_its_classes(run_cli, tmp_path):
    counts = {"lung_aca": 2, "lung_n": 3, "lung_scc": 1}
    archive = _zip(tmp_path / "src" / "lc.zip", "lung_colon_image_set/lung_image_sets", counts)
    home = tmp_path / "home"
    r = run_cli("fetch", "lc25000", "--archive", archive, "--dest", home)
    assert r.code == 0, r.err
    root = home / "lung_colon_image_set" / "lung_colon_image_set" / "lung_image_sets"
    assert f"lc25000: 6 images in {root}" in r.out
    table = [line.split() for line in r.out.splitlines()[1:]]
    assert table == [["class", "n_images"], ["lung_aca", "2"], ["lung_n", "3"], ["lung_scc", "1"]]
    # Unpacked once: a second call reads it in place, no archive needed.
    again = run_cli("fetch", "lc25000", "--dest", home)
    assert again.code == 0 and again.out == r.out


def test_download_is_verified_and_unpacked(run_cli, tmp_path, monkeypatch):
    archive = _zip(tmp_path / "src" / "crc.zip", "CRC-VAL-HE-7K", {"ADI": 2, "TUM": 2})
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    remote = replace(_fetch.CRC_VAL_HE_7K, url=archive.as_uri(), md5=md5)
    monkeypatch.setattr(_fetch, "CRC_VAL_HE_7K", remote)
    r = run_cli("fetch", "crc-val-he-7k", "--dest", tmp_path / "home")
    assert r.code == 0, r.err
    assert (tmp_path / "home" / "CRC-VAL-HE-7K.zip").is_file()
    assert r.out.splitlines()[0].startswith("crc-val-he-7k: 4 images in ")


def test_no_network_is_one_line_naming_the_way_out(run_cli, tmp_path, monkeypatch):
    remote = replace(_fetch.CRC_VAL_HE_7K, url="http://0.0.0.0:9/CRC-VAL-HE-7K.zip")
    monkeypatch.setattr(_fetch, "CRC_VAL_HE_7K", remote)
    r = run_cli("fetch", "crc-val-he-7k", "--dest", tmp_path)
    error = r.err.strip().splitlines()[-1]
    r.err = error  # the progress line before it says what was being fetched
    r.assert_one_line_error(1, "Cannot download CRC-VAL-HE-7K.zip", "--archive FILE")
    assert not list(tmp_path.glob("*.zip"))


def test_lc25000_without_archive_says_it_needs_one(run_cli, tmp_path):
    r = run_cli("fetch", "lc25000", "--dest", tmp_path)
    r.err = r.err.strip().splitlines()[-1]
    r.assert_one_line_error(1, "no direct download", "Kaggle", "--archive FILE")


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["fetch", "imagenet"], 2, ["invalid choice: 'imagenet'", "lc25000"]),
        (["fetch", "lc25000", "--archive", "{tmp}/none.zip"], 1, ["--archive", "none.zip"]),
        (["fetch", "crc-val-he-7k", "--part", "colon"], 1, ["--part is for lc25000"]),
        (["fetch", "crc-val-he-7k", "--dest", "{tmp}/file/home"], 1, ["--dest", "file/home"]),
    ],
)
def test_bad_command_lines_are_one_line(run_cli, tmp_path, monkeypatch, argv, code, words):
    monkeypatch.setattr(_fetch, "_download", lambda *a: pytest.fail("download started"))
    (tmp_path / "file").write_text("in the way")
    r = run_cli(*(arg.format(tmp=tmp_path) for arg in argv))
    r.assert_one_line_error(code, *words)
