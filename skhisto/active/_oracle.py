"""A human oracle: the labels a reviewer has given so far, read from review decisions.

:class:`HumanOracle` holds, per sample of the pool, a label or nothing yet
(pending), and whether the reviewer marked it unusable (not tissue, blurred).
:class:`~skhisto.active.ActiveLearner` asked with it stops when a queried batch
is not labelled yet (``pending_``) and resumes when it is.
:func:`oracle_from_decisions` builds one from the decisions CSV that
``skhisto review`` writes.

The decisions format (v1): a first line ``# skhisto review decisions v1;
input=<sha256>``, then the header ``path,label,decision,new_label,reviewed_at``;
an item's decision is its last row. ``keep`` gives ``label``, ``relabel``
gives ``new_label``, ``unusable`` excludes the item, ``skip`` and ``pending``
(an undone decision) leave it unlabelled.
"""

import os
from pathlib import Path

import numpy as np

from ..utils import file_digest
from ..utils._labels import plain_value
from ..utils._sklearn_compat import HasMethods, validate_params

#: The columns of a decisions CSV, in order.
DECISION_COLUMNS = ("path", "label", "decision", "new_label", "reviewed_at")
DECISIONS = ("keep", "relabel", "unusable", "skip", "pending")
_MAGIC = "# skhisto review decisions v1"


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


def input_digest(path):
    """The sha256 of a file's bytes: the ``input=`` a decisions file made on it names."""
    return file_digest(path, what="queries CSV")


def read_decisions(source):
    """``(input digest or None, DataFrame of each path's current decision)`` of a decisions CSV.

    The current decision of a path is its last row. Unreadable or malformed
    files raise ValueError naming the file.
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        table, digest, name = source.copy(), None, "decisions"
    else:
        name = repr(os.fspath(source))
        try:
            with open(source, newline="", encoding="utf-8") as f:
                first = f.readline()
                if not first.startswith(_MAGIC):
                    raise ValueError(
                        f"decisions file {name} does not start with {_MAGIC!r}: it is not a "
                        "decisions file written by `skhisto review`."
                    )
                digest = None
                for part in first.strip().split(";"):
                    key, _, value = part.strip().partition("=")
                    if key == "input":
                        digest = value.strip()
                table = pd.read_csv(f, dtype=str, keep_default_na=False)
        except OSError as exc:
            raise ValueError(f"cannot read decisions file {name}: {exc}") from exc
    missing = [column for column in ("path", "decision") if column not in table.columns]
    if missing:
        raise ValueError(f"decisions {name} lack the column(s) {missing}.")
    table = table.fillna("").astype(str)
    for column in DECISION_COLUMNS:
        if column not in table.columns:
            table[column] = ""
    bad = ~table["decision"].isin(DECISIONS)
    if bad.any():
        row = table[bad].iloc[0]
        raise ValueError(
            f"decisions {name}: decision {row['decision']!r} for {row['path']!r} is none of "
            f"{list(DECISIONS)}."
        )
    return digest, table.drop_duplicates("path", keep="last").set_index("path")


@validate_params(
    {
        "decisions": [str, os.PathLike, list, HasMethods(["iterrows"])],
        "paths": ["array-like"],
        "classes": ["array-like", None],
        "queries": [str, os.PathLike, None],
    },
    prefer_skip_nested_validation=True,
)
def oracle_from_decisions(decisions, paths, *, classes=None, queries=None):
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
    queries : str or path-like, default=None
        The queries CSV the decisions were made on: a decisions file naming
        another input (its ``input=`` sha256) is refused.

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
    >>> oracle.labels[0], oracle.unusable.tolist(), oracle.pending.tolist()
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
    tables = []
    for source in sources:
        digest, table = read_decisions(source)
        if queries is not None and not isinstance(source, pd.DataFrame):
            expected = input_digest(queries)
            if digest != expected:
                raise ValueError(
                    f"decisions file {os.fspath(source)!r} was made on another input than "
                    f"{os.fspath(queries)!r} (input={digest}, not {expected}); review "
                    f"{Path(queries).name} again or remove the stale decisions file."
                )
        tables.append(table)
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
