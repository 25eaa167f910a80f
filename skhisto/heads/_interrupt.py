"""Ctrl-C during a head's training: skorch swallows it, the head reports it."""

import signal
import threading
from contextlib import contextmanager

from skorch.callbacks import Callback


@contextmanager
def record_sigint():
    """Yield a list that gets an entry when a real Ctrl-C (SIGINT) arrives in the block.

    skorch stops training by raising ``KeyboardInterrupt`` (its early
    stopping does so) and swallows every ``KeyboardInterrupt`` in
    ``partial_fit``, returning a half-trained net as if fitted. Only the
    signal itself tells a user's Ctrl-C apart. Signal handlers can only be
    set in the main thread; elsewhere nothing is recorded.
    """
    received = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if previous == signal.SIG_IGN:  # a process that ignores Ctrl-C keeps ignoring it
            return
        received.append(signum)
        if callable(previous):
            previous(signum, frame)
        else:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield received
    finally:
        signal.signal(signal.SIGINT, previous)


class StopOnSigint(Callback):
    """Stop training once ``received`` (from :func:`record_sigint`) holds a Ctrl-C."""

    def __init__(self, received=()):
        self.received = received

    def _check(self):
        if self.received:
            raise KeyboardInterrupt

    def on_batch_end(self, net, **kwargs):
        self._check()

    def on_epoch_end(self, net, **kwargs):
        self._check()
