"""The simulator behaves like firmware (issue 10, items 8-12), checked on the wire with a plain
HTTP client and raw sockets against the shapes real devices send (sources in the docstrings
of simulator/alerts.py, documents.py, stream.py and in docs/drivers/hikvision_isapi.md)."""

from __future__ import annotations

import asyncio
import base64
import json

import aiohttp
import pytest
import xmltodict
from gemhost_drivers.hikvision_isapi.simulator import IsapiSimulator
from isapi_helpers import captures

PW = "sim-password"


def digest() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware("admin", PW, preemptive=False),))


async def get_xml(sim: IsapiSimulator, path: str) -> tuple[int, dict]:
    async with digest() as http, http.get(sim.url + path) as resp:
        return resp.status, xmltodict.parse(await resp.text())


async def raw_stream(sim: IsapiSimulator, until, trigger=None, version: str = "1.1") -> bytes:
    """The bytes of an alertStream response over a plain socket (Basic auth), read until
    ``until(data)`` holds (or, for bytes, until they have been seen); ``trigger`` runs once
    the stream is open."""
    done = until if callable(until) else (lambda data: until in data)
    reader, writer = await asyncio.open_connection(sim.host, sim.port)
    token = base64.b64encode(f"admin:{PW}".encode()).decode()
    writer.write(f"GET /ISAPI/Event/notification/alertStream HTTP/{version}\r\nHost: sim\r\n"
                 f"Authorization: Basic {token}\r\n\r\n".encode())
    await writer.drain()
    data = b""
    try:
        async def read() -> None:
            nonlocal data
            fired = False
            while not done(data):
                data += await reader.read(4096)
                if trigger and not fired and sim.open_streams:
                    trigger()
                    fired = True
        await asyncio.wait_for(read(), 10)
    finally:
        writer.close()
    return data


@pytest.fixture
async def basic_nvr():
    s = IsapiSimulator(kind="nvr", channels=4, auth="basic", password=PW, heartbeat=0.1)
    await s.start()
    yield s
    await s.stop()


# ---------------------------------------------------------------- item 8: triggers and capabilities


async def test_event_triggers_served_per_channel(sim, nvr_sim):
    status, doc = await get_xml(sim, "/ISAPI/Event/triggers")
    assert status == 200
    triggers = doc["EventTriggerList"]["EventTrigger"]
    vmd = [t for t in triggers if t["eventType"] == "VMD"]
    # a camera names the channel twice (DS-2CD2346G2-ISU capture), and notifies the center
    assert [(t["videoInputChannelID"], t["dynVideoInputChannelID"]) for t in vmd] == [(str(n), str(n))
                                                                                    for n in (1, 2, 3, 4)]
    assert all("center" in [n["notificationMethod"] for n in t["EventTriggerNotificationList"]
                            ["EventTriggerNotification"]] for t in vmd)
    kinds = {t["eventType"] for t in triggers}
    assert {"VMD", "linedetection", "fielddetection", "tamperdetection", "IO", "videoloss", "diskfull"} <= kinds
    status, doc = await get_xml(nvr_sim, "/ISAPI/Event/triggers")
    field = [t for t in doc["EventTriggerList"]["EventTrigger"] if t["eventType"] == "fielddetection"]
    assert [t["dynVideoInputChannelID"] for t in field] == ["1", "2", "3", "4"]
    assert all("videoInputChannelID" not in t for t in field)  # NVRs use the dyn id only (DS-7608NXI-I2)


async def test_capabilities_served(sim, nvr_sim):
    status, doc = await get_xml(sim, "/ISAPI/System/capabilities")
    cap = doc["DeviceCap"]
    assert status == 200 and cap["SysCap"]["IOCap"]["IOOutputPortNums"] == "2"
    assert "RacmCap" not in cap and cap["SysCap"]["VideoCap"]["videoInputPortNums"] == "4"
    _, doc = await get_xml(nvr_sim, "/ISAPI/System/capabilities")
    assert doc["DeviceCap"]["RacmCap"]["inputProxyNums"] == "4"
    status, doc = await get_xml(sim, "/ISAPI/System/status")
    assert status == 200 and int(doc["DeviceStatus"]["deviceUpTime"]) >= 0


async def test_device_id_is_uuid_shaped(sim):
    _, doc = await get_xml(sim, "/ISAPI/System/deviceInfo")
    device_id = doc["DeviceInfo"]["deviceID"]
    assert len(device_id) == 36 and device_id.count("-") == 4  # pyhik keeps ids longer than 10 characters


# ---------------------------------------------------------------- items 9-11: the alertStream on the wire


async def test_stream_is_http10_close_delimited_with_firmware_headers(basic_nvr):
    data = await raw_stream(basic_nvr, b"</EventNotificationAlert>")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [b"HTTP/1.0 200 OK", b"MIME-Version: 1.0",
                                   b"Content-Type: multipart/mixed; boundary=boundary"]
    assert body.startswith(b'--boundary\r\nContent-Type: application/xml; charset="UTF-8"\r\nContent-Length: ')


async def test_chunked_transport_is_an_option():
    s = IsapiSimulator(auth="basic", password=PW, heartbeat=0.1, stream_transport="chunked")
    await s.start()
    try:
        data = await raw_stream(s, b"</EventNotificationAlert>")
        head = data.partition(b"\r\n\r\n")[0].split(b"\r\n")
        assert head[0] == b"HTTP/1.1 200 OK" and b"Transfer-Encoding: chunked" in head
        assert b"MIME-Version: 1.0" in head
    finally:
        await s.stop()


def _alerts(data: bytes) -> list[dict]:
    docs = []
    for chunk in data.split(b"--boundary")[1:]:
        body = chunk.partition(b"\r\n\r\n")[2].strip()
        if body.endswith(b"</EventNotificationAlert>"):
            docs.append(xmltodict.parse(body)["EventNotificationAlert"])
    return docs


async def test_nvr_alerts_carry_dyn_channel_id_and_real_heartbeats(basic_nvr):
    def vmd_then_heartbeat(data: bytes) -> bool:
        kinds = [a["eventType"] for a in _alerts(data)]
        return kinds.count("VMD") == 3 and "videoloss" in kinds[kinds.index("VMD"):]
    data = await raw_stream(basic_nvr, vmd_then_heartbeat,
                            lambda: basic_nvr.trigger_event(3, "VMD", repeat=2, interval=0, end=True))
    alerts = _alerts(data)
    vmd = [a for a in alerts if a["eventType"] == "VMD"]
    assert [(a["channelID"], a["dynChannelID"], a["eventState"], a["activePostCount"]) for a in vmd] == [
        ("3", "3", "active", "1"), ("3", "3", "active", "2"), ("3", "3", "inactive", "3")]
    assert vmd[0]["eventDescription"] == "Motion alarm"
    beats = [a for a in alerts if a["eventType"] == "videoloss"]
    assert beats and all((b["eventState"], b["activePostCount"], b["channelID"], b["dynChannelID"])
                         == ("inactive", "0", None, None) for b in beats)


async def test_camera_heartbeat_names_channel_one():
    s = IsapiSimulator(auth="basic", password=PW, heartbeat=0.05)
    await s.start()
    try:
        (beat, *_) = _alerts(await raw_stream(s, lambda d: _alerts(d)))
        assert (beat["eventType"], beat["eventState"], beat["activePostCount"], beat["channelID"]) == (
            "videoloss", "inactive", "0", "1")
        assert "dynChannelID" not in beat
    finally:
        await s.stop()


async def test_smart_event_names_its_region_only_while_active(basic_nvr):
    def ended(data: bytes) -> bool:
        return any(a["eventType"] == "linedetection" and a["eventState"] == "inactive" for a in _alerts(data))
    data = await raw_stream(basic_nvr, ended, lambda: basic_nvr.trigger_event(
        2, "linedetection", end=True, interval=0, follow_up=True))
    line = [a for a in _alerts(data) if a["eventType"] in ("linedetection", "duration")]
    assert [a["eventType"] for a in line] == ["linedetection", "duration", "linedetection"]
    assert line[0]["DetectionRegionList"]["DetectionRegionEntry"]["regionID"] == "1"
    assert line[1]["DurationList"]["Duration"]["relationEvent"] == "linedetection"
    assert "DetectionRegionList" not in line[1]
    assert line[2]["eventState"] == "inactive" and "DetectionRegionList" not in line[2]


async def test_access_control_alert_is_json_with_its_own_serial(basic_nvr):
    data = await raw_stream(basic_nvr, lambda d: d.count(b'"picturesNumber": 0}}') == 2,
                            lambda: (basic_nvr.trigger_access("111"), basic_nvr.trigger_access("222")))
    parts = [json.loads(c.partition(b"\r\n\r\n")[2]) for c in data.split(b"--boundary")[1:]
             if b"application/json" in c.partition(b"\r\n\r\n")[0]]
    assert [(p["eventType"], p["AccessControllerEvent"]["cardNo"], p["AccessControllerEvent"]["serialNo"])
            for p in parts] == [("AccessControllerEvent", "111", 1001), ("AccessControllerEvent", "222", 1002)]


async def test_401_challenge_body_is_html(sim):
    async with aiohttp.ClientSession() as http, http.get(sim.url + "/ISAPI/System/deviceInfo") as resp:
        assert resp.status == 401 and resp.content_type == "text/html"
        assert "Access Error: 401 -- Unauthorized" in await resp.text()
        assert resp.headers["WWW-Authenticate"].startswith("Digest ")
    assert sim.auth.failed_logins_total == 0  # asking without credentials is not a failed login


# ---------------------------------------------------------------- item 12: recorded error statuses


async def test_every_recorded_error_status_is_answered_as_recorded():
    base = captures()
    checked = 0
    for path in sorted((base / "devices").glob("*.json")):
        recorded = {k: v["status_code"] for k, v in json.loads(path.read_text())["data"]["ISAPI"].items()
                    if "status_code" in v}
        s = IsapiSimulator(fixture=path.stem, fixtures_dir=base, password=PW)
        await s.start()
        try:
            async with digest() as http:
                for key, code in recorded.items():
                    async with http.get(f"{s.url}/ISAPI/{key}") as resp:
                        assert resp.status == code, (path.name, key)
                        assert "ResponseStatus" in await resp.text(), (path.name, key)
                    checked += 1
        finally:
            await s.stop()
    assert checked == 78


def test_cli_options_reach_the_simulator():
    import argparse

    parser = argparse.ArgumentParser()
    IsapiSimulator.add_arguments(parser)
    options = IsapiSimulator.options_from_args(parser.parse_args(
        ["--kind", "nvr", "--channels", "4", "--stream-transport", "chunked", "--heartbeat", "2"]))
    assert (options["kind"], options["channels"], options["stream_transport"], options["heartbeat"]) == (
        "nvr", 4, "chunked", 2.0)
    assert IsapiSimulator(**options).stream_transport == "chunked"
    assert IsapiSimulator.options_from_args(parser.parse_args([]))["stream_transport"] == "close"
    with pytest.raises(ValueError, match="stream_transport"):
        IsapiSimulator(stream_transport="websocket")
