"""Turns Hikvision's repeated ``active`` alerts into one start and one end per condition.

While a condition lasts a Hikvision device repeats the same ``active`` alert about once a
second and frequently never sends ``inactive``. Publishing each repeat would flood MQTT, and
waiting for an ``inactive`` would leave zones on forever, so: the first ``active`` of a
condition is published, repeats only push its end further out, and ``inactive`` is
published ``quiet_time`` seconds after the last repeat (or at once when the device does
send ``inactive``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from gemhost.model import Event, now


@dataclass
class _Open:
    event: Event
    timer: asyncio.TimerHandle | None = None
    repeats: int = 0


class Debouncer:
    """Per-condition start/repeat/quiet-end state. ``publish`` gets each Event to emit and
    ``zone_state`` (zone id, normalized type, on) whenever a zone's condition flips."""

    def __init__(self, quiet_time: float, publish: Callable[[Event], Any],
                 zone_state: Callable[[str, str, bool], Any] | None = None) -> None:
        self.quiet_time = quiet_time
        self.publish = publish
        self.zone_state = zone_state
        self._open: dict[tuple, _Open] = {}

    @property
    def active_keys(self) -> list[tuple]:
        return list(self._open)

    def active(self, key: tuple, event: Event) -> bool:
        """A device said ``active``; returns True when this started a new condition."""
        entry = self._open.get(key)
        started = entry is None
        if started:
            entry = _Open(event=event)
            self._open[key] = entry
            self.publish(event)
            self._zone(event, True)
        else:
            entry.repeats += 1
        if entry.timer is not None:
            entry.timer.cancel()
        entry.timer = asyncio.get_running_loop().call_later(self.quiet_time, self._expire, key)
        return started

    def inactive(self, key: tuple, time: dt.datetime | None = None) -> bool:
        """A device said ``inactive``: end the condition now (False if none was open)."""
        return self._end(key, time or now(), "device")

    def _expire(self, key: tuple) -> None:
        self._end(key, now(), "quiet_time")

    def _end(self, key: tuple, time: dt.datetime, reason: str) -> bool:
        entry = self._open.pop(key, None)
        if entry is None:
            return False
        if entry.timer is not None:
            entry.timer.cancel()
        data = {**entry.event.data, "ended_by": reason, "repeats": entry.repeats}
        ended = replace(entry.event, state="inactive", time=time, data=data, id=None)
        self.publish(ended)
        self._zone(ended, False)
        return True

    def _zone(self, event: Event, on: bool) -> None:
        if self.zone_state is not None and event.zone is not None:
            still_on = on or any(o.event.zone == event.zone and o.event.type == event.type
                                 for o in self._open.values())
            self.zone_state(event.zone, event.type, still_on)

    def close(self) -> None:
        """Forget every open condition without publishing (the device is going away)."""
        for entry in self._open.values():
            if entry.timer is not None:
                entry.timer.cancel()
        self._open.clear()
