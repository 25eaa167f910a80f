"""The noise-robust losses against their definitions on tiny tensors."""

import math

import pytest
import torch
import torch.nn.functional as F

from skhisto.heads import (
    LOSSES,
    Bootstrapping,
    CrossEntropy,
    GeneralizedCrossEntropy,
    MeanAbsoluteError,
    NormalizedCrossEntropyReverse,
    SymmetricCrossEntropy,
)

LOGITS = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [-3.0, 4.0, 0.0], [1.0, 1.0, 1.0]])
TARGET = torch.tensor([0, 2, 0, 1])
P_Y = F.softmax(LOGITS, dim=1)[torch.arange(4), TARGET]


def test_cross_entropy_matches_torch_with_and_without_class_weights():
    torch.testing.assert_close(CrossEntropy()(LOGITS, TARGET), F.cross_entropy(LOGITS, TARGET))
    weight = torch.tensor([1.0, 3.0, 0.5])
    torch.testing.assert_close(
        CrossEntropy(weight=weight)(LOGITS, TARGET), F.cross_entropy(LOGITS, TARGET, weight=weight)
    )


def test_gce_formula_and_limits():
    q = 0.7
    torch.testing.assert_close(
        GeneralizedCrossEntropy(q)(LOGITS, TARGET), ((1 - P_Y**q) / q).mean()
    )
    # q -> 0 recovers cross-entropy; q = 1 is half the MAE.
    ce = F.cross_entropy(LOGITS, TARGET)
    assert GeneralizedCrossEntropy(1e-4)(LOGITS, TARGET).item() == pytest.approx(ce.item(), 1e-3)
    torch.testing.assert_close(
        GeneralizedCrossEntropy(1.0)(LOGITS, TARGET), MeanAbsoluteError()(LOGITS, TARGET) / 2
    )
    with pytest.raises(ValueError, match="q in \\(0, 1\\]"):
        GeneralizedCrossEntropy(q=0.0)


def test_mae_is_l1_distance_to_one_hot_and_bounded():
    one_hot = F.one_hot(TARGET, 3).float()
    expected = (one_hot - F.softmax(LOGITS, dim=1)).abs().sum(dim=1).mean()
    torch.testing.assert_close(MeanAbsoluteError()(LOGITS, TARGET), expected)
    # Even a confidently wrong prediction costs at most 2, unlike cross-entropy.
    wrong = torch.tensor([[50.0, -50.0, -50.0]])
    assert MeanAbsoluteError()(wrong, torch.tensor([1])).item() == pytest.approx(2.0)
    assert CrossEntropy()(wrong, torch.tensor([1])).item() > 99


def test_sce_is_weighted_ce_plus_reverse_ce():
    alpha, beta = 0.1, 1.0
    ce = F.cross_entropy(LOGITS, TARGET, reduction="none")
    # RCE = -sum_k p_k log(t_k) with log 0 := -4, i.e. 4 * (1 - p_y).
    rce = 4 * (1 - P_Y)
    torch.testing.assert_close(
        SymmetricCrossEntropy(alpha, beta)(LOGITS, TARGET), (alpha * ce + beta * rce).mean()
    )


def test_nce_is_normalised_and_uniform_prediction_gives_one_over_k():
    log_p = F.log_softmax(LOGITS, dim=1)
    nce = log_p[torch.arange(4), TARGET] / log_p.sum(dim=1)
    assert ((nce >= 0) & (nce <= 1)).all()
    loss = NormalizedCrossEntropyReverse(alpha=1.0, beta=0.0)(LOGITS, TARGET)
    torch.testing.assert_close(loss, nce.mean())
    uniform = NormalizedCrossEntropyReverse(alpha=1.0, beta=0.0)(LOGITS[3:], TARGET[3:])
    assert uniform.item() == pytest.approx(1 / 3)
    both = NormalizedCrossEntropyReverse()(LOGITS, TARGET)
    torch.testing.assert_close(both, (nce + 4 * (1 - P_Y)).mean())


def test_bootstrapping_soft_hard_and_beta_one():
    ce = F.cross_entropy(LOGITS, TARGET)
    torch.testing.assert_close(Bootstrapping(beta=1.0)(LOGITS, TARGET), ce)
    p = F.softmax(LOGITS, dim=1)
    one_hot = F.one_hot(TARGET, 3).float()
    soft = -((0.95 * one_hot + 0.05 * p) * p.log()).sum(dim=1).mean()
    torch.testing.assert_close(Bootstrapping()(LOGITS, TARGET), soft)
    hard_target = 0.8 * one_hot + 0.2 * F.one_hot(p.argmax(dim=1), 3).float()
    hard = -(hard_target * p.log()).sum(dim=1).mean()
    torch.testing.assert_close(Bootstrapping(beta=0.8, hard=True)(LOGITS, TARGET), hard)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_is_minimised_by_the_labelled_class_and_has_finite_gradients(name):
    logits = torch.zeros(3, 3, requires_grad=True)
    target = torch.tensor([0, 1, 2])
    loss_fn = LOSSES[name](weight=torch.tensor([1.0, 2.0, 1.0]))
    loss = loss_fn(logits, target)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    # Gradient descent raises the labelled logit of every sample.
    assert (logits.grad[torch.arange(3), target] < 0).all()
    confident = 10 * F.one_hot(target, 3).float()
    assert loss_fn(confident, target).item() < loss.item()
    assert math.isfinite(loss_fn(1e4 * F.one_hot(target, 3).float(), (target + 1) % 3).item())
