"""Classification heads for frozen embeddings, and the noise-robust losses they train with."""

from ._heads import LinearHead, MLPHead
from ._losses import (
    LOSSES,
    Bootstrapping,
    CrossEntropy,
    GeneralizedCrossEntropy,
    MeanAbsoluteError,
    NormalizedCrossEntropyReverse,
    SymmetricCrossEntropy,
)

__all__ = [
    "LOSSES",
    "Bootstrapping",
    "CrossEntropy",
    "GeneralizedCrossEntropy",
    "LinearHead",
    "MLPHead",
    "MeanAbsoluteError",
    "NormalizedCrossEntropyReverse",
    "SymmetricCrossEntropy",
]
