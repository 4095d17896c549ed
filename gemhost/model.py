"""Plain data shared by the host, the drivers and the MQTT bridge."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any

KNOWN_SECRETS: set[str] = set()
"""Every secret value seen; the log formatter masks them wherever they turn up."""


def mask_secrets(text: str, mask: str = "***") -> str:
    """``text`` with every known secret value replaced: the last line of defence for log
    lines, device errors and command replies built from driver or exception text."""
    for secret in sorted(KNOWN_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, mask)
    return text


class Secret:
    """A secret attribute value (password, key, token) that refuses to print itself.

    Not a ``str`` subclass on purpose: an f-string or ``json.dumps`` of it cannot leak the
    value by accident; drivers call :meth:`reveal` exactly where the wire needs it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = str(value)
        if len(self._value) >= 3:
            KNOWN_SECRETS.add(self._value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)


def reveal(value: Any) -> Any:
    """The plain value of a possibly-secret attribute."""
    return value.reveal() if isinstance(value, Secret) else value


@dataclass(frozen=True)
class ZoneConfig:
    """One zone of a device as the site file declares it (attributes validated, defaults in)."""

    id: str
    name: str
    attributes: dict[str, Any]
    line: int | None = None

    def __hash__(self) -> int:
        return hash(self.id)


@dataclass(frozen=True)
class DeviceConfig:
    """One device of the site file; equality drives the reload diff."""

    id: str
    driver: str
    name: str
    attributes: dict[str, Any]
    zones: dict[str, ZoneConfig] = field(default_factory=dict)
    line: int | None = None
    area: str | None = None
    """Where the device is (Home Assistant's suggested area)."""

    def __hash__(self) -> int:
        return hash(self.id)

    def same_except_zones(self, other: DeviceConfig) -> bool:
        """True when only the zones differ: the running connection can be kept."""
        return (self.id, self.driver, self.name, self.area, _freeze(self.attributes)) == \
            (other.id, other.driver, other.name, other.area, _freeze(other.attributes))

    def same_as(self, other: DeviceConfig) -> bool:
        """True when nothing that matters to the running device changed (line numbers don't)."""

        def key(d: DeviceConfig) -> tuple:
            zones = tuple(sorted((z.id, z.name, _freeze(z.attributes)) for z in d.zones.values()))
            return (d.id, d.driver, d.name, d.area, _freeze(d.attributes), zones)

        return key(self) == key(other)


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass
class DeviceInfo:
    """What a device says about itself; every field optional because firmware varies."""

    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    manufacturer: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in (("manufacturer", self.manufacturer), ("model", self.model),
                                 ("firmware", self.firmware), ("serial", self.serial)) if v}
        out.update({k: v for k, v in self.extra.items() if v is not None})
        return out


# Device status values.
CONNECTING = "connecting"
ONLINE = "online"
OFFLINE = "offline"
AUTH_FAILED = "auth_failed"
STOPPED = "stopped"


@dataclass
class DeviceState:
    """The host's view of one device, published as ``<base>/<device>/state``."""

    driver: str
    status: str = CONNECTING
    since: dt.datetime = field(default_factory=lambda: now())
    last_error: str | None = None
    info: DeviceInfo = field(default_factory=DeviceInfo)

    @property
    def online(self) -> bool:
        return self.status == ONLINE

    def as_dict(self) -> dict[str, Any]:
        return {
            "driver": self.driver,
            "online": self.online,
            "status": self.status,
            "since": self.since.isoformat(),
            "last_error": self.last_error,
            "info": self.info.as_dict(),
        }


# What a driver says the device reported (Event.state on the way in; see gemhost/lifetime.py).
REPORT_STATES = ("active", "inactive", "pulse", "update")


@dataclass
class Event:
    """One normalized event from a device.

    ``type`` is the normalized name (motion, line_crossing, intrusion, tamper, io,
    video_loss, disk_error, ...); ``vendor_type`` is what the device called it.
    ``zone`` is a zone id of the device, or None for a device-level event.
    ``id`` is a vendor event id when there is one (drivers use it to suppress duplicates).

    A driver fills in what the device said: ``state`` is one of :data:`REPORT_STATES`,
    ``key`` tells sub-conditions of one zone and type apart (an ISAPI region, a panel zone),
    ``refers_to`` names the vendor id an ``update`` belongs to. The core's event lifetime
    then sets ``event_id``, ``kind``, ``ended_by`` and ``repeats`` on what it publishes.
    """

    type: str
    vendor_type: str
    state: str = "active"
    time: dt.datetime = field(default_factory=lambda: now())
    zone: str | None = None
    channel: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    key: Any = None
    refers_to: str | None = None
    event_id: str | None = None
    kind: str | None = None
    ended_by: str | None = None
    repeats: int | None = None

    def evolve(self, **changes: Any) -> Event:
        """A copy with ``changes`` applied. ``dataclasses.replace`` runs ``__init__`` over every
        field again, a visible cost when the core copies each event twice at 1,000 events/s."""
        unknown = changes.keys() - _EVENT_FIELDS
        if unknown:
            raise TypeError(f"Event has no field {sorted(unknown)[0]!r}")
        copy = object.__new__(Event)
        copy.__dict__ = {**self.__dict__, **changes}
        return copy

    def as_dict(self, device: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "vendor_type": self.vendor_type,
            "state": self.state,
            "time": self.time.isoformat(),
            "device": device,
            "zone": self.zone,
            "channel": self.channel,
            "data": self.data,
        }
        for name in ("id", "event_id", "kind", "ended_by", "repeats", "refers_to"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


_EVENT_FIELDS = frozenset(f.name for f in fields(Event))


def now() -> dt.datetime:
    """Local time with its UTC offset, the form every timestamp in payloads uses."""
    return dt.datetime.now().astimezone()
