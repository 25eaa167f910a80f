"""The torch module behind the heads: an MLP (or linear layer) on embeddings."""

import torch
from torch import nn


class HeadModule(nn.Module):
    """Fully connected ReLU network from embeddings to class logits.

    Parameters
    ----------
    n_features : int
        Embedding dimension.
    n_classes : int
        Number of output logits.
    hidden_layer_sizes : tuple of int, default=()
        Widths of the hidden layers; ``()`` is a linear probe.
    augment_sigma : float, default=0.0
        In training mode, each embedding gets Gaussian noise of standard
        deviation ``sigma ~ U(0, augment_sigma)`` drawn per sample; 0 turns
        the augmentation off. Evaluation mode never adds noise.
    """

    def __init__(self, n_features, n_classes, hidden_layer_sizes=(), augment_sigma=0.0):
        super().__init__()
        widths = [n_features, *hidden_layer_sizes]
        layers = []
        for n_in, n_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], n_classes))
        self.layers = nn.Sequential(*layers)
        self.augment_sigma = augment_sigma

    def forward(self, X):
        """Class logits of a batch of embeddings ``X`` of shape (n, n_features)."""
        if self.training and self.augment_sigma > 0:
            sigma = torch.rand(len(X), 1, device=X.device, dtype=X.dtype) * self.augment_sigma
            X = X + sigma * torch.randn_like(X)
        return self.layers(X)


def softmax(logits):
    """Turn logits into probabilities (skorch's ``predict_nonlinearity``; picklable)."""
    return torch.softmax(logits, dim=-1)
