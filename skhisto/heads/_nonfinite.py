"""Divergence checks: a NaN or infinite loss, weight or output stops with NonFiniteError."""

import numpy as np
import torch
from skorch.callbacks import Callback

from ..exceptions import NonFiniteError

_HINT = (
    "lower lr, standardise the embeddings (e.g. a StandardScaler before the head), or use a "
    "bounded loss"
)


class StopOnNonFinite(Callback):
    """Raise :class:`~skhisto.exceptions.NonFiniteError` as soon as training diverges.

    Every training and validation batch loss is checked, and the weights at
    the end of training (a last step can overflow them with a finite loss),
    so a fitted head never holds NaN weights.

    Parameters
    ----------
    owner : str
        The head named in the message.
    """

    def __init__(self, owner="the head"):
        self.owner = owner

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
