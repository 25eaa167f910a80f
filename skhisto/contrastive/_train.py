"""The plain SimCLR training loop (no estimator state): epochs of NT-Xent on two views."""

import time
from numbers import Real

import numpy as np
import torch

from ..exceptions import NonFiniteError
from ..utils import autocast, iter_slices, n_batches, progress, to_device
from ..utils._constraints import NON_NEGATIVE_INT, POSITIVE_INT, TORCH_DEVICE, VERBOSE
from ..utils._sklearn_compat import Interval, validate_params
from ._augment import augment_batch
from ._loss import nt_xent_loss


def _normalize(views, mean, std):
    mean = views.new_tensor(mean).view(1, 3, 1, 1)
    std = views.new_tensor(std).view(1, 3, 1, 1)
    return (views - mean) / std


def _epoch_batches(n, batch_size, generator):
    """Shuffled index batches; a trailing single image has no negatives and is dropped."""
    order = torch.randperm(n, generator=generator).numpy()
    return [order[s] for s in iter_slices(n, batch_size) if s.stop - s.start >= 2]


def _diverged(what, epoch, step):
    return NonFiniteError(
        f"SimCLR training diverged: {what} at epoch {epoch}, step {step}. Lower lr= "
        "(or raise temperature=, or use precision='fp32'). Nothing non-finite was saved: "
        "the checkpoint, if any, holds the last finished epoch."
    )


@validate_params(
    {
        "network": [torch.nn.Module],
        "optimizer": [torch.optim.Optimizer],
        "images": [np.ndarray],
        "start_epoch": NON_NEGATIVE_INT,
        "end_epoch": NON_NEGATIVE_INT,
        "batch_size": POSITIVE_INT,
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "mean": ["array-like"],
        "std": ["array-like"],
        "device": TORCH_DEVICE,
        "dtype": [torch.dtype, None],
        "index_generator": [torch.Generator],
        "augment_generator": [torch.Generator],
        "augment": [dict, None],
        "on_epoch_end": [callable, None],
        "verbose": VERBOSE,
    },
    prefer_skip_nested_validation=True,
)
def train_simclr(
    network,
    optimizer,
    images,
    *,
    start_epoch,
    end_epoch,
    batch_size,
    temperature,
    mean,
    std,
    device,
    dtype=None,
    index_generator,
    augment_generator,
    augment=None,
    on_epoch_end=None,
    verbose="auto",
):
    """Train ``network`` with NT-Xent from ``start_epoch`` up to ``end_epoch``.

    Parameters
    ----------
    network : SimCLRNetwork
        Already on ``device``.
    optimizer : torch.optim.Optimizer
    images : ndarray of shape (n, S, S, 3), dtype uint8
        Decoded training images, kept on the CPU and moved batch by batch.
    start_epoch, end_epoch : int
        Epochs already done and the epoch count to reach.
    batch_size : int
        Images per step (each gives two views, so 2 * batch_size forwards).
    temperature : float
    mean, std : sequence of 3 floats
        Input normalization of the encoder.
    device : torch.device
    dtype : torch.dtype or None
        Autocast dtype (None: fp32).
    index_generator : torch.Generator
        CPU generator shuffling the images each epoch.
    augment_generator : torch.Generator
        Generator on ``device`` drawing the augmentations.
    augment : dict, optional
        Overrides of the default augmentation parameters.
    on_epoch_end : callable, optional
        Called as ``on_epoch_end(epoch, record)`` after each epoch (1-based).
    verbose : {"auto"} or bool

    Returns
    -------
    list of dict
        One record per epoch: ``epoch``, ``loss`` (mean over steps), ``time`` (s),
        ``n_images``.

    Raises
    ------
    NonFiniteError
        When a loss or, after a step, a weight is NaN or infinite; raised
        before ``on_epoch_end``, so no checkpoint holds non-finite weights.

    Examples
    --------
    Two epochs of a toy encoder on six 16 px images:

    >>> import numpy as np
    >>> import torch
    >>> from torch import nn
    >>> from skhisto.contrastive import SimCLRNetwork, train_simclr
    >>> encoder = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 8))
    >>> encoder.num_features = 8
    >>> network = SimCLRNetwork(encoder, projection_dim=4)
    >>> images = np.random.default_rng(0).integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    >>> records = train_simclr(
    ...     network, torch.optim.Adam(network.parameters(), lr=1e-3), images,
    ...     start_epoch=0, end_epoch=2, batch_size=3, temperature=0.1,
    ...     mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), device=torch.device("cpu"),
    ...     index_generator=torch.Generator().manual_seed(0),
    ...     augment_generator=torch.Generator().manual_seed(1), verbose=False,
    ... )
    >>> [r["epoch"] for r in records], records[0]["n_images"]
    ([1, 2], 6)
    """
    records = []
    network.train()
    # fp16 gradients underflow without loss scaling; bf16 and fp32 need none.
    scaler = torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)
    for epoch in range(start_epoch + 1, end_epoch + 1):
        start = time.perf_counter()
        batches = _epoch_batches(len(images), batch_size, index_generator)
        losses = []
        bar = progress(
            batches,
            total=n_batches(len(images), batch_size),
            desc=f"SimCLR epoch {epoch}/{end_epoch}",
            verbose=verbose,
        )
        for step, index in enumerate(bar, start=1):
            batch = to_device(torch.from_numpy(images[np.sort(index)]), device)
            batch = batch.permute(0, 3, 1, 2)
            views = torch.cat(
                [augment_batch(batch, augment_generator, params=augment) for _ in range(2)]
            )
            views = _normalize(views, mean, std)
            if device.type == "cuda":
                views = views.contiguous(memory_format=torch.channels_last)
            with autocast(device, dtype):
                z = network(views)
            z1, z2 = z.float().chunk(2)
            loss = nt_xent_loss(z1, z2, temperature)
            if not torch.isfinite(loss):
                raise _diverged(f"the loss is {loss.item()}", epoch, step)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
        if not all(torch.isfinite(p).all() for p in network.parameters()):
            raise _diverged("the weights are no longer finite", epoch, len(batches))
        record = {
            "epoch": epoch,
            "loss": float(np.mean(losses)) if losses else float("nan"),
            "time": time.perf_counter() - start,
            "n_images": len(images),
        }
        records.append(record)
        if on_epoch_end is not None:
            on_epoch_end(epoch, record)
    return records
