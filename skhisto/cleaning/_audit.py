"""A data audit on embeddings: near-duplicates, leakage, outliers, class balance, label issues.

Neighbor searches through :func:`skhisto.utils.nearest_neighbors` (cosine on
standardized embeddings, block by block, as the label check's) give every
sample's nearest neighbors overall, its
nearest neighbor in another group and in another split, and its nearest
neighbors of its own class. The label check is :func:`find_label_issues`'s.
"""

from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.preprocessing import StandardScaler, normalize
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from ..utils import check_groups, check_labels, nearest_neighbors, resolve_device, warn
from ..utils._sklearn_compat import Interval, StrOptions, validate_params
from ._detect import METHODS, inspect_labels
from ._neighbors import samples_outside

#: The issue types, in report order, and what a flag means.
ISSUE_TYPES = {
    "near_duplicate": "within duplicate_threshold (cosine distance) of another sample",
    "leakage": "a near-duplicate lies in another group or split",
    "outlier": "far from its nearest neighbors, compared with the other samples",
    "class_outlier": "far from the nearest samples of its own class, compared with its class",
    "label_issue": "its neighbors (or a model) say another class",
    "class_balance": "a class rare overall, missing from a split or held mostly by one group",
}
# Bytes of one block of similarities.
_BLOCK_BYTES = 128 * 2**20


@dataclass(repr=False)
class DataAudit:
    """What :func:`audit_dataset` found; rows of ``issues`` follow the rows of ``X``.

    Attributes
    ----------
    issues : pandas.DataFrame
        One row per sample: the ``label``, ``group`` and ``split`` given, then
        for each check that ran a boolean column named after its issue type
        and its scores. ``near_duplicate``, ``duplicate_set`` (-1: none),
        ``nearest`` and ``nearest_distance``; ``leakage``,
        ``leakage_partner`` (-1: none) and ``leakage_distance`` (to the
        nearest sample of another group or split); ``outlier`` and
        ``knn_distance`` (mean cosine distance to the ``n_neighbors``
        nearest); ``class_outlier`` and ``class_knn_distance`` (the same,
        among the sample's own class); ``label_issue``, ``label_quality``
        and ``suggested_label``.
    summary : pandas.DataFrame
        One row per issue type: ``issue_type``, ``n_issues``, ``share`` (of
        the samples; of the classes for ``class_balance``), ``checked`` and
        ``note`` (the threshold used, or why the check was skipped).
    pairs : pandas.DataFrame
        Near-duplicate pairs (``first < second``, ``distance``,
        ``cross_group``, ``cross_split``): those among each sample's
        ``n_neighbors`` nearest, and every leakage pair.
    class_balance : pandas.DataFrame
        Class counts (columns) overall and per split and per group (rows,
        indexed by ``by`` and ``where``); empty without labels.
    balance_issues : pandas.DataFrame
        One row per class-balance finding: ``kind`` (``rare_class``,
        ``missing_from_split``, ``dominant_group``), ``where``, ``class``,
        ``count`` and ``detail``.
    thresholds : dict
        The thresholds each check applied, as numbers.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.cleaning import audit_dataset
    >>> X = np.random.default_rng(0).normal(size=(60, 8))
    >>> X[1] = X[0]  # a copy
    >>> audit = audit_dataset(X)
    >>> audit.get_issues("near_duplicate").index.tolist()
    [0, 1]
    >>> int(audit.get_issue_summary().set_index("issue_type").loc["near_duplicate", "n_issues"])
    2
    """

    #: What a flag of each issue type means, in words.
    MEANINGS = ISSUE_TYPES

    issues: object
    summary: object
    pairs: object
    class_balance: object
    balance_issues: object
    thresholds: dict = field(default_factory=dict)

    def get_issue_summary(self):
        """One row per issue type: how many samples, their share, and the threshold or why not.

        Returns
        -------
        pandas.DataFrame

        Examples
        --------
        >>> import numpy as np
        >>> from skhisto.cleaning import audit_dataset
        >>> audit = audit_dataset(np.random.default_rng(0).normal(size=(40, 4)))
        >>> audit.get_issue_summary()["issue_type"].tolist()[:3]
        ['near_duplicate', 'leakage', 'outlier']
        """
        return self.summary.copy()

    def get_issues(self, issue_type=None):
        """The per-sample table, or the samples flagged with ``issue_type``, most severe first.

        Parameters
        ----------
        issue_type : str, default=None
            One of ``near_duplicate``, ``leakage``, ``outlier``,
            ``class_outlier``, ``label_issue``; None: every sample, every
            column.

        Returns
        -------
        pandas.DataFrame
            Indexed by the sample's row in ``X``.

        Examples
        --------
        >>> import numpy as np
        >>> from skhisto.cleaning import audit_dataset
        >>> rng = np.random.default_rng(0)
        >>> centers = 3 * rng.normal(size=(4, 16))
        >>> X = centers[rng.integers(0, 4, 60)] + rng.normal(size=(60, 16))
        >>> X[7] = rng.normal(size=16)  # in no cluster
        >>> int(audit_dataset(X).get_issues("outlier").index[0])
        7
        """
        if issue_type is None:
            return self.issues.copy()
        per_sample = [name for name in ISSUE_TYPES if name != "class_balance"]
        if issue_type not in per_sample:
            raise ValueError(
                f"issue_type={issue_type!r} is not a per-sample issue type; use one of "
                f"{per_sample} (class balance is in .class_balance and .balance_issues)."
            )
        if issue_type not in self.issues.columns:
            note = self.summary.set_index("issue_type").loc[issue_type, "note"]
            raise ValueError(f"The {issue_type} check did not run: {note}.")
        columns = [c for c in self.issues.columns if c in _CONTEXT or c in _COLUMNS[issue_type]]
        flagged = self.issues.loc[self.issues[issue_type], columns]
        key, ascending = _SEVERITY[issue_type]
        return flagged.sort_values(key, ascending=ascending, kind="stable")

    def flagged(self):
        """One row per flagged sample and issue type: what a reviewer works through.

        Returns
        -------
        pandas.DataFrame
            Columns ``sample`` (the row in ``X``), ``issue_type``, ``score``
            (a cosine distance, or the label quality for ``label_issue``;
            the table is sorted by issue type, then from the most severe),
            ``partner`` (the nearest copy, the leaked copy, or -1),
            ``detail`` (in words), and the ``label``, ``group`` and
            ``split`` given.

        Examples
        --------
        >>> import numpy as np
        >>> from skhisto.cleaning import audit_dataset
        >>> X = np.random.default_rng(0).normal(size=(60, 8))
        >>> X[1] = X[0]
        >>> audit_dataset(X, groups=[0, 1] + [2] * 58).flagged()[["sample", "issue_type"]]
           sample      issue_type
        0       0  near_duplicate
        1       1  near_duplicate
        2       0         leakage
        3       1         leakage
        """
        import pandas as pd

        context = [c for c in ("label", "group", "split") if c in self.issues.columns]
        parts = []
        for issue_type in ISSUE_TYPES:
            if issue_type not in self.issues.columns:
                continue
            rows = self.get_issues(issue_type)
            score, partner, detail = _describe(issue_type, rows)
            part = pd.DataFrame(
                {
                    "sample": rows.index.to_numpy(),
                    "issue_type": issue_type,
                    "score": score,
                    "partner": partner,
                    "detail": detail,
                }
            )
            for column in context:
                part[column] = rows[column].to_numpy()
            parts.append(part)
        columns = ["sample", "issue_type", "score", "partner", "detail", *context]
        if not parts:
            return pd.DataFrame(columns=columns)
        return pd.concat(parts, ignore_index=True)[columns]

    def __repr__(self):
        checked = self.summary[self.summary["checked"]]
        found = ", ".join(f"{r.issue_type}={r.n_issues}" for r in checked.itertuples())
        return f"DataAudit({len(self.issues)} samples: {found})"


_CONTEXT = ("label", "group", "split")
_COLUMNS = {
    "near_duplicate": ("duplicate_set", "nearest", "nearest_distance"),
    "leakage": ("leakage_partner", "leakage_distance", "leakage_kind"),
    "outlier": ("knn_distance",),
    "class_outlier": ("class_knn_distance",),
    "label_issue": ("label_quality", "suggested_label"),
}
# (column, ascending) that sorts a type's flagged samples from the most severe.
_SEVERITY = {
    "near_duplicate": ("nearest_distance", True),
    "leakage": ("leakage_distance", True),
    "outlier": ("knn_distance", False),
    "class_outlier": ("class_knn_distance", False),
    "label_issue": ("label_quality", True),
}


def _describe(issue_type, rows):
    """Score, partner and words of each flagged row of one issue type."""
    if issue_type == "near_duplicate":
        sizes = rows["duplicate_set"].map(rows["duplicate_set"].value_counts())
        detail = [
            f"set {s} ({n} flagged)" for s, n in zip(rows["duplicate_set"], sizes, strict=True)
        ]
        return rows["nearest_distance"].to_numpy(), rows["nearest"].to_numpy(), detail
    if issue_type == "leakage":
        detail = [
            f"copy of {p} in another {kind}"
            for p, kind in zip(rows["leakage_partner"], rows["leakage_kind"], strict=True)
        ]
        return rows["leakage_distance"].to_numpy(), rows["leakage_partner"].to_numpy(), detail
    none = np.full(len(rows), -1)
    if issue_type == "label_issue":
        detail = [f"suggested {s}" for s in rows["suggested_label"]]
        return rows["label_quality"].to_numpy(), none, detail
    column = _SEVERITY[issue_type][0]
    detail = [f"mean distance {d:.3f}" for d in rows[column]]
    return rows[column].to_numpy(), none, detail


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like", None],
        "groups": ["array-like", None],
        "split": ["array-like", None],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "duplicate_threshold": [Interval(Real, 0, 2, closed="both")],
        "outlier_iqr": [Interval(Real, 0, None, closed="left")],
        "max_group_share": [Interval(Real, 0, 1, closed="right")],
        "rare_class_share": [Interval(Real, 0, 1, closed="both")],
        "label_method": [StrOptions(set(METHODS))],
        "random_state": ["random_state"],
        "device": [str, torch.device],
    },
    prefer_skip_nested_validation=True,
)
def audit_dataset(
    X,
    y=None,
    *,
    groups=None,
    split=None,
    n_neighbors=10,
    duplicate_threshold=0.05,
    outlier_iqr=1.5,
    max_group_share=0.5,
    rare_class_share=0.1,
    label_method="knn",
    random_state=None,
    device="auto",
):
    """Audit a set of embeddings: near-duplicates, leakage, outliers, class balance, labels.

    Every check compares embeddings by cosine distance (one minus the cosine
    similarity) on standardized columns, through one exact neighbor search
    done block by block (bounded memory; on the GPU when there is one).
    Without ``y`` the label checks are skipped, and the summary says so.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Embeddings, e.g. from :class:`~skhisto.FoundationEmbedder`.
    y : array-like of shape (n_samples,), default=None
        Labels; None skips ``class_outlier``, ``label_issue`` and
        ``class_balance``.
    groups : array-like of shape (n_samples,), default=None
        Patient or slide of each sample. A near-duplicate in another group
        is ``leakage`` (a grouped split would put the copies on both sides),
        and the label check takes neighbors from other groups only.
    split : array-like of shape (n_samples,), default=None
        The split of each sample (e.g. ``"train"`` / ``"test"``). A
        near-duplicate in another split is ``leakage``; a class missing from
        a split is a class-balance finding.
    n_neighbors : int, default=10
        Neighbors of each sample searched for copies and averaged for the
        outlier scores (clipped to the samples there are).
    duplicate_threshold : float, default=0.05
        Largest cosine distance at which two samples are near-duplicates;
        copies in a duplicate set are linked through pairs this close.
    outlier_iqr : float, default=1.5
        A sample is an ``outlier`` when its mean distance to its
        ``n_neighbors`` nearest lies above the third quartile of all
        samples' by more than ``outlier_iqr`` interquartile ranges (Tukey's
        fence); a ``class_outlier`` by the same rule within its
        class, among the samples of its class.
    max_group_share : float, default=0.5
        With two groups or more, a group holding more than this share of a
        class's samples is a ``dominant_group`` finding: the class is
        mostly one patient's.
    rare_class_share : float, default=0.1
        A class with fewer samples than ``rare_class_share`` times the mean
        class size is a ``rare_class`` finding.
    label_method : {"knn", "confident_learning", "ensemble"}, default="knn"
        The ``method`` of :func:`~skhisto.find_label_issues` (with its
        default ``n_neighbors="auto"`` and ``cv=5``, and ``groups``).
    random_state : int, RandomState instance or None, default=None
        Seeds the label check's folds and model (unused by ``"knn"``); the
        other checks are deterministic.
    device : {"auto"} or str or torch.device, default="auto"
        Where the neighbor searches run.

    Returns
    -------
    audit : DataAudit
        ``get_issue_summary()``, ``get_issues(issue_type)``, ``flagged()``
        (one row per flagged sample and issue), ``pairs``,
        ``class_balance`` and ``balance_issues``.

    Raises
    ------
    ValueError
        When ``y``, ``groups`` or ``split`` do not have one entry per row
        of ``X`` or miss some, or every row of ``X`` is the same.

    See Also
    --------
    find_label_issues : The label check alone.

    Notes
    -----
    cleanlab's ``Datalab`` finds issues of the same names on the same
    embeddings, with other rules: its near-duplicates lie closer than 0.13
    times the median nearest-neighbor distance (relative; here an absolute
    cosine distance), its outliers above Q3 + 1.7 IQR of the mean kNN
    distance (here Q3 + 1.5 IQR), and it has no groups or splits, so no leakage.

    Examples
    --------
    Two patients; a tile of patient "a" copied into patient "b" is leakage,
    and a copy within patient "a" is only a near-duplicate:

    >>> import numpy as np
    >>> from skhisto.cleaning import audit_dataset
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 16))
    >>> y = np.repeat(["benign", "tumor"], 40)
    >>> groups = np.repeat(["a", "b"], [30, 50])
    >>> X[31] = X[0]  # into patient b
    >>> X[2] = X[1]  # within patient a
    >>> audit = audit_dataset(X, y, groups=groups)
    >>> audit.get_issues("near_duplicate").index.tolist()
    [0, 1, 2, 31]
    >>> audit.get_issues("leakage")[["leakage_partner", "group"]]
        leakage_partner group
    0                31     a
    31                0     b
    >>> audit.balance_issues["kind"].tolist()
    ['dominant_group', 'dominant_group']
    """
    X = check_array(X, dtype=[np.float64, np.float32], ensure_min_samples=3, input_name="X")
    n = len(X)
    if np.ptp(X, axis=0).max() == 0:
        raise ValueError(
            "audit_dataset: every row of X is the same embedding, so X cannot tell samples "
            "apart; check the embedder (blank or identical images?)."
        )
    labels = _checked_labels(y, n)
    groups = check_groups(groups, n)
    split = check_groups(split, n, what="split")
    k = min(n_neighbors, n - 1)
    Z = normalize(StandardScaler().fit_transform(X), copy=False).astype(np.float32, copy=False)
    others = {
        name: _codes(values)
        for name, values in (("group", groups), ("split", split))
        if values is not None
    }
    class_codes = None if labels is None else _codes(labels)
    found = _search(Z, k, others, class_codes, resolve_device(device))

    import pandas as pd

    table = pd.DataFrame(index=pd.RangeIndex(n))
    for name, values in (("label", labels), ("group", groups), ("split", split)):
        if values is not None:
            table[name] = values
    summary, thresholds = [], {"n_neighbors": k, "duplicate_threshold": duplicate_threshold}

    pairs = _duplicates(table, found, duplicate_threshold, others)
    summary.append(_row(table, "near_duplicate", f"cosine distance <= {duplicate_threshold:g}"))
    if others:
        _leakage(table, found, duplicate_threshold, others)
        pairs = _with_leakage_pairs(pairs, table, others)
        words = " or ".join(f"another {name}" for name in others)
        summary.append(_row(table, "leakage", f"a near-duplicate in {words}"))
    else:
        summary.append(_skipped("leakage", "skipped: no groups or split given"))

    distance = 1 - found["similarity"]
    table["knn_distance"] = distance.mean(axis=1)
    fence = _fence(table["knn_distance"].to_numpy(), outlier_iqr)
    table["outlier"] = table["knn_distance"] > fence
    thresholds["outlier_fence"] = fence
    summary.append(_row(table, "outlier", f"mean distance to {k} neighbors > {fence:.3f}"))

    if labels is None:
        for name in ("class_outlier", "label_issue", "class_balance"):
            summary.append(_skipped(name, "skipped: no labels (y=None)"))
        balance, findings = _balance(None, groups, split, max_group_share, rare_class_share)
    else:
        summary.append(_class_outliers(table, found, class_codes, k, outlier_iqr, thresholds))
        summary.append(_labels(table, X, labels, groups, label_method, random_state, device))
        balance, findings = _balance(labels, groups, split, max_group_share, rare_class_share)
        n_classes = len(np.unique(labels))
        summary.append(
            {
                "issue_type": "class_balance",
                "n_issues": len(findings),
                "share": findings["class"].nunique() / n_classes,
                "checked": True,
                "note": "findings in balance_issues; share: of the classes",
            }
        )
    summary = pd.DataFrame(summary, columns=["issue_type", "n_issues", "share", "checked", "note"])
    return DataAudit(table, summary, pairs, balance, findings, thresholds)


def _checked_labels(y, n):
    if y is None:
        return None
    check_labels(y, "audit_dataset")
    y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    if len(y) != n:
        raise ValueError(f"y has {len(y)} labels for the {n} rows of X.")
    return y


def _codes(values):
    return np.unique(np.asarray(values).astype(str), return_inverse=True)[1].ravel()


def _search(Z, k, others, class_codes, device):
    """Neighbors of every row through :func:`skhisto.utils.nearest_neighbors`: overall, in
    another group or split, and among its own class (-inf similarity where there is none)."""
    n = len(Z)
    search = dict(metric="dot", device=device, block_bytes=_BLOCK_BYTES)
    indices, similarity = nearest_neighbors(Z, k, **search)
    out = {"indices": indices, "similarity": similarity}
    for name, codes in others.items():
        if n - np.bincount(codes).max() < 1:  # one group: no row has a neighbor outside it
            out[name] = (np.zeros(n, dtype=np.int64), np.full(n, -np.inf))
            continue
        index, best = nearest_neighbors(Z, 1, groups=codes, **search)
        out[name] = (index[:, 0], best[:, 0])
    if class_codes is not None:
        index, best = np.zeros((n, k), dtype=np.int64), np.full((n, k), -np.inf)
        for code in np.unique(class_codes):
            members = np.flatnonzero(class_codes == code)
            m = min(k, len(members) - 1)
            if m < 1:
                continue
            found, values = nearest_neighbors(Z[members], m, **search)
            index[members, :m], best[members, :m] = members[found], values
        out["class"] = (index, best)
    return out


def _duplicates(table, found, threshold, others):
    """near_duplicate columns of ``table``; the near-duplicate pairs among the neighbors."""
    import pandas as pd
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(table)
    distance = np.clip(1 - found["similarity"], 0, 2)
    rows, cols = np.nonzero(distance <= threshold)
    first = np.minimum(rows, found["indices"][rows, cols])
    second = np.maximum(rows, found["indices"][rows, cols])
    pair_distance = distance[rows, cols]
    keys, unique = np.unique(first * n + second, return_index=True)
    first, second, pair_distance = first[unique], second[unique], pair_distance[unique]
    graph = coo_matrix((np.ones(len(first)), (first, second)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    sizes = np.bincount(component)
    in_set = sizes[component] > 1
    # Number the sets 0, 1, ... in the order of their first member.
    first_member = np.unique(component[in_set], return_index=True)
    numbering = np.full(len(sizes), -1)
    numbering[first_member[0][np.argsort(first_member[1])]] = np.arange(len(first_member[0]))
    table["near_duplicate"] = in_set
    table["duplicate_set"] = np.where(in_set, numbering[component], -1)
    table["nearest"] = found["indices"][:, 0]
    table["nearest_distance"] = distance[:, 0]
    pairs = pd.DataFrame({"first": first, "second": second, "distance": pair_distance})
    for name, codes in others.items():
        pairs[f"cross_{name}"] = codes[first] != codes[second]
    return pairs


def _leakage(table, found, threshold, others):
    """leakage columns: the nearest sample of another group or split, when within threshold."""
    n = len(table)
    best = np.full(n, np.inf)
    partner = np.full(n, -1, dtype=np.int64)
    kind = np.full(n, "", dtype=object)
    for name in others:
        index, similarity = found[name]
        distance = np.where(np.isfinite(similarity), np.clip(1 - similarity, 0, 2), np.inf)
        closer = distance < best
        best[closer], partner[closer] = distance[closer], index[closer]
        leaked = distance <= threshold
        kind[leaked] = [f"{k}+{name}" if k else name for k in kind[leaked]]
    table["leakage"] = best <= threshold
    table["leakage_partner"] = np.where(table["leakage"], partner, -1)
    table["leakage_distance"] = best
    table["leakage_kind"] = kind


def _with_leakage_pairs(pairs, table, others):
    import pandas as pd

    leaked = table.index[table["leakage"]].to_numpy()
    partner = table["leakage_partner"].to_numpy()[leaked]
    extra = pd.DataFrame(
        {
            "first": np.minimum(leaked, partner),
            "second": np.maximum(leaked, partner),
            "distance": table["leakage_distance"].to_numpy()[leaked],
        }
    )
    for name, codes in others.items():
        extra[f"cross_{name}"] = codes[extra["first"]] != codes[extra["second"]]
    merged = pd.concat([pairs, extra], ignore_index=True)
    merged = merged.drop_duplicates(["first", "second"]).sort_values(["first", "second"])
    return merged.reset_index(drop=True)


def _fence(values, iqr_scale):
    """Tukey's upper fence: Q3 + ``iqr_scale`` interquartile ranges."""
    q1, q3 = np.percentile(values, [25, 75])
    return float(q3 + iqr_scale * (q3 - q1))


def _class_outliers(table, found, class_codes, k, iqr_scale, thresholds):
    index, similarity = found["class"]
    counts = np.bincount(class_codes)
    per_row = np.minimum(k, counts[class_codes] - 1)  # neighbors of its class each row has
    distance = np.where(np.isfinite(similarity), 1 - similarity, 0.0)
    usable = np.arange(k)[None, :] < per_row[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(per_row > 0, (distance * usable).sum(axis=1) / per_row, np.nan)
    flagged = np.zeros(len(table), dtype=bool)
    fences = {}
    for code in range(len(counts)):
        members = (class_codes == code) & (per_row > 0)
        if members.sum() < 4:  # no quartiles to speak of
            continue
        fences[code] = _fence(mean[members], iqr_scale)
        flagged |= members & (mean > fences[code])
    table["class_knn_distance"] = mean
    table["class_outlier"] = flagged
    classes = np.unique(np.asarray(table["label"]).astype(str))
    thresholds["class_outlier_fence"] = {classes[c].item(): f for c, f in fences.items()}
    return _row(
        table,
        "class_outlier",
        f"per class: mean distance to {k} of its class > Q3 + {iqr_scale:g} IQR",
    )


def _labels(table, X, labels, groups, method, random_state, device):
    """label_issue columns through find_label_issues' own detection; a summary row."""
    classes = np.unique(labels)
    if len(classes) < 2:
        return _skipped("label_issue", f"skipped: y has one class ({classes[0]!r})")
    if groups is not None and method != "confident_learning":
        # A sample's neighbors lie outside its group: with one group, it has none.
        if samples_outside(len(labels), _codes(groups)) < 1:
            reason = "skipped: every sample is in one group, so no label has a neighbor outside it"
            warn(f"audit_dataset: label_issue {reason}.", UserWarning)
            return _skipped("label_issue", reason)
    report = inspect_labels(
        X,
        labels,
        owner="audit_dataset",
        groups=groups,
        method=method,
        estimator=None,
        cv=5,
        n_neighbors="auto",
        random_state=random_state,
        device=device,
        n_jobs=None,
        search="auto",
    )
    table["label_issue"] = report.issues
    table["label_quality"] = report.quality
    table["suggested_label"] = report.relabeled()
    return _row(table, "label_issue", f"find_label_issues(method={method!r}, groups=...)")


def _balance(labels, groups, split, max_group_share, rare_class_share):
    """Class counts overall, per split and per group; the findings."""
    import pandas as pd

    columns = ["kind", "where", "class", "count", "detail"]
    if labels is None:
        return pd.DataFrame(), pd.DataFrame(columns=columns)
    frame = pd.DataFrame({"label": labels})
    parts = {"all": pd.Series("all", index=frame.index)}
    for name, values in (("split", split), ("group", groups)):
        if values is not None:
            parts[name] = pd.Series(values, index=frame.index)
    tables = []
    for name, where in parts.items():
        counts = pd.crosstab(where, frame["label"])
        counts.index = pd.MultiIndex.from_product([[name], counts.index], names=["by", "where"])
        tables.append(counts)
    balance = pd.concat(tables).fillna(0).astype(int)
    balance.columns.name = None
    totals = balance.loc["all"].iloc[0]
    findings = []
    mean_size = totals.mean()
    for cls, count in totals.items():
        if count < rare_class_share * mean_size:
            findings.append(
                (
                    "rare_class",
                    "all",
                    cls,
                    int(count),
                    f"{count} samples, mean class {mean_size:.0f}",
                )
            )
    if split is not None:
        for where, row in balance.loc["split"].iterrows():
            for cls, count in row.items():
                if count == 0:
                    findings.append(
                        ("missing_from_split", where, cls, 0, f"no {cls!s} in split {where!s}")
                    )
    if groups is not None and len(balance.loc["group"]) >= 2:
        for cls in balance.columns:
            column = balance.loc["group", cls]
            top = column.idxmax()
            share = column[top] / totals[cls]
            if share > max_group_share:
                findings.append(
                    (
                        "dominant_group",
                        top,
                        cls,
                        int(column[top]),
                        f"group {top!s} holds {share:.0%} of {cls!s}",
                    )
                )
    return balance, pd.DataFrame(findings, columns=columns)


def _row(table, issue_type, note):
    n = int(table[issue_type].sum())
    return {
        "issue_type": issue_type,
        "n_issues": n,
        "share": n / len(table),
        "checked": True,
        "note": note,
    }


def _skipped(issue_type, why):
    return {"issue_type": issue_type, "n_issues": 0, "share": 0.0, "checked": False, "note": why}
