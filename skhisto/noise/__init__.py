"""Label-noise samplers and a classifier that trains on noisy labels and scores on clean ones."""

from ._asymmetric import AsymmetricNoise
from ._base import BaseLabelNoise
from ._classifier import NoisyLabelClassifier
from ._transition import TransitionMatrixNoise
from ._uniform import UniformNoise

__all__ = [
    "AsymmetricNoise",
    "BaseLabelNoise",
    "NoisyLabelClassifier",
    "TransitionMatrixNoise",
    "UniformNoise",
]
