"""``newsletter worker``: one send worker of a fleet sharing one PostgreSQL store.

It claims batches of any issue being sent (``send ISSUE --workers`` marks it so in ``mailings``),
hands them to its provider and records the results with the send loop's own code
(:func:`newsletter.send.loop._skip_gone`, ``_send_batch``, ``_record``): committed ``sending``
before the provider call, ``sent``/``failed``/``in_doubt``/requeued after. Only the main thread
touches the ledger; up to ``in_flight`` batches are with the provider at once, on other threads.

Its lease (``workers`` row) is renewed by a heartbeat thread. If the lease or the database
connection is lost, the worker claims nothing more, records what it still can, and exits 1: rows
it could not record stay ``sending`` until its lease expires and they become ``in_doubt``.
SIGTERM or Ctrl-C: nothing new is claimed, the batches in flight finish and are recorded (exit
143 or 130).
"""

from __future__ import annotations

import hashlib
import math
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError

from ..config import Settings
from ..errors import InputError, NewsletterError, Problem
from ..providers import Mailing, make_provider
from ..render import RenderedIssue
from ..send.loop import SendOptions, SendSummary, _LoopState, _record, _send_batch, _skip_gone, mailing_for, render_checked
from ..store.ledger import Claimed, Ledger
from ..store.workers import ActiveMailing, Fleet
from ..tokens import Tokens


def digest(rendered: RenderedIssue) -> str:
    """What every worker's rendering of the issue must hash to: the same subject, HTML and text."""
    h = hashlib.sha256()
    for part in (rendered.issue.id, rendered.issue.subject, rendered.html, rendered.text):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def fleet_engine(settings: Settings, role: str):
    """The store's engine for a worker or ``send --workers``: PostgreSQL only, migrated, its
    connections named (``application_name``) so an operator sees them in ``pg_stat_activity``."""
    from ..store import AddressHash
    from ..store.engine import database_url, make_engine, upgrade

    url = database_url(settings)
    if url.get_backend_name() != "postgresql":
        raise InputError([Problem("database", None, (
            f"send workers need PostgreSQL (a database_url like postgresql+psycopg://user@host/db); "
            f"this publication uses {url.get_backend_name()}: use 'newsletter send' without --workers"))])
    engine = make_engine(url.update_query_dict({"application_name": f"newsletter {role} {socket.gethostname()[:20]} "
                                                                    f"pid {os.getpid()}"}))
    upgrade(engine, AddressHash.for_settings(settings))
    return engine


class WorkerLost(NewsletterError):
    """The worker lost its database connection or its lease: it stopped claiming (exit 1)."""

    exit_code = 1


@dataclass
class _Issue:
    """One issue this worker sends: rendered once; per run of ``send --workers`` (``run``, its
    start) its own loop state, keyset and totals."""

    mailing: ActiveMailing
    message: Mailing | None = None
    ledger: Ledger | None = None
    #: Why this worker does not send the issue at all (it does not render the same here).
    refused: str = ""
    run: object = None
    #: This run was stopped by this worker (refused credentials, a pause): nothing more of it.
    stopped: bool = False
    summary: SendSummary | None = None
    state: _LoopState = field(default_factory=_LoopState)
    after: int = 0
    flushed: tuple = (0, 0, 0, 0, 0)

    def begin(self, mailing: ActiveMailing) -> None:
        self.mailing, self.run, self.stopped, self.after = mailing, mailing.started_at, False, 0
        self.summary = SendSummary(issue_id=mailing.issue_id, provider="")
        self.state, self.flushed = _LoopState(), (0, 0, 0, 0, 0)


@dataclass
class WorkerStats:
    sent: int = 0
    batches: int = 0


class Worker:
    """The worker loop. ``provider`` (a factory) replaces the configured provider (benchmarks)."""

    def __init__(self, settings: Settings, in_flight: int | None = None, stop: threading.Event | None = None,
                 log: Callable[[str], None] | None = None, provider: Callable[[], object] | None = None,
                 poll: float = 0.25):
        self.settings = settings
        self.in_flight = in_flight or settings.worker_in_flight
        self.stop = stop or threading.Event()
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.provider_factory = provider
        self.poll = poll
        self.options = SendOptions(max_attempts=settings.max_attempts, pause_after=settings.pause_after)
        self.stats = WorkerStats()
        self.lost = ""
        self.id = 0
        self._issues: dict[tuple, _Issue] = {}
        self._current: str | None = None
        self._active: list[ActiveMailing] = []
        self._active_at = 0.0

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> WorkerStats:
        settings = self.settings
        engine = self._engine = fleet_engine(settings, "worker")
        try:
            tokens = Tokens.for_settings(settings)
            provider = self.provider_factory() if self.provider_factory else make_provider(settings)
        except BaseException:
            engine.dispose()
            raise
        fleet = Fleet(engine, settings.worker_lease)
        self.id = fleet.register(socket.gethostname(), os.getpid())
        self.log(f"worker {self.id} on {socket.gethostname()} (pid {os.getpid()}): {self.in_flight} batches in flight, "
                 f"provider {provider.name}, lease {settings.worker_lease:g} s"
                 + (f", fleet rate limit {settings.rate_limit:g}/s" if settings.rate_limit else ""))
        beat_stop = threading.Event()
        in_flight: dict[Future, tuple[_Issue, list[Claimed]]] = {}
        beat = threading.Thread(target=self._heartbeat, args=(fleet, beat_stop, in_flight), daemon=True,
                                name="heartbeat")
        beat.start()
        ended = False
        try:
            with provider, ThreadPoolExecutor(max_workers=self.in_flight, thread_name_prefix="send") as pool:
                self._loop(fleet, provider, tokens, pool, in_flight)
            ended = True
        finally:
            beat_stop.set()
            beat.join()
            # Only a worker that recorded everything leaves the registry; otherwise its lease runs
            # out and the reaper puts what it left ``sending`` in doubt.
            if ended and not self.lost:
                try:
                    fleet.deregister(self.id)
                except DBAPIError:
                    pass
            engine.dispose()
        if self.lost:
            raise WorkerLost(f"worker {self.id} stopped: {self.lost}; it claimed nothing more, and what it could not "
                             "record becomes in doubt when its lease expires")
        return self.stats

    def _loop(self, fleet: Fleet, provider, tokens: Tokens, pool: ThreadPoolExecutor,
              in_flight: dict[Future, tuple[_Issue, list[Claimed]]]) -> None:
        """Claim until ``in_flight`` batches are out, then record the finished ones. A slot that
        frees up is refilled before its batch is recorded, so the provider's latency, not the
        ledger's, sets the pace; every batch is still committed ``sending`` before it is handed over."""
        next_reap = 0.0
        wait_until = 0.0
        finished: list[Future] = []
        while True:
            idle = False
            claiming = not self.stop.is_set() and not self.lost
            try:
                if claiming and time.monotonic() >= next_reap:
                    for issue_id, n in fleet.reap().items():
                        self.log(f"{issue_id}: {n} deliveries of a dead worker (lease expired) are now in doubt")
                    next_reap = time.monotonic() + self.settings.worker_lease / 2
                while claiming and len(in_flight) - len(finished) < self.in_flight and time.monotonic() >= wait_until:
                    got = self._claim(fleet, provider)
                    if got is None:
                        idle = True
                        break
                    if isinstance(got, float):  # the fleet's rate budget says wait
                        wait_until = time.monotonic() + got
                        break
                    item, rows = got
                    live = _skip_gone(item.ledger, rows, item.summary)
                    if live:
                        item.summary.provider_calls += 1
                        in_flight[pool.submit(_send_batch, provider, item.message, tokens, live)] = (item, live)
                    else:
                        self._flush(fleet, item)
            except DBAPIError as exc:
                self._lose(f"lost the database connection: {_reason(exc)}")
            pause = 0.0
            for future in finished:
                item, live = in_flight.pop(future)
                try:
                    _record(future, live, item.ledger, self.options, item.summary, item.state)
                    self._flush(fleet, item)
                except DBAPIError as exc:
                    self._lose(f"lost the database connection: {_reason(exc)}")
                    continue
                if item.state.stop:
                    self._stop_issue(fleet, item)
                pause = max(pause, item.state.wait)
                item.state.wait = 0.0
            finished = []
            if pause:  # back off (or wait out a 429) as the send loop does
                wait_until = max(wait_until, time.monotonic() + pause)
            if not in_flight:
                if self.stop.is_set() or self.lost:
                    return
                rest = self.poll if idle else max(0.0, min(self.poll, wait_until - time.monotonic()))
                self.stop.wait(rest)
                continue
            done, _ = wait(in_flight, timeout=self.poll, return_when=FIRST_COMPLETED)
            finished = list(done)

    def _claim(self, fleet: Fleet, provider):
        """The next batch: (issue, rows); a float to wait that long (rate budget); None when no
        issue being sent has rows left to claim."""
        for mailing in self._mailings(fleet):
            item = self._issue(mailing)  # rendered while it is still being planned, to be ready
            if mailing.state != "sending" or item.refused:
                continue
            if item.run != mailing.started_at:
                item.begin(mailing)
            if item.stopped:
                continue
            limit = provider.batch_size
            rate = self.settings.rate_limit
            if rate:
                limit = max(1, min(limit, math.ceil(rate)))
                wait_for = fleet.take(limit, rate)
                if wait_for:
                    return wait_for
            rows = fleet.claim(self.id, mailing.issue_id, limit, item.after)
            if rows is None:
                if rate:
                    fleet.refund(limit)
                self._lose("its lease expired (it was declared dead)")
                return None
            if not rows and item.after:
                item.after = 0
                rows = fleet.claim(self.id, mailing.issue_id, limit, 0) or []
            if rate:
                fleet.refund(limit - len(rows))
            if rows:
                item.after = max(item.after, rows[-1].delivery_id)
                self._current = mailing.issue_id
                return item, rows
        self._current = None
        return None

    def _mailings(self, fleet: Fleet) -> list[ActiveMailing]:
        """The issues being sent (re-read at most every poll interval), the current one first."""
        now = time.monotonic()
        if now - self._active_at >= self.poll:
            self._active = fleet.active()
            self._active_at = now
        return sorted(self._active, key=lambda m: m.issue_id != self._current)

    def _issue(self, mailing: ActiveMailing) -> _Issue:
        """The issue rendered once (again only if ``send --workers`` planned a different rendering)."""
        key = (mailing.issue_id, mailing.digest)
        item = self._issues.get(key)
        if item is not None:
            return item
        item = _Issue(mailing)
        self._issues[key] = item
        try:
            rendered = render_checked(mailing.issue, self.settings)
        except NewsletterError as exc:
            item.refused = "; ".join(exc.lines())
        else:
            if rendered.issue.id != mailing.issue_id:
                item.refused = f"{mailing.issue} is issue {rendered.issue.id} here, not {mailing.issue_id}"
            elif digest(rendered) != mailing.digest:
                item.refused = ("it renders differently here than where 'send --workers' planned it "
                                "(articles, templates or settings differ)")
            else:
                item.message = mailing_for(rendered, self.settings)
        if item.refused:
            self.log(f"{mailing.issue_id}: not sent by this worker: {item.refused}")
            return item
        item.ledger = Ledger(self._engine, mailing.issue_id)
        self.log(f"{mailing.issue_id}: rendered {mailing.issue}")
        return item

    def _flush(self, fleet: Fleet, item: _Issue) -> None:
        """Add this worker's new results to the mailing's totals (``send --workers`` shows them)."""
        s = item.summary
        now = (s.sent, s.failed, s.skipped, s.in_doubt, s.provider_calls)
        delta = [a - b for a, b in zip(now, item.flushed)]
        if any(delta):
            fleet.add_counts(item.mailing.issue_id, *delta)
            item.flushed = now
            self.stats.sent += delta[0]
            self.stats.batches += delta[4]

    def _stop_issue(self, fleet: Fleet, item: _Issue) -> None:
        reason = item.state.stop
        if fleet.stop(item.mailing.issue_id, f"stopped by worker {self.id}: {reason}"):
            self.log(f"{item.mailing.issue_id}: stopped: {reason}")
        item.stopped = True  # nothing more of this run from here
        item.state.stop = ""

    def _lose(self, reason: str) -> None:
        if not self.lost:
            self.lost = reason
            self.log(f"worker {self.id}: {reason}; claiming nothing more")

    def _heartbeat(self, fleet: Fleet, done: threading.Event, in_flight: dict) -> None:
        """Renew the lease every third of it, with what ``newsletter workers`` shows."""
        every = max(0.2, self.settings.worker_lease / 3)
        last_sent, last_time = 0, time.monotonic()
        while not done.wait(every):
            now = time.monotonic()
            sent = self.stats.sent
            rate = (sent - last_sent) / (now - last_time) if now > last_time else 0.0
            last_sent, last_time = sent, now
            try:
                if not fleet.heartbeat(self.id, self._current, len(in_flight), sent, rate):
                    self._lose("its lease expired (it was declared dead)")
                    return
            except DBAPIError as exc:
                self._lose(f"lost the database connection: {_reason(exc)}")
                return


def _reason(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    lines = str(inner).strip().splitlines()
    return lines[0].strip() if lines else type(inner).__name__


def run_worker(settings: Settings, in_flight: int | None = None, stop: threading.Event | None = None,
               log: Callable[[str], None] | None = None, provider=None) -> WorkerStats:
    worker = Worker(settings, in_flight, stop, log, provider)
    return worker.run()


__all__ = ["Worker", "WorkerLost", "WorkerStats", "digest", "fleet_engine", "run_worker"]
