"""A human oracle: the labels a reviewer has given so far, read from review decisions.

:class:`HumanOracle` holds, per sample of the pool, a label or nothing yet
(pending), and whether the reviewer marked it unusable (not tissue, blurred).
:class:`~skhisto.active.ActiveLearner` asked with it stops when a queried batch
is not labelled yet (``pending_``) and resumes when it is.
:func:`oracle_from_decisions` builds one from the decisions CSV that
``skhisto review`` writes.

The decisions format (v1, read by :func:`skhisto.io.read_decisions`): a first
line ``# skhisto review decisions v1; input=<listing digest>``, then the header
``path,label,decision,new_label,reviewed_at``; an item's decision is its last
row. ``keep`` gives ``label``, ``relabel`` gives ``new_label``, ``unusable``
excludes the item, ``skip`` and ``pending`` (an undone decision) leave it
unlabelled.
"""

import os

import numpy as np

from ..utils._labels import plain_value
from ..utils._sklearn_compat import HasMethods, validate_params

#: The columns of a decisions CSV, in order.
DECISION_COLUMNS = ("path", "label", "decision", "new_label", "reviewed_at")
DECISIONS = ("keep", "relabel", "unusable", "skip", "pending")


class HumanOracle:
    """Labels from a reviewer: given for some samples, pending or unusable for the others.

    Pass it as the ``oracle`` of :meth:`ActiveLearner.fit
    <skhisto.active.ActiveLearner.fit>`: a queried batch (or the initial or
    held-out set) with a pending sample stops the run with ``pending_`` set,
    and a later ``fit`` with its labels resumes it (from ``checkpoint_dir`` or
    with ``warm_start=True``). Unusable samples are never trained on, scored
    on nor queried again.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        The label of each sample; ignored where ``pending`` or ``unusable``.
    pending : array-like of bool of shape (n_samples,), default=None
        True where the reviewer has not labelled the sample yet (default: none).
    unusable : array-like of bool of shape (n_samples,), default=None
        True where the reviewer marked the sample unusable (default: none).
    relabeled : array-like of bool of shape (n_samples,), default=None
        True where the reviewer changed a label it was shown; counted per round
        in ``history_`` (``n_relabeled``).

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.active import HumanOracle
    >>> oracle = HumanOracle(["a", "", "b"], pending=[False, True, False])
    >>> oracle.pending.tolist(), oracle.labels[[0, 2]].tolist()
    ([False, True, False], ['a', 'b'])
    """

    def __init__(self, labels, *, pending=None, unusable=None, relabeled=None):
        labels = np.asarray(labels)
        if labels.ndim != 1:
            raise ValueError(f"labels must be 1-D (one per sample), got shape {labels.shape}.")
        self.labels = labels
        self.pending = self._mask(pending, "pending")
        self.unusable = self._mask(unusable, "unusable")
        self.relabeled = self._mask(relabeled, "relabeled")

    def _mask(self, values, name):
        n_samples = len(self.labels)
        if values is None:
            return np.zeros(n_samples, dtype=bool)
        mask = np.asarray(values)
        if mask.shape != (n_samples,) or mask.dtype != bool:
            raise ValueError(
                f"{name} must be a boolean mask of one value per label ({n_samples}), got "
                f"{mask.dtype} of shape {mask.shape}."
            )
        return mask.copy()

    def __len__(self):
        return len(self.labels)

    def __repr__(self):
        return (
            f"HumanOracle({len(self)} samples: {int(self.labeled.sum())} labelled, "
            f"{int(self.pending.sum())} pending, {int(self.unusable.sum())} unusable)"
        )

    @property
    def labeled(self):
        """True where the sample has a label (neither pending nor unusable)."""
        return ~(self.pending | self.unusable)


def _current_decisions(source, input_digest):
    """Each path's current decision (its last row), indexed by path."""
    import pandas as pd

    from ..io import read_decisions

    if isinstance(source, pd.DataFrame):
        table = source.copy()
        missing = [column for column in ("path", "decision") if column not in table.columns]
        if missing:
            raise ValueError(f"the decisions table lacks the column(s) {missing}.")
        table = table.fillna("").astype(str)
        for column in DECISION_COLUMNS:
            if column not in table.columns:
                table[column] = ""
        bad = ~table["decision"].isin(DECISIONS)
        if bad.any():
            row = table[bad].iloc[0]
            raise ValueError(
                f"decision {row['decision']!r} for {row['path']!r} is none of {list(DECISIONS)}."
            )
    else:
        table = read_decisions(source, input_digest=input_digest).fillna("").astype(str)
    return table.drop_duplicates("path", keep="last").set_index("path")


@validate_params(
    {
        "decisions": [str, os.PathLike, list, HasMethods(["iterrows"])],
        "paths": ["array-like"],
        "classes": ["array-like", None],
        "input_digest": [str, None],
    },
    prefer_skip_nested_validation=True,
)
def oracle_from_decisions(decisions, paths, *, classes=None, input_digest=None):
    """The :class:`HumanOracle` of review decisions, one entry per path of the pool.

    ``keep`` gives an item its shown ``label``, ``relabel`` its ``new_label``;
    ``unusable`` excludes it (never trained on nor queried again); ``skip``,
    ``pending`` (an undone decision), a ``keep`` of an item shown without a
    label and a path without a decision leave it pending.

    Parameters
    ----------
    decisions : str, path-like, pandas.DataFrame or list of them
        Decisions CSVs written by ``skhisto review`` (or their tables, columns
        ``path, label, decision, new_label``); of several, a later one's
        decision of a path wins.
    paths : array-like of str of shape (n_samples,)
        The path of each sample of the pool, as the decisions name them. A
        decided path that is not one of them is refused: the decisions are of
        another input.
    classes : array-like, default=None
        The known classes: a label that is none of them is refused, and labels
        take their type (the CSV holds text: ``"1"`` becomes the class ``1``).
    input_digest : str, default=None
        The :func:`skhisto.io.listing_digest` of the queries the decisions
        must be of: a decisions file of another input is refused (None: not
        checked).

    Returns
    -------
    HumanOracle

    Examples
    --------
    >>> import pandas as pd
    >>> from skhisto.active import oracle_from_decisions
    >>> decisions = pd.DataFrame(
    ...     {
    ...         "path": ["a.png", "b.png", "c.png", "a.png"],
    ...         "label": ["", "", "", ""],
    ...         "decision": ["relabel", "unusable", "skip", "relabel"],
    ...         "new_label": ["tumor", "", "", "stroma"],
    ...     }
    ... )
    >>> oracle = oracle_from_decisions(decisions, ["a.png", "b.png", "c.png", "d.png"])
    >>> str(oracle.labels[0]), oracle.unusable.tolist(), oracle.pending.tolist()
    ('stroma', [False, True, False, False], [False, False, True, True])
    """
    import pandas as pd

    paths = np.asarray(paths).astype(str)
    index = {}
    for i, path in enumerate(paths.tolist()):
        if path in index:
            raise ValueError(f"paths names {path!r} twice: each sample needs its own path.")
        index[path] = i
    sources = decisions if isinstance(decisions, list) else [decisions]
    tables = [_current_decisions(source, input_digest) for source in sources]
    table = pd.concat(tables)
    table = table[~table.index.duplicated(keep="last")]
    unknown = [path for path in table.index if path not in index]
    if unknown:
        raise ValueError(
            f"decisions name {len(unknown)} paths absent from the pool, e.g. {unknown[0]!r}: "
            "they are decisions of another input."
        )
    n_samples = len(paths)
    labels = np.full(n_samples, "", dtype=object)
    pending = np.ones(n_samples, dtype=bool)
    unusable = np.zeros(n_samples, dtype=bool)
    relabeled = np.zeros(n_samples, dtype=bool)
    for path, row in table.iterrows():
        i, decision = index[path], row["decision"]
        label = row["label"] if decision == "keep" else row["new_label"]
        if decision == "unusable":
            unusable[i], pending[i] = True, False
        elif decision in ("keep", "relabel") and label != "":
            labels[i], pending[i] = label, False
            relabeled[i] = decision == "relabel" and row["label"] not in ("", label)
    labels = _as_classes(labels, ~pending & ~unusable, classes)
    return HumanOracle(labels, pending=pending, unusable=unusable, relabeled=relabeled)


def _as_classes(labels, given, classes):
    """``labels`` (text) as the classes' type; a label that is no class is refused."""
    if classes is None:
        return labels.astype(str)
    classes = np.asarray(classes)
    by_text = {str(plain_value(c)): c for c in classes.tolist()}
    unknown = sorted({label for label in labels[given].tolist() if label not in by_text})
    if unknown:
        raise ValueError(
            f"decisions give the label {unknown[0]!r}, none of the classes "
            f"{sorted(by_text)} ({len(unknown)} such labels)."
        )
    typed = np.empty(len(labels), dtype=classes.dtype)
    fill = classes[0]
    typed[:] = fill
    typed[given] = [by_text[label] for label in labels[given].tolist()]
    return typed
