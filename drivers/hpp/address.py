"""Zone addresses of the HPP driver: one string attribute names a device, channel or panel part.

The schema's ``zone_key`` must be a single attribute, and an HPP zone can be a whole device, a
camera channel of a recorder, or a subsystem or zone of an AX PRO panel. One readable string
covers all four without extra attributes that could disagree with each other:

* ``Q12345678``         the device itself (a camera or a panel)
* ``Q12345678:3``       camera channel 3 of that device
* ``Q12345678:sub:1``   subsystem (partition) 1 of a panel
* ``Q12345678:zone:5``  alarm zone 5 of a panel
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gemhost.errors import InvalidArgs
from gemhost.model import ZoneConfig

PATTERN = r"[A-Za-z0-9]{9}(:([0-9]{1,3}|sub:[0-9]{1,3}|zone:[0-9]{1,3}))?"
_RE = re.compile(PATTERN)

DEVICE, CHANNEL, SUBSYSTEM, ZONE = "device", "channel", "sub", "zone"


@dataclass(frozen=True)
class Address:
    serial: str
    kind: str = DEVICE
    number: int | None = None

    def __str__(self) -> str:
        if self.kind == DEVICE:
            return self.serial
        if self.kind == CHANNEL:
            return f"{self.serial}:{self.number}"
        return f"{self.serial}:{self.kind}:{self.number}"

    @property
    def channel(self) -> int:
        """The camera channel addressed; a bare device address means channel 1."""
        return self.number if self.kind == CHANNEL and self.number else 1


def parse(text: str) -> Address:
    text = str(text).strip()
    if not _RE.fullmatch(text):
        raise InvalidArgs(f"address {text!r} is not SERIAL, SERIAL:CHANNEL, SERIAL:sub:N or SERIAL:zone:N")
    serial, _, rest = text.partition(":")
    serial = serial.upper()
    if not rest:
        return Address(serial)
    if rest.isdigit():
        return Address(serial, CHANNEL, int(rest))
    kind, _, number = rest.partition(":")
    return Address(serial, kind, int(number))


def target(args: dict[str, Any], zone: ZoneConfig | None) -> Address:
    """The address a zone command acts on: the zone's own address when the host resolved one
    (the one a token was checked against), the caller's ``address`` only when no zone matched
    (which only a token for the whole connection may send)."""
    own = zone.attributes.get("address") if zone is not None else None
    return parse(own if own is not None else args["address"])


def whole_device(address: Address, command: str) -> Address:
    """``address`` when it names a device itself. Commands whose effect is device-wide (relay
    outputs, sirens, locks, triggers, a camera's alarm subscription) refuse a channel or panel
    part: acting through it would reach beyond the zone it names."""
    if address.kind != DEVICE:
        raise InvalidArgs(f"{command} acts on the whole device {address.serial}: address the device "
                          f"({address.serial}), not {address}")
    return address


def zone_id(address: Address) -> str:
    """A site-file zone id for an imported address (lower-case slug)."""
    base = address.serial.lower()
    if address.kind == DEVICE:
        return base
    if address.kind == CHANNEL:
        return f"{base}-ch{address.number}"
    return f"{base}-{address.kind}{address.number}"
