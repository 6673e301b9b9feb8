"""Graceful stops for long commands: the first SIGTERM or SIGINT asks the work to stop (the batches in
flight are finished and recorded); a second one stops the process at once."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def graceful(stop: threading.Event, on_first: Callable[[int], None] | None = None) -> Iterator[dict]:
    """Set ``stop`` on the first signal; the yielded dict gets ``"signal"`` (its number) then.

    The handlers stay for the rest of the process, which is about to end: a signal that comes
    after the work is recorded, while the outcome is printed, changes nothing (restoring Python's
    own handler there would turn it into a KeyboardInterrupt and a death by signal). The exit code
    for a graceful stop after signal N is 128 + N (130 Ctrl-C, 143 SIGTERM).
    """
    received: dict = {}

    def handler(signum, frame) -> None:
        if stop.is_set():  # the second one: stop now, as if nothing had been caught
            for sig in SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        received["signal"] = signum
        stop.set()
        if on_first:
            on_first(signum)

    for sig in SIGNALS:
        signal.signal(sig, handler)
    yield received


def exit_code(signum: int) -> int:
    return 128 + signum
