"""The SimCLR network: a timm encoder and the paper's three-layer projection head."""

import torch
from torch import nn


class ProjectionHead(nn.Sequential):
    """Three fully connected layers mapping encoder features to the contrastive space.

    Parameters
    ----------
    in_features : int
        Encoder feature dimension.
    projection_dim : int
        Width of every layer (the paper uses 128 units throughout).

    Examples
    --------
    >>> import torch
    >>> from skhisto.contrastive import ProjectionHead
    >>> head = ProjectionHead(512, 128)
    >>> head(torch.zeros(2, 512)).shape
    torch.Size([2, 128])
    """

    def __init__(self, in_features, projection_dim):
        super().__init__(
            nn.Linear(in_features, projection_dim),
            nn.ReLU(inplace=True),
            nn.Linear(projection_dim, projection_dim),
            nn.ReLU(inplace=True),
            nn.Linear(projection_dim, projection_dim),
        )


class SimCLRNetwork(nn.Module):
    """``encoder`` followed by ``projector``; only the encoder is kept for features.

    Examples
    --------
    Any encoder with ``num_features`` (a timm model with ``num_classes=0``):

    >>> import torch
    >>> from torch import nn
    >>> from skhisto.contrastive import SimCLRNetwork
    >>> encoder = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 16))
    >>> encoder.num_features = 16
    >>> network = SimCLRNetwork(encoder, projection_dim=4)
    >>> network(torch.zeros(2, 3, 8, 8)).shape, network.encoder(torch.zeros(2, 3, 8, 8)).shape
    (torch.Size([2, 4]), torch.Size([2, 16]))
    """

    def __init__(self, encoder, projection_dim):
        super().__init__()
        self.encoder = encoder
        self.projector = ProjectionHead(_feature_dim(encoder), projection_dim)

    def forward(self, x):
        return self.projector(self.encoder(x))


def _feature_dim(encoder):
    dim = getattr(encoder, "num_features", None)
    if dim is None:
        raise ValueError("The encoder must expose num_features (a timm model with num_classes=0).")
    return int(dim)


def cpu_state(obj):
    """Deep copy of a state (dicts, lists, tensors) with every tensor detached on the CPU."""
    if torch.is_tensor(obj):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: cpu_state(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(cpu_state(v) for v in obj)
    return obj
