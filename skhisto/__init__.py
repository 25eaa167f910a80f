"""skhisto: scikit-learn-compatible histopathology classification under noisy and scarce labels."""

from .embedding import FoundationEmbedder
from .heads import LinearHead, MLPHead
from .noise import AsymmetricNoise, NoisyLabelClassifier, TransitionMatrixNoise, UniformNoise

__version__ = "0.1.0.dev0"

__all__ = [
    "AsymmetricNoise",
    "FoundationEmbedder",
    "LinearHead",
    "MLPHead",
    "NoisyLabelClassifier",
    "TransitionMatrixNoise",
    "UniformNoise",
    "__version__",
]
