"""Hugging Face ``transformers`` backbones: built from a recorded recipe, loaded exactly."""

import inspect
import json
import os
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn as nn

from ._weights import HEAD_PREFIXES, WeightsError, check_conformance, strip_shared_prefixes


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


def _recipe(info, path, overrides):
    """The model class, its config and constructor arguments for a transformers entry."""
    transformers = import_transformers(info)
    if info.config:
        check_folder_config(info, folder_config(path))
        cls = getattr(transformers, info.architecture)
        config = cls.config_class(**{**info.config, **(overrides or {})})
        # A pooler the published forward does not use would stay random: leave it out.
        kwargs = {}
        if "add_pooling_layer" in inspect.signature(cls.__init__).parameters:
            kwargs["add_pooling_layer"] = False
        return cls, config, kwargs, False
    trust = info.trust_remote_code
    if path is not None and not os.path.isdir(path):
        raise WeightsError(
            f"Backbone {info.name!r} records no config, so a single weights file cannot be "
            "built: pass the checkpoint folder (config.json and weights) instead."
        )
    source = path if path is not None else info.hub_id
    config = transformers.AutoConfig.from_pretrained(source, trust_remote_code=trust)
    for key, value in (overrides or {}).items():
        setattr(config, key, value)
    return transformers.AutoModel, config, {"trust_remote_code": trust}, True


def build_transformers(info, path=None, overrides=None):
    """The model of a transformers entry, randomly initialized.

    Entries with a recorded ``config`` build the named class from it, no code
    from the Hub runs; others read their configuration from the checkpoint
    folder or the Hub (running its code only when ``trust_remote_code``).
    """
    cls, config, kwargs, auto = _recipe(info, path, overrides)
    return cls.from_config(config, **kwargs) if auto else cls(config, **kwargs)


@contextmanager
def _quiet(transformers):
    # from_pretrained prints a load report and progress bars; skhisto reports in one line.
    logging = transformers.utils.logging
    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


def load_transformers(info, state_dict, source, path=None, overrides=None):
    """A transformers entry with ``state_dict`` loaded exactly.

    ``state_dict`` was read safely by skhisto (safetensors or weights-only
    torch files, nested dicts unwrapped); wrapper prefixes every key shares
    (``module.``, ``backbone.``, ``model.``) are stripped. transformers maps
    the Hub layout onto its classes (its own key renamings included); every
    key must then fit: missing, unexpected (heads aside) and reshaped keys
    raise :class:`WeightsError`, named as the transformers model calls them.
    """
    transformers = import_transformers(info)
    cls, config, kwargs, auto = _recipe(info, path, overrides)
    if auto:  # the class the configuration names (the repository's own code if trusted)
        cls = type(cls.from_config(config, **kwargs))
        kwargs = {}
    try:
        with _quiet(transformers):
            model, loading = cls.from_pretrained(
                None,
                config=config,
                state_dict=strip_shared_prefixes(state_dict),
                output_loading_info=True,
                ignore_mismatched_sizes=True,  # reported below, never kept
                **kwargs,
            )
    except (OSError, ValueError, RuntimeError, TypeError) as exc:
        raise WeightsError(
            f"transformers could not load {source} as backbone {info.name!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    unexpected = sorted(loading.get("unexpected_keys") or ())
    report = {
        "missing": _published_names(model, sorted(loading.get("missing_keys") or ())),
        "unexpected": [k for k in unexpected if not _unused(k)],
        "mismatched": [
            f"{key}: file {tuple(file)} vs model {tuple(ours)}"
            for key, file, ours in loading.get("mismatched_keys") or ()
        ],
        "ignored": [k for k in unexpected if _unused(k)],
    }
    target = f"backbone {info.name!r} ({cls.__name__})"
    check_conformance(report, source, target)
    return model.float(), report


def _published_names(model, keys, limit=8):
    """Model keys as a Hub checkpoint names them (transformers 5 renames keys on loading)."""
    try:
        from transformers.core_model_loading import revert_weight_conversion
    except ImportError:  # transformers 4: the model's names are the file's
        return keys
    state, named = model.state_dict(), []
    for key in keys[:limit]:
        try:
            (published,) = revert_weight_conversion(model, {key: state[key]})
        except Exception:  # a fused tensor, or a layout transformers cannot revert alone
            published = key
        named.append(key if published == key else f"{published} (transformers: {key})")
    return named + keys[limit:]


def _unused(key):
    # Heads and pooler weights, under the model's own prefix or none.
    return (
        key.split(".", 1)[-1].startswith(HEAD_PREFIXES)
        or key.startswith(HEAD_PREFIXES)
        or (key.endswith("position_ids"))
    )


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
