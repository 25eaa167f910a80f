"""The errors skhisto raises on purpose, each naming the file, parameter or label at fault.

All derive from the built-in class a caller would already catch
(``ValueError``, ``RuntimeError``), so ``except ValueError`` keeps working.
"""

__all__ = [
    "CheckpointError",
    "CheckpointMismatchError",
    "NonFiniteError",
]


class CheckpointError(ValueError):
    """A checkpoint file exists but cannot be read (truncated, corrupt, foreign format).

    The file is left in place; the message names it and says how to start afresh.
    """


class CheckpointMismatchError(CheckpointError):
    """A checkpoint belongs to another run (other data or settings) and is not resumed.

    The message lists what differs and how to start afresh.
    """


class NonFiniteError(RuntimeError):
    """Training produced a NaN or infinite loss or output (diverged)."""
