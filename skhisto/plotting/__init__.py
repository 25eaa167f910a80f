"""Plots (matplotlib, from the ``plot`` extra; imported on first use)."""

from typing import TYPE_CHECKING

from ..utils._lazy import attach

if TYPE_CHECKING:  # the exports; at run time each loads on first use (utils._lazy)
    from ._attention import plot_attention_heatmap
    from ._learning_curve import plot_learning_curve
    from ._mpl import require_pyplot
    from ._noise import plot_noise_robustness

__all__ = [
    "plot_attention_heatmap",
    "plot_learning_curve",
    "plot_noise_robustness",
    "require_pyplot",
]

__getattr__, __dir__ = attach(__name__, __file__)
