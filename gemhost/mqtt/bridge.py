"""The MQTT bridge: the host's public API (availability, state, events, commands, discovery).

Design, in the order things can go wrong:

* The broker can vanish at any time. The bridge owns one connection loop that reconnects
  forever with exponential backoff and jitter; on every connect it re-subscribes and
  re-publishes *all* retained topics from the host's current view (a restarted broker
  without persistence has forgotten them), so retained state is derived, never queued.
* Events cannot be re-derived, so they go through a bounded :class:`OfflineQueue` and leave
  it only when the broker acknowledged the QoS 1 publish; each event's ``delivered`` future
  resolves exactly then.
* Bus callbacks are synchronous and must not block, so they only mark retained topics dirty
  or enqueue events and wake the sender task.
* Commands are handled as independent tasks (see :mod:`gemhost.mqtt.commands`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import math
import random
from collections import OrderedDict, deque
from typing import Any

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from gemhost import bus as busmod
from gemhost.contain import cancel_and_wait
from gemhost.errors import BAD_REQUEST, BUSY, CommandError
from gemhost.mqtt import discovery
from gemhost.mqtt.broker import EmbeddedBroker
from gemhost.mqtt.commands import MAX_IN_FLIGHT, CommandRunner, reply_payload, request_id
from gemhost.mqtt.connection import (
    IncomingQueue,
    acknowledge,
    connect_properties,
    manual_acks,
    parse_broker,
    publish_now,
    tls_arguments,
)
from gemhost.mqtt.queue import EventDropped, OfflineQueue, Outgoing
from gemhost.mqtt.topics import HOST, Topics
from gemhost.statedir import device_state_dir

STOP_DRAIN_SECONDS = 2.0
"""How long a stopping bridge waits for queued events to be acknowledged."""

log = logging.getLogger("gemhost.mqtt")

ONLINE = b"online"
OFFLINE = b"offline"
CLEAR = b""
PUBLISH_WINDOW = 32
"""Events in flight at once: enough to hide the round trip, small enough that a broken
connection re-sends little (delivery is at-least-once)."""
HOST_STATE_INTERVAL = 60.0
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
STOP_TIMEOUT = 5.0
OUTGOING_WINDOW = 256
"""QoS 1 publishes awaiting their PUBACK at once (paho queues the rest); the broker may lower it."""
HA_QUIET = 1.0
"""Seconds without another ``online`` on Home Assistant's status topic before re-publishing."""
HA_MAX_DELAY = 10.0
"""...but never later than this after the first one of a burst."""


def _json(data: Any) -> bytes:
    return json.dumps(data, default=str, separators=(",", ":"), sort_keys=False).encode()


def backoff_ceiling(attempt: int, outage: float, low: float = BACKOFF_MIN, high: float = BACKOFF_MAX) -> float:
    """The longest wait before reconnect attempt ``attempt`` (0 = the first) of an outage that
    has lasted ``outage`` seconds: doubling from ``low``, but held at FAST_RETRY_CEILING for
    the first FAST_RETRY_WINDOW seconds, so a restarted broker is found within about two
    seconds of being back, and only a long outage backs off to ``high``."""
    ceiling = min(high, low * (2 ** min(attempt, 16)))
    if outage < FAST_RETRY_WINDOW:
        ceiling = min(ceiling, FAST_RETRY_CEILING)
    return ceiling


def backoff_delay(attempt: int, outage: float = math.inf, low: float = BACKOFF_MIN) -> float:
    """Full jitter up to :func:`backoff_ceiling`: spreads many hosts reconnecting to one broker."""
    return random.uniform(low, max(low, backoff_ceiling(attempt, outage)))


class MqttBridge:
    """Publishes the host's state and events and serves commands over MQTT."""

    def __init__(self, host: Any) -> None:
        self.host = host
        site = host.site
        self.cfg = site.mqtt
        self.site_id: str = site.id
        base = getattr(self.cfg, "base_topic", None) or f"gem/{site.id}"
        self.topics = Topics(base.rstrip("/"), getattr(self.cfg, "discovery_prefix", None) or "homeassistant")
        self.queue = OfflineQueue(int(getattr(self.cfg, "queue_size", 10000) or 10000))
        self.max_payload = int(getattr(self.cfg, "max_payload", 65536) or 65536)
        self.discovery_on = bool(getattr(self.cfg, "discovery", False))
        self.response_topics: tuple[str, ...] = tuple(getattr(self.cfg, "response_topics", ()) or ())
        self.commands = CommandRunner(host, max_payload=self.max_payload, on_result=self._command_result,
                                      router=self._route_action)
        self.broker: EmbeddedBroker | None = None
        self.protocol: aiomqtt.ProtocolVersion | None = None
        self.connected = asyncio.Event()
        self.connections = 0
        self.requests_dropped = 0
        """Messages dropped because the incoming backlog was full (see connection.IncomingQueue)."""
        self.busy_replies = 0
        """Requests answered ``busy`` on arrival because the incoming backlog was full."""
        self.refused_response_topics = 0
        self.discovery_republished = 0
        self._session_began: float | None = None
        self.reconnect_ceilings: deque[float] = deque(maxlen=64)
        """The longest wait chosen before each recent reconnect attempt (see backoff_ceiling)."""
        self._ha_task: asyncio.Task[None] | None = None
        self._ha_quiet_until = 0.0
        self._client: aiomqtt.Client | None = None
        self._dirty: OrderedDict[str, bytes] = OrderedDict()
        self._wake = asyncio.Event()
        self._stopping = False
        self._first_attempt = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._unsubscribe: Any = None
        self._zones_published: dict[str, set[str]] = {}
        site_path = getattr(host, "site_path", None)
        self.discovery = discovery.Discovery(
            topics=self.topics, site_id=self.site_id, version=str(getattr(host, "version", "")),
            state_dir=(lambda device: device_state_dir(site_path, device)) if site_path else None)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the embedded broker if configured, subscribe to the bus and make the first
        connection attempt; later attempts continue in the background."""
        if self.cfg.broker == "embedded":
            self.broker = EmbeddedBroker(getattr(self.cfg, "embedded_host", "127.0.0.1") or "127.0.0.1",
                                         int(getattr(self.cfg, "embedded_port", 1883)))
            await self.broker.start()
        self._unsubscribe = self.host.bus.subscribe(self._on_bus, durable=True)
        self._tasks = [asyncio.create_task(self._connection_loop(), name="mqtt-connection"),
                       asyncio.create_task(self._host_state_loop(), name="mqtt-host-state")]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_attempt.wait(), 30)

    async def stop(self) -> None:
        """Say goodbye (devices and host offline, retained), then disconnect cleanly so the
        broker does not fire the last will on top."""
        self._stopping = True
        if self._unsubscribe:
            self._unsubscribe()
        await self.commands.cancel_all()
        client = self._client
        if client is not None and self.connected.is_set():
            # the ends of open conditions (ended_by: stop) were queued by the devices' stop:
            # give them a bounded moment to reach the broker before saying goodbye
            deadline = asyncio.get_running_loop().time() + STOP_DRAIN_SECONDS
            while len(self.queue) and self.connected.is_set() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.02)
            try:
                for device in self._device_ids():
                    await client.publish(self.topics.availability(device), OFFLINE, qos=1, retain=True,
                                         timeout=5)
                await client.publish(self.topics.host_status, OFFLINE, qos=1, retain=True, timeout=5)
            except aiomqtt.MqttError as exc:
                log.warning("could not publish offline status on stop: %s", exc)
        # re-cancelled and bounded: a cancellation swallowed by a racing wait_for inside
        # aiomqtt must not keep the host from stopping
        await cancel_and_wait([*self._tasks, *([self._ha_task] if self._ha_task else [])], STOP_TIMEOUT)
        self.queue.fail_all(EventDropped("MQTT bridge stopped before the event was delivered"))
        if self.broker is not None:
            await self.broker.stop()

    def stats(self) -> dict[str, int]:
        return {"queue_depth": len(self.queue), "dropped": self.queue.dropped}

    # ------------------------------------------------------------------ connection

    def _client_args(self) -> dict[str, Any]:
        if self.cfg.broker == "embedded":
            assert self.broker is not None and self.broker.port is not None
            host, port, tls, user, password = self.broker.host, self.broker.port, {}, None, None
        else:
            addr = parse_broker(self.cfg.broker, getattr(self.cfg, "username", None),
                                getattr(self.cfg, "password", None))
            host, port, user = addr.host, addr.port, addr.username
            password = addr.password.reveal() if addr.password else None  # the wire needs it here
            tls = tls_arguments(self.cfg, addr)
        return {
            "hostname": host, "port": port, "username": user, "password": password,
            "identifier": getattr(self.cfg, "client_id", None) or f"gemhost-{self.site_id}",
            "keepalive": int(getattr(self.cfg, "keepalive", 30) or 30),
            "timeout": OPERATION_TIMEOUT,
            "will": aiomqtt.Will(self.topics.host_status, OFFLINE, qos=1, retain=True),
            "queue_type": functools.partial(IncomingQueue, on_overflow=self._incoming_overflow),
            "max_inflight_messages": OUTGOING_WINDOW,
            **tls,
        }

    def _protocols(self) -> list[aiomqtt.ProtocolVersion]:
        wanted = str(getattr(self.cfg, "protocol", "auto") or "auto")
        if self.cfg.broker == "embedded":
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

    async def _connection_loop(self) -> None:
        loop = asyncio.get_running_loop()
        attempt = 0
        outage_since = loop.time()
        while not self._stopping:
            self._session_began = None
            try:
                await self._connect_once()
            except aiomqtt.MqttError as exc:
                log.warning("MQTT connection to %s failed: %s", self._where(), exc)
            except (OSError, ValueError) as exc:
                log.warning("MQTT connection to %s failed: %s", self._where(), exc)
            except Exception:  # a bug must not end the reconnect loop for good
                log.exception("MQTT connection loop error")
            finally:
                self._first_attempt.set()
            if self._stopping:
                return
            began = self._session_began
            if began is not None and loop.time() - began >= STABLE_SESSION:
                attempt, outage_since = 0, loop.time()  # a good connection: start afresh
            outage = loop.time() - outage_since
            delay = backoff_delay(attempt, outage)
            self.reconnect_ceilings.append(backoff_ceiling(attempt, outage))
            log.info("reconnecting to MQTT in %.1f s", delay)
            attempt += 1
            await asyncio.sleep(delay)

    def _where(self) -> str:
        if self.cfg.broker == "embedded":
            return f"embedded broker on port {self.broker.port if self.broker else '?'}"
        try:
            addr = parse_broker(self.cfg.broker)
            return f"{addr.host}:{addr.port}"
        except ValueError:
            return "broker"

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
            client = aiomqtt.Client(protocol=proto, properties=connect_properties(proto), **args)
            manual_acks(client)
            # aiomqtt warns once per publish beyond this many waiting for their PUBACK; with
            # up to MAX_IN_FLIGHT replies and a window of events that many are normal.
            client.pending_calls_threshold = MAX_IN_FLIGHT + PUBLISH_WINDOW + 16
            try:
                await client.__aenter__()
            except MqttConnectError as exc:
                if probing and exc.rc not in AUTH_REFUSED:
                    last_error = exc
                    continue
                raise
            except aiomqtt.MqttError as exc:
                if probing:
                    last_error = exc
                    continue
                raise
            client.timeout = OPERATION_TIMEOUT
            self.protocol = proto
            try:
                await self._session(client)
            finally:
                with contextlib.suppress(aiomqtt.MqttError, OSError):
                    await client.__aexit__(None, None, None)
            return
        if last_error is not None:
            raise last_error

    async def _session(self, client: aiomqtt.Client) -> None:
        self.connections += 1
        self._session_began = asyncio.get_running_loop().time()
        version = "5" if self.protocol == aiomqtt.ProtocolVersion.V5 else "3.1.1"
        log.info("connected to MQTT %s (MQTT %s)", self._where(), version)
        self._client = client
        self._first_attempt.set()
        tasks: set[asyncio.Task[None]] = set()
        try:
            options = self._command_options()
            if options is None:
                await client.subscribe(self.topics.command_filter, qos=1)
            else:  # paho takes the QoS from the options then
                await client.subscribe(self.topics.command_filter, options=options)
            if self.discovery_on:
                await client.subscribe(self.topics.ha_status, qos=1)
            self._mark_everything_dirty()
            await client.publish(self.topics.host_status, ONLINE, qos=1, retain=True)
            self.connected.set()
            # Reader and sender live and die together: if either fails (a publish timed
            # out, the socket closed) the session ends and the connection loop reconnects.
            tasks = {asyncio.create_task(self._reader(client), name="mqtt-reader"),
                     asyncio.create_task(self._sender(client), name="mqtt-sender")}
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            raise aiomqtt.MqttError("session ended")
        finally:
            self.connected.clear()
            self._client = None
            for task in tasks:
                task.cancel()
            if tasks:
                # bounded: a task stuck past its cancellation must not block reconnects
                await asyncio.wait(tasks, timeout=2)

    def _command_options(self) -> SubscribeOptions | None:
        """MQTT 5: Retain As Published, so a retained command keeps its flag even when the
        broker delivers it live, and is never taken for a request. (3.1.1 has no such option:
        its brokers clear the flag on live delivery, see docs/mqtt.md.)"""
        if self.protocol != aiomqtt.ProtocolVersion.V5:
            return None
        return SubscribeOptions(qos=1, retainAsPublished=True)

    async def _reader(self, client: aiomqtt.Client) -> None:
        """Takes each message on only when there is room for it (``submit`` waits for a
        slot) and only then acknowledges it, so a flood waits in the broker. A message that
        breaks its handling costs only itself: the session goes on."""
        async for message in client.messages:
            try:
                await self._dispatch(client, message)
            except Exception:
                log.exception("MQTT message on %s could not be handled", message.topic.value[:200])
            finally:
                acknowledge(client, message)

    # ------------------------------------------------------------------ outgoing

    async def _sender(self, client: aiomqtt.Client) -> None:
        """Publishes dirty retained topics first (latest value wins), then queued events in
        order, waiting for each window's PUBACKs before removing them from the queue."""
        me = asyncio.current_task()
        while True:
            if me is not None and me.cancelling():
                # asyncio.wait_for (inside aiomqtt's publish) can swallow a cancellation
                # that races with the PUBACK; never carry on after being asked to stop.
                raise asyncio.CancelledError
            self._wake.clear()
            while self._dirty:
                topic, payload = self._dirty.popitem(last=False)
                try:
                    await client.publish(topic, payload, qos=1, retain=True)
                except aiomqtt.MqttError:
                    self._dirty.setdefault(topic, payload)
                    self._dirty.move_to_end(topic, last=False)
                    raise
            batch = self.queue.peek(PUBLISH_WINDOW)
            if batch:
                results = await asyncio.gather(
                    *(client.publish(item.topic, item.payload, qos=1, retain=False) for item in batch),
                    return_exceptions=True)
                for item, result in zip(batch, results, strict=True):
                    if isinstance(result, BaseException):
                        raise aiomqtt.MqttError(f"event publish failed: {result}")
                    self.queue.ack(item)
                if not self.queue:  # backlog gone: let consumers see queue_depth drop to 0
                    self._retain(self.topics.host_state, _json(self._host_state()))
                continue
            if not self._dirty:
                await self._wake.wait()

    def _retain(self, topic: str, payload: bytes) -> None:
        self._dirty[topic] = payload
        self._dirty.move_to_end(topic)
        self._wake.set()

    def _device_ids(self) -> list[str]:
        return list(getattr(self.host, "runners", {}).keys())

    def _mark_everything_dirty(self) -> None:
        """A (re)connect: the broker may have lost everything, so publish it all again.
        Pending clears (removed devices and zones) are kept: nothing else re-creates them."""
        clears = [topic for topic, payload in self._dirty.items() if payload == CLEAR]
        self._dirty.clear()
        for topic in clears:
            self._retain(topic, CLEAR)
        self._retain(self.topics.host_state, _json(self._host_state()))
        for device, runner in list(self.host.runners.items()):
            self._retain_device(device, runner.state)
            for zone, state in list(runner.zone_states.items()):
                self._retain_zone(device, zone, state)
        if self.discovery_on:
            self._publish_all_discovery()

    def _retain_device(self, device: str, state: Any) -> None:
        self._retain(self.topics.availability(device), ONLINE if state.online else OFFLINE)
        self._retain(self.topics.device_state(device), _json(state.as_dict()))

    def _retain_zone(self, device: str, zone: str, state: dict[str, Any]) -> None:
        self._zones_published.setdefault(device, set()).add(zone)
        self._retain(self.topics.zone_state(device, zone), _json(state))

    def _host_state(self) -> dict[str, Any]:
        stats = getattr(self.host, "stats", None)
        out: dict[str, Any] = dict(stats()) if callable(stats) else {}
        out.update(self.stats())
        out["requests_dropped"] = self.requests_dropped
        out["mqtt_protocol"] = "5" if self.protocol == aiomqtt.ProtocolVersion.V5 else "3.1.1"
        out["loaded_drivers"] = self.host.drivers_info()
        return out

    async def _host_state_loop(self) -> None:
        """Uptime and queue figures change without any bus message; refresh periodically."""
        while True:
            await asyncio.sleep(HOST_STATE_INTERVAL)
            self._retain(self.topics.host_state, _json(self._host_state()))

    # ------------------------------------------------------------------ bus

    def _on_bus(self, message: busmod.Message) -> None:
        if isinstance(message, busmod.EventRaised):
            ev = message.event
            payload = _json(ev.as_dict(message.device))
            self.queue.put(Outgoing(self.topics.event(message.device, ev.zone), payload, message.delivered))
            self._wake.set()
        elif isinstance(message, busmod.DeviceStateChanged):
            self._retain_device(message.device, message.state)
            self._retain(self.topics.host_state, _json(self._host_state()))
            if self.discovery_on:
                self._publish_discovery(message.device)
        elif isinstance(message, busmod.ZoneStateChanged):
            self._retain_zone(message.device, message.zone, message.state)
            runner = self.host.runners.get(message.device)
            schema = self.host.schemas.get(runner.config.driver) if runner else None
            # entities follow declared capabilities; a zone state changes them only when it
            # brings a new fact (the event types the device reported, a detector type)
            if self.discovery_on and self.discovery.observe(message.device, schema, message.zone, message.state):
                self._publish_discovery(message.device)
        elif isinstance(message, busmod.SiteApplied):
            self._site_applied(message)

    def _site_applied(self, message: busmod.SiteApplied) -> None:
        # Discovery first: Home Assistant must drop an entity before its state topic is
        # cleared, or it renders the entity's template on the empty payload.
        for device in message.removed_devices:
            if self.discovery_on or self.discovery.announced(device):
                self._retain(self.topics.discovery(self.site_id, device), CLEAR)
                self.discovery.forget(device)
        trimmed = list(dict.fromkeys(d for d, _zone in message.removed_zones)) if self.discovery_on else []
        for device in trimmed:
            self._publish_discovery(device)
        for device in message.removed_devices:
            self._retain(self.topics.availability(device), CLEAR)
            self._retain(self.topics.device_state(device), CLEAR)
            for zone in self._zones_published.pop(device, set()):
                self._retain(self.topics.zone_state(device, zone), CLEAR)
                self._retain(self.topics.snapshot(device, zone), CLEAR)
        for device, zone in message.removed_zones:
            self._zones_published.get(device, set()).discard(zone)
            self._retain(self.topics.zone_state(device, zone), CLEAR)
            self._retain(self.topics.snapshot(device, zone), CLEAR)
        for device in message.devices:
            runner = self.host.runners.get(device)
            if runner is None:
                continue
            self._retain_device(device, runner.state)
            for zone, state in list(runner.zone_states.items()):
                self._retain_zone(device, zone, state)
            if self.discovery_on and device not in trimmed:  # again would move it behind the clears
                self._publish_discovery(device)
        self._retain(self.topics.host_state, _json(self._host_state()))

    # ------------------------------------------------------------------ discovery

    def _publish_all_discovery(self) -> None:
        for device in self._device_ids():
            self._publish_discovery(device)

    def _publish_discovery(self, device: str) -> None:
        runner = self.host.runners.get(device)
        if runner is None:
            return
        schema = self.host.schemas.get(runner.config.driver)
        if schema is None:
            return
        # every component ever announced is repeated as a removal stub in every later config:
        # a stub must survive the coalescing of retained updates
        config = self.discovery.config(runner.config, schema, runner.state.info.as_dict())
        if config is not None:
            self._retain(self.topics.discovery(self.site_id, device), _json(config))

    # ------------------------------------------------------------------ incoming

    async def _dispatch(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
        if self.discovery_on and topic == self.topics.ha_status:
            if payload.strip() == ONLINE:
                self._ha_online()
            return
        parsed = self.topics.parse_command(topic)
        if parsed is None or (message.retain and not payload):
            return  # not a command, or a retained command being cleared
        reply_topic, reply_props, refusal = self._reply_route(topic, message.properties)
        if message.retain:  # never run: a leftover (or a mistake) that would run on every connect
            refusal = CommandError(BAD_REQUEST, "retained commands are not run; publish the request without "
                                   "retain, and clear the retained one with an empty retained message")

        async def send(body: bytes) -> None:
            live = self._client
            if live is None:
                raise aiomqtt.MqttError("not connected")
            await live.publish(reply_topic, body, qos=1, retain=False, properties=reply_props)

        await self.commands.submit(parsed.target, parsed.command, payload, send, refusal=refusal)

    def _incoming_overflow(self, message: aiomqtt.Message) -> None:
        """A message that does not fit the incoming backlog (a broker ignoring flow control,
        or QoS 0): a request is answered ``busy`` on the spot, without being kept; anything
        else is dropped and counted. Either way it is acknowledged, so the broker's window
        never fills with messages gemhost will not take."""
        client = self._client
        parsed = self.topics.parse_command(message.topic.value)
        if client is None or parsed is None or message.retain:
            self._count_drop(message)
        else:
            reply_topic, reply_props, _ = self._reply_route(message.topic.value, message.properties)
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            busy = CommandError(BUSY, "gemhost has too many requests waiting; retry later")
            body = reply_payload(request_id(payload, self.max_payload), error=busy)
            if publish_now(client, reply_topic, body, reply_props):
                self.busy_replies += 1
            else:
                self._count_drop(message)
        if client is not None:
            acknowledge(client, message)

    def _count_drop(self, message: aiomqtt.Message) -> None:
        self.requests_dropped += 1
        if self.requests_dropped == 1 or self.requests_dropped % 1000 == 0:
            log.warning("incoming backlog full: %d messages dropped so far (last on %s)", self.requests_dropped,
                        message.topic.value[:200])

    def _reply_route(self, topic: str, props: Any) -> tuple[str, Properties | None, CommandError | None]:
        """Where the reply goes and with which properties: the request's MQTT 5 response
        topic when it is allowed, else the standard ``<request>/reply`` (with the refusal as
        the reply); correlation data is echoed either way."""
        standard = self.topics.reply(topic)
        correlation = getattr(props, "CorrelationData", None) if props is not None else None
        reply_props: Properties | None = None
        if correlation is not None and self.protocol == aiomqtt.ProtocolVersion.V5:
            reply_props = Properties(PacketTypes.PUBLISH)
            reply_props.CorrelationData = correlation
        wanted = getattr(props, "ResponseTopic", None) if props is not None else None
        if not wanted:
            return standard, reply_props, None
        why = self.topics.response_topic_refusal(wanted, topic, self.response_topics)
        if why is None:
            return wanted, reply_props, None
        self.refused_response_topics += 1
        if self.refused_response_topics == 1 or self.refused_response_topics % 1000 == 0:
            log.warning("refused response topic %r of a request on %s: %s (%d refused so far)", wanted[:200],
                        topic, why, self.refused_response_topics)
        return standard, reply_props, CommandError(BAD_REQUEST, f"response topic {wanted[:200]!r} refused: {why}; "
                                                   "the request was not run")

    def _ha_online(self) -> None:
        """Home Assistant (re)started: re-publish discovery once it has gone quiet, so a
        burst (or a flood) of ``online`` costs one re-publish, not one per message."""
        loop = asyncio.get_running_loop()
        self._ha_quiet_until = loop.time() + HA_QUIET
        if self._ha_task is None or self._ha_task.done():
            self._ha_task = asyncio.create_task(self._ha_republish(loop.time() + HA_MAX_DELAY),
                                                name="mqtt-ha-republish")

    async def _ha_republish(self, latest: float) -> None:
        loop = asyncio.get_running_loop()
        while (now := loop.time()) < min(self._ha_quiet_until, latest):
            await asyncio.sleep(min(self._ha_quiet_until, latest) - now)
        log.info("Home Assistant came online: re-publishing discovery")
        self.discovery_republished += 1
        self._publish_all_discovery()
        for device, runner in list(self.host.runners.items()):
            self._retain_device(device, runner.state)

    def _route_action(self, target: str, args: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        """The core ``action`` command (an alarm panel's ARM_AWAY, a bypass switch) -> the
        driver command the zone's capabilities name for it."""
        runner = self.host.runners[target]
        return self.discovery.route(runner.config, self.host.schemas[runner.config.driver], args)

    def _command_result(self, target: str, command: str, args: dict[str, Any] | None, result: Any) -> None:
        """Feed binary zone results (snapshots) to the zone's snapshot topic, which Home
        Assistant's image entity shows."""
        if target == HOST or not isinstance(result, dict) or "base64" not in result:
            return
        if not str(result.get("content_type", "")).startswith("image/"):
            return
        runner = self.host.runners.get(target)
        if runner is None or not args:
            return
        zone_id = args.get("zone")
        if zone_id is None:
            schema = self.host.schemas.get(runner.config.driver)
            zone_key = getattr(schema, "zone_key", None)
            if zone_key and zone_key in args:
                zone_id = next((zid for zid, zone in runner.config.zones.items()
                                if str(zone.attributes.get(zone_key)) == str(args[zone_key])), None)
        if zone_id is not None and str(zone_id) in runner.config.zones:
            self._retain(self.topics.snapshot(target, str(zone_id)), str(result["base64"]).encode())
