"""The contract between the host and a driver.

One :class:`Driver` instance serves one device of the site file. The host owns timing
(liveness polls, timeouts, back-off, reloads) and state; the driver only talks to its
device and reports what it learns through the :class:`DeviceContext` it is given.
A driver never imports anything from MQTT: events and zone state go through the context.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path
from typing import Any, ClassVar, Protocol

from gemhost.attributes import device_view, zone_view
from gemhost.errors import NotSupported
from gemhost.model import DeviceConfig, DeviceInfo, Event, ZoneConfig
from gemhost.schema import DriverSchema, load_schema


class DeviceContext(Protocol):
    """What the host hands a driver. Implemented by the host's device runner."""

    device: DeviceConfig
    log: logging.LoggerAdapter
    state_dir: Path
    """A folder private to this device that survives restarts (e.g. an account binding)."""
    site_path: Path | None
    """The site file the device came from, when there is one."""
    events_wanted: bool
    """False in one-shot hosts (``gemhost call``/``import``): do not subscribe to event
    services, or a short-lived CLI would take a VMS's push destination from the running host."""

    def emit_event(self, event: Event) -> asyncio.Future[None]:
        """Report what the device said (``event.state``: active, inactive, pulse, update);
        the core's event lifetime decides what is published (docs/mqtt.md, "Event
        lifetime"). The future resolves once every durable sink (the MQTT broker at QoS 1)
        has accepted what this report published; await it only when you must know that."""

    def end_open_events(self, reason: str = "offline") -> None:
        """End every open condition of this device: call it when the event stream broke, so
        an end the device sent while disconnected cannot leave a zone on."""

    def set_zone_state(self, zone: str, **fields: Any) -> None:
        """Merge driver-specific fields into a zone's published state (stream URL, arming,
        bypassed, ...). Activity is not among them: the core owns the ``active`` map."""

    def set_device_info(self, info: DeviceInfo) -> None:
        """Update what the device says about itself outside a connect/poll."""

    def report_progress(self, done: int, total: int | None, what: str) -> None:
        """Progress of a long command (an import of thousands of cameras), shown by the CLI
        and logged; cheap enough to call once per page."""

    async def add_zones(self, zones: list[dict[str, Any]]) -> list[str]:
        """Append zones (``{"id", "name", "attributes"}``) to this device in the site file,
        comment-preserving and with a backup, then reload; returns the ids written."""


class Driver:
    """Base class of every driver. Subclass it and set ``name`` and ``schema_path``.

    Commands are methods named ``cmd_<command>(self, args, zone)``; ``args`` is already
    validated against the schema (defaults filled in) and ``zone`` is the addressed
    :class:`ZoneConfig` for zone-scoped commands (None when the address matches no zone).
    Return a JSON-serialisable dict. Raise the errors of :mod:`gemhost.errors`.
    """

    name: ClassVar[str]
    """Driver id used in site files (``driver: hikvision_isapi``)."""
    schema_path: ClassVar[Path]
    """The driver's schema YAML (attributes and commands), shipped with the package."""
    version: ClassVar[str] = "0"

    def __init__(self, ctx: DeviceContext) -> None:
        self.ctx = ctx
        self.device = ctx.device
        self.attrs = ctx.device.attributes
        self.log = ctx.log

    @classmethod
    def schema(cls) -> DriverSchema:
        """The driver's schema as the host loaded it (read once per schema file)."""
        return _schema_at(str(cls.schema_path))

    @property
    def settings(self) -> Any:
        """The device's attributes as a typed, frozen view generated from the schema: every
        declared attribute is a field (``self.settings.timeout``), defaults filled in, and a
        misspelt name raises AttributeError instead of falling back to a silent default."""
        return device_view(self.schema(), self.device.attributes)

    def zone_settings(self, zone: ZoneConfig) -> Any:
        """The typed view of one zone's attributes (``self.zone_settings(zone).address``)."""
        return zone_view(self.schema(), zone.attributes)

    async def connect(self) -> DeviceInfo | None:
        """Open sessions and prove the device answers; return what it says about itself.
        Raise :class:`~gemhost.errors.AuthError` on rejected credentials."""
        return None

    async def poll(self) -> DeviceInfo | None:
        """One liveness check, called every ``status_interval`` while connected."""
        return await self.connect()

    def last_traffic(self) -> float | None:
        """When the device last sent something unasked on an authenticated channel (a byte of
        its event stream), in ``asyncio`` loop time; None when it did not. While this is
        younger than ``status_interval`` the host skips the liveness poll (the device just
        proved it answers), polling still every few intervals (``runner.TRAFFIC_REFRESH_TICKS``)
        to refresh the device's info. Return only traffic the device itself sent: a cloud's
        or a server's traffic proves nothing about the device behind it."""
        return None

    async def run_events(self) -> None:
        """Long-running event loop (own reconnects and back-off); return when the
        device has no event stream. Cancelled by the host on stop."""

    async def close(self) -> None:
        """Release sessions and subscriptions; must not raise."""

    async def zones_changed(self) -> None:
        """The site file changed only this device's zones (an import, an edit): ``self.device``
        already holds the new zones. The connection stays up; by default one poll refreshes
        the zone states. Override when zone state can be derived without asking the device."""
        await self.poll()

    async def diagnostics(self) -> dict[str, Any]:
        """The device's raw responses for a bug report (``gemhost diagnose``), in the capture
        format of the test fixtures (``{"data": {"<API>": {"<path>": {"response": ...} |
        {"status_code": N}}}}``). The host removes secrets before writing it. Override it
        where the device has such an API; never more than one refused login per capture."""
        raise NotSupported(f"driver {self.name} cannot capture diagnostics")

    async def command(self, name: str, args: dict[str, Any], zone: ZoneConfig | None) -> Any:
        handler = getattr(self, f"cmd_{name}", None)
        if handler is None:
            raise NotSupported(f"driver {self.name} does not implement {name}")
        return await handler(args, zone)


@functools.cache
def _schema_at(path: str) -> DriverSchema:
    return load_schema(Path(path))
