"""Fixtures for the HPP driver tests: a real simulator on loopback and a fake DeviceContext.

The context records what the driver reports and hands out emit_event futures the test can
leave pending (broker outage) or resolve (broker ack), which is what consume-after-ack needs.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from gemhost_drivers.hpp.driver import HppDriver
from gemhost_drivers.hpp.simulator import HppSimulator

from gemhost.model import DeviceConfig, DeviceInfo, Event, ZoneConfig
from gemhost.schema import load_schema, mapping_validator

KEY = "hpp-key-3f1c9a7be0d24e55a1"
AK = "A" * 10 + "1" * 22
SK = "S" * 10 + "2" * 22
SCHEMA = load_schema(HppDriver.schema_path)
GUIDE = Path(__file__).parent / "guide"


def guide_text(name: str) -> str:
    """An example body of the vendor's guide (see guide/SOURCES.md for the section of each)."""
    return (GUIDE / name).read_text(encoding="utf-8")


def guide_json(name: str) -> Any:
    return json.loads(guide_text(name))


class FakeCtx:
    """A DeviceContext whose broker acks are under the test's control."""

    def __init__(self, device: DeviceConfig, state_dir: Path, *, auto_ack: bool = True) -> None:
        self.device = device
        self.log = logging.LoggerAdapter(logging.getLogger("tests.hpp"), {})
        self.state_dir = state_dir
        self.site_path = None
        self.auto_ack = auto_ack
        self.events: list[Event] = []
        self.futures: list[asyncio.Future[None]] = []
        self.zone_state: dict[str, dict[str, Any]] = {}
        self.added_zones: list[dict[str, Any]] = []
        self.info: DeviceInfo | None = None
        self.progress: list[tuple[int, int | None, str]] = []
        self.events_wanted = True

    def emit_event(self, event: Event) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.events.append(event)
        self.futures.append(fut)
        if self.auto_ack:
            fut.set_result(None)
        return fut

    def ack_all(self) -> None:
        for fut in self.futures:
            if not fut.done():
                fut.set_result(None)

    def set_zone_state(self, zone: str, **fields: Any) -> None:
        self.zone_state.setdefault(zone, {}).update(fields)

    def set_device_info(self, info: DeviceInfo) -> None:
        self.info = info

    def report_progress(self, done: int, total: int | None, what: str) -> None:
        self.progress.append((done, total, what))

    async def add_zones(self, zones: list[dict[str, Any]]) -> list[str]:
        self.added_zones.extend(zones)
        return [z["id"] for z in zones]


def device_config(attrs: dict[str, Any], zones: dict[str, str] | None = None) -> DeviceConfig:
    """A DeviceConfig validated by the real schema (defaults filled in, secrets wrapped)."""
    checked = mapping_validator(SCHEMA.device)(attrs)
    zone_schema = mapping_validator(SCHEMA.zone)
    zone_cfgs = {
        zid: ZoneConfig(id=zid, name=zid, attributes=zone_schema({"address": addr}))
        for zid, addr in (zones or {}).items()
    }
    return DeviceConfig(id="hpp1", driver="hpp", name="HPP account", attributes=checked, zones=zone_cfgs)


@pytest.fixture
def hpp() -> SimpleNamespace:
    """Shared constants and helpers (a fixture, because test dirs have no packages to import from)."""
    return SimpleNamespace(KEY=KEY, AK=AK, SK=SK, FakeCtx=FakeCtx, device_config=device_config, SCHEMA=SCHEMA,
                           text=guide_text, json=guide_json)


@pytest.fixture
async def sim():
    simulator = HppSimulator(key=KEY, access_key=AK, secret_key=SK, long_poll=0.05, token_ttl=3600)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def make_driver(sim, tmp_path):
    """Build drivers against the simulator; all of them are closed at teardown."""
    made: list[HppDriver] = []

    def build(
        zones: dict[str, str] | None = None,
        *,
        state_dir: Path | None = None,
        auto_ack: bool = True,
        **attrs: Any,
    ) -> tuple[HppDriver, FakeCtx]:
        base = {"access_mode": "key", "key": KEY, "domain": sim.url}
        base.update(attrs)
        base = {k: v for k, v in base.items() if v is not None}
        ctx = FakeCtx(device_config(base, zones), state_dir or tmp_path / "state", auto_ack=auto_ack)
        driver = HppDriver(ctx)
        driver.BACKOFF_BASE = 0.01
        driver.BACKOFF_MAX = 0.05
        made.append(driver)
        return driver, ctx

    yield build
    for driver in made:
        await driver.close()
