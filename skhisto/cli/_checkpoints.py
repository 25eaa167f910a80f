"""The CLI's only reach into the resume files of the library: where a rerun resumes from.

TODO(issue 22): public checkpoint API. ActiveLearner, SimCLREmbedder, ActiveSimCLR and
embed_dataset are getting one checkpoint module; until it is public, the private names
they keep their checkpoints under are read here, and nowhere else in the CLI.
"""

from pathlib import Path

from ._outputs import announce


def zarr_layout():
    """The ``layout`` attribute of a Zarr store written by ``embed_dataset``."""
    from ..embedding._dataset import LAYOUT  # TODO(issue 22): public checkpoint API

    return LAYOUT


def prepare_zarr_store(paths, embedder, out, **options):
    """Create (or check) the store ``embed_dataset`` resumes, before a cluster starts."""
    from ..embedding._dataset import prepare_store  # TODO(issue 22): public checkpoint API

    return prepare_store(paths, embedder, out, **options)


def simclr_checkpoint(checkpoint_dir):
    """The file ``SimCLREmbedder(checkpoint_dir=...)`` resumes from (None without a folder)."""
    from ..contrastive._simclr import CHECKPOINT_NAME  # TODO(issue 22): public checkpoint API

    return None if checkpoint_dir is None else Path(checkpoint_dir) / CHECKPOINT_NAME


def active_simclr_checkpoint(checkpoint_dir):
    """The file ``ActiveSimCLR(checkpoint_dir=...)`` resumes from (None without a folder)."""
    from ..contrastive._active_simclr import CHECKPOINT_NAME  # TODO(issue 22): public API

    return None if checkpoint_dir is None else Path(checkpoint_dir) / CHECKPOINT_NAME


def announce_resume(command, path, where, *, what=""):
    """Say that a run resumes from the checkpoint file ``path`` and, when it reads, where.

    ``where(path)`` words its position (``after epoch 3``); a file that does not
    read is left to ``fit``, which refuses it in its own words.
    """
    from ..exceptions import CheckpointError

    if path is None or not Path(path).is_file():
        return
    try:
        position = f" {where(path)}"
    except (CheckpointError, KeyError, TypeError):
        position = ""
    announce(command, f"resuming {what}from {path}{position} if it is this run's")


def simclr_epoch(path):
    """The last finished epoch of a SimCLR checkpoint file."""
    from ..contrastive import load_checkpoint

    return f"after epoch {load_checkpoint(path)['state']['epoch']}"


def active_simclr_round(path):
    """The last finished round of an ActiveSimCLR checkpoint file."""
    from ..contrastive import load_checkpoint

    return f"after round {load_checkpoint(path)['round']}"


def active_learner_round(path):
    """The last finished round of an ActiveLearner checkpoint file."""
    from ..active._learner import _load_checkpoint  # TODO(issue 22): public checkpoint API

    return f"(round {len(_load_checkpoint(path)['history']) - 1} done)"
