"""skhisto: scikit-learn-compatible histopathology classification under noisy and scarce labels."""

from .embedding import FoundationEmbedder

__version__ = "0.1.0.dev0"

__all__ = ["FoundationEmbedder", "__version__"]
