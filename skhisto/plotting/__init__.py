"""Plots of skhisto experiments (matplotlib, imported on first use)."""

from ._noise import plot_noise_robustness

__all__ = ["plot_noise_robustness"]
