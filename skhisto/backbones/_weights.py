"""Safe checkpoint loading: safetensors or weights-only torch files, never pickled code."""

import io
import os
import pickle

import torch

from ..utils import check_regular_file, io_error, new_digest, open_regular
from ..utils._constraints import PATH
from ..utils._sklearn_compat import validate_params

_PREFIXES = ("module.", "backbone.", "model.", "encoder.")
_NESTED = ("state_dict", "model", "teacher", "student", "model_state_dict")
#: Classifier, projection and pooler heads: a headless backbone (``num_classes=0``, no
#: pooler) never uses them, and published files often carry them.
HEAD_PREFIXES = ("fc.", "head.", "heads.", "head_dist.", "classifier.", "pooler.")
# Buffers an architecture recomputes from its own geometry; older layouts saved them.
_DERIVED_BUFFERS = ("num_batches_tracked", "position_ids", "relative_position_index", "attn_mask")


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
    check_regular_file(path, "weights file")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Weights file does not exist: {path!r}")
    return path


def weight_files(folder):
    """The weights files of a checkpoint folder (``save_pretrained``): safetensors first."""
    folder = os.fspath(folder)
    names = sorted(os.listdir(folder))
    for suffix in (".safetensors", ".bin", ".pth", ".pt"):
        files = [os.path.join(folder, n) for n in names if n.endswith(suffix)]
        if files:
            return files
    raise WeightsError(
        f"Checkpoint folder {folder!r} holds no weights file (.safetensors, .bin, .pth): "
        "pass the folder `save_pretrained` wrote, or the weights file itself."
    )


def read_weights(path):
    """State dict of a weights file (or folder) and the SHA-256 of the bytes it was read from.

    Hashing what is loaded (not the file before or after) means a file
    replaced while it is being read can never pass for the one fingerprinted.
    A folder's shards are merged; a key in two shards is refused.
    """
    if os.path.isdir(path):
        files = weight_files(path)
    else:
        files = [check_weights_path(path)]
    state_dict, sha = {}, new_digest("identity")
    for file in files:
        try:
            with open_regular(file, "weights file") as f:
                raw = f.read()
        except OSError as exc:
            raise io_error(exc, "read weights file", file) from exc
        sha.update(raw)
        shard = _parse(raw, file)
        twice = sorted(set(shard) & set(state_dict))
        if twice:
            raise WeightsError(f"{file!r} repeats keys of another shard: {twice[:5]}")
        state_dict.update(shard)
    return state_dict, sha.hexdigest()


@validate_params({"path": PATH}, prefer_skip_nested_validation=True)
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


def strip_prefixes(state_dict, expected=()):
    """Remove wrapper prefixes (``module.``, ``backbone.``, ``model.``, ``encoder.``).

    A key the model knows as it is (``expected``) keeps its prefix: a Hugging
    Face model's own ``encoder.layer.0...`` is no wrapper.

    Raises
    ------
    WeightsError
        When two keys become one (``module.x`` and ``x`` in the same file).
    """
    cleaned = {}
    for original, value in state_dict.items():
        key = original
        while key not in expected:
            prefix = next((p for p in _PREFIXES if key.startswith(p)), None)
            if prefix is None:
                break
            key = key[len(prefix) :]
        if key in cleaned:
            raise WeightsError(
                f"The checkpoint holds {key!r} twice (as {original!r} and under another "
                "wrapper prefix); save one copy of the weights."
            )
        cleaned[key] = value
    return cleaned


def strip_shared_prefixes(state_dict, prefixes=("module.", "backbone.", "model.")):
    """Strip wrapper prefixes that every key shares (``module.`` of DDP, ...).

    For layouts whose own keys may start like a wrapper (a Hugging Face
    model's ``encoder.``), only a prefix on every key is a wrapper.
    """
    while state_dict:
        prefix = next((p for p in prefixes if all(k.startswith(p) for k in state_dict)), None)
        if prefix is None:
            break
        state_dict = {k[len(prefix) :]: v for k, v in state_dict.items()}
    return state_dict


@validate_params({"state_dict": [dict], "expected": [dict]}, prefer_skip_nested_validation=True)
def conformance(state_dict, expected):
    """Compare a checkpoint with a model, key by key and shape by shape.

    Parameters
    ----------
    state_dict : dict of str to tensor
        The checkpoint, after prefixes are stripped and its layout converted.
    expected : dict of str to tensor
        ``model.state_dict()`` (meta tensors do: only shapes are read).

    Returns
    -------
    dict
        ``missing`` (model keys the file lacks), ``unexpected`` (file keys the
        model lacks, heads and derived buffers left out), ``mismatched``
        (``"key: file (...) vs model (...)"``) and ``ignored`` (head keys and
        derived buffers a headless backbone does not use).

    Examples
    --------
    >>> import torch
    >>> from skhisto.backbones import conformance
    >>> model = torch.nn.Linear(3, 2)
    >>> report = conformance({"weight": torch.zeros(2, 4), "fc.weight": torch.zeros(1)},
    ...                      model.state_dict())
    >>> report["missing"], report["mismatched"], report["ignored"]
    (['bias'], ['weight: file (2, 4) vs model (2, 3)'], ['fc.weight'])
    """
    missing = [k for k in expected if k not in state_dict and not k.endswith(_DERIVED_BUFFERS)]
    mismatched = [
        f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    extra = [k for k in state_dict if k not in expected]
    ignored = [k for k in extra if k.startswith(HEAD_PREFIXES) or k.endswith(_DERIVED_BUFFERS)]
    unexpected = [k for k in extra if k not in ignored]
    return {
        "missing": missing,
        "unexpected": unexpected,
        "mismatched": mismatched,
        "ignored": ignored,
    }


def _listed(keys, limit=8):
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def check_conformance(report, source, target):
    """Raise :class:`WeightsError` naming every key of ``report`` that does not fit."""
    problems = [
        f"{len(report[kind])} {label}: {_listed(report[kind])}"
        for kind, label in (
            ("missing", "missing keys"),
            ("unexpected", "unexpected keys"),
            ("mismatched", "shape mismatches"),
        )
        if report[kind]
    ]
    if problems:
        raise WeightsError(
            f"Weights from {source} do not fit {target}: "
            + "; ".join(problems)
            + ". Check that the file belongs to this backbone: skhisto loads checkpoints "
            "exactly, and no layer is left at its random initialization."
        )
