"""Ctrl-C during training: finish the update, save, stop; a second Ctrl-C stops at once.

    with deferred_interrupt() as stop:
        while ...:
            ...one update...
            if stop.requested:
                break

Inside the block the first SIGINT only sets ``stop.requested`` (and says so on stderr); the
second raises ``KeyboardInterrupt`` as usual. Outside the main thread (where Python cannot
install signal handlers), and where SIGINT is ignored (a background job, ``nohup``), the block
changes nothing.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager

__all__ = ["deferred_interrupt", "StopRequest", "TrainingInterrupted"]


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C after a completed update (and a checkpoint where a run
    directory was given); ``env_steps`` and ``saved`` (the checkpoint directory or None)."""

    def __init__(self, message: str, env_steps: int, saved: str | None):
        super().__init__(message)
        self.env_steps, self.saved = env_steps, saved


class StopRequest:
    requested = False


@contextmanager
def deferred_interrupt(stream=None):
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield stop
        return
    stream = sys.stderr if stream is None else stream

    def handler(signum, frame):
        if stop.requested:
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        stop.requested = True
        print("\nnpg: Ctrl-C: stopping after this update (press again to stop at once)",
              file=stream, flush=True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
