"""ImageFolder loading and the public dataset fetchers, on archives built here."""

import contextlib
import errno
import hashlib
import io
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
    fetch_nct_crc_he_100k,
    get_data_home,
    load_image_folder,
)
from skhisto.io import ImageReadError


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


def _folder(root, layout):
    """Write 8x8 PNGs at the relative paths of ``layout``; folders ending in '/' stay empty."""
    for rel in layout:
        path = root / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    return root


def test_images_in_sub_folders_belong_to_their_class(tmp_path):
    root = _folder(tmp_path, ["A/1.png", "A/slide1/2.png", "A/slide1/deep/3.png", "B/1.png"])
    data = load_image_folder(root)
    assert data.target.tolist() == [0, 0, 0, 1]
    assert [p.removeprefix(str(root)) for p in data.paths] == [
        "/A/1.png",
        "/A/slide1/2.png",
        "/A/slide1/deep/3.png",
        "/B/1.png",
    ]


def test_empty_class_folder_is_refused_naming_it(tmp_path):
    root = _folder(tmp_path, ["A/1.png", "EMPTY/", "ONLY_TEXT/readme.txt.keep/"])
    (root / "B").mkdir()
    (root / "B" / "notes.txt").write_text("no image")
    with pytest.raises(ValueError, match=r"Class folders \['B', 'EMPTY', 'ONLY_TEXT'\].*hold no"):
        load_image_folder(root)
    assert load_image_folder(root, classes=["A"]).target_names == ["A"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(max_per_class=0), ValueError, r"'max_per_class' parameter .* range \[1, inf\)"),
        (dict(max_per_class=-1), ValueError, "'max_per_class' parameter of load_image_folder"),
        (dict(max_per_class=2.5), ValueError, "'max_per_class' parameter of load_image_folder"),
        (dict(image_size=0), ValueError, "'image_size' parameter of load_image_folder"),
        (dict(classes="A"), TypeError, "'classes' parameter of load_image_folder"),
        (dict(classes=[]), ValueError, "classes is empty"),
        (dict(classes=["A", "A"]), ValueError, "classes lists a folder twice"),
        (dict(classes=["A", 3]), TypeError, "classes must be a list of folder names"),
        (dict(extensions=".png"), TypeError, "'extensions' parameter of load_image_folder"),
        (dict(extensions=()), ValueError, "extensions must be a non-empty tuple"),
        (dict(shuffle="yes"), TypeError, "'shuffle' parameter of load_image_folder"),
    ],
)
def test_load_image_folder_parameters_are_validated(tmp_path, kwargs, error, match):
    root = _folder(tmp_path, ["A/1.png", "B/1.png"])
    with pytest.raises(error, match=match):
        load_image_folder(root, **kwargs)


def test_load_image_folder_root_errors_name_the_path(tmp_path):
    with pytest.raises(TypeError, match="'path' parameter of load_image_folder"):
        load_image_folder(None)
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(NotADirectoryError, match="file.png' is a file"):
        load_image_folder(tmp_path / "file.png")
    _folder(tmp_path / "root", ["A/1.png"])
    with pytest.raises(ValueError, match=r"Class folders \['A'\] .*hold no images.*\('\.tif',\)"):
        load_image_folder(tmp_path / "root", extensions=(".tif",))


def test_fetchers_validate_load_parameters_before_downloading(tmp_path, monkeypatch):
    def no_download(*args):
        raise AssertionError("downloaded before validating")

    monkeypatch.setattr(_fetch, "_download", no_download)
    with pytest.raises(ValueError, match="'max_per_class' parameter of fetch_crc_val_he_7k"):
        fetch_crc_val_he_7k(data_home=tmp_path, max_per_class=0)
    with pytest.raises(TypeError, match=r"Unknown parameters \['max_per_klass'\]"):
        fetch_nct_crc_he_100k(data_home=tmp_path, max_per_klass=5)
    with pytest.raises(ValueError, match="'image_size' parameter of fetch_lc25000"):
        fetch_lc25000(data_home=tmp_path, image_size=-3)
    with pytest.raises(TypeError, match=r"'normalized' parameter .* 'bool'.*Got 'no'"):
        fetch_nct_crc_he_100k(data_home=tmp_path, normalized="no")
    with pytest.raises(TypeError, match="'download_if_missing' parameter of fetch_crc_val_he_7k"):
        fetch_crc_val_he_7k(data_home=tmp_path, download_if_missing="no")


@pytest.mark.parametrize(
    ("data_home", "match"),
    [("", "data_home must be a folder path or None; got ''"), (5, "'data_home' parameter")],
)
def test_get_data_home_refuses_an_empty_or_non_path_value(data_home, match, tmp_path, monkeypatch):
    monkeypatch.setenv("SKHISTO_DATA_HOME", str(tmp_path / "env"))
    with pytest.raises(ValueError, match=match):
        get_data_home(data_home)
    assert not (tmp_path / "env").exists()


def test_unwritable_data_home_is_named_before_downloading(tmp_path, monkeypatch):
    monkeypatch.setattr(_fetch, "_download", lambda *a: pytest.fail("download started"))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(OSError, match="data_home.*a-file"):
        fetch_archive(_fetch.CRC_VAL_HE_7K, data_home=blocker / "home")
    # A data_home that exists but cannot be written is refused before the download too.
    home = tmp_path / "home"
    home.mkdir()

    def read_only(directory, parameter):
        raise PermissionError(13, f"Cannot use {parameter}= directory {str(directory)!r}")

    monkeypatch.setattr(_fetch, "ensure_writable_dir", read_only)
    with pytest.raises(PermissionError, match="data_home= directory"):
        fetch_archive(_fetch.CRC_VAL_HE_7K, data_home=home)
    # Once unpacked, a read-only data_home serves the dataset: nothing needs writing.
    (home / "CRC-VAL-HE-7K" / "CRC-VAL-HE-7K").mkdir(parents=True)
    assert fetch_archive(_fetch.CRC_VAL_HE_7K, data_home=home) == home / "CRC-VAL-HE-7K" / (
        "CRC-VAL-HE-7K"
    )


def _truncate(archive):
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])


def _corrupt_a_member(archive):
    data = bytearray(archive.read_bytes())
    data[60] ^= 0xFF  # inside the first member's compressed bytes: a CRC error on extraction
    archive.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_truncate, _corrupt_a_member])
def test_damaged_archive_names_it_and_unpacks_nothing(tmp_path, damage):
    archive, _ = _make_archive(tmp_path, "X")
    damage(archive)
    remote = replace(_fetch.CRC_VAL_HE_7K, filename="X.zip", folder="X", md5=None)
    home = tmp_path / "home"
    with pytest.raises(
        ValueError, match=r"Archive '.*data.zip' is truncated or corrupt.*Delete it"
    ):
        fetch_archive(remote, data_home=home, archive=archive)
    assert list(home.iterdir()) == []


class _FakeResponse(io.BytesIO):
    def __init__(self, body, length):
        super().__init__(body)
        self.headers = {"Content-Length": str(length)}


def test_download_cut_short_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(
        _fetch.urllib.request, "urlopen", lambda url, timeout: _FakeResponse(b"x" * 10, 1000)
    )
    remote = replace(_fetch.CRC_VAL_HE_7K, url="http://example.invalid/X.zip")
    with pytest.raises(DatasetUnavailableError, match="after 10 of 1000 bytes"):
        fetch_archive(remote, data_home=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_disk_full_during_download_names_the_file_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(
        _fetch.urllib.request, "urlopen", lambda url, timeout: _FakeResponse(b"x" * 10, 10)
    )
    real = _fetch.atomic_write

    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, block):
            raise OSError(errno.ENOSPC, "No space left on device")

    @contextlib.contextmanager
    def full_disk(path, mode="wb"):
        with real(path, mode) as f:
            yield Full(f)

    monkeypatch.setattr(_fetch, "atomic_write", full_disk)
    with pytest.raises(OSError, match=r"CRC-VAL-HE-7K.zip'.*free some space") as info:
        fetch_archive(_fetch.CRC_VAL_HE_7K, data_home=tmp_path)
    assert info.value.errno == errno.ENOSPC
    assert not isinstance(info.value, DatasetUnavailableError)
    assert list(tmp_path.iterdir()) == []


def test_archive_unpacked_by_another_process_first_is_used(tmp_path, monkeypatch):
    archive, _ = _make_archive(tmp_path, "X")
    remote = replace(_fetch.CRC_VAL_HE_7K, filename="X.zip", folder="X", md5=None)
    home = tmp_path / "home"
    real_extractall = zipfile.ZipFile.extractall

    def racing_extractall(self, path):
        real_extractall(self, path)
        real_extractall(self, home / "X")  # the other process finishes first

    monkeypatch.setattr(zipfile.ZipFile, "extractall", racing_extractall)
    root = fetch_archive(remote, data_home=home, archive=archive)
    assert root == home / "X" / "X" and sorted(p.name for p in root.iterdir()) == ["A", "B"]
    assert [p.name for p in home.iterdir()] == ["X"]  # no temporary folder left behind


def test_truncated_image_is_named_on_load(tmp_path):
    root = _folder(tmp_path, ["A/1.png", "B/1.png"])
    data = (root / "B" / "1.png").read_bytes()
    (root / "B" / "1.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"B/1.png"):
        load_image_folder(root, load_images=True)
    with pytest.raises(ValueError, match=r"'part' parameter of fetch_lc25000 .*Got 'liver'"):
        fetch_lc25000(part="liver", data_home=tmp_path)


def test_folder_link_loop_is_refused_naming_it(tmp_path):
    root = _folder(tmp_path, ["A/1.png", "B/1.png"])
    (root / "A" / "again").symlink_to(root / "A", target_is_directory=True)
    with pytest.raises(ValueError, match=r"A/again' links back to"):
        load_image_folder(root)
    with pytest.raises(FileNotFoundError, match="Archive does not exist or is not a file"):
        fetch_archive(_fetch.CRC_VAL_HE_7K, data_home=tmp_path / "home", archive=root)


def test_lc25000_part_missing_from_the_archive_is_named_not_guessed(tmp_path):
    # Before: the archive root was loaded instead, as one class called 'lung_image_sets'.
    archive, _ = _make_archive(
        tmp_path, "lung_colon_image_set/lung_image_sets", ("lung_aca", "lung_n")
    )
    with pytest.raises(ValueError, match=r"no 'colon_image_sets' folder.*colon_aca.*archive="):
        fetch_lc25000(data_home=tmp_path / "home", archive=archive, part="colon")
    lung = fetch_lc25000(data_home=tmp_path / "home", archive=archive, part="lung")
    assert lung.target_names == ["lung_aca", "lung_n"]


def test_images_beside_the_class_folders_are_reported_not_silently_dropped(tmp_path):
    from PIL import Image

    for path in (tmp_path / "a" / "x.png", tmp_path / "stray.png"):
        path.parent.mkdir(exist_ok=True)
        Image.new("RGB", (4, 4)).save(path)
    with pytest.warns(UserWarning, match=r"1 images lie directly in .*'stray.png'.*not loaded"):
        data = load_image_folder(tmp_path)
    assert data.target_names == ["a"] and len(data.paths) == 1
