"""Vahadane et al. (2016): stain vectors by sparse non-negative dictionary learning.

The formulation is the one TIAToolbox solves with scikit-learn (and StainTools
with SPAMS): the tissue pixels' optical densities, as a ``3 x P`` matrix, are
factorised into two atoms with non-negative pixel loadings and an L1 penalty
``regularizer``; the atoms, normalised, are the stain vectors.
"""

import numpy as np
import torch
from sklearn.decomposition import dict_learning

from ._color import percentile, rgb_to_lab, rgb_to_od


def luminosity_tissue(x, threshold):
    """Tissue pixels ``(n, P)``: CIELAB lightness under ``threshold`` (0-1), contrast stretched.

    The stretch maps each image's 2nd-98th percentile of values to 0-255
    (TIAToolbox's ``contrast_enhancer``), so faint tiles still find tissue.
    """
    flat = x.reshape(len(x), -1)
    low, high = percentile(flat, (2.0, 98.0), interpolation="linear")[:, None].unbind(-1)
    low, high = low[..., None], high[..., None]
    spread = high - low
    stretched = ((x - low) / spread.clamp(min=1e-6) * 255.0).clamp(0.0, 255.0).floor()
    x = torch.where(spread > 0, stretched, x)
    lightness = torch.round(rgb_to_lab(x)[..., 0] * 2.55) / 255.0
    return lightness < threshold


def vahadane_stains(od, *, regularizer, random_state):
    """Stain matrix ``(3, 2)`` (unit columns, haematoxylin first) of tissue ODs ``(P, 3)``.

    Runs on the CPU (scikit-learn's LARS); returns None when the pixels do not
    give two distinct non-zero stains.
    """
    data = np.ascontiguousarray(od.detach().cpu().double().numpy().T)
    code_init, dict_init = _svd_init(data)
    code, _, _ = dict_learning(
        data,
        2,
        alpha=regularizer,
        max_iter=3,
        method="lars",
        positive_dict=True,
        method_max_iter=1000,
        random_state=random_state,
        code_init=code_init,
        dict_init=dict_init,
    )
    norms = np.linalg.norm(code, axis=0)
    if not np.isfinite(code).all() or (norms < 1e-8).any():
        return None
    stains = code / norms
    if stains[0, 0] < stains[0, 1]:  # haematoxylin absorbs more red
        stains = stains[:, ::-1]
    return torch.from_numpy(np.ascontiguousarray(stains))


def _svd_init(data):
    """scikit-learn's own start (the top two singular triplets, signs as ``svd_flip`` sets them)
    from the ``3 x 3`` Gram matrix: a full SVD of the ``3 x P`` data costs far more."""
    values, vectors = np.linalg.eigh(data @ data.T)
    order = np.argsort(values)[::-1][:2]
    singular = np.sqrt(np.clip(values[order], 1e-300, None))
    left = vectors[:, order]
    signs = np.sign(left[np.argmax(np.abs(left), axis=0), range(2)])
    left = left * signs
    right = (left.T @ data) / singular[:, None]
    return left, singular[:, None] * right


def vahadane_od(x):
    """Optical density with TIAToolbox's convention, ``-log(max(x, 1) / 255)``."""
    return rgb_to_od(x, 255.0, 0.0)
