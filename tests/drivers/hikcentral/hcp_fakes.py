"""A small fake DeviceContext for the HikCentral driver tests (records what the driver reports)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from gemhost_drivers.hikcentral.driver import HikCentralDriver

from gemhost.model import DeviceConfig, DeviceInfo, Event, Secret, ZoneConfig


class FakeContext:
    """Collects events, zone states and added zones; add_zones also updates the device."""

    def __init__(self, device: DeviceConfig, state_dir: Path | None = None) -> None:
        self.device = device
        self.log = logging.LoggerAdapter(logging.getLogger("test.hcp"), {})
        self.state_dir = state_dir or Path("/nonexistent")
        self.site_path = None
        self.events: list[Event] = []
        self.zone_state: dict[str, dict[str, Any]] = {}
        self.added: list[dict[str, Any]] = []
        self.progress: list[tuple[int, int | None, str]] = []
        self.infos: list[DeviceInfo] = []
        self.event_arrived = asyncio.Event()

    def emit_event(self, event: Event) -> asyncio.Future[None]:
        self.events.append(event)
        self.event_arrived.set()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    def set_zone_state(self, zone: str, **fields: Any) -> None:
        self.zone_state.setdefault(zone, {}).update(fields)

    def set_device_info(self, info: DeviceInfo) -> None:
        self.infos.append(info)

    def report_progress(self, done: int, total: int | None, what: str) -> None:
        self.progress.append((done, total, what))

    async def add_zones(self, zones: list[dict[str, Any]]) -> list[str]:
        """Like the host: the zones are written, then the device sees them (a reload)."""
        self.added.extend(zones)
        for z in zones:
            self.device.zones[z["id"]] = ZoneConfig(id=z["id"], name=z["name"], attributes=z["attributes"])
        return [z["id"] for z in zones]


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


def make_driver(sim: Any, zones: list[ZoneConfig] | None = None, state_dir: Path | None = None, **attrs: Any):
    ctx = FakeContext(device(sim.url, zones, **attrs), state_dir)
    return HikCentralDriver(ctx), ctx
