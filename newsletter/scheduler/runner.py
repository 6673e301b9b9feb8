"""One scheduled send, from its claim to its verdict.

The issue is loaded, rendered and checked again at send time (it may have changed since it was
scheduled); a failing check refuses the send and says why. A recurring occurrence takes the newest
articles earlier occurrences did not carry, and is skipped when there is none; the articles it
takes are pinned before anything is sent, so a resumed occurrence sends what it began with. The
send itself is the ordinary resumable one (``send.send_rendered``): the ledger keeps it exactly once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..errors import NewsletterError
from ..feeds import refresh_sources
from ..issue import Occurrence, find_issue, load_issue
from ..send import SendBusy, SendInterrupted, SendOptions, SendStopped, render_checked, send_rendered
from ..store.schedule import Schedule, ScheduledRow

#: Seconds between progress lines in the log.
PROGRESS_EVERY = 5.0


@dataclass(frozen=True)
class Outcome:
    """``sent`` | ``failed`` | ``refused`` | ``skipped`` | ``interrupted`` (resumes later) |
    ``busy`` (another process holds the issue's send: nothing was done)."""

    state: str
    reason: str


def issue_name(path: Path, settings: Settings) -> str:
    """How a scheduled row names its issue file: the stem when it lives in ``issues/``."""
    resolved = path.resolve()
    if resolved.parent == settings.issues_dir.resolve() and resolved.suffix == ".yaml":
        return resolved.stem
    return str(resolved)


def run_claimed(row: ScheduledRow, settings: Settings, schedule: Schedule, stop: threading.Event,
                log: logging.Logger) -> Outcome:
    """Render, check and send a claimed row; never raises for what the row's verdict can say."""
    try:
        path = find_issue(row.issue, settings)
        occurrence = None
        if row.repeat:
            if row.articles is None:  # a new occurrence: the feeds' newest entries are candidates too
                for report in refresh_sources(settings, log.warning):
                    log.info("fetched: %s", report.summary())
            pinned = tuple(row.articles) if row.articles is not None else None
            occurrence = Occurrence(id=row.issue_id, exclude=frozenset(schedule.carried(row.issue, but=row.id)),
                                    pinned=pinned)
        issue = load_issue(path, settings, occurrence=occurrence)
        if issue.uses_latest and not issue.new_articles:
            return Outcome("skipped", "no new article since the last occurrence")
        if issue.id != row.issue_id:
            return Outcome("refused", f"the issue's id is now {issue.id!r}: schedule it again")
        rendered = render_checked(issue, settings)
    except NewsletterError as exc:
        return Outcome("refused", "; ".join(exc.lines()))
    if row.repeat and row.articles is None:
        schedule.pin(row.id, issue.new_articles or [a.slug for a in issue.articles])

    options = SendOptions(max_attempts=settings.max_attempts, pause_after=settings.pause_after)
    ticker = _Ticker(row.issue_id, log)
    try:
        summary = send_rendered(rendered, settings, options, progress=ticker, stop=stop, started=ticker.started)
    except SendInterrupted as exc:
        s = exc.summary
        return Outcome("interrupted", f"stopped after {s.sent} sent in this run; resumes at the next start")
    except SendBusy as exc:
        return Outcome("busy", str(exc))
    except SendStopped as exc:
        return Outcome("failed", "; ".join(exc.lines()))
    except NewsletterError as exc:  # a setup problem found when the provider starts
        return Outcome("failed", "; ".join(exc.lines()))
    counts = summary.counts
    parts = [f"{counts.get(s, 0)} {s.replace('_', ' ')}" for s in ("sent", "failed", "in_doubt", "skipped")
             if counts.get(s)]
    return Outcome("sent", f"{', '.join(parts) or 'nobody in the audience'} "
                           f"({summary.sent} in this run, {summary.elapsed:.1f} s)")


class _Ticker:
    """The send's progress as log lines: when it starts, then every few seconds."""

    def __init__(self, issue_id: str, log: logging.Logger):
        self.issue_id = issue_id
        self.log = log
        self.last = time.monotonic()

    def started(self, summary, queued: int) -> None:
        doubt = f", {summary.in_doubt_found} left in doubt by an interrupted run" if summary.in_doubt_found else ""
        self.log.info("sending: %s to %d queued via %s%s", self.issue_id, queued, summary.provider, doubt)

    def __call__(self, p) -> None:
        if time.monotonic() - self.last >= PROGRESS_EVERY:
            self.last = time.monotonic()
            self.log.info("progress: %s: %d/%d done, %d sent, %d failed, %d skipped",
                          self.issue_id, p.done, p.total, p.sent, p.failed, p.skipped)
