"""The host's internal event bus: device state, zone state and events, fanned out to sinks.

Subscribers are plain synchronous callbacks that must not block (the MQTT bridge puts what it
gets into its own bounded queue). Keeping the bus synchronous means a slow sink can never
stall a driver, and ordering is exactly publication order for every subscriber.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gemhost.model import DeviceState, Event

log = logging.getLogger("gemhost.bus")


@dataclass
class DeviceStateChanged:
    device: str
    state: DeviceState


@dataclass
class ZoneStateChanged:
    device: str
    zone: str
    state: dict[str, Any]


@dataclass
class EventRaised:
    """An event from a device. ``delivered`` resolves once every durable sink accepted it."""

    device: str
    event: Event
    delivered: asyncio.Future[None] = field(repr=False)


@dataclass
class SnapshotTaken:
    """A zone's latest still image (the result of a snapshot command), for sinks that show
    it (Home Assistant's image entity reads the zone's retained snapshot topic)."""

    device: str
    zone: str
    content_type: str
    base64: str = field(repr=False)


@dataclass
class SiteApplied:
    """A site (re)load took effect; lists what disappeared so sinks can clear retained data."""

    devices: list[str]
    removed_devices: list[str]
    removed_zones: list[tuple[str, str]]


Message = DeviceStateChanged | ZoneStateChanged | EventRaised | SnapshotTaken | SiteApplied
Subscriber = Callable[[Message], None]


class Bus:
    """Synchronous fan-out with delivery tracking for events.

    A subscriber may name the message types it takes (``kinds``): each message then reaches
    only those that take it, through a route per message type worked out once (an event
    passed through five subscribers' type checks before, four of them for nothing)."""

    def __init__(self) -> None:
        self._subscribers: list[tuple[Subscriber, tuple[type, ...] | None]] = []
        self._routes: dict[type, tuple[Subscriber, ...]] = {}
        self._durable = 0

    def subscribe(self, callback: Subscriber, *, durable: bool = False,
                  kinds: tuple[type, ...] | None = None) -> Callable[[], None]:
        """Add a subscriber of the messages of ``kinds`` (all messages when None); ``durable``
        sinks must resolve each event's ``delivered`` future. Returns a function that
        unsubscribes."""
        entry = (callback, kinds)
        self._subscribers.append(entry)
        self._routes.clear()
        if durable:
            self._durable += 1

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers.remove(entry)
                self._routes.clear()
                if durable:
                    self._durable -= 1

        return unsubscribe

    @property
    def has_durable_sink(self) -> bool:
        return self._durable > 0

    def _route(self, kind: type) -> tuple[Subscriber, ...]:
        route = tuple(callback for callback, kinds in self._subscribers
                      if kinds is None or issubclass(kind, kinds))
        self._routes[kind] = route
        return route

    def publish(self, message: Message) -> None:
        route = self._routes.get(type(message))
        if route is None:
            route = self._route(type(message))
        for callback in route:  # a tuple: a subscriber leaving meanwhile changes nothing here
            try:
                callback(message)
            except Exception:  # a broken sink must not take the device down
                log.exception("bus subscriber %r failed", callback)

    def publish_event(self, device: str, event: Event) -> asyncio.Future[None]:
        """Publish an event and return the future that says it reached the durable sinks."""
        delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self.has_durable_sink:
            delivered.set_result(None)
        self.publish(EventRaised(device, event, delivered))
        return delivered
