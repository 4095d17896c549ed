"""Event subscription, pushes from the simulator to the driver's receiver, unsubscribe."""

from __future__ import annotations

import asyncio
import contextlib

from gemhost_drivers.hikcentral.eventcodes import EVENT_CODES
from gemhost_drivers.hikcentral.events import parse_push, unreachable_warning
from hcp_fakes import make_driver, zone


async def _wait_events(ctx, count: int) -> None:
    for _ in range(250):
        if len(ctx.reports) >= count:
            return
        ctx.event_arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ctx.event_arrived.wait(), 0.02)


async def test_pushed_events_normalized_onto_zones_and_unsubscribe_on_close(small_sim):
    driver, ctx = make_driver(small_sim, [zone("lobby", "3"), zone("yard", "5")])
    runner = None
    try:
        await driver.connect()
        assert set(small_sim.subscriptions) == set(EVENT_CODES)
        assert set(small_sim.subscriptions.values()) == {driver.receiver.url}
        runner = asyncio.create_task(driver.run_events())
        assert await small_sim.push_event("3", "motion") == 1
        assert await small_sim.push_event("5", 131585, status=1) == 1
        assert await small_sim.push_event("5", "fielddetection", status=2) == 1
        assert await small_sim.push_event("9", "VMD") == 1  # not a zone: ignored
        await small_sim.push_event("3", 131329)
        await _wait_events(ctx, 4)
        got = [(e.type, e.zone, e.state) for e in ctx.reports]  # what the driver said
        assert got == [("motion", "lobby", "pulse"), ("line_crossing", "yard", "active"),
                       ("intrusion", "yard", "inactive"), ("video_loss", "lobby", "pulse")]
        first = ctx.reports[0]
        assert first.vendor_type == "VMD" and first.id and first.time.tzinfo is not None
        assert first.data["camera"] == "3" and first.data["event_type_code"] == 131331
        # what the core published: the intrusion stop ended nothing (nothing was open)
        assert [(e.type, e.state, e.kind) for e in ctx.events] == [
            ("motion", "active", "pulse"), ("line_crossing", "active", "stateful"), ("video_loss", "active", "pulse")]
    finally:
        if runner:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        await driver.close()
    assert small_sim.subscriptions == {}
    assert "/artemis/api/eventService/v1/eventUnSubscriptionByEventTypes" in small_sim.requests
    assert not driver.receiver.running


async def test_run_events_retries_subscription_until_it_works(small_sim):
    small_sim.set_fault("error500")
    driver, ctx = make_driver(small_sim, [zone("lobby", "3")])
    runner = asyncio.create_task(driver.run_events())
    try:
        for _ in range(100):
            if small_sim.requests:
                break
            await asyncio.sleep(0.02)
        assert not small_sim.subscriptions
        small_sim.set_fault(None)
        for _ in range(250):
            if small_sim.subscriptions:
                break
            await asyncio.sleep(0.02)
        assert small_sim.subscriptions
        await small_sim.push_event("3", "motion")
        await _wait_events(ctx, 1)
        assert [e.type for e in ctx.reports] == ["motion"]
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await driver.close()


def test_parse_push_rejects_garbage_and_handles_unknown_codes():
    events, ignored = parse_push({"params": {"events": [{"srcIndex": "1", "eventType": 999999}, "x"]}},
                                 {"1": "z"})
    assert ignored == 1 and events[0].type == "hcp_999999" and events[0].zone == "z"
    assert events[0].state == "pulse"  # no status: instantaneous
    try:
        parse_push({"nothing": 1}, {})
    except ValueError:
        pass
    else:
        raise AssertionError("a push without events must be rejected")


def test_unreachable_warning():
    assert "cannot reach" in unreachable_warning("127.0.0.1", None, "https://10.1.2.3:443")
    assert unreachable_warning("127.0.0.1", None, "http://127.0.0.1:8080") is None
    assert unreachable_warning("127.0.0.1", "http://192.168.1.5:9000", "https://10.1.2.3") is None
    assert unreachable_warning("0.0.0.0", None, "https://10.1.2.3") is None


async def test_poll_restores_a_lost_subscription(small_sim):
    driver, _ctx = make_driver(small_sim, [zone("lobby", "3")])
    try:
        await driver.connect()
        small_sim.subscriptions.clear()
        await driver.poll()
        assert set(small_sim.subscriptions) == set(EVENT_CODES)
        assert set(small_sim.subscriptions.values()) == {driver.callback_url()}
    finally:
        await driver.close()


# ------------------------------------------------------------ push status -> event lifetime (item 6)


def _push(status, event_id="E-1", event_type=131331, camera="1"):
    return {"method": "OnEventNotify", "params": {"ability": "event_vss", "events": [
        {"eventId": event_id, "eventType": event_type, "srcIndex": camera, "srcType": "camera",
         "status": status, "timeout": 0, "happenTime": f"2024-05-01T10:00:0{status}.000+08:00", "data": {}}]}}


def test_every_push_status_maps_to_what_the_device_said():
    """0 instantaneous -> pulse, 1 start -> active, 2 stop -> inactive, 3 pulse repeat,
    4 linkage result and 5 late picture -> update of the event with that id."""
    want = {0: ("pulse", None), 1: ("active", None), 2: ("inactive", None), 3: ("update", "E-1"),
            4: ("update", "E-1"), 5: ("update", "E-1"), 8: ("update", "E-1")}
    for status, (state, refers_to) in want.items():
        (event,), _ = parse_push(_push(status), {"1": "gate"})
        assert (event.state, event.refers_to, event.id, event.key) == (state, refers_to, "E-1", None), status
        assert event.data["status"] == status


def test_every_event_type_the_driver_maps_is_declared_with_a_kind():
    from gemhost_drivers.hikcentral.driver import HikCentralDriver
    from gemhost_drivers.hikcentral.eventcodes import vendor_name

    from gemhost.eventtypes import normalize
    from gemhost.schema import load_schema

    schema = load_schema(HikCentralDriver.schema_path)
    for code in EVENT_CODES:
        assert schema.events[normalize(vendor_name(code))].kind == "stateful"
    assert schema.events["device_offline"].kind == schema.events["device_online"].kind == "pulse"
    assert schema.event_kind("hcp_999") == "pulse"  # an unknown code can never leave a zone on


async def test_pushes_through_the_real_lifetime(small_sim):
    """Start, repeat, linkage result, picture and stop of one event; then an instantaneous one;
    the same push twice is published once."""
    driver, ctx = make_driver(small_sim, [zone("gate", "1")], pulse_hold=0.05)
    try:
        for status in (1, 3, 4, 5):
            driver.handle_push(_push(status))
        assert ctx.zone_state["gate"]["active"] == {"motion": True}
        driver.handle_push(_push(2))
        started, *updates, ended = ctx.events
        assert (started.state, started.kind, started.id) == ("active", "stateful", "E-1")
        assert [u.state for u in updates] == ["update"] * 3
        assert {u.event_id for u in updates} == {started.event_id} and {u.refers_to for u in updates} == {"E-1"}
        assert (ended.state, ended.ended_by, ended.event_id) == ("inactive", "device", started.event_id)
        assert ctx.zone_state["gate"]["active"] == {"motion": False}
        assert driver.handle_push(_push(2)) == []  # HikCentral sent it again: once is enough
        driver.handle_push(_push(0, "E-2"))
        pulse = ctx.events[-1]
        assert (pulse.state, pulse.kind, pulse.id) == ("active", "pulse", "E-2")
        await ctx.wait_for(lambda: ctx.events[-1].ended_by == "pulse")
        assert ctx.events[-1].event_id == pulse.event_id and ctx.zone_state["gate"]["active"] == {"motion": False}
        assert len([e for e in ctx.events if e.state == "inactive"]) == 2
    finally:
        await driver.close()


async def test_a_lost_subscription_ends_open_events(small_sim):
    driver, ctx = make_driver(small_sim, [zone("gate", "1")])
    try:
        await driver.connect()
        driver.handle_push(_push(1))
        assert ctx.zone_state["gate"]["active"] == {"motion": True}
        small_sim.subscriptions.clear()  # HikCentral restarted: a stop may have been lost
        await driver.poll()
        assert ctx.events[-1].ended_by == "offline" and ctx.zone_state["gate"]["active"] == {"motion": False}
        assert small_sim.subscriptions  # subscribed again
    finally:
        await driver.close()
