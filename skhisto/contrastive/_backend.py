"""Encoder creation and input normalization for contrastive training."""

from ..backbones import create_backbone, get_backbone_info


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


def backbone_normalization(backbone):
    """Input mean and std of ``backbone`` (what FoundationEmbedder uses for it too)."""
    info = get_backbone_info(backbone)
    return tuple(info.mean), tuple(info.std)
