"""Reinhard et al. (2001): match each CIELAB channel's mean and spread to the reference's."""

import torch

from ._color import lab_to_rgb, masked_mean_std, rgb_to_lab

#: A channel whose spread is below this is flat (a single-colour tile): nothing to scale.
FLAT = 1e-3


def reinhard_statistics(x, mask=None):
    """Per-image CIELAB means and standard deviations ``(n, 3)`` of 0-255 pixels ``(n, P, 3)``.

    Every pixel counts unless ``mask`` says otherwise (torchstain's convention:
    background included).
    """
    lab = rgb_to_lab(x)
    if mask is None:
        mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    return masked_mean_std(lab, mask)


def reinhard_normalize(x, target_means, target_stds):
    """Map pixels ``(n, P, 3)`` to the target statistics; also says which images were flat."""
    lab = rgb_to_lab(x)
    ones = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    means, stds = masked_mean_std(lab, ones)
    flat = (stds < FLAT).any(dim=1)
    scale = target_stds / stds.clamp(min=FLAT)
    out = (lab - means[:, None]) * scale[:, None] + target_means
    return lab_to_rgb(out), flat
