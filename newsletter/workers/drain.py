"""``newsletter send ISSUE --workers``: plan the ledger here, let the send workers drain it.

The issue is checked, rendered and planned exactly as ``send`` does (:func:`send_rendered`, whose
claim → send → record loop is replaced by :func:`_drain`): the send lock is held throughout, so no
plain ``send`` of the issue runs meanwhile. Before planning, the mailing is put on hold
(``planning``) and the batches live workers still have in flight for it are awaited: planning
turns every row left ``sending`` into ``in_doubt``, which must only catch rows of dead workers.

Then the mailing is ``sending``; workers on any machine claim its rows. This process shows
progress from the workers' totals, reaps dead workers (their rows become ``in_doubt``), and ends
when nothing of the issue is queued or sending, with the same report and exit codes as ``send``.
SIGTERM or Ctrl-C: the mailing is stopped (workers claim nothing more of it), the batches in
flight are awaited, exit 143 or 130; ``send --workers`` again continues.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..config import Settings
from ..send.loop import (
    Progress,
    SendInterrupted,
    SendOptions,
    SendStopped,
    SendSummary,
    _refuse_if_not_due,
    render_checked,
    send_rendered,
)
from ..store.ledger import Ledger, SendLock
from ..store.workers import Fleet
from .worker import digest, fleet_engine

POLL = 0.25


def send_with_workers(issue_name: str, settings: Settings, options: SendOptions,
                      progress: Callable[[Progress], None] | None = None,
                      stop: threading.Event | None = None, log: Callable[[str], None] | None = None) -> SendSummary:
    stop = stop or threading.Event()
    log = log or (lambda line: None)
    engine = fleet_engine(settings, "send --workers")  # refuses SQLite before anything else
    try:
        if options.dry_run:
            return send_rendered(render_checked(issue_name, settings), settings, options)
        rendered = render_checked(issue_name, settings)
        _refuse_if_not_due(rendered.issue, settings, options.respect_send_at)
        issue_id = rendered.issue.id
        fleet = Fleet(engine, settings.worker_lease)
        # A second 'send --workers' of the issue would put the first one's mailing on hold.
        guard = SendLock(engine, f"workers:{issue_id}")
        if not guard.acquire():
            from ..send.loop import SendBusy

            raise SendBusy(f"a 'send --workers' of {issue_id} is already running")
        try:
            fleet.hold(issue_id, _reference(rendered, settings), digest(rendered))
            _await_in_flight(fleet, issue_id, log)

            def drain(ledger: Ledger, summary: SendSummary, total: int, begun: float, progress_, stop_) -> None:
                _drain(fleet, ledger, summary, total, begun, progress_, stop_, log)

            try:
                return send_rendered(rendered, settings, options, progress=progress, stop=stop, drain=drain)
            except BaseException as exc:  # before the drain began (busy, an audience problem): not on hold
                fleet.unhold(issue_id, f"'send --workers' stopped before it began: {exc}")
                raise
        finally:
            guard.release()
    finally:
        engine.dispose()


def _reference(rendered, settings: Settings) -> str:
    """How a worker finds the issue file: its path relative to the publication when it is inside."""
    path = rendered.issue.path.resolve()
    try:
        return str(path.relative_to(settings.root.resolve()))
    except ValueError:
        return str(path)


def _await_in_flight(fleet: Fleet, issue_id: str, log) -> None:
    """Wait until no live worker holds rows of the issue ``sending`` (an earlier mailing's batches)."""
    told = False
    while True:
        fleet.reap()
        held = fleet.in_flight(issue_id)
        if not held:
            return
        if not told:
            log(f"{issue_id}: waiting for {held} deliveries in flight at the workers to be recorded")
            told = True
        time.sleep(POLL)


def _drain(fleet: Fleet, ledger: Ledger, summary: SendSummary, total: int, begun: float, progress,
           stop: threading.Event, log) -> None:
    issue_id = ledger.issue_id
    fleet.start(issue_id)
    log(f"{issue_id}: {total} deliveries queued for the send workers")
    next_reap = 0.0
    lonely = False
    while True:
        now = time.monotonic()
        if now >= next_reap:
            fleet.reap()
            next_reap = now + max(POLL, fleet.lease / 2)
            workers = [w for w in fleet.live() if w["alive"]]
            if not workers and not lonely:
                log(f"{issue_id}: no send worker is running: start 'newsletter worker' on a machine sharing this database")
            lonely = not workers
        mailing = fleet.mailing(issue_id) or {}
        _take_totals(summary, mailing)
        if progress:
            finished = summary.sent + summary.failed + summary.skipped + summary.in_doubt
            progress(Progress(finished, max(total, finished), summary.sent, summary.failed, summary.skipped,
                              time.monotonic() - begun))
        if mailing.get("state") == "stopped":
            raise SendStopped(f"{mailing.get('reason') or 'stopped'}; the rest stays queued, run "
                              f"'newsletter send {issue_id} --workers' again to continue")
        if not fleet.unfinished(issue_id):
            fleet.finish(issue_id)
            _take_totals(summary, fleet.mailing(issue_id) or {})
            return
        if stop.wait(POLL):
            break
    # Stopped by a signal: workers claim nothing more of it; what they have in flight is recorded.
    fleet.stop(issue_id, "interrupted ('send --workers' was stopped)")
    _await_in_flight(fleet, issue_id, lambda line: None)
    _take_totals(summary, fleet.mailing(issue_id) or {})
    raise SendInterrupted(f"stopped: {summary.sent} sent by the workers in this run, the batches in flight were "
                          "finished and recorded; the rest stays queued", summary)


def _take_totals(summary: SendSummary, mailing: dict) -> None:
    summary.sent = mailing.get("sent", 0)
    summary.failed = mailing.get("failed", 0)
    summary.skipped = mailing.get("skipped", 0)
    summary.in_doubt = mailing.get("in_doubt", 0)
    summary.provider_calls = mailing.get("calls", 0)
