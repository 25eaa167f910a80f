"""Stain normalisation (Reinhard, Macenko, Vahadane) and stain augmentation (HED jitter)."""

from typing import TYPE_CHECKING

from ..utils._lazy import attach

if TYPE_CHECKING:  # the exports; at run time each loads on first use (utils._lazy)
    from ._augment import HEDJitter, hed_jitter
    from ._normalizer import StainNormalizer
    from ._synthetic import make_stained_tiles

__all__ = [
    "HEDJitter",
    "StainNormalizer",
    "hed_jitter",
    "make_stained_tiles",
]

__getattr__, __dir__ = attach(__name__, __file__)
