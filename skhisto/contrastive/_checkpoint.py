"""Atomic training checkpoints loaded with ``weights_only=True`` (no code payloads)."""

import os

import torch

from ..exceptions import CheckpointError
from ..utils import atomic_write, check_identity, io_error


def save_checkpoint(path, state):
    """Write ``state`` (tensors, numbers, strings, lists, dicts) to ``path`` atomically.

    Written through :func:`skhisto.utils.atomic_write`, so a run killed
    mid-write leaves the previous checkpoint intact and no temporary file.

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from skhisto.contrastive import load_checkpoint, save_checkpoint
    >>> path = os.path.join(tempfile.mkdtemp(), "run.pt")
    >>> save_checkpoint(path, {"epoch": 3, "weights": torch.ones(2)})
    >>> load_checkpoint(path)["epoch"]
    3
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise io_error(exc, "create the checkpoint directory", directory) from exc
    with atomic_write(path) as f:
        torch.save(state, f)


def load_checkpoint(path):
    """Load a checkpoint written by :func:`save_checkpoint`, or None when absent.

    Raises
    ------
    CheckpointError
        When the file exists but cannot be read safely (truncated, corrupt, or
        holding objects other than tensors and plain containers); the file is
        left in place.

    Examples
    --------
    >>> import os, tempfile
    >>> from skhisto.contrastive import load_checkpoint
    >>> folder = tempfile.mkdtemp()
    >>> load_checkpoint(os.path.join(folder, "none.pt")) is None
    True
    >>> with open(os.path.join(folder, "bad.pt"), "wb") as f:
    ...     _ = f.write(b"not a checkpoint")
    >>> load_checkpoint(os.path.join(folder, "bad.pt"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skhisto.exceptions.CheckpointError: Checkpoint '...bad.pt' is corrupt, truncated or not ...
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file gets the same clear error
        raise CheckpointError(
            f"Checkpoint {path!r} is corrupt, truncated or not a weights-only checkpoint "
            f"({type(exc).__name__}: {exc}); delete it or use another checkpoint_dir."
        ) from exc


def resume_checkpoint(path, identity):
    """The checkpoint at ``path`` if it belongs to the run ``identity``, None when absent.

    Raises
    ------
    CheckpointError
        When the file cannot be read.
    CheckpointMismatchError
        When it belongs to another run (other data or parameters); the message
        says what differs. The file is left untouched.
    """
    checkpoint = load_checkpoint(path)
    if checkpoint is None:
        return None
    saved = checkpoint.get("identity") if isinstance(checkpoint, dict) else None
    check_identity(
        saved, identity, os.fspath(path), restart="delete it or pass another checkpoint_dir="
    )
    return checkpoint
