"""Looking up backbones: registry entries and timm models passed through."""

import difflib

import timm
import torch

from ._registry import REGISTRY, BackboneInfo


def list_backbones(family=None):
    """Table of the registered backbones.

    Parameters
    ----------
    family : str, optional
        Keep only one pretraining family (``"contrastive"``, ``"non-contrastive"``,
        ``"supervised"``).

    Returns
    -------
    list of dict
        One row per backbone: name, architecture, embed_dim, input_size, mean,
        std, family, pretraining, hub_id, url, gated, loader, pooling. Pass it
        to ``pandas.DataFrame`` for a table. Any other timm model name is also
        accepted by :func:`get_backbone_info` and the embedders.
    """
    rows = [info.as_row() for info in REGISTRY.values()]
    if family is not None:
        rows = [row for row in rows if row["family"] == family]
    return rows


def get_backbone_info(name):
    """Registry entry for ``name``, or an entry derived from timm for other models.

    Parameters
    ----------
    name : str
        A registry name (see :func:`list_backbones`) or any timm model name,
        optionally with a pretrained tag (``"convnext_tiny.fb_in1k"``).

    Returns
    -------
    BackboneInfo

    Raises
    ------
    ValueError
        When ``name`` is neither registered nor a timm model; the message
        suggests close names.
    """
    if not isinstance(name, str):
        raise TypeError(f"backbone must be a string name, got {type(name).__name__}.")
    if name in REGISTRY:
        return REGISTRY[name]
    if not timm.is_model(name.split(".")[0]):
        close = difflib.get_close_matches(name, list(REGISTRY) + timm.list_models(), n=5)
        raise ValueError(
            f"Unknown backbone {name!r}: not in skhisto's registry (list_backbones()) nor a timm "
            f"model. Close names: {close}."
        )
    return _timm_info(name)


def _timm_info(name):
    cfg = timm.models.get_pretrained_cfg(name)
    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False, num_classes=0)
    mean, std, size = IMAGENET_DEFAULTS
    if cfg is not None:
        mean, std, size = tuple(cfg.mean), tuple(cfg.std), cfg.input_size[-1]
    return BackboneInfo(
        name=name,
        architecture=name,
        embed_dim=int(model.num_features),
        input_size=int(size),
        mean=mean,
        std=std,
        family="supervised" if cfg is not None and cfg.hf_hub_id else "unknown",
        pretraining=f"timm pretrained weights ({cfg.tag})" if cfg is not None else "",
        hub_id=cfg.hf_hub_id if cfg is not None else None,
    )


IMAGENET_DEFAULTS = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 224)
