"""The host's MQTT client: aiomqtt's, with a sliding publish window and TCP_NODELAY.

Why not aiomqtt's ``publish`` as it is, for a host publishing a thousand events a second:

* Its socket keeps Nagle's algorithm on. A reply or an event written while an earlier
  segment is unacknowledged then waits for the peer's delayed ACK (about 40 ms), and a
  command's round trip pays that twice. The socket here has ``TCP_NODELAY``.
* Each QoS 1 ``publish`` is a coroutine waiting on its own event under ``wait_for``, and
  every call beyond ten pending ones logs a warning (thousands of lines a second under load).
* Nothing bounds what is in flight by the broker's Receive Maximum (MQTT 5, CONNACK): paho
  holds at most 20 by default, whatever the broker allows, and a broker allowing fewer
  would disconnect a client that exceeds it.

So every QoS 1/2 publish of this client goes through one window: at most
:attr:`BridgeClient.window` unacknowledged at once, sized from the broker's Receive Maximum;
a new publish leaves as soon as any PUBACK frees a slot. :meth:`publish_nowait` (the bridge's
sender) sends the message at once and gets a callback with the PUBACK; the awaitable
:meth:`publish` (command replies and the like) waits for a slot first and has priority over
the sender. On plain TCP the QoS 1 publishes are written and their PUBACKs read by the
:class:`~gemhost.mqtt.wire.Wire` under paho (see there why); over TLS they go through paho,
whose own in-flight limit is off (0) so the window is the only one.

This relies on hooks of aiomqtt 2.x (``_on_connect``, ``_on_publish``, ``_on_socket_open``,
``_on_disconnect``: each receives what paho passes to its callbacks), on its paho client
(``_client``), its ``_disconnected`` future (set by the reader, as aiomqtt's own does) and
on paho's packet-id generator; pyproject pins aiomqtt < 3.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import aiomqtt
import paho.mqtt.client as paho

from gemhost.mqtt.wire import MalformedTopic, Wire, publish_packet

V311_WINDOW = 32
"""In flight at once under MQTT 3.1.1, which has no Receive Maximum."""
MAX_WINDOW = 128
"""Upper bound whatever the broker allows: enough to hide the round trip, small enough that
a broken connection re-sends little (delivery is at least once)."""

READ_BURST = 8
"""paho reads handed over per pass of the event loop (each may take several packets)."""

Done = Callable[[int | None], None]
"""Called with the PUBACK's reason code (0 accepted, >= 0x80 refused), or None when the
connection was lost before the broker acknowledged."""


class BridgeClient(aiomqtt.Client):
    """aiomqtt.Client whose QoS > 0 publishes share one window sized by the broker."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        options = list(kwargs.pop("socket_options", None) or ())
        options.append((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1))
        kwargs["max_inflight_messages"] = 0  # the window below is the limit
        super().__init__(*args, socket_options=options, **kwargs)
        self.v5 = kwargs.get("protocol") == aiomqtt.ProtocolVersion.V5
        self.window = MAX_WINDOW if self.v5 else V311_WINDOW
        self.receive_maximum: int | None = None
        """The broker's Receive Maximum from CONNACK (MQTT 5), None when it sent none."""
        self.on_slot_free: Callable[[], None] | None = None
        """Called when a slot frees and no awaiting publish wants it (the sender's wake-up)."""
        self.last_ack = time.monotonic()
        """When the last PUBACK arrived (a window that never moves means a stuck broker)."""
        self._inflight: dict[int, Done] = {}
        self._wire: Wire | None = None
        self._paho_write_due = False
        self._waiters: deque[asyncio.Future[None]] = deque()

    # ------------------------------------------------------------ window

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    def can_send(self) -> bool:
        """A free slot that no awaiting :meth:`publish` is queued for."""
        return len(self._inflight) < self.window and not self._waiters

    def publish_nowait(self, topic: str, payload: bytes, done: Done, *, qos: int = 1, retain: bool = False,
                       properties: Any = None) -> None:
        """Send one QoS 1 message now (QoS 2 through paho); ``done`` gets its PUBACK. Call
        only when :meth:`can_send` (or holding a slot). Raises MqttError when the connection
        cannot take it, MalformedTopic for a topic MQTT forbids."""
        wire = self._wire
        if wire is not None and qos == 1:
            mid = self._client._mid_generate()
            block = (properties.pack() if properties is not None else b"\x00") if self.v5 else None
            try:
                wire.write(publish_packet(topic, payload, mid, qos=1, retain=retain, properties=block))
            except OSError as exc:
                raise aiomqtt.MqttError(f"could not publish to {topic}: {exc}") from None
        else:
            try:
                info = self._client.publish(topic, payload, qos, retain, properties)
            except ValueError as exc:  # paho's refusal of a topic with a wildcard or bad length
                raise MalformedTopic(str(exc)) from None
            if info.rc != paho.MQTT_ERR_SUCCESS:
                raise aiomqtt.MqttCodeError(info.rc, f"could not publish to {topic}")
            mid = info.mid
        if not self._inflight:
            self.last_ack = time.monotonic()  # the wait for a PUBACK starts now
        self._inflight[mid] = done

    async def publish(self, topic: str, payload: Any = None, qos: int = 0, retain: bool = False,  # type: ignore[override]
                      properties: Any = None, *args: Any, timeout: float | None = None, **kwargs: Any) -> None:
        """aiomqtt's publish; QoS > 0 waits for a slot of the window (ahead of the sender),
        then for the PUBACK, both within ``timeout`` (the client's by default)."""
        if qos == 0 or args or kwargs:
            await super().publish(topic, payload, qos, retain, properties, *args, timeout=timeout, **kwargs)
            return
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[int | None] = loop.create_future()

        def done(code: int | None) -> None:
            if not acked.done():
                acked.set_result(code)

        try:
            async with asyncio.timeout(self.timeout if timeout is None else timeout):
                await self._slot()
                self.publish_nowait(topic, payload_bytes(payload), done, qos=qos, retain=retain,
                                    properties=properties)
                self._wake_sender()
                code = await acked
        except TimeoutError:
            raise aiomqtt.MqttError(f"publish to {topic} timed out") from None
        if code is None:
            raise aiomqtt.MqttError(f"connection lost before the broker acknowledged {topic}")

    async def _slot(self) -> None:
        """Wait (first come, first served) until a slot is freed for this publish. A waiter
        stays queued until it resumes, so the sender cannot take the slot meanwhile."""
        if len(self._inflight) < self.window and not self._waiters:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._waiters.remove(waiter)
                self._slot_freed()  # it was given a slot it will not use: pass it on
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _wake_sender(self) -> None:
        if self.on_slot_free is not None and self.can_send():
            self.on_slot_free()

    def _slot_freed(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
                return
        self._wake_sender()

    # ------------------------------------------------------------ paho callbacks (aiomqtt's hooks)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any = None) -> None:
        receive_maximum = getattr(properties, "ReceiveMaximum", None) if properties is not None else None
        if receive_maximum:
            self.receive_maximum = int(receive_maximum)
            self.window = max(1, min(self.receive_maximum, MAX_WINDOW))
        super()._on_connect(client, userdata, flags, reason_code, properties)

    def _on_socket_open(self, client: Any, userdata: Any, sock: Any) -> None:
        """paho opened its socket: a plain TCP one is swapped for the :class:`Wire` (paho
        reads and writes through it; the host's QoS 1 publishes bypass paho)."""
        if not isinstance(sock, socket.socket) or isinstance(sock, ssl.SSLSocket):
            super()._on_socket_open(client, userdata, sock)
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # aiomqtt's options skip a wrapper
        wire = self._wire = Wire(sock, self._loop, self._puback)
        client._sock = wire
        super()._on_socket_open(client, userdata, wire)
        # aiomqtt registers its reader (paho's loop_read) from this thread's call_soon; ours,
        # registered after it, replaces it: it hands paho only reads that brought it something.
        self._loop.call_soon_threadsafe(self._loop.add_reader, wire.fileno(), self._readable, wire)

    def _on_socket_register_write(self, client: Any, userdata: Any, sock: Any) -> None:
        """paho has packets to write. aiomqtt would ``add_writer`` paho's socket, but the
        wire's own writer (a full kernel buffer) is registered on the same descriptor, and an
        event loop keeps one writer per descriptor: whichever came second replaced the other,
        and the wire's kept bytes (replies, PUBACKs) then waited for ever. The wire takes any
        write at once and waits for writability itself, so paho is only asked to hand its
        packets over, once per pass of the loop."""
        if self._wire is None or sock is not self._wire:
            super()._on_socket_register_write(client, userdata, sock)
            return
        if not self._paho_write_due:
            self._paho_write_due = True
            self._loop.call_soon_threadsafe(self._paho_write)

    def _on_socket_unregister_write(self, client: Any, userdata: Any, sock: Any) -> None:
        if self._wire is None or sock is not self._wire:
            super()._on_socket_unregister_write(client, userdata, sock)
        # else: nothing is registered for paho (see _on_socket_register_write); the wire's
        # own writer stays until its bytes are sent

    def _paho_write(self) -> None:
        self._paho_write_due = False
        try:
            self._client.loop_write()
        except Exception as exc:  # as aiomqtt's writer: a broken connection ends the client
            if not self._disconnected.done():
                self._disconnected.set_exception(exc)

    def _readable(self, wire: Wire) -> None:
        """The socket can be read: the wire takes the PUBACKs; paho reads the rest (its
        packets, the end of the connection) as under aiomqtt's own reader."""
        try:
            if wire.fill():
                self._hand_to_paho(wire)
        except Exception as exc:  # as aiomqtt's reader: a broken connection ends the client
            self._broken(exc)

    def _hand_to_paho(self, wire: Wire) -> None:
        """Let paho read what the wire holds, READ_BURST reads at a time. One read of the
        socket can hold thousands of small messages (a flood); handing them all over in one
        go would fill the incoming backlog before the bridge's reader took a single one (the
        overflow then answers requests ``busy``), so the rest waits for the next pass of the
        loop, after the reader's turn."""
        for _ in range(READ_BURST):
            if self._client.loop_read() != paho.MQTT_ERR_SUCCESS or wire.pending() <= 0:
                return
        self._loop.call_soon(self._hand_more, wire)

    def _hand_more(self, wire: Wire) -> None:
        if wire is not self._wire:
            return  # the connection ended meanwhile
        try:
            self._hand_to_paho(wire)
        except Exception as exc:
            self._broken(exc)

    def _broken(self, exc: BaseException) -> None:
        if not self._disconnected.done():
            self._disconnected.set_exception(exc)

    def _puback(self, mid: int, reason: int) -> bool:
        """A PUBACK read by the wire: True when it acknowledges one of this window's publishes."""
        done = self._inflight.pop(mid, None)
        if done is None:
            return False
        self.last_ack = time.monotonic()
        self._slot_freed()
        done(reason)
        return True

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason_code: Any, properties: Any) -> None:
        """paho's PUBACK callback, for what went through paho (TLS connections, QoS 2)."""
        if not self._puback(mid, int(getattr(reason_code, "value", 0))):
            super()._on_publish(client, userdata, mid, reason_code, properties)

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any = None) -> None:
        super()._on_disconnect(client, userdata, flags, reason_code, properties)
        self._wire = None
        lost, self._inflight = self._inflight, {}
        for done in lost.values():
            done(None)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(aiomqtt.MqttError("disconnected"))


def payload_bytes(payload: Any) -> bytes:
    """aiomqtt's payload types as the bytes paho would send (and a received message's payload
    as bytes: paho delivers bytes, aiomqtt's type allows the others)."""
    if payload is None:
        return b""
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, (int, float)):
        return str(payload).encode("ascii")
    raise TypeError(f"payload must be bytes, str, int, float or None, not {type(payload).__name__}")
