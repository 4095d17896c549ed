"""Parsing on real payloads: the captured devices, events and error bodies, plus framing."""

from __future__ import annotations

import json
import random

import pytest
import xmltodict
from gemhost_drivers.hikvision_isapi import channels, events
from gemhost_drivers.hikvision_isapi import kernel as xml
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


class _StateMachineOnly(MultipartParser):
    """The framing without its tidy-part shortcut: the reference the shortcut must equal."""

    def _next_tidy(self):
        return None


def _framing_corpus() -> list[bytes]:
    """Streams as firmware sends them and as it gets them wrong (the cases above), plus
    delimiters where the shortcut must not take them: in a body, at a body's last bytes,
    in a header value, as a header name."""
    jpeg = b"\xff\xd8" + b"\x00--boundar" * 5 + b"--boundary" + b"\xff\xd9"
    tail = _alert("VMD")[:-3] + b"--b"
    return [
        _part(_alert("VMD")) + _part(_alert("linedetection", 2)) + _part(_alert("IO", 3)),
        _part(jpeg, "image/jpeg") + _part(_alert("VMD")),
        _part(tail) + b"oundary\r\n" + _part(_alert("IO")),
        b"--boundary\r\nContent-Length: 8\r\n\r\nabc--bou" + b"ndary\r\nContent-Length: 2\r\n\r\nok\r\n",
        b"--boundary\r\nContent-Type: x--boundary\r\nContent-Length: 3\r\n\r\nabc\r\n" + _part(_alert("VMD")),
        b"--boundary\r\n--boundary: 1\r\nContent-Length: 3\r\n\r\nabc\r\n" + _part(_alert("VMD")),
        b"--boundary\nContent-Type: application/xml\nContent-Length: 5\n\nhello\n" + _part(_alert("VMD")),
        b"preamble\r\n" + _part(_alert("VMD")) + b"\r\n\r\n" + _part(_alert("IO")) + b"--boundary--\r\n",
        _part(_alert("VMD")[:40], length=len(_alert("VMD"))) + _part(_alert("IO")),
        _part(_alert("VMD"), length=10) + _part(_alert("IO")),
        b"--boundary\r\nContent-Type: application/xml\r\nContent-Length: x\r\n\r\n" + _alert("VMD") + b"\r\n"
        + _part(_alert("IO")),
        b"--boundary\r\n\r\n" + _alert("VMD") + b"\r\n--boundary\r\n--boundary\r\n" + _part(_alert("IO")),
        b"--boundaryX\r\n" + _part(_alert("VMD")) + b"--MIME_boundary\r\nContent-Length: 2\r\n\r\nok\r\n",
    ]


@pytest.mark.parametrize("boundary", ["boundary", "MIME_boundary"])
def test_tidy_part_shortcut_equals_the_state_machine(boundary):
    """The shortcut for tidy parts (one match) yields exactly what the state machine yields:
    the same parts, headers, bodies and drop count, however the stream is cut and mutated."""
    rng = random.Random(14)
    streams = _framing_corpus()
    for _ in range(200):  # random byte damage on top
        damaged = bytearray(rng.choice(streams))
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.choice(b"\r\n-:xb0 ")
        streams.append(bytes(damaged))
    for stream in streams:
        for size in (1, 5, 64, 200, len(stream)):
            fast, slow = MultipartParser(boundary), _StateMachineOnly(boundary)
            got, want = [], []
            for i in range(0, len(stream), size):
                got += [(p.headers, p.body) for p in fast.feed(stream[i: i + size])]
                want += [(p.headers, p.body) for p in slow.feed(stream[i: i + size])]
            assert (got, fast.dropped, bytes(fast.buf)) == (want, slow.dropped, bytes(slow.buf)), (stream, size)


def test_unknown_event_types_pass_through():
    (alert,) = events.parse_alert_xml(_alert("SomeNewThing"))
    assert alert.normalized == "somenewthing"


def test_fixture_unparse_round_trips_every_capture():
    from gemhost_drivers.hikvision_isapi.simulator.fixture import unparse

    count = 0
    for path in _devices():
        for key, entry in json.loads(path.read_text())["data"]["ISAPI"].items():
            if "response" in entry:
                assert xmltodict.parse(unparse(entry["response"])) == entry["response"], (path.name, key)
                count += 1
    assert count > 100


# ---------------------------------------------------------------- issue 10: what real streams contain


def _doc(event: str, chan: int = 1, state: str = "active", extra: str = "", when: str = "2024-05-01T10:00:00+02:00"):
    return (f'<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
            f"<channelID>{chan}</channelID><dateTime>{when}</dateTime><eventType>{event}</eventType>"
            f"<eventState>{state}</eventState>{extra}</EventNotificationAlert>")


REGION_1 = ("<DetectionRegionList><DetectionRegionEntry><regionID>1</regionID>"
            "<sensitivityLevel>50</sensitivityLevel></DetectionRegionEntry></DetectionRegionList>")


def _decode(*bodies: str | bytes, ctype: str = "application/xml"):
    decoder = events.AlertDecoder()
    out = []
    for body in bodies:
        raw = body.encode() if isinstance(body, str) else body
        out += decoder.decode(Part({"content-type": ctype}, raw))
    return out, decoder


def test_region_events_key_on_the_region_and_the_end_names_none():
    """Item 1: linedetection/fielddetection active parts name regionID 1, the inactive part no
    DetectionRegionList: the end has key None (it ends every crossing of the channel)."""
    alerts, _ = _decode(_doc("linedetection", extra=REGION_1), _doc("linedetection", extra=REGION_1),
                        _doc("linedetection", state="inactive"),
                        _doc("fielddetection", 2, extra=REGION_1), _doc("fielddetection", 2, state="inactive"))
    assert [(a.normalized, a.state, a.key) for a in alerts] == [
        ("line_crossing", "active", "1"), ("line_crossing", "active", "1"), ("line_crossing", "inactive", None),
        ("intrusion", "active", "1"), ("intrusion", "inactive", None)]


def test_io_alarms_key_on_their_input_port():
    alerts, _ = _decode(_doc("IO", extra="<inputIOPortID>2</inputIOPortID>"),
                        _doc("IO", state="inactive", extra="<inputIOPortID>2</inputIOPortID>"),
                        _doc("IO", extra="<dynInputIOPortID>301</dynInputIOPortID>"))
    assert [(a.state, a.key) for a in alerts] == [("active", "2"), ("inactive", "2"), ("active", "301")]


def test_duration_follow_up_continues_the_region_alert():
    """Item 2: a duration part after a region alert is an active repeat of that region's
    condition (same key), not a start of a regionless one; without a prior alert it is
    the channel's condition (key None)."""
    duration = ("<DurationList><Duration><relationEvent>fielddetection</relationEvent></Duration></DurationList>")
    alerts, _ = _decode(_doc("fielddetection", extra=REGION_1.replace(">1<", ">4<")),
                        _doc("duration", extra=duration), _doc("duration", 3, extra=duration))
    assert [(a.event_type, a.state, a.key, a.follow_up) for a in alerts] == [
        ("fielddetection", "active", "4", False), ("fielddetection", "active", "4", True),
        ("fielddetection", "active", None, True)]


def test_two_documents_in_one_part_are_both_read():
    """Item 4: firmware that writes two EventNotificationAlert documents into one part."""
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n' + _doc("VMD", 1) + "\r\n"
            + '<?xml version="1.0" encoding="UTF-8"?>\n' + _doc("VMD", 2))
    alerts, decoder = _decode(body)
    assert [(a.normalized, a.channel_id) for a in alerts] == [("motion", 1), ("motion", 2)]
    assert decoder.stats.problems() == {"multi_document": 1}
    # one readable document and one cut short: the readable one survives, the other is counted
    alerts, decoder = _decode(_doc("VMD", 3) + _doc("IO", 4)[:-30] + "</EventNotificationAlert>")
    assert [(a.normalized, a.channel_id) for a in alerts] == [("motion", 3)]
    assert decoder.stats.problems() == {"dropped": 1}
    two_json = json.dumps({"eventType": "VMD", "channelID": 3}) + "\n" + json.dumps({"eventType": "IO", "channelID": 1})
    alerts, _ = _decode(two_json, ctype="application/json")
    assert [(a.normalized, a.channel_id) for a in alerts] == [("motion", 3), ("io", 1)]


def test_raw_ampersand_is_repaired_and_counted():
    """Item 4: a channelName typed with "&" arrives unescaped (hikvision_next escapes it too)."""
    alerts, decoder = _decode(_doc("VMD", extra="<channelName>Garage & Drive</channelName>"),
                              _doc("VMD", extra="<channelName>A &amp; B &#38; C</channelName>"))
    assert [a.data()["channelName"] for a in alerts] == ["Garage & Drive", "A & B & C"]
    assert decoder.stats.problems() == {"repaired": 1}


def test_unreadable_datetime_is_kept_with_a_trace():
    """Item 4: a dateTime that is no timestamp becomes the time of reception, and the event says so."""
    before = events.now()
    alerts, decoder = _decode(_doc("VMD", when="2024-13-45 25:61"), _doc("VMD", when="2019-11-17T17:53:4200:00"),
                              _doc("VMD", when="2024-05-01T10:00:00Z"))
    bad, signless, zulu = alerts
    assert bad.time >= before and bad.time_raw == "2024-13-45 25:61"
    assert bad.data()["device_time"] == "2024-13-45 25:61" and bad.data()["time_source"] == "received"
    assert signless.time_raw is None and signless.time.utcoffset().total_seconds() == 0
    assert zulu.time.isoformat() == "2024-05-01T10:00:00+00:00"
    assert decoder.stats.problems() == {"unreadable_time": 1}


def test_deep_nesting_costs_only_its_part():
    """Item 5: XML or JSON nested far beyond the recursion limit is dropped, counted, and the
    parts around it are read."""
    deep_xml = "<EventNotificationAlert>" + "<a>" * 50000 + "</a>" * 50000 + "</EventNotificationAlert>"
    deep_json = '{"eventType": "VMD", "x": ' + "[" * 50000 + "]" * 50000 + "}"
    stream = (_part(_alert("VMD", 1)) + _part(deep_xml.encode()) + _part(deep_json.encode(), "application/json")
              + _part(_alert("IO", 2)))
    parser, decoder = MultipartParser("boundary"), events.AlertDecoder()
    alerts = [a for p in parser.feed(stream) for a in decoder.decode(p)]
    assert [(a.normalized, a.channel_id) for a in alerts] == [("motion", 1), ("io", 2)]
    assert decoder.stats.problems() == {"dropped": 2}
    assert "nested" in decoder.last_error


def test_a_part_of_garbage_is_counted_as_dropped():
    _, decoder = _decode(b"<EventNotificationAlert><eventType>VMD", b"\x00\xff not xml")
    assert decoder.stats.problems() == {"dropped": 2}


def test_no_video_input_is_offline():
    """Item 7: the DVR capture's channel 8 reports resDesc "NO VIDEO" although enabled."""
    data = json.loads((captures() / "devices" / "iDS-7208HQHI-M1.json").read_text())["data"]["ISAPI"]
    rows = xml.video_inputs(xmltodict.unparse(data["System/Video/inputs/channels"]["response"]))
    assert [(r["channel"], r["online"]) for r in rows] == [(n, n != 8) for n in range(1, 9)]
    assert rows[7]["signal"] == "NO VIDEO"


def test_event_triggers_of_every_capture():
    """Event/triggers of each captured device -> event types per channel (camera ids in
    videoInputChannelID, NVR ids in dynVideoInputChannelID, NVR camera inputs as IO-<n>01)."""
    from gemhost_drivers.hikvision_isapi.triggers import event_types

    checked = 0
    for path in _devices():
        data = json.loads(path.read_text())["data"]["ISAPI"]
        entry = data.get("Event/triggers", {})
        if "response" not in entry:
            continue
        found = xml.event_triggers(xmltodict.unparse(entry["response"]))
        root = next(iter(entry["response"].values()))  # EventTriggerList, or EventNotification around it
        raw = _as_list((root.get("EventTriggerList") or root).get("EventTrigger"))
        assert len(found) == len([t for t in raw if t.get("eventType")]), path.name
        per_channel, device = event_types(found)
        assert "motion" in per_channel[1], path.name
        assert "disk_full" in device and "disk_full" not in per_channel[1], path.name
        checked += 1
    assert checked == 10
    data = json.loads((captures() / "devices" / "DS-7608NXI-I2.json").read_text())["data"]["ISAPI"]
    per_channel, device = event_types(xml.event_triggers(xmltodict.unparse(data["Event/triggers"]["response"])))
    assert sorted(per_channel) == [1, 2, 3]
    assert {"motion", "intrusion", "line_crossing", "tamper", "video_loss", "region_entrance"} <= set(per_channel[2])
    assert "io" in per_channel[3] and "io" not in per_channel[1]  # IO-301: the input of channel 3's camera
    assert "io" in device  # the NVR's own inputs IO-1..4


def test_pir_trigger_dropped_when_capabilities_deny_it():
    from gemhost_drivers.hikvision_isapi.triggers import event_types

    found = [{"event_type": "PIR", "channel": 1, "io_port": None, "notifications": []},
             {"event_type": "VMD", "channel": 1, "io_port": None, "notifications": []}]
    assert event_types(found, pir=False) == ({1: ["motion"]}, [])
    assert event_types(found, pir=None) == ({1: ["motion", "pir"]}, [])
