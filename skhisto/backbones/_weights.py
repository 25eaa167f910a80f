"""Safe checkpoint loading: safetensors or weights-only torch files, never pickled code."""

import hashlib
import io
import os
import pickle
import warnings

import torch

from ..utils import io_error

_PREFIXES = ("module.", "backbone.", "model.", "encoder.")
_NESTED = ("state_dict", "model", "teacher", "student", "model_state_dict")
# Classifier/projection weights that a headless (num_classes=0) backbone legitimately ignores.
_HEAD_PREFIXES = (
    "fc.",
    "head.",
    "heads.",
    "classifier.",
    "head_dist.",
    "projection",
    "pretext_token",
)


class WeightsError(ValueError):
    """A weights file cannot be loaded into the backbone (format, keys or shapes).

    Examples
    --------
    >>> import os, tempfile
    >>> from skhisto.backbones import WeightsError, read_state_dict
    >>> path = os.path.join(tempfile.mkdtemp(), "notes.pth")
    >>> with open(path, "w") as f:
    ...     _ = f.write("not weights")
    >>> try:
    ...     read_state_dict(path)
    ... except WeightsError as exc:
    ...     print(type(exc).__name__)
    WeightsError
    """


class WeightsChangedError(WeightsError):
    """A weights file no longer holds the bytes it held when its digest was taken (at ``fit``).

    Examples
    --------
    >>> from skhisto.backbones import WeightsChangedError, WeightsError
    >>> issubclass(WeightsChangedError, WeightsError), issubclass(WeightsError, ValueError)
    (True, True)
    """


def check_weights_path(path):
    """``path`` as a str, or an error naming it when it is missing or a directory."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"Weights must be a file (.safetensors, .pth or .bin), got a directory: {path!r}"
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Weights file does not exist: {path!r}")
    return path


def read_weights(path):
    """State dict of a weights file and the SHA-256 of the very bytes it was read from.

    Hashing what is loaded (not the file before or after) means a file
    replaced while it is being read can never pass for the one fingerprinted.
    """
    path = check_weights_path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise io_error(exc, "read weights file", path) from exc
    return _parse(raw, path), hashlib.sha256(raw).hexdigest()


def read_state_dict(path):
    """Read a state dict from ``.safetensors`` or a weights-only torch file.

    Torch files are opened with ``weights_only=True``: a checkpoint that
    carries code or arbitrary objects is refused rather than unpickled.

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from safetensors.torch import save_file
    >>> from skhisto.backbones import read_state_dict
    >>> path = os.path.join(tempfile.mkdtemp(), "head.safetensors")
    >>> save_file({"fc.weight": torch.ones(2, 3)}, path)
    >>> {name: tuple(t.shape) for name, t in read_state_dict(path).items()}
    {'fc.weight': (2, 3)}
    """
    return read_weights(path)[0]


def _parse(raw, path):
    if path.endswith(".safetensors"):
        from safetensors import SafetensorError
        from safetensors.torch import load

        try:
            return load(raw)
        except (SafetensorError, OSError, ValueError) as exc:
            raise WeightsError(f"{path!r} is not a valid safetensors file: {exc}") from exc
    try:
        obj = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise WeightsError(
            f"Refusing to load {path!r}: it is not a plain weights file (weights_only=True "
            f"rejected it: {str(exc).splitlines()[0]}). Checkpoints that pickle code or "
            "objects are never unpickled; re-save it as a state dict or .safetensors."
        ) from exc
    except Exception as exc:  # garbage makes the unpickler fail in many ways (KeyError, ...)
        raise WeightsError(
            f"Cannot read weights file {path!r}: not a torch checkpoint, or a truncated one "
            f"({type(exc).__name__}: {exc})."
        ) from exc
    return _unwrap(obj, path)


def _unwrap(obj, path):
    while isinstance(obj, dict) and not _is_tensor_dict(obj):
        nested = next((k for k in _NESTED if isinstance(obj.get(k), dict)), None)
        if nested is None:
            break
        obj = obj[nested]
    if not isinstance(obj, dict) or not _is_tensor_dict(obj):
        raise WeightsError(f"{path!r} does not hold a state dict of tensors.")
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def _is_tensor_dict(obj):
    return bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values() if v is not None)


def strip_prefixes(state_dict):
    """Remove wrapper prefixes (``module.``, ``backbone.``, ``model.``, ``encoder.``)."""
    cleaned = {}
    for key, value in state_dict.items():
        changed = True
        while changed:
            changed = False
            for prefix in _PREFIXES:
                if key.startswith(prefix):
                    key, changed = key[len(prefix) :], True
        cleaned[key] = value
    return cleaned


def load_weights_into(model, state_dict, source):
    """Load ``state_dict`` into ``model``, failing loudly on missing keys or shapes.

    Unexpected keys that belong to classifier or projection heads are ignored
    (the backbone is headless); any other unexpected key is reported in a
    warning. Missing keys and shape mismatches raise :class:`WeightsError`.
    """
    state_dict = strip_prefixes(state_dict)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict and not k.endswith("num_batches_tracked")]
    mismatched = [
        f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and state_dict[k].shape != v.shape
    ]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or mismatched:
        problems = []
        if missing:
            problems.append(f"{len(missing)} missing keys (e.g. {missing[:5]})")
        if mismatched:
            problems.append(f"{len(mismatched)} shape mismatches (e.g. {mismatched[:3]})")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[:5]})")
        raise WeightsError(
            f"Weights from {source} do not fit architecture {type(model).__name__}: "
            + "; ".join(problems)
            + ". Check that the file belongs to this backbone."
        )
    ignorable = [k for k in unexpected if not k.startswith(_HEAD_PREFIXES)]
    if ignorable:
        warnings.warn(
            f"Ignoring {len(ignorable)} unexpected keys in weights from {source} "
            f"(e.g. {ignorable[:5]}).",
            stacklevel=3,
        )
    model.load_state_dict({k: v for k, v in state_dict.items() if k in expected}, strict=False)
    return model
