"""Our plain-torch reimplementation of the label-noise paper's training loop on deep features.

The paper (Dedieu et al., arXiv 2404.07605) trains its classification head on
frozen embeddings with the loop of its repository
(LucasDedieu/NoiseResilientHistopathology: ``train.py``, ``main.py``,
``models.py``, ``custom_transforms.py``, ``datasets.py``). Read, not copied;
what it does, and what this module does the same way:

* a 512-128-64 ReLU MLP on the embeddings (``ClassificationHead``);
* SGD, lr 0.025, momentum 0.9, weight decay 1e-4, cosine annealing of the
  learning rate over the 300 epochs, batches of 512, cross-entropy;
* each training embedding gets Gaussian noise of standard deviation
  ``s ~ U(0, 0.4)`` (their ``GaussianBlur``), validation embeddings none;
* the validation set is a stratified 20 % of the CLEAN training labels, split
  off before noise is injected into the rest;
* the validation loss uses the training criterion; any decrease counts as an
  improvement, training stops after 20 epochs without one, and the LAST
  epoch's weights are kept (nothing is restored).

The benchmark ``bench_paper_protocol.py`` and ``tests/test_paper_protocol.py``
import it, so both run the same loop; :func:`paper_mlp_head` is the same
protocol spelled with skhisto's :class:`~skhisto.MLPHead`.
"""

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from skhisto.utils import seeded_torch, torch_seed

#: The paper's settings for deep features (its README's example config).
PAPER = dict(
    epochs=300,
    patience=20,
    batch_size=512,
    lr=0.025,
    momentum=0.9,
    weight_decay=1e-4,
    sigma=0.4,
    val_size=0.2,
)


class ClassificationHead(nn.Module):
    """The paper's head: Linear-ReLU layers of 512, 128 and 64 units, then the logits."""

    def __init__(self, n_features, n_classes):
        super().__init__()
        widths = [n_features, 512, 128, 64]
        layers = []
        for n_in, n_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        self.layers = nn.Sequential(*layers, nn.Linear(64, n_classes))

    def forward(self, x):
        return self.layers(x)


def gaussian_augment(x, sigma):
    """Add N(0, s^2) noise to each embedding, with ``s ~ U(0, sigma)`` drawn per embedding."""
    s = torch.rand(len(x), 1, dtype=x.dtype) * sigma
    return x + s * torch.randn_like(x)


def _mean_loss(model, loader, criterion):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for xb, yb in loader:
            total += criterion(model(xb), yb).item() * len(xb)
    return total / len(loader.dataset)


def train_paper_loop(X_train, y_train, X_val, y_val, *, seed, init_draws=1, **settings):
    """Train the paper's head on (noisy) ``y_train``, early stopping on (clean) ``y_val``.

    Parameters
    ----------
    X_train, X_val : ndarray of shape (n, n_features)
        Embeddings (float32).
    y_train, y_val : ndarray of int
        Class codes ``0 .. n_classes - 1``.
    seed : int
        Seeds the initial weights, the batch order and the augmentation
        (torch's global RNG, seeded with ``skhisto.utils.torch_seed(seed)``).
    init_draws : int, default=1
        The weights are the ``init_draws``-th head drawn after seeding. 2
        matches :class:`~skhisto.MLPHead` draw for draw: skorch initialises
        its module once when the head builds it (to check ``net_params``)
        and again in ``fit``. With the same ``seed`` both then start from
        the same weights and see the same batches and augmentation noise,
        so they can be compared run by run rather than by seed averages.
    **settings
        Overrides of :data:`PAPER` (epochs, patience, batch_size, lr,
        momentum, weight_decay, sigma).

    Returns
    -------
    model : ClassificationHead
        The last epoch's model, in evaluation mode.
    valid_losses : list of float
        The validation loss of each epoch trained.
    """
    cfg = {**PAPER, **settings}
    tensors = [torch.as_tensor(np.asarray(a)) for a in (X_train, y_train, X_val, y_val)]
    X_train, y_train, X_val, y_val = [
        t.float() if t.is_floating_point() else t.long() for t in tensors
    ]
    n_classes = int(max(y_train.max(), y_val.max())) + 1
    criterion = nn.CrossEntropyLoss()
    with seeded_torch(torch_seed(seed)):
        for _ in range(init_draws):
            model = ClassificationHead(X_train.shape[1], n_classes)
        optimizer = torch.optim.SGD(
            model.parameters(),
            lr=cfg["lr"],
            momentum=cfg["momentum"],
            weight_decay=cfg["weight_decay"],
        )
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg["epochs"])
        train = DataLoader(
            TensorDataset(X_train, y_train), batch_size=cfg["batch_size"], shuffle=True
        )
        valid = DataLoader(TensorDataset(X_val, y_val), batch_size=cfg["batch_size"])
        best, misses, valid_losses = float("inf"), 0, []
        while len(valid_losses) < cfg["epochs"] and misses < cfg["patience"]:
            model.train()
            for xb, yb in train:
                optimizer.zero_grad(set_to_none=True)
                criterion(model(gaussian_augment(xb, cfg["sigma"])), yb).backward()
                optimizer.step()
            valid_losses.append(_mean_loss(model, valid, criterion))
            scheduler.step()
            # Any decrease is an improvement; the weights are never restored.
            best, misses = (valid_losses[-1], 0) if valid_losses[-1] < best else (best, misses + 1)
    return model.eval(), valid_losses


def predict_paper_loop(model, X):
    """Class codes the trained model predicts for embeddings ``X``."""
    with torch.no_grad():
        return model(torch.as_tensor(np.asarray(X, dtype=np.float32))).argmax(1).numpy()


def paper_mlp_head(*, seed, **settings):
    """:class:`~skhisto.MLPHead` with the paper's optimiser, schedule, augmentation and stopping.

    Clean validation comes from the caller: ``fit(X, y, X_val=..., y_val=...)``,
    or :class:`~skhisto.NoisyLabelClassifier` with ``validation_fraction``.
    """
    from skorch.callbacks import LRScheduler

    from skhisto import MLPHead

    cfg = {**PAPER, **settings}
    cosine = LRScheduler(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=cfg["epochs"])
    return MLPHead(
        optimizer="sgd",
        lr=cfg["lr"],
        batch_size=cfg["batch_size"],
        max_epochs=cfg["epochs"],
        patience=cfg["patience"],
        augment_sigma=cfg["sigma"],
        early_stopping=True,
        restore_best_weights=False,
        tol=0.0,
        net_params={
            "optimizer__momentum": cfg["momentum"],
            "optimizer__weight_decay": cfg["weight_decay"],
            "callbacks": [("cosine", cosine)],
        },
        device="cpu",
        random_state=seed,
    )
