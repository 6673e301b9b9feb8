"""Times of scheduled sends: zones, the two daylight-saving days, cron occurrences and their ids."""

from __future__ import annotations

import datetime as dt

import pytest

from newsletter.issue.times import cron_problem, next_occurrence, occurrence_id, parse_send_at, shown, zone_label

UTC = dt.timezone.utc
NY = "America/New_York"


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_a_time_that_does_not_exist_runs_once_as_if_the_clock_had_not_jumped():
    # 2027-03-14: New York springs forward at 02:00 → 03:00; 02:30 EST is 07:30 UTC = 03:30 EDT.
    when = parse_send_at(f"2027-03-14 02:30 {NY}", "UTC")
    assert when.astimezone(UTC) == utc(2027, 3, 14, 7, 30)
    assert shown(when, NY) == "2027-03-14 03:30 EDT (America/New_York) = 07:30 UTC"


def test_a_time_that_happens_twice_runs_at_its_first_pass():
    # 2027-11-07: New York falls back at 02:00 → 01:00; the first 01:30 is EDT (05:30 UTC).
    when = parse_send_at(f"2027-11-07 01:30 {NY}", "UTC")
    assert when.astimezone(UTC) == utc(2027, 11, 7, 5, 30)


def test_a_daily_cron_across_spring_forward_runs_once_each_day():
    times, moment = [], utc(2027, 3, 12, 12)
    for _ in range(4):
        moment = next_occurrence("30 2 * * *", NY, moment)
        times.append(moment)
    assert times == [utc(2027, 3, 13, 7, 30), utc(2027, 3, 14, 7, 30), utc(2027, 3, 15, 6, 30), utc(2027, 3, 16, 6, 30)]


def test_a_daily_cron_across_fall_back_runs_once_that_night():
    times, moment = [], utc(2027, 11, 5, 12)
    for _ in range(4):
        moment = next_occurrence("30 1 * * *", NY, moment)
        times.append(moment)
    # APScheduler's CronTrigger in the zone itself gives 2027-11-07 01:30 twice (EDT, then EST).
    assert times == [utc(2027, 11, 6, 5, 30), utc(2027, 11, 7, 5, 30), utc(2027, 11, 8, 6, 30), utc(2027, 11, 9, 6, 30)]
    assert len({occurrence_id("daily", "30 1 * * *", NY, t) for t in times}) == 4


def test_started_during_the_repeated_hour_the_second_pass_is_not_taken():
    # 06:00 UTC on 2027-11-07 is 01:00 EST, after the first 01:30 (EDT) already passed.
    assert next_occurrence("30 1 * * *", NY, utc(2027, 11, 7, 6, 0)) == utc(2027, 11, 8, 6, 30)


@pytest.mark.parametrize("expression,due,expected", [
    ("0 8 * * MON", utc(2026, 11, 30, 13), "weekly-2026-49"),
    ("0 8 * * *", utc(2026, 11, 30, 13), "weekly-2026-11-30"),
    ("*/30 * * * *", utc(2026, 11, 30, 13), "weekly-2026-11-30-0800"),
])
def test_occurrence_ids_name_the_week_the_day_or_the_time(expression, due, expected):
    assert occurrence_id("weekly", expression, NY, due) == expected


def test_zone_labels_and_bad_expressions():
    assert zone_label(parse_send_at("2026-11-26T08:00:00-05:00", "UTC")) == "UTC-05:00"
    assert zone_label(parse_send_at("2026-11-26 08:00 Europe/Paris", "UTC")) == "Europe/Paris"
    assert zone_label(parse_send_at("2026-11-26 08:00", NY)) == NY
    assert "not a cron expression" in cron_problem("0 8 * * FUNDAY", NY)
    assert cron_problem("0 8 * * MON", NY) is None
