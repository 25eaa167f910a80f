"""Tensor resizing used by every image path (embedders, datasets, SimCLR)."""

import numpy as np
import torch
import torch.nn.functional as F


def resize_batch(batch, size):
    """Resize an ``(n, C, H, W)`` tensor to ``size x size`` with antialiased bilinear.

    Returns a float tensor in the input's value range; the input is returned
    as float unchanged when it already has the target size.
    """
    batch = batch.float()
    if batch.shape[-2:] == (size, size):
        return batch
    return F.interpolate(
        batch, size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )


def resize_uint8(image, size):
    """Resize one ``(H, W, 3)`` uint8 array to ``(size, size, 3)`` uint8."""
    if image.shape[:2] == (size, size):
        return image
    tensor = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1)[None]
    resized = resize_batch(tensor, size).round_().clamp_(0, 255).to(torch.uint8)
    return resized[0].permute(1, 2, 0).numpy()
