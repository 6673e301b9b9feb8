"""The workers' settings are checked like the others: one line naming the file, line and key."""

from __future__ import annotations

from ..conftest import run_cli
from ..scheduler.conftest import settings_text


def test_bad_worker_settings_are_one_line_each(publication):
    settings_text(publication, rate_limit=-5, worker_lease=0)
    result = run_cli("worker", cwd=publication)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert "newsletter.toml:1: rate_limit: -5.0 is not a number of messages per second of 0 (no limit) or more" in lines
    assert "newsletter.toml:2: worker_lease: 0.0 is not a number of seconds above 0" in lines


def test_in_flight_must_be_a_whole_number(publication):
    settings_text(publication, worker_in_flight=0)
    result = run_cli("worker", cwd=publication)
    assert result.returncode == 2
    assert "newsletter.toml:1: worker_in_flight: expected a whole number ≥ 1" in result.stderr
