"""Fixtures of the Hikvision ISAPI tests (helpers live in isapi_helpers.py, a unique name,
because several driver test folders may each have a conftest.py)."""

from __future__ import annotations

import pytest
from gemhost_drivers.hikvision_isapi.driver import IsapiDriver
from gemhost_drivers.hikvision_isapi.simulator import IsapiSimulator
from isapi_helpers import FakeContext

from gemhost.model import DeviceConfig


@pytest.fixture
async def sim():
    s = IsapiSimulator(channels=4, heartbeat=0.3)
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def driver_factory(tmp_path):
    made = []

    def build(device: DeviceConfig):
        ctx = FakeContext(device, tmp_path)
        drv = IsapiDriver(ctx)
        made.append(drv)
        return drv, ctx

    yield build
    for drv in made:
        await drv.close()


@pytest.fixture
async def nvr_sim():
    s = IsapiSimulator(kind="nvr", channels=4, heartbeat=0.3)
    await s.start()
    yield s
    await s.stop()
