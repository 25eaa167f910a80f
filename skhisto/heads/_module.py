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


class _MILModule(nn.Module):
    """Instance encoder and bag classifier shared by the multiple-instance modules.

    ``forward(X, mask)`` takes a padded batch of bags ``X`` of shape
    ``(n_bags, n_patches, n_features)`` and the boolean ``mask`` of its real
    patches, shape ``(n_bags, n_patches)``; padding never reaches the output.
    """

    def __init__(self, n_features, n_classes, hidden_size=128, dropout=0.0, augment_sigma=0.0):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_features, hidden_size), nn.ReLU(), nn.Dropout(dropout)
        )
        self.classifier = nn.Linear(hidden_size, n_classes)
        self.augment_sigma = augment_sigma

    def _encode(self, X):
        if self.training and self.augment_sigma > 0:  # one sigma per bag
            sigma = torch.rand(len(X), 1, 1, device=X.device, dtype=X.dtype) * self.augment_sigma
            X = X + sigma * torch.randn_like(X)
        return self.encoder(X)

    def weights(self, h, mask):
        """Pooling weights of the instances, shape ``(n_bags, n_patches)``, 0 on padding."""
        raise NotImplementedError

    def forward(self, X, mask):
        """Class logits of a padded batch of bags, shape ``(n_bags, n_classes)``."""
        h = self._encode(X)
        a = self.weights(h, mask)
        return self.classifier(torch.einsum("bn,bnh->bh", a, h))

    def attention(self, X, mask):
        """The pooling weights of a padded batch of bags (evaluation: no augmentation)."""
        return self.weights(self._encode(X), mask)


class GatedAttentionMIL(_MILModule):
    """Gated attention MIL (Ilse, Tomczak & Welling, ICML 2018).

    ``a_k = softmax_k(w^T (tanh(V h_k) * sigmoid(U h_k)))`` over a bag's real
    patches, ``z = sum_k a_k h_k``, logits ``classifier(z)``, where
    ``h_k = Dropout(ReLU(W x_k + b))``.
    """

    def __init__(
        self,
        n_features,
        n_classes,
        hidden_size=128,
        attention_size=64,
        dropout=0.0,
        augment_sigma=0.0,
    ):
        super().__init__(n_features, n_classes, hidden_size, dropout, augment_sigma)
        self.attention_V = nn.Linear(hidden_size, attention_size)
        self.attention_U = nn.Linear(hidden_size, attention_size)
        self.attention_w = nn.Linear(attention_size, 1)

    def weights(self, h, mask):
        gated = torch.tanh(self.attention_V(h)) * torch.sigmoid(self.attention_U(h))
        logits = self.attention_w(gated).squeeze(-1)
        return torch.softmax(logits.masked_fill(~mask, float("-inf")), dim=1)


class MeanPoolMIL(_MILModule):
    """Mean pooling: the average of a bag's encoded real patches, then the classifier."""

    def weights(self, h, mask):
        mask = mask.to(h.dtype)
        return mask / mask.sum(dim=1, keepdim=True)
