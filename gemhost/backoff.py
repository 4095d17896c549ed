"""Exponential back-off with jitter, for every reconnect loop in the host and the drivers.

Jitter matters here: after a power cut, dozens of cameras (or hosts) come back at once,
and without it every client retries in lock-step.
"""

from __future__ import annotations

import random


class Backoff:
    """Delays of ``initial * factor**n`` seconds, capped at ``maximum``, +/- ``jitter``."""

    def __init__(self, initial: float = 1.0, maximum: float = 60.0, factor: float = 2.0,
                 jitter: float = 0.2) -> None:
        self.initial = initial
        self.maximum = max(maximum, initial)
        self.factor = factor
        self.jitter = jitter
        self.attempts = 0

    def next(self) -> float:
        """The delay before the next attempt; grows with every call until :meth:`reset`."""
        base = min(self.maximum, self.initial * self.factor ** self.attempts)
        self.attempts += 1
        spread = base * self.jitter
        return max(0.0, base + random.uniform(-spread, spread))

    def reset(self) -> None:
        self.attempts = 0
