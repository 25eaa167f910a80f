"""Plots (matplotlib, from the ``plot`` extra; imported on first use)."""

from ._learning_curve import plot_learning_curve
from ._noise import plot_noise_robustness

__all__ = ["plot_learning_curve", "plot_noise_robustness"]
