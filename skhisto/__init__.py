"""skhisto: scikit-learn-compatible histopathology classification under noisy and scarce labels."""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
