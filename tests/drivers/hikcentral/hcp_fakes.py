"""The DeviceContext of the HikCentral driver tests (the core's fake, with the real lifetime)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from gemhost_drivers.hikcentral.driver import HikCentralDriver

from gemhost.model import DeviceConfig, Event, Secret, ZoneConfig
from gemhost.schema import load_schema
from gemhost.testing import FakeDeviceContext


class FakeContext(FakeDeviceContext):
    """The core's fake context (reports run through the real event lifetime with the
    HikCentral schema: ``reports`` is what the driver said, ``events`` what is published),
    plus add_zones that updates the device the way the host's reload does."""

    def __init__(self, device: DeviceConfig, state_dir: Path | None = None, pulse_hold: float = 5.0) -> None:
        super().__init__(device, load_schema(HikCentralDriver.schema_path), state_dir, pulse_hold=pulse_hold)
        self.event_arrived = asyncio.Event()

    @property
    def added(self) -> list[dict[str, Any]]:
        return self.added_zones

    def emit_event(self, event: Event) -> asyncio.Future[None]:
        delivered = super().emit_event(event)
        self.event_arrived.set()
        return delivered

    async def add_zones(self, zones: list[dict[str, Any]]) -> list[str]:
        """Like the host: the zones are written, then the device sees them (a reload)."""
        ids = await super().add_zones(zones)
        for z in zones:
            self.device.zones[z["id"]] = ZoneConfig(id=z["id"], name=z["name"], attributes=z["attributes"])
        return ids


def zone(zone_id: str, code: str, name: str = "", **extra: Any) -> ZoneConfig:
    attrs = {"camera": code, "stream": "main", "camera_name": name or zone_id, **extra}
    return ZoneConfig(id=zone_id, name=name or zone_id, attributes=attrs)


def device(url: str, zones: list[ZoneConfig] | None = None, **attrs: Any) -> DeviceConfig:
    base = {"url": url, "app_key": "sim-app-key", "app_secret": Secret("sim-app-secret"),
            "verify_tls": False, "timeout": 5.0, "events": True, "event_listen_host": "127.0.0.1",
            "event_listen_port": 0, "publish_stream_url": False, "stream_protocol": "rtsp",
            "stream_url_ttl": 300}
    base.update(attrs)
    return DeviceConfig(id="hcp", driver="hikcentral", name="HCP", attributes=base,
                        zones={z.id: z for z in zones or []})


def make_driver(sim: Any, zones: list[ZoneConfig] | None = None, state_dir: Path | None = None,
                pulse_hold: float = 5.0, **attrs: Any):
    ctx = FakeContext(device(sim.url, zones, **attrs), state_dir, pulse_hold)
    return HikCentralDriver(ctx), ctx
