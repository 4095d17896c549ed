"""Conformance: pyhik 0.4.8 (the library behind Home Assistant's hikvision integration), unpatched,
against ``IsapiSimulator`` over real loopback HTTP.

pyhik is synchronous (requests + a stream thread), so each blocking call runs in a worker
thread while the simulator serves on the test's event loop. The checks are what a Home
Assistant user relies on: the device is read (name, id, camera or NVR), its binary sensors
are built from /ISAPI/Event/triggers, and each sensor's callback turns on and off for the
channel the event happened on, and for no other.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from gemhost_drivers.hikvision_isapi.simulator import IsapiSimulator
from gemhost_drivers.hikvision_isapi.simulator.documents import device_id
from pyhik import hikvision  # a test extra: pip install -e '.[test]'

from gemhost.testing import until

PW = "sim-password"
SENSORS = ("Motion", "Field Detection", "Line Crossing")


@contextlib.asynccontextmanager
async def pyhik_on(sim: IsapiSimulator):
    """A HikCamera connected to the simulator with callbacks on every sensor it built;
    yields (camera, transitions) where transitions collects (sensor, channel, on)."""
    cam = await asyncio.to_thread(hikvision.HikCamera, "http://127.0.0.1", port=sim.port, usr="admin", pwd=PW)
    transitions: list[tuple[str, int, bool]] = []

    def callback_for(sensor: str, channel: int):
        def changed(_msg: str) -> None:
            transitions.append((sensor, channel, cam.fetch_attributes(sensor, channel)[0]))
        return changed

    for sensor, entries in cam.current_event_states.items():
        for entry in entries:
            cam.add_update_callback(callback_for(sensor, entry[1]), f"{cam.get_id}.{sensor}.{entry[1]}")
    cam.start_stream()
    try:
        await until(lambda: sim.open_streams == 1 and cam.stream_connected)
        transitions.clear()  # the "stream connected" notification every callback gets once
        yield cam, transitions
    finally:
        await asyncio.wait_for(asyncio.to_thread(cam.disconnect), 20)


def on_off(transitions, sensor: str, channel: int) -> list[bool]:
    return [on for s, c, on in transitions if (s, c) == (sensor, channel)]


@pytest.mark.parametrize("transport", ["close", "chunked"])
async def test_pyhik_camera(transport):
    sim = IsapiSimulator(kind="camera", password=PW, heartbeat=0.1, stream_transport=transport)
    await sim.start()
    try:
        async with pyhik_on(sim) as (cam, transitions):
            assert cam.get_name == "SIM IPCamera"
            assert cam.get_id == device_id(sim.serial)
            assert cam.get_type == "CAM"
            states = cam.current_event_states
            for sensor in (*SENSORS, "Tamper Detection", "I/O"):
                assert [e[1] for e in states[sensor]] == [1], sensor
            assert "Video Loss" not in states  # pyhik leaves videoloss to its watchdog

            sim.trigger_event(1, "VMD", repeat=3, interval=0.05, end=True)
            await until(lambda: on_off(transitions, "Motion", 1) == [True, False])
            sim.trigger_event(1, "fielddetection", repeat=2, interval=0.05, end=True)
            await until(lambda: on_off(transitions, "Field Detection", 1) == [True, False])
            assert {s for s, _, _ in transitions} == {"Motion", "Field Detection"}
    finally:
        await sim.stop()


async def test_pyhik_nvr_four_channels():
    sim = IsapiSimulator(kind="nvr", channels=4, password=PW, heartbeat=0.1)
    await sim.start()
    try:
        async with pyhik_on(sim) as (cam, transitions):
            assert cam.get_name == "SIM NVR"
            assert cam.get_type == "NVR"
            states = cam.current_event_states
            for sensor in SENSORS:
                assert [e[1] for e in states[sensor]] == [1, 2, 3, 4], sensor

            sim.trigger_event(3, "VMD", repeat=2, interval=0.05, end=True)
            sim.trigger_event(2, "fielddetection", repeat=2, interval=0.05, end=True)
            await until(lambda: on_off(transitions, "Motion", 3) == [True, False]
                        and on_off(transitions, "Field Detection", 2) == [True, False])
            sim.trigger_event(4, "linedetection", end=True, interval=0)
            await until(lambda: on_off(transitions, "Line Crossing", 4) == [True, False])
            touched = sorted({(s, c) for s, c, _ in transitions})
            assert touched == [("Field Detection", 2), ("Line Crossing", 4), ("Motion", 3)]
            # heartbeats (empty channelID on an NVR) never showed up as a sensor change
            assert all(s != "Video Loss" for s, _, _ in transitions)
    finally:
        await sim.stop()
