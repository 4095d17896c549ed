"""Camera and alarm-panel commands, zone state, and the not_supported declarations."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt

import pytest

from gemhost.errors import DeviceError, InvalidArgs, NotSupported
from gemhost.schema import mapping_validator

ZONES = {
    "nvr-ch1": "Q10000001:1",
    "nvr-ch2": "Q10000001:2",
    "ptz": "Q10000002:1",
    "panel": "Q20000001",
    "ground": "Q20000001:sub:1",
    "office": "Q20000001:sub:2",
    "front-door": "Q20000001:zone:1",
    "hall": "Q20000001:zone:2",
    "smoke": "Q20000001:zone:3",
    "gone": "Q88888888",
}


def args(hpp, command: str, values: dict) -> dict:
    return mapping_validator(hpp.SCHEMA.commands[command].args)(values)


@pytest.fixture
async def connected(make_driver):
    driver, ctx = make_driver(ZONES)
    await driver.connect()
    return driver, ctx


async def until(condition, timeout: float = 5.0) -> None:
    """Wait for a condition (a bound on waiting, not a timing assertion)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def run(driver, hpp, command: str, values: dict):
    return await driver.command(command, args(hpp, command, values), None)


async def test_zone_state_after_connect(connected):
    _, ctx = connected
    assert ctx.zone_state["nvr-ch1"] == {
        "online": True,
        "missing": False,
        "source": "hpp",
        "device_type": "encoding",
        "model": "DS-7608NXI-K2",
        "site": "s-1001",
        "licence": False,
    }
    assert ctx.zone_state["ptz"]["licence"] is True
    assert ctx.zone_state["ground"]["arming"] == "disarm" and ctx.zone_state["ground"]["armed"] is False
    assert ctx.zone_state["smoke"] == {
        **ctx.zone_state["smoke"],
        "online": True,
        "bypassed": False,
        "fault": False,
        "armed": False,
        "alarm": False,
        "subsystem": 1,
    }
    assert ctx.zone_state["panel"]["subsystems"] == {"1": "disarm", "2": "disarm"}
    assert ctx.zone_state["gone"] == {"online": False, "missing": True, "source": "hpp"}


async def test_zone_state_follows_a_channel_going_offline(connected, sim):
    driver, ctx = connected
    sim.cloud.devices["Q10000001"].channels[1].online = False
    await driver.poll()
    assert ctx.zone_state["nvr-ch1"]["online"] is True and ctx.zone_state["nvr-ch2"]["online"] is False


async def test_snapshot(connected, hpp):
    driver, _ = connected
    result = await run(driver, hpp, "snapshot", {"address": "Q10000001:2"})
    assert result["content_type"] == "image/jpeg"
    picture = base64.b64decode(result["base64"])
    assert picture[:2] == b"\xff\xd8" and picture[-2:] == b"\xff\xd9"


async def test_snapshot_of_a_panel_is_not_supported(connected, hpp):
    driver, _ = connected
    with pytest.raises(NotSupported, match="alarm device"):
        await run(driver, hpp, "snapshot", {"address": "Q20000001"})


async def test_snapshot_of_an_offline_device(connected, hpp, sim):
    driver, _ = connected
    sim.cloud.devices["Q10000001"].online = False
    with pytest.raises(DeviceError, match="offline"):
        await run(driver, hpp, "snapshot", {"address": "Q10000001:1"})


async def test_live_stream_without_licence_expires_in_5_minutes(connected, hpp):
    driver, _ = connected
    before = dt.datetime.now().astimezone()
    result = await run(driver, hpp, "get_stream_url", {"address": "Q10000001:2"})
    assert result["licence"] is False and result["limit_seconds"] == 300 and "/Q10000001/2?" in result["url"]
    expires = dt.datetime.fromisoformat(result["expires_at"])
    assert dt.timedelta(seconds=290) <= expires - before <= dt.timedelta(seconds=310)


async def test_playback_with_licence_has_no_expiry(connected, hpp):
    driver, _ = connected
    result = await run(
        driver,
        hpp,
        "get_stream_url",
        {
            "address": "Q10000002",
            "type": "playback",
            "start": "2026-11-29T08:00:00Z",
            "end": "2026-11-29T09:00:00Z",
        },
    )
    assert result["licence"] is True and result["expires_at"] is None and "type=playback" in result["url"]


async def test_playback_needs_start_and_end(connected, hpp):
    driver, _ = connected
    with pytest.raises(InvalidArgs, match="start and end"):
        await run(driver, hpp, "get_stream_url", {"address": "Q10000002", "type": "playback"})


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
    assert stopped["stopped"] is True and stopped["stop_after_ms"] is None


async def test_ptz_duration_returns_at_once_and_stops_in_the_background(connected, hpp, sim):
    driver, _ = connected
    moves = sim.cloud.devices["Q10000002"].ptz
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await run(driver, hpp, "ptz_pan_tilt", {"address": "Q10000002:1", "pan": 30, "tilt": 0, "duration": 100})
    assert result["stopped"] is False and result["stop_after_ms"] == 100
    # answered with the stop still pending (the old code slept inside the command)
    assert moves == [{"channel": 1, "pan": 30, "tilt": 0, "zoom": 0}] and len(driver._timers) == 1
    await until(lambda: len(moves) == 2)
    assert loop.time() - started >= 0.1
    assert moves[-1] == {"channel": 1, "pan": 0, "tilt": 0, "zoom": 0}
    assert driver._timers == {}


async def test_a_new_ptz_command_replaces_the_pending_stop(connected, hpp, sim):
    driver, _ = connected
    moves = sim.cloud.devices["Q10000002"].ptz
    await run(driver, hpp, "ptz_zoom", {"address": "Q10000002:1", "zoom": 50, "duration": 60000})
    await run(driver, hpp, "ptz_zoom", {"address": "Q10000002:1", "zoom": -50, "duration": 30})
    await until(lambda: len(moves) == 3)
    await asyncio.sleep(0.05)
    assert [m["zoom"] for m in moves] == [50, -50, 0] and driver._timers == {}


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
    assert driver._timers == {}


async def test_camera_alarm_output(connected, hpp, sim):
    driver, _ = connected
    await run(driver, hpp, "alarm_output", {"address": "Q10000001", "output": 1, "state": "on"})
    assert sim.cloud.devices["Q10000001"].outputs[1] is True
    with pytest.raises(DeviceError, match="invalidID"):
        await run(driver, hpp, "alarm_output", {"address": "Q10000001", "output": 5, "state": "on"})


async def test_camera_arm_and_disarm_subscribe_in_the_cloud(connected, hpp, sim):
    driver, _ = connected
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


@pytest.mark.parametrize(
    ("command", "arming"), [("arm_away", "away"), ("arm_stay", "stay"), ("arm_instant", "instant")]
)
async def test_panel_arming_modes_and_disarm(connected, hpp, sim, command, arming):
    driver, ctx = connected
    result = await run(driver, hpp, command, {"address": "Q20000001:sub:1"})
    assert result["status"]["subsystems"] == {"1": arming, "2": "disarm"}
    assert ctx.zone_state["ground"]["arming"] == arming and ctx.zone_state["ground"]["armed"] is True
    assert ctx.zone_state["hall"]["armed"] is (arming != "stay")  # interior zone stays off in stay mode
    await run(driver, hpp, "disarm", {"address": "Q20000001:sub:1"})
    assert sim.cloud.devices["Q20000001"].subsystems[1].arming == "disarm"
    assert ctx.zone_state["ground"]["armed"] is False


async def test_panel_address_arms_every_subsystem(connected, hpp, sim):
    driver, _ = connected
    result = await run(driver, hpp, "arm_away", {"address": "Q20000001"})
    assert result["subsystems"] == [1, 2]
    await run(driver, hpp, "disarm", {"address": "Q20000001"})
    assert {s.arming for s in sim.cloud.devices["Q20000001"].subsystems.values()} == {"disarm"}


async def test_arming_with_a_zone_fault_is_refused(connected, hpp, sim):
    driver, _ = connected
    sim.cloud.devices["Q20000001"].zones[1].fault = True
    with pytest.raises(DeviceError, match="zone fault: Front door"):
        await run(driver, hpp, "arm_away", {"address": "Q20000001:sub:1"})
    await run(driver, hpp, "bypass_zone", {"address": "Q20000001:zone:1"})
    await run(driver, hpp, "arm_away", {"address": "Q20000001:sub:1"})


async def test_bypass_and_restore(connected, hpp, sim):
    driver, ctx = connected
    await run(driver, hpp, "bypass_zone", {"address": "Q20000001:zone:2"})
    assert (
        sim.cloud.devices["Q20000001"].zones[2].bypassed is True
        and ctx.zone_state["hall"]["bypassed"] is True
    )
    await run(driver, hpp, "restore_bypass", {"address": "Q20000001:zone:2"})
    assert (
        sim.cloud.devices["Q20000001"].zones[2].bypassed is False
        and ctx.zone_state["hall"]["bypassed"] is False
    )
    with pytest.raises(InvalidArgs, match="SERIAL:zone:N"):
        await run(driver, hpp, "bypass_zone", {"address": "Q20000001:sub:1"})


async def test_fire_alarm_and_clear(connected, hpp, sim):
    driver, ctx = connected
    assert sim.intrusion("Q20000001", 3, fire=True)
    await driver.poll()
    assert ctx.zone_state["smoke"]["alarm"] is True and ctx.zone_state["ground"]["alarm"] is True
    await run(driver, hpp, "clear_alarm", {"address": "Q20000001:sub:1"})
    assert ctx.zone_state["smoke"]["alarm"] is False and ctx.zone_state["ground"]["alarm"] is False
    assert sim.cloud.devices["Q20000001"].subsystems[1].fire is False


async def test_panel_outputs_siren_lock_trigger(connected, hpp, sim):
    driver, _ = connected
    panel = sim.cloud.devices["Q20000001"]
    await run(driver, hpp, "alarm_output", {"address": "Q20000001", "output": 2, "state": "on"})
    await run(driver, hpp, "siren", {"address": "Q20000001", "state": "on"})
    await run(driver, hpp, "lock", {"address": "Q20000001", "action": "open"})
    await run(driver, hpp, "trigger", {"address": "Q20000001", "trigger": 1, "state": "on"})
    assert (panel.outputs[2], panel.sirens[1], panel.locks[1], panel.triggers[1]) == (
        True,
        True,
        "open",
        True,
    )
    await run(driver, hpp, "siren", {"address": "Q20000001", "state": "off"})
    assert panel.sirens[1] is False
    with pytest.raises(DeviceError, match="no siren 4"):
        await run(driver, hpp, "siren", {"address": "Q20000001", "siren": 4, "state": "on"})


async def test_panel_commands_on_a_camera_are_not_supported(connected, hpp):
    driver, _ = connected
    with pytest.raises(NotSupported, match="encoding device"):
        await run(driver, hpp, "siren", {"address": "Q10000001", "state": "on"})


async def test_address_outside_the_account(connected, hpp):
    driver, _ = connected
    with pytest.raises(DeviceError, match="not in this HPP account"):
        await run(driver, hpp, "snapshot", {"address": "Q88888888"})


UNSUPPORTED = [
    "reset_password",
    "n_plus_one",
    "configure_line_crossing",
    "configure_intrusion",
    "search_by_image",
    "face_import",
    "face_export",
    "broadcast",
    "two_way_audio",
    "reverse_playback",
    "download_video",
    "remote_configuration",
    "time_sync",
]


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


def test_schema_tables_are_printable(hpp):
    tables = hpp.SCHEMA.tables
    assert set(tables) == {"Encoding device functions", "Alarm device functions", "Event types"}
    assert len(tables["Event types"]) == 17
    for rows in tables.values():
        for row in rows:
            assert all(isinstance(v, str) for v in row.values())
