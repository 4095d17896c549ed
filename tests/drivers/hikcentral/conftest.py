"""Fixtures of the HikCentral tests: running simulators on loopback."""

from __future__ import annotations

import pytest
from gemhost_drivers.hikcentral.simulator import HikCentralSimulator


@pytest.fixture
async def sim():
    """1200 cameras: more than two pages of 500, the OpenAPI's largest page."""
    simulator = HikCentralSimulator(cameras=1200)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def small_sim():
    simulator = HikCentralSimulator(cameras=30, slow_delay=2.0)
    await simulator.start()
    yield simulator
    await simulator.stop()
