"""The MQTT bridge: the host's public API (availability, state, events, commands, discovery).

It only puts the pieces together: the connection (:mod:`gemhost.mqtt.session`), the outgoing
messages (:mod:`gemhost.mqtt.outbox`) and the extensions that each do one job
(:mod:`gemhost.mqtt.extension`). The contract they keep is docs/mqtt.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

import aiomqtt

from gemhost.contain import cancel_and_wait
from gemhost.mqtt.broker import EmbeddedBroker
from gemhost.mqtt.client import BridgeClient
from gemhost.mqtt.ext_discovery import DiscoveryExtension
from gemhost.mqtt.ext_events import EventsExtension
from gemhost.mqtt.ext_requests import RequestsExtension
from gemhost.mqtt.ext_state import StateExtension
from gemhost.mqtt.extension import BridgeContext, Extension
from gemhost.mqtt.hostview import HostView
from gemhost.mqtt.outbox import Outbox
from gemhost.mqtt.queue import OfflineQueue
from gemhost.mqtt.session import Session
from gemhost.mqtt.topics import Topics

log = logging.getLogger("gemhost.mqtt")

STOP_DRAIN_SECONDS = 2.0
"""How long a stopping bridge waits for queued events to be acknowledged."""
STOP_TIMEOUT = 5.0
FIRST_ATTEMPT_WAIT = 30.0


class MqttBridge:
    """Publishes the host's state and events and serves commands over MQTT."""

    def __init__(self, host: HostView) -> None:
        self.host = host
        cfg = host.site.mqtt
        topics = Topics((cfg.base_topic or f"gem/{host.site.id}").rstrip("/"), cfg.discovery_prefix)
        self.ctx = BridgeContext(host=host, cfg=cfg, topics=topics, outbox=Outbox(cfg.queue_size))
        self.broker: EmbeddedBroker | None = None
        self.state = StateExtension(self.ctx, figures=lambda: {"requests_dropped": self.session.requests_dropped})
        self.ha = DiscoveryExtension(self.ctx, on_republish=self.state.retain_availability)
        self.requests = RequestsExtension(self.ctx, router=self.ha.route_action)
        # Bus order matters: discovery before state (see ext_discovery), events durable.
        self.extensions: list[Extension] = [self.ha, self.state, EventsExtension(self.ctx), self.requests]
        self.session = Session(self.ctx, self.extensions, None)
        self._unsubscribe: list[Callable[[], None]] = []
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the embedded broker if configured, subscribe the extensions to the bus and
        make the first connection attempt; later attempts continue in the background."""
        cfg = self.ctx.cfg
        if cfg.embedded:
            self.broker = self.session.broker = EmbeddedBroker(cfg.embedded_host, cfg.embedded_port)
            await self.broker.start()
        self._unsubscribe = [self.host.bus.subscribe(ext.on_bus, durable=ext.durable, kinds=ext.bus_messages)
                            for ext in self.extensions if ext.bus_messages]
        self._tasks = [asyncio.create_task(self.session.run(), name="mqtt-connection")]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.session.first_attempt.wait(), FIRST_ATTEMPT_WAIT)

    async def stop(self) -> None:
        """Say goodbye (devices and host offline, retained), then disconnect cleanly so the
        broker does not fire the last will on top."""
        self.session.stopping = True
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        await self.requests.stop()
        # the ends of open conditions (ended_by: stop) were queued by the devices' stop:
        # give them a bounded moment to reach the broker before saying goodbye
        await self.ctx.outbox.drain(STOP_DRAIN_SECONDS, self.session.connected)
        await self.session.say_goodbye(list(self.host.runners))
        for extension in self.extensions:
            if extension is not self.requests:
                await extension.stop()
        # re-cancelled and bounded: a cancellation swallowed by a racing wait_for inside
        # aiomqtt must not keep the host from stopping
        await cancel_and_wait(self._tasks, STOP_TIMEOUT)
        self.ctx.outbox.fail_all()
        if self.broker is not None:
            await self.broker.stop()

    def stats(self) -> dict[str, int]:
        queue = self.ctx.outbox.queue
        return {"queue_depth": len(queue), "dropped": queue.dropped}

    # ------------------------------------------------------------ what tests and diagnostics read

    @property
    def topics(self) -> Topics:
        return self.ctx.topics

    @property
    def queue(self) -> OfflineQueue:
        return self.ctx.outbox.queue

    @property
    def connected(self) -> asyncio.Event:
        return self.session.connected

    @property
    def connections(self) -> int:
        return self.session.connections

    @property
    def protocol(self) -> aiomqtt.ProtocolVersion | None:
        return self.ctx.link.protocol

    @property
    def client(self) -> BridgeClient | None:
        return self.ctx.link.client

    @property
    def reconnect_ceilings(self) -> deque[float]:
        return self.session.reconnect_ceilings

    @property
    def requests_dropped(self) -> int:
        return self.session.requests_dropped

    @property
    def busy_replies(self) -> int:
        return self.requests.busy_replies

    @property
    def discovery_republished(self) -> int:
        return self.ha.republished

    def where(self) -> str:
        return self.session.where()
