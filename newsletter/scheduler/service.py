"""The long-running scheduler: APScheduler does the timing, our own table holds the truth.

APScheduler's job stores must never be shared by several schedulers, so each process keeps
in-memory date jobs (UTC, misfire grace = ``schedule_grace``, coalescing) in step with
``scheduled_sends``, re-reading it every few seconds: a send scheduled, moved or cancelled from
another process is picked up without a restart. A job that fires only *claims* its row
(``scheduled`` → ``running`` in one statement, one winner among all schedulers); the send is the
ordinary resumable one.

A claim is a lease, renewed while the send runs. A scheduler that dies (SIGKILL, power) stops
renewing; once the lease runs out another scheduler, or the same one restarted, takes the send over
and resumes it through the ledger: rows it left ``sending`` are reported in doubt, never resent.
A stop request (SIGTERM, Ctrl-C) claims nothing new, lets the batches in flight finish and be
recorded, and leaves the send ``interrupted``, to resume at the next start.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable

from ..config import Settings
from ..errors import NewsletterError
from ..issue import find_issue, load_issue
from ..store.engine import connect
from ..store.models import utcnow
from ..store.schedule import Schedule, ScheduledRow
from .runner import Outcome, run_claimed
from ..issue.times import UTC, next_occurrence, occurrence_id, shown

#: Seconds between two readings of the table: a change from elsewhere is seen within this.
POLL_SECONDS = 2.0
#: Sends one scheduler runs at once (different issues; one issue is never sent twice at once).
PARALLEL_SENDS = 4


class Scheduler:
    """One scheduler process. ``run()`` blocks until ``stop`` is set, then stops gracefully."""

    def __init__(self, settings: Settings, *, log: logging.Logger | None = None,
                 clock: Callable[[], dt.datetime] = utcnow, poll: float = POLL_SECONDS):
        self.settings = settings
        self.log = log or logging.getLogger("newsletter.scheduler")
        self.clock = clock
        self.poll = poll
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.stop = threading.Event()
        self.engine = connect(settings)
        self.schedule = Schedule(self.engine)
        self._jobs: dict[int, dt.datetime] = {}  # row id → the due time its APScheduler job has
        self._active: set[int] = set()  # rows this process is sending
        self._mutex = threading.Lock()
        self._aps = None

    # --- the process ------------------------------------------------------------------------

    def run(self) -> None:
        from apscheduler.events import EVENT_JOB_MISSED
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        logging.getLogger("apscheduler").setLevel(logging.ERROR)  # our own lines say what happens
        self._aps = BackgroundScheduler(
            timezone=UTC,
            # sends in one pool, the table's reading in its own: a long send never delays a sync
            executors={"default": ThreadPoolExecutor(PARALLEL_SENDS), "sync": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": max(1, int(self.settings.schedule_grace))},
        )
        self._aps.add_listener(self._missed, EVENT_JOB_MISSED)
        self._aps.start()
        self.log.info("scheduler %s started: grace %s s, lease %s s", self.owner,
                      f"{self.settings.schedule_grace:g}", f"{self.settings.scheduler_lease:g}")
        try:
            self._aps.add_job(self.sync, "interval", seconds=self.poll, id="sync", executor="sync",
                              next_run_time=dt.datetime.now(UTC), misfire_grace_time=None)
            self.stop.wait()
            self.log.info("stopping: no new send starts; sends in progress finish their batches in flight")
            self._aps.remove_all_jobs()
        finally:
            self._aps.shutdown(wait=True)
            self.engine.dispose()
        self.log.info("scheduler %s stopped", self.owner)

    def sync(self) -> None:
        """Bring the in-memory jobs in step with the table, and take over orphaned sends."""
        if self.stop.is_set():
            return
        try:
            self._sync()
        except Exception as exc:  # the database may be away for a moment: try again next time
            self.log.error("cannot read the schedule: %s", NewsletterError(str(exc)).lines()[0][:300])

    def _sync(self) -> None:
        waiting = {row.id: row for row in self.schedule.waiting()}
        for row_id in [r for r in self._jobs if r not in waiting]:
            self._jobs.pop(row_id)
            job = self._aps.get_job(f"send-{row_id}")
            if job is not None:
                job.remove()
        for row in waiting.values():
            if self._jobs.get(row.id) != row.due_at:
                known = row.id in self._jobs
                self._jobs[row.id] = row.due_at
                self._aps.add_job(self.fire, "date", run_date=row.due_at, id=f"send-{row.id}", args=[row.id],
                                  replace_existing=True)
                self.log.info("%s: %s at %s", "moved" if known else "waiting", row.issue_id,
                              shown(row.due_at, self.settings.timezone))
        for row in self.schedule.orphaned(self.clock()):
            with self._mutex:
                if row.id in self._active:
                    continue
            taken = self.schedule.take_over(row.id, self.owner, self.settings.scheduler_lease, self.clock())
            if taken is not None:
                was = "stopped gracefully" if row.state == "interrupted" else f"lease of {row.claimed_by} ran out"
                self.log.info("claimed: %s (taken over: %s); resuming through the ledger", row.issue_id, was)
                self._aps.add_job(self._send, args=[taken])

    # --- jobs -------------------------------------------------------------------------------

    def fire(self, row_id: int) -> None:
        """A date job's time came: claim the row (one scheduler wins) and send it."""
        if self.stop.is_set():
            return
        row = self.schedule.claim(row_id, self.owner, self.settings.scheduler_lease, self.clock())
        if row is None:
            return  # another scheduler claimed it, or it was moved or cancelled meanwhile
        self.log.info("due: %s (%s); claimed by %s", row.issue_id, shown(row.due_at, self.settings.timezone),
                      self.owner)
        self._send(row)

    def _missed(self, event) -> None:
        """APScheduler found a job later than the grace: the send is missed, and said so."""
        row_id = int(event.job_id.removeprefix("send-"))
        row = self.schedule.get(row_id)
        if row is None:
            return
        now = self.clock()
        reason = (f"due {shown(row.due_at, self.settings.timezone)}, but no scheduler ran until "
                  f"{shown(now, self.settings.timezone)}: later than schedule_grace "
                  f"({self.settings.schedule_grace:g} s); send it with 'newsletter send --now' if it should still go")
        if self.schedule.miss(row_id, reason, now):
            self.log.warning("missed: %s: %s", row.issue_id, reason)
            self._next(row)

    def _send(self, row: ScheduledRow) -> None:
        with self._mutex:
            if row.id in self._active:
                return
            self._active.add(row.id)
        done = threading.Event()
        holder = threading.Thread(target=self._hold, args=(row, done), name=f"lease-{row.id}", daemon=True)
        holder.start()
        try:
            outcome = run_claimed(row, self.settings, self.schedule, self.stop, self.log)
        except Exception as exc:  # a bug: the ledger is safe; say so and leave the row to be looked at
            self.log.exception("failed: %s: unexpected %s", row.issue_id, type(exc).__name__)
            outcome = Outcome("failed", f"unexpected {type(exc).__name__}: {exc}")
        finally:
            done.set()
            holder.join()
            with self._mutex:
                self._active.discard(row.id)
        if outcome.state == "busy":
            self.schedule.release(row.id, self.owner, self.clock())
            self.log.info("busy: %s: %s; left to the process that holds it", row.issue_id, outcome.reason)
            return
        self.schedule.finish(row.id, outcome.state, outcome.reason, self.clock())
        level = logging.INFO if outcome.state in ("sent", "skipped", "interrupted") else logging.ERROR
        self.log.log(level, "%s: %s: %s", "done" if outcome.state == "sent" else outcome.state, row.issue_id,
                     outcome.reason)
        if outcome.state != "interrupted":
            self._next(row)

    def _hold(self, row: ScheduledRow, done: threading.Event) -> None:
        """Renew the lease while the send runs (a third of the lease between renewals)."""
        lease = self.settings.scheduler_lease
        while not done.wait(lease / 3):
            try:
                if not self.schedule.renew(row.id, self.owner, lease, self.clock()):
                    self.log.warning("lease: %s is no longer running here", row.issue_id)
            except Exception as exc:  # the database is away: the send lock still guards the ledger
                self.log.warning("lease: cannot renew %s: %s", row.issue_id, str(exc)[:200])

    def _next(self, row: ScheduledRow) -> None:
        """After an occurrence of a recurring issue, schedule the next one (once, whoever adds it)."""
        if not row.repeat:
            return
        try:
            issue = load_issue(find_issue(row.issue, self.settings), self.settings)
        except NewsletterError as exc:
            self.log.error("next: %s: cannot read the issue, no next occurrence: %s", row.issue, exc.lines()[0])
            return
        if not issue.repeat:
            self.log.info("next: %s no longer repeats", row.issue)
            return
        zone = self.settings.timezone
        due = next_occurrence(issue.repeat, zone, max(row.due_at, self.clock()))
        next_id = occurrence_id(issue.id, issue.repeat, zone, due)
        if self.schedule.add_occurrence(next_id, row.issue, due, zone, issue.repeat):
            self.log.info("next: %s at %s", next_id, shown(due, zone))
