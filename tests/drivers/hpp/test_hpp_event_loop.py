"""The event pull loop: receive_events switch, commit only after the broker's ack, no duplicates."""

from __future__ import annotations

import asyncio

import pytest

from gemhost.errors import AuthError
from gemhost.schema import mapping_validator

ZONES = {
    "nvr-ch1": "Q10000001:1",
    "nvr-ch2": "Q10000001:2",
    "ptz": "Q10000002:1",
    "panel": "Q20000001",
    "ground": "Q20000001:sub:1",
    "front-door": "Q20000001:zone:1",
}


async def until(condition, timeout: float = 5.0) -> None:
    """Wait for a condition (a bound on waiting, not a timing assertion)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def test_receive_events_off_consumes_nothing(make_driver, sim):
    driver, ctx = make_driver(ZONES, receive_events=False)
    await driver.connect()
    sim.event("Q10000001", "VMD")
    await asyncio.wait_for(driver.run_events(), 1)  # returns at once
    assert sim.cloud.counters["pulls"] == 0 and sim.cloud.counters["commits"] == 0
    assert len(sim.cloud.queue) == 1 and ctx.events == []


async def test_run_events_publishes_and_consumes(make_driver, sim):
    driver, ctx = make_driver(ZONES)
    await driver.connect()
    task = asyncio.create_task(driver.run_events())
    try:
        for event_type in ("VMD", "linedetection", "videoloss"):
            sim.event("Q10000001", event_type, channel=2)
        await until(lambda: len(ctx.events) == 3 and not sim.cloud.queue)
    finally:
        task.cancel()
    assert [e.type for e in ctx.events] == ["motion", "line_crossing", "video_loss"]
    assert {e.zone for e in ctx.events} == {"nvr-ch2"}


async def test_unacked_batch_is_not_consumed_and_is_redelivered(make_driver, sim, tmp_path):
    first, ctx = make_driver(ZONES, auto_ack=False)
    await first.connect()
    ids = [sim.event("Q10000001", "VMD"), sim.event("Q10000002", "fielddetection")]
    pull = asyncio.create_task(first.pull_once())
    await until(lambda: len(ctx.events) == 2)
    await asyncio.sleep(0.05)  # the broker stays silent: nothing may be committed meanwhile
    assert sim.cloud.counters["commits"] == 0 and len(sim.cloud.queue) == 2
    pull.cancel()  # host stops (or crashes) during the broker outage
    with pytest.raises(asyncio.CancelledError):
        await pull
    assert [m["msgId"] for m in sim.cloud.queue] == ids

    second, ctx2 = make_driver(ZONES)  # restart: same state directory, broker back
    await second.connect()
    assert await second.pull_once() == 2
    assert [e.id for e in ctx2.events] == ids and not sim.cloud.queue


async def test_outage_in_the_middle_of_a_batch_loses_and_duplicates_nothing(make_driver, sim):
    first, ctx = make_driver(ZONES, auto_ack=False)
    await first.connect()
    ids = [sim.event("Q10000001", t) for t in ("VMD", "IO", "shelteralarm")]
    pull = asyncio.create_task(first.pull_once())
    await until(lambda: len(ctx.events) == 3)
    ctx.futures[0].set_result(None)  # the broker acked the first event, then went away
    await asyncio.sleep(0)
    pull.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pull
    assert len(sim.cloud.queue) == 3

    second, ctx2 = make_driver(ZONES)
    await second.connect()
    await second.pull_once()
    assert [e.id for e in ctx2.events] == ids[1:]  # the acked one is not published again
    assert not sim.cloud.queue


async def test_crash_after_ack_before_commit_suppresses_duplicates(make_driver, sim):
    first, ctx = make_driver(ZONES)
    await first.connect()
    ids = [sim.event("Q10000001", "VMD"), sim.event("Q10000001", "diskfull")]

    async def crash(batch_id: str) -> None:
        raise ConnectionResetError("host killed before the commit")

    first.client.commit = crash
    with pytest.raises(ConnectionResetError):
        await first.pull_once()
    assert [e.id for e in ctx.events] == ids and len(sim.cloud.queue) == 2

    second, ctx2 = make_driver(ZONES)
    await second.connect()
    assert await second.pull_once() == 0
    assert ctx2.events == [] and not sim.cloud.queue  # re-delivered, suppressed, then consumed


async def test_failed_broker_publish_is_retried_not_committed(make_driver, sim):
    driver, ctx = make_driver(ZONES, auto_ack=False)
    await driver.connect()
    sim.event("Q10000001", "VMD")
    pull = asyncio.create_task(driver.pull_once())
    await until(lambda: len(ctx.futures) == 1)
    ctx.futures[0].set_exception(ConnectionError("broker refused"))
    with pytest.raises(ConnectionError):
        await pull
    assert len(sim.cloud.queue) == 1
    ctx.auto_ack = True
    assert await driver.pull_once() == 1 and not sim.cloud.queue


async def test_run_events_backs_off_and_recovers_from_cloud_faults(make_driver, sim):
    driver, ctx = make_driver(ZONES)
    await driver.connect()
    sim.event("Q10000001", "VMD")
    sim.inject("error500", count=2)
    sim.inject("bad_json")
    task = asyncio.create_task(driver.run_events())
    try:
        await until(lambda: len(ctx.events) == 1 and not sim.cloud.queue)
    finally:
        task.cancel()
    assert ctx.events[0].type == "motion"


async def test_device_online_offline_and_deleted_drive_zone_state(make_driver, sim):
    driver, ctx = make_driver(ZONES)
    await driver.connect()
    sim.cloud.set_online("Q10000001", False)
    await driver.pull_once()
    assert ctx.zone_state["nvr-ch1"]["online"] is False and ctx.zone_state["nvr-ch2"]["online"] is False
    assert ctx.zone_state["ptz"]["online"] is True
    sim.cloud.set_online("Q10000001", True)
    await driver.pull_once()
    assert ctx.zone_state["nvr-ch1"]["online"] is True
    sim.cloud.devices["Q10000002"].subscribed = False  # devicedeleted comes regardless
    sim.cloud.delete_device("Q10000002")
    await driver.pull_once()
    assert ctx.zone_state["ptz"]["missing"] is True and ctx.zone_state["ptz"]["online"] is False
    assert [e.type for e in ctx.events] == ["device_offline", "device_online", "device_deleted"]


async def test_armed_panel_intrusion_arrives_as_cid_alarm_with_pictures(make_driver, sim, hpp):
    driver, ctx = make_driver(ZONES)
    await driver.connect()
    arm_args = mapping_validator(hpp.SCHEMA.commands["arm_away"].args)({"address": "Q20000001:sub:1"})
    await driver.command("arm_away", arm_args, None)
    assert sim.intrusion("Q20000001", 1) is not None
    await driver.pull_once()
    arming, alarm = ctx.events
    assert arming.type == "alarm" and arming.data["arming"] == "armed" and arming.zone == "ground"
    assert alarm.type == "alarm" and alarm.zone == "front-door" and alarm.data["cid_code"] == 130
    assert alarm.data["cid_description"] == "burglary" and alarm.data["name"] == "Front door"
    assert len(alarm.data["pictures"]) == 2 and alarm.data["pictures"][0]["serial"] == "Q10000001"
    assert not sim.cloud.queue


async def test_disarmed_panel_does_not_alarm_on_intrusion(make_driver, sim):
    assert sim.intrusion("Q20000001", 1) is None
    assert not sim.cloud.queue


async def test_events_of_other_sites_are_consumed_but_not_published(make_driver, sim):
    # Documented limit (schema notes of sites/receive_events, docs): the queue is per account,
    # so another receiver never gets the other sites' alarms.
    driver, ctx = make_driver(ZONES, sites=["s-1002"])
    await driver.connect()
    sim.event("Q10000001", "VMD")
    sim.event("Q10000002", "VMD")
    await driver.pull_once()
    assert [e.data["serial"] for e in ctx.events] == ["Q10000002"]
    assert not sim.cloud.queue


async def test_no_secret_or_token_in_logs_or_results(make_driver, sim, hpp, caplog):
    caplog.set_level("DEBUG")
    driver, ctx = make_driver(ZONES)
    await driver.connect()
    sim.event("Q10000001", "VMD")
    sim.inject("error500")
    task = asyncio.create_task(driver.run_events())
    try:
        await until(lambda: len(ctx.events) == 1)
    finally:
        task.cancel()
    wrong, _ = make_driver(ZONES, state_dir=driver.ctx.state_dir.parent / "other", key="not-the-right-key-42")
    with pytest.raises(Exception) as err:
        await wrong.connect()
    text = caplog.text + str(err.value) + repr(driver) + repr(ctx.events) + repr(ctx.zone_state)
    assert "HPP event pull failed" in caplog.text
    for secret in [hpp.KEY, "not-the-right-key-42", *sim.cloud.tokens]:
        assert secret not in text


async def test_rejected_key_pauses_events_until_the_host_reconnects(make_driver, sim, hpp):
    driver, ctx = make_driver(ZONES)
    await driver.connect()
    key = sim.cloud.key
    sim.cloud.key = "rotated-key-on-the-portal"
    sim.cloud.revoke_tokens()
    task = asyncio.create_task(driver.run_events())
    try:
        await until(lambda: sim.cloud.counters["token_requests"] == 2)
        await asyncio.sleep(0.1)  # several back-off periods: no further token request may follow
        assert sim.cloud.counters["token_requests"] == 2
        sim.cloud.key = key  # the host's next connect succeeds and resumes the loop
        await driver.connect()
        sim.event("Q10000001", "VMD")
        await until(lambda: len(ctx.events) == 1)
    finally:
        task.cancel()


async def test_rejected_key_pauses_events_until_a_successful_poll(make_driver, sim):
    """The host connects once, then only polls: an accepted poll must resume the events."""
    driver, ctx = make_driver(ZONES)
    await driver.connect()
    key = sim.cloud.key
    sim.cloud.key = "rotated-key-on-the-portal"
    sim.cloud.revoke_tokens()
    task = asyncio.create_task(driver.run_events())
    try:
        await until(lambda: sim.cloud.counters["token_requests"] == 2)  # the pull's AuthError
        sim.event("Q10000001", "VMD")
        await asyncio.sleep(0.1)  # paused: no pull, no token request, the event stays queued
        assert sim.cloud.counters["token_requests"] == 2 and ctx.events == [] and len(sim.cloud.queue) == 1
        with pytest.raises(AuthError):  # a poll the cloud still refuses does not resume them
            await driver.poll()
        await asyncio.sleep(0.05)
        assert ctx.events == [] and len(sim.cloud.queue) == 1
        sim.cloud.key = key  # the installer puts the right key back; the next poll is accepted
        await driver.poll()
        await until(lambda: len(ctx.events) == 1 and not sim.cloud.queue)
        sim.event("Q10000001", "IO")
        await until(lambda: len(ctx.events) == 2)
    finally:
        task.cancel()
    assert [e.type for e in ctx.events] == ["motion", "io"]


async def test_device_deleted_in_an_allowed_site_is_published(make_driver, sim):
    driver, ctx = make_driver(ZONES, sites=["s-1002"])
    await driver.connect()
    sim.cloud.delete_device("Q10000002")
    await driver.pull_once()
    assert [e.type for e in ctx.events] == ["device_deleted"] and ctx.zone_state["ptz"]["missing"] is True
