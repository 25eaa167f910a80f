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
