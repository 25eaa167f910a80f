"""Active sampling: query strategies with one interface, k-center greedy at scale, and a loop."""

from typing import TYPE_CHECKING

from ..utils._lazy import attach

if TYPE_CHECKING:  # the exports; at run time each loads on first use (utils._lazy)
    from ._base import MISSING_LABEL, QueryStrategy, is_unlabeled
    from ._coreset import CoresetSampling
    from ._kcenter import k_center_greedy
    from ._learner import ActiveLearner
    from ._oracle import HumanOracle, oracle_from_decisions
    from ._random import RandomSampling
    from ._registry import (
        list_query_strategies,
        make_query_strategy,
        register_query_strategy,
        unregister_query_strategy,
    )
    from ._typiclust import TypiClustSampling, typicality
    from ._uncertainty import UncertaintySampling, uncertainty_scores

__all__ = [
    "MISSING_LABEL",
    "ActiveLearner",
    "CoresetSampling",
    "HumanOracle",
    "QueryStrategy",
    "RandomSampling",
    "TypiClustSampling",
    "UncertaintySampling",
    "is_unlabeled",
    "k_center_greedy",
    "list_query_strategies",
    "make_query_strategy",
    "oracle_from_decisions",
    "register_query_strategy",
    "typicality",
    "uncertainty_scores",
    "unregister_query_strategy",
]

__getattr__, __dir__ = attach(__name__, __file__)
