"""How many batches the send loop keeps in flight: enough to cover the provider's latency.

Throughput is at most in-flight × batch / latency: two 1,000-recipient requests in flight at
300 ms each cannot pass 6,700 recipients/s, while against a fast provider more threads only
fight over the one interpreter. So the limit is found while sending: it starts low, doubles
while each step raises the throughput measured over a window of finished batches, then moves by
one (a step back when more did not help, a probe up now and then); a provider saying "slow
down" (429, 5xx) halves it. It never passes ``cap`` (the ``max_in_flight`` setting).
"""

from __future__ import annotations

import time

#: Batches in flight at the start.
START = 2
#: A step up counts as helping when throughput rose by this factor.
GAIN = 1.10
#: Windows to stay put after a step back or a halving, before probing up again.
HOLD = 8


class Pace:
    """The in-flight limit: read :attr:`limit`; call :meth:`finished` per batch recorded and
    :meth:`slow_down` when the provider pushes back. Used by the send loop's thread only."""

    def __init__(self, cap: int, start: int = START, clock=time.monotonic):
        self.cap = max(1, cap)
        self.limit = min(self.cap, max(1, start))
        self._clock = clock
        self._doubling = True
        self._step = 0  # how much the last change added (0: none to judge)
        self._before = 0.0  # the throughput before that change
        self._hold = 0
        self._window_start: float | None = None
        self._batches = 0
        self._recipients = 0

    def finished(self, recipients: int) -> None:
        """A batch of ``recipients`` came back accepted; at the end of a window, adapt."""
        now = self._clock()
        if self._window_start is None:
            self._window_start = now
            return
        self._batches += 1
        self._recipients += recipients
        if self._batches < 2 * self.limit:
            return
        rate = self._recipients / max(now - self._window_start, 1e-9)
        self._window_start, self._batches, self._recipients = now, 0, 0
        if self._hold:
            self._hold -= 1
            self._before = rate
            return
        if self._step and rate < self._before * GAIN:  # the last step up did not pay: undo it
            self.limit -= self._step
            self._step, self._doubling, self._hold = 0, False, HOLD
            self._before = rate
            return
        self._before = rate
        grown = min(self.cap, self.limit * 2 if self._doubling else self.limit + 1)
        self._step = grown - self.limit
        self.limit = grown

    def slow_down(self) -> None:
        """The provider pushed back: halve the limit and stay there a while."""
        self.limit = max(1, self.limit // 2)
        self._step, self._doubling, self._hold = 0, False, HOLD
        self._window_start, self._batches, self._recipients = None, 0, 0
