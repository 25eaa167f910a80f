"""Find the wrong labels in a labeled set of embeddings, estimate how noisy it is, clean it."""

from typing import TYPE_CHECKING

from ..utils._lazy import attach

if TYPE_CHECKING:  # the exports; at run time each loads on first use (utils._lazy)
    from ._audit import DataAudit, audit_dataset
    from ._detect import estimate_noise, find_label_issues
    from ._filter import LabelIssueFilter
    from ._neighbors import resolve_n_neighbors

__all__ = [
    "DataAudit",
    "LabelIssueFilter",
    "audit_dataset",
    "estimate_noise",
    "find_label_issues",
    "resolve_n_neighbors",
]

__getattr__, __dir__ = attach(__name__, __file__)
