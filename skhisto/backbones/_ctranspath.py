"""CTransPath's convolutional stem, which replaces Swin-T's patch embedding."""

import torch.nn as nn
from timm.layers import to_2tuple


class ConvStem(nn.Module):
    """Two stride-2 3x3 convolutions then a 1x1 projection (Wang et al., 2022).

    Keyword arguments follow timm's ``PatchEmbed`` so that
    ``SwinTransformer(embed_layer=ConvStem)`` builds CTransPath.

    Examples
    --------
    >>> import torch
    >>> from skhisto.backbones import ConvStem
    >>> ConvStem(img_size=32, embed_dim=96)(torch.zeros(1, 3, 32, 32)).shape
    torch.Size([1, 8, 8, 96])
    """

    def __init__(
        self,
        img_size=224,
        patch_size=4,
        in_chans=3,
        embed_dim=768,
        norm_layer=None,
        output_fmt="NHWC",
        **_,
    ):
        super().__init__()
        if patch_size != 4:
            raise ValueError("CTransPath's ConvStem only supports patch_size=4.")
        self.img_size = to_2tuple(img_size)
        self.patch_size = to_2tuple(patch_size)
        self.grid_size = (self.img_size[0] // 4, self.img_size[1] // 4)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.output_fmt = output_fmt
        stem, width = [], embed_dim // 8
        for channels_in in (in_chans, width):
            stem += [
                nn.Conv2d(channels_in, width * 2 if stem else width, 3, 2, 1, bias=False),
                nn.BatchNorm2d(width * 2 if stem else width),
                nn.ReLU(inplace=True),
            ]
        stem.append(nn.Conv2d(width * 2, embed_dim, kernel_size=1))
        self.proj = nn.Sequential(*stem)
        self.norm = norm_layer(embed_dim) if norm_layer else nn.Identity()

    def set_input_size(self, img_size=None, patch_size=None):
        """Follow timm's ``PatchEmbed``: a new input size changes the patch grid only."""
        if patch_size is not None and to_2tuple(patch_size) != (4, 4):
            raise ValueError("CTransPath's ConvStem only supports patch_size=4.")
        if img_size is not None:
            self.img_size = to_2tuple(img_size)
            self.grid_size = (self.img_size[0] // 4, self.img_size[1] // 4)
            self.num_patches = self.grid_size[0] * self.grid_size[1]

    def forward(self, x):
        x = self.proj(x)
        if self.output_fmt == "NHWC":
            x = x.permute(0, 2, 3, 1)
        else:
            x = x.flatten(2).transpose(1, 2)
        return self.norm(x)
