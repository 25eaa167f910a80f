"""skhisto: scikit-learn-compatible histopathology classification under noisy and scarce labels."""

from .active import (
    ActiveLearner,
    CoresetSampling,
    RandomSampling,
    TypiClustSampling,
    UncertaintySampling,
)
from .embedding import FoundationEmbedder

__version__ = "0.1.0.dev0"

__all__ = [
    "ActiveLearner",
    "CoresetSampling",
    "FoundationEmbedder",
    "RandomSampling",
    "TypiClustSampling",
    "UncertaintySampling",
    "__version__",
]
