"""Issue 10 items 1-3 end to end inside the driver: the simulator sends what real firmware sends,
the driver reports it, and the core's real event lifetime (FakeContext runs
gemhost.lifetime.EventLifetime with this driver's schema) turns it into conditions."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from isapi_helpers import make_device

from gemhost.testing import until


@pytest.fixture
async def streaming(nvr_sim, driver_factory):
    """(simulator, driver, context) with the NVR's alertStream open; zones on channels 1-2."""
    drv, ctx = driver_factory(make_device(nvr_sim, {"gate": {"address": 1}, "yard": {"address": 2}},
                                          event_quiet_time=60000))
    await drv.connect()
    task = asyncio.create_task(drv.run_events())
    await until(lambda: nvr_sim.open_streams == 1)
    yield nvr_sim, drv, ctx
    task.cancel()


async def test_one_hundred_crossings_are_one_hundred_conditions(streaming):
    """Item 1: each crossing is two region-1 active parts and a regionless inactive part (the
    real linedetection shape); with the quiet time far away, every condition is ended by the
    device, none merges into the next."""
    sim, _, ctx = streaming
    for batch in range(10):
        for _ in range(10):
            sim.trigger_event(2, "linedetection", repeat=2, interval=0, end=True)
        await ctx.wait_for(lambda b=batch: len(ctx.events) == 20 * (b + 1))
    assert Counter(e.state for e in ctx.events) == {"active": 100, "inactive": 100}
    assert {e.ended_by for e in ctx.events if e.state == "inactive"} == {"device"}
    assert len({e.event_id for e in ctx.events}) == 100
    assert all((e.zone, e.type, e.kind) == ("yard", "line_crossing", "repeating") for e in ctx.events)
    # what the driver reported: region 1 on the starts and repeats, no key on the ends
    assert Counter((r.state, r.key) for r in ctx.reports) == {("active", "1"): 200, ("inactive", None): 100}
    assert ctx.zone_state["yard"]["active"] == {"line_crossing": False}


async def test_duration_follow_up_is_not_a_second_intrusion(streaming):
    """Item 2: firmware that follows the region alert with a duration part: one start, one end."""
    sim, _, ctx = streaming
    sim.trigger_event(1, "fielddetection", repeat=2, interval=0, end=True, follow_up=True)
    await ctx.wait_for(lambda: any(e.state == "inactive" for e in ctx.events))
    assert [(e.type, e.state, e.zone) for e in ctx.events] == [("intrusion", "active", "gate"),
                                                               ("intrusion", "inactive", "gate")]
    assert ctx.events[1].repeats == 2 and ctx.events[1].ended_by == "device"
    follow = [r for r in ctx.reports if r.vendor_type == "fielddetection" and "relationEvent" in r.data]
    assert len(follow) == 1 and (follow[0].state, follow[0].key) == ("active", "1")


async def test_two_swipes_within_the_quiet_time_are_two_events(streaming):
    """Item 3: AccessControllerEvent alerts are pulses with their serialNo, every nested field
    in the data; the core ends each after pulse_hold."""
    sim, _, ctx = streaming
    ctx.lifetime.pulse_hold = 0.2
    sim.trigger_access("4455667788", employee_no="E-17")
    sim.trigger_access("9988776655", employee_no="E-18")
    await ctx.wait_for(lambda: len(ctx.events) == 4)
    starts = [e for e in ctx.events if e.state == "active"]
    assert [(e.type, e.kind, e.id) for e in starts] == [("access_control", "pulse", "1001"),
                                                        ("access_control", "pulse", "1002")]
    assert starts[0].event_id != starts[1].event_id
    assert {e.ended_by for e in ctx.events if e.state == "inactive"} == {"pulse"}
    data = starts[0].data
    assert (data["cardNo"], data["employeeNoString"], data["majorEventType"], data["subEventType"],
            data["serialNo"]) == ("4455667788", "E-17", 5, 1, 1001)
    assert starts[0].zone == "gate"  # channelID 1 of the terminal


async def test_a_reconnect_ends_what_is_open(streaming):
    """An end sent while the stream was down is lost: the core ends open conditions as offline."""
    sim, _, ctx = streaming
    sim.trigger_event(1, "VMD")
    await ctx.wait_for(lambda: ctx.events)
    sim.set_fault("drop_stream")
    await ctx.wait_for(lambda: len(ctx.events) == 2)
    assert (ctx.events[1].state, ctx.events[1].ended_by) == ("inactive", "offline")
