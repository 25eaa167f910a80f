"""skhisto: scikit-learn-compatible histopathology classification under noisy and scarce labels."""

from .active import (
    ActiveLearner,
    CoresetSampling,
    RandomSampling,
    TypiClustSampling,
    UncertaintySampling,
)
from .embedding import FoundationEmbedder
from .heads import LinearHead, MLPHead
from .noise import AsymmetricNoise, NoisyLabelClassifier, TransitionMatrixNoise, UniformNoise

__version__ = "0.1.0.dev0"

__all__ = [
    "ActiveLearner",
    "AsymmetricNoise",
    "CoresetSampling",
    "FoundationEmbedder",
    "LinearHead",
    "MLPHead",
    "NoisyLabelClassifier",
    "RandomSampling",
    "TransitionMatrixNoise",
    "TypiClustSampling",
    "UncertaintySampling",
    "UniformNoise",
    "__version__",
]
