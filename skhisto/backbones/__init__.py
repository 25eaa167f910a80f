"""Pathology foundation models and ImageNet baselines, each with its own preprocessing."""

from ._build import WeightsUnavailableError, create_backbone, resolve_weights
from ._ctranspath import ConvStem
from ._info import get_backbone_info, list_backbones
from ._registry import FAMILIES, BackboneInfo
from ._weights import WeightsError, read_state_dict

__all__ = [
    "FAMILIES",
    "BackboneInfo",
    "ConvStem",
    "WeightsError",
    "WeightsUnavailableError",
    "create_backbone",
    "get_backbone_info",
    "list_backbones",
    "read_state_dict",
    "resolve_weights",
]
