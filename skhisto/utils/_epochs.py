"""Epoch reports of the training loops skorch does not run (SimCLR), for whoever listens.

A tracker listens (:meth:`skhisto.model_selection.Tracker.epochs`); a loop reports
each finished epoch with :func:`report_epoch`, and costs nothing when nobody listens.
"""

from contextlib import contextmanager
from contextvars import ContextVar

_LISTENERS = ContextVar("skhisto_epoch_listeners", default=())


@contextmanager
def epoch_listener(listener):
    """Call ``listener(name, epoch, record)`` for each epoch reported inside the block."""
    token = _LISTENERS.set((*_LISTENERS.get(), listener))
    try:
        yield
    finally:
        _LISTENERS.reset(token)


def report_epoch(name, epoch, record):
    """Tell the listeners that the loop ``name`` (``"simclr"``) finished ``epoch``, whose
    history record is ``record`` (a dict)."""
    for listener in _LISTENERS.get():
        listener(name, epoch, record)
