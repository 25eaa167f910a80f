"""Lazy matplotlib import: plotting stays an optional extra."""


def require_pyplot():
    """Import ``matplotlib.pyplot``, or say which extra installs it.

    Every plot of skhisto draws through this, so matplotlib is imported on
    the first plot only and its absence is one clear ImportError.

    Returns
    -------
    module
        ``matplotlib.pyplot``.

    Raises
    ------
    ImportError
        When matplotlib is not installed (the message names ``skhisto[plot]``).

    Examples
    --------
    >>> from skhisto.plotting import require_pyplot
    >>> require_pyplot().__name__
    'matplotlib.pyplot'
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "skhisto.plotting needs matplotlib; install it with `pip install skhisto[plot]`."
        ) from exc
    return plt
