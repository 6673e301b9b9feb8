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

    The exit code for a graceful stop after signal N is 128 + N (130 Ctrl-C, 143 SIGTERM).
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

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def exit_code(signum: int) -> int:
    return 128 + signum
