"""Every MQTT topic of the public contract, built in one place.

Consumers script against these names (see docs/mqtt.md), so building them anywhere else would
let the contract drift; the bridge, discovery and tests all use this module.
"""

from __future__ import annotations

from dataclasses import dataclass

HOST = "host"
"""The reserved first level under ``<base>`` for the host itself (no device may use it)."""


@dataclass(frozen=True)
class CommandTopic:
    """A parsed ``<base>/<target>/cmd/<command>`` topic; target is a device id or ``host``."""

    target: str
    command: str


@dataclass(frozen=True)
class Topics:
    base: str
    discovery_prefix: str = "homeassistant"

    # ---- host
    @property
    def host_status(self) -> str:
        return f"{self.base}/{HOST}/status"

    @property
    def host_state(self) -> str:
        return f"{self.base}/{HOST}/state"

    # ---- devices and zones
    def availability(self, device: str) -> str:
        return f"{self.base}/{device}/availability"

    def device_state(self, device: str) -> str:
        return f"{self.base}/{device}/state"

    def zone_state(self, device: str, zone: str) -> str:
        return f"{self.base}/{device}/{zone}/state"

    def snapshot(self, device: str, zone: str) -> str:
        return f"{self.base}/{device}/{zone}/snapshot"

    def event(self, device: str, zone: str | None) -> str:
        return f"{self.base}/{device}/{zone}/event" if zone else f"{self.base}/{device}/event"

    # ---- commands
    @property
    def command_filter(self) -> str:
        """One subscription covers device and host commands; replies are one level deeper."""
        return f"{self.base}/+/cmd/+"

    def command(self, target: str, command: str) -> str:
        return f"{self.base}/{target}/cmd/{command}"

    @staticmethod
    def reply(request_topic: str) -> str:
        return f"{request_topic}/reply"

    def response_topic_refusal(self, topic: str, request_topic: str, allowed: tuple[str, ...] = ()) -> str | None:
        """Why an MQTT 5 response topic is refused, or None when the reply may go there.

        A requester must not make gemhost publish into its own tree (a device's availability,
        a state) or the discovery prefix (a Home Assistant config): that would let anyone who
        can send a request, token or not, write there with gemhost's authority."""
        if topic == self.reply(request_topic):
            return None
        if any(ch in topic for ch in "+#\0"):
            return "contains a wildcard"
        if topic.startswith("$"):
            return "is reserved for the broker ($...)"
        for tree in (self.base, self.discovery_prefix):
            if topic == tree or topic.startswith(tree + "/"):
                return f"is inside {tree}/#, where only gemhost publishes"
        if allowed and not any(topic.startswith(prefix) for prefix in allowed):
            return f"is outside mqtt.response_topics ({', '.join(allowed)})"
        return None

    def parse_command(self, topic: str) -> CommandTopic | None:
        prefix = self.base + "/"
        if not topic.startswith(prefix):
            return None
        parts = topic[len(prefix):].split("/")
        if len(parts) != 3 or parts[1] != "cmd" or not parts[0] or not parts[2]:
            return None
        return CommandTopic(parts[0], parts[2])

    # ---- Home Assistant
    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"

    def discovery(self, site: str, device: str) -> str:
        return f"{self.discovery_prefix}/device/{site}_{device}/config"
