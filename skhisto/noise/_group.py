"""Group-level label noise: a slide's or patient's wrong diagnosis copied onto every patch."""

from numbers import Real

import numpy as np
from sklearn.base import clone

from ..utils import check_groups, check_labels
from ..utils._sklearn_compat import Interval, _fit_context
from ._base import BaseLabelNoise, _as_labels, document_fitted_attributes
from ._registry import get_noise_model, register_noise_model


@register_noise_model("group")
@document_fitted_attributes
class GroupNoise(BaseLabelNoise):
    """Flip whole groups: ``round(rate * n_groups)`` groups get one wrong label each.

    Real noisy labels come per slide or per patient: a slide-level
    diagnosis is copied onto every patch, so when it is wrong, all of the
    slide's patches are wrong together. ``GroupNoise`` draws the wrong
    groups, not the wrong samples. Each group's label is its majority label
    (its diagnosis; ties go to the first class); exactly
    ``round(rate * n_groups)`` groups are drawn, each is given one wrong
    label drawn by the ``noise`` model from its majority label, and that
    label is written onto every member. A member whose own label already is
    the new one keeps it (and is not counted as flipped).

    ``rate`` is thus a share of **groups**, not of samples: with groups of
    unequal size the share of flipped samples (``noise_mask_.mean()``, the
    ``realized_rate`` column of
    :func:`~skhisto.model_selection.noise_robustness_curve`) differs from
    it; ``realized_group_rate_`` is the share of groups given a wrong label.
    As for :class:`UniformNoise`, the draw order of the groups is seeded by
    ``random_state`` alone, so the flipped groups are nested as ``rate``
    grows, and it does not depend on the order of the rows.

    ``groups`` is data, passed to :meth:`fit_resample` (or ``fit``).
    ``noise_robustness_curve(..., noise="group", groups=groups)`` passes
    each training fold's groups to it, as does
    ``NoisyLabelClassifier(estimator, GroupNoise()).fit(X, y, groups=groups)``.
    In an imbalanced-learn Pipeline (which passes a sampler no fit parameter
    without metadata routing), enable routing and request them:
    ``sklearn.set_config(enable_metadata_routing=True)``, then
    ``GroupNoise().set_fit_resample_request(groups=True)``, and
    ``pipe.fit(X, y, groups=groups)`` or ``GridSearchCV(pipe, ...,
    cv=GroupKFold()).fit(X, y, groups=groups)`` reach both the splitter and
    the noise.

    Parameters
    ----------
    rate : float in [0, 1), default=0.2
        Fraction of groups given a wrong label.
    noise : str or label-noise sampler, default="uniform"
        How a drawn group's wrong label is chosen from its majority label: a
        name of :func:`~skhisto.noise.list_noise_models` (``"uniform"``: a
        uniformly drawn other class; ``"asymmetric"``: the next class) or a
        sampler such as ``AsymmetricNoise(mapping={"STR": "MUS"})`` (its
        partner class). Its own ``rate`` and ``random_state`` are replaced
        by these. With a model that may keep a label
        (:class:`TransitionMatrixNoise`), fewer groups may end up flipped.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw of the groups and of their wrong labels.

    Attributes
    ----------
    {fitted_attributes}
    noise_ : BaseLabelNoise
        The ``noise`` model as applied to the group labels.
    noisy_groups_ : ndarray
        The groups given a wrong label, sorted by their ids as text.
    realized_group_rate_ : float
        Share of the groups given a wrong label.

    See Also
    --------
    UniformNoise : Flips independent samples.
    skhisto.model_selection.noise_robustness_curve : Curves over rates, with groups.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto import GroupNoise
    >>> y = np.repeat(["aca", "n", "scc", "aca", "n"], 4)
    >>> slides = np.repeat(["s1", "s2", "s3", "s4", "s5"], 4)
    >>> noise = GroupNoise(rate=0.4, random_state=0)
    >>> X, y_noisy = noise.fit_resample(np.zeros((20, 1)), y, groups=slides)
    >>> noise.noisy_groups_.tolist()
    ['s1', 's3']
    >>> int(noise.noise_mask_.sum()), [len(set(y_noisy[slides == s])) for s in ("s1", "s3")]
    (8, [1, 1])
    """

    _parameter_constraints: dict = {
        **BaseLabelNoise._parameter_constraints,
        "rate": [Interval(Real, 0, 1, closed="left")],
        "noise": [str, BaseLabelNoise],
    }

    def __init__(self, rate=0.2, *, noise="uniform", random_state=None):
        super().__init__(random_state=random_state)
        self.rate = rate
        self.noise = noise

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_resample(self, X, y, groups=None):
        """Return ``X`` unchanged and ``y`` with whole groups flipped.

        Parameters
        ----------
        X : array-like, DataFrame, sparse matrix or list of length n_samples
            Any samples; returned as is.
        y : array-like of shape (n_samples,)
            Clean labels. Never modified.
        groups : array-like of shape (n_samples,)
            The group (slide, patient) of each sample. Required: without it
            there is no group to flip, and a ValueError says how to pass it.

        Returns
        -------
        X : same object as the input ``X``
        y_noisy : same type as ``y``
        """
        check_labels(y, type(self).__name__)  # y first: a missing y is said as for the others
        n_samples = _as_labels(y)[0].shape[0]
        if groups is None:
            raise ValueError(
                "GroupNoise flips whole groups and needs groups (the slide or patient of each "
                "sample): call fit_resample(X, y, groups=groups); in an imbalanced-learn "
                "Pipeline, enable metadata routing (sklearn.set_config("
                "enable_metadata_routing=True)) and request them with "
                "GroupNoise(...).set_fit_resample_request(groups=True); "
                "noise_robustness_curve(..., noise='group', groups=groups) passes them itself."
            )
        groups = check_groups(groups, n_samples)
        self.noise_ = self._group_model()
        self._fit_groups = groups  # read by _noisy_codes during this call only
        try:
            return super().fit_resample(X, y)
        finally:
            del self._fit_groups

    def _group_model(self):
        noise = self.noise
        if isinstance(noise, str):
            noise = get_noise_model(noise)(rate=self.rate)
        if isinstance(noise, GroupNoise):
            raise ValueError(
                "GroupNoise(noise=...) draws each group's wrong label; it cannot be GroupNoise "
                "itself. Use 'uniform', 'asymmetric' or a sampler such as AsymmetricNoise(...)."
            )
        params = noise.get_params()
        noise = clone(noise)
        if "rate" in params:
            noise.set_params(rate=self.rate)
        return noise.set_params(random_state=self.random_state)

    def _encode(self, y):
        return self.noise_._encode(y)  # the group model's classes (TransitionMatrixNoise's own)

    def _noisy_codes(self, codes, rng):
        names, group_of = np.unique(self._fit_groups.astype(str), return_inverse=True)
        group_of = group_of.ravel()
        n_groups, n_classes = len(names), len(self.classes_)
        counts = np.zeros((n_groups, n_classes), dtype=np.intp)
        np.add.at(counts, (group_of, codes), 1)
        majority = counts.argmax(axis=1)  # each group's diagnosis; ties: the first class
        self.noise_.classes_ = self.classes_
        wrong = self.noise_._checked_codes(self.noise_._noisy_codes(majority, rng), majority)
        flipped = wrong != majority
        noisy = codes.copy()
        members = flipped[group_of]
        noisy[members] = wrong[group_of[members]]
        first = np.unique(group_of, return_index=True)[1]  # a row of each group, in names order
        original = self._fit_groups[first]
        self.noisy_groups_ = original[flipped]  # in the order of their ids as text
        self.realized_group_rate_ = float(flipped.mean())
        return noisy
