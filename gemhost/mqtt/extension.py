"""The bridge's extensions: each one job, each subscribing to the host's bus.

Modelled on Zigbee2MQTT's ``lib/extension/*``: the bridge itself only owns the connection
(:mod:`gemhost.mqtt.session`) and the outgoing messages (:mod:`gemhost.mqtt.outbox`); what is
published, when, and what incoming messages mean is decided by small extensions:

* :mod:`gemhost.mqtt.ext_state`: availability and retained device, zone, host and snapshot state;
* :mod:`gemhost.mqtt.ext_events`: events, queued until the broker acknowledged them;
* :mod:`gemhost.mqtt.ext_requests`: command requests and their one reply each;
* :mod:`gemhost.mqtt.ext_discovery`: Home Assistant discovery and the ``action`` router.

An extension gets a :class:`BridgeContext` (the typed host interface, the site's ``mqtt``
block, the topic scheme, the outbox and the live connection) and overrides the hooks it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiomqtt
from paho.mqtt.subscribeoptions import SubscribeOptions

from gemhost import bus as busmod
from gemhost.mqtt.outbox import Outbox
from gemhost.mqtt.topics import Topics
from gemhost.site import MqttConfig

if TYPE_CHECKING:
    from gemhost.mqtt.client import BridgeClient
    from gemhost.mqtt.hostview import HostView


@dataclass
class Link:
    """The live connection as the extensions see it (set by the session)."""

    client: BridgeClient | None = None
    protocol: aiomqtt.ProtocolVersion | None = None

    @property
    def v5(self) -> bool:
        return self.protocol == aiomqtt.ProtocolVersion.V5


@dataclass
class BridgeContext:
    host: HostView
    cfg: MqttConfig
    topics: Topics
    outbox: Outbox
    link: Link = field(default_factory=Link)

    @property
    def site_id(self) -> str:
        return self.host.site.id


Subscription = tuple[str, SubscribeOptions | None]
"""A topic filter and, under MQTT 5, its subscribe options (None: plain QoS 1)."""


class Extension:
    """One job of the bridge. Hooks are synchronous unless awaited by the session, and none
    may block: the bus calls :meth:`on_bus` from inside a driver's report."""

    durable = False
    """True for a sink that must resolve each event's ``delivered`` future."""
    bus_messages: tuple[type, ...] = ()
    """The bus message types :meth:`on_bus` takes; no others reach it."""

    def __init__(self, ctx: BridgeContext) -> None:
        self.ctx = ctx

    def subscriptions(self) -> list[Subscription]:
        """Topic filters this extension wants, subscribed on every connect."""
        return []

    def on_bus(self, message: busmod.Message) -> None:
        """A message of the host's bus, one of the types in :attr:`bus_messages`."""

    def on_connect(self) -> None:
        """A (re)connect: the broker may have lost every retained topic; derive them again."""

    async def on_message(self, message: aiomqtt.Message) -> bool:
        """An incoming message; True when this extension took it."""
        return False

    def on_overflow(self, message: aiomqtt.Message) -> bool:
        """An incoming message that did not fit the backlog; True when this extension
        answered it (see :class:`gemhost.mqtt.connection.IncomingQueue`)."""
        return False

    def stats(self) -> dict[str, int]:
        """Figures for ``host/state``."""
        return {}

    async def stop(self) -> None:
        """The bridge stops: end what this extension runs."""
