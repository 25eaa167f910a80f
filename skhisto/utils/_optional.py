"""Optional dependencies, imported when a feature needs them."""


def import_pandas(feature):
    """Import pandas, or raise an ImportError naming ``feature`` and the extra to install."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs pandas; install it with `pip install skhisto[pandas]`."
        ) from exc
    return pd
