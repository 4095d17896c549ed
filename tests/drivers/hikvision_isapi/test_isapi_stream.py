"""The driver's alertStream loop on misbehaving devices (issue 10, items 4-7 and event_types),
against the simulator over real loopback HTTP."""

from __future__ import annotations

import asyncio

import pytest
from gemhost_drivers.hikvision_isapi.simulator import IsapiSimulator
from isapi_helpers import captures, make_device

from gemhost import httpfeed
from gemhost.testing import until

DEEP_XML = ("<EventNotificationAlert>" + "<a>" * 20000 + "</a>" * 20000 + "</EventNotificationAlert>").encode()


async def test_hostile_part_costs_only_itself_and_is_counted(sim, driver_factory):
    """Items 4-5: a part nested beyond the recursion limit, a broken one, then good alerts on
    the same connection; the tally reaches the device state."""
    drv, ctx = driver_factory(make_device(sim, {"front": {"address": 1}}))
    task = asyncio.create_task(drv.run_events())
    try:
        await until(lambda: sim.open_streams == 1)
        sim.push_part(DEEP_XML)
        sim.push_part(b'{"eventType": "VMD", "x": ' + b"[" * 20000 + b"]" * 20000 + b"}", "application/json")
        sim.push_part(b"<EventNotificationAlert><eventType>VMD")
        sim.trigger_event(1, "IO", inputIOPortID="1")
        await ctx.wait_for(lambda: ctx.events)
        assert (ctx.events[0].type, ctx.events[0].zone) == ("io", "front")
        assert sim.stream_connects == 1  # the hostile parts did not cost the connection
        await ctx.wait_for(lambda: ctx.infos and ctx.infos[-1].get("alert_parts") == {"dropped": 3})
    finally:
        task.cancel()


async def test_backoff_resets_after_a_good_stream(sim, driver_factory):
    """Item 5: every stream that delivered a readable part resets the back-off, so a device that
    drops the connection now and then is reconnected at the first delay, not at a growing one."""
    drv, ctx = driver_factory(make_device(sim, {"front": {"address": 1}}))
    task = asyncio.create_task(drv.run_events())
    try:
        for n in range(1, 5):
            await until(lambda n=n: sim.open_streams == 1 and sim.stream_connects == n)
            sim.push_part(DEEP_XML)
            sim.trigger_event(1, "VMD")
            await ctx.wait_for(lambda n=n: len([e for e in ctx.events if e.state == "active"]) >= 1
                               and drv._stream_good)
            sim.set_fault("drop_stream")
            await until(lambda n=n: sim.stream_connects == n + 1)
            assert drv.backoff.attempts == 1, n  # reset, then one delay taken
    finally:
        task.cancel()


async def test_stream_traffic_is_proof_of_life_until_the_stream_breaks(sim, driver_factory):
    """The heartbeat alone keeps ``last_traffic`` fresh (the host then skips its liveness poll);
    a dropped stream clears it, so the next liveness tick polls the device."""
    drv, ctx = driver_factory(make_device(sim, {"front": {"address": 1}}))
    assert drv.last_traffic() is None
    task = asyncio.create_task(drv.run_events())
    loop = asyncio.get_running_loop()
    try:
        await until(lambda: sim.open_streams == 1)
        first = loop.time()
        await until(lambda: (drv.last_traffic() or 0) > first)  # a heartbeat, no event sent
        assert ctx.events == []
        sim.set_fault("drop_stream")
        await until(lambda: sim.stream_connects == 1 and sim.open_streams == 0 and drv.last_traffic() is None)
    finally:
        task.cancel()


@pytest.mark.parametrize("transport", ["close", "chunked"])
async def test_both_stream_transports_deliver_alerts(transport, driver_factory, monkeypatch):
    """Firmware's close-delimited body is read by callback (gemhost.httpfeed), a chunked one
    through aiohttp's reader: the driver sees the same alerts either way."""
    taken_over = []
    feed_body = httpfeed.feed_body
    monkeypatch.setattr(httpfeed, "feed_body", lambda resp, on_data: taken_over.append(1) or feed_body(resp, on_data))
    sim = IsapiSimulator(channels=2, heartbeat=0.3, stream_transport=transport)
    await sim.start()
    drv, ctx = driver_factory(make_device(sim, {"front": {"address": 1}}))
    task = asyncio.create_task(drv.run_events())
    try:
        await until(lambda: sim.open_streams == 1)
        for port in range(1, 4):
            sim.trigger_event(1, "IO", inputIOPortID=str(port))
        await ctx.wait_for(lambda: len(ctx.events) == 3)
        assert [(e.type, e.zone, e.key) for e in ctx.events] == [("io", "front", str(p)) for p in range(1, 4)]
        assert sim.stream_connects == 1
        assert taken_over == ([1] if transport == "close" else [])
    finally:
        task.cancel()
        await sim.stop()


async def test_stream_that_never_answers_times_out_and_recovers(sim, driver_factory):
    """Item 6: the alertStream request is accepted and never answered while deviceInfo works;
    the connect + header phase times out, the driver says so and reconnects."""
    drv, ctx = driver_factory(make_device(sim, {"front": {"address": 1}}, timeout=0.5))
    await drv.connect()
    sim.set_fault("stream_no_answer")
    task = asyncio.create_task(drv.run_events())
    try:
        await ctx.wait_for(lambda: any(i.get("event_stream") == "reconnecting" for i in ctx.infos))
        assert sim.stream_connects == 0 and (await drv.poll()).model == sim.model  # the device itself answers
        sim.set_fault("none")
        await until(lambda: sim.open_streams == 1)
        sim.trigger_event(1, "VMD")
        await ctx.wait_for(lambda: ctx.events)
        assert ctx.infos[-1]["event_stream"] == "connected"
    finally:
        task.cancel()


async def test_stall_counts_from_the_request(sim, driver_factory):
    """Item 6: headers arrive, then not one byte: the stall timer started with the request."""
    drv, ctx = driver_factory(make_device(sim, stream_stall_timeout=2000))
    sim.set_fault("stall")
    task = asyncio.create_task(drv.run_events())
    try:
        await until(lambda: sim.stream_connects >= 2, timeout=15)
        assert "reconnecting" in [i.get("event_stream") for i in ctx.infos]
    finally:
        task.cancel()


async def test_cancelling_the_stream_is_never_taken_for_a_stall(sim, driver_factory):
    """The stall watchdog cancels the stream's task itself; a cancellation that is not its own
    (the host stopping the device) must end the task, not become a reconnect, and leave no
    watchdog timer behind."""
    drv, ctx = driver_factory(make_device(sim, {"front": {"address": 1}}, stream_stall_timeout=2000))
    task = asyncio.create_task(drv.run_events())
    await until(lambda: sim.open_streams == 1)
    sim.trigger_event(1, "VMD")
    await ctx.wait_for(lambda: ctx.events)
    loop = asyncio.get_running_loop()

    def watchdogs() -> list:  # the loop's pending stall timers (the driver's ``watch``)
        return [h for h in loop._scheduled  # noqa: SLF001 - no public view of pending timers
                if not h.cancelled() and getattr(h._callback, "__name__", "") == "watch"]  # noqa: SLF001
    assert len(watchdogs()) == 1  # one timer for the stream, however many chunks came
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sim.stream_connects == 1 and "reconnecting" not in [i.get("event_stream") for i in ctx.infos]
    assert watchdogs() == []


async def test_captured_nvr_publishes_event_types_per_zone(driver_factory):
    """What to build: Event/triggers read on connect -> each zone's event_types (the real
    DS-7608NXI-I2 capture), device-level types in the device state."""
    base = captures()
    s = IsapiSimulator(fixture="DS-7608NXI-I2", fixtures_dir=base)
    await s.start()
    try:
        drv, ctx = driver_factory(make_device(s, {f"cam{n}": {"address": n} for n in (1, 2, 3, 4)}))
        info = await drv.connect()
        assert {"motion", "intrusion", "line_crossing", "tamper", "video_loss"} <= set(ctx.zone_state["cam2"]
                                                                                       ["event_types"])
        assert "io" in ctx.zone_state["cam3"]["event_types"] and "io" not in ctx.zone_state["cam1"]["event_types"]
        assert ctx.zone_state["cam4"]["event_types"] == []  # the capture has no trigger for channel 4
        assert {"disk_full", "disk_error", "io"} <= set(info.extra["event_types"])
        def trigger_reads() -> int:
            return sum(p == "/ISAPI/Event/triggers" and a == "Digest" for _, p, a in s.requests)
        assert trigger_reads() == 1
        await drv.poll()
        await drv.poll()
        assert trigger_reads() == 1  # read once per driver, not on every poll
    finally:
        await s.stop()


@pytest.mark.parametrize("status", [403, 404, 401])
async def test_device_refusing_triggers_publishes_none_and_stays_online(driver_factory, status):
    """A refusal of Event/triggers (even a 401 for an account without the right) costs the
    connect nothing and is not asked again."""
    base = captures()
    s = IsapiSimulator(fixture="DS-2CD2146G2-ISU", fixtures_dir=base)
    await s.start()
    try:
        s.fixture["Event/triggers"] = {"status_code": status}
        drv, ctx = driver_factory(make_device(s, {"cam": {"address": 1}}))
        assert (await drv.connect()).model == "DS-2CD2146G2-ISU"
        assert ctx.zone_state["cam"]["event_types"] == []
        await drv.poll()
        assert sum(p == "/ISAPI/Event/triggers" and a == "Digest" for _, p, a in s.requests) == 1
    finally:
        await s.stop()


async def test_get_channels_no_video_is_offline(driver_factory):
    """Item 7: the DVR capture's channel 8 is enabled but reports "NO VIDEO"."""
    base = captures()
    s = IsapiSimulator(fixture="iDS-7208HQHI-M1", fixtures_dir=base)
    await s.start()
    try:
        drv, _ = driver_factory(make_device(s))
        res = await drv.cmd_get_channels({}, None)
        assert res["source"] == "video_inputs"
        assert [(c["channel"], c["online"]) for c in res["channels"]] == [(n, n != 8) for n in range(1, 9)]
    finally:
        await s.stop()
