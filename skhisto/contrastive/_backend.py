"""Encoder creation, image decoding and inference used by the contrastive estimators.

Until ``skhisto.backbones`` and ``skhisto.embedding`` land, these are thin local
stand-ins with the same signatures.
"""

import numpy as np
import timm
import torch

from ..io import check_image_input, read_image
from ..io._resize import resize_uint8
from ..utils import (
    autocast,
    iter_array_batches,
    prepare_model,
    progress,
    resolve_device,
    resolve_precision,
    seeded_torch,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def create_encoder(backbone, *, weights=None, random_state=None):
    """A timm encoder (``num_classes=0``) with random init from ``random_state`` or ``weights``."""
    with seeded_torch(0 if random_state is None else random_state):
        model = timm.create_model(backbone, pretrained=False, num_classes=0)
    if weights is not None:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(weights))
    return model.eval()


def backbone_normalisation(backbone):
    """Input mean and std of ``backbone``."""
    return IMAGENET_MEAN, IMAGENET_STD


def decode_images(X, image_size):
    """Decode and resize images once to a ``(n, image_size, image_size, 3)`` uint8 array.

    ``X`` is a uint8 array (never modified) or a sequence of image paths.
    """
    kind, X = check_image_input(X)
    if kind == "array" and X.shape[1:3] == (image_size, image_size):
        return X
    out = np.empty((len(X), image_size, image_size, 3), dtype=np.uint8)
    for i, item in enumerate(X):
        out[i] = resize_uint8(read_image(item) if kind == "paths" else item, image_size)
    return out


def embed_images(
    model,
    X,
    *,
    image_size,
    mean,
    std,
    batch_size=64,
    device="auto",
    precision="auto",
    num_workers=0,
    verbose="auto",
):
    """Batched inference of ``model`` on uint8 images or paths -> float32 (n, dim)."""
    device = resolve_device(device)
    dtype = resolve_precision(precision, device)
    images = decode_images(X, image_size)
    model = prepare_model(model.eval(), device)
    mean_t = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, 3, 1, 1)
    out = []
    with torch.inference_mode():
        for batch in progress(iter_array_batches(images, batch_size, device), verbose=verbose):
            x = (batch.permute(0, 3, 1, 2).float() / 255.0 - mean_t) / std_t
            with autocast(device, dtype):
                out.append(model(x).float().cpu())
    return torch.cat(out).numpy()
