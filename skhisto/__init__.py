"""skhisto: scikit-learn-compatible histopathology classification under noisy and scarce labels."""

from .contrastive import SimCLREmbedder
from .embedding import FoundationEmbedder

__version__ = "0.1.0.dev0"

__all__ = ["FoundationEmbedder", "SimCLREmbedder", "__version__"]
