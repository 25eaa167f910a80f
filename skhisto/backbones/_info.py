"""Looking up backbones: registry entries and timm models passed through."""

import difflib
import importlib.util
import re
import sys
from numbers import Real

import timm
import torch

from ..utils import warn
from ..utils._constraints import POSITIVE_INT
from ..utils._optional import import_pandas
from ..utils._sklearn_compat import Interval, StrOptions, validate_params
from ._normalize import IMAGENET
from ._registry import FAMILIES, REGISTRY, ROW_FIELDS, BackboneInfo


@validate_params(
    {"family": [StrOptions(set(FAMILIES)), None], "as_frame": [StrOptions({"auto"}), "boolean"]},
    prefer_skip_nested_validation=True,
)
def list_backbones(family=None, *, as_frame="auto"):
    """Table of the registered backbones.

    Parameters
    ----------
    family : str, optional
        Keep only one pretraining family (``"contrastive"``, ``"non-contrastive"``,
        ``"supervised"``).
    as_frame : {"auto"} or bool, default="auto"
        ``True`` returns a pandas DataFrame (pandas required), ``False`` a list
        of dicts, ``"auto"`` a DataFrame when pandas is installed, else the list.

    Returns
    -------
    pandas.DataFrame or list of dict
        One row per backbone, with the columns name, architecture, embed_dim,
        input_size, mean, std, family, pretraining, hub_id, url, gated, loader,
        pooling, trust_remote_code; entries added by :func:`register_backbone`
        included. Any other timm model name is also accepted by
        :func:`get_backbone_info` and the embedders.

    Raises
    ------
    ImportError
        With ``as_frame=True`` when pandas is not installed.

    Examples
    --------
    >>> from skhisto.backbones import list_backbones
    >>> table = list_backbones(as_frame=True)
    >>> list(table.columns[:4])
    ['name', 'architecture', 'embed_dim', 'input_size']
    >>> int(table.set_index("name").loc["uni", "embed_dim"])
    1024
    >>> rows = list_backbones(family="contrastive", as_frame=False)
    >>> rows[0]["name"], rows[0]["family"]
    ('ctranspath', 'contrastive')
    """
    rows = [info.as_row() for info in REGISTRY.values()]
    if family is not None:
        rows = [row for row in rows if row["family"] == family]
    if as_frame is False or (as_frame == "auto" and importlib.util.find_spec("pandas") is None):
        return rows
    pd = import_pandas("list_backbones(as_frame=True)")
    return pd.DataFrame(rows, columns=list(ROW_FIELDS))


@validate_params({"name": [str]}, prefer_skip_nested_validation=True)
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

    Examples
    --------
    >>> from skhisto.backbones import get_backbone_info
    >>> info = get_backbone_info("uni")
    >>> info.embed_dim, info.input_size, info.gated, info.hub_id
    (1024, 224, True, 'MahmoodLab/UNI')
    >>> get_backbone_info("convnext_tiny").embed_dim  # any timm model
    768
    """
    if name in REGISTRY:
        return REGISTRY[name]
    if not timm.is_model(name.split(".")[0]):
        candidates = list(dict.fromkeys([*REGISTRY, *timm.list_models()]))  # no duplicates
        close = difflib.get_close_matches(name, candidates, n=5)
        hint = f"Close names: {close}." if close else "`skhisto backbones` lists the registry."
        raise ValueError(
            f"Unknown backbone {name!r}: not in skhisto's registry (list_backbones()) nor a timm "
            f"model. {hint}"
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
        checkpoint_filter=_timm_filter(model),
    )


def _timm_filter(model):
    # The converter of the module that defines the model's class (a botnet's
    # is byobnet's): by name for timm's modules, the function for others.
    module = sys.modules[type(model).__module__]
    convert = getattr(module, "checkpoint_filter_fn", None)
    if convert is None or not module.__name__.startswith("timm.models."):
        return convert
    return module.__name__.removeprefix("timm.models.")


IMAGENET_DEFAULTS = (*IMAGENET, 224)


@validate_params({"info": [BackboneInfo]}, prefer_skip_nested_validation=True)
def patch_size(info):
    """Side of the square patches a transformer backbone cuts its input into (None for CNNs).

    Examples
    --------
    >>> from skhisto.backbones import get_backbone_info, patch_size
    >>> patch_size(get_backbone_info("uni")), patch_size(get_backbone_info("resnet18"))
    (16, None)
    """
    size = info.timm_kwargs.get("patch_size")
    if size is None and info.loader == "timm":
        match = re.search(r"patch(\d+)", info.architecture)
        size = int(match.group(1)) if match else None
    return size


@validate_params(
    {"info": [BackboneInfo], "image_size": POSITIVE_INT + [None]},
    prefer_skip_nested_validation=True,
)
def check_image_size(info, image_size):
    """Check that ``image_size`` fills whole patches of the backbone ``info``.

    A patch-based backbone (ViT, Swin) cuts its input into ``p x p`` patches;
    at a size that is not a multiple of ``p`` the border pixels that do not
    fill a patch are silently ignored. Such sizes are refused, naming the
    nearest valid ones.

    Parameters
    ----------
    info : BackboneInfo
        From :func:`get_backbone_info`.
    image_size : int or None
        Input side in pixels; None (the backbone's native size) is always valid.

    Returns
    -------
    int or None
        ``image_size`` itself.

    Raises
    ------
    ValueError
        Naming the backbone, its patch size and the nearest valid sizes.

    Examples
    --------
    >>> from skhisto.backbones import check_image_size, get_backbone_info
    >>> check_image_size(get_backbone_info("vit_small_patch16_224"), 96)
    96
    >>> check_image_size(get_backbone_info("vit_small_patch16_224"), 100)
    Traceback (most recent call last):
    ...
    ValueError: image_size=100 is not a multiple of the patch size 16 of backbone ...
    """
    size = patch_size(info)
    if image_size is None or size is None or image_size % size == 0:
        return image_size
    below, above = image_size // size * size, (image_size // size + 1) * size
    nearest = [s for s in (below, above) if s >= size]
    raise ValueError(
        f"image_size={image_size} is not a multiple of the patch size {size} of backbone "
        f"{info.name!r}: the {image_size - below} border pixels that do not fill a patch would "
        f"be ignored. Use image_size={' or '.join(map(str, nearest))}."
    )


def _magnification(mpp):
    return f"{10 / mpp:.3g}x"  # 0.5 um/px is about 20x on most scanners


def _trained_at(info):
    low, high = info.mpp
    if low == high:
        return f"{low:g} um/px (about {_magnification(low)})"
    return f"{low:g}-{high:g} um/px (about {_magnification(high)}-{_magnification(low)})"


@validate_params(
    {
        "info": [BackboneInfo],
        "mpp": [Interval(Real, 0, None, closed="neither"), None],
        "factor": [Interval(Real, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def check_resolution(info, mpp, *, factor=1.5):
    """Warn when patches at ``mpp`` are far from the resolution a backbone was trained at.

    Parameters
    ----------
    info : BackboneInfo
        From :func:`get_backbone_info`; nothing is checked when its ``mpp`` is None.
    mpp : float or None
        Microns per pixel of the patches (a patch table's ``mpp`` column).
    factor : float, default=1.5
        How far outside the trained range (as a ratio) counts as far.

    Returns
    -------
    bool
        Whether a warning was issued.

    Examples
    --------
    >>> import warnings
    >>> from skhisto.backbones import check_resolution, get_backbone_info
    >>> check_resolution(get_backbone_info("uni"), 0.5)
    False
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     check_resolution(get_backbone_info("uni"), 2.0)
    True
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    Patches at 2 um/px (about 5x) are far from the 0.5 um/px (about 20x) backbone 'uni' ...
    """
    if info.mpp is None or mpp is None:
        return False
    low, high = info.mpp
    if low / factor <= mpp <= high * factor:
        return False
    warn(
        f"Patches at {mpp:g} um/px (about {_magnification(mpp)}) are far from the "
        f"{_trained_at(info)} backbone {info.name!r} was trained at: its embeddings may be "
        "poor. Tile at the model's resolution (SlideTiler(mpp=...), skhisto embed --mpp).",
        UserWarning,
    )
    return True
