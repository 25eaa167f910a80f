"""Atomic training checkpoints loaded with ``weights_only=True`` (no code payloads)."""

import os
import tempfile

import torch


def save_checkpoint(path, state):
    """Write ``state`` (tensors, numbers, strings, lists, dicts) to ``path`` atomically.

    The file is written next to ``path`` and moved over it with
    :func:`os.replace`, so a run killed mid-write leaves the previous
    checkpoint intact.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".pt")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_checkpoint(path):
    """Load a checkpoint written by :func:`save_checkpoint`, or None when absent.

    Raises
    ------
    ValueError
        When the file exists but cannot be read safely (corrupt, or holding
        objects other than tensors and plain containers).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file gets the same clear error
        raise ValueError(
            f"Checkpoint {path!r} is corrupt or not a weights-only checkpoint ({exc}); "
            "delete it or use another checkpoint_dir."
        ) from exc
