"""Downloading, verifying and unpacking the public histology patch collections."""

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..utils import progress
from ._image_folder import load_image_folder

ZENODO = "https://zenodo.org/records/1214456/files/{}?download=1"


class DatasetUnavailableError(OSError):
    """A dataset archive is not on disk and cannot be downloaded here."""


@dataclass(frozen=True)
class RemoteArchive:
    """A zip archive of an ImageFolder dataset with its provenance."""

    filename: str
    url: str | None
    md5: str | None
    size: int | None
    folder: str
    how_to_get: str = ""


NCT_CRC_HE_100K = RemoteArchive(
    "NCT-CRC-HE-100K.zip",
    ZENODO.format("NCT-CRC-HE-100K.zip"),
    "6fd702d11df6292bc054397ae038a464",
    11_690_284_003,
    "NCT-CRC-HE-100K",
)
NCT_CRC_HE_100K_NONORM = RemoteArchive(
    "NCT-CRC-HE-100K-NONORM.zip",
    ZENODO.format("NCT-CRC-HE-100K-NONORM.zip"),
    "035777cf327776a71a05c95da6d6325f",
    None,
    "NCT-CRC-HE-100K-NONORM",
)
CRC_VAL_HE_7K = RemoteArchive(
    "CRC-VAL-HE-7K.zip",
    ZENODO.format("CRC-VAL-HE-7K.zip"),
    "2fd1651b4f94ebd818ebf90ad2b6ce06",
    800_276_929,
    "CRC-VAL-HE-7K",
)
# LC25000's authors distribute it through Kaggle and Academic Torrents, neither of
# which publishes a checksum or allows an anonymous HTTP download.
LC25000 = RemoteArchive(
    "lung_colon_image_set.zip",
    None,
    None,
    None,
    "lung_colon_image_set",
    how_to_get=(
        "LC25000 (Borkowski et al., arXiv:1912.12142) is distributed via Kaggle "
        "(andrewmvd/lung-and-colon-cancer-histopathological-images) and Academic Torrents "
        "(LC25000.zip); see github.com/tampapath/lung_colon_image_set."
    ),
)


def get_data_home(data_home=None):
    """Dataset folder: ``data_home``, else ``$SKHISTO_DATA_HOME``, else ``~/skhisto_data``."""
    home = data_home or os.environ.get("SKHISTO_DATA_HOME") or Path.home() / "skhisto_data"
    home = Path(home).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def _md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(remote, target):
    if remote.url is None:
        raise DatasetUnavailableError(
            f"{remote.filename} is not on disk at {str(target)!r} and has no direct download. "
            f"{remote.how_to_get} Place the archive there, or pass archive=<path>."
        )
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".download-")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(remote.url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            blocks = iter(lambda: response.read(1 << 20), b"")
            n = None if total is None else -(-total // (1 << 20))
            for block in progress(blocks, total=n, desc=remote.filename, verbose=True):
                out.write(block)
        os.replace(tmp, target)
    except (urllib.error.URLError, OSError) as exc:
        Path(tmp).unlink(missing_ok=True)
        raise DatasetUnavailableError(
            f"Cannot download {remote.filename} from {remote.url} ({exc}). If offline, "
            f"download it elsewhere and place it at {str(target)!r}, or pass archive=<path>."
        ) from exc


def _verify(remote, archive):
    if remote.md5 is None:
        return
    got = _md5(archive)
    if got != remote.md5:
        raise ValueError(
            f"Checksum mismatch for {str(archive)!r}: md5 {got}, expected {remote.md5}. The file "
            "is incomplete or not the published archive; delete it and download again."
        )


def _extract(archive, destination):
    tmp = Path(tempfile.mkdtemp(dir=destination.parent, prefix=".extract-"))
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                # Refuse zip-slip paths that would write outside the destination.
                if member.startswith("/") or ".." in Path(member).parts:
                    raise ValueError(f"Unsafe path {member!r} in archive {str(archive)!r}.")
            zf.extractall(tmp)
        os.replace(tmp, destination)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def fetch_archive(remote, *, data_home=None, archive=None, download_if_missing=True):
    """Path of the unpacked dataset, downloading and verifying the archive on first use.

    Parameters
    ----------
    remote : RemoteArchive
    data_home : str or os.PathLike, optional
        See :func:`get_data_home`.
    archive : str or os.PathLike, optional
        An archive already downloaded elsewhere (verified, then unpacked).
    download_if_missing : bool, default=True
        Download when neither the unpacked data nor the archive is on disk.

    Returns
    -------
    pathlib.Path
        Root of the unpacked ImageFolder.
    """
    home = get_data_home(data_home)
    unpacked = home / remote.filename.removesuffix(".zip")
    if not unpacked.is_dir():
        source = Path(archive) if archive is not None else home / remote.filename
        if not source.is_file():
            if archive is not None:
                raise FileNotFoundError(f"Archive does not exist: {str(source)!r}")
            if not download_if_missing:
                raise DatasetUnavailableError(
                    f"{remote.filename} is not in {str(home)!r} and download_if_missing=False."
                )
            _download(remote, source)
        _verify(remote, source)
        _extract(source, unpacked)
    root = unpacked / remote.folder
    return root if root.is_dir() else unpacked


def fetch_nct_crc_he_100k(
    *, normalized=True, data_home=None, archive=None, download_if_missing=True, **load_kwargs
):
    """NCT-CRC-HE-100K: 100,000 colorectal H&E patches, 9 tissue classes (Kather et al., 2019).

    Parameters
    ----------
    normalized : bool, default=True
        The Macenko-normalised release; ``False`` for ``NCT-CRC-HE-100K-NONORM``.
    data_home, archive, download_if_missing
        See :func:`fetch_archive`.
    **load_kwargs
        Passed to :func:`load_image_folder` (``max_per_class``, ``load_images`` ...).

    Returns
    -------
    Bunch
        As :func:`load_image_folder`.
    """
    remote = NCT_CRC_HE_100K if normalized else NCT_CRC_HE_100K_NONORM
    root = fetch_archive(
        remote, data_home=data_home, archive=archive, download_if_missing=download_if_missing
    )
    return load_image_folder(root, **load_kwargs)


def fetch_crc_val_he_7k(*, data_home=None, archive=None, download_if_missing=True, **load_kwargs):
    """CRC-VAL-HE-7K: 7,180 colorectal H&E patches from 50 patients (Kather et al., 2019).

    See :func:`fetch_nct_crc_he_100k` for the parameters.
    """
    root = fetch_archive(
        CRC_VAL_HE_7K, data_home=data_home, archive=archive, download_if_missing=download_if_missing
    )
    return load_image_folder(root, **load_kwargs)


def fetch_lc25000(
    *, part="lung", data_home=None, archive=None, download_if_missing=True, **load_kwargs
):
    """LC25000 lung and colon H&E images (Borkowski et al., 2019).

    LC25000 has no anonymous direct download: pass ``archive=`` (the zip from
    Kaggle or Academic Torrents) once, or place it in ``data_home``. The
    images are augmentations of 250 originals per class, so random splits leak
    near-duplicates: use it for relative comparisons.

    Parameters
    ----------
    part : {"lung", "colon"}, default="lung"
        Which organ's classes to load.
    data_home, archive, download_if_missing, **load_kwargs
        See :func:`fetch_nct_crc_he_100k`.
    """
    if part not in ("lung", "colon"):
        raise ValueError(f"part must be 'lung' or 'colon', got {part!r}.")
    root = fetch_archive(
        LC25000, data_home=data_home, archive=archive, download_if_missing=download_if_missing
    )
    organ = root / f"{part}_image_sets"
    return load_image_folder(organ if organ.is_dir() else root, **load_kwargs)
