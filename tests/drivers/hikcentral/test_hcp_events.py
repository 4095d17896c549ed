"""Event subscription, pushes from the simulator to the driver's receiver, unsubscribe."""

from __future__ import annotations

import asyncio
import contextlib

from gemhost_drivers.hikcentral.eventcodes import EVENT_CODES
from gemhost_drivers.hikcentral.events import parse_push, unreachable_warning
from hcp_fakes import make_driver, zone


async def _wait_events(ctx, count: int) -> None:
    for _ in range(250):
        if len(ctx.events) >= count:
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
        got = [(e.type, e.zone, e.state) for e in ctx.events]
        assert got == [("motion", "lobby", "active"), ("line_crossing", "yard", "active"),
                       ("intrusion", "yard", "inactive"), ("video_loss", "lobby", "active")]
        first = ctx.events[0]
        assert first.vendor_type == "VMD" and first.id and first.time.tzinfo is not None
        assert first.data["camera"] == "3" and first.data["event_type_code"] == 131331
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
    small_sim.set_fault("500")
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
        assert [e.type for e in ctx.events] == ["motion"]
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await driver.close()


def test_parse_push_rejects_garbage_and_handles_unknown_codes():
    events, ignored = parse_push({"params": {"events": [{"srcIndex": "1", "eventType": 999999}, "x"]}},
                                 {"1": "z"})
    assert ignored == 1 and events[0].type == "hcp_999999" and events[0].zone == "z"
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
