"""skhisto: scikit-learn-compatible histopathology classification under noisy and scarce labels."""

__version__ = "0.1.0.dev0"

from .contrastive import SimCLREmbedder

__all__ = ["SimCLREmbedder", "__version__"]
