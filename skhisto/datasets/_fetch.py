"""Downloading, verifying and unpacking the public histology patch collections."""

import http.client
import os
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..utils import (
    atomic_write,
    ensure_writable_dir,
    io_error,
    new_digest,
    progress,
    temporary_beside,
)
from ..utils._constraints import PATH
from ..utils._sklearn_compat import (
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)
from ._image_folder import LOAD_CONSTRAINTS, check_load_contents, load_image_folder

# What every fetcher takes besides load_image_folder's options.
_FETCH_CONSTRAINTS = {
    "data_home": PATH + [None],
    "archive": PATH + [None],
    "download_if_missing": ["boolean"],
}

ZENODO = "https://zenodo.org/records/1214456/files/{}?download=1"


class DatasetUnavailableError(OSError):
    """A dataset archive is not on disk and cannot be downloaded here.

    Examples
    --------
    LC25000 has no anonymous download: without its archive the error says
    where to get it:

    >>> import tempfile
    >>> from skhisto.datasets import DatasetUnavailableError, fetch_lc25000
    >>> try:
    ...     fetch_lc25000(data_home=tempfile.mkdtemp())
    ... except DatasetUnavailableError as exc:
    ...     print(isinstance(exc, OSError), "Kaggle" in str(exc))
    True True
    """


@dataclass(frozen=True)
class RemoteArchive:
    """A zip archive of an ImageFolder dataset with its provenance.

    Examples
    --------
    >>> from skhisto.datasets import RemoteArchive
    >>> remote = RemoteArchive(
    ...     "tiles.zip", url="https://example.org/tiles.zip", md5=None, size=None, folder="tiles"
    ... )
    >>> remote.filename, remote.folder
    ('tiles.zip', 'tiles')
    """

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


@validate_params({"data_home": PATH + [None]}, prefer_skip_nested_validation=True)
def get_data_home(data_home=None):
    """Dataset folder: ``data_home``, else ``$SKHISTO_DATA_HOME``, else ``~/skhisto_data``.

    The folder is created when missing; it need not be writable once the
    datasets are unpacked there (see :func:`fetch_archive`).

    Examples
    --------
    >>> import tempfile
    >>> from skhisto.datasets import get_data_home
    >>> home = tempfile.mkdtemp()
    >>> str(get_data_home(home)) == home
    True
    """
    if data_home is None:
        home = os.environ.get("SKHISTO_DATA_HOME") or Path.home() / "skhisto_data"
    elif os.fspath(data_home):
        home = data_home
    else:  # "" would be the working directory, never what was meant
        raise ValueError(f"data_home must be a folder path or None; got {data_home!r}.")
    home = Path(home).expanduser()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise io_error(exc, "create data_home= directory", home) from exc
    return home


def _md5(path):
    digest = new_digest("download")
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                digest.update(block)
    except OSError as exc:
        raise io_error(exc, "read", path) from exc
    return digest.hexdigest()


class _NetworkError(Exception):
    """The connection failed mid-download (not the local disk)."""


def _blocks(response):
    while True:
        try:
            block = response.read(1 << 20)
        except (OSError, http.client.HTTPException) as exc:
            raise _NetworkError(exc) from exc
        if not block:
            return
        yield block


def _download(remote, target):
    """Download ``remote`` to ``target`` through one atomic write: never a partial file."""
    if remote.url is None:
        raise DatasetUnavailableError(
            f"{remote.filename} is not on disk at {str(target)!r} and has no direct download. "
            f"{remote.how_to_get} Place the archive there, or pass archive=<path>."
        )
    try:
        try:
            response = urllib.request.urlopen(remote.url, timeout=60)
        except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
            raise _NetworkError(exc) from exc
        with response, atomic_write(target) as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            n = None if total is None else -(-total // (1 << 20))
            received = 0
            blocks = _blocks(response)
            for block in progress(blocks, total=n, desc=remote.filename, verbose=True):
                received += out.write(block)
            if total is not None and received != total:
                raise _NetworkError(f"connection closed after {received} of {total} bytes")
    except _NetworkError as exc:  # local write errors (disk full) pass through, naming target
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
    """Unpack into a temporary folder moved into place at the end: never a partial dataset."""
    try:
        with temporary_beside(destination, folder=True) as (tmp, _):
            _unzip(archive, tmp)
            os.replace(tmp, destination)
    except OSError as exc:
        if not destination.is_dir():  # else another process unpacked it first: use it
            raise io_error(exc, f"unpack {str(archive)!r} into", destination.parent) from exc


def _unzip(archive, folder):
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                # Refuse zip-slip paths that would write outside the destination.
                if member.startswith("/") or ".." in Path(member).parts:
                    raise ValueError(f"Unsafe path {member!r} in archive {str(archive)!r}.")
            zf.extractall(folder)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ValueError(
            f"Archive {str(archive)!r} is truncated or corrupt ({exc}); nothing was unpacked. "
            "Delete it and download it again."
        ) from exc


def _check_load_kwargs(load_kwargs):
    """Validate what a fetcher passes to :func:`load_image_folder`, before any download."""
    unknown = sorted(set(load_kwargs) - set(LOAD_CONSTRAINTS))
    if unknown:
        raise TypeError(
            f"Unknown parameters {unknown} for load_image_folder; expected some of "
            f"{sorted(LOAD_CONSTRAINTS)}."
        )
    validate_parameter_constraints(LOAD_CONSTRAINTS, load_kwargs, caller_name="load_image_folder")
    check_load_contents(**load_kwargs)


@validate_params(
    {"remote": [RemoteArchive], **_FETCH_CONSTRAINTS}, prefer_skip_nested_validation=True
)
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

    Examples
    --------
    >>> import io, os, tempfile, zipfile
    >>> from PIL import Image
    >>> png = io.BytesIO()
    >>> Image.new("RGB", (8, 8)).save(png, "PNG")
    >>> archive = os.path.join(tempfile.mkdtemp(), "tiles.zip")
    >>> with zipfile.ZipFile(archive, "w") as zf:
    ...     for name in ("normal", "tumor"):
    ...         zf.writestr(f"tiles/{name}/0.png", png.getvalue())
    >>> from skhisto.datasets import RemoteArchive, fetch_archive
    >>> remote = RemoteArchive("tiles.zip", url=None, md5=None, size=None, folder="tiles")
    >>> root = fetch_archive(remote, data_home=tempfile.mkdtemp(), archive=archive)
    >>> root.name, sorted(p.name for p in root.iterdir())
    ('tiles', ['normal', 'tumor'])
    """
    home = get_data_home(data_home)
    unpacked = home / remote.filename.removesuffix(".zip")
    if not unpacked.is_dir():
        source = Path(archive) if archive is not None else home / remote.filename
        if not source.is_file():
            if archive is not None:
                raise FileNotFoundError(f"Archive does not exist or is not a file: {str(source)!r}")
            if not download_if_missing:
                raise DatasetUnavailableError(
                    f"{remote.filename} is not in {str(home)!r} and download_if_missing=False."
                )
        # Downloading and unpacking write into data_home: prove it writable first.
        ensure_writable_dir(home, "data_home")
        if not source.is_file():
            _download(remote, source)
        _verify(remote, source)
        _extract(source, unpacked)
    root = unpacked / remote.folder
    return root if root.is_dir() else unpacked


@validate_params(
    {"normalized": ["boolean"], **_FETCH_CONSTRAINTS}, prefer_skip_nested_validation=True
)
def fetch_nct_crc_he_100k(
    *, normalized=True, data_home=None, archive=None, download_if_missing=True, **load_kwargs
):
    """NCT-CRC-HE-100K: 100,000 colorectal H&E patches, 9 tissue classes (Kather et al., 2019).

    Parameters
    ----------
    normalized : bool, default=True
        The Macenko-normalized release; ``False`` for ``NCT-CRC-HE-100K-NONORM``.
    data_home, archive, download_if_missing
        See :func:`fetch_archive`.
    **load_kwargs
        Passed to :func:`load_image_folder` (``max_per_class``, ``load_images`` ...).

    Returns
    -------
    Bunch
        As :func:`load_image_folder`.

    Examples
    --------
    >>> import os, tempfile
    >>> from PIL import Image
    >>> home = tempfile.mkdtemp()
    >>> for name in ("ADI", "TUM"):  # a copy unpacked earlier: read in place, no download
    ...     folder = os.path.join(home, "NCT-CRC-HE-100K", "NCT-CRC-HE-100K", name)
    ...     os.makedirs(folder)
    ...     Image.new("RGB", (8, 8)).save(os.path.join(folder, "0.png"))
    >>> from skhisto.datasets import fetch_nct_crc_he_100k
    >>> data = fetch_nct_crc_he_100k(data_home=home, max_per_class=1)
    >>> data.target_names, len(data.paths)
    (['ADI', 'TUM'], 2)
    """
    _check_load_kwargs(load_kwargs)
    remote = NCT_CRC_HE_100K if normalized else NCT_CRC_HE_100K_NONORM
    root = fetch_archive(
        remote, data_home=data_home, archive=archive, download_if_missing=download_if_missing
    )
    return load_image_folder(root, **load_kwargs)


@validate_params(_FETCH_CONSTRAINTS, prefer_skip_nested_validation=True)
def fetch_crc_val_he_7k(*, data_home=None, archive=None, download_if_missing=True, **load_kwargs):
    """CRC-VAL-HE-7K: 7,180 colorectal H&E patches from 50 patients (Kather et al., 2019).

    See :func:`fetch_nct_crc_he_100k` for the parameters.

    Examples
    --------
    The first call downloads the 800 MB archive; ``download_if_missing=False``
    only reads a copy already there (one unpacked in place is read as
    :func:`fetch_nct_crc_he_100k` shows):

    >>> import tempfile
    >>> from skhisto.datasets import fetch_crc_val_he_7k
    >>> fetch_crc_val_he_7k(data_home=tempfile.mkdtemp(), download_if_missing=False)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skhisto.datasets._fetch.DatasetUnavailableError: CRC-VAL-HE-7K.zip is not in ...
    """
    _check_load_kwargs(load_kwargs)
    root = fetch_archive(
        CRC_VAL_HE_7K, data_home=data_home, archive=archive, download_if_missing=download_if_missing
    )
    return load_image_folder(root, **load_kwargs)


@validate_params(
    {"part": [StrOptions({"lung", "colon"})], **_FETCH_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
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

    Examples
    --------
    A stand-in for the zip from Kaggle:

    >>> import io, os, tempfile, zipfile
    >>> from PIL import Image
    >>> png = io.BytesIO()
    >>> Image.new("RGB", (8, 8)).save(png, "PNG")
    >>> archive = os.path.join(tempfile.mkdtemp(), "lung_colon_image_set.zip")
    >>> with zipfile.ZipFile(archive, "w") as zf:
    ...     for name in ("lung_aca", "lung_n", "lung_scc"):
    ...         zf.writestr(f"lung_colon_image_set/lung_image_sets/{name}/0.png", png.getvalue())
    >>> from skhisto.datasets import fetch_lc25000
    >>> fetch_lc25000(data_home=tempfile.mkdtemp(), archive=archive).target_names
    ['lung_aca', 'lung_n', 'lung_scc']
    """
    _check_load_kwargs(load_kwargs)
    root = fetch_archive(
        LC25000, data_home=data_home, archive=archive, download_if_missing=download_if_missing
    )
    return load_image_folder(_lc25000_part(root, part), **load_kwargs)


_LC25000_CLASSES = {"lung": ("lung_aca", "lung_n", "lung_scc"), "colon": ("colon_aca", "colon_n")}


def _lc25000_part(root, part):
    """The folder holding ``part``'s class folders; a wrong layout is an error, not a guess."""
    expected = _LC25000_CLASSES[part]
    organ = root / f"{part}_image_sets"
    if organ.is_dir():
        return organ
    found = sorted(p.name for p in root.iterdir() if p.is_dir())
    if found and set(found) <= set(expected):  # an archive of the class folders alone
        return root
    raise ValueError(
        f"The unpacked LC25000 at {str(root)!r} has no '{part}_image_sets' folder with the "
        f"classes {list(expected)} (found {found}): it is not the LC25000 archive, or holds "
        f"only another part. Delete {str(root)!r} and pass the original zip as archive=."
    )
