"""Shared device, batching and random-state helpers (one layer for all torch code)."""

from ._batching import iter_array_batches, iter_slices, n_batches, progress, to_device
from ._device import autocast, prepare_model, resolve_device, resolve_precision
from ._random import seeded_torch, torch_generator, torch_seed

__all__ = [
    "autocast",
    "iter_array_batches",
    "iter_slices",
    "n_batches",
    "prepare_model",
    "progress",
    "resolve_device",
    "resolve_precision",
    "seeded_torch",
    "to_device",
    "torch_generator",
    "torch_seed",
]
