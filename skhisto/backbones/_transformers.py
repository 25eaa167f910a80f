"""Hugging Face ``transformers`` backbones: built from a recorded recipe, loaded exactly."""

import inspect
import json
import os
from pathlib import Path

import torch
import torch.nn as nn

from ._weights import WeightsError


def import_transformers(info):
    try:
        import transformers
    except ImportError as exc:
        raise ImportError(
            f"Backbone {info.name!r} is a Hugging Face transformers model: "
            "pip install 'skhisto[transformers]'."
        ) from exc
    return transformers


def folder_config(path):
    """The ``config.json`` of a checkpoint folder as plain data (no code runs), or None."""
    if path is None or not os.path.isdir(path):
        return None
    file = Path(path) / "config.json"
    if not file.is_file():
        return None
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise WeightsError(f"Cannot read {os.fspath(file)!r}: {exc}") from exc


def check_folder_config(info, published):
    """Refuse a checkpoint folder whose ``config.json`` disagrees with the entry's recipe."""
    if not info.config or published is None:
        return
    differ = [
        f"{key}: file {published[key]!r} vs recipe {value!r}"
        for key, value in info.config.items()
        if key in published and published[key] != value
    ]
    if differ:
        raise WeightsError(
            f"The checkpoint's config.json does not describe backbone {info.name!r}: "
            + "; ".join(differ)
            + ". It holds another model: register it under its own name."
        )


def build_transformers(info, path=None, overrides=None):
    """The model of a transformers entry, randomly initialised (weights load separately).

    Entries with a recorded ``config`` build the named class from it, no code
    from the Hub runs; others read their configuration from the checkpoint
    folder or the Hub (running its code only when ``trust_remote_code``).
    """
    transformers = import_transformers(info)
    if info.config:
        check_folder_config(info, folder_config(path))
        cls = getattr(transformers, info.architecture)
        config = cls.config_class(**{**info.config, **(overrides or {})})
        # A pooler the published forward does not use would stay random: leave it out.
        kwargs = {}
        if "add_pooling_layer" in inspect.signature(cls.__init__).parameters:
            kwargs["add_pooling_layer"] = False
        return cls(config, **kwargs)
    trust = info.trust_remote_code
    source = path if path is not None and os.path.isdir(path) else info.hub_id
    config = transformers.AutoConfig.from_pretrained(source, trust_remote_code=trust)
    for key, value in (overrides or {}).items():
        setattr(config, key, value)
    return transformers.AutoModel.from_config(config, trust_remote_code=trust)


class TransformersPool(nn.Module):
    """The embedding of a transformers vision model from its last hidden state.

    ``"default"`` is the class token (after the final layer norm, as
    ``last_hidden_state[:, 0]`` and DINOv2's ``pooler_output``); ``"cls+mean"``
    concatenates it with the mean of the patch tokens, registers left out.
    """

    def __init__(self, model, pooling="default", interpolate=False):
        super().__init__()
        self.model = model
        self.pooling = pooling
        # ViTModel needs asking to resample its position table; DINOv2 always does.
        accepts = "interpolate_pos_encoding" in inspect.signature(model.forward).parameters
        self.interpolate = interpolate and accepts
        self.n_prefix = 1 + int(getattr(model.config, "num_register_tokens", 0) or 0)

    def forward(self, x):
        kwargs = {"interpolate_pos_encoding": True} if self.interpolate else {}
        tokens = self.model(pixel_values=x, **kwargs).last_hidden_state
        if self.pooling == "cls+mean":
            return torch.cat([tokens[:, 0], tokens[:, self.n_prefix :].mean(dim=1)], dim=-1)
        return tokens[:, 0]
