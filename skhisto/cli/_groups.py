"""``--groups``: the patient or slide of each image, so no split and no neighbor crosses one.

Where an INPUT names them (a CSV's ``group``, ``patient`` or ``slide`` column, the
groups ``skhisto embed`` stored, the slide of a patch) they are used by default;
``--groups`` picks a column or reads them from file names with a regular
expression, ``--no-groups`` treats patches as independent (a leaking split).
"""

from dataclasses import dataclass

from ._errors import CommandError

#: Columns that name groups, the first one present used by default (case aside): a patient
#: holds slides, so grouping by patient also keeps each slide whole.
GROUP_COLUMNS = (
    *("group", "group_id", "patient", "patient_id", "case", "case_id"),
    *("subject", "subject_id", "slide", "slide_id"),
)


def _find_column(name, columns):
    """The column of ``columns`` named ``name``, exactly or else up to case; None if none."""
    if name in columns:
        return name
    matches = [c for c in columns if c.lower() == name.lower()]
    return matches[0] if len(matches) == 1 else None


def add_groups_argument(parser):
    """``--groups COLUMN|REGEX`` and ``--no-groups`` (``args.groups``: None, False or str)."""
    options = parser.add_mutually_exclusive_group()
    options.add_argument(
        "--groups",
        metavar="COLUMN|REGEX",
        help="the patient or slide of each image, kept on one side of every split and never "
        "its own neighbor: a column of INPUT (a CSV's, or 'slide' of slide patches), else a "
        "regular expression searched in each file name (in the whole path when it holds a "
        "'/'), its first group the id, e.g. 'TCGA-..-....' or 'cases/([^/]+)/' "
        "(default: INPUT's first column named group, patient, case, subject or slide, alone "
        "or with _id, any case; else none)",
    )
    options.add_argument(
        "--no-groups",
        dest="groups",
        action="store_const",
        const=False,
        help="treat every image as independent even when INPUT names groups (patch-level "
        "splits: scores leak between near-copies of one slide)",
    )


@dataclass
class Groups:
    """The group of each image (ndarray of str, or None) and where it came from, in words."""

    values: object = None
    source: str = "none"

    def describe(self):
        """Words for a title or a progress line, e.g. "37 groups (column 'patient')"."""
        if self.values is None:
            return f"no groups ({self.source})" if self.source != "none" else "no groups"
        return f"{len(set(self.values.tolist()))} groups ({self.source})"

    def clause(self):
        """``"; " + describe()``, or nothing when INPUT names no groups and none were asked."""
        return "" if self.values is None and self.source == "none" else f"; {self.describe()}"


def pick_groups(spec, *, columns, paths, source):
    """The :class:`Groups` of INPUT ``source`` for ``--groups spec``.

    ``spec`` None: the first of GROUP_COLUMNS in ``columns``, else none; False
    (``--no-groups``): none; a column name: that column; else a regular
    expression on ``paths``. A missing group is an error naming its row.
    """
    import numpy as np

    from ..utils import check_groups, groups_from_paths

    if spec is False:
        return Groups(None, "--no-groups")
    name = None if spec is None else _find_column(spec, columns)
    if spec is None:
        found = (_find_column(c, columns) for c in GROUP_COLUMNS)
        name = next((c for c in found if c is not None), None)
        if name is None:
            return Groups()
    if name is not None:
        values = np.asarray(columns[name], dtype=object)
        empty = [i for i, v in enumerate(values.tolist()) if v is None or str(v).strip() == ""]
        if empty:
            raise CommandError(
                f"INPUT {str(source)!r}: column {name!r} is empty for {len(empty)} of "
                f"{len(values)} rows, e.g. {paths[empty[0]]!r}; every image needs its group "
                "(or pass --no-groups)"
            )
        return Groups(check_groups(values, len(values)).astype(str), f"column {name!r}")
    try:
        values = groups_from_paths(paths, spec)
    except ValueError as exc:
        known = f" (its columns: {sorted(columns)})" if columns else ""
        raise CommandError(
            f"--groups {spec!r} is no column of INPUT {str(source)!r}{known}; read as a regular "
            f"expression, {exc}"
        ) from None
    return Groups(values, f"pattern {spec!r}")


def held_out_split(labels, groups, test_size, random_state):
    """Pool and test rows (in train_test_split's order): stratified by ``labels``, and with
    ``groups`` no group on both sides (the test groups are one fold of
    ``StratifiedGroupKFold(round(1 / test_size))``, so the test share is about
    ``test_size``). Raises ValueError when it cannot split."""
    import numpy as np
    from sklearn.model_selection import StratifiedGroupKFold, train_test_split

    rows = np.arange(len(labels))
    if groups is None:
        pool, test = train_test_split(
            rows, test_size=test_size, stratify=labels, random_state=random_state
        )
    else:
        folds = StratifiedGroupKFold(
            max(2, round(1 / test_size)), shuffle=True, random_state=random_state
        )
        pool, test = next(folds.split(rows, labels, groups))
    return pool, test
