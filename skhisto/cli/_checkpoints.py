"""Where a rerun of a command resumes from: said before the run, read from the checkpoint.

Every resumable object keeps its state in ``<checkpoint_dir>/CHECKPOINT_FILE``
(:mod:`skhisto.utils`' one checkpoint protocol); this reads where a run stands
from that file, without running it.
"""

from pathlib import Path

from ._outputs import announce


def checkpoint_path(checkpoint_dir):
    """The file a run with ``checkpoint_dir`` resumes from (None without a folder)."""
    from ..utils import CHECKPOINT_FILE

    return None if checkpoint_dir is None else Path(checkpoint_dir) / CHECKPOINT_FILE


def announce_resume(command, checkpoint_dir, where, *, what=""):
    """Say that a run resumes from the checkpoint of ``checkpoint_dir`` and, when it reads, where.

    ``where(state)`` words the position of the saved ``state`` (``after epoch 3``);
    a file that does not read is left to ``fit``, which refuses it in its own words.
    """
    from ..exceptions import CheckpointError
    from ..utils import load_checkpoint

    path = checkpoint_path(checkpoint_dir)
    if path is None or not path.is_file():
        return
    try:
        position = f" {where(load_checkpoint(path))}"
    except (CheckpointError, KeyError, TypeError):
        position = ""
    announce(command, f"resuming {what}from {path}{position} if it is this run's")


def simclr_epoch(state):
    """The last finished epoch of a ``SimCLREmbedder`` checkpoint."""
    return f"after epoch {state['state']['epoch']}"


def active_simclr_round(state):
    """The last finished round of an ``ActiveSimCLR`` checkpoint."""
    return f"after round {state['round']}"


def active_learner_round(state):
    """The last finished round of an ``ActiveLearner`` checkpoint."""
    return f"(round {len(state['history']) - 1} done)"
