"""Batch-wise histology augmentations for contrastive views, as tensor ops on the device.

Every random draw comes from an explicit :class:`torch.Generator`, so a seed
fixes the views exactly (and the ops used are deterministic on CPU).
"""

import math

import torch
import torch.nn.functional as F

from ..stain import hed_jitter
from ..utils._constraints import POSITIVE_INT
from ..utils._sklearn_compat import validate_params

#: Paper augmentations (Reasat & Smith): color jitter, random crop, grayscale,
#: Gaussian blur, h/v flips and 90-degree rotations. Jitter is milder than
#: SimCLR's ImageNet setting because H&E color carries class information.
#: HED jitter (:func:`skhisto.stain.hed_jitter`, after the color jitter) is off
#: by default (``p_hed=0``, which draws nothing, so the default views are as before).
DEFAULT_AUGMENT = {
    "crop_scale": (0.3, 1.0),
    "crop_ratio": (3 / 4, 4 / 3),
    "brightness": 0.4,
    "contrast": 0.4,
    "saturation": 0.4,
    "hue": 0.1,
    "p_jitter": 0.8,
    "p_grayscale": 0.2,
    "p_blur": 0.5,
    "blur_sigma": (0.1, 2.0),
    "p_hed": 0.0,
    "hed_sigma": 0.05,
    "hed_bias": 0.05,
}


def _uniform(n, low, high, generator, device):
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def _bernoulli(n, p, generator, device):
    return torch.rand(n, generator=generator, device=device) < p


def _geometry(n, crop_scale, crop_ratio, generator, device):
    """Affine matrices combining a random resized crop, flips and a rot90 per image."""
    area = _uniform(n, *crop_scale, generator, device)
    log_ratio = _uniform(n, math.log(crop_ratio[0]), math.log(crop_ratio[1]), generator, device)
    ratio = torch.exp(log_ratio)
    # Crop width/height as fractions of the image side, clamped inside it.
    w = torch.sqrt(area * ratio).clamp(max=1.0)
    h = torch.sqrt(area / ratio).clamp(max=1.0)
    cx = (1 - w) * (2 * torch.rand(n, generator=generator, device=device) - 1)
    cy = (1 - h) * (2 * torch.rand(n, generator=generator, device=device) - 1)
    k = torch.randint(0, 4, (n,), generator=generator, device=device)
    flip_h = torch.where(_bernoulli(n, 0.5, generator, device), -1.0, 1.0)
    flip_v = torch.where(_bernoulli(n, 0.5, generator, device), -1.0, 1.0)
    angle = k.float() * (math.pi / 2)
    cos, sin = torch.cos(angle).round(), torch.sin(angle).round()
    # Output grid -> flip -> rotate -> scale to the crop -> shift to its center.
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0] = w * cos * flip_h
    theta[:, 0, 1] = -w * sin * flip_v
    theta[:, 1, 0] = h * sin * flip_h
    theta[:, 1, 1] = h * cos * flip_v
    theta[:, 0, 2] = cx
    theta[:, 1, 2] = cy
    return theta


def _grayscale(x):
    weights = x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)


def _rgb_to_hsv(x):
    r, g, b = x.unbind(dim=1)
    maxc, _ = x.max(dim=1)
    minc, _ = x.min(dim=1)
    delta = maxc - minc
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    hue = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    hue = torch.where(delta > 0, (hue / 6.0) % 1.0, torch.zeros_like(hue))
    sat = torch.where(
        maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)), 0 * maxc
    )
    return hue, sat, maxc


def _hsv_to_rgb(hue, sat, val):
    i = torch.floor(hue * 6.0)
    f = hue * 6.0 - i
    i = i.long() % 6
    p, q, t = val * (1 - sat), val * (1 - sat * f), val * (1 - sat * (1 - f))
    choices = torch.stack(
        [
            torch.stack(c, dim=1)
            for c in ((val, t, p), (q, val, p), (p, val, t), (p, q, val), (t, p, val), (val, p, q))
        ],
        dim=0,
    )  # (6, n, 3, H, W)
    index = i.unsqueeze(0).unsqueeze(2).expand(1, -1, 3, -1, -1)
    return choices.gather(0, index)[0]


def _color_jitter(x, params, generator):
    n, device = x.shape[0], x.device
    active = _bernoulli(n, params["p_jitter"], generator, device).view(n, 1, 1, 1)

    def factor(strength):
        return _uniform(n, 1 - strength, 1 + strength, generator, device).view(n, 1, 1, 1)

    brightness, contrast, saturation = (
        factor(params["brightness"]),
        factor(params["contrast"]),
        factor(params["saturation"]),
    )
    hue_shift = _uniform(n, -params["hue"], params["hue"], generator, device).view(n, 1, 1)
    out = (x * brightness).clamp(0, 1)
    mean = _grayscale(out).mean(dim=(2, 3), keepdim=True)
    out = ((out - mean) * contrast + mean).clamp(0, 1)
    gray = _grayscale(out)
    out = ((out - gray) * saturation + gray).clamp(0, 1)
    hue, sat, val = _rgb_to_hsv(out)
    out = _hsv_to_rgb((hue + hue_shift) % 1.0, sat, val)
    return torch.where(active, out, x)


def _gaussian_blur(x, params, generator):
    n, c, size, _ = x.shape
    device = x.device
    active = _bernoulli(n, params["p_blur"], generator, device).view(n, 1, 1, 1)
    sigma = _uniform(n, *params["blur_sigma"], generator, device)
    radius = max(1, int(round(0.05 * size)))  # kernel ~10% of the image side
    offsets = torch.arange(-radius, radius + 1, device=device, dtype=x.dtype)
    kernel = torch.exp(-(offsets[None] ** 2) / (2 * sigma[:, None] ** 2))
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)
    # Separable blur with one kernel per image: a grouped conv over (1, n*c, H, W).
    flat = x.reshape(1, n * c, size, size)
    flat = F.pad(flat, (radius, radius, radius, radius), mode="reflect")
    flat = F.conv2d(flat, kernel.view(n * c, 1, 1, -1), groups=n * c)
    flat = F.conv2d(flat, kernel.view(n * c, 1, -1, 1), groups=n * c)
    return torch.where(active, flat.view(n, c, size, size), x)


@validate_params(
    {
        "images": [torch.Tensor],
        "generator": [torch.Generator],
        "output_size": POSITIVE_INT + [None],
        "params": [dict, None],
    },
    prefer_skip_nested_validation=True,
)
def augment_batch(images, generator, *, output_size=None, params=None):
    """Draw one random histology view of every image in a batch.

    Parameters
    ----------
    images : torch.Tensor of shape (n, 3, H, W)
        Float images in [0, 1] (or uint8, scaled here), square, on any device.
    generator : torch.Generator
        Source of every random draw; must live on ``images.device``.
    output_size : int, optional
        Side of the output views (default: the input side).
    params : dict, optional
        Overrides of :data:`DEFAULT_AUGMENT`.

    Returns
    -------
    torch.Tensor of shape (n, 3, output_size, output_size), float32 in [0, 1]

    Examples
    --------
    >>> import torch
    >>> from skhisto.contrastive import augment_batch
    >>> images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    >>> views = augment_batch(images, torch.Generator().manual_seed(0), output_size=24)
    >>> views.shape, views.dtype, bool(0 <= views.min() and views.max() <= 1)
    (torch.Size([2, 3, 24, 24]), torch.float32, True)
    """
    params = {**DEFAULT_AUGMENT, **(params or {})}
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    n, size = x.shape[0], output_size or x.shape[-1]
    theta = _geometry(n, params["crop_scale"], params["crop_ratio"], generator, x.device)
    grid = F.affine_grid(theta, (n, 3, size, size), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    x = _color_jitter(x, params, generator)
    if params["p_hed"] > 0:
        active = _bernoulli(n, params["p_hed"], generator, x.device).view(n, 1, 1, 1)
        jittered = hed_jitter(x, generator, sigma=params["hed_sigma"], bias=params["hed_bias"])
        x = torch.where(active, jittered, x)
    gray = _bernoulli(n, params["p_grayscale"], generator, x.device).view(n, 1, 1, 1)
    x = torch.where(gray, _grayscale(x).expand_as(x), x)
    x = _gaussian_blur(x, params, generator)
    return x.clamp_(0.0, 1.0)
