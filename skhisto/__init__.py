"""skhisto: scikit-learn-compatible histopathology classification under noisy and scarce labels."""

from .heads import LinearHead, MLPHead
from .noise import AsymmetricNoise, NoisyLabelClassifier, TransitionMatrixNoise, UniformNoise

__version__ = "0.1.0.dev0"

__all__ = [
    "AsymmetricNoise",
    "LinearHead",
    "MLPHead",
    "NoisyLabelClassifier",
    "TransitionMatrixNoise",
    "UniformNoise",
    "__version__",
]
