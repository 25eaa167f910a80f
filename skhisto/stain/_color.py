"""Batched colour conversions and statistics of the stain methods (torch, any device).

Images here are float tensors of shape ``(n, P, 3)`` (``P`` pixels per image),
values 0-255; masks are boolean ``(n, P)``.
"""

import torch

# sRGB (D65) to XYZ, and the D65 white point: the CIELAB of OpenCV, skimage and torchstain.
_RGB_TO_XYZ = ((0.412453, 0.357580, 0.180423), (0.212671, 0.715160, 0.072169))
_RGB_TO_XYZ += ((0.019334, 0.119193, 0.950227),)
_WHITE = (0.95047, 1.0, 1.08883)
_EPSILON = 0.008856  # (6/29)**3, where CIELAB's cube root turns linear

# Ruifrok & Johnston's haematoxylin, eosin and DAB optical densities (rows, normalised
# below); the HED space of skimage.color.rgb2hed.
_RUIFROK = ((0.65, 0.70, 0.29), (0.07, 0.99, 0.11), (0.27, 0.57, 0.78))


def rgb_to_od(x, io, offset):
    """Optical density ``-log((x + offset) / io)``, the pixel clamped to at least 1."""
    return -torch.log((x + offset).clamp(min=1.0) / io)


def od_to_rgb(od, io):
    """Pixels ``io * exp(-od)`` clamped to 0-255."""
    return (io * torch.exp(-od)).clamp_(0.0, 255.0)


def rgb_to_lab(x):
    """CIELAB (L in 0-100) of 0-255 RGB pixels."""
    rgb = x / 255.0
    rgb = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    matrix = torch.tensor(_RGB_TO_XYZ, dtype=x.dtype, device=x.device)
    xyz = rgb @ matrix.T / torch.tensor(_WHITE, dtype=x.dtype, device=x.device)
    f = torch.where(xyz > _EPSILON, xyz.clamp(min=_EPSILON) ** (1 / 3), 7.787 * xyz + 16 / 116)
    fx, fy, fz = f.unbind(-1)
    return torch.stack((116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)), dim=-1)


def lab_to_rgb(lab):
    """0-255 RGB pixels (clamped) of CIELAB values."""
    L, a, b = lab.unbind(-1)
    fy = (L + 16) / 116
    f = torch.stack((a / 500 + fy, fy, fy - b / 200), dim=-1)
    xyz = torch.where(f > 0.2068966, f**3, (f - 16 / 116) / 7.787)
    xyz = xyz * torch.tensor(_WHITE, dtype=lab.dtype, device=lab.device)
    matrix = torch.linalg.inv(torch.tensor(_RGB_TO_XYZ, dtype=torch.float64)).to(lab)
    rgb = xyz @ matrix.T
    rgb = torch.where(
        rgb > 0.0031308, 1.055 * rgb.clamp(min=0.0031308) ** (1 / 2.4) - 0.055, rgb * 12.92
    )
    return rgb.clamp(0.0, 1.0) * 255.0


def hed_matrix(dtype=torch.float32, device="cpu"):
    """Rows: unit optical densities of haematoxylin, eosin and DAB (Ruifrok & Johnston)."""
    matrix = torch.tensor(_RUIFROK[:2], dtype=torch.float64)
    matrix = matrix / matrix.norm(dim=1, keepdim=True)
    third = torch.linalg.cross(matrix[0], matrix[1])
    matrix = torch.cat((matrix, (third / third.norm())[None]))
    return matrix.to(dtype=dtype, device=device)


def percentile(values, q, mask=None, *, interpolation="nearest"):
    """Per-row ``q``-th percentiles (0-100) of ``values`` ``(n, P)``, over ``mask`` if given.

    ``"nearest"`` takes the sorted value at ``round(q / 100 * (count - 1))``
    (torchstain's rule); ``"linear"`` interpolates (numpy's default). A row
    with no value gives 0. ``q`` a float gives ``(n,)``, a tuple ``(n, len(q))``
    (one sort for all; without a mask, ``kthvalue`` selections and no sort).
    """
    qs = torch.as_tensor(q if isinstance(q, tuple) else (q,), dtype=values.dtype)
    qs = qs.to(values.device)
    if mask is None:  # the same count in every row: selections, no sort
        found = torch.stack([_select(values, float(one), interpolation) for one in qs], dim=1)
        return found if isinstance(q, tuple) else found[:, 0]
    count = mask.sum(dim=1)
    ordered = torch.where(mask, values, torch.full_like(values, float("inf"))).sort(1).values
    last = (count - 1).clamp(min=0)[:, None]
    position = qs[None] / 100.0 * last.to(values.dtype)
    if interpolation == "nearest":
        found = ordered.gather(1, torch.round(position).long())
    else:
        low = position.floor().long()
        high = torch.minimum(low + 1, last)
        weight = position - low.to(values.dtype)
        a, b = ordered.gather(1, low), ordered.gather(1, high)
        found = a + (b - a) * weight
    found = torch.where(count[:, None] > 0, found, torch.zeros_like(found))
    return found if isinstance(q, tuple) else found[:, 0]


def _select(values, q, interpolation):
    """The ``q``-th percentile of every row of ``values`` by ``kthvalue`` (1-based ranks)."""
    position = q / 100.0 * (values.shape[1] - 1)
    if interpolation == "nearest":
        return values.kthvalue(round(position) + 1, dim=1).values  # Python's round, as torchstain
    low = int(position)
    below = values.kthvalue(low + 1, dim=1).values
    if low + 1 >= values.shape[1] or position == low:
        return below
    above = values.kthvalue(low + 2, dim=1).values
    return below + (above - below) * (position - low)


def masked_mean_std(values, mask):
    """Per-row, per-channel mean and standard deviation (ddof 1) of ``values`` over ``mask``.

    ``values`` is ``(n, P, c)``; returns two ``(n, c)`` tensors (0 where fewer
    than two pixels count).
    """
    weight = mask.to(values.dtype)[..., None]
    count = weight.sum(dim=1)
    mean = (values * weight).sum(dim=1) / count.clamp(min=1)
    centred = (values - mean[:, None]) * weight
    var = (centred**2).sum(dim=1) / (count - 1).clamp(min=1)
    return mean, var.sqrt()
