"""Building a backbone: architecture, weights source, and a headless forward."""

import importlib
import os
import shutil
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import timm
import torch
import torch.nn as nn
from timm.layers import SwiGLUPacked

from ..utils import atomic_write, file_digest, seeded_torch, torch_seed, warn
from ..utils._constraints import PATH, POSITIVE_INT
from ..utils._sklearn_compat import validate_params
from . import _pathoduet  # noqa: F401  (registers PathoDuet's ViT with timm)
from ._ctranspath import ConvStem
from ._info import check_image_size, get_backbone_info
from ._registry import BackboneInfo
from ._transformers import TransformersPool, build_transformers, load_transformers
from ._weights import (
    WeightsChangedError,
    WeightsError,
    check_conformance,
    check_weights_path,
    conformance,
    read_weights,
    strip_prefixes,
)

_NAMED_LAYERS = {
    "ctranspath_convstem": ConvStem,
    "swiglu_packed": SwiGLUPacked,
    "silu": nn.SiLU,
}


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights were asked for but cannot be obtained here.

    Examples
    --------
    CTransPath has no public download, so asking for its published weights
    fails (it never falls back to a random init):

    >>> from skhisto.backbones import WeightsUnavailableError, create_backbone
    >>> try:
    ...     create_backbone("ctranspath")
    ... except WeightsUnavailableError as exc:
    ...     print(str(exc)[:48])
    Backbone 'ctranspath' has no public download (it
    """


def _how_to_supply(info):
    return (
        f"Download the checkpoint of {info.name!r} on a machine with access and pass "
        f"weights='/path/to/file' (.safetensors, .pth or .bin; --weights FILE on the command "
        "line), or pass pretrained=False (--no-pretrained) for a randomly initialized backbone."
    )


@validate_params(
    {"info": [BackboneInfo], "weights": PATH + [None], "pretrained": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def resolve_weights(info, weights=None, pretrained=True):
    """Find the weights to load: a local path, a Hub download, a URL download, or none.

    Returns
    -------
    path : str or None
        Local file (or directory, for ``loader="transformers"``); None for random init.
    digest : str
        Content identity of the weights, part of the backbone fingerprint.

    Examples
    --------
    >>> from skhisto.backbones import get_backbone_info, resolve_weights
    >>> resolve_weights(get_backbone_info("resnet18"), pretrained=False)
    (None, 'random')
    """
    if weights is not None:
        path = os.fspath(weights)
        if os.path.isdir(path) and info.loader == "transformers":
            files = sorted(p for p in Path(path).iterdir() if p.suffix in (".safetensors", ".bin"))
            return path, "dir:" + ",".join(file_digest(p)[:16] for p in files)
        try:
            check_weights_path(path)
        except OSError as exc:
            raise type(exc)(f"Backbone {info.name!r}: {exc}") from None
        return path, "sha256:" + file_digest(path)
    if not pretrained:
        return None, "random"
    if info.hub_id:
        return _from_hub(info)
    if info.url:
        return _from_url(info)
    raise WeightsUnavailableError(
        f"Backbone {info.name!r} has no public download (its authors share it by request or "
        f"a file host). {_how_to_supply(info)}"
    )


def _from_hub(info):
    from huggingface_hub import constants, hf_hub_download, snapshot_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    try:
        if info.loader == "transformers":
            path = snapshot_download(info.hub_id)
            return path, f"hf:{info.hub_id}@{Path(path).name}"
        for filename in info.weight_files:
            try:
                path = hf_hub_download(info.hub_id, filename)
            except LocalEntryNotFoundError:  # offline or unreachable, not "file absent"
                raise
            except EntryNotFoundError:
                continue
            return path, f"hf:{info.hub_id}@{Path(os.path.realpath(path)).name}"
    except Exception as exc:  # offline, gated, missing repo, network: all mean "not here"
        offline = constants.HF_HUB_OFFLINE
        reason = "HF_HUB_OFFLINE is set and the files are not in the hub cache" if offline else exc
        reason = str(reason).rstrip(". ")  # the sentence goes on after it
        gated = " The repository is gated: accept its terms and log in first." if info.gated else ""
        raise WeightsUnavailableError(
            f"Cannot obtain pretrained weights for {info.name!r} from the Hugging Face Hub "
            f"({info.hub_id}): {reason}.{gated} {_how_to_supply(info)}"
        ) from exc
    raise WeightsUnavailableError(
        f"{info.hub_id} holds none of {info.weight_files}. {_how_to_supply(info)}"
    )


def _from_url(info):
    target = Path(torch.hub.get_dir()) / "checkpoints" / Path(info.url).name
    if not target.is_file():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # atomic_write: a shared hub directory gets umask permissions (not
            # mkstemp's 0600) and an interrupted download leaves no partial file.
            with urllib.request.urlopen(info.url) as response, atomic_write(target) as f:
                shutil.copyfileobj(response, f, 1 << 20)
        except (urllib.error.URLError, OSError) as exc:
            raise WeightsUnavailableError(
                f"Cannot download weights for {info.name!r} from {info.url}: {exc}. "
                f"{_how_to_supply(info)}"
            ) from exc
    return str(target), "sha256:" + file_digest(target)


class ClsMeanPool(nn.Module):
    """Class token concatenated with the mean of the patch tokens (Virchow2)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        tokens = self.model.forward_features(x)
        prefix = getattr(self.model, "num_prefix_tokens", 1)
        return torch.cat([tokens[:, 0], tokens[:, prefix:].mean(dim=1)], dim=-1)


def _timm_model(info, overrides=None):
    # The registry names layers by string so that entries stay plain data.
    kwargs = {
        k: _NAMED_LAYERS.get(v, v) if isinstance(v, str) else v for k, v in info.timm_kwargs.items()
    }
    kwargs.update(overrides or {})
    return timm.create_model(info.architecture, pretrained=False, num_classes=0, **kwargs)


def build_architecture(info, path=None, overrides=None):
    """The entry's network with random weights, before any checkpoint or pooling.

    ``overrides`` change recipe arguments (``{"depth": 2}`` for timm,
    ``{"num_hidden_layers": 2}`` for transformers): the conformance tests
    build large models at reduced depth.
    """
    if info.loader == "transformers":
        return build_transformers(info, path, overrides)
    return _timm_model(info, overrides)


@validate_params({"info": [BackboneInfo]}, prefer_skip_nested_validation=True)
def checkpoint_filter_fn(info):
    """The state-dict converter of a registry entry, or None.

    ``info.checkpoint_filter`` is a callable ``(state_dict, model) -> state_dict``
    or the name of a timm model module, whose ``checkpoint_filter_fn`` is used.

    Raises
    ------
    ValueError
        When the name is not a timm module with a ``checkpoint_filter_fn``.

    Examples
    --------
    >>> from skhisto.backbones import checkpoint_filter_fn, get_backbone_info
    >>> checkpoint_filter_fn(get_backbone_info("ctranspath")).__module__
    'timm.models.swin_transformer'
    >>> checkpoint_filter_fn(get_backbone_info("resnet18")) is None
    True
    """
    spec = info.checkpoint_filter
    if spec is None or callable(spec):
        return spec
    try:
        return importlib.import_module(f"timm.models.{spec}").checkpoint_filter_fn
    except (ImportError, AttributeError):
        raise ValueError(
            f"Backbone {info.name!r}: checkpoint_filter={spec!r} is not a timm model module "
            "with a checkpoint_filter_fn (e.g. 'vision_transformer', 'swin_transformer'); "
            "pass a callable (state_dict, model) -> state_dict instead."
        ) from None


def _filter_checkpoint(info, model, state_dict):
    """Apply the entry's checkpoint filter to a state dict before loading it.

    Published pathology checkpoints often predate timm 1.0 (CTransPath was saved with
    timm 0.5.4, whose Swin downsamples at the end of a stage): timm's converters remap
    such layouts and drop non-persistent buffers, exactly as for its own hub weights.
    What they would resample (a patch kernel or position table of another size) is
    refused before they run (:func:`_resampled`).
    """
    convert = checkpoint_filter_fn(info)
    if convert is None:
        return state_dict
    if callable(info.checkpoint_filter):  # the user's own: a failure is reported, not skipped
        try:
            return convert(state_dict, model)
        except Exception as exc:
            raise WeightsError(
                f"checkpoint_filter of backbone {info.name!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
    try:
        return convert(state_dict, model)
    except (KeyError, AttributeError, RuntimeError, ValueError):
        return state_dict  # not a layout it knows: the conformance check names the keys


# Tensors timm's converters resize to fit: patch kernels, absolute and relative position tables.
_RESIZABLE = ("patch_embed.proj.weight", "pos_embed", "relative_position_bias_table")


def _resampled(before, after, expected):
    """Tensors of another size that a converter resized to fit the model, as text.

    A resizable tensor (patch kernel, position table) whose size differs from
    the model's under its own name is named with both shapes. Renaming and
    reshaping keep each tensor's size, so any other size that the file never
    held was made by resampling too.
    """
    named = [
        f"{key}: file {tuple(value.shape)} vs model {tuple(expected[key].shape)}"
        for key, value in before.items()
        if key.endswith(_RESIZABLE) and key in expected and value.numel() != expected[key].numel()
    ]
    if named:
        return named
    sizes = Counter(v.numel() for v in before.values())
    made = []
    for key, value in after.items():
        if sizes[value.numel()] > 0:
            sizes[value.numel()] -= 1
        else:
            made.append(f"{key}: {tuple(value.shape)}, a size the file does not hold")
    return made


def convert_checkpoint(info, model, state_dict, source):
    """A checkpoint's state dict in ``model``'s layout, checked key by key and shape by shape.

    Wrapper prefixes are stripped, the entry's ``checkpoint_filter`` converts
    older layouts (without resampling anything), and every key must then fit
    exactly (:func:`conformance`).

    Returns
    -------
    state_dict : dict
        Ready for ``model.load_state_dict``.
    report : dict
        The conformance report (``ignored`` lists the head keys left out).

    Raises
    ------
    WeightsError
        Naming the missing, unexpected, reshaped or resampled keys.
    """
    expected = model.state_dict()
    state_dict = strip_prefixes(state_dict, expected)
    target = f"backbone {info.name!r} ({info.architecture})"
    if info.loader == "timm" and checkpoint_filter_fn(info) is not None:
        converted = _filter_checkpoint(info, model, state_dict)
        resampled = _resampled(state_dict, converted, expected)
        if resampled:
            raise WeightsError(
                f"Weights from {source} do not fit {target}: {len(resampled)} tensors of "
                f"another size ({'; '.join(resampled[:4])}). timm would resample them quietly; "
                "skhisto loads checkpoints exactly. The file was trained with another patch "
                "size or input size: register an entry with its own recipe."
            )
        state_dict = converted
    report = conformance(state_dict, expected)
    check_conformance(report, source, target)
    return {k: v for k, v in state_dict.items() if k in expected}, report


def _check_unchanged(expected, digest, weights):
    # Only file-backed digests can drift; hub revisions and random seeds cannot.
    if expected is None or not expected.startswith(("sha256:", "dir:")) or expected == digest:
        return
    raise WeightsChangedError(
        f"Weights file {os.fspath(weights)!r} changed since fit: it was fitted with "
        f"{expected[:23]}..., it now holds {digest[:23]}.... Refit the estimator to use the "
        "new weights (its cached embeddings stay filed under the old ones), or restore the file."
    )


@validate_params(
    {
        "name": [str],
        "weights": PATH + [None],
        "pretrained": ["boolean"],
        "random_state": ["random_state"],
        "image_size": POSITIVE_INT + [None],
        "expected_digest": [str, None],
    },
    prefer_skip_nested_validation=True,
)
def create_backbone(
    name,
    *,
    weights=None,
    pretrained=True,
    random_state=None,
    image_size=None,
    expected_digest=None,
):
    """Build a frozen, headless backbone that maps normalized images to embeddings.

    Parameters
    ----------
    name : str
        Registry name or timm model name (see :func:`get_backbone_info`).
    weights : str or os.PathLike, optional
        Local weights file (``.safetensors``, ``.pth``, ``.bin``), or for a
        transformers entry a ``save_pretrained`` folder. Loaded exactly:
        wrapper prefixes (``module.``, ``backbone.``, ``model.``,
        ``encoder.``) are stripped and the entry's ``checkpoint_filter``
        converts older layouts, then missing, unexpected (classifier heads
        aside), reshaped or resampled keys raise :class:`WeightsError`.
    pretrained : bool, default=True
        Load the published weights (from the Hub or the authors' URL). Never
        falls back to random weights: if they cannot be had, an error says how
        to supply a local file. ``False`` gives a random initialization.
    random_state : int, RandomState instance or None
        Seeds the random initialization (used when no weights are loaded).
    image_size : int, optional
        Input size, when it differs from the backbone's native one: ViT and
        Swin position tables are resampled, with a warning naming the patch
        grids (nothing is resampled at the native size). It must be a
        multiple of the patch size (see :func:`check_image_size`).
    expected_digest : str, optional
        The weights digest recorded at ``fit``: a local file whose bytes no
        longer hash to it raises :class:`WeightsChangedError`.

    Returns
    -------
    model : torch.nn.Module
        In eval mode on the CPU, with ``requires_grad=False``; ``model(x)``
        returns ``(n, embed_dim)`` for normalized float input ``(n, 3, H, W)``.
    digest : str
        Identity of the loaded weights (for cache fingerprints).

    Examples
    --------
    >>> import torch
    >>> from skhisto.backbones import create_backbone
    >>> model, digest = create_backbone("resnet18", pretrained=False, random_state=0)
    >>> model(torch.zeros(2, 3, 64, 64)).shape, digest.split(":")[0]
    (torch.Size([2, 512]), 'random')
    """
    info = get_backbone_info(name)
    check_image_size(info, image_size)
    path, digest = resolve_weights(info, weights, pretrained)
    if digest == "random":
        seed = torch_seed(random_state)
        digest = f"random:{seed}"
    else:
        seed = 0
    model, digest, _ = load_backbone(info, path, digest, seed, expected_digest, weights)
    model = _resize_input(info, model, image_size)
    model = _pool(info, model, image_size)
    model.eval().requires_grad_(False)
    return model, digest


def load_backbone(info, path, digest, seed=0, expected_digest=None, weights=None):
    """The entry's network with the checkpoint at ``path`` loaded exactly (None: random).

    Returns the model (no pooling wrapper, native input size), the weights
    digest of what was loaded, and the conformance report (None when random).
    """
    state_dict, report = None, None
    if path is not None:
        state_dict, sha = read_weights(path)
        if digest.startswith("sha256:"):
            digest = "sha256:" + sha  # what was loaded, even if the file moved since
    _check_unchanged(expected_digest, digest, weights)
    source = repr(os.fspath(path)) if path is not None else None
    with seeded_torch(seed):
        if state_dict is not None and info.loader == "transformers":
            model, report = load_transformers(info, state_dict, source, path)
        else:
            model = build_architecture(info, path)
    if state_dict is not None and info.loader == "timm":
        state_dict, report = convert_checkpoint(info, model, state_dict, source)
        model.load_state_dict(state_dict, strict=False)  # strict by convert_checkpoint
    return model, digest, report


def _resize_input(info, model, image_size):
    """Resample a ViT or Swin position table for another input size, saying so."""
    if not image_size or image_size == info.input_size or info.loader != "timm":
        return model
    if not hasattr(model, "set_input_size") or not hasattr(model, "patch_embed"):
        return model  # convolutional: any input size, nothing resampled
    before = model.patch_embed.grid_size
    model.set_input_size(img_size=image_size)
    after = model.patch_embed.grid_size
    if tuple(before) != tuple(after):
        _warn_resampled(info, image_size, f"{before[0]}x{before[1]}", f"{after[0]}x{after[1]}")
    return model


def _warn_resampled(info, image_size, before, after):
    warn(
        f"Backbone {info.name!r} was trained on {info.input_size} px inputs: image_size="
        f"{image_size} changes its patch grid from {before} to {after}, resampling its position "
        "embeddings, so its embeddings differ from the published model's.",
        UserWarning,
    )


def _pool(info, model, image_size):
    if info.loader == "transformers":
        resized = bool(image_size) and image_size != info.input_size
        if resized:
            patch = int(getattr(model.config, "patch_size", 1))
            old, new = info.input_size // patch, image_size // patch
            _warn_resampled(info, image_size, f"{old}x{old}", f"{new}x{new}")
        return TransformersPool(model, info.pooling, interpolate=resized)
    if info.pooling == "cls+mean":
        return ClsMeanPool(model)
    return model
