"""The query strategies the command line offers, by name."""

#: ``--strategy`` choices, as the docs name them.
STRATEGY_NAMES = ("random", "entropy", "margin", "coreset", "typiclust")


def make_strategy(name, random_state):
    """The query strategy called ``name`` (one of ``STRATEGY_NAMES``), seeded where it draws."""
    from .. import active

    if name in ("entropy", "margin"):
        return active.UncertaintySampling(method=name)
    factories = {
        "random": active.RandomSampling,
        "coreset": active.CoresetSampling,
        "typiclust": active.TypiClustSampling,
    }
    return factories[name](random_state=random_state)
