"""The driver against the simulator over real loopback HTTP(S): commands, auth, events, faults."""

from __future__ import annotations

import asyncio
import base64
import json
import logging

import pytest
import xmltodict
from gemhost_drivers.hikvision_isapi.simulator import IsapiSimulator
from isapi_helpers import FakeContext, captures, make_device

from gemhost.errors import AuthError, DeviceError, DeviceUnreachable, InvalidArgs
from gemhost.model import Secret
from gemhost.testing import until

PW = "sim-password"


@pytest.fixture
async def nvr():
    s = IsapiSimulator(kind="nvr", channels=4, heartbeat=0.3)
    await s.start()
    yield s
    await s.stop()


def _zones():
    return {"front": {"address": 1}, "back": {"address": 2, "stream": "sub"},
            "gate": {"address": 3, "stream_url": "rtsp://nvr.example/custom"}}


# ---------------------------------------------------------------- liveness and auth


async def test_connect_digest_and_zone_state(sim, driver_factory):
    drv, ctx = driver_factory(make_device(sim, _zones()))
    info = await drv.connect()
    assert (info.model, info.firmware, info.serial, info.manufacturer) == (
        sim.model, "V5.7.15", sim.serial, "Hikvision")
    assert info.extra["device_type"] == "IPCamera" and info.extra["mac"] == "02:00:00:00:00:01"
    # event_types come from the simulator's Event/triggers (issue 10): channel 1 also has the IO input
    video = ["intrusion", "line_crossing", "motion", "region_entrance", "region_exit", "tamper", "video_loss"]
    assert ctx.zone_state["front"] == {"stream_url": "rtsp://127.0.0.1:554/Streaming/Channels/101",
                                       "channel_id": 101, "event_types": sorted([*video, "io"])}
    assert ctx.zone_state["back"] == {"stream_url": "rtsp://127.0.0.1:554/Streaming/Channels/202",
                                      "channel_id": 202, "event_types": video}
    assert info.extra["event_types"] == ["disk_error", "disk_full", "illaccess", "ipconflict", "nicbroken"]
    assert ctx.zone_state["gate"]["stream_url"] == "rtsp://nvr.example/custom"
    assert all(a.startswith("Digest") for _, _, a in sim.requests if a)
    assert (await drv.poll()).serial == sim.serial


async def test_basic_auth():
    s = IsapiSimulator(auth="basic")
    await s.start()
    try:
        ctx = FakeContext(make_device(s, auth_mode="basic"), None)
        from gemhost_drivers.hikvision_isapi.driver import IsapiDriver
        drv = IsapiDriver(ctx)
        assert (await drv.connect()).model == s.model
        # deviceInfo, then (once per driver) Event/triggers and capabilities: all preemptive Basic
        assert [(p, a) for _, p, a in s.requests] == [("/ISAPI/System/deviceInfo", "Basic "),
                                                      ("/ISAPI/Event/triggers", "Basic "),
                                                      ("/ISAPI/System/capabilities", "Basic ")]
        await drv.close()
    finally:
        await s.stop()


async def test_https_self_signed(driver_factory):
    s = IsapiSimulator(https=True, channels=2)
    await s.start()
    try:
        assert s.url.startswith("https://")
        drv, _ = driver_factory(make_device(s))
        assert (await drv.connect()).serial == s.serial
        snap = await drv.cmd_snapshot({"address": 2}, None)
        assert base64.b64decode(snap["base64"])[:2] == b"\xff\xd8"
        strict, _ = driver_factory(make_device(s, verify_tls=True))
        with pytest.raises(DeviceUnreachable, match="usually 443"):
            await strict.connect()
    finally:
        await s.stop()


async def test_wrong_password_costs_one_failed_login_per_call(sim, driver_factory, caplog):
    caplog.set_level(logging.DEBUG)
    drv, _ = driver_factory(make_device(sim, password=Secret("Wr0ng-Pass")))
    for expected in (1, 2, 3):
        with pytest.raises(AuthError, match="wrong credentials, locked account, or missing Operator role"):
            await drv.connect()
        assert sim.auth.failed_logins_total == expected
    with pytest.raises(AuthError):
        await drv.poll()
    assert sim.auth.failed_logins_total == 4 and not sim.auth.locked
    assert "Wr0ng-Pass" not in caplog.text


async def test_locked_account_and_unlock(sim, driver_factory):
    drv, _ = driver_factory(make_device(sim))
    sim.lockout()
    with pytest.raises(AuthError, match="userLocked"):
        await drv.connect()
    sim.unlock()
    assert (await drv.connect()).model == sim.model


async def test_five_failures_lock_the_simulated_account(sim, driver_factory):
    bad, _ = driver_factory(make_device(sim, password=Secret("nope-nope")))
    for _ in range(5):
        with pytest.raises(AuthError):
            await bad.connect()
    assert sim.auth.locked
    good, _ = driver_factory(make_device(sim))
    with pytest.raises(AuthError, match="userLocked"):
        await good.connect()


async def test_device_that_never_answers(sim, driver_factory):
    drv, _ = driver_factory(make_device(sim, timeout=0.5))
    sim.set_fault("no_answer")
    with pytest.raises(DeviceUnreachable, match="no answer"):
        await drv.connect()
    sim.set_fault("none")
    assert (await drv.connect()).model == sim.model


async def test_500_and_slow_faults(sim, driver_factory):
    drv, _ = driver_factory(make_device(sim, timeout=0.5))
    sim.set_fault("error500")
    with pytest.raises(DeviceError, match="HTTP 500.*Device Error"):
        await drv.connect()
    sim.set_fault("slow", 2.0)
    with pytest.raises(DeviceUnreachable):
        await drv.connect()


async def test_nothing_listening(driver_factory):
    s = IsapiSimulator()
    await s.start()
    port = s.port
    await s.stop()
    drv, _ = driver_factory(make_device(None, port=port, timeout=1))
    with pytest.raises(DeviceUnreachable):
        await drv.connect()


# ---------------------------------------------------------------- commands


async def test_snapshot_honours_zone_stream(sim, driver_factory):
    dev = make_device(sim, _zones())
    drv, _ = driver_factory(dev)
    main = await drv.cmd_snapshot({"address": 1}, dev.zones["front"])
    sub = await drv.cmd_snapshot({"address": 2}, dev.zones["back"])
    assert main["content_type"] == sub["content_type"] == "image/jpeg"
    main_jpeg, sub_jpeg = base64.b64decode(main["base64"]), base64.b64decode(sub["base64"])
    assert main_jpeg.startswith(b"\xff\xd8") and main_jpeg.endswith(b"\xff\xd9")
    assert b"stream 101" in main_jpeg and b"stream 202" in sub_jpeg
    assert set(main) == {"content_type", "base64"}


async def test_snapshot_of_missing_channel_says_run_get_channels(sim, driver_factory):
    drv, _ = driver_factory(make_device(sim))
    with pytest.raises(DeviceError, match="channel 9 is not an enabled input channel.*get_channels"):
        await drv.cmd_snapshot({"address": 9}, None)


async def test_ptz_commands_move_the_simulated_head(sim, driver_factory):
    drv, _ = driver_factory(make_device(sim))
    await drv.cmd_ptz_pan_tilt({"address": 2, "pan": 40, "tilt": -20}, None)
    assert sim.ptz[2]["moving"] and (sim.ptz[2]["pan"], sim.ptz[2]["tilt"]) == (40, -20)
    await drv.cmd_ptz_stop({"address": 2}, None)
    assert not sim.ptz[2]["moving"]
    await drv.cmd_ptz_zoom({"address": 2, "zoom": -30}, None)
    assert (sim.ptz[2]["zoom"], sim.ptz[2]["pan"]) == (-30, 0)
    await drv.cmd_ptz_preset({"address": 2, "preset": 7}, None)
    assert sim.ptz[2]["preset"] == 7
    await drv.cmd_ptz_relative({"address": 2, "pan": 10, "tilt": 5, "zoom": 0}, None)
    await drv.cmd_ptz_relative({"address": 2, "pan": -3, "tilt": 0, "zoom": 2}, None)
    assert sim.ptz[2]["position"] == [7, 5, 2]


async def test_ptz_bodies_come_from_the_kernel_unchanged_on_the_wire(sim, driver_factory):
    """Issue 16 item 6: the driver's PTZData bodies are the ISAPI kernel's (``kernel.ptz_data``,
    ``kernel.ptz_relative_data``), byte for byte what the driver sent before (no namespace: a
    pan/tilt move without zoom, a zoom alone, a stop with all three axes), and the simulator
    moves the head by each of them."""
    drv, _ = driver_factory(make_device(sim))
    sent: list[tuple[str, str]] = []
    put = drv.client.put

    async def recording_put(path, data=b"", **kw):
        sent.append((path, data))
        return await put(path, data, **kw)
    drv.client.put = recording_put
    await drv.cmd_ptz_pan_tilt({"address": 2, "pan": 40, "tilt": -20}, None)
    await drv.cmd_ptz_zoom({"address": 2, "zoom": -30}, None)
    await drv.cmd_ptz_stop({"address": 2}, None)
    await drv.cmd_ptz_relative({"address": 2, "pan": 10, "tilt": 5, "zoom": -1}, None)
    head = '<?xml version="1.0" encoding="UTF-8"?><PTZData>'
    continuous, relative = "/ISAPI/PTZCtrl/channels/2/continuous", "/ISAPI/PTZCtrl/channels/2/relative"
    assert sent == [
        (continuous, head + "<pan>40</pan><tilt>-20</tilt></PTZData>"),
        (continuous, head + "<zoom>-30</zoom></PTZData>"),
        (continuous, head + "<pan>0</pan><tilt>0</tilt><zoom>0</zoom></PTZData>"),
        (relative, head + "<Relative><positionX>10</positionX><positionY>5</positionY>"
                          "<relativeZoom>-1</relativeZoom></Relative></PTZData>"),
    ]
    assert sim.ptz[2]["history"] == [("continuous", 40, -20, 0), ("continuous", 0, 0, -30),
                                     ("continuous", 0, 0, 0), ("relative", 10, 5, -1)]
    assert sim.ptz[2]["position"] == [10, 5, -1] and not sim.ptz[2]["moving"]


async def test_ptz_duration_sends_the_stop(sim, driver_factory):
    drv, _ = driver_factory(make_device(sim))
    result = await drv.cmd_ptz_pan_tilt({"address": 1, "pan": 50, "tilt": 0, "duration": 100}, None)
    assert result["stop_after_ms"] == 100 and sim.ptz[1]["moving"]
    await until(lambda: not sim.ptz[1]["moving"])
    assert sim.ptz[1]["history"][-1] == ("continuous", 0, 0, 0)
    await drv.cmd_ptz_zoom({"address": 1, "zoom": 10, "duration": 100}, None)
    await until(lambda: sim.ptz[1]["history"][-1] == ("continuous", 0, 0, 0))


async def test_ptz_forbidden_for_user_without_ptz_right(sim, driver_factory):
    sim.add_user("viewer", "viewer-pw", ptz=False)
    drv, _ = driver_factory(make_device(sim, username="viewer", password=Secret("viewer-pw")))
    with pytest.raises(DeviceError, match="lacks PTZ permission on channel 1"):
        await drv.cmd_ptz_pan_tilt({"address": 1, "pan": 10, "tilt": 0}, None)
    with pytest.raises(DeviceError, match="PTZ permission"):
        await drv.cmd_ptz_preset({"address": 1, "preset": 1}, None)


async def test_get_channels_nvr_and_camera(nvr, sim, driver_factory):
    drv, _ = driver_factory(make_device(nvr))
    res = await drv.cmd_get_channels({}, None)
    assert res["source"] == "input_proxy"
    assert [(c["channel"], c["name"], c["source_ip"], c["online"]) for c in res["channels"]] == [
        (1, "Camera 01", "192.0.2.11", True), (2, "Camera 02", "192.0.2.12", True),
        (3, "Camera 03", "192.0.2.13", True), (4, "Camera 04", "192.0.2.14", True)]
    cam, _ = driver_factory(make_device(sim))
    res = await cam.cmd_get_channels({}, None)
    assert res["source"] == "streaming"
    assert [(c["channel"], c["streams"]) for c in res["channels"]] == [(n, [n * 100 + 1, n * 100 + 2])
                                                                         for n in (1, 2, 3, 4)]


async def test_get_device_info_parsed_and_raw(sim, driver_factory):
    drv, _ = driver_factory(make_device(sim))
    res = await drv.cmd_get_device_info({}, None)
    assert (res["model"], res["serial"], res["mac"], res["device_type"]) == (
        sim.model, sim.serial, "02:00:00:00:00:01", "IPCamera")
    assert res["raw_xml"] == sim.device_info_xml()


async def test_set_output_levels_and_pulse(sim, driver_factory):
    drv, _ = driver_factory(make_device(sim))
    assert await drv.cmd_set_output({"output": 1, "state": "on"}, None) == {"output": 1, "state": "on"}
    assert sim.outputs[1] == "high"
    await drv.cmd_set_output({"output": 1, "state": "off"}, None)
    assert sim.outputs[1] == "low"
    await drv.cmd_set_output({"output": 2, "pulse": 50}, None)
    await until(lambda: sim.output_log[-2:] == [(2, "high"), (2, "low")])
    with pytest.raises(InvalidArgs):
        await drv.cmd_set_output({"output": 1}, None)
    with pytest.raises(InvalidArgs):
        await drv.cmd_set_output({"output": 1, "state": "on", "pulse": 5}, None)
    with pytest.raises(Exception, match="404"):
        await drv.cmd_set_output({"output": 9, "state": "on"}, None)


# ---------------------------------------------------------------- events


async def _run(drv):
    task = asyncio.create_task(drv.run_events())
    return task


async def test_event_start_repeat_quiet_end_on_nvr_zone(nvr, driver_factory):
    dev = make_device(nvr, _zones(), event_quiet_time=500)
    drv, ctx = driver_factory(dev)
    await drv.connect()
    task = await _run(drv)
    try:
        await until(lambda: nvr.open_streams == 1)
        nvr.trigger_event(2, "VMD", repeat=4, interval=0.15)   # channelID 2, dynChannelID 2 (real NVR alertStream)
        await ctx.wait_for(lambda: len(ctx.events) >= 2)
        assert [(e.type, e.vendor_type, e.state, e.zone, e.channel) for e in ctx.events] == [
            ("motion", "VMD", "active", "back", 2), ("motion", "VMD", "inactive", "back", 2)]
        assert ctx.events[1].repeats == 3 and ctx.events[1].ended_by == "quiet_time"
        assert ctx.zone_state["back"]["active"]["motion"] is False
        assert ctx.events[0].time.tzinfo is not None
    finally:
        task.cancel()


async def test_heartbeat_is_traffic_not_an_event(sim, driver_factory):
    drv, ctx = driver_factory(make_device(sim, stream_stall_timeout=2000))
    task = await _run(drv)
    try:
        await until(lambda: sim.open_streams == 1)
        await asyncio.sleep(2.6)  # several heartbeats (0.3 s) and longer than the stall timeout
        assert ctx.events == []
        assert sim.stream_connects == 1  # heartbeats kept the stream alive: no reconnect
    finally:
        task.cancel()


async def test_device_event_without_zone_and_explicit_inactive(sim, driver_factory):
    drv, ctx = driver_factory(make_device(sim, {"front": {"address": 1}}))
    task = await _run(drv)
    try:
        await until(lambda: sim.open_streams == 1)
        sim.trigger_event(3, "linedetection")
        sim.trigger_event(None, "diskfull")
        sim.trigger_event(1, "IO", inputIOPortID="1")
        sim.trigger_event(1, "IO", state="inactive", inputIOPortID="1")
        await ctx.wait_for(lambda: len(ctx.events) >= 4)
        got = [(e.type, e.state, e.zone, e.channel) for e in ctx.events]
        assert got == [("line_crossing", "active", None, 3), ("disk_full", "active", None, None),
                       ("io", "active", "front", 1), ("io", "inactive", "front", 1)]
        assert ctx.events[2].data["inputIOPortID"] == "1"
    finally:
        task.cancel()


async def test_stall_reconnects(sim, driver_factory):
    drv, ctx = driver_factory(make_device(sim, {"front": {"address": 1}}, stream_stall_timeout=2000))
    task = await _run(drv)
    try:
        await until(lambda: sim.open_streams == 1)
        sim.set_fault("stall")
        await until(lambda: sim.stream_connects >= 2, timeout=15)
        sim.set_fault("none")
        await until(lambda: sim.open_streams >= 1)
        sim.trigger_event(1, "VMD")
        await ctx.wait_for(lambda: ctx.events)
        assert ctx.events[0].type == "motion"
    finally:
        task.cancel()


async def test_dropped_stream_reconnects(sim, driver_factory):
    drv, ctx = driver_factory(make_device(sim, {"front": {"address": 1}}))
    task = await _run(drv)
    try:
        await until(lambda: sim.open_streams == 1)
        sim.set_fault("drop_stream")
        await until(lambda: sim.stream_connects >= 2)
        await until(lambda: sim.open_streams == 1)
        sim.trigger_event(1, "shelteralarm")
        await ctx.wait_for(lambda: ctx.events)
        assert (ctx.events[0].type, ctx.events[0].zone) == ("tamper", "front")
        assert "reconnecting" in [i.get("event_stream") for i in ctx.infos]
    finally:
        task.cancel()


async def test_alert_stream_404_reported_once(sim, driver_factory, caplog):
    sim.set_fault("no_stream")
    drv, ctx = driver_factory(make_device(sim))
    await asyncio.wait_for(drv.run_events(), 10)  # returns instead of looping
    hits = [p for _, p, a in sim.requests if p.endswith("alertStream") and a]
    assert len(hits) == 1
    assert ctx.infos[-1]["event_stream"] == "unsupported"
    assert sum("not supported" in r.getMessage() for r in caplog.records) == 1


async def test_events_off_returns_at_once(sim, driver_factory):
    drv, _ = driver_factory(make_device(sim, events=False))
    await asyncio.wait_for(drv.run_events(), 2)
    assert sim.stream_connects == 0


async def test_stream_auth_failure_waits_for_good_login(sim, driver_factory):
    drv, ctx = driver_factory(make_device(sim, password=Secret("bad-bad")))
    task = await _run(drv)
    try:
        await until(lambda: sim.auth.failed_logins_total == 1)
        await asyncio.sleep(1.0)
        assert sim.auth.failed_logins_total == 1  # no retry loop on 401
        assert ctx.infos[-1]["event_stream"] == "auth_failed"
    finally:
        task.cancel()


async def test_json_image_and_broken_parts_on_the_wire(sim, driver_factory):
    drv, ctx = driver_factory(make_device(sim, {"front": {"address": 1}}))
    task = await _run(drv)
    try:
        await until(lambda: sim.open_streams == 1)
        sim.push_part(json.dumps({"channelID": 1, "eventType": "regionEntrance",
                                  "eventState": "active"}).encode(), "application/json")
        sim.push_part(b"\xff\xd8 not really a picture \xff\xd9", "image/jpeg")
        sim.push_raw(b"--boundary\r\nContent-Type: application/xml\r\nContent-Length: 500\r\n\r\n<Event")
        sim.push_part(b"<EventNotificationAlert><eventType>VMD", "application/xml")
        sim.trigger_event(1, "fielddetection")
        await ctx.wait_for(lambda: len(ctx.events) >= 2)
        assert [(e.type, e.zone) for e in ctx.events] == [("region_entrance", "front"), ("intrusion", "front")]
    finally:
        task.cancel()


# ---------------------------------------------------------------- captured devices served by the simulator


def _capture_ids(data: dict, key: str, item: str, list_key: str) -> list[int]:
    entry = data.get(key, {})
    if "response" not in entry:
        return []
    items = entry["response"][list_key].get(item) or []
    items = items if isinstance(items, list) else [items]
    return [int(i["id"]) for i in items]


async def test_every_captured_device_through_the_simulator(driver_factory):
    base = captures()
    for path in sorted((base / "devices").glob("*.json")):
        data = json.loads(path.read_text())["data"]["ISAPI"]
        info = data["System/deviceInfo"]["response"]["DeviceInfo"]
        s = IsapiSimulator(fixture=path.stem, fixtures_dir=base)
        await s.start()
        try:
            drv, _ = driver_factory(make_device(s))
            got = await drv.cmd_get_device_info({}, None)
            assert (got["model"], got["firmware"], got["serial"]) == (
                info["model"], info["firmwareVersion"], info["serialNumber"]), path.name
            assert xmltodict.parse(got["raw_xml"])["DeviceInfo"]["model"] == info["model"]
            chans = await drv.cmd_get_channels({}, None)
            proxy = _capture_ids(data, "ContentMgmt/InputProxy/channels", "InputProxyChannel",
                                 "InputProxyChannelList")
            streaming = sorted({i // 100 for i in _capture_ids(data, "Streaming/channels", "StreamingChannel",
                                                               "StreamingChannelList")})
            video = _capture_ids(data, "System/Video/inputs/channels", "VideoInputChannel",
                                 "VideoInputChannelList")
            expected = proxy or streaming or video
            assert [c["channel"] for c in chans["channels"]] == expected, path.name
            assert chans["source"] == ("input_proxy" if proxy else "streaming" if streaming else "video_inputs")
            await drv.close()
        finally:
            await s.stop()


async def test_captured_nvr_event_lands_on_zone_two(driver_factory):
    base = captures()
    s = IsapiSimulator(fixture="DS-7608NXI-I2", fixtures_dir=base, heartbeat=0.3)
    await s.start()
    try:
        zones = {f"cam{n}": {"address": n} for n in (1, 2, 3, 4)}
        drv, ctx = driver_factory(make_device(s, zones))
        await drv.connect()
        assert drv.ip_channel_ids == [1, 2, 3, 4]
        task = await _run(drv)
        await until(lambda: s.open_streams == 1)
        s.push_part((base / "events" / "nvr_2_fielddetection.xml").read_bytes())
        await ctx.wait_for(lambda: ctx.events)
        ev = ctx.events[0]
        assert (ev.type, ev.vendor_type, ev.zone, ev.channel) == ("intrusion", "fielddetection", "cam2", 2)
        task.cancel()
    finally:
        await s.stop()


async def test_sim_http_control_api(sim, driver_factory):
    import aiohttp

    drv, ctx = driver_factory(make_device(sim, {"front": {"address": 1}}))
    task = await _run(drv)
    try:
        await until(lambda: sim.open_streams == 1)
        async with aiohttp.ClientSession() as http:
            async with http.post(sim.url + "/_sim/event", json={"channel": 1, "event_type": "VMD"}) as r:
                assert (await r.json())["open_streams"] == 1
            await ctx.wait_for(lambda: ctx.events)
            async with http.post(sim.url + "/_sim/users", json={"name": "op", "password": "x", "ptz": False}):
                pass
            async with http.post(sim.url + "/_sim/lockout"):
                pass
            async with http.get(sim.url + "/_sim/state") as r:
                state = await r.json()
            assert state["locked"] is True and state["stream_connects"] == 1
            async with http.post(sim.url + "/_sim/unlock"):
                pass
            async with http.post(sim.url + "/_sim/fault", json={"kind": "bogus"}) as r:
                assert r.status == 400
        assert sim.auth.users["op"].ptz is False and not sim.auth.locked
        assert ctx.events[0].type == "motion"
    finally:
        task.cancel()


async def test_heartbeat_does_not_end_a_real_video_loss(sim, driver_factory):
    # The heartbeat is "videoloss inactive" on channel 1; a real video loss on channel 1 must
    # still end by quiet time (repeats stop), not by the next heartbeat.
    drv, ctx = driver_factory(make_device(sim, {"front": {"address": 1}}, event_quiet_time=1500))
    task = await _run(drv)
    try:
        await until(lambda: sim.open_streams == 1)
        sim.trigger_event(1, "videoloss")
        await ctx.wait_for(lambda: len(ctx.events) >= 2)
        assert [(e.type, e.state) for e in ctx.events] == [("video_loss", "active"), ("video_loss", "inactive")]
        assert ctx.events[1].ended_by == "quiet_time"
    finally:
        task.cancel()


async def test_stream_refused_twice_while_login_works_is_not_retried(sim, driver_factory, caplog):
    """An account that may read deviceInfo but not subscribe: after a refusal, a good poll,
    and a second refusal, the stream gives up instead of adding a failed login per poll."""
    drv, ctx = driver_factory(make_device(sim))
    attempts = []

    def refused(path):
        attempts.append(path)
        raise AuthError("401 Unauthorized on alertStream")

    drv.client.stream = refused
    await drv.connect()
    task = asyncio.create_task(drv.run_events())
    await until(lambda: len(attempts) == 1)
    await drv.poll()  # the login itself is fine
    await asyncio.wait_for(task, 10)  # returns instead of retrying forever
    assert len(attempts) == 2
    assert ctx.infos[-1]["event_stream"] == "forbidden"
    assert sum("refused twice" in r.getMessage() for r in caplog.records) == 1
