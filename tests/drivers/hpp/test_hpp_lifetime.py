"""HPP reports through the core's real event lifetime (gemhost.testing.FakeDeviceContext) with the
kinds schemas/hpp.yaml declares: what a consumer sees (issue 9's HPP part)."""

from __future__ import annotations

import pytest
from gemhost_drivers.hpp.driver import HppDriver

from gemhost.testing import FakeDeviceContext

ZONES = {"nvr-ch1": "Q10000001:1", "panel": "Q20000001", "ground": "Q20000001:sub:1",
         "front-door": "Q20000001:zone:0", "hall": "Q20000001:zone:1"}


@pytest.fixture
async def lifetime_driver(sim, hpp, tmp_path):
    config = hpp.device_config({"access_mode": "key", "key": hpp.KEY, "domain": sim.url}, ZONES)
    ctx = FakeDeviceContext(config, hpp.SCHEMA, tmp_path, pulse_hold=0.05)
    driver = HppDriver(ctx)
    await driver.connect()
    yield driver, ctx
    await driver.close()


async def test_alarm_ends_by_its_restore_and_its_linkage_is_an_update(lifetime_driver, sim):
    driver, ctx = lifetime_driver
    sim.cloud.arm("Q20000001", 1, "away")
    alarm_id = sim.intrusion("Q20000001", 0)
    await driver.pull_once()
    alarm = next(e for e in ctx.events if e.type == "alarm" and e.state == "active")
    update = next(e for e in ctx.events if e.state == "update")
    assert alarm.id == alarm_id and alarm.kind == "stateful" and alarm.zone == "front-door"
    assert update.event_id == alarm.event_id and update.refers_to == alarm_id and update.zone == "front-door"
    assert ctx.zone_state["front-door"]["active"]["alarm"] is True
    sim.cloud.restore_zone("Q20000001", 0)
    await driver.pull_once()
    ended = [e for e in ctx.events if e.type == "alarm" and e.state == "inactive"]
    assert [(e.event_id, e.ended_by) for e in ended] == [(alarm.event_id, "device")]
    assert ctx.zone_state["front-door"]["active"]["alarm"] is False


async def test_arming_and_disarming_never_publish_an_alarm(lifetime_driver, sim):
    driver, ctx = lifetime_driver
    sim.cloud.arm("Q20000001", 1, "away")
    sim.cloud.disarm("Q20000001", 1)
    sim.cloud.bypass("Q20000001", 1, True)
    await driver.pull_once()
    await ctx.wait_for(lambda: len([e for e in ctx.events if e.state == "inactive"]) == 3)
    assert {e.type for e in ctx.events} == {"arming", "bypass"}
    assert [(e.state, e.kind) for e in ctx.events if e.state == "active"] == [("active", "pulse")] * 3
    assert all(e.ended_by == "pulse" for e in ctx.events if e.state == "inactive")
    assert ctx.zone_state["ground"]["arming"] == "disarmed" and ctx.zone_state["hall"]["bypassed"] is True


async def test_a_camera_event_goes_inactive_by_pulse_hold(lifetime_driver, sim):
    driver, ctx = lifetime_driver
    motion_id = sim.event("Q10000001", "VMD")
    await driver.pull_once()
    await ctx.wait_for(lambda: ctx.zone_state["nvr-ch1"]["active"].get("motion") is False)
    active, inactive = [e for e in ctx.events if e.type == "motion"]
    assert (active.state, active.kind, active.id) == ("active", "pulse", motion_id)
    assert (inactive.state, inactive.ended_by, inactive.event_id) == ("inactive", "pulse", active.event_id)


async def test_disk_error_ends_by_disk_recover(lifetime_driver, sim):
    driver, ctx = lifetime_driver
    sim.event("Q10000001", "diskerror")
    sim.event("Q10000001", "diskrecover")
    await driver.pull_once()
    active, inactive = [e for e in ctx.events if e.type == "disk_error"]
    assert (active.state, inactive.state, inactive.ended_by) == ("active", "inactive", "device")
    assert active.event_id == inactive.event_id and inactive.vendor_type == "diskrecover"
