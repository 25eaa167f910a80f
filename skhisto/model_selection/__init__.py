"""Model selection under label noise."""

from typing import TYPE_CHECKING

from ..utils._lazy import attach

if TYPE_CHECKING:  # the exports; at run time each loads on first use (utils._lazy)
    from ._compare import compare_backbones
    from ._noise_curve import noise_robustness_curve
    from ._seeds import repeat_over_seeds, summarize_seeds
    from ._tracking import Tracker, make_tracker

__all__ = [
    "Tracker",
    "compare_backbones",
    "make_tracker",
    "noise_robustness_curve",
    "repeat_over_seeds",
    "summarize_seeds",
]

__getattr__, __dir__ = attach(__name__, __file__)
