"""Exponential back-off with jitter, for every reconnect loop in the host and the drivers.

Jitter matters here: after a power cut, dozens of cameras (or hosts) come back at once,
and without it every client retries in lock-step. The loops need different spreads, so the
spread is a strategy (``jitter``), while the growth, the cap and the reset are shared:

- ``plus_minus(f)`` (a plain float means this): the delay is ``base`` +/- ``f * base``.
  One device's liveness or event stream; the default ±20 %, ISAPI and HikCentral use ±50 %.
- :func:`full_jitter`: anywhere between ``initial`` and ``base`` (AWS's "full jitter", with a
  floor). Many hosts reconnecting to one broker spread over the whole window.
- :func:`half_jitter`: between 50 % and 100 % of ``base`` ("equal jitter"): never retries
  much sooner than the schedule says, for a cloud API that rate-limits (Hik-Partner Pro).

A fast window (``fast_window`` seconds after the start or the last :meth:`Backoff.reset`,
during which the schedule is capped at ``fast_ceiling``) suits the MQTT connection: a broker
restarted for an upgrade is found within about two seconds of being back, and only a long
outage backs off to the maximum.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

Jitter = Callable[[float, float], float]
"""``jitter(base, initial) -> delay``: spreads one scheduled delay."""


def plus_minus(fraction: float) -> Jitter:
    """``base`` +/- ``fraction * base``."""

    def spread(base: float, initial: float) -> float:
        return base + random.uniform(-base * fraction, base * fraction)

    return spread


def full_jitter(base: float, initial: float) -> float:
    """Uniform between ``initial`` and ``base``: the first delay is exactly ``initial``."""
    return random.uniform(initial, base)


def half_jitter(base: float, initial: float) -> float:
    """Uniform between half of ``base`` and ``base``."""
    return base * random.uniform(0.5, 1.0)


class Backoff:
    """Delays growing from ``initial`` by ``factor`` per attempt up to ``maximum`` seconds,
    each spread by ``jitter`` (a float is ``plus_minus(jitter)``); :meth:`reset` after a
    good connection starts over. Within ``fast_window`` seconds of the start or the last
    reset, the schedule is capped at ``fast_ceiling`` (see the module docstring)."""

    def __init__(self, initial: float = 1.0, maximum: float = 60.0, factor: float = 2.0,
                 jitter: float | Jitter = 0.2, *, fast_window: float = 0.0, fast_ceiling: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.initial = initial
        self.maximum = max(maximum, initial)
        self.factor = factor
        self.jitter: Jitter = plus_minus(jitter) if isinstance(jitter, int | float) else jitter
        self.fast_window = fast_window
        self.fast_ceiling = max(initial, fast_ceiling) if fast_ceiling is not None else None
        self._clock = clock
        self.attempts = 0
        self.ceiling = initial
        """The schedule's value (before jitter) behind the last delay :meth:`next` chose."""
        self._base = initial
        self._since = clock()

    def next(self) -> float:
        """The delay before the next attempt; grows with every call until :meth:`reset`."""
        base = self._base
        # grown step by step and capped, so a device that is down for weeks cannot overflow
        # a float (initial * factor ** attempts does after about a thousand attempts)
        self._base = min(self.maximum, base * self.factor)
        self.attempts += 1
        if self.fast_ceiling is not None and self._clock() - self._since < self.fast_window:
            base = min(base, self.fast_ceiling)
        self.ceiling = base
        return max(0.0, self.jitter(base, self.initial))

    def reset(self) -> None:
        self.attempts = 0
        self._base = self.initial
        self._since = self._clock()
