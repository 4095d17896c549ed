"""Turning the site's ``mqtt`` block into aiomqtt client arguments, and incoming flow control.

Kept apart from the bridge so the URL/TLS/credential rules are testable without a broker,
and so the one place that reveals the broker password (and the one that reaches into
aiomqtt's paho client, for acknowledgements) is easy to audit.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gemhost.model import Secret, reveal


@dataclass
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None
    password: Secret | None

    def __repr__(self) -> str:  # never show the password
        return f"BrokerAddress({self.host}:{self.port}, tls={self.tls}, user={self.username!r})"


def parse_broker(url: str, username: str | None = None, password: Any = None) -> BrokerAddress:
    """``mqtt://[user[:pass]@]host[:port]`` or ``mqtts://``; explicit username/password
    settings win over the URL's."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError("broker must be 'embedded' or an mqtt:// or mqtts:// URL with a host")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise ValueError("broker URL has an invalid port") from None
    user = username or (unquote(parts.username) if parts.username else None)
    secret: Secret | None = None
    if password is not None and reveal(password):
        secret = password if isinstance(password, Secret) else Secret(str(password))
    elif parts.password:
        secret = Secret(unquote(parts.password))
    return BrokerAddress(parts.hostname, port, tls, user, secret)


def tls_arguments(cfg: Any, address: BrokerAddress) -> dict[str, Any]:
    """aiomqtt TLS keyword arguments, or none when the connection is plain."""
    ca = getattr(cfg, "tls_ca_file", None)
    if not (address.tls or ca):
        return {}
    verify = bool(getattr(cfg, "tls_verify", True))
    params = aiomqtt.TLSParameters(
        ca_certs=str(ca) if ca else None,
        certfile=str(cfg.tls_certfile) if getattr(cfg, "tls_certfile", None) else None,
        keyfile=str(cfg.tls_keyfile) if getattr(cfg, "tls_keyfile", None) else None,
        cert_reqs=ssl.CERT_REQUIRED if verify else ssl.CERT_NONE,
    )
    return {"tls_params": params, "tls_insecure": not verify}


# ---------------------------------------------------------------- incoming flow control

RECEIVE_MAXIMUM = 64
"""MQTT 5 Receive Maximum: QoS 1 messages the broker may send before gemhost acknowledges
any. 3.1.1 has no such field; brokers use their own window there (mosquitto: 20)."""
INCOMING_BACKLOG = 1024
"""Received messages kept waiting for the bridge, at most (and at most INCOMING_BYTES)."""
INCOMING_BYTES = 8 * 1024 * 1024


class IncomingQueue(asyncio.Queue):  # type: ignore[type-arg]
    """aiomqtt's queue of received messages, bounded without a silent discard.

    QoS 1 messages are acknowledged only once the bridge took them on (see
    :func:`manual_acks`), so a broker that honours its in-flight window keeps the excess of a
    flood itself. What still does not fit here (QoS 0, or a broker that sends regardless) is
    handed to ``on_overflow`` instead of being kept: the bridge answers a request ``busy`` on
    the spot, so memory stays bounded and no request goes unanswered."""

    def __init__(self, maxsize: int = 0, *, on_overflow: Callable[[Any], None] | None = None,
                 limit: int = INCOMING_BACKLOG, byte_limit: int = INCOMING_BYTES) -> None:
        super().__init__(0)
        self.limit = limit
        self.byte_limit = byte_limit
        self.bytes = 0
        self.high_water = 0
        """The most messages ever waiting at once (never above ``limit``)."""
        self._on_overflow = on_overflow

    def put_nowait(self, item: Any) -> None:
        size = _size(item)
        if self.qsize() >= self.limit or self.bytes + size > self.byte_limit:
            if self._on_overflow is not None:
                self._on_overflow(item)
            return
        self.bytes += size
        super().put_nowait(item)
        self.high_water = max(self.high_water, self.qsize())

    def _get(self) -> Any:  # asyncio.Queue's hook for subclasses
        item = super()._get()  # type: ignore[misc]
        self.bytes -= _size(item)
        return item


def _size(message: Any) -> int:
    payload = getattr(message, "payload", b"")
    return len(payload) if isinstance(payload, bytes | bytearray | str) else 0


def connect_properties(protocol: aiomqtt.ProtocolVersion) -> Properties | None:
    """CONNECT properties: an MQTT 5 Receive Maximum, so the broker's window is small."""
    if protocol != aiomqtt.ProtocolVersion.V5:
        return None
    props = Properties(PacketTypes.CONNECT)
    props.ReceiveMaximum = RECEIVE_MAXIMUM
    return props


# aiomqtt 2.x has no public API for manual acknowledgements nor for a publish that is not
# awaited, so the three helpers below reach its paho client (``Client._client``); the paho
# methods they call (manual_ack_set, ack, publish) are public.


def manual_acks(client: aiomqtt.Client) -> None:
    """Acknowledge received QoS 1 messages only when :func:`acknowledge` says so (before connect)."""
    client._client.manual_ack_set(True)  # noqa: SLF001


def acknowledge(client: aiomqtt.Client, message: aiomqtt.Message) -> None:
    """PUBACK a message the bridge has taken on (QoS 0 needs none)."""
    if message.qos > 0:
        client._client.ack(message.mid, message.qos)  # noqa: SLF001


def publish_now(client: aiomqtt.Client, topic: str, payload: bytes, properties: Properties | None) -> bool:
    """Queue a QoS 1 publish without waiting for its PUBACK (for answers given from inside the
    receive path, where nothing may await); False when paho refused it."""
    info = client._client.publish(topic, payload, qos=1, retain=False, properties=properties)  # noqa: SLF001
    return info.rc == 0
