"""Noise-robust classification losses as torch modules taking logits.

Every loss maps ``(logits, target)`` of shapes ``(n, k)`` and ``(n,)`` to
the mean per-sample loss, weighted by ``weight[target]`` when class weights
are given (the convention of :class:`torch.nn.CrossEntropyLoss`). Heads
select them by name through ``loss=`` and set their hyper-parameters
skorch-style, e.g. ``net_params={"criterion__q": 0.5}``.

References
----------
- GCE: Zhang & Sabuncu, "Generalized Cross Entropy Loss for Training Deep
  Neural Networks with Noisy Labels", NeurIPS 2018.
- SCE: Wang et al., "Symmetric Cross Entropy for Robust Learning with Noisy
  Labels", ICCV 2019.
- NCE+RCE: Ma et al., "Normalized Loss Functions for Deep Learning with
  Noisy Labels", ICML 2020.
- MAE: Ghosh et al., "Robust Loss Functions under Label Noise for Deep
  Neural Networks", AAAI 2017.
- Bootstrapping: Reed et al., "Training Deep Neural Networks on Noisy Labels
  with Bootstrapping", ICLR 2015 workshop.
"""

import torch
import torch.nn.functional as F
from torch import nn

# Probabilities are clamped here before powers and logs so gradients stay finite.
_EPS = 1e-7


class WeightedMeanLoss(nn.Module):
    """Base class: a per-sample loss averaged with optional class weights.

    Parameters
    ----------
    weight : array-like of shape (n_classes,) or None, default=None
        Weight of each class; the batch loss is
        ``sum(weight[y_i] * l_i) / sum(weight[y_i])``.
    """

    def __init__(self, weight=None):
        super().__init__()
        weight = None if weight is None else torch.as_tensor(weight, dtype=torch.float32)
        self.register_buffer("weight", weight)

    def per_sample(self, logits, target):
        """Loss of each sample, shape ``(n,)``."""
        raise NotImplementedError

    def forward(self, logits, target):
        """Weighted mean of :meth:`per_sample` over the batch."""
        losses = self.per_sample(logits, target)
        if self.weight is None:
            return losses.mean()
        weights = self.weight[target]
        return (weights * losses).sum() / weights.sum()


def _true_class_proba(logits, target):
    """Softmax probability of the labeled class, clamped away from 0."""
    proba = F.softmax(logits, dim=1)
    return proba.gather(1, target[:, None]).squeeze(1).clamp_min(_EPS)


class CrossEntropy(WeightedMeanLoss):
    """Categorical cross-entropy ``-log p_y``.

    Examples
    --------
    The second sample's label disagrees with a confident prediction:

    >>> import torch
    >>> logits, target = torch.tensor([[2.0, 0.0], [0.0, 2.0]]), torch.tensor([0, 0])
    >>> from skhisto.heads import CrossEntropy
    >>> round(CrossEntropy()(logits, target).item(), 4)
    1.1269
    """

    def per_sample(self, logits, target):
        return F.cross_entropy(logits, target, reduction="none")


class GeneralizedCrossEntropy(WeightedMeanLoss):
    """Generalized cross-entropy ``(1 - p_y ** q) / q``.

    It interpolates between cross-entropy (``q -> 0``) and half the mean
    absolute error (``q = 1``), trading fit speed for noise robustness.

    Parameters
    ----------
    q : float in (0, 1], default=0.7
        The value of Zhang & Sabuncu's experiments.
    weight : array-like of shape (n_classes,) or None, default=None

    Examples
    --------
    Near ``q = 0`` it is the cross-entropy, at ``q = 1`` half the MAE:

    >>> import torch
    >>> from skhisto.heads import CrossEntropy, GeneralizedCrossEntropy, MeanAbsoluteError
    >>> logits, target = torch.tensor([[2.0, 0.0], [0.0, 2.0]]), torch.tensor([0, 0])
    >>> gce = [GeneralizedCrossEntropy(q=q)(logits, target).item() for q in (1e-4, 1.0)]
    >>> round(gce[0], 3), round(CrossEntropy()(logits, target).item(), 3)
    (1.127, 1.127)
    >>> round(gce[1], 3), round(MeanAbsoluteError()(logits, target).item() / 2, 3)
    (0.5, 0.5)
    """

    def __init__(self, q=0.7, weight=None):
        super().__init__(weight)
        if not 0 < q <= 1:
            raise ValueError(f"GeneralizedCrossEntropy needs q in (0, 1], got q={q!r}.")
        self.q = q

    def per_sample(self, logits, target):
        return (1 - _true_class_proba(logits, target) ** self.q) / self.q


def _reverse_cross_entropy(logits, target, log_zero):
    """``-sum_k p_k log t_k`` with ``log 0`` replaced by ``log_zero``: ``-log_zero * (1 - p_y)``."""
    proba = F.softmax(logits, dim=1)
    return -log_zero * (1 - proba.gather(1, target[:, None]).squeeze(1))


class SymmetricCrossEntropy(WeightedMeanLoss):
    """Symmetric cross-entropy ``alpha * CE + beta * RCE``.

    The reverse cross-entropy swaps prediction and label; the log of the
    one-hot label's zeros is truncated to ``log_zero``, so it equals
    ``-log_zero * (1 - p_y)``.

    Parameters
    ----------
    alpha, beta : float, default=0.1, 1.0
        Weights of CE and RCE (Wang et al.'s CIFAR-10 setting).
    log_zero : float, default=-4.0
        The truncated ``log 0`` (the paper's ``A``).
    weight : array-like of shape (n_classes,) or None, default=None

    Examples
    --------
    Without its reverse term it is the cross-entropy:

    >>> import torch
    >>> from skhisto.heads import CrossEntropy, SymmetricCrossEntropy
    >>> logits, target = torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([2])
    >>> plain = SymmetricCrossEntropy(alpha=1.0, beta=0.0)(logits, target)
    >>> bool(torch.isclose(plain, CrossEntropy()(logits, target)))
    True
    >>> round(SymmetricCrossEntropy()(logits, target).item(), 4)
    3.8806
    """

    def __init__(self, alpha=0.1, beta=1.0, log_zero=-4.0, weight=None):
        super().__init__(weight)
        self.alpha, self.beta, self.log_zero = alpha, beta, log_zero

    def per_sample(self, logits, target):
        ce = F.cross_entropy(logits, target, reduction="none")
        return self.alpha * ce + self.beta * _reverse_cross_entropy(logits, target, self.log_zero)


class NormalizedCrossEntropyReverse(WeightedMeanLoss):
    """Active-passive loss ``alpha * NCE + beta * RCE``.

    The normalized cross-entropy ``log p_y / sum_k log p_k`` lies in
    ``[0, 1]`` (``1 / k`` for a uniform prediction), which makes it robust
    but slow to fit; the reverse cross-entropy (see
    :class:`SymmetricCrossEntropy`) supplies the passive term.

    Parameters
    ----------
    alpha, beta : float, default=1.0, 1.0
        Weights of NCE and RCE (Ma et al.'s CIFAR-10 setting).
    log_zero : float, default=-4.0
        The truncated ``log 0`` of the reverse cross-entropy.
    weight : array-like of shape (n_classes,) or None, default=None

    Examples
    --------
    The normalized term of a uniform prediction over four classes is 1/4:

    >>> import torch
    >>> from skhisto.heads import NormalizedCrossEntropyReverse
    >>> nce = NormalizedCrossEntropyReverse(alpha=1.0, beta=0.0)
    >>> round(nce(torch.zeros(1, 4), torch.tensor([0])).item(), 4)
    0.25
    """

    def __init__(self, alpha=1.0, beta=1.0, log_zero=-4.0, weight=None):
        super().__init__(weight)
        self.alpha, self.beta, self.log_zero = alpha, beta, log_zero

    def per_sample(self, logits, target):
        log_proba = F.log_softmax(logits, dim=1)
        nce = log_proba.gather(1, target[:, None]).squeeze(1) / log_proba.sum(dim=1)
        return self.alpha * nce + self.beta * _reverse_cross_entropy(logits, target, self.log_zero)


class MeanAbsoluteError(WeightedMeanLoss):
    """Mean absolute error ``sum_k |e_y,k - p_k| = 2 (1 - p_y)``, bounded in ``[0, 2]``.

    Examples
    --------
    Bounded: a confidently wrong prediction costs at most 2, however confident:

    >>> import torch
    >>> from skhisto.heads import MeanAbsoluteError
    >>> round(MeanAbsoluteError()(torch.tensor([[-50.0, 50.0]]), torch.tensor([0])).item(), 3)
    2.0
    """

    def per_sample(self, logits, target):
        return 2 * (1 - F.softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1))


class Bootstrapping(WeightedMeanLoss):
    """Bootstrapping: cross-entropy against a mix of the label and the prediction.

    Soft: ``-sum_k (beta * t_k + (1 - beta) * p_k) log p_k``. Hard:
    ``-(beta * log p_y + (1 - beta) * log p_argmax)``. ``beta = 1`` is plain
    cross-entropy.

    Parameters
    ----------
    beta : float in [0, 1], default=0.95
        Weight of the given label (Reed et al. use 0.95 soft, 0.8 hard).
    hard : bool, default=False
        Mix in the predicted class instead of the predicted distribution.
    weight : array-like of shape (n_classes,) or None, default=None

    Examples
    --------
    ``beta=1`` is the cross-entropy; a lower beta trusts the prediction more:

    >>> import torch
    >>> from skhisto.heads import Bootstrapping
    >>> logits, target = torch.tensor([[2.0, 0.0]]), torch.tensor([1])
    >>> [round(Bootstrapping(beta=b)(logits, target).item(), 3) for b in (1.0, 0.8)]
    [2.127, 1.775]
    """

    def __init__(self, beta=0.95, hard=False, weight=None):
        super().__init__(weight)
        if not 0 <= beta <= 1:
            raise ValueError(f"Bootstrapping needs beta in [0, 1], got beta={beta!r}.")
        self.beta, self.hard = beta, hard

    def per_sample(self, logits, target):
        log_proba = F.log_softmax(logits, dim=1)
        labeled = log_proba.gather(1, target[:, None]).squeeze(1)
        if self.hard:
            predicted = log_proba.max(dim=1).values
        else:
            predicted = (log_proba.exp() * log_proba).sum(dim=1)
        return -(self.beta * labeled + (1 - self.beta) * predicted)


#: Loss names accepted by the heads' ``loss=`` parameter.
LOSSES = {
    "cross_entropy": CrossEntropy,
    "gce": GeneralizedCrossEntropy,
    "sce": SymmetricCrossEntropy,
    "nce+rce": NormalizedCrossEntropyReverse,
    "mae": MeanAbsoluteError,
    "bootstrap": Bootstrapping,
}
