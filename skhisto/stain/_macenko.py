"""Macenko et al. (2009): stain vectors at the extreme angles of the OD plane of most variance."""

import torch

from ._color import percentile, rgb_to_od

#: Two stain vectors closer than this (cosine) span no plane: a one-colour tile.
COLINEAR = 0.9999


def macenko_stains(x, *, io, alpha, beta):
    """Stain matrices of pixels ``(n, P, 3)`` (0-255), batched.

    Returns
    -------
    stains : (n, 3, 2)
        Unit columns, haematoxylin first (the larger red optical density).
    tissue : (n, P) bool
        Pixels whose optical density reaches ``beta`` in every channel.
    od : (n, P, 3)
        The optical densities.
    """
    od = rgb_to_od(x, io, 1.0)
    tissue = (od >= beta).all(dim=-1)
    weight = tissue.to(od.dtype)[..., None]
    count = weight.sum(dim=1).clamp(min=2)
    mean = (od * weight).sum(dim=1) / count
    centred = (od - mean[:, None]) * weight
    cov = centred.transpose(1, 2) @ centred / (count[..., None] - 1)
    _, vectors = torch.linalg.eigh(cov)
    plane = vectors[:, :, 1:]  # the two largest eigenvalues' vectors
    projected = od @ plane
    phi = torch.atan2(projected[..., 1], projected[..., 0])
    low, high = percentile(phi, (alpha, 100 - alpha), tissue).unbind(1)
    v_low = (plane @ torch.stack((low.cos(), low.sin()), dim=1)[..., None])[..., 0]
    v_high = (plane @ torch.stack((high.cos(), high.sin()), dim=1)[..., None])[..., 0]
    first = (v_low[:, 0] > v_high[:, 0])[:, None]
    h = torch.where(first, v_low, v_high)
    e = torch.where(first, v_high, v_low)
    return torch.stack((h, e), dim=2), tissue, od


def concentrations(od, stains):
    """Least-squares concentrations ``(n, P, k)`` of ODs ``(n, P, 3)`` in ``stains`` ``(n, 3, k)``.

    Solved through the normal equations (a ``k x k`` system per image); also
    returns each image's smallest stain-vector cosine margin: stains closer than
    :data:`COLINEAR` cannot be separated.
    """
    gram = stains.transpose(1, 2) @ stains
    norms = stains.norm(dim=1)
    cosine = (gram[:, 0, 1] / (norms[:, 0] * norms[:, 1]).clamp(min=1e-12)).abs()
    singular = ~(cosine < COLINEAR)  # NaN counts as singular
    eye = torch.eye(2, dtype=od.dtype, device=od.device)
    safe = torch.where(singular[:, None, None], eye, gram)
    # The inverse of a symmetric 2 x 2 matrix, written out: a batched solve is slower.
    (a, b), d = safe[:, 0].unbind(1), safe[:, 1, 1]
    det = (a * d - b * b)[:, None, None]
    inverse = torch.stack((torch.stack((d, -b), 1), torch.stack((-b, a), 1)), 1) / det
    return (od @ stains) @ inverse, singular
