"""PathoDuet's ViT-B/16: a pretext token in front of the class token (Hua et al., 2024).

The authors' ``VisionTransformerMoCo`` (openmedlab/PathoDuet, ``vits.py``, on timm 0.6.7)
prepends a learned pretext token to ``[cls, patches]``, so the sequence through every block
is ``[pretext, cls, 196 patches]`` with a 198-row position table; its features are the mean
of the patch tokens (pretext and class tokens left out) followed by ``fc_norm``
(``global_pool="avg"``). Dropping the pretext token changes every attention row.
"""

import torch
import torch.nn as nn
from timm.models import register_model
from timm.models.vision_transformer import VisionTransformer


class PathoDuetViT(VisionTransformer):
    """timm's VisionTransformer with PathoDuet's pretext token.

    Examples
    --------
    >>> import torch
    >>> from skhisto.backbones import PathoDuetViT
    >>> model = PathoDuetViT(img_size=32, patch_size=16, embed_dim=24, depth=1, num_heads=2,
    ...                      num_classes=0)
    >>> model.pos_embed.shape, model.num_prefix_tokens
    (torch.Size([1, 6, 24]), 2)
    >>> model(torch.zeros(1, 3, 32, 32)).shape
    torch.Size([1, 24])
    """

    def __init__(self, *, global_pool="avg", **kwargs):
        unsupported = [
            k for k in ("dynamic_img_size", "reg_tokens", "no_embed_class") if kwargs.get(k)
        ]
        if unsupported:
            raise ValueError(f"PathoDuetViT does not support {unsupported}.")
        super().__init__(global_pool=global_pool, **kwargs)
        self.pretext_token = nn.Parameter(torch.zeros(1, 1, self.embed_dim))
        self.num_prefix_tokens += 1
        positions = self.patch_embed.num_patches + self.num_prefix_tokens
        self.pos_embed = nn.Parameter(torch.randn(1, positions, self.embed_dim) * 0.02)

    def _pos_embed(self, x):
        batch = x.shape[0]
        prefix = [self.pretext_token.expand(batch, -1, -1), self.cls_token.expand(batch, -1, -1)]
        return self.pos_drop(torch.cat([*prefix, x], dim=1) + self.pos_embed)


@register_model
def vit_base_patch16_224_pathoduet(pretrained=False, **kwargs):
    """PathoDuet's H&E encoder: ViT-B/16 with a pretext token, features by patch-token mean."""
    if pretrained:
        raise ValueError("PathoDuet weights are not in timm: pass weights='checkpoint_HE.pth'.")
    kwargs.pop("pretrained_cfg", None)
    kwargs.pop("pretrained_cfg_overlay", None)
    kwargs.pop("cache_dir", None)
    recipe = dict(img_size=224, patch_size=16, embed_dim=768, depth=12, num_heads=12)
    return PathoDuetViT(**{**recipe, **kwargs})
