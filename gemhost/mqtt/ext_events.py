"""Events: each one queued until the broker acknowledged it (see :mod:`gemhost.mqtt.outbox`).

The only durable sink on the bus: an event's ``delivered`` future resolves when its QoS 1
PUBACK arrives, fails when the bounded queue had to drop it, and waits across outages.
"""

from __future__ import annotations

from gemhost import bus as busmod
from gemhost.mqtt.extension import Extension
from gemhost.mqtt.outbox import to_json
from gemhost.mqtt.queue import Outgoing


class EventsExtension(Extension):
    bus_messages = (busmod.EventRaised,)
    durable = True

    def on_bus(self, message: busmod.Message) -> None:
        if isinstance(message, busmod.EventRaised):
            event = message.event
            self.ctx.outbox.put_event(Outgoing(self.ctx.topics.event(message.device, event.zone),
                                               to_json(event.as_dict(message.device)), message.delivered))
