"""Times of scheduled sends: zones, daylight-saving changes, cron occurrences and their ids.

Everything is stored in UTC beside the zone it was given in. What a person in that zone expects,
on the two days a year when the wall clock jumps:

- a time that does not exist (02:30 on a spring-forward night) runs once, as if the clock had not
  jumped yet: 02:30 EST = 03:30 EDT, the moment 02:30 would have been;
- a time that happens twice (01:30 on a fall-back night) runs once, at the first 01:30 (``fold=0``).

A recurring issue follows a cron expression in the publication's zone; its occurrences are computed
one after the other on the wall clock, so one is never repeated for the same wall-clock time
(APScheduler's ``CronTrigger`` in the zone itself yields a fall-back 01:30 twice).
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.timezone.utc


def parse_send_at(text: str, default_zone: str) -> dt.datetime:
    """ISO 8601 with an offset, or followed by a zone name; plain times use the publication's zone."""
    original = text = text.strip()
    zone_name = None
    if " " in text and re.search(r"[A-Za-z]$", text):
        text, zone_name = text.rsplit(" ", 1)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f'"{original}" is not an ISO 8601 date and time: write it with an offset, '
                         'like 2026-11-26T08:00:00-05:00, or with a zone name, like "2026-11-26 08:00 America/New_York"'
                         ) from None
    if zone_name:
        if when.tzinfo is not None:
            raise ValueError("give an offset or a zone name, not both")
        try:
            when = when.replace(tzinfo=ZoneInfo(zone_name))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f'unknown time zone "{zone_name}"') from None
    elif when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(default_zone))
    return when


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'unknown time zone "{name}"') from None


def _trigger(expression: str, zone_name: str):
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger.from_crontab(expression, timezone=zone(zone_name))


def cron_problem(expression: str, zone_name: str) -> str | None:
    """Why a cron expression is unusable, or None."""
    try:
        _trigger(expression, zone_name)
    except ValueError as exc:
        return f'"{expression}" is not a cron expression like "0 8 * * MON" ({exc})'
    return None


def next_occurrence(expression: str, zone_name: str, after: dt.datetime) -> dt.datetime:
    """The first occurrence strictly after ``after``, in UTC.

    The expression is evaluated on the wall clock (a trigger in UTC, which never jumps), and each
    wall-clock time is then placed in the zone with ``fold=0``: a skipped time runs as if the clock
    had not jumped, a repeated one at its first pass, and no wall-clock time is taken twice.
    """
    wall = _trigger(expression, "UTC")
    local_zone = zone(zone_name)
    cursor = after.astimezone(local_zone).replace(tzinfo=UTC)
    for _ in range(1000):  # a valid expression finds its next time in a step or two
        cursor = wall.get_next_fire_time(None, cursor + dt.timedelta(microseconds=1))
        if cursor is None:
            break
        moment = cursor.replace(tzinfo=local_zone).astimezone(UTC)
        if moment > after:
            return moment
    raise ValueError(f'"{expression}" has no time after {after.isoformat()}')


def occurrence_id(issue_id: str, expression: str, zone_name: str, due: dt.datetime) -> str:
    """``weekly-2026-48`` for an issue at most weekly, ``daily-2026-11-30`` at most daily, else with
    the time: one id per occurrence, readable and stable."""
    local = due.astimezone(zone(zone_name))
    gap = _shortest_gap(expression, zone_name, due)
    if gap >= dt.timedelta(days=6):
        iso = local.isocalendar()
        return f"{issue_id}-{iso.year}-{iso.week:02d}"
    if gap >= dt.timedelta(hours=23):
        return f"{issue_id}-{local:%Y-%m-%d}"
    return f"{issue_id}-{local:%Y-%m-%d-%H%M}"


def _shortest_gap(expression: str, zone_name: str, start: dt.datetime) -> dt.timedelta:
    times = [start]
    for _ in range(8):
        times.append(next_occurrence(expression, zone_name, times[-1]))
    return min(b - a for a, b in zip(times, times[1:]))


def to_utc(when: dt.datetime) -> dt.datetime:
    """An aware time in UTC; a resolved local time keeps fold=0 semantics (see the module)."""
    return when.astimezone(UTC)


def zone_label(when: dt.datetime) -> str:
    """The zone a time was written in: its name, or its offset."""
    tz = when.tzinfo
    if isinstance(tz, ZoneInfo):
        return tz.key
    offset = when.utcoffset() or dt.timedelta(0)
    if not offset:
        return "UTC"
    sign = "+" if offset >= dt.timedelta(0) else "-"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def shown(when: dt.datetime, zone_name: str) -> str:
    """``2026-11-26 08:00 EST (America/New_York) = 13:00 UTC``-style text for people."""
    utc = when.astimezone(UTC)
    local = utc.astimezone(zone(zone_name))  # via UTC: a time that does not exist is shown as it runs
    day = "" if utc.date() == local.date() else f"{utc:%Y-%m-%d} "
    return f"{local:%Y-%m-%d %H:%M %Z} ({zone_name}) = {day}{utc:%H:%M} UTC"
