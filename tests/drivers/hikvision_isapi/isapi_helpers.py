"""Shared helpers of the Hikvision ISAPI tests: a fake DeviceContext and site-file devices.

The fake context records what the driver reports (events, zone state, device info) the way
the host would receive it; attributes go through the real schema so defaults are the real
ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gemhost_drivers.hikvision_isapi.simulator import IsapiSimulator

from gemhost.model import DeviceConfig, Secret, ZoneConfig
from gemhost.schema import bundled_schema, load_schema, mapping_validator
from gemhost.testing import FakeDeviceContext

REPO = Path(__file__).resolve().parents[3]
CAPTURES = (REPO / ".." / "shared" / "fixtures" / "isapi-captures").resolve()
SCHEMA = load_schema(bundled_schema("hikvision_isapi"))


def captures() -> Path:
    if not (CAPTURES / "devices").is_dir():
        pytest.skip(f"real ISAPI captures not found at {CAPTURES} (shared fixtures folder beside the repo)")
    return CAPTURES


class FakeContext(FakeDeviceContext):
    """Records what the driver reports and what the core's event lifetime publishes;
    ``infos`` keeps each device info's extra fields (stream state and the like)."""

    def __init__(self, device: DeviceConfig, tmp: Path) -> None:
        super().__init__(device, SCHEMA, tmp)

    def set_device_info(self, info) -> None:
        self.infos.append(dict(info.extra))
        self.changed.set()


def make_device(sim: IsapiSimulator | None = None, zones: dict[str, dict[str, Any]] | None = None,
                **attrs: Any) -> DeviceConfig:
    raw: dict[str, Any] = {"ip": "127.0.0.1", "username": "admin", "password": Secret("sim-password")}
    if sim is not None:
        raw.update(port=sim.port, scheme="https" if sim.https else "http")
    raw.update(attrs)
    values = mapping_validator(SCHEMA.device)(raw)
    zone_cfgs = {zid: ZoneConfig(zid, zid, mapping_validator(SCHEMA.zone)(za)) for zid, za in (zones or {}).items()}
    return DeviceConfig("dev1", "hikvision_isapi", "Device", values, zone_cfgs)
