"""Encoder creation and one-off image decoding for contrastive training."""

import numpy as np

from ..backbones import create_backbone, get_backbone_info
from ..io import check_image_input, read_image
from ..io._resize import resize_uint8


def create_encoder(backbone, *, weights=None, random_state=None, image_size=None):
    """A trainable registry/timm encoder: random init from ``random_state``, or ``weights``."""
    model, _ = create_backbone(
        backbone,
        weights=weights,
        pretrained=False,
        random_state=random_state,
        image_size=image_size,
    )
    return model.requires_grad_(True)


def backbone_normalisation(backbone):
    """Input mean and std of ``backbone`` (what FoundationEmbedder uses for it too)."""
    info = get_backbone_info(backbone)
    return tuple(info.mean), tuple(info.std)


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
