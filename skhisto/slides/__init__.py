"""Whole-slide images: reading (OpenSlide), tissue tiling, patch-coordinate files and QuPath.

Needs the ``slides`` extra: ``pip install 'skhisto[slides]'``.
"""

from typing import TYPE_CHECKING

from ..utils._lazy import attach

if TYPE_CHECKING:  # the exports; at run time each loads on first use (utils._lazy)
    from ._coordinates import read_coordinates, write_coordinates
    from ._qupath import label_patches, read_qupath_geojson, write_qupath_geojson
    from ._reader import Slide, open_slide, slide_identity
    from ._table import PATCH_COLUMNS, PatchRegions, check_patch_table, is_patch_table
    from ._tiler import SlideTiler
    from ._tissue import tissue_mask

__all__ = [
    "PATCH_COLUMNS",
    "PatchRegions",
    "Slide",
    "SlideTiler",
    "check_patch_table",
    "is_patch_table",
    "label_patches",
    "open_slide",
    "read_coordinates",
    "read_qupath_geojson",
    "slide_identity",
    "tissue_mask",
    "write_coordinates",
    "write_qupath_geojson",
]

__getattr__, __dir__ = attach(__name__, __file__)
