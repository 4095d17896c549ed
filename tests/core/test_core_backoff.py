"""The one Backoff of the host and the drivers: growth, cap, reset and the three jitter modes."""

from __future__ import annotations

import pytest

from gemhost.backoff import Backoff, full_jitter, half_jitter, plus_minus


def schedule(initial: float, maximum: float, n: int, factor: float = 2.0) -> list[float]:
    """The un-jittered delays: initial, doubled each attempt, capped."""
    return [min(maximum, initial * factor ** i) for i in range(n)]


@pytest.mark.parametrize("fraction", [0.2, 0.5])
def test_plus_minus_spreads_around_the_schedule(fraction):
    backoff = Backoff(initial=0.5, maximum=60.0, jitter=fraction)
    for base in schedule(0.5, 60.0, 12):
        delay = backoff.next()
        assert base * (1 - fraction) <= delay <= base * (1 + fraction)
    assert backoff.attempts == 12


def test_plus_minus_is_the_default_and_a_float_means_plus_minus():
    default = Backoff(initial=10.0, maximum=10.0)
    explicit = Backoff(initial=10.0, maximum=10.0, jitter=plus_minus(0.2))
    for b in (default, explicit):
        delays = [b.next() for _ in range(200)]
        assert all(8.0 <= d <= 12.0 for d in delays)
        assert len(set(delays)) > 100  # jittered, not lock-step


def test_full_jitter_starts_at_initial_and_spreads_over_the_window():
    backoff = Backoff(initial=0.5, maximum=60.0, jitter=full_jitter)
    delays = [backoff.next() for _ in range(12)]
    assert delays[0] == 0.5  # the first retry is prompt
    for delay, base in zip(delays, schedule(0.5, 60.0, 12), strict=True):
        assert 0.5 <= delay <= base
    late = [backoff.next() for _ in range(200)]  # at the cap: anywhere in [initial, maximum]
    assert min(late) < 20 and max(late) > 40


def test_half_jitter_stays_between_half_and_all_of_the_schedule():
    backoff = Backoff(initial=1.0, maximum=60.0, jitter=half_jitter)
    for base in schedule(1.0, 60.0, 10):
        assert base / 2 <= backoff.next() <= base


def test_reset_starts_the_schedule_over():
    backoff = Backoff(initial=1.0, maximum=60.0, jitter=half_jitter)
    for _ in range(8):
        backoff.next()
    assert backoff.next() >= 30  # at the cap
    backoff.reset()
    assert backoff.attempts == 0 and backoff.next() <= 1.0


def test_a_device_down_for_weeks_does_not_overflow():
    """initial * 2 ** attempts raises OverflowError after ~1000 attempts; the delays stay capped."""
    backoff = Backoff(initial=1.0, maximum=60.0, jitter=0.2)
    delays = [backoff.next() for _ in range(5000)]
    assert all(0 <= d <= 72.0 for d in delays) and backoff.attempts == 5000


def test_maximum_below_initial_is_raised_to_initial():
    backoff = Backoff(initial=5.0, maximum=1.0, jitter=half_jitter)
    assert all(2.5 <= backoff.next() <= 5.0 for _ in range(20))


def test_fast_window_caps_the_schedule_until_it_is_over_and_again_after_reset():
    """The MQTT reconnect schedule: doubling from 0.5 s, but never above 2 s during the first
    30 s of an outage, so a restarted broker is found quickly; a long outage backs off fully."""
    now = [0.0]
    backoff = Backoff(initial=0.5, maximum=60.0, jitter=full_jitter, fast_window=30.0, fast_ceiling=2.0,
                      clock=lambda: now[0])
    early = [backoff.next() for _ in range(10)]
    assert all(0.5 <= d <= 2.0 for d in early) and backoff.ceiling == 2.0
    now[0] = 31.0
    backoff.next()
    assert backoff.ceiling == 60.0  # the schedule kept growing meanwhile
    backoff.reset()
    assert backoff.next() == 0.5 and backoff.ceiling == 0.5
    now[0] = 45.0  # 14 s after the reset: inside the window again
    assert all(backoff.next() <= 2.0 for _ in range(10))
