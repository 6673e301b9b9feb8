"""The in-flight limit: grows while throughput rises, steps back when it does not, halves when the
provider pushes back, never passes its cap. Driven with a made-up clock and a made-up provider
whose throughput is in-flight × 1000 / latency up to a ceiling: invariants, not timings."""

from __future__ import annotations

import pytest

from newsletter.config import load_settings
from newsletter.errors import InputError
from newsletter.send.pace import Pace


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def drive(pace: Pace, clock: Clock, batches: int, latency: float, ceiling: float) -> list[int]:
    """Finish batches of 1000 at the rate the provider allows with ``pace.limit`` in flight."""
    limits = []
    for _ in range(batches):
        rate = min(pace.limit * 1000 / latency, ceiling)
        clock.now += 1000 / rate
        pace.finished(1000)
        limits.append(pace.limit)
        assert 1 <= pace.limit <= pace.cap
    return limits


def test_a_slow_provider_gets_enough_in_flight_up_to_the_cap():
    clock = Clock()
    pace = Pace(16, clock=clock)
    assert pace.limit == 2
    limits = drive(pace, clock, 300, latency=0.3, ceiling=1e9)
    assert max(limits) == 16 and limits[-1] == 16


def test_a_fast_provider_is_not_flooded():
    clock = Clock()
    pace = Pace(16, clock=clock)
    # Throughput stops rising at 3 in flight (say, the CPU): more would only add threads.
    limits = drive(pace, clock, 400, latency=0.3, ceiling=10_000)
    assert limits[-1] <= 5


def test_push_back_halves_and_the_cap_holds():
    clock = Clock()
    pace = Pace(6, clock=clock)
    drive(pace, clock, 200, latency=0.3, ceiling=1e9)
    assert pace.limit == 6
    pace.slow_down()
    assert pace.limit == 3
    pace.slow_down(), pace.slow_down(), pace.slow_down()
    assert pace.limit == 1
    drive(pace, clock, 400, latency=0.3, ceiling=1e9)
    assert pace.limit == 6  # grows back once the holds are over, one step at a time
    assert Pace(1).limit == 1 and Pace(0).cap == 1


def test_max_in_flight_is_a_setting_checked_with_its_line(tmp_path):
    config = tmp_path / "newsletter.toml"
    config.write_text('name = "x"\nmax_in_flight = 4\n')
    assert load_settings(config, env={}).max_in_flight == 4
    for value, reason in (("0", "expected a whole number ≥ 1"), ("65", "65 is not a number of requests from 1 to 64"),
                          ('"8"', "expected a whole number ≥ 1")):
        config.write_text(f'name = "x"\nmax_in_flight = {value}\n')
        with pytest.raises(InputError) as err:
            load_settings(config, env={})
        assert f"newsletter.toml:2: max_in_flight: {reason}" in str(err.value)
