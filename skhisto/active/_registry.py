"""Query strategies by name: what ``skhisto active --strategy`` accepts."""

from ..utils._registry import Registry
from ..utils._sklearn_compat import validate_params
from ._base import QueryStrategy

QUERY_STRATEGIES = Registry("query strategy", "skhisto.active", base=QueryStrategy)


@validate_params({"name": [str]}, prefer_skip_nested_validation=False)
def register_query_strategy(name, **params):
    """Class decorator: offer a query strategy by ``name``, built with ``params``.

    :func:`make_query_strategy` and the command line (``skhisto active
    --strategy name``, ``skhisto active-simclr --strategy name``) then accept
    it. One class can be registered under several names with different
    parameters (``UncertaintySampling`` as ``"entropy"`` and ``"margin"``).

    Parameters
    ----------
    name : str
        The name, unique among the query strategies.
    **params
        Parameters the class is built with under this name.

    Returns
    -------
    decorator : callable
        Registers the class it decorates and returns it unchanged.

    See Also
    --------
    unregister_query_strategy : Remove it again.
    list_query_strategies : The registered names.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.active import (
    ...     RandomSampling, make_query_strategy, register_query_strategy,
    ...     unregister_query_strategy,
    ... )
    >>> @register_query_strategy("first")
    ... class FirstSampling(RandomSampling):
    ...     def _select(self, X, y, labeled, candidates, batch_size, estimator, rng):
    ...         return candidates[:batch_size], -np.arange(len(candidates), dtype=float)
    >>> make_query_strategy("first", random_state=0)
    FirstSampling(random_state=0)
    >>> unregister_query_strategy("first")
    """
    return QUERY_STRATEGIES.register(name, **params)


@validate_params({"name": [str]}, prefer_skip_nested_validation=True)
def unregister_query_strategy(name):
    """Remove the query strategy registered as ``name``.

    Parameters
    ----------
    name : str
        A name given to :func:`register_query_strategy` (built-in ones too).

    Raises
    ------
    ValueError
        When no query strategy has that name.

    Examples
    --------
    >>> from skhisto.active import (
    ...     UncertaintySampling, register_query_strategy, unregister_query_strategy
    ... )
    >>> _ = register_query_strategy("least-confident", method="least_confident")(
    ...     UncertaintySampling
    ... )
    >>> unregister_query_strategy("least-confident")
    """
    QUERY_STRATEGIES.unregister(name)


@validate_params(
    {"name": [str], "random_state": ["random_state"]}, prefer_skip_nested_validation=True
)
def make_query_strategy(name, *, random_state=None):
    """A new query strategy of the class registered as ``name``.

    Parameters
    ----------
    name : str
        One of :func:`list_query_strategies`.
    random_state : int, RandomState instance or None, default=None
        Seeds the strategy, when it draws at random (others have no
        ``random_state`` and ignore it).

    Returns
    -------
    strategy : QueryStrategy
        Built with the parameters registered with ``name``.

    Raises
    ------
    ValueError
        When no query strategy has that name (the message lists them).

    Examples
    --------
    >>> from skhisto.active import make_query_strategy
    >>> make_query_strategy("margin", random_state=0)
    UncertaintySampling(method='margin')
    >>> make_query_strategy("coreset", random_state=0)
    CoresetSampling(random_state=0)
    """
    strategy = QUERY_STRATEGIES.make(name)
    if "random_state" in strategy.get_params():
        strategy.set_params(random_state=random_state)
    return strategy


def list_query_strategies():
    """The names of the registered query strategies, sorted.

    Returns
    -------
    names : list of str

    Examples
    --------
    >>> from skhisto.active import list_query_strategies
    >>> list_query_strategies()
    ['coreset', 'entropy', 'margin', 'random', 'typiclust']
    """
    return QUERY_STRATEGIES.names()
