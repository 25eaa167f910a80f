"""Asymmetric (class-conditional) label noise: each class flipped to a partner class."""

from numbers import Real

import numpy as np

from ..utils._sklearn_compat import Interval
from ._base import BaseLabelNoise, document_fitted_attributes
from ._rates import warn_majority
from ._registry import register_noise_model


@register_noise_model("asymmetric")
@document_fitted_attributes
class AsymmetricNoise(BaseLabelNoise):
    """Flip ``rate`` of each class to its partner class.

    Asymmetric noise mimics annotators who confuse specific pairs of
    tissue types (stroma and muscle, debris and mucus). Within each class
    ``c`` that has a partner, exactly ``round(rate * n_c)`` labels are
    flipped to the partner. The flip order is drawn once from
    ``random_state``, so for a fixed ``random_state`` the flipped sets are
    nested as ``rate`` grows.

    Parameters
    ----------
    rate : float in [0, 1), default=0.2
        Fraction of each class to flip.
    mapping : dict or None, default=None
        ``{true class: noisy class}``, e.g.
        ``{"STR": "MUS", "MUS": "STR", "DEB": "MUC", "MUC": "DEB"}``.
        Classes absent from its keys keep their labels. Every key and value
        must be a class of ``y``. ``None`` maps each class to the next one
        in sorted order, and the last to the first.
    random_state : int, RandomState instance or None, default=None
        Seeds the flip order.

    Attributes
    ----------
    {fitted_attributes}

    See Also
    --------
    UniformNoise : Flips to uniformly drawn other classes.
    TransitionMatrixNoise : Flips drawn from any transition matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto import AsymmetricNoise
    >>> y = np.repeat(["DEB", "MUC", "MUS", "STR"], 10)
    >>> noise = AsymmetricNoise(0.3, mapping={"STR": "MUS", "MUS": "STR"}, random_state=0)
    >>> _, y_noisy = noise.fit_resample(np.zeros((40, 1)), y)
    >>> flipped = y != y_noisy
    >>> sorted(set(zip(y[flipped].tolist(), y_noisy[flipped].tolist())))
    [('MUS', 'STR'), ('STR', 'MUS')]
    """

    _parameter_constraints: dict = {
        **BaseLabelNoise._parameter_constraints,
        "rate": [Interval(Real, 0, 1, closed="left")],
        "mapping": [dict, None],
    }

    def __init__(self, rate=0.2, *, mapping=None, random_state=None):
        super().__init__(random_state=random_state)
        self.rate = rate
        self.mapping = mapping

    def _partner_codes(self):
        """Partner code of each class code, -1 for classes that keep their labels."""
        n_classes = len(self.classes_)
        if self.mapping is None:
            return (np.arange(n_classes) + 1) % n_classes
        if not self.mapping:
            raise ValueError(
                "AsymmetricNoise mapping is empty, so no label would be flipped; name at least "
                "one {true class: noisy class} pair, or pass mapping=None for the cyclic default."
            )
        index = {label: code for code, label in enumerate(self.classes_.tolist())}
        partners = np.full(n_classes, -1)
        for true, noisy in self.mapping.items():
            for label in (true, noisy):
                if label not in index:
                    raise ValueError(
                        f"AsymmetricNoise mapping {true!r} -> {noisy!r} names the class "
                        f"{label!r}, which is not in y; the classes of y are "
                        f"{self.classes_.tolist()}."
                    )
            if true == noisy:
                raise ValueError(f"AsymmetricNoise mapping sends class {true!r} to itself.")
            partners[index[true]] = index[noisy]
        return partners

    def _noisy_codes(self, codes, rng):
        partners = self._partner_codes()
        warn_majority(self, [self.rate], len(self.classes_))
        order = rng.permutation(len(codes))
        noisy = codes.copy()
        for code in np.flatnonzero(partners >= 0):
            members = order[codes[order] == code]
            # The class's first members in the seeded order flip: nested across rates.
            noisy[members[: round(self.rate * len(members))]] = partners[code]
        return noisy
