"""Datasets: ImageFolder layouts and the public histology patch collections."""

from typing import TYPE_CHECKING

from ..utils._lazy import attach

if TYPE_CHECKING:  # the exports; at run time each loads on first use (utils._lazy)
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
    from ._slide import make_slide

__all__ = [
    "DatasetUnavailableError",
    "RemoteArchive",
    "fetch_archive",
    "fetch_crc_val_he_7k",
    "fetch_lc25000",
    "fetch_nct_crc_he_100k",
    "get_data_home",
    "load_image_folder",
    "make_slide",
]

__getattr__, __dir__ = attach(__name__, __file__)
