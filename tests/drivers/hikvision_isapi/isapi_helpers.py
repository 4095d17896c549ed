"""Shared helpers of the Hikvision ISAPI tests: a fake DeviceContext and site-file devices.

The fake context records what the driver reports (events, zone state, device info) the way
the host would receive it; attributes go through the real schema so defaults are the real
ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import pytest
from gemhost_drivers.hikvision_isapi.simulator import IsapiSimulator

from gemhost.model import DeviceConfig, Event, Secret, ZoneConfig
from gemhost.schema import bundled_schema, load_schema, mapping_validator

REPO = Path(__file__).resolve().parents[3]
CAPTURES = (REPO / ".." / "shared" / "fixtures" / "isapi-captures").resolve()
SCHEMA = load_schema(bundled_schema("hikvision_isapi"))


def captures() -> Path:
    if not (CAPTURES / "devices").is_dir():
        pytest.skip(f"real ISAPI captures not found at {CAPTURES} (shared fixtures folder beside the repo)")
    return CAPTURES


class FakeContext:
    """Records what a driver tells the host."""

    def __init__(self, device: DeviceConfig, tmp: Path) -> None:
        self.device = device
        self.log = logging.LoggerAdapter(logging.getLogger(f"test.isapi.{device.id}"), {})
        self.state_dir = tmp
        self.site_path = None
        self.events: list[Event] = []
        self.zone_state: dict[str, dict[str, Any]] = {}
        self.infos: list[Any] = []
        self.changed = asyncio.Event()

    def emit_event(self, event: Event) -> asyncio.Future[None]:
        self.events.append(event)
        self.changed.set()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    def set_zone_state(self, zone: str, **fields: Any) -> None:
        self.zone_state.setdefault(zone, {}).update(fields)

    def set_device_info(self, info) -> None:
        self.infos.append(dict(info.extra))
        self.changed.set()

    async def add_zones(self, zones):
        raise NotImplementedError("not used by this driver")

    async def wait_for(self, predicate, timeout: float = 10.0) -> None:
        """Wait until predicate() holds (a bound against hangs, not a timing assertion)."""
        async def loop() -> None:
            while not predicate():
                self.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), 0.05)
        await asyncio.wait_for(loop(), timeout)


def make_device(sim: IsapiSimulator | None = None, zones: dict[str, dict[str, Any]] | None = None,
                **attrs: Any) -> DeviceConfig:
    raw: dict[str, Any] = {"ip": "127.0.0.1", "username": "admin", "password": Secret("sim-password")}
    if sim is not None:
        raw.update(port=sim.port, scheme="https" if sim.https else "http")
    raw.update(attrs)
    values = mapping_validator(SCHEMA.device)(raw)
    zone_cfgs = {zid: ZoneConfig(zid, zid, mapping_validator(SCHEMA.zone)(za)) for zid, za in (zones or {}).items()}
    return DeviceConfig("dev1", "hikvision_isapi", "Device", values, zone_cfgs)
