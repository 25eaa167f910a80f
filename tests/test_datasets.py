"""ImageFolder loading and the public dataset fetchers, on archives built here."""

import hashlib
import zipfile
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from skhisto.datasets import (
    DatasetUnavailableError,
    _fetch,
    fetch_archive,
    fetch_crc_val_he_7k,
    fetch_lc25000,
    load_image_folder,
)


def test_load_image_folder_real_layouts(kather_dir, lc25000_dir):
    crc = load_image_folder(kather_dir / "crc_val_he_7k", load_images=True)
    assert crc.target_names == ["ADI", "DEB", "LYM", "MUC", "MUS", "NORM", "STR", "TUM"]
    assert crc.images.shape == (32, 224, 224, 3) and np.bincount(crc.target).tolist() == [4] * 8
    old = load_image_folder(kather_dir / "kather2016", load_images=True, image_size=224)
    assert old.images.shape == (24, 224, 224, 3)
    lung = load_image_folder(
        lc25000_dir, classes=["lung_n", "lung_scc"], max_per_class=5, random_state=0
    )
    again = load_image_folder(
        lc25000_dir, classes=["lung_n", "lung_scc"], max_per_class=5, random_state=0
    )
    assert lung.target_names == ["lung_n", "lung_scc"] and len(lung.paths) == 10
    np.testing.assert_array_equal(lung.paths, again.paths)


def test_load_image_folder_errors(tmp_path, kather_dir):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_image_folder(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="no class sub-folders"):
        load_image_folder(tmp_path)
    with pytest.raises(ValueError, match=r"\['TUMOUR'\]"):
        load_image_folder(kather_dir / "crc_val_he_7k", classes=["TUMOUR"])


def _make_archive(tmp_path, folder, classes=("A", "B"), n=2):
    archive = tmp_path / "src" / "data.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        for c in classes:
            for i in range(n):
                image = Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8))
                tmp = tmp_path / f"{c}{i}.png"
                image.save(tmp)
                zf.write(tmp, f"{folder}/{c}/{i}.png")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    return archive, md5


def test_fetch_downloads_verifies_and_unpacks(tmp_path, monkeypatch):
    archive, md5 = _make_archive(tmp_path, "CRC-VAL-HE-7K")
    remote = replace(_fetch.CRC_VAL_HE_7K, url=archive.as_uri(), md5=md5)
    monkeypatch.setattr(_fetch, "CRC_VAL_HE_7K", remote)
    home = tmp_path / "home"
    data = fetch_crc_val_he_7k(data_home=home, load_images=True)
    assert data.target_names == ["A", "B"] and data.images.shape == (4, 16, 16, 3)
    assert (home / "CRC-VAL-HE-7K.zip").is_file()
    # Second call uses the unpacked copy: no download even when it is impossible.
    monkeypatch.setattr(_fetch, "CRC_VAL_HE_7K", replace(remote, url="http://0.0.0.0:9/x.zip"))
    assert len(fetch_crc_val_he_7k(data_home=home).paths) == 4


def test_fetch_rejects_a_bad_checksum_and_leaves_nothing_unpacked(tmp_path):
    archive, _ = _make_archive(tmp_path, "X")
    remote = replace(_fetch.CRC_VAL_HE_7K, filename="X.zip", folder="X", md5="0" * 32)
    with pytest.raises(ValueError, match="Checksum mismatch.*expected 0000"):
        fetch_archive(remote, data_home=tmp_path / "home", archive=archive)
    assert not (tmp_path / "home" / "X").exists()


def test_fetch_offline_error_says_how_to_supply_the_archive(tmp_path):
    remote = replace(_fetch.CRC_VAL_HE_7K, url="http://0.0.0.0:9/CRC-VAL-HE-7K.zip")
    with pytest.raises(DatasetUnavailableError, match="download it elsewhere and place it at"):
        fetch_archive(remote, data_home=tmp_path)
    assert not list(tmp_path.glob(".download-*"))
    with pytest.raises(DatasetUnavailableError, match="Kaggle"):
        fetch_lc25000(data_home=tmp_path)


def test_lc25000_from_a_local_archive(tmp_path):
    archive, _ = _make_archive(
        tmp_path, "lung_colon_image_set/lung_image_sets", ("lung_aca", "lung_n")
    )
    data = fetch_lc25000(data_home=tmp_path / "home", archive=archive)
    assert data.target_names == ["lung_aca", "lung_n"]


def test_zip_slip_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../outside.txt", "x")
    remote = replace(_fetch.CRC_VAL_HE_7K, filename="evil.zip", md5=None)
    with pytest.raises(ValueError, match="Unsafe path"):
        fetch_archive(remote, data_home=tmp_path / "home", archive=archive)
    assert not (tmp_path / "outside.txt").exists()
