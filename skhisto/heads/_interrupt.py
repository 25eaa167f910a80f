"""Ctrl-C during a head's training: skorch swallows it, the head reports it."""

import signal
import threading
from contextlib import contextmanager


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
        received.append(signum)
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield received
    finally:
        signal.signal(signal.SIGINT, previous)
