"""Conformance: hikvisionapi 0.3.2 (PyPI "hikvisionapi", github.com/MissiaL/hikvision-client), an
ISAPI client written independently of pyhik, unpatched, against ``IsapiSimulator``.

Its synchronous ``Client`` checks the login on /ISAPI/System/status, maps any ISAPI path to a
call (``cam.System.deviceInfo(method="get")``) and reads the alertStream by splitting on
``--boundary`` and taking what follows each part's blank line, i.e. it relies on the framing
real firmware uses. The checks: the device documents parse, the event triggers list every
channel, and the alert parts of a camera and of an NVR carry the channel numbers a client
expects (an NVR names channel n in channelID and dynChannelID), with real heartbeats.
"""

from __future__ import annotations

import asyncio

import hikvisionapi  # a test extra: pip install -e '.[test]'
from gemhost_drivers.hikvision_isapi.simulator import IsapiSimulator

from gemhost.testing import until

PW = "sim-password"


async def read_alerts(sim: IsapiSimulator, count: int, trigger) -> list[dict]:
    """Open the alertStream with the client, fire ``trigger`` once it is open, return the
    first ``count`` EventNotificationAlert dicts the client parsed."""
    cam = await asyncio.to_thread(hikvisionapi.Client, sim.url, "admin", PW, timeout=5)
    cam.count_events = count
    reading = asyncio.ensure_future(asyncio.to_thread(
        lambda: cam.Event.notification.alertStream(method="get", type="stream")))
    await until(lambda: sim.open_streams == 1)
    trigger()
    parts = await asyncio.wait_for(reading, 20)
    return [p["EventNotificationAlert"] for p in parts]


def real_events(alerts: list[dict]) -> list[tuple]:
    return [(a["eventType"], a.get("channelID"), a.get("dynChannelID"), a["eventState"])
            for a in alerts if a["eventType"] != "videoloss"]


async def test_hikvisionapi_reads_device_documents():
    sim = IsapiSimulator(kind="nvr", channels=4, password=PW)
    await sim.start()
    try:
        cam = await asyncio.to_thread(hikvisionapi.Client, sim.url, "admin", PW, timeout=5)
        info = await asyncio.to_thread(lambda: cam.System.deviceInfo(method="get"))
        assert (info["DeviceInfo"]["model"], info["DeviceInfo"]["deviceType"]) == (sim.model, "NVR")
        triggers = await asyncio.to_thread(lambda: cam.Event.triggers(method="get"))
        vmd = [t["dynVideoInputChannelID"] for t in triggers["EventTriggerList"]["EventTrigger"]
               if t["eventType"] == "VMD"]
        assert vmd == ["1", "2", "3", "4"]
        caps = await asyncio.to_thread(lambda: cam.System.capabilities(method="get"))
        assert caps["DeviceCap"]["RacmCap"]["inputProxyNums"] == "4"
    finally:
        await sim.stop()


async def test_hikvisionapi_camera_alert_stream():
    sim = IsapiSimulator(kind="camera", password=PW, heartbeat=0.1)
    await sim.start()
    try:
        alerts = await read_alerts(sim, 10, lambda: sim.trigger_event(1, "VMD", end=True, interval=0))
        assert real_events(alerts) == [("VMD", "1", None, "active"), ("VMD", "1", None, "inactive")]
        vmd = next(a for a in alerts if a["eventType"] == "VMD")
        assert vmd["eventDescription"] == "Motion alarm"
        beats = [a for a in alerts if a["eventType"] == "videoloss"]
        assert beats and all((b["eventState"], b["activePostCount"], b["channelID"]) == ("inactive", "0", "1")
                             for b in beats)
    finally:
        await sim.stop()


async def test_hikvisionapi_nvr_alert_stream():
    sim = IsapiSimulator(kind="nvr", channels=4, password=PW, heartbeat=0.1)
    await sim.start()
    try:
        def fire() -> None:
            sim.trigger_event(3, "VMD", interval=0)
            sim.trigger_event(2, "fielddetection", end=True, interval=0)
        alerts = await read_alerts(sim, 12, fire)
        assert real_events(alerts) == [("VMD", "3", "3", "active"), ("fielddetection", "2", "2", "active"),
                                       ("fielddetection", "2", "2", "inactive")]
        field = [a for a in alerts if a["eventType"] == "fielddetection"]
        assert field[0]["DetectionRegionList"]["DetectionRegionEntry"]["regionID"] == "1"
        assert "DetectionRegionList" not in field[1]  # the end names no region, as firmware does
        beats = [a for a in alerts if a["eventType"] == "videoloss"]
        assert beats and all(b["channelID"] is None and b["dynChannelID"] is None and b["activePostCount"] == "0"
                             for b in beats)
    finally:
        await sim.stop()
