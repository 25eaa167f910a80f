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


def import_scale(module, feature):
    """Import ``module`` (``"zarr"``, ``"distributed"``, ...) of the ``scale`` extra.

    Raises an ImportError naming ``feature`` and ``pip install 'skhisto[scale]'``.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs {module}; install it with `pip install 'skhisto[scale]'`."
        ) from exc


def import_tracking(module, feature):
    """Import ``module`` (``"tensorboard"``, ``"mlflow"``) of the ``tracking`` extra.

    Raises an ImportError naming ``feature``, ``pip install 'skhisto[tracking]'`` and
    the package itself.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs {module}; install it with `pip install 'skhisto[tracking]'` "
            f"(or `pip install {module}`)."
        ) from exc
