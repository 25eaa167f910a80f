"""Review decisions: the CSV a reviewer's keep / relabel / unusable / skip choices are saved in.

A decisions file is a CSV whose first line names its format and the input it
belongs to::

    # skhisto review decisions v1; input=<sha256 hex of the input's paths and labels>
    path,label,decision,new_label,reviewed_at
    tiles/a.jpeg,lung_aca,keep,,2024-05-01T09:30:12Z
    tiles/b.jpeg,lung_n,relabel,lung_scc,2024-05-01T09:30:15Z

One row per decision, in the order they were made; an item's current decision
is its last row (``pending`` undoes an earlier one). Every write rewrites the
whole file atomically under a lock, so a killed writer or two writers at once
never leave a partial file.
"""

import csv
import io
import json
import os
import threading
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ..utils import atomic_write, new_digest
from ..utils._constraints import PATH
from ..utils._optional import import_pandas
from ..utils._sklearn_compat import validate_params

try:
    import fcntl
except ImportError:  # Windows: writers in one process still serialize (the thread lock)
    fcntl = None

#: The decisions a reviewer makes; ``pending`` is "not decided" (an undone decision).
DECISIONS = ("keep", "relabel", "unusable", "skip", "pending")
#: The columns of a decisions file, in order.
DECISION_COLUMNS = ("path", "label", "decision", "new_label", "reviewed_at")
_MAGIC = "# skhisto review decisions v1; input="
_THREAD_LOCK = threading.Lock()


@validate_params(
    {"paths": ["array-like"], "labels": ["array-like", None]}, prefer_skip_nested_validation=True
)
def listing_digest(paths, labels=None):
    """The SHA-256 of an input listing (its paths and labels, in order), as hex.

    A decisions file records the digest of the listing it reviews, so it is
    never applied to another input (:func:`read_decisions`).

    Parameters
    ----------
    paths : array-like of str
        The items' paths, as the input lists them.
    labels : array-like of str, default=None
        Their labels (``""`` for unlabeled items); None: all unlabeled.

    Returns
    -------
    str
        64 hex digits.

    Examples
    --------
    >>> from skhisto.io import listing_digest
    >>> digest = listing_digest(["a.png", "b.png"], ["tumor", "stroma"])
    >>> len(digest), digest == listing_digest(["b.png", "a.png"], ["stroma", "tumor"])
    (64, False)
    """
    paths = [str(p) for p in paths]
    labels = [""] * len(paths) if labels is None else ["" if v is None else str(v) for v in labels]
    if len(labels) != len(paths):
        raise ValueError(f"listing_digest got {len(paths)} paths but {len(labels)} labels")
    text = json.dumps(list(zip(paths, labels, strict=True)), ensure_ascii=False)
    return new_digest("identity", text.encode("utf-8")).hexdigest()  # SHA-256


def _read_text(path, input_digest):
    """(digest, rows) of a decisions file; ValueError when it is not one, or of another input."""
    with open(path, newline="", encoding="utf-8") as f:
        first = f.readline().rstrip("\r\n")
        if not first.startswith(_MAGIC):
            raise ValueError(
                f"{str(path)!r} is not a skhisto review decisions file (its first line is not "
                f"'{_MAGIC}<digest>')"
            )
        digest = first[len(_MAGIC) :].strip()
        if input_digest is not None and digest != input_digest:
            raise ValueError(
                f"decisions file {str(path)!r} belongs to another input (input digest "
                f"{digest[:12]}..., this input's is {input_digest[:12]}...); pass another "
                "--decisions file or the input it was made for"
            )
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != DECISION_COLUMNS:
            raise ValueError(
                f"decisions file {str(path)!r} has columns {reader.fieldnames}, expected "
                f"{list(DECISION_COLUMNS)}"
            )
        rows = [{name: row[name] or "" for name in DECISION_COLUMNS} for row in reader]
    for number, row in enumerate(rows, start=3):
        if row["decision"] not in DECISIONS:
            raise ValueError(
                f"decisions file {str(path)!r} line {number}: decision {row['decision']!r} is "
                f"not one of {list(DECISIONS)}"
            )
    return digest, rows


def _current(rows, digest):
    """The last row of each path, in the order of each path's first row."""
    pd = import_pandas("skhisto review decisions")
    last = {}
    for row in rows:
        last[row["path"]] = row  # a dict keeps the first insertion's position
    frame = pd.DataFrame(list(last.values()), columns=list(DECISION_COLUMNS), dtype=object)
    frame.attrs["input_digest"] = digest
    last_at = {row["path"]: i for i, row in enumerate(rows)}
    frame.attrs["last_decided"] = sorted(last_at, key=last_at.get)
    return frame


@validate_params({"path": PATH, "input_digest": [str, None]}, prefer_skip_nested_validation=True)
def read_decisions(path, *, input_digest=None):
    """The current decision of each reviewed item of a decisions file.

    Parameters
    ----------
    path : str or os.PathLike
        A decisions file (written by :func:`append_decision` or ``skhisto review``).
    input_digest : str, default=None
        The :func:`listing_digest` of the input being reviewed: a file of
        another input is refused. None: not checked.

    Returns
    -------
    pandas.DataFrame
        Columns ``path, label, decision, new_label, reviewed_at`` (str), one
        row per path: its last row in the file, in the order the paths were
        first decided. ``attrs["input_digest"]`` is the file's input digest,
        ``attrs["last_decided"]`` the paths in the order of their last rows
        (the latest decision last: what an undo takes back).

    Raises
    ------
    ValueError
        When the file is not a decisions file, or belongs to another input
        (naming both digests and the file).

    Examples
    --------
    >>> import tempfile, os
    >>> from skhisto.io import append_decision, listing_digest, read_decisions
    >>> digest = listing_digest(["a.png", "b.png"], ["tumor", "stroma"])
    >>> path = os.path.join(tempfile.mkdtemp(), "tiles.decisions.csv")
    >>> _ = append_decision(path, {"path": "a.png", "label": "tumor", "decision": "keep"},
    ...                     input_digest=digest)
    >>> _ = append_decision(path, {"path": "b.png", "label": "stroma", "decision": "relabel",
    ...                            "new_label": "tumor"}, input_digest=digest)
    >>> _ = append_decision(path, {"path": "a.png", "label": "tumor", "decision": "unusable"},
    ...                     input_digest=digest)
    >>> current = read_decisions(path, input_digest=digest)
    >>> current[["path", "decision", "new_label"]].values.tolist()  # the last row of each path
    [['a.png', 'unusable', ''], ['b.png', 'relabel', 'tumor']]
    """
    digest, rows = _read_text(path, input_digest)
    return _current(rows, digest)


@contextmanager
def _locked(path):
    """Writers of files in ``path``'s folder serialize: threads and processes alike."""
    with _THREAD_LOCK:
        if fcntl is None:
            yield
            return
        fd = os.open(Path(path).parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the flock


def _check_row(row):
    missing = [name for name in ("path", "decision") if not row.get(name)]
    if missing:
        raise ValueError(f"a decision needs {missing}; got {dict(row)}")
    decision = str(row["decision"])
    if decision not in DECISIONS:
        raise ValueError(f"decision {decision!r} is not one of {list(DECISIONS)}")
    new_label = "" if row.get("new_label") is None else str(row.get("new_label"))
    if (decision == "relabel") != bool(new_label):
        raise ValueError(
            "a relabel decision needs a new_label, and only a relabel decision has one; got "
            f"decision {decision!r} and new_label {new_label!r}"
        )
    reviewed_at = row.get("reviewed_at") or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    label = "" if row.get("label") is None else str(row.get("label"))
    return {
        "path": str(row["path"]),
        "label": label,
        "decision": decision,
        "new_label": new_label,
        "reviewed_at": str(reviewed_at),
    }


@validate_params(
    {"path": PATH, "row": [dict], "input_digest": [str]}, prefer_skip_nested_validation=True
)
def append_decision(path, row, *, input_digest):
    """Add one decision to a decisions file, rewriting it whole and atomically.

    The file is read, the row appended and the whole file written to a
    temporary beside it and moved into place (:func:`skhisto.utils.atomic_write`),
    all under a lock, so two tabs or processes writing at once serialize and
    a killed writer leaves the previous file intact.

    Parameters
    ----------
    path : str or os.PathLike
        The decisions file; created (with its header) when absent.
    row : dict
        ``path``, ``label``, ``decision`` (one of ``keep``, ``relabel``,
        ``unusable``, ``skip``, ``pending``), ``new_label`` (the class of a
        relabel, else absent or empty) and optionally ``reviewed_at``
        (ISO-8601 UTC; default: now).
    input_digest : str
        The :func:`listing_digest` of the reviewed input; an existing file of
        another input is refused.

    Returns
    -------
    pandas.DataFrame
        The file's current decisions after the write (:func:`read_decisions`).

    Examples
    --------
    >>> import tempfile, os
    >>> from skhisto.io import append_decision, listing_digest
    >>> path = os.path.join(tempfile.mkdtemp(), "queries.decisions.csv")
    >>> current = append_decision(
    ...     path, {"path": "a.png", "label": "", "decision": "relabel", "new_label": "tumor",
    ...            "reviewed_at": "2024-05-01T09:30:12Z"}, input_digest=listing_digest(["a.png"]))
    >>> print(open(path).read().splitlines()[1:])
    ['path,label,decision,new_label,reviewed_at', 'a.png,,relabel,tumor,2024-05-01T09:30:12Z']
    """
    row = _check_row(row)
    with _locked(path):
        rows = _read_text(path, input_digest)[1] if os.path.exists(path) else []
        rows.append(row)
        buffer = io.StringIO(newline="")
        buffer.write(f"{_MAGIC}{input_digest}\n")
        writer = csv.DictWriter(buffer, fieldnames=DECISION_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        with atomic_write(path, "wb") as f:
            f.write(buffer.getvalue().encode("utf-8"))
    return _current(rows, input_digest)


@validate_params(
    {"items": ["array-like", dict], "decisions": ["array-like", dict]},
    prefer_skip_nested_validation=True,
)
def export_labels(items, decisions):
    """The corrected labels of reviewed items: the table every skhisto CSV input reads.

    Parameters
    ----------
    items : pandas.DataFrame or dict
        The reviewed input: ``path`` and ``label`` columns, one row per item,
        in the order the export lists them.
    decisions : pandas.DataFrame or dict
        The current decisions (:func:`read_decisions`).

    Returns
    -------
    pandas.DataFrame
        Columns ``path, label, decision``: ``keep`` keeps the label,
        ``relabel`` takes ``new_label``, ``skip`` and ``pending`` (and
        undecided items, whose decision reads ``pending``) keep the label,
        ``unusable`` items are dropped.

    Examples
    --------
    >>> from skhisto.io import export_labels
    >>> items = {"path": ["a.png", "b.png", "c.png", "d.png"],
    ...          "label": ["tumor", "stroma", "tumor", "stroma"]}
    >>> decisions = {"path": ["b.png", "a.png", "c.png"],
    ...              "decision": ["relabel", "keep", "unusable"], "new_label": ["tumor", "", ""]}
    >>> export_labels(items, decisions)
        path   label decision
    0  a.png   tumor     keep
    1  b.png   tumor  relabel
    3  d.png  stroma  pending
    """
    pd = import_pandas("skhisto review export")
    items, decisions = pd.DataFrame(items), pd.DataFrame(decisions)
    for name, frame, needed in (
        ("items", items, ("path", "label")),
        ("decisions", decisions, ("path", "decision")),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} has no {missing} column (columns: {list(frame.columns)})")
    paths = items["path"].astype(str)
    unknown = sorted(set(decisions["path"].astype(str)) - set(paths))
    if unknown:
        raise ValueError(
            f"{len(unknown)} decided paths are not among the items, e.g. {unknown[0]!r}: the "
            "decisions belong to another input"
        )
    new_labels = decisions["new_label"] if "new_label" in decisions else [""] * len(decisions)
    current = {
        str(p): (str(d), "" if n is None or n != n else str(n))
        for p, d, n in zip(decisions["path"], decisions["decision"], new_labels, strict=True)
    }
    labels, kinds = [], []
    for path, label in zip(paths, items["label"], strict=True):
        decision, new_label = current.get(path, ("pending", ""))
        label = "" if label is None or label != label else str(label)
        labels.append(new_label if decision == "relabel" else label)
        kinds.append(decision)
    table = pd.DataFrame({"path": paths, "label": labels, "decision": kinds}, index=items.index)
    return table[table["decision"] != "unusable"]
