"""Event lifetime: when a condition starts and ends, decided once in the core for every driver.

Drivers report what the device said (``Event.state``: active, inactive, pulse, update); this
module turns those reports into exactly one published ``active`` and one ``inactive`` per
condition, by the kind the driver's schema declares for the event type:

- ``stateful``: the device sends the start and the end; repeats of an open condition are silent.
- ``repeating``: the device repeats ``active`` while the condition lasts (Hikvision's
  alertStream) and rarely says it ended; ``quiet_time`` without a repeat ends it.
- ``pulse``: instantaneous (a card swipe, HikCentral status 0, a cloud alarm message); each
  pulse is its own condition, ended ``pulse_hold`` later so the zone's flag can be seen.

Conditions also end when the device goes offline, is reloaded or stopped (:meth:`end_all`),
so nothing stays on across an outage or a restart. An ``update`` (a late picture, a linkage
result) is published with the ``event_id`` of the condition it belongs to and changes nothing.

The zone's ``active`` map is derived here too: a type is active while any of its conditions
on that zone is open. The runner owns publishing; this class owns only the rules.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gemhost.model import Event, now

ENDED_BY_DEVICE = "device"
ENDED_BY_QUIET_TIME = "quiet_time"
ENDED_BY_PULSE = "pulse"
ENDED_BY_OFFLINE = "offline"
ENDED_BY_RELOAD = "reload"
ENDED_BY_STOP = "stop"

RECENT_IDS = 1024
"""Vendor ids remembered after their condition ended, so a late update still finds its event."""

Publish = Callable[[Event], "asyncio.Future[None]"]
"""Publishes one event; the future says it reached the durable sinks. Ends are not awaited,
so a future that fails must come already retrieved (``gemhost.mqtt.queue.Outgoing.fail``
marks it), or asyncio would log each one."""
ZoneFlag = Callable[[str, str, bool], None]


@dataclass
class _Condition:
    started: Event
    """The published ``active`` event (carries the condition's event_id and kind)."""
    timer: asyncio.TimerHandle | None = None
    repeats: int = 0


_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)


def new_event_id() -> str:
    """Unique across devices and restarts: consumers correlate active, update and inactive by
    it. 32 hex digits like a UUID: 64 random bits drawn once per process, then a counter (a
    uuid4 per event is a system call for 16 random bytes, a visible cost at 1,000 events/s)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


class EventLifetime:
    """The open conditions of one device and the rules that end them."""

    def __init__(self, kind_of: Callable[[str], str], publish: Publish, zone_flag: ZoneFlag,
                 *, quiet_time: float, pulse_hold: float) -> None:
        self.kind_of = kind_of
        self.publish = publish
        self.zone_flag = zone_flag
        self.quiet_time = quiet_time
        self.pulse_hold = pulse_hold
        self._open: dict[tuple, _Condition] = {}
        self._by_vendor_id: OrderedDict[str, Event] = OrderedDict()
        self._pulses = 0

    @property
    def open_count(self) -> int:
        return len(self._open)

    def is_active(self, zone: str, event_type: str) -> bool:
        return any(c.started.zone == zone and c.started.type == event_type for c in self._open.values())

    # ------------------------------------------------------------ reports

    def report(self, event: Event) -> asyncio.Future[None]:
        """Apply one device report; returns the delivery future of what it published (a done
        future when it published nothing, e.g. a repeat)."""
        if event.state == "update":
            return self._update(event)
        kind = self.kind_of(event.type)
        if event.state == "pulse" or (event.state == "active" and kind == "pulse"):
            return self._pulse(event)
        if event.state == "inactive":
            return self._device_end(event)
        return self._active(event, kind)

    def _active(self, event: Event, kind: str) -> asyncio.Future[None]:
        key = _key(event)
        condition = self._open.get(key)
        if condition is not None:
            condition.repeats += 1
            if kind == "repeating":
                self._arm(key, condition, self.quiet_time, ENDED_BY_QUIET_TIME)
            return _done()
        condition = _Condition(started=event.evolve(state="active", event_id=new_event_id(), kind=kind))
        self._open[key] = condition
        if kind == "repeating":
            self._arm(key, condition, self.quiet_time, ENDED_BY_QUIET_TIME)
        return self._start(condition)

    def _pulse(self, event: Event) -> asyncio.Future[None]:
        self._pulses += 1
        key = (*_key(event), ("pulse", self._pulses))
        condition = _Condition(started=event.evolve(state="active", event_id=new_event_id(), kind="pulse"))
        self._open[key] = condition
        self._arm(key, condition, self.pulse_hold, ENDED_BY_PULSE)
        return self._start(condition)

    def _start(self, condition: _Condition) -> asyncio.Future[None]:
        started = condition.started
        if started.id is not None:
            self._remember(started)
        delivered = self.publish(started)
        self._flag(started.zone, started.type)
        return delivered

    def _device_end(self, event: Event) -> asyncio.Future[None]:
        """An end with a key ends that condition; without one (a line-crossing ``inactive``
        carries no region), every open condition of the zone, channel and type. Returns the
        delivery of those ends: a driver that commits after the broker's ack (HPP) must not
        commit a restore before it is on the broker."""
        if event.key is not None:
            keys = [_key(event)] if _key(event) in self._open else []
        else:
            prefix = _key(event)[:3]
            keys = [k for k in self._open if k[:3] == prefix]
        ends = [self._end(key, ENDED_BY_DEVICE, event) for key in keys]
        if not ends:
            return _done()
        if len(ends) == 1:
            return ends[0]
        return asyncio.ensure_future(_all_delivered(ends))

    def _update(self, event: Event) -> asyncio.Future[None]:
        target = self._by_vendor_id.get(event.refers_to) if event.refers_to is not None else None
        if target is None and event.refers_to is None:
            target = next((c.started for c in reversed(self._open.values())
                           if c.started.zone == event.zone and c.started.type == event.type), None)
        published = event.evolve(
            state="update",
            event_id=target.event_id if target else None,
            kind=target.kind if target else None,
            zone=event.zone if event.zone is not None or target is None else target.zone,
            channel=event.channel if event.channel is not None or target is None else target.channel)
        return self.publish(published)

    # ------------------------------------------------------------ ends

    def end_all(self, reason: str, zone: str | None = None) -> int:
        """End every open condition (of one zone, when given): offline, reload, stop."""
        keys = [k for k, c in self._open.items() if zone is None or c.started.zone == zone]
        for key in keys:
            self._end(key, reason, None)
        return len(keys)

    def close(self) -> None:
        """Cancel timers without publishing (the publisher is already gone)."""
        for condition in self._open.values():
            if condition.timer is not None:
                condition.timer.cancel()
        self._open.clear()

    def _arm(self, key: tuple, condition: _Condition, delay: float, reason: str) -> None:
        if condition.timer is not None:
            condition.timer.cancel()
        condition.timer = asyncio.get_running_loop().call_later(delay, self._end, key, reason, None)

    def _end(self, key: tuple, reason: str, by: Event | None) -> asyncio.Future[None]:
        condition = self._open.pop(key, None)
        if condition is None:
            return _done()
        if condition.timer is not None:
            condition.timer.cancel()
        started = condition.started
        data: dict[str, Any] = {**started.data, **(by.data if by is not None else {})}
        ended = started.evolve(state="inactive", time=by.time if by is not None else now(), data=data,
                        ended_by=reason, repeats=condition.repeats,
                        vendor_type=by.vendor_type if by is not None else started.vendor_type,
                        id=by.id if by is not None and by.id is not None else started.id)
        delivered = self.publish(ended)
        self._flag(started.zone, started.type)
        return delivered

    # ------------------------------------------------------------ helpers

    def _flag(self, zone: str | None, event_type: str) -> None:
        if zone is not None:
            self.zone_flag(zone, event_type, self.is_active(zone, event_type))

    def _remember(self, started: Event) -> None:
        assert started.id is not None
        self._by_vendor_id[started.id] = started
        self._by_vendor_id.move_to_end(started.id)
        while len(self._by_vendor_id) > RECENT_IDS:
            self._by_vendor_id.popitem(last=False)


def _key(event: Event) -> tuple:
    return (event.zone, event.channel, event.type, _hashable(event.key))


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def _done() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


async def _all_delivered(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        await future
