"""The bounded queue events wait in until the broker acknowledged them.

Events are the one kind of message that cannot be re-derived after an outage (states can:
they are re-published in full on reconnect), so they are kept here, in order, until the
broker's PUBACK arrives. The bound keeps memory finite during a long outage; what does not
fit is counted (``dropped``) and shown in the host state instead of vanishing silently.

The sender takes events one by one (:meth:`OfflineQueue.take`) into the publish window; they
stay queued, in flight, until acknowledged (:meth:`OfflineQueue.ack`). In-flight events are
always the front of the queue, so a cursor (how many are in flight) is all the bookkeeping;
after a reconnect :meth:`OfflineQueue.rewind` sends them all again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field

log = logging.getLogger("gemhost.mqtt.queue")


class EventDropped(Exception):
    """Set on the ``delivered`` future of an event the full offline queue had to drop."""


@dataclass
class Outgoing:
    topic: str
    payload: bytes
    delivered: asyncio.Future[None] | None = field(default=None, repr=False)

    def resolve(self) -> None:
        if self.delivered is not None and not self.delivered.done():
            self.delivered.set_result(None)

    def fail(self, exc: BaseException) -> None:
        fut = self.delivered
        if fut is not None and not fut.done():
            fut.set_exception(exc)
            # Drivers rarely await delivery; mark the exception retrieved so asyncio does
            # not log "exception was never retrieved" for every dropped event.
            fut.add_done_callback(lambda f: f.exception())


class OfflineQueue:
    """FIFO with a hard bound. When full, the OLDEST event is dropped: after an outage the
    most recent events are the ones an operator still cares about."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("queue size must be at least 1")
        self.maxsize = maxsize
        self._items: deque[Outgoing] = deque()
        self._sent = 0
        """How many items at the front are in flight (taken, not yet acknowledged)."""
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: Outgoing) -> None:
        if len(self._items) >= self.maxsize:
            old = self._items.popleft()
            if self._sent:
                self._sent -= 1  # it was in flight: its late PUBACK will find it gone
            self.dropped += 1
            old.fail(EventDropped(f"offline queue full ({self.maxsize}); event on {old.topic} dropped"))
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("offline queue full (%d): %d events dropped so far", self.maxsize, self.dropped)
        self._items.append(item)

    def peek(self, n: int) -> list[Outgoing]:
        """The first ``n`` items, left in place until :meth:`ack` removes them."""
        return [self._items[i] for i in range(min(n, len(self._items)))]

    @property
    def in_flight(self) -> int:
        return self._sent

    def take(self) -> Outgoing | None:
        """The oldest item not yet in flight (now in flight), or None."""
        if self._sent >= len(self._items):
            return None
        item = self._items[self._sent]
        self._sent += 1
        return item

    def rewind(self) -> None:
        """Nothing is in flight any more (the connection was lost): send all again."""
        self._sent = 0

    def ack(self, item: Outgoing, error: BaseException | None = None) -> None:
        """Remove an item the broker acknowledged (it may already be gone if it was dropped
        while in flight) and resolve its future; with ``error``, an item that can never be
        sent (its future fails with it)."""
        if self._items and self._items[0] is item:
            self._items.popleft()
            if self._sent:
                self._sent -= 1
        else:  # acknowledged out of order: it is among the in-flight front, or was dropped
            index = next((i for i in range(min(self._sent, len(self._items))) if self._items[i] is item), -1)
            if index >= 0:
                del self._items[index]
                self._sent -= 1
        if error is None:
            item.resolve()
        else:
            item.fail(error)

    def fail_all(self, exc: BaseException) -> None:
        """On final shutdown: nothing will send these any more."""
        while self._items:
            self._items.popleft().fail(exc)
        self._sent = 0
