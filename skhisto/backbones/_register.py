"""Users' own backbones: added to the registry, checked, and removed again."""

import timm

from ..utils._sklearn_compat import validate_params
from ._build import checkpoint_filter_fn
from ._registry import REGISTRY, BackboneInfo

#: The entries skhisto ships, restored when a replacement is unregistered.
BUILTIN = dict(REGISTRY)


@validate_params(
    {"info": [BackboneInfo], "replace": ["boolean"]}, prefer_skip_nested_validation=True
)
def register_backbone(info, *, replace=False):
    """Add a backbone to the registry, so every embedder accepts it by name.

    Parameters
    ----------
    info : BackboneInfo
        The entry: a timm architecture (``timm.create_model`` name, including
        models registered with timm's ``@register_model``) or a Hugging Face
        ``transformers`` model, its embedding size and preprocessing.
    replace : bool, default=False
        Replace an entry of the same name (a built-in one included) instead
        of raising.

    Returns
    -------
    BackboneInfo
        ``info`` itself.

    Raises
    ------
    TypeError
        When ``info`` is not a :class:`BackboneInfo`.
    ValueError
        When the name is taken and ``replace`` is False, when a timm
        ``architecture`` is unknown to timm, or when ``checkpoint_filter``
        names no timm converter.

    See Also
    --------
    unregister_backbone : Remove the entry again.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto import FoundationEmbedder
    >>> from skhisto.backbones import BackboneInfo, register_backbone, unregister_backbone
    >>> _ = register_backbone(BackboneInfo("tiny-vit", "test_vit", 64, input_size=32))
    >>> embedder = FoundationEmbedder("tiny-vit", pretrained=False, random_state=0)
    >>> embedder.fit_transform(np.zeros((2, 32, 32, 3), dtype=np.uint8)).shape
    (2, 64)
    >>> _ = unregister_backbone("tiny-vit")
    """
    if info.name in REGISTRY and not replace:
        raise ValueError(
            f"A backbone named {info.name!r} is already registered; pick another name, or "
            "pass replace=True to replace it."
        )
    if info.loader == "timm" and not timm.is_model(info.architecture):
        raise ValueError(
            f"Invalid BackboneInfo {info.name!r}: architecture {info.architecture!r} is not a "
            "timm model (timm.list_models(), or register yours with timm's @register_model)."
        )
    checkpoint_filter_fn(info)  # a bad name fails now, not at the first load
    REGISTRY[info.name] = info
    return info


@validate_params({"name": [str]}, prefer_skip_nested_validation=True)
def unregister_backbone(name):
    """Remove an entry added by :func:`register_backbone`.

    A built-in entry that was replaced comes back; built-in entries
    themselves cannot be removed.

    Parameters
    ----------
    name : str

    Returns
    -------
    BackboneInfo
        The entry removed.

    Raises
    ------
    ValueError
        When ``name`` was not registered by :func:`register_backbone`.

    Examples
    --------
    >>> from skhisto.backbones import BackboneInfo, register_backbone, unregister_backbone
    >>> _ = register_backbone(BackboneInfo("my-resnet", "resnet18", 512))
    >>> unregister_backbone("my-resnet").architecture
    'resnet18'
    """
    info = REGISTRY.get(name)
    if info is None or info is BUILTIN.get(name):
        raise ValueError(
            f"{name!r} was not added with register_backbone, so there is nothing to "
            "unregister (built-in backbones stay)."
        )
    if name in BUILTIN:
        REGISTRY[name] = BUILTIN[name]
    else:
        del REGISTRY[name]
    return info
