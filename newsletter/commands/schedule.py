"""``newsletter schedule`` · ``unschedule`` · ``scheduled`` · ``scheduler``."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from dataclasses import asdict

from ..config import Settings
from ..errors import InputError, Problem
from ..issue import find_issue
from ..issue.times import next_occurrence, occurrence_id, parse_send_at, shown, zone_label
from ..scheduler import Scheduler, issue_name
from ..send import render_checked
from ..store.engine import connect
from ..store.models import utcnow
from ..store.schedule import Schedule, ScheduleConflict, ScheduledRow
from .signals import exit_code, graceful


def schedule(name: str, settings: Settings, at: str | None = None, now: dt.datetime | None = None) -> ScheduledRow:
    """Check the issue, then register (or move) its send; a recurring issue gets its next occurrence."""
    path = find_issue(name, settings)
    issue = render_checked(name, settings).issue
    ref = issue_name(path, settings)
    now = now or utcnow()
    engine = connect(settings)
    try:
        table = Schedule(engine)
        if issue.repeat:
            if at:
                raise InputError([Problem("--at", None, f'{issue.id} repeats ("{issue.repeat}"): its times come from repeat')])
            due = next_occurrence(issue.repeat, settings.timezone, now)
            occurrence = occurrence_id(issue.id, issue.repeat, settings.timezone, due)
            table.cancel([row.id for row in table.waiting(ref) if row.issue_id != occurrence])
            return _put(table, occurrence, ref, due, settings.timezone, issue.repeat)
        if at:
            try:
                when = parse_send_at(at, settings.timezone)
            except ValueError as exc:
                raise InputError([Problem("--at", None, str(exc))]) from None
        elif issue.send_at is not None:
            when = issue.send_at
        else:
            raise InputError.at(path, None, "no send_at: give one in the issue, or --at TIME")
        if when <= now:
            raise InputError([Problem(issue.id, None, f"{shown(when, settings.timezone)} is in the past; "
                                      "give a later --at, or send it now with 'newsletter send --now'")])
        return _put(table, issue.id, ref, when, zone_label(when), None)
    finally:
        engine.dispose()


def _put(table: Schedule, issue_id: str, ref: str, due: dt.datetime, zone: str, repeat: str | None) -> ScheduledRow:
    try:
        return table.put(issue_id, ref, due, zone, repeat)
    except ScheduleConflict as exc:
        state = exc.row.state
        hint = ("it is being sent now" if state == "running" else
                "it was interrupted and resumes when a scheduler runs" if state == "interrupted" else
                "its send has ended; 'newsletter send' sends to subscribers added since")
        raise InputError([Problem(issue_id, None, f"cannot schedule: {hint} ({state})")]) from None


def unschedule(name: str, settings: Settings) -> list[ScheduledRow]:
    """Cancel the waiting send of an issue (or the next occurrence of a recurring one)."""
    path = find_issue(name, settings)
    ref = issue_name(path, settings)
    engine = connect(settings)
    try:
        table = Schedule(engine)
        rows = table.waiting(ref)
        table.cancel([row.id for row in rows])
        return rows
    finally:
        engine.dispose()


def scheduled(settings: Settings) -> list[dict]:
    """Every scheduled send with its state and times, soonest first."""
    engine = connect(settings)
    try:
        rows = Schedule(engine).all()
    finally:
        engine.dispose()
    result = []
    for row in rows:
        data = asdict(row)
        for key in ("due_at", "lease_until", "started_at", "finished_at"):
            data[key] = data[key].isoformat() if data[key] else None
        data["due"] = shown(row.due_at, settings.timezone)
        result.append(data)
    return result


def run_scheduler(settings: Settings) -> int:
    """The long-running job, in the foreground, one log line per step; returns the exit code."""
    log = logging.getLogger("newsletter.scheduler")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    scheduler = Scheduler(settings, log=log)

    def first(signum: int) -> None:
        log.info("signal %d: stopping gracefully (a second one stops at once)", signum)

    with graceful(scheduler.stop, on_first=first) as received:
        scheduler.run()
    return exit_code(received["signal"]) if "signal" in received else 0


__all__ = ["run_scheduler", "schedule", "scheduled", "unschedule"]
