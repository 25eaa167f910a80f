"""Pathology foundation models and ImageNet baselines, each with its own preprocessing."""

from typing import TYPE_CHECKING

from ..utils._lazy import attach

if TYPE_CHECKING:  # the exports; at run time each loads on first use (utils._lazy)
    from ._build import (
        WeightsUnavailableError,
        checkpoint_filter_fn,
        create_backbone,
        resolve_weights,
    )
    from ._check import check_checkpoint
    from ._ctranspath import ConvStem
    from ._info import (
        check_image_size,
        check_resolution,
        get_backbone_info,
        list_backbones,
        patch_size,
    )
    from ._pathoduet import PathoDuetViT
    from ._register import register_backbone, unregister_backbone
    from ._registry import FAMILIES, BackboneInfo
    from ._weights import WeightsChangedError, WeightsError, conformance, read_state_dict

__all__ = [
    "FAMILIES",
    "BackboneInfo",
    "ConvStem",
    "PathoDuetViT",
    "WeightsChangedError",
    "WeightsError",
    "WeightsUnavailableError",
    "check_checkpoint",
    "check_image_size",
    "check_resolution",
    "checkpoint_filter_fn",
    "conformance",
    "create_backbone",
    "get_backbone_info",
    "list_backbones",
    "patch_size",
    "read_state_dict",
    "register_backbone",
    "resolve_weights",
    "unregister_backbone",
]

__getattr__, __dir__ = attach(__name__, __file__)
