"""Uniform (symmetric) label noise: a fixed fraction of labels flipped to other classes."""

from numbers import Real

from ..utils._sklearn_compat import Interval
from ._base import BaseLabelNoise, document_fitted_attributes
from ._rates import warn_majority
from ._registry import register_noise_model


@register_noise_model("uniform")
@document_fitted_attributes
class UniformNoise(BaseLabelNoise):
    """Flip exactly ``round(rate * n)`` labels, each to a uniformly drawn other class.

    This is the uniform noise of the label-noise literature as the
    contrastive-embeddings paper defines it: the number of flipped labels is
    exact, not binomial, and no flip keeps its label. The flip order and the
    new classes are drawn once from ``random_state``, and the first
    ``round(rate * n)`` samples of that order are flipped, so for a fixed
    ``random_state`` the flipped sets are nested as ``rate`` grows: a curve
    over rates is one experiment rather than independent draws.

    Parameters
    ----------
    rate : float in [0, 1), default=0.2
        Fraction of labels to flip.
    random_state : int, RandomState instance or None, default=None
        Seeds the flip order and the new classes.

    Attributes
    ----------
    {fitted_attributes}

    See Also
    --------
    AsymmetricNoise : Class-conditional flips to a partner class.
    TransitionMatrixNoise : Flips drawn from any transition matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto import UniformNoise
    >>> y = np.repeat(["aca", "n", "scc"], 10)
    >>> X, y_noisy = UniformNoise(rate=0.2, random_state=0).fit_resample(np.zeros((30, 1)), y)
    >>> int((y_noisy != y).sum())
    6
    """

    _parameter_constraints: dict = {
        **BaseLabelNoise._parameter_constraints,
        "rate": [Interval(Real, 0, 1, closed="left")],
    }

    def __init__(self, rate=0.2, *, random_state=None):
        super().__init__(random_state=random_state)
        self.rate = rate

    def _noisy_codes(self, codes, rng):
        n, n_classes = len(codes), len(self.classes_)
        warn_majority(self, [self.rate], len(self.classes_))
        order = rng.permutation(n)
        # A non-zero offset modulo n_classes is a uniform draw among the other classes.
        offsets = rng.randint(1, n_classes, size=n)
        # The first samples of the seeded order flip: nested as the rate grows.
        flip = order[: round(self.rate * n)]
        noisy = codes.copy()
        noisy[flip] = (codes[flip] + offsets[flip]) % n_classes
        return noisy
