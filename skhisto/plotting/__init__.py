"""Plots (matplotlib, from the ``plot`` extra: ``pip install skhisto[plot]``)."""

from ._learning_curve import plot_learning_curve

__all__ = ["plot_learning_curve"]
