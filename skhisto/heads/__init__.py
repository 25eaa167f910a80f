"""Classification heads for frozen embeddings, and the noise-robust losses they train with."""

from typing import TYPE_CHECKING

from ..utils._lazy import attach

if TYPE_CHECKING:  # the exports; at run time each loads on first use (utils._lazy)
    from ._bags import make_bags
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
    from ._mil import ABMILHead, MeanPoolHead

__all__ = [
    "LOSSES",
    "ABMILHead",
    "Bootstrapping",
    "CrossEntropy",
    "GeneralizedCrossEntropy",
    "LinearHead",
    "MLPHead",
    "MeanAbsoluteError",
    "MeanPoolHead",
    "NormalizedCrossEntropyReverse",
    "SymmetricCrossEntropy",
    "make_bags",
]

__getattr__, __dir__ = attach(__name__, __file__)
