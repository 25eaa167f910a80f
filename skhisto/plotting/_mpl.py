"""Lazy matplotlib import: plotting stays an optional extra."""


def require_pyplot():
    """Return ``matplotlib.pyplot``, or raise an ImportError naming the ``plot`` extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "skhisto.plotting needs matplotlib; install it with `pip install skhisto[plot]`."
        ) from exc
    return plt
