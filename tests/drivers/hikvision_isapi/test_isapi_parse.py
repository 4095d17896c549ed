"""Parsing on real payloads: the captured devices, events and error bodies, plus framing."""

from __future__ import annotations

import json

import pytest
import xmltodict
from gemhost_drivers.hikvision_isapi import channels, events, xml
from gemhost_drivers.hikvision_isapi.events import MultipartParser, Part, decode_part
from isapi_helpers import captures

# ---------------------------------------------------------------- channels


def test_ddss_stream_ids():
    assert channels.stream_id(1) == 101
    assert channels.stream_id(1, "sub") == 102
    assert channels.stream_id(2) == 201
    assert channels.stream_id(8) == 801
    assert channels.stream_id(18, "sub") == 1802
    assert channels.split_stream_id(1804) == (18, 4)
    with pytest.raises(ValueError):
        channels.stream_id(0)
    with pytest.raises(ValueError):
        channels.stream_id(1, "third")


def test_rtsp_url_has_no_credentials():
    assert channels.rtsp_url("10.0.0.5", 2, "sub") == "rtsp://10.0.0.5:554/Streaming/Channels/202"
    assert channels.rtsp_url("fe80::1", 1) == "rtsp://[fe80::1]:554/Streaming/Channels/101"


def test_event_address_rules():
    assert channels.event_address(1, None) == 1
    assert channels.event_address(None, None) is None
    assert channels.event_address(0, None) is None
    assert channels.event_address(2, 2) == 2
    assert channels.event_address(34, None, [1, 2, 3, 4]) == 2
    assert channels.event_address(34, None, None) == 2
    # a hybrid DVR whose IP channels follow 8 analog inputs
    assert channels.event_address(33, None, [9, 10]) == 9
    # a 64-channel NVR that reports channel 40 as 40
    assert channels.event_address(40, None, list(range(1, 65))) == 40


# ---------------------------------------------------------------- captured devices


def _devices():
    base = captures() / "devices"
    return sorted(base.glob("*.json"))


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def test_every_captured_device_info():
    seen = 0
    for path in _devices():
        data = json.loads(path.read_text())["data"]["ISAPI"]
        raw = data["System/deviceInfo"]["response"]
        body = xmltodict.unparse(raw)
        expect = raw["DeviceInfo"]
        parsed = xml.device_info(body)
        assert parsed["model"] == expect["model"], path.name
        assert parsed["serial"] == expect["serialNumber"], path.name
        assert parsed["firmware"] == expect["firmwareVersion"], path.name
        assert parsed["device_type"] == expect["deviceType"], path.name
        assert parsed["mac"] == expect.get("macAddress"), path.name
        seen += 1
    assert seen == 10


def test_both_namespaces_are_read():
    for ns in (xml.HIKVISION_NS, xml.ISAPI_NS, "urn:psialliance-org", None):
        attr = f' xmlns="{ns}"' if ns else ""
        body = f"<DeviceInfo{attr}><model>M</model><serialNumber>S</serialNumber></DeviceInfo>"
        parsed = xml.device_info(body)
        assert (parsed["model"], parsed["serial"], parsed["firmware"]) == ("M", "S", None)


def test_hostile_and_broken_xml_are_rejected():
    bomb = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
            "<DeviceInfo><model>&b;</model></DeviceInfo>")
    with pytest.raises(xml.XmlError):
        xml.device_info(bomb)
    with pytest.raises(xml.XmlError):
        xml.device_info("<DeviceInfo><model>cut")
    with pytest.raises(xml.XmlError):
        xml.device_info("<Other/>")


def test_input_proxy_channels_of_captured_nvrs():
    checked = 0
    for path in _devices():
        data = json.loads(path.read_text())["data"]["ISAPI"]
        entry = data["ContentMgmt/InputProxy/channels"]
        if "response" not in entry:
            continue
        expect = _as_list(entry["response"]["InputProxyChannelList"].get("InputProxyChannel"))
        rows = xml.input_proxy_channels(xmltodict.unparse(entry["response"]))
        assert [r["channel"] for r in rows] == [int(c["id"]) for c in expect], path.name
        assert [r["name"] for r in rows] == [c.get("name") for c in expect], path.name
        for row, c in zip(rows, expect, strict=True):
            src = c.get("sourceInputPortDescriptor", {})
            assert row["source_ip"] == src.get("ipAddress")
            assert row["source_model"] == src.get("model")
        checked += 1
    assert checked == 4  # three NVRs and the DVR (whose list is empty)


def test_response_status_bodies():
    base = captures() / "errors"
    bad = xml.response_status((base / "snapshot_badXmlContent.xml").read_bytes())
    assert bad == {"status_code": 6, "status_string": "Invalid XML Content", "sub_status_code": "badXmlContent",
                   "request_url": "/ISAPI/Streaming/channels/101/picture", "error_msg": None}
    dev = xml.response_status((base / "snapshot_deviceError.xml").read_bytes())
    assert (dev["status_code"], dev["status_string"], dev["sub_status_code"]) == (3, "Device Error",
                                                                                  "deviceError")
    assert xml.response_status(b"<DeviceInfo/>") is None
    assert xml.response_status(b"not xml") is None


# ---------------------------------------------------------------- captured events

# file -> (normalized type, vendor type, address on the device it came from, extra data checks)
EXPECTED_EVENTS = {
    "cam1_DS-2CD2T46G2-ISU_io_notification.xml": ("io", "IO", 1, {"inputIOPortID": "1"}),
    "cam2_DS-2CD2346G2-ISU_io_notification.xml": ("io", "IO", 1, {"inputIOPortID": "1"}),
    "cam3_DS-2CD2T86G2-ISU_io_notification.xml": ("io", "IO", 1, {"channelName": "Cam 3"}),
    "fielddetection_human.xml": ("intrusion", "fielddetection", 1, {"detectionTarget": "human", "regionID": "3"}),
    "fielddetection_vehicle.xml": ("intrusion", "fielddetection", 1, {"detectionTarget": "vehicle"}),
    "ipc_1_fielddetection.xml": ("intrusion", "fielddetection", 1, {"relationEvent": "fielddetection"}),
    "ipc_thermometry_motiondetection.xml": ("motion", "VMD", 2, {"channelName": "Camera 02"}),
    # DS-7608NXI-I2: channelID 34 = 32 + 2 -> the 2nd InputProxy channel (id 2, "home").
    "nvr_2_fielddetection.xml": ("intrusion", "fielddetection", 2, {}),
    "pir.xml": ("pir", "PIR", 1, {"serialNumber": "DS-2CD2443G0-IW00000000AAWRE00000000"}),
}


def _nvr_ip_ids() -> list[int]:
    data = json.loads((captures() / "devices" / "DS-7608NXI-I2.json").read_text())["data"]["ISAPI"]
    body = xmltodict.unparse(data["ContentMgmt/InputProxy/channels"]["response"])
    return [r["channel"] for r in xml.input_proxy_channels(body)]


def test_every_captured_event():
    base = captures() / "events"
    files = sorted(p.name for p in base.glob("*.xml"))
    assert files == sorted(EXPECTED_EVENTS)
    ip_ids = _nvr_ip_ids()
    assert ip_ids == [1, 2, 3, 4]
    for name, (kind, vendor, address, extra) in EXPECTED_EVENTS.items():
        parsed = events.parse_alert_xml((base / name).read_bytes())
        assert len(parsed) == 1, name
        alert = parsed[0]
        assert (alert.normalized, alert.event_type, alert.state) == (kind, vendor, "active"), name
        got = channels.event_address(alert.channel_id, alert.dyn_channel_id,
                                     ip_ids if name.startswith("nvr") else None)
        assert got == address, name
        assert alert.time.tzinfo is not None
        for key, value in extra.items():
            assert alert.data()[key] == value, (name, key)
        assert not alert.heartbeat


def test_heartbeat_is_recognised():
    body = ('<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
            "<channelID>1</channelID><dateTime>2024-01-01T00:00:00+01:00</dateTime>"
            "<eventType>videoloss</eventType><eventState>inactive</eventState></EventNotificationAlert>")
    (alert,) = events.parse_alert_xml(body)
    assert alert.heartbeat and alert.normalized == "video_loss"
    (active,) = events.parse_alert_xml(body.replace("inactive", "active"))
    assert not active.heartbeat


# ---------------------------------------------------------------- multipart framing


def _part(body: bytes, ctype: str = "application/xml", length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return (f"--boundary\r\nContent-Type: {ctype}\r\nContent-Length: {n}\r\n\r\n").encode() + body + b"\r\n"


def _alert(event: str, chan: int = 1) -> bytes:
    return (f'<EventNotificationAlert xmlns="http://www.isapi.org/ver20/XMLSchema"><channelID>{chan}</channelID>'
            f"<eventType>{event}</eventType><eventState>active</eventState></EventNotificationAlert>").encode()


def _alerts(parts: list[Part]) -> list:
    out = []
    for p in parts:
        try:
            out += decode_part(p)
        except ValueError:
            continue
    return out


def test_boundary_of_content_type():
    assert events.boundary_of("multipart/mixed; boundary=boundary") == "boundary"
    assert events.boundary_of('multipart/mixed; boundary="MIME_boundary"') == "MIME_boundary"
    assert events.boundary_of("") == "boundary"


def test_parts_split_across_chunks_in_any_place():
    stream = _part(_alert("VMD")) + _part(_alert("linedetection", 2)) + _part(_alert("shelteralarm", 3))
    for size in (1, 7, 64, len(stream)):
        parser = MultipartParser("boundary")
        parts = []
        for i in range(0, len(stream), size):
            parts += parser.feed(stream[i: i + size])
        got = [(a.normalized, a.channel_id) for a in _alerts(parts)]
        assert got == [("motion", 1), ("line_crossing", 2), ("tamper", 3)], size


def test_json_parts_and_image_parts():
    json_body = json.dumps({"ipAddress": "10.0.0.2", "channelID": 3, "dateTime": "2024-05-01T10:00:00+02:00",
                            "eventType": "regionEntrance", "eventState": "active"}).encode()
    nested = json.dumps({"ipAddress": "10.0.0.2", "AccessControllerEvent": {
        "eventType": "regionExiting", "channelID": 4, "eventState": "active"}}).encode()
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00--boundar" * 50 + b"\xff\xd9"
    stream = (_part(json_body, "application/json") + _part(jpeg, "image/jpeg")
              + _part(nested, "application/json; charset=utf-8") + _part(_alert("VMD")))
    parser = MultipartParser("boundary")
    parts = parser.feed(stream)
    assert [p.content_type for p in parts] == ["application/json", "image/jpeg", "application/json",
                                               "application/xml"]
    assert parts[1].body == jpeg
    got = [(a.normalized, a.channel_id) for a in _alerts(parts)]
    assert got == [("region_entrance", 3), ("region_exit", 4), ("motion", 1)]


def test_truncated_parts_never_crash_and_later_parts_survive():
    cut = _alert("VMD")[:40]
    stream = (_part(cut, length=len(_alert("VMD")))   # Content-Length says more than was sent
              + b"--boundary\r\nContent-Type: application/xml\r\n"  # headers never finished
              + _part(cut)                            # a complete part holding broken XML
              + _part(b"", "application/xml")
              + _part(_alert("IO", 1)))
    parser = MultipartParser("boundary")
    parts = parser.feed(stream)
    alerts = _alerts(parts)
    assert [(a.normalized, a.channel_id) for a in alerts] == [("io", 1)]
    assert parser.dropped >= 2
    with pytest.raises(ValueError):
        decode_part(Part({"content-type": "application/xml"}, cut))
    with pytest.raises(ValueError):
        decode_part(Part({"content-type": "application/json"}, b'{"eventType": '))


def test_parts_without_content_length_and_garbage():
    stream = (b"preamble garbage\r\n--boundary\r\nContent-Type: application/xml\r\n\r\n" + _alert("VMD", 5)
              + b"\r\n--boundary\r\nContent-Type: text/xml\r\n\r\n" + _alert("diskfull", 0) + b"\r\n--boundary")
    parts = MultipartParser("boundary").feed(stream)
    assert [(a.normalized, a.channel_id) for a in _alerts(parts)] == [("motion", 5), ("disk_full", 0)]


def test_oversized_part_is_dropped_and_memory_bounded():
    parser = MultipartParser("boundary", max_part=1000)
    parser.feed(b"--boundary\r\nContent-Type: image/jpeg\r\nContent-Length: 999999\r\n\r\n" + b"x" * 5000)
    assert len(parser.buf) < 3000
    parts = parser.feed(_part(_alert("VMD")))
    assert [a.normalized for a in _alerts(parts)] == ["motion"]


def test_unknown_event_types_pass_through():
    (alert,) = events.parse_alert_xml(_alert("SomeNewThing"))
    assert alert.normalized == "somenewthing"


def test_fixture_unparse_round_trips_every_capture():
    from gemhost_drivers.hikvision_isapi.sim_fixture import unparse

    count = 0
    for path in _devices():
        for key, entry in json.loads(path.read_text())["data"]["ISAPI"].items():
            if "response" in entry:
                assert xmltodict.parse(unparse(entry["response"])) == entry["response"], (path.name, key)
                count += 1
    assert count > 100
