"""The one check of a list of noise rates, shared by the library and the command line."""

import numpy as np

from ..utils._sklearn_compat import validate_params


@validate_params({"rates": ["array-like"]}, prefer_skip_nested_validation=True)
def check_noise_rates(rates):
    """Check noise rates: non-empty, distinct, each a finite number in [0, 1).

    Parameters
    ----------
    rates : array-like of float
        Noise rates, e.g. the points of a noise-robustness curve (strings
        that spell numbers are read as numbers).

    Returns
    -------
    rates : ndarray of shape (n_rates,), dtype=float
        The rates as a 1-D float array, in the given order.

    Raises
    ------
    ValueError
        When a rate is not a number in [0, 1), no rate is given, or a rate
        is given twice.

    Examples
    --------
    >>> from skhisto.noise import check_noise_rates
    >>> check_noise_rates([0, "0.2", 0.4])
    array([0. , 0.2, 0.4])
    >>> check_noise_rates([0.2, 1.0])
    Traceback (most recent call last):
    ...
    ValueError: rates must be noise rates in [0, 1); got [0.2, 1.0].
    """
    try:
        values = np.asarray(rates, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"rates must be numbers in [0, 1); got {rates!r}.") from exc
    # NaN fails both comparisons, so the range is checked positively.
    if not len(values) or not ((values >= 0) & (values < 1)).all():
        raise ValueError(f"rates must be noise rates in [0, 1); got {values.tolist()}.")
    if len(np.unique(values)) != len(values):
        raise ValueError(f"rates has repeated values {values.tolist()}; give each rate once.")
    return values


#: Words of every majority warning (a filter's ``message`` matches them).
MAJORITY_WORDS = "is no longer the majority"


def majority_rate(noise, n_classes):
    """The noise rate from which a class's flipped label is as common as its true one.

    ``(K - 1) / K`` for :class:`UniformNoise` (the flipped share ``rate`` is spread over the
    ``K - 1`` other classes), ``0.5`` for :class:`AsymmetricNoise` (all of it goes to one
    partner class); None for other noise models (no single threshold).
    """
    from ._asymmetric import AsymmetricNoise
    from ._uniform import UniformNoise

    if isinstance(noise, UniformNoise):
        return (n_classes - 1) / n_classes
    if isinstance(noise, AsymmetricNoise):
        return 0.5
    return None


def majority_message(noise, rates, n_classes):
    """The warning for the ``rates`` of ``noise`` at or past :func:`majority_rate` (None when
    none is)."""
    threshold = majority_rate(noise, n_classes)
    if threshold is None:
        return None
    past = [float(r) for r in np.ravel(rates) if r >= threshold - 1e-12]
    if not past:
        return None
    name = type(noise).__name__
    rule = f"(K-1)/K = {threshold:.3g}"
    if name == "AsymmetricNoise":
        rule = "0.5 (each class flips to one partner)"
    shown = ", ".join(f"{r:g}" for r in past)
    return (
        f"{name} at rate {shown} with K={n_classes} classes reaches {rule}: "
        f"a class's true label {MAJORITY_WORDS} among its noisy labels, so a model trained on "
        "them learns the flipped labels and a balanced accuracy at or below chance "
        f"(1/K = {1 / n_classes:.3g}) is expected."
    )


def warn_majority(noise, rates, n_classes):
    """Warn (once per message) when a rate reaches :func:`majority_rate`."""
    from ..utils import warn

    message = majority_message(noise, rates, n_classes)
    if message is not None:
        warn(message, UserWarning)
