"""Datasets: ImageFolder layouts and the public histology patch collections."""

from ._fetch import (
    DatasetUnavailableError,
    RemoteArchive,
    fetch_archive,
    fetch_crc_val_he_7k,
    fetch_lc25000,
    fetch_nct_crc_he_100k,
    get_data_home,
)
from ._image_folder import load_image_folder

__all__ = [
    "DatasetUnavailableError",
    "RemoteArchive",
    "fetch_archive",
    "fetch_crc_val_he_7k",
    "fetch_lc25000",
    "fetch_nct_crc_he_100k",
    "get_data_home",
    "load_image_folder",
]
