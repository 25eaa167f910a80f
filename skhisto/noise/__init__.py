"""Label-noise samplers and a classifier that trains on noisy labels and scores on clean ones."""

from typing import TYPE_CHECKING

from ..utils._lazy import attach

if TYPE_CHECKING:  # the exports; at run time each loads on first use (utils._lazy)
    from ._asymmetric import AsymmetricNoise
    from ._base import BaseLabelNoise
    from ._classifier import NoisyLabelClassifier
    from ._group import GroupNoise
    from ._rates import check_majority_rates, check_noise_rates
    from ._registry import (
        get_noise_model,
        list_noise_models,
        register_noise_model,
        unregister_noise_model,
    )
    from ._transition import TransitionMatrixNoise
    from ._uniform import UniformNoise

__all__ = [
    "AsymmetricNoise",
    "BaseLabelNoise",
    "GroupNoise",
    "NoisyLabelClassifier",
    "TransitionMatrixNoise",
    "UniformNoise",
    "check_majority_rates",
    "check_noise_rates",
    "get_noise_model",
    "list_noise_models",
    "register_noise_model",
    "unregister_noise_model",
]

__getattr__, __dir__ = attach(__name__, __file__)
