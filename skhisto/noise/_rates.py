"""The one check of a list of noise rates, shared by the library and the command line."""

from numbers import Integral

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


@validate_params(
    {
        "noise": "no_validation",  # any sampler; only UniformNoise and AsymmetricNoise warn
        "rates": ["array-like"],
        "n_classes": [Integral],
    },
    prefer_skip_nested_validation=True,
)
def check_majority_rates(noise, rates, n_classes):
    """Warn when a noise rate makes a class's noisy label as common as its true one.

    With :class:`UniformNoise` a class keeps ``1 - rate`` of its labels and
    each of the ``K - 1`` others gets ``rate / (K - 1)``, so from ``rate =
    (K - 1) / K`` the true label is no longer the majority; with
    :class:`AsymmetricNoise` all the flips go to one partner, so from ``rate =
    0.5``. A model trained there learns the flipped labels: a score below
    chance is expected. One warning names every such rate (the injectors and
    :func:`~skhisto.model_selection.noise_robustness_curve` call this).

    Parameters
    ----------
    noise : label-noise sampler
        The noise model (others than the two above never warn).
    rates : array-like of float
        The noise rates.
    n_classes : int
        The number of classes ``K``.

    Returns
    -------
    threshold : float or None
        The rate from which the noisy label is the majority (None: the
        noise model has no single one).

    Examples
    --------
    >>> import warnings
    >>> from skhisto.noise import UniformNoise, check_majority_rates
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     check_majority_rates(UniformNoise(), [0.2, 0.6], n_classes=2)
    0.5
    >>> str(caught[0].message).split(":")[0]
    'UniformNoise at rate 0.6 with K=2 classes reaches (K-1)/K = 0.5'
    """
    warn_majority(noise, rates, n_classes)
    return majority_rate(noise, n_classes)


def warn_majority(noise, rates, n_classes):
    """Warn (once per message) when a rate reaches :func:`majority_rate`."""
    from ..utils import warn

    message = majority_message(noise, rates, n_classes)
    if message is not None:
        warn(message, UserWarning)
