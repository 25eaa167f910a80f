"""Contrastive pretraining: SimCLR on unlabeled patches, and with active sampling."""

from typing import TYPE_CHECKING

from ..utils._lazy import attach

if TYPE_CHECKING:  # the exports; at run time each loads on first use (utils._lazy)
    from ._active_simclr import ActiveSimCLR
    from ._augment import DEFAULT_AUGMENT, augment_batch
    from ._checkpoint import load_checkpoint, save_checkpoint
    from ._loss import nt_xent_loss
    from ._network import ProjectionHead, SimCLRNetwork
    from ._simclr import SimCLREmbedder
    from ._train import train_simclr

__all__ = [
    "ActiveSimCLR",
    "DEFAULT_AUGMENT",
    "ProjectionHead",
    "SimCLREmbedder",
    "SimCLRNetwork",
    "augment_batch",
    "load_checkpoint",
    "nt_xent_loss",
    "save_checkpoint",
    "train_simclr",
]

__getattr__, __dir__ = attach(__name__, __file__)
