"""Model selection under label noise."""

from ._noise_curve import noise_robustness_curve

__all__ = ["noise_robustness_curve"]
