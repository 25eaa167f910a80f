"""The chance level of a score, drawn as a dashed line on every score plot."""

from numbers import Real

import numpy as np

from ..utils._sklearn_compat import Interval, StrOptions

#: validate_params constraint of the plots' ``chance`` parameter.
CHANCE_CONSTRAINT = [StrOptions({"auto"}), Interval(Real, 0, 1, closed="both"), None]


def chance_level(metric, n_classes=None, class_shares=None):
    """The score of a classifier that ignores its input: ``1/K`` balanced accuracy, the
    majority class's share of accuracy (when the shares are known); None otherwise."""
    if metric == "balanced_accuracy" and n_classes:
        return 1.0 / n_classes
    if metric == "accuracy" and class_shares is not None and len(class_shares):
        return float(np.max(class_shares))
    return None


def chance_words(metric, value):
    """The legend entry of the chance line."""
    if metric == "balanced_accuracy":
        return f"chance (1/K = {value:.2f})"
    if metric == "accuracy":
        return f"chance (majority class, {value:.2f})"
    return f"chance ({value:.2f})"


def draw_chance(ax, value, metric):
    """A dashed grey line across ``ax`` at ``value`` (nothing when ``value`` is None)."""
    if value is None:
        return None
    return ax.axhline(
        value,
        linestyle="--",
        color="0.45",
        linewidth=1,
        zorder=0.5,
        label=chance_words(metric, value),
    )


def table_chance(table, metric):
    """The chance level a results table records (``attrs``: ``n_classes``, ``class_shares``)."""
    attrs = getattr(table, "attrs", {}) or {}
    return chance_level(metric, attrs.get("n_classes"), attrs.get("class_shares"))
