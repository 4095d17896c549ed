"""The bridge's connection to the broker: reconnecting forever, one session at a time.

The broker can vanish at any time. This loop reconnects with exponential backoff and full
jitter (many hosts on one broker must not retry in step), held short for the first seconds of
an outage so a restarted broker is found at once (:class:`gemhost.backoff.Backoff`'s fast
window). Each connection is aiomqtt's ``async with Client(...)``; inside it one session:

1. subscribe to what the extensions want;
2. let every extension derive its retained topics again (a restarted broker without
   persistence has forgotten them: retained state is derived, never queued);
3. publish the host's ``online``;
4. run the reader (incoming messages to the extensions, each acknowledged only once taken
   on) and the outbox's sender together: if either fails, the session ends and the loop
   reconnects.

MQTT 5 is tried first; a broker that refuses it (or, like amqtt, never answers) gets 3.1.1,
and once a version worked it stays, so a hanging broker cannot downgrade a working setup.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from gemhost.backoff import Backoff, full_jitter
from gemhost.mqtt.broker import EmbeddedBroker
from gemhost.mqtt.client import BridgeClient
from gemhost.mqtt.connection import (
    IncomingQueue,
    acknowledge,
    connect_properties,
    manual_acks,
    parse_broker,
    tls_arguments,
)
from gemhost.mqtt.extension import BridgeContext, Extension

log = logging.getLogger("gemhost.mqtt")

ONLINE = b"online"
OFFLINE = b"offline"
BACKOFF_MIN = 0.5
BACKOFF_MAX = 60.0
FAST_RETRY_CEILING = 2.0
FAST_RETRY_WINDOW = 30.0
STABLE_SESSION = 3.0
"""A session that lasted this long was a good connection: the next outage backs off afresh.
Shorter ones (a broker that accepts and then drops us, a duplicate client id) keep growing."""
AUTH_REFUSED = (4, 5, 134, 135)  # CONNACK: bad credentials / not authorized (3.1.1 and 5)
PROBE_TIMEOUT = 3.0
OPERATION_TIMEOUT = 10.0
TASK_STOP_TIMEOUT = 2.0


class Session:
    """Owns the connection loop and the live client; the extensions do the rest."""

    def __init__(self, ctx: BridgeContext, extensions: Sequence[Extension], broker: EmbeddedBroker | None) -> None:
        self.ctx = ctx
        self.extensions = extensions
        self.broker = broker
        self.connected = asyncio.Event()
        self.first_attempt = asyncio.Event()
        self.connections = 0
        self.requests_dropped = 0
        """Messages dropped because the incoming backlog was full (see connection.IncomingQueue)."""
        self.reconnect_ceilings: deque[float] = deque(maxlen=64)
        """The schedule's value before each recent reconnect attempt (see Backoff.ceiling)."""
        self.stopping = False
        self._began: float | None = None

    @property
    def client(self) -> BridgeClient | None:
        return self.ctx.link.client

    @property
    def protocol(self) -> aiomqtt.ProtocolVersion | None:
        return self.ctx.link.protocol

    # ------------------------------------------------------------ the loop

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = Backoff(initial=BACKOFF_MIN, maximum=BACKOFF_MAX, jitter=full_jitter,
                          fast_window=FAST_RETRY_WINDOW, fast_ceiling=FAST_RETRY_CEILING)
        while not self.stopping:
            self._began = None
            try:
                await self._connect_once()
            except (aiomqtt.MqttError, OSError, ValueError) as exc:
                log.warning("MQTT connection to %s failed: %s", self.where(), exc)
            except Exception:  # a bug must not end the reconnect loop for good
                log.exception("MQTT connection loop error")
            finally:
                self.first_attempt.set()
            if self.stopping:
                return
            if self._began is not None and loop.time() - self._began >= STABLE_SESSION:
                backoff.reset()  # a good connection: start afresh
            delay = backoff.next()
            self.reconnect_ceilings.append(backoff.ceiling)
            log.info("reconnecting to MQTT in %.1f s", delay)
            await asyncio.sleep(delay)

    def where(self) -> str:
        """The broker, for log lines (never with credentials)."""
        if self.ctx.cfg.embedded:
            return f"embedded broker on port {self.broker.port if self.broker else '?'}"
        try:
            addr = parse_broker(self.ctx.cfg.broker)
            return f"{addr.host}:{addr.port}"
        except ValueError:
            return "broker"

    def _client_args(self) -> dict[str, Any]:
        cfg = self.ctx.cfg
        if cfg.embedded:
            assert self.broker is not None and self.broker.port is not None
            host, port, tls, user, password = self.broker.host, self.broker.port, {}, None, None
        else:
            addr = parse_broker(cfg.broker, cfg.username, cfg.password)
            host, port, user = addr.host, addr.port, addr.username
            password = addr.password.reveal() if addr.password else None  # the wire needs it here
            tls = tls_arguments(cfg, addr)
        return {
            "hostname": host, "port": port, "username": user, "password": password,
            "identifier": cfg.client_id or f"gemhost-{self.ctx.site_id}",
            "keepalive": cfg.keepalive,
            "timeout": OPERATION_TIMEOUT,
            "will": aiomqtt.Will(self.ctx.topics.host_status, OFFLINE, qos=1, retain=True),
            "queue_type": functools.partial(IncomingQueue, on_overflow=self._incoming_overflow),
            **tls,
        }

    def _protocols(self) -> list[aiomqtt.ProtocolVersion]:
        wanted = self.ctx.cfg.protocol
        if self.ctx.cfg.embedded:
            return [aiomqtt.ProtocolVersion.V311]  # amqtt speaks 3.1.1 only
        if wanted in ("5", "5.0"):
            return [aiomqtt.ProtocolVersion.V5]
        if wanted in ("3.1.1", "311", "4"):
            return [aiomqtt.ProtocolVersion.V311]
        if self.protocol is not None:
            # What worked stays: a broker that hangs does not answer an MQTT 5 CONNECT either,
            # and falling back then would silently downgrade to 3.1.1 (no response topics).
            return [self.protocol]
        return [aiomqtt.ProtocolVersion.V5, aiomqtt.ProtocolVersion.V311]

    async def _connect_once(self) -> None:
        protocols = self._protocols()
        last_error: aiomqtt.MqttError | None = None
        for index, proto in enumerate(protocols):
            probing = index < len(protocols) - 1
            args = self._client_args()
            if probing:
                # Some 3.1.1-only brokers (amqtt) never answer an MQTT 5 CONNECT instead of
                # refusing it, so the probe gets a short timeout of its own.
                args["timeout"] = PROBE_TIMEOUT
            client = BridgeClient(protocol=proto, properties=connect_properties(proto), **args)
            manual_acks(client)
            entered = False
            try:
                async with client:
                    entered = True
                    client.timeout = OPERATION_TIMEOUT
                    self.ctx.link.protocol = proto
                    await self._session(client)
            except MqttConnectError as exc:
                if entered or not probing or exc.rc in AUTH_REFUSED:
                    raise
                last_error = exc
                continue
            except aiomqtt.MqttError as exc:
                if entered or not probing:
                    raise
                last_error = exc
                continue
            return
        if last_error is not None:
            raise last_error

    # ------------------------------------------------------------ one session

    async def _session(self, client: BridgeClient) -> None:
        self.connections += 1
        self._began = asyncio.get_running_loop().time()
        log.info("connected to MQTT %s (MQTT %s)", self.where(), "5" if self.ctx.link.v5 else "3.1.1")
        self.ctx.link.client = client
        self.first_attempt.set()
        tasks: set[asyncio.Task[None]] = set()
        try:
            for extension in self.extensions:
                for topic, options in extension.subscriptions():
                    if options is None or not self.ctx.link.v5:
                        await client.subscribe(topic, qos=1)
                    else:  # paho takes the QoS from the options then
                        await client.subscribe(topic, options=options)
            self.ctx.outbox.forget_retained()
            for extension in self.extensions:
                extension.on_connect()
            await client.publish(self.ctx.topics.host_status, ONLINE, qos=1, retain=True)
            self.connected.set()
            tasks = {asyncio.create_task(self._reader(client), name="mqtt-reader"),
                     asyncio.create_task(self.ctx.outbox.run(client), name="mqtt-sender")}
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            raise aiomqtt.MqttError("session ended")
        finally:
            self.connected.clear()
            self.ctx.link.client = None
            for task in tasks:
                task.cancel()
            if tasks:
                # bounded: a task stuck past its cancellation must not block reconnects
                await asyncio.wait(tasks, timeout=TASK_STOP_TIMEOUT)

    async def _reader(self, client: BridgeClient) -> None:
        """Hands each message to the extensions, and acknowledges it only once one took it
        on (a request waits for a slot first), so a flood waits in the broker. A message that
        breaks its handling costs only itself: the session goes on."""
        async for message in client.messages:
            try:
                for extension in self.extensions:
                    if await extension.on_message(message):
                        break
            except Exception:
                log.exception("MQTT message on %s could not be handled", message.topic.value[:200])
            finally:
                acknowledge(client, message)

    def _incoming_overflow(self, message: aiomqtt.Message) -> None:
        """A message that does not fit the incoming backlog (a broker ignoring flow control,
        or QoS 0): an extension may answer it on the spot (a request gets ``busy``); anything
        else is dropped and counted. Either way it is acknowledged, so the broker's window
        never fills with messages gemhost will not take."""
        answered = False
        for extension in self.extensions:
            try:
                if extension.on_overflow(message):
                    answered = True
                    break
            except Exception:
                log.exception("overflowing MQTT message on %s could not be answered", message.topic.value[:200])
        if not answered:
            self.requests_dropped += 1
            if self.requests_dropped == 1 or self.requests_dropped % 1000 == 0:
                log.warning("incoming backlog full: %d messages dropped so far (last on %s)",
                            self.requests_dropped, message.topic.value[:200])
        client = self.client
        if client is not None:
            acknowledge(client, message)

    # ------------------------------------------------------------ goodbye

    async def say_goodbye(self, devices: list[str]) -> None:
        """Devices and host offline (retained), while still connected, so a clean stop does
        not leave the last will to say it."""
        client = self.client
        if client is None or not self.connected.is_set():
            return
        try:
            for device in devices:
                await client.publish(self.ctx.topics.availability(device), OFFLINE, qos=1, retain=True, timeout=5)
            await client.publish(self.ctx.topics.host_status, OFFLINE, qos=1, retain=True, timeout=5)
        except aiomqtt.MqttError as exc:
            log.warning("could not publish offline status on stop: %s", exc)
