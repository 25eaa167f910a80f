"""Noise models by name: what ``noise="uniform"`` and ``skhisto noise-curve --noise`` accept."""

from ..utils._registry import Registry
from ..utils._sklearn_compat import validate_params
from ._base import BaseLabelNoise

NOISE_MODELS = Registry(
    "noise model", "skhisto.noise", base=BaseLabelNoise, required=("rate", "random_state")
)


@validate_params({"name": [str]}, prefer_skip_nested_validation=True)
def register_noise_model(name):
    """Class decorator: offer a label-noise sampler by ``name``.

    The library (:func:`~skhisto.model_selection.noise_robustness_curve`'s
    ``noise=name``) and the command line (``skhisto noise-curve --noise
    name``) then accept it. The class is built as ``cls(rate=..., random_state=...)``,
    so it needs both parameters.

    Parameters
    ----------
    name : str
        The name, unique among the noise models.

    Returns
    -------
    decorator : callable
        Registers the class it decorates and returns it unchanged.

    See Also
    --------
    unregister_noise_model : Remove it again.
    list_noise_models : The registered names.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.noise import (
    ...     BaseLabelNoise, get_noise_model, register_noise_model, unregister_noise_model
    ... )
    >>> @register_noise_model("next-class")
    ... class NextClassNoise(BaseLabelNoise):
    ...     def __init__(self, rate=0.2, *, random_state=None):
    ...         super().__init__(random_state=random_state)
    ...         self.rate = rate
    ...     def _noisy_codes(self, codes, rng):
    ...         flip = rng.random_sample(len(codes)) < self.rate
    ...         return np.where(flip, (codes + 1) % len(self.classes_), codes)
    >>> get_noise_model("next-class").__name__
    'NextClassNoise'
    >>> unregister_noise_model("next-class")
    """
    return NOISE_MODELS.register(name)


@validate_params({"name": [str]}, prefer_skip_nested_validation=True)
def unregister_noise_model(name):
    """Remove the noise model registered as ``name``.

    Parameters
    ----------
    name : str
        A name given to :func:`register_noise_model` (built-in ones too).

    Raises
    ------
    ValueError
        When no noise model has that name.

    Examples
    --------
    >>> from skhisto.noise import UniformNoise, register_noise_model, unregister_noise_model
    >>> _ = register_noise_model("flip")(UniformNoise)
    >>> unregister_noise_model("flip")
    """
    NOISE_MODELS.unregister(name)


@validate_params({"name": [str]}, prefer_skip_nested_validation=True)
def get_noise_model(name):
    """The noise sampler class registered as ``name``.

    Parameters
    ----------
    name : str
        One of :func:`list_noise_models`.

    Returns
    -------
    cls : type
        The sampler class; ``cls(rate=0.2, random_state=0)`` builds one.

    Raises
    ------
    ValueError
        When no noise model has that name (the message lists them).

    Examples
    --------
    >>> from skhisto.noise import get_noise_model
    >>> get_noise_model("asymmetric")(rate=0.3, random_state=0)
    AsymmetricNoise(random_state=0, rate=0.3)
    """
    return NOISE_MODELS.get(name)[0]


def list_noise_models():
    """The names of the registered noise models, sorted.

    Returns
    -------
    names : list of str

    Examples
    --------
    >>> from skhisto.noise import list_noise_models
    >>> list_noise_models()
    ['asymmetric', 'group', 'uniform']
    """
    return NOISE_MODELS.names()
