"""The event pull loop (guide 2.5, 3.34, 3.35): the receive_events switch, commit only after the
broker's ack, no duplicates, panel state from CID reports, and a bad message costing only itself
(issue 11 items 9 and 10, issue 9)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging

import pytest

from gemhost.errors import AuthError
from gemhost.schema import mapping_validator
from gemhost.testing import until

ZONES = {
    "nvr-ch1": "Q10000001:1",
    "nvr-ch2": "Q10000001:2",
    "ptz": "Q10000002:1",
    "panel": "Q20000001",
    "ground": "Q20000001:sub:1",
    "front-door": "Q20000001:zone:0",
    "hall": "Q20000001:zone:1",
}


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
    assert [m["messageId"] for m in sim.cloud.queue] == ids

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
    sim.queue_fault("error500", count=2)
    sim.queue_fault("bad_json")
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


async def test_armed_panel_intrusion_is_an_alarm_updated_by_its_linkage(make_driver, sim, hpp):
    """Issue 9: arming is state (arming pulse), the CID alarm active, its Linkage an update of it."""
    driver, ctx = make_driver(ZONES)
    await driver.connect()
    arm_args = mapping_validator(hpp.SCHEMA.commands["arm_away"].args)({"address": "Q20000001:sub:1"})
    await driver.command("arm_away", arm_args, None)
    alarm_id = sim.intrusion("Q20000001", 0)
    assert alarm_id is not None
    await driver.pull_once()
    arming, alarm, linkage = ctx.events
    assert (arming.type, arming.state, arming.zone, arming.data["arming"]) == ("arming", "pulse", "ground", "away")
    assert (alarm.type, alarm.state, alarm.zone, alarm.id) == ("alarm", "active", "front-door", alarm_id)
    assert alarm.data["cid_code"] == 130 and alarm.data["cid_description"] == "burglary"
    assert alarm.data["zone_name"] == "Front door" and alarm.data["zone_v30"] == 1
    assert (linkage.state, linkage.refers_to, linkage.zone, linkage.type) == ("update", alarm_id, "front-door",
                                                                              "alarm")
    assert len(linkage.data["pictures"]) == 2 and "fileId=" in linkage.data["pictures"][0]["url"]
    assert ctx.zone_state["ground"]["arming"] == "away" and ctx.zone_state["panel"]["subsystems"]["1"] == "away"
    sim.cloud.restore_zone("Q20000001", 0)
    await driver.pull_once()
    restore = ctx.events[-1]
    assert (restore.type, restore.state, restore.zone, restore.key) == ("alarm", "inactive", "front-door", "0")
    assert not sim.cloud.queue


async def test_cid_arming_and_bypass_reports_update_zone_state(make_driver, sim):
    """Issue 9: arming/disarming and bypass from the panel itself (not our commands) are state."""
    driver, ctx = make_driver(ZONES)
    await driver.connect()
    sim.cloud.arm("Q20000001", 1, "stay")  # e.g. from a keypad
    sim.cloud.bypass("Q20000001", 1, True)
    await driver.pull_once()
    assert ctx.zone_state["ground"]["arming"] == "stay" and ctx.zone_state["ground"]["armed"] is True
    assert ctx.zone_state["hall"]["bypassed"] is True
    sim.cloud.disarm("Q20000001", 1)
    sim.cloud.bypass("Q20000001", 1, False)
    await driver.pull_once()
    assert ctx.zone_state["ground"]["arming"] == "disarmed" and ctx.zone_state["hall"]["bypassed"] is False
    assert [e.type for e in ctx.events] == ["arming", "bypass", "arming", "bypass"]
    assert all(e.type != "alarm" and e.state == "pulse" for e in ctx.events)


async def test_event_time_is_the_devices_trigger_time_in_its_time_zone(make_driver, sim):
    """Item 7: triggerTime (device local, A.2 zone 182 = UTC+8) is the event time, not "now"."""
    driver, ctx = make_driver(ZONES)
    await driver.connect()
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    sim.event("Q10000001", "VMD")
    await driver.pull_once()
    (event,) = ctx.events
    assert event.time.utcoffset() == dt.timedelta(hours=8)
    assert before <= event.time <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)


async def test_isapi_files_pictures_get_a_download_url(make_driver, sim):
    """Guide 2.5 note 1 and 3.36: ISAPI_FILES paths are turned into URLs before publishing."""
    driver, ctx = make_driver(ZONES)
    await driver.connect()
    path = "ISAPI_FILES/C94115305_6/20210809105618274-C94115305-6-10000-2$encrypt=2,2021-08-09T12:54:25,fd9b7f16"
    body = {"deviceSerial": "Q20000001", "triggerTime": "2025-01-01T00:00:00", "eventType": "Linkage",
            "eventDescription": "Linkage alarm", "pictureList": [{"id": "p1", "url": path}], "relationId": "r-9"}
    sim.cloud.enqueue_raw({"deviceSerial": "Q20000001", "formatType": "JSON", "alarmData": json.dumps(body)})
    await driver.pull_once()
    picture = ctx.events[0].data["pictures"][0]
    assert picture["path"] == path and picture["url"].startswith(sim.area_url + "/v3/alarms/pic/get?fileId=")
    assert picture["encrypted"] is True


async def test_an_unparseable_message_is_published_raw_and_never_blocks_the_queue(make_driver, sim, caplog):
    """Item 10: 5,000 nested levels (RecursionError before) -> one `unparsed` event; batch committed."""
    driver, ctx = make_driver(ZONES)
    await driver.connect()
    deep = "<EventNotificationAlert>" + "<a>" * 5000 + "x" + "</a>" * 5000 + "</EventNotificationAlert>"
    before = sim.event("Q10000001", "VMD")
    bad = sim.cloud.enqueue_raw({"deviceSerial": "Q10000001", "formatType": "XML", "alarmData": deep})
    after = sim.event("Q10000001", "IO")
    task = asyncio.create_task(driver.run_events())
    try:
        await until(lambda: len(ctx.events) == 3 and not sim.cloud.queue)
        later = sim.event("Q10000001", "linedetection", channel=2)
        # the later batch is committed after its event was published: wait for that too
        await until(lambda: len(ctx.events) == 4 and sim.cloud.counters["commits"] >= 2)
    finally:
        task.cancel()
    assert [e.id for e in ctx.events] == [before, bad, after, later]
    unparsed = ctx.events[1]
    assert unparsed.type == "unparsed" and unparsed.zone is None and unparsed.data["raw_length"] == len(deep)
    assert "nested deeper" in unparsed.data["error"] and unparsed.data["raw"] == deep[:2000]
    assert sim.cloud.counters["commits"] >= 2
    assert f"HPP message {bad} could not be parsed" in caplog.text


async def test_another_consumer_with_the_same_credentials_gets_lap068001(make_driver, sim, caplog):
    """Item 9: LAP068001 is "Other user is in search progress", not "not subscribed"; back off."""
    caplog.set_level(logging.WARNING)
    sim.cloud.long_poll = 0.5
    first, _ = make_driver(ZONES)
    second, _ = make_driver(ZONES, state_dir=first.ctx.state_dir.parent / "second")
    await first.connect()
    await second.connect()
    holder = asyncio.create_task(first.pull_once())
    await until(lambda: sim.cloud.pulling)
    task = asyncio.create_task(second.run_events())
    try:
        await until(lambda: "another client is pulling this account's queue" in caplog.text)
    finally:
        task.cancel()
        holder.cancel()
    assert sim.cloud.counters["busy_refusals"] >= 1


async def test_disarmed_panel_does_not_alarm_on_intrusion(make_driver, sim):
    assert sim.intrusion("Q20000001", 0) is None
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
    sim.queue_fault("error500")
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
