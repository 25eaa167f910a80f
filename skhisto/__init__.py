"""skhisto: scikit-learn-compatible histopathology classification under noisy and scarce labels."""

from typing import TYPE_CHECKING

from .utils._batching import quiet_notebook_tqdm
from .utils._lazy import attach

if TYPE_CHECKING:  # the exports; at run time each loads on first use (utils._lazy)
    from .active import (
        ActiveLearner,
        CoresetSampling,
        RandomSampling,
        TypiClustSampling,
        UncertaintySampling,
    )
    from .cleaning import LabelIssueFilter, estimate_noise, find_label_issues
    from .contrastive import ActiveSimCLR, SimCLREmbedder
    from .embedding import FoundationEmbedder
    from .heads import ABMILHead, LinearHead, MeanPoolHead, MLPHead, make_bags
    from .noise import (
        AsymmetricNoise,
        GroupNoise,
        NoisyLabelClassifier,
        TransitionMatrixNoise,
        UniformNoise,
    )
    from .slides import SlideTiler
    from .stain import StainNormalizer

__version__ = "0.1.0.dev0"

quiet_notebook_tqdm()  # before timm or huggingface_hub can import tqdm.auto loudly

__all__ = [
    "ABMILHead",
    "ActiveLearner",
    "ActiveSimCLR",
    "AsymmetricNoise",
    "CoresetSampling",
    "FoundationEmbedder",
    "GroupNoise",
    "LabelIssueFilter",
    "LinearHead",
    "MLPHead",
    "MeanPoolHead",
    "NoisyLabelClassifier",
    "RandomSampling",
    "SimCLREmbedder",
    "SlideTiler",
    "StainNormalizer",
    "TransitionMatrixNoise",
    "TypiClustSampling",
    "UncertaintySampling",
    "UniformNoise",
    "__version__",
    "estimate_noise",
    "find_label_issues",
    "make_bags",
]

# Subpackages stay reachable as attributes (skhisto.noise.UniformNoise) after `import skhisto`.
_SUBPACKAGES = (
    "active",
    "backbones",
    "cleaning",
    "contrastive",
    "datasets",
    "embedding",
    "exceptions",
    "heads",
    "io",
    "model_selection",
    "noise",
    "plotting",
    "review",
    "slides",
    "stain",
    "utils",
)
__getattr__, __dir__ = attach(__name__, __file__, submodules=_SUBPACKAGES)
