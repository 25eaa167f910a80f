"""Divergence checks: a NaN or infinite loss, weight or output stops with NonFiniteError."""

import numpy as np
import torch
from skorch.callbacks import Callback

from ..exceptions import NonFiniteError

_HINT = (
    "lower lr, standardize the embeddings (e.g. a StandardScaler before the head), or use a "
    "bounded loss"
)


class StopOnNonFinite(Callback):
    """Raise :class:`~skhisto.exceptions.NonFiniteError` as soon as training diverges.

    Every training and validation batch loss is checked, and the weights at
    the end of training (a last step can overflow them with a finite loss),
    so a fitted head never holds NaN weights.

    A loss that stays finite but explodes (an epoch's mean training loss
    above ``EXPLODED`` times ``log(n_classes)``, the loss of a uniform guess)
    is divergence too: its weights saturate every prediction to one class.

    Parameters
    ----------
    owner : str
        The head named in the message.
    n_classes : int, default=2
        Sets the scale of an exploded loss.
    """

    #: A mean loss this many times a uniform guess's means the weights blew up.
    EXPLODED = 1e3

    def __init__(self, owner="the head", n_classes=2):
        self.owner = owner
        self.n_classes = n_classes

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1].get("train_loss")
        limit = self.EXPLODED * max(np.log(self.n_classes), 1.0)
        if loss is not None and loss > limit:
            raise NonFiniteError(
                f"{self.owner} diverged: the mean training loss exploded to {loss:.3g} in epoch "
                f"{len(net.history)} (a uniform guess scores {np.log(self.n_classes):.2f}; "
                f"lr={net.lr}); {_HINT}."
            )

    def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs):
        if loss is not None and not torch.isfinite(loss).all():
            stage = "training" if training else "validation"
            raise NonFiniteError(
                f"{self.owner} diverged: the {stage} loss became {loss.item()} in epoch "
                f"{len(net.history)} (lr={net.lr}); {_HINT}."
            )

    def on_train_end(self, net, **kwargs):
        for name, param in net.module_.named_parameters():
            if not torch.isfinite(param).all():
                raise NonFiniteError(
                    f"{self.owner} diverged: its weights {name!r} became non-finite by epoch "
                    f"{len(net.history)} (lr={net.lr}); {_HINT}."
                )


def check_finite_output(proba, owner):
    """Raise NonFiniteError when predicted probabilities hold NaN or infinity."""
    bad = ~np.isfinite(proba).all(axis=1)
    if bad.any():
        raise NonFiniteError(
            f"{owner} produced non-finite probabilities for {int(bad.sum())} of {len(proba)} "
            f"samples (first at row {int(np.flatnonzero(bad)[0])}): the inputs are too large "
            f"for the trained weights or hold values far outside the training range; {_HINT}."
        )
    return proba
