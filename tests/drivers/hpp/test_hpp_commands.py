"""Camera and alarm-panel commands over the transparent channel (guide 3.23, A.4, A.5), zone
state, and the not_supported declarations (issue 11 items 5 and 8)."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from gemhost_drivers.hpp import transparent
from gemhost_drivers.hpp.client import Reply
from gemhost_drivers.hpp.parsing import load_xml

from gemhost.errors import DeviceError, InvalidArgs, NotSupported
from gemhost.schema import mapping_validator
from gemhost.testing import until

ZONES = {
    "nvr-ch1": "Q10000001:1",
    "nvr-ch2": "Q10000001:2",
    "ptz": "Q10000002:1",
    "panel": "Q20000001",
    "ground": "Q20000001:sub:1",
    "office": "Q20000001:sub:2",
    "front-door": "Q20000001:zone:0",
    "hall": "Q20000001:zone:1",
    "smoke": "Q20000001:zone:2",
    "gone": "Q88888888",
}


def args(hpp, command: str, values: dict) -> dict:
    return mapping_validator(hpp.SCHEMA.commands[command].args)(values)


@pytest.fixture
async def connected(make_driver):
    driver, ctx = make_driver(ZONES)
    await driver.connect()
    return driver, ctx


async def run(driver, hpp, command: str, values: dict):
    return await driver.command(command, args(hpp, command, values), None)


def last(sim, **match):
    """The last transparent request the simulated cloud received that matches."""
    return [r for r in sim.transparent_log if all(r[k] == v for k, v in match.items())][-1]


def template_keys(text: str) -> set[str]:
    """The keys of a guide JSON template (A.5.x, with comments and empty values)."""
    return set(re.findall(r'"(\w+)"\s*:', re.sub(r"/\*.*?\*/", "", text, flags=re.S)))


async def test_zone_state_after_connect(connected):
    _, ctx = connected
    base = {"missing": False, "source": "hpp", "site": "s-1001", "subscribed": True}
    assert ctx.zone_state["nvr-ch1"] == {**base, "online": True, "device_type": "nvr", "model": "DS-7608NXI-K2",
                                         "firmware": "V5.7.0 build 231120"}
    assert ctx.zone_state["ground"]["arming"] == "disarmed" and ctx.zone_state["ground"]["armed"] is False
    assert ctx.zone_state["panel"]["subsystems"] == {"1": "disarmed", "2": "disarmed"}
    front = ctx.zone_state["front-door"]
    assert (front["online"], front["bypassed"], front["armed"], front["fault"], front["subsystem"]) == (
        True, False, False, False, 1)
    assert ctx.zone_state["gone"] == {"online": False, "missing": True, "source": "hpp"}
    assert not any("alarm" in state or "active" in state for state in ctx.zone_state.values())  # issue 9


async def test_zone_state_follows_a_channel_going_offline(connected, sim):
    """Item 3: channel state from device/camera/list ``status`` (3.22)."""
    driver, ctx = connected
    sim.cloud.devices["Q10000001"].channels[1].online = False
    await driver.poll()
    assert ctx.zone_state["nvr-ch2"]["online"] is False and ctx.zone_state["nvr-ch1"]["online"] is True


async def test_ptz_follows_a_5_15(connected, hpp, sim):
    """A.4.6 PUT continuous with XML_Absolute_PTZData (A.5.15's elements and namespace)."""
    driver, _ = connected
    await run(driver, hpp, "ptz_pan_tilt", {"address": "Q10000002:1", "pan": -40, "tilt": 25})
    request = last(sim, serial="Q10000002")
    assert (request["method"], request["uri"], request["content_type"]) == (
        "PUT", "ISAPI/PTZCtrl/channels/1/continuous", "application/xml")
    tag, body = load_xml(request["body"])
    guide_tag, guide = load_xml(hpp.text("A.5.15_XML_Absolute_PTZData.xml"))
    assert tag == guide_tag == "PTZData" and set(body) <= set(guide)
    assert body == {"pan": "-40", "tilt": "25", "zoom": "0"}
    assert b'xmlns="http://www.isapi.org/ver20/XMLSchema"' in request["body"]


async def test_ptz_commands(connected, hpp, sim):
    driver, _ = connected
    await run(driver, hpp, "ptz_pan_tilt", {"address": "Q10000002:1", "pan": -40, "tilt": 25})
    await run(driver, hpp, "ptz_zoom", {"address": "Q10000002", "zoom": 60, "duration": 20})
    await until(lambda: len(sim.cloud.devices["Q10000002"].ptz) == 3)
    stopped = await run(driver, hpp, "ptz_stop", {"address": "Q10000002"})
    await run(driver, hpp, "ptz_preset", {"address": "Q10000002", "preset": 7})
    assert sim.cloud.devices["Q10000002"].ptz == [
        {"channel": 1, "pan": -40, "tilt": 25, "zoom": 0},
        {"channel": 1, "pan": 0, "tilt": 0, "zoom": 60},
        {"channel": 1, "pan": 0, "tilt": 0, "zoom": 0},  # stop after duration
        {"channel": 1, "pan": 0, "tilt": 0, "zoom": 0},  # ptz_stop
        {"channel": 1, "preset": 7},
    ]
    assert last(sim, serial="Q10000002")["uri"] == "ISAPI/PTZCtrl/channels/1/presets/7/goto"  # A.4.9
    assert stopped["stopped"] is True and stopped["stop_after_ms"] is None
    with pytest.raises(DeviceError, match="badParameters"):
        await run(driver, hpp, "ptz_preset", {"address": "Q10000002", "preset": 99})


async def test_ptz_duration_returns_at_once_and_stops_in_the_background(connected, hpp, sim):
    driver, _ = connected
    moves = sim.cloud.devices["Q10000002"].ptz
    result = await run(driver, hpp, "ptz_pan_tilt", {"address": "Q10000002:1", "pan": 30, "tilt": 0, "duration": 100})
    assert result["stopped"] is False and result["stop_after_ms"] == 100
    assert moves == [{"channel": 1, "pan": 30, "tilt": 0, "zoom": 0}] and len(driver._timers) == 1
    await until(lambda: len(moves) == 2)
    assert moves[-1] == {"channel": 1, "pan": 0, "tilt": 0, "zoom": 0}
    # the simulator has the stop before the driver has its reply: the timer ends right after
    await until(lambda: driver._timers == {}, "the stop's timer gone once its request ended")


async def test_a_new_ptz_command_replaces_the_pending_stop(connected, hpp, sim):
    driver, _ = connected
    moves = sim.cloud.devices["Q10000002"].ptz
    await run(driver, hpp, "ptz_zoom", {"address": "Q10000002:1", "zoom": 50, "duration": 60000})
    await run(driver, hpp, "ptz_zoom", {"address": "Q10000002:1", "zoom": -50, "duration": 30})
    await until(lambda: len(moves) == 3)
    await until(lambda: driver._timers == {})
    assert [m["zoom"] for m in moves] == [50, -50, 0]


async def test_close_cancels_pending_ptz_stops(connected, hpp, sim):
    driver, _ = connected
    moves = sim.cloud.devices["Q10000002"].ptz
    await run(driver, hpp, "ptz_pan_tilt", {"address": "Q10000002:1", "pan": 0, "tilt": 20, "duration": 100})
    (pending,) = driver._timers.values()
    await driver.close()
    assert pending.cancelled() and driver._timers == {}
    await asyncio.sleep(0.2)  # past the duration: no stop may be sent by a closed driver
    assert moves == [{"channel": 1, "pan": 0, "tilt": 20, "zoom": 0}]


async def test_failed_background_stop_is_logged_not_raised(connected, hpp, sim, caplog):
    driver, _ = connected
    await run(driver, hpp, "ptz_pan_tilt", {"address": "Q10000002:1", "pan": 10, "tilt": 0, "duration": 20})
    sim.cloud.set_online("Q10000002", False)
    await until(lambda: "PTZ stop after 20 ms on Q10000002:1 failed" in caplog.text)
    await until(lambda: driver._timers == {}, "the failed stop's timer gone")


async def test_camera_set_output_follows_a_4_22(connected, hpp, sim):
    """A.4.22 PUT IO/outputs/<ID>/trigger with XML_IOPortData (A.5.23)."""
    driver, _ = connected
    await run(driver, hpp, "set_output", {"address": "Q10000001", "output": 1, "state": "on"})
    assert sim.cloud.devices["Q10000001"].io_outputs[1] is True
    request = last(sim, serial="Q10000001")
    assert (request["method"], request["uri"]) == ("PUT", "ISAPI/System/IO/outputs/1/trigger")
    assert load_xml(request["body"]) == ("IOPortData", {"outputState": "high"})
    assert set(load_xml(hpp.text("A.5.23_XML_IOPortData.xml"))[1]) == {"outputState"}
    with pytest.raises(DeviceError, match="badParameters"):
        await run(driver, hpp, "set_output", {"address": "Q10000001", "output": 5, "state": "on"})


async def test_panel_relay_follows_a_4_15(connected, hpp, sim):
    """Item 8: POST control/outputs?format=json with JSON_OutputsCtrl (A.5.5), relays from 0."""
    driver, _ = connected
    await run(driver, hpp, "set_output", {"address": "Q20000001", "output": 0, "state": "on"})
    assert sim.cloud.devices["Q20000001"].relays == {0: True, 1: False}
    request = last(sim, serial="Q20000001", uri="ISAPI/SecurityCP/control/outputs?format=json")
    assert request["method"] == "POST"
    body = json.loads(request["body"])
    assert body == {"OutputsCtrl": {"switch": "open", "List": [{"id": 0}]}}
    assert template_keys(hpp.text("A.5.5_JSON_OutputsCtrl.txt")) == {"OutputsCtrl", "switch", "List", "id"}
    await run(driver, hpp, "set_output", {"address": "Q20000001", "output": 0, "state": "off"})
    assert sim.cloud.devices["Q20000001"].relays[0] is False


async def test_set_output_pulses_and_refuses_state_with_pulse(connected, hpp, sim):
    """The core's outputs command (gemhost.outputs) over HPP: a pulse switches the relay on
    (A.4.15 open) now and off (close) after it; state and pulse together are refused before
    anything is sent."""
    driver, _ = connected
    reply = await run(driver, hpp, "set_output", {"address": "Q20000001", "output": 1, "pulse": 50})
    assert reply == {"address": "Q20000001", "output": 1, "pulse": 50, "state": "on"}
    assert sim.cloud.devices["Q20000001"].relays[1] is True
    await until(lambda: sim.cloud.devices["Q20000001"].relays[1] is False, "the end of the pulse")
    switches = [json.loads(r["body"])["OutputsCtrl"]["switch"]
                for r in sim.transparent_log if r["uri"] == "ISAPI/SecurityCP/control/outputs?format=json"]
    assert switches == ["open", "close"]
    await until(lambda: driver._timers == {}, "the pulse's timer gone once its request ended")
    before = len(sim.transparent_log)
    with pytest.raises(InvalidArgs, match="exactly one of state"):
        await run(driver, hpp, "set_output", {"address": "Q20000001", "output": 1, "state": "on", "pulse": 50})
    assert len(sim.transparent_log) == before


async def test_bypass_and_recovery_follow_a_4_11_and_a_4_12(connected, hpp, sim):
    """Item 8: PUT control/bypass and control/bypassRecover ?format=json with JSON_List_ID (A.5.3)."""
    driver, ctx = connected
    await run(driver, hpp, "bypass_zone", {"address": "Q20000001:zone:1"})
    request = last(sim, serial="Q20000001", method="PUT")
    assert request["uri"] == "ISAPI/SecurityCP/control/bypass?format=json"
    assert json.loads(request["body"]) == {"List": [{"id": 1}]}
    assert template_keys(hpp.text("A.5.3_JSON_List_ID.txt")) == {"List", "id"}
    assert sim.cloud.devices["Q20000001"].zones[1].bypassed is True and ctx.zone_state["hall"]["bypassed"] is True
    await run(driver, hpp, "restore_bypass", {"address": "Q20000001:zone:1"})
    assert last(sim, serial="Q20000001", method="PUT")["uri"] == "ISAPI/SecurityCP/control/bypassRecover?format=json"
    assert sim.cloud.devices["Q20000001"].zones[1].bypassed is False and ctx.zone_state["hall"]["bypassed"] is False
    with pytest.raises(InvalidArgs, match="SERIAL:zone:N"):
        await run(driver, hpp, "bypass_zone", {"address": "Q20000001:sub:1"})


@pytest.mark.parametrize(("command", "arming"), [("arm_away", "away"), ("arm_stay", "stay")])
async def test_panel_arming_and_disarm_follow_a_4_10_and_a_4_14(connected, hpp, sim, command, arming):
    driver, ctx = connected
    result = await run(driver, hpp, command, {"address": "Q20000001:sub:1"})
    assert last(sim, serial="Q20000001", method="PUT")["uri"] == (
        f"ISAPI/SecurityCP/control/arm/1?ways={arming}&format=json")
    assert result["status"]["subsystems"] == {"1": arming, "2": "disarm"}
    assert ctx.zone_state["ground"]["arming"] == arming and ctx.zone_state["ground"]["armed"] is True
    assert ctx.zone_state["hall"]["armed"] is (arming != "stay")  # interior zone stays off in stay mode
    await run(driver, hpp, "disarm", {"address": "Q20000001:sub:1"})
    assert last(sim, serial="Q20000001", method="PUT")["uri"] == "ISAPI/SecurityCP/control/disarm/1?format=json"
    assert sim.cloud.devices["Q20000001"].partitions[1].arming == "disarm"
    assert ctx.zone_state["ground"]["arming"] == "disarmed" and ctx.zone_state["ground"]["armed"] is False


async def test_panel_address_arms_every_partition(connected, hpp, sim):
    driver, _ = connected
    result = await run(driver, hpp, "arm_away", {"address": "Q20000001"})
    assert result["subsystems"] == [1, 2]
    await run(driver, hpp, "disarm", {"address": "Q20000001"})
    assert {p.arming for p in sim.cloud.devices["Q20000001"].partitions.values()} == {"disarm"}


async def test_a_device_refusal_names_the_a6_sub_status_and_the_device_code(connected, hpp, sim):
    """Item 8: X-DeviceCode and the ResponseStatus (A.5.8, A.6) go into the error message."""
    driver, _ = connected
    sim.cloud.devices["Q20000001"].zones[0].fault = True
    with pytest.raises(DeviceError) as caught:
        await run(driver, hpp, "arm_away", {"address": "Q20000001:sub:1"})
    message = str(caught.value)
    assert "Q20000001 refused PUT /ISAPI/SecurityCP/control/arm/1" in message
    assert "zoneFault (The zone is in fault status.)" in message and "X-DeviceCode 0x4000800E" in message
    await run(driver, hpp, "bypass_zone", {"address": "Q20000001:zone:0"})
    await run(driver, hpp, "arm_away", {"address": "Q20000001:sub:1"})


async def test_an_offline_device_is_reported_from_the_x_error_code_header(connected, hpp, sim):
    driver, _ = connected
    sim.cloud.devices["Q20000001"].online = False
    with pytest.raises(DeviceError, match=r"X-ErrorCode EVZ20007 \(The device is offline\.\)"):
        await run(driver, hpp, "clear_alarm", {"address": "Q20000001:sub:1"})


def test_judge_reads_every_header_and_both_status_formats():
    ok = Reply(200, "application/json", b'{"statusCode": 1, "statusString": "OK", "subStatusCode": "ok"}', "0", "", "")
    transparent.judge(ok, "Q1", "x")
    xml = (b'<ResponseStatus xmlns="http://www.std-cgi.org/ver20/XMLSchema"><statusCode>4</statusCode>'
           b"<subStatusCode>notSupport</subStatusCode></ResponseStatus>")
    with pytest.raises(NotSupported, match=r"Invalid Operation: notSupport \(Not supported\.\)"):
        transparent.judge(Reply(200, "application/xml", xml, "0", "", ""), "Q1", "x")
    with pytest.raises(NotSupported, match="EVZ20015"):
        transparent.judge(Reply(200, "text/plain", b"", "EVZ20015", "EVZ20015", ""), "Q1", "x")
    with pytest.raises(DeviceError, match="HTTP 502"):
        transparent.judge(Reply(502, "text/html", b"<html/>", "", "", ""), "Q1", "x")


@pytest.mark.parametrize(
    ("method", "uri", "listed"),
    [
        ("PUT", "ISAPI/SecurityCP/control/arm/1?ways=away&format=json", True),
        ("PUT", "ISAPI/SecurityCP/control/arm/1?ways=instant&format=json", False),
        ("PUT", "ISAPI/SecurityCP/control/bypass/3?format=json", False),
        ("PUT", "ISAPI/SecurityCP/control/bypass?format=json", True),
        ("PUT", "ISAPI/SecurityCP/control/outputs/1?format=json", False),
        ("POST", "ISAPI/SecurityCP/control/outputs?format=json", True),
        ("PUT", "ISAPI/SecurityCP/control/siren/1?format=json", False),
        ("GET", "ISAPI/Streaming/channels/101/picture", False),
        ("GET", "ISAPI/System/IO/outputs", True),
        ("PUT", "ISAPI/System/IO/outputs", False),
    ],
)
def test_only_the_uris_of_a4_are_listed(method, uri, listed):
    assert transparent.listed(method, uri) is listed


async def test_the_driver_never_sends_a_uri_the_guide_does_not_list(connected, sim):
    driver, _ = connected
    with pytest.raises(NotSupported, match="not among the ISAPI URIs of guide A.4"):
        await driver.isapi("Q10000001", "GET", "ISAPI/Streaming/channels/101/picture")
    assert not any("Streaming" in r["uri"] for r in sim.transparent_log)


async def test_list_recordings_follows_3_52(connected, hpp):
    driver, _ = connected
    result = await run(driver, hpp, "list_recordings", {"address": "Q10000001:2", "start": "2024-05-01T10:00:00+00:00",
                                                        "end": "2024-05-01T12:30:00+00:00", "source": "local"})
    assert result["address"] == "Q10000001:2" and len(result["recordings"]) == 3
    first = result["recordings"][0]
    assert first["start"].startswith("2024-05-01") and first["type"] == "alarm" and first["source"] == "local"
    assert first["encrypted"] is False
    with pytest.raises(InvalidArgs, match="before start"):
        await run(driver, hpp, "list_recordings", {"address": "Q10000001", "start": "2024-05-02T00:00:00",
                                                   "end": "2024-05-01T00:00:00"})
    with pytest.raises(NotSupported, match="alarm_host"):
        await run(driver, hpp, "list_recordings", {"address": "Q20000001"})


async def test_camera_arm_and_disarm_subscribe_in_the_cloud(connected, hpp, sim):
    driver, ctx = connected
    # the cloud subscribes a whole device: a channel address would reach its other channels
    with pytest.raises(InvalidArgs, match="acts on the whole device Q10000001"):
        await run(driver, hpp, "disarm", {"address": "Q10000001:1"})
    assert sim.cloud.devices["Q10000001"].subscribed is True
    assert (await run(driver, hpp, "disarm", {"address": "Q10000001"}))["subscribed"] is False
    assert sim.cloud.devices["Q10000001"].subscribed is False
    sim.event("Q10000001", "VMD")
    assert len(sim.cloud.queue) == 0  # an unsubscribed device's alarms are not queued
    assert (await run(driver, hpp, "arm", {"address": "Q10000001"}))["subscribed"] is True
    sim.event("Q10000001", "VMD")
    assert len(sim.cloud.queue) == 1


async def test_panel_commands_on_a_camera_are_not_supported(connected, hpp):
    driver, _ = connected
    with pytest.raises(NotSupported, match="nvr device"):
        await run(driver, hpp, "arm_away", {"address": "Q10000001"})


async def test_address_outside_the_account(connected, hpp):
    driver, _ = connected
    with pytest.raises(DeviceError, match="not in this HPP account"):
        await run(driver, hpp, "ptz_stop", {"address": "Q88888888"})


def test_streams_are_declared_unsupported_with_the_reason(hpp):
    """Item 5: no invented video endpoint; describe says what gemhost can and cannot give."""
    for name in ("get_stream_url", "snapshot", "reverse_playback", "download_video", "two_way_audio"):
        spec = hpp.SCHEMA.commands[name]
        assert spec.supported is False
    assert "HPNetSDK (guide 2.7)" in hpp.SCHEMA.commands["get_stream_url"].reason
    assert "5 minutes" in hpp.SCHEMA.commands["get_stream_url"].reason
    assert "A.4" in hpp.SCHEMA.commands["snapshot"].reason
    streams = {row["what"]: row["gemhost"] for row in hpp.SCHEMA.tables["Streams over Hik-Partner Pro"]}
    assert streams["Live view URL"] == "no" and streams["List of recordings"] == "yes"


@pytest.mark.parametrize("command", ["arm_instant", "siren", "lock", "trigger"])
def test_panel_functions_outside_a4_are_not_supported(hpp, command):
    spec = hpp.SCHEMA.commands[command]
    assert spec.supported is False and "A.4" in spec.reason


UNSUPPORTED = ["reset_password", "n_plus_one", "configure_line_crossing", "configure_intrusion", "search_by_image",
               "face_import", "face_export", "broadcast", "two_way_audio", "reverse_playback", "download_video",
               "remote_configuration", "time_sync", "snapshot", "get_stream_url", "arm_instant", "siren", "lock",
               "trigger"]


@pytest.mark.parametrize("command", UNSUPPORTED)
async def test_unsupported_functions(connected, hpp, command):
    declared = hpp.SCHEMA.commands[command]
    assert declared.supported is False and len(declared.reason) > 20
    driver, _ = connected
    with pytest.raises(NotSupported):
        await driver.command(command, {}, None)


def test_every_supported_command_has_a_handler(hpp):
    from gemhost_drivers.hpp.driver import HppDriver

    for name, command in hpp.SCHEMA.commands.items():
        assert (command.supported and hasattr(HppDriver, f"cmd_{name}")) or (
            not command.supported and not hasattr(HppDriver, f"cmd_{name}")
        ), name
    assert sorted(n for n, c in hpp.SCHEMA.commands.items() if not c.supported) == sorted(UNSUPPORTED)


def test_schema_tables_are_printable(hpp):
    tables = hpp.SCHEMA.tables
    assert set(tables) == {"Streams over Hik-Partner Pro", "Encoding device functions", "Alarm device functions",
                           "Event types (guide A.3)"}
    assert len(tables["Event types (guide A.3)"]) == 22
    for rows in tables.values():
        for row in rows:
            assert all(isinstance(v, str) for v in row.values())
