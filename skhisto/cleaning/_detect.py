"""Find likely-wrong labels and estimate how noisy a labeled set is."""

from dataclasses import dataclass
from numbers import Integral

import numpy as np
import torch
from sklearn.model_selection import cross_val_predict
from sklearn.utils import check_array, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ..utils import check_groups, check_labels, grouped_folds, warn
from ..utils._params import with_seed
from ..utils._sklearn_compat import HasMethods, Interval, StrOptions, validate_params
from ._confident import confident_joint, noise_from_joint, prune_by_noise_rate
from ._neighbors import (
    nearest,
    neighbor_shares,
    neighbor_votes,
    resolve_n_neighbors,
)

METHODS = ("knn", "confident_learning", "ensemble")
# What inspect_labels takes besides the data; the public functions and the filter pass them on.
OPTIONS = (
    "method", "estimator", "cv", "n_neighbors", "random_state", "device", "n_jobs", "search",
)  # fmt: skip
_MAX_SEED = np.iinfo(np.int32).max

# Shared by find_label_issues, estimate_noise and LabelIssueFilter.
PARAMETER_CONSTRAINTS = {
    "method": [StrOptions(set(METHODS))],
    "estimator": [HasMethods(["fit", "predict_proba"]), None],
    "cv": [Interval(Integral, 2, None, closed="left")],
    "n_neighbors": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
    "device": [str, torch.device],
    "n_jobs": [Integral, None],
    "search": [StrOptions({"auto", "exact", "faiss"})],
}

_METHOD_DOC = """method : {"knn", "confident_learning", "ensemble"}, default="knn"
        ``"knn"`` trains nothing: each label is checked against the labels
        of the sample's ``n_neighbors`` nearest neighbors (cosine on
        standardized embeddings), in two rounds, the second counting only
        neighbors the first did not flag. ``"confident_learning"`` uses
        the out-of-fold ``predict_proba`` of ``estimator``. Both then apply
        confident learning's rule: per given label, flag as many samples as
        the calibrated confident joint says are mislabeled, those with the
        largest margin for another class. ``"ensemble"`` averages the two
        methods' probabilities before that rule."""

OPTIONS_DOC = """estimator : classifier with predict_proba or None, default=None
        Model whose out-of-fold probabilities confident learning uses
        (cloned; unset ``random_state`` parameters are seeded from
        ``random_state``). None means a :class:`~skhisto.LinearHead`.
        Unused by ``"knn"``.
    cv : int, default=5
        Number of stratified, shuffled folds for the out-of-fold
        probabilities; every class needs at least ``cv`` samples. Unused
        by ``"knn"``.
    n_neighbors : "auto" or int, default="auto"
        Neighbors whose labels each sample is checked against; ``"auto"``
        is ``sqrt(n_samples)`` clipped to [5, 50]. Unused by
        ``"confident_learning"``.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds and ``estimator``; ``"knn"`` is deterministic.
    device : {"auto"} or str or torch.device, default="auto"
        Where the neighbor search runs; ``"auto"`` picks CUDA, then MPS,
        else the CPU. It holds one block of at most 256 MiB of
        similarities at a time.
    n_jobs : int or None, default=None
        Parallel jobs for confident learning's folds.
    search : {"auto", "exact", "faiss"}, default="auto"
        The neighbor search (:func:`~skhisto.utils.nearest_neighbors`'s
        ``method``): ``"exact"`` always; ``"faiss"`` the approximate IVF
        index; ``"auto"`` exact up to 50,000 squared sample pairs, the
        index above when faiss is installed. Where classes overlap the
        index misses neighbors that can change a vote (0.08 F1 at 10^5
        samples in the scaling benchmark): pass ``"exact"`` when the time
        is there. Unused by ``"confident_learning"``."""


def detection_options(arguments):
    """The detection options among ``arguments`` (a function's locals or an estimator's params)."""
    return {name: arguments[name] for name in OPTIONS}


@dataclass
class LabelReport:
    """What a detection run found; indices follow ``X`` and ``y``."""

    classes: np.ndarray
    codes: np.ndarray
    issues: np.ndarray
    suggested: np.ndarray
    quality: np.ndarray
    joint: np.ndarray

    def noise(self):
        return noise_from_joint(self.joint)

    def labels(self):
        """The given labels, as values of ``classes``."""
        return self.classes[self.codes]

    def relabeled(self):
        """The given labels with each flagged one replaced by its suggested class."""
        return np.where(self.issues, self.classes[self.suggested], self.labels())


def inspect_labels(X, y, *, owner, groups=None, **options):
    """Run one detection method on embeddings ``X`` and labels ``y``; a :class:`LabelReport`.

    A label only one sample carries has nothing to be compared with: such
    samples are flagged as suspect (quality 0, suggested the class most of
    their neighbors hold), left out of every statistic of the other classes
    and of the noise estimate, and named in a warning.
    """
    X, classes, codes = _checked_data(X, y, owner)
    options["owner"] = owner
    groups = _group_codes(groups, len(codes), options)
    alone = np.bincount(codes, minlength=len(classes))[codes] < 2
    if not alone.any():
        return _inspect(X, classes, codes, groups=groups, **options)
    kept, kept_codes = np.unique(codes[~alone], return_inverse=True)
    singles = classes[codes[alone]]
    if len(kept) < 2:
        raise ValueError(
            f"{owner} compares each label with the other samples of its class, but "
            f"{len(singles)} of the {len(classes)} classes of y have a single sample and "
            f"{len(kept)} ({_names(classes[kept]) or 'none'}) more than one: too few samples "
            "per class to tell a wrong label from a right one."
        )
    warn(
        f"{owner}: {len(singles)} of the {len(classes)} classes of y have a single sample "
        f"({_names(singles)}). No other sample can vouch for such a label, so those samples "
        "are reported as suspect (flagged, quality 0) and left out of the other classes' "
        "statistics and of the noise estimate.",
        UserWarning,
    )
    part = _inspect(X[~alone], classes[kept], kept_codes, groups=_subset(groups, ~alone), **options)
    search_options = {name: options[name] for name in ("n_neighbors", "device", "search")}
    return _with_singletons(part, X, classes, codes, alone, kept, groups=groups, **search_options)


def _group_codes(groups, n_samples, options):
    """Integer codes of ``groups`` (None stays None), checked against the neighbors asked."""
    groups = check_groups(groups, n_samples)
    if groups is None:
        return None
    codes = np.unique(groups.astype(str), return_inverse=True)[1].ravel()
    if options["method"] in ("knn", "ensemble"):
        resolve_n_neighbors(options["n_neighbors"], n_samples, codes)  # raises when too few
    return codes


def _subset(groups, mask):
    return None if groups is None else groups[mask]


def _names(values, limit=8):
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def _inspect(
    X,
    classes,
    codes,
    *,
    method,
    estimator,
    cv,
    n_neighbors,
    random_state,
    device,
    n_jobs,
    search,
    owner,
    groups=None,
):
    parts = []
    if method in ("knn", "ensemble"):
        if X.shape[1] < 2:  # cosine on one standardized column is its sign: every neighbor ties
            raise ValueError(
                f"{owner}(method={method!r}) compares embeddings by cosine similarity and needs "
                f"at least 2 features; X has n_features={X.shape[1]}. "
                "Use method='confident_learning'."
            )
        k = resolve_n_neighbors(n_neighbors, len(codes), groups)
        parts.append(
            neighbor_votes(X, codes, len(classes), k, device, groups=groups, search=search)
        )
    if method in ("confident_learning", "ensemble"):
        parts.append(
            _out_of_fold_proba(X, codes, classes, estimator, cv, random_state, n_jobs, groups)
        )
    proba = np.mean(parts, axis=0)
    joint = confident_joint(proba, codes)
    issues, suggested = prune_by_noise_rate(proba, codes, joint)
    quality = proba[np.arange(len(codes)), codes]
    return LabelReport(classes, codes, issues, suggested, quality, joint)


def _with_singletons(part, X, classes, codes, alone, kept, *, n_neighbors, device, search, groups):
    """The report over every sample: ``part`` for the others, singletons flagged."""
    issues, quality = np.ones(len(codes), dtype=bool), np.zeros(len(codes))
    issues[~alone], quality[~alone] = part.issues, part.quality
    suggested = np.empty(len(codes), dtype=np.intp)
    suggested[~alone] = kept[part.suggested]
    # A singleton's suggestion: the class its nearest neighbors hold most (among the others).
    rows = np.flatnonzero(alone)
    k = resolve_n_neighbors(n_neighbors, len(codes), groups)
    neighbors, similarity = nearest(X, k, device, rows=rows, groups=groups, method=search)
    shares = neighbor_shares(codes, neighbors, similarity, len(classes))
    suggested[rows] = kept[np.argmax(shares[:, kept], axis=1)]
    joint = np.zeros((len(classes), len(classes)))
    joint[np.ix_(kept, kept)] = part.joint
    return LabelReport(classes, codes, issues, suggested, quality, joint)


def _checked_data(X, y, owner):
    check_labels(y, owner)
    y = column_or_1d(y, warn=True)
    check_classification_targets(y)  # continuous y would make every value a class
    X = check_array(X, dtype=[np.float64, np.float32], ensure_min_samples=2, input_name="X")
    check_consistent_length(X, y)
    if np.ptp(X, axis=0).max() == 0:  # every neighbor ties: the flags would follow row order
        raise ValueError(
            f"{owner}: every row of X is the same embedding, so X cannot tell a wrong label "
            "from a right one; check the embedder (blank or identical images?)."
        )
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"{owner} needs at least 2 classes in y to tell a wrong label from a right one; "
            f"y has one class: {classes.tolist()}."
        )
    return X, classes, codes


def _out_of_fold_proba(X, codes, classes, estimator, cv, random_state, n_jobs, groups=None):
    counts = np.bincount(codes, minlength=len(classes))
    if counts.min() < cv:
        small = {classes[i].item(): int(c) for i, c in enumerate(counts) if c < cv}
        raise ValueError(
            f"confident learning needs at least cv={cv} samples of every class for its "
            f"out-of-fold probabilities; too few in {small}. Pass a smaller cv or "
            "method='knn'."
        )
    seed = check_random_state(random_state).randint(_MAX_SEED)
    if estimator is None:
        from ..heads import LinearHead  # torch loads only when this method runs

        estimator = LinearHead()
    folds = grouped_folds(cv, X, codes, groups, random_state=seed)  # groups: never split
    model = with_seed(estimator, seed)
    return cross_val_predict(model, X, codes, cv=folds, method="predict_proba", n_jobs=n_jobs)


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        **PARAMETER_CONSTRAINTS,
        "return_scores": ["boolean"],
        "groups": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def find_label_issues(
    X,
    y,
    *,
    method="knn",
    estimator=None,
    cv=5,
    n_neighbors="auto",
    random_state=None,
    device="auto",
    n_jobs=None,
    search="auto",
    return_scores=False,
    groups=None,
):
    """Flag the labels that are likely wrong.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Embeddings, e.g. from :class:`~skhisto.FoundationEmbedder`.
    y : array-like of shape (n_samples,)
        Given labels, possibly noisy. Never modified.
    {params}
    return_scores : bool, default=False
        Also return each label's quality score.
    groups : array-like of shape (n_samples,), default=None
        Patient or slide of each sample. Neighbors then come from other
        groups only, and confident learning's folds never split a group:
        patches of one slide (near-copies) cannot vouch for each other.

    Returns
    -------
    issues : ndarray of shape (n_samples,), dtype=bool
        True where the label is likely wrong.
    scores : ndarray of shape (n_samples,)
        Only with ``return_scores=True``: the label quality in [0, 1], the
        probability the method gives the sample's own label (for
        ``"knn"``, the share of its neighbors that agree); lower is more
        likely wrong.

    See Also
    --------
    estimate_noise : The share of wrong labels and the transition matrix.
    LabelIssueFilter : Remove or relabel the flagged samples in a Pipeline.

    Examples
    --------
    Three well-separated clusters, 60 of whose 300 labels are flipped; 58 of
    them are flagged, and nothing else:

    >>> from sklearn.datasets import make_blobs
    >>> from skhisto import UniformNoise, find_label_issues
    >>> X, y = make_blobs(300, centers=[[0, 0], [8, 0], [0, 8]], random_state=0)
    >>> noise = UniformNoise(0.2, random_state=0)
    >>> _, y_noisy = noise.fit_resample(X, y)
    >>> issues, scores = find_label_issues(X, y_noisy, return_scores=True)
    >>> int(issues.sum()), int((issues & noise.noise_mask_).sum())
    (58, 58)
    >>> flipped = noise.noise_mask_  # flipped labels score low, the others high
    >>> round(float(scores[flipped].mean()), 2), round(float(scores[~flipped].mean()), 2)
    (0.03, 0.98)
    """
    options = detection_options(locals())
    report = inspect_labels(X, y, owner="find_label_issues", groups=groups, **options)
    return (report.issues, report.quality) if return_scores else report.issues


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        **PARAMETER_CONSTRAINTS,
        "groups": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def estimate_noise(
    X,
    y,
    *,
    method="knn",
    estimator=None,
    cv=5,
    n_neighbors="auto",
    random_state=None,
    device="auto",
    n_jobs=None,
    search="auto",
    groups=None,
):
    """Estimate the share of wrong labels and how labels flip between classes.

    The estimate comes from the calibrated confident joint of ``method``'s
    probabilities: an estimate of how many samples carry each given label
    while being of each true class. Samples that the embeddings place among
    another class count as mislabeled, so on embeddings that separate the
    classes poorly the estimate includes their confusion too.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Embeddings.
    y : array-like of shape (n_samples,)
        Given labels, possibly noisy.
    {params}
    groups : array-like of shape (n_samples,), default=None
        Patient or slide of each sample. Neighbors then come from other
        groups only, and confident learning's folds never split a group:
        patches of one slide (near-copies) cannot vouch for each other.

    Returns
    -------
    noise_rate : float
        Estimated share of samples whose label is wrong.
    transition_matrix : ndarray of shape (n_classes, n_classes)
        Estimated ``P(noisy = j | true = i)``, rows and columns in the
        order of ``np.unique(y)``; each row sums to 1, as
        :class:`~skhisto.TransitionMatrixNoise` takes it. A class no
        sample is confidently of gets an identity row.

    See Also
    --------
    find_label_issues : Which labels are likely wrong.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skhisto import UniformNoise, estimate_noise
    >>> X, y = make_blobs(600, centers=[[0, 0], [8, 0], [0, 8]], random_state=0)
    >>> _, y_noisy = UniformNoise(0.3, random_state=0).fit_resample(X, y)
    >>> noise_rate, transition = estimate_noise(X, y_noisy)
    >>> round(noise_rate, 2)
    0.3
    >>> transition.round(2)
    array([[0.64, 0.2 , 0.16],
           [0.14, 0.76, 0.1 ],
           [0.16, 0.14, 0.7 ]])
    """
    options = detection_options(locals())
    report = inspect_labels(X, y, owner="estimate_noise", groups=groups, **options)
    return report.noise()


for _function in (find_label_issues, estimate_noise):
    _function.__doc__ = _function.__doc__.replace("{params}", f"{_METHOD_DOC}\n    {OPTIONS_DOC}")
