"""The host's MQTT socket: few system calls, and QoS 1 publishes without paho's per-message cost.

paho (under aiomqtt) is a fine protocol engine but an expensive one per message: a QoS 1
publish builds a message object with a thread condition, takes three locks and logs, and
its PUBACK is read with three ``recv()`` calls and decoded into two more objects; every
packet is its own ``send()``, so its own TCP segment. At a thousand events a second that
was a quarter of the host's CPU (py-spy, bench/README.md).

So paho keeps the connection (CONNECT, SUBSCRIBE, PINGREQ, incoming messages and their
acknowledgements, DISCONNECT) and is given this object instead of its socket:

* writes (paho's and the host's own) are kept during one pass of the event loop and sent
  with one ``send()`` at its end (``loop.call_soon``); when the kernel buffer is full the
  rest waits for the socket to drain (``add_writer``);
* reads fill a buffer with one ``recv()`` of up to 64 KiB (then ask for TCP quick-ack: see
  :meth:`Wire._read`), which is cut into MQTT packets:
  a PUBACK of a publish the host made here goes to ``on_puback`` and never reaches paho,
  every other packet is served to paho's small reads unchanged (``pending()`` tells aiomqtt
  to keep reading while buffered bytes remain, as it does for TLS); the client's reader
  calls paho only when a read brought something for it (:meth:`Wire.fill`);
* :func:`publish_packet` writes the bytes of a PUBLISH (MQTT 3.1.1 and 5, section 3.3 of
  both specifications) for the host's QoS 1 publishes, with packet identifiers taken from
  paho's own generator so they never collide with its SUBSCRIBEs.

Plain TCP only: a TLS socket stays paho's (the client then publishes through paho).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

READ_SIZE = 65536
PUBACK = 0x40
TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", None)
"""Linux: acknowledge received segments at once instead of up to 40 ms later (see recv)."""
MAX_TOPIC = 65535


class MalformedTopic(ValueError):
    """A topic MQTT does not allow in a PUBLISH (empty, too long, or with a wildcard)."""


def _varint(value: int) -> bytes:
    """MQTT's Variable Byte Integer (remaining length, property length)."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def publish_packet(topic: str, payload: bytes, mid: int, *, qos: int = 1, retain: bool = False,
                   properties: bytes | None = None) -> bytes:
    """The bytes of one PUBLISH with a packet identifier (QoS 1 or 2). ``properties`` is the
    packed MQTT 5 property block (length included; ``b"\\x00"`` for none), None under 3.1.1."""
    name = topic.encode("utf-8")
    if not name or len(name) > MAX_TOPIC or b"+" in name or b"#" in name or b"\x00" in name:
        raise MalformedTopic(f"invalid topic for PUBLISH: {topic[:80]!r}")
    variable = len(name).to_bytes(2, "big") + name + mid.to_bytes(2, "big")
    if properties is not None:
        variable += properties
    return bytes((0x30 | qos << 1 | int(retain),)) + _varint(len(variable) + len(payload)) + variable + payload


class Wire:
    """The few socket methods paho and aiomqtt use, over a non-blocking TCP socket."""

    def __init__(self, sock: socket.socket, loop: asyncio.AbstractEventLoop,
                 on_puback: Callable[[int, int], bool]) -> None:
        self._sock = sock
        self._loop = loop
        self._on_puback = on_puback
        self._out = bytearray()
        self._flush_scheduled = False
        self._writer = False
        self._error: OSError | None = None
        self._raw = b""
        """Received bytes not yet cut into whole packets."""
        self._framing = True
        """False after a malformed packet header: everything then goes to paho, which refuses it."""
        self._in = bytearray()
        """Whole packets for paho, not yet read by it."""
        self._eof = False
        self._quickack = TCP_QUICKACK is not None and sock.family in (socket.AF_INET, socket.AF_INET6)

    # ------------------------------------------------------------ writing

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._error is not None:
            raise self._error
        self._out += data
        if not self._flush_scheduled and not self._writer:
            self._flush_scheduled = True
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is self._loop:
                self._loop.call_soon(self._flush)
            else:  # paho connects from an executor thread
                self._loop.call_soon_threadsafe(self._flush)

    def send(self, data: bytes | bytearray | memoryview) -> int:
        """paho's write: taken whole, sent at the end of this pass of the loop."""
        self.write(data)
        return len(data)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._out or self._sock.fileno() < 0:
            return
        try:
            sent = self._sock.send(self._out)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:  # the connection broke: paho sees it at its next read or write
            self._error = exc
            self._out.clear()
            self._stop_writer()
            return
        del self._out[:sent]
        if self._out and not self._writer:
            self._writer = True  # the kernel buffer is full: continue when it drains
            self._loop.add_writer(self._sock.fileno(), self._flush)
        elif not self._out:
            self._stop_writer()

    def _stop_writer(self) -> None:
        if self._writer:
            self._writer = False
            if self._sock.fileno() >= 0:
                self._loop.remove_writer(self._sock.fileno())

    # ------------------------------------------------------------ reading

    def recv(self, size: int) -> bytes:
        """paho's read: whole packets meant for it; BlockingIOError when there are none yet."""
        while not self._in:
            if self._eof:
                return b""
            if self._error is not None:
                raise self._error
            self._read(self._sock.recv(READ_SIZE))  # BlockingIOError when the kernel has nothing
        chunk = bytes(self._in[:size])
        del self._in[:size]
        return chunk

    def fill(self) -> bool:
        """The socket is readable: read it once and handle the host's PUBACKs. True when paho
        has something to read (a packet, the end of the connection, an error), so the reader
        can leave paho alone when a read brought only PUBACKs."""
        if self._in or self._eof or self._error is not None:
            return True
        try:
            data = self._sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as exc:
            self._error = exc
            return True
        self._read(data)
        return bool(self._in) or self._eof

    def _read(self, data: bytes) -> None:
        if self._quickack and data:
            # A broker with Nagle on (mosquitto's default) holds its next packet -- the next
            # command request, a PUBACK -- until its last one is acknowledged, and the kernel
            # would delay that acknowledgement while the host has nothing to send. Quick-ack
            # mode is not sticky, so it is asked for after every read.
            try:
                self._sock.setsockopt(socket.IPPROTO_TCP, TCP_QUICKACK, 1)
            except OSError:
                self._quickack = False
        if not data:
            self._eof = True
            self._in += self._raw  # a cut packet: paho sees the truncation
            self._raw = b""
            return
        self._cut(self._raw + data if self._raw else data)

    def _cut(self, raw: bytes) -> None:
        """Split received bytes into packets: the host's PUBACKs are handled, the rest kept for paho."""
        if not self._framing:
            self._in += raw
            return
        pos, end = 0, len(raw)
        while pos < end:
            length, shift, at = 0, 0, pos + 1
            while True:  # remaining length, 1 to 4 bytes
                if at >= end:
                    self._raw = raw[pos:]
                    return
                byte = raw[at]
                length |= (byte & 0x7F) << shift
                at += 1
                if not byte & 0x80:
                    break
                shift += 7
                if shift > 21:  # not MQTT: let paho refuse the connection's bytes
                    self._framing = False
                    self._in += raw[pos:]
                    self._raw = b""
                    return
            stop = at + length
            if stop > end:
                self._raw = raw[pos:]
                return
            if raw[pos] == PUBACK and length >= 2:
                mid = raw[at] << 8 | raw[at + 1]
                if self._on_puback(mid, raw[at + 2] if length >= 3 else 0):
                    pos = stop
                    continue
            self._in += raw[pos:stop]
            pos = stop
        self._raw = b""

    def pending(self) -> int:
        """Bytes of whole packets read from the socket that paho has not taken yet."""
        return len(self._in)

    # ------------------------------------------------------------ the rest of a socket

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        """Close, sending what is still kept first: paho closes right after writing its
        DISCONNECT, which must reach the broker (or it publishes the last will)."""
        self._stop_writer()
        if self._out and self._error is None and self._sock.fileno() >= 0:
            try:
                self._sock.send(self._out)
            except OSError:
                pass
        self._out.clear()
        self._in.clear()
        self._sock.close()

    def __getattr__(self, name: str) -> Any:  # setblocking, getpeername, setsockopt, ...
        return getattr(self._sock, name)
