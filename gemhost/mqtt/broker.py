"""The embedded MQTT broker (amqtt, MQTT 3.1.1) for sites without one of their own.

It exists so ``gemhost run site.yaml`` works on a bare machine and ``mosquitto_sub`` can
watch it. It only ever binds loopback by default: an open broker on the LAN would let
anyone drive the cameras.

It speaks MQTT 3.1.1 only. No maintained pure-Python broker speaks MQTT 5 today: amqtt 0.12.1
(the current release) refuses protocol level 5 with CONNACK "unacceptable protocol version"
(its MQTT 5 work is open, Yakifo/amqtt issue 174); moat-lib-mqtt speaks only MQTT 5 and calls its
broker fit "only in very lightweight scenarios"; iotcore is a Rust broker. Home Assistant's MQTT
setup defaults to MQTT 5, so a refused MQTT 5 client gets one clear log line saying to choose
3.1.1 (docs/mqtt.md, "Home Assistant").
"""

from __future__ import annotations

import logging
import re
from typing import Any

from amqtt.broker import Broker
from amqtt.errors import BrokerError
from amqtt.session import Session

from gemhost.errors import StartupError

log = logging.getLogger("gemhost.mqtt.broker")


def _not_startup_traceback(record: logging.LogRecord) -> bool:
    """amqtt logs a traceback when its listener cannot bind; the host reports that itself
    in one line (StartupError), so the traceback is dropped."""
    return record.getMessage() != "Broker startup failed"


logging.getLogger("amqtt.broker").addFilter(_not_startup_traceback)

_REFUSED_PROTOCOL = re.compile(
    r"Failed to initialize client session: Invalid protocol from \(client @=(.+?)(?::\d+)?\): (\d+)$")
_told: set[str] = set()


def _explain_refused_protocol(record: logging.LogRecord) -> bool:
    """amqtt refuses an MQTT 5 (or 3.1) CONNECT with two warnings that do not say what to do;
    they become one line naming the fix, once per client address (Home Assistant retries)."""
    message = record.getMessage()
    if message.startswith("Invalid connection from"):
        return False  # always followed by "Failed to initialize client session: <reason>"
    match = _REFUSED_PROTOCOL.match(message)
    if match is None:
        return True
    address, level = match.group(1), match.group(2)
    version = {"5": "MQTT 5", "3": "MQTT 3.1"}.get(level, f"protocol level {level}")
    line = (f"refused an {version} client from {address}: the embedded broker speaks MQTT 3.1.1 only; "
            "in Home Assistant choose protocol 3.1.1 in the MQTT broker's advanced options, or point "
            "mqtt.broker at a broker that speaks MQTT 5 (mosquitto)")
    log.log(logging.WARNING if address not in _told else logging.DEBUG, line)
    _told.add(address)
    return False


logging.getLogger("amqtt.broker").addFilter(_explain_refused_protocol)


class _OwnSubscriptionsBroker(Broker):
    """amqtt with one fix: on every CONNECT, amqtt 0.12 sends the new client the retained
    messages of *every* subscription in the broker, its own or not. A short-lived client
    (``mosquitto_pub``) then sits behind dozens of unsolicited retained messages, and the
    command it published is lost when it disconnects; here a session only gets the retained
    messages of filters it subscribed to itself, as MQTT 3.1.1 (section 3.3.1.3) says."""

    async def _publish_retained_messages_for_subscription(self, subscription: tuple[str, int],
                                                          session: Session) -> None:
        subscribers = self._subscriptions.get(subscription[0], [])
        if any(subscriber is session for subscriber, _qos in subscribers):
            await super()._publish_retained_messages_for_subscription(subscription, session)


class EmbeddedBroker:
    """A started/stopped amqtt broker with one TCP listener; ``port`` is the bound port
    (pass 0 to let the OS choose a free one, as tests do)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.host = host
        self.requested_port = port
        self._broker: Broker | None = None
        self.port: int | None = None

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.requested_port}"}},
            # Anonymous access, no $SYS publisher and no packet logger: the broker is
            # private to this host and its logs would drown ours.
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }

    async def start(self) -> None:
        _told.clear()  # a new broker explains a refused client again
        broker = _OwnSubscriptionsBroker(self._config())
        try:
            await broker.start()
        except BrokerError as exc:
            reason = str(exc.__cause__ or exc).split(": ")[-1]
            raise StartupError(f"cannot start the embedded MQTT broker on {self.host}:{self.requested_port}: "
                               f"{reason} (another broker running? set mqtt.embedded.port, or point "
                               "mqtt.broker at it)") from None
        self._broker = broker
        server = broker._servers["default"]  # amqtt exposes no public accessor for the bound port
        self.port = server.instance.sockets[0].getsockname()[1]
        log.info("embedded MQTT broker listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            try:
                await broker.shutdown()
            except Exception:  # shutting down must never mask the reason we stop
                log.exception("embedded broker shutdown failed")

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"
