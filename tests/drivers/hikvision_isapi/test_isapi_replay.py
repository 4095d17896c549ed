"""Replay of real alertStream material from public sources, through the real framing parser and
decoder (issue 10). Each sample names the thread or file it comes from; addresses and MAC
addresses are replaced by documentation values (192.0.2.x, 02:00:...), everything that
matters on the wire (element names and order, empty elements, namespaces, counters, the odd
dateTime) is kept as the device sent it.
"""

from __future__ import annotations

import datetime as dt
import json

from gemhost_drivers.hikvision_isapi import channels
from gemhost_drivers.hikvision_isapi.events import AlertDecoder, MultipartParser, boundary_of
from isapi_helpers import captures

UTC = dt.UTC


def framed(*bodies: str, boundary: str = "boundary", ctype: str = 'application/xml; charset="UTF-8"') -> bytes:
    """Parts the way firmware frames them (Content-Type, Content-Length, blank line, body)."""
    out = b""
    for body in bodies:
        raw = body.encode()
        out += f"--{boundary}\r\nContent-Type: {ctype}\r\nContent-Length: {len(raw)}\r\n\r\n".encode() + raw + b"\r\n"
    return out


def replay(stream: bytes, content_type: str = "multipart/mixed; boundary=boundary", chunk: int = 97):
    """(alerts, decoder, parser) of a byte stream fed in odd-sized chunks like a socket delivers."""
    parser, decoder = MultipartParser(boundary_of(content_type)), AlertDecoder()
    alerts = []
    for i in range(0, len(stream), chunk):
        for part in parser.feed(stream[i: i + chunk]):
            alerts += decoder.decode(part)
    return alerts, decoder, parser


# Source: github.com/mezz64/pyHik issue #45 ("binary_sensors not being updated", 2019-11-17): an
# NVR's alertStream, isapi.org namespace, a line crossing on channel 5 (regionID 0) whose dateTime
# lost the sign of its zero UTC offset, then a heartbeat with empty channel elements (the quote
# stops inside the heartbeat's dateTime; its remaining elements are those of the NVR heartbeat
# quoted in home-assistant/core issue #82767).
PYHIK_45_LINE = """<?xml version="1.0" encoding="utf-8"?>
<EventNotificationAlert version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">
<ipAddress>192.0.2.200</ipAddress>
<portNo>80</portNo>
<protocolType>HTTP</protocolType>
<macAddress>02:00:00:84:6f:bf</macAddress>
<channelID>5</channelID>
<dynChannelID>5</dynChannelID>
<dateTime>2019-11-17T17:53:4200:00</dateTime>
<activePostCount>4</activePostCount>
<eventType>linedetection</eventType>
<eventState>active</eventState>
<eventDescription>linedetection alarm</eventDescription>
<channelName>Side Passage</channelName>
<DetectionRegionList>
<DetectionRegionEntry>
<regionID>0</regionID>
<sensitivityLevel>0</sensitivityLevel>
<RegionCoordinatesList>
</RegionCoordinatesList>
</DetectionRegionEntry>
</DetectionRegionList>
</EventNotificationAlert>
"""
PYHIK_45_HEARTBEAT = """<?xml version="1.0" encoding="utf-8"?>
<EventNotificationAlert version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">
<ipAddress>192.0.2.200</ipAddress>
<portNo>80</portNo>
<protocolType>HTTP</protocolType>
<macAddress>02:00:00:84:6f:bf</macAddress>
<channelID/>
<dynChannelID/>
<dateTime>2019-11-17T17:53:5100:00</dateTime>
<activePostCount>0</activePostCount>
<eventType>videoloss</eventType>
<eventState>inactive</eventState>
<eventDescription>videoloss alarm</eventDescription>
</EventNotificationAlert>
"""


def test_pyhik_45_nvr_line_crossing_and_heartbeat():
    alerts, decoder, _ = replay(framed(PYHIK_45_LINE, PYHIK_45_HEARTBEAT))
    line, beat = alerts
    assert (line.normalized, line.state, line.channel_id, line.dyn_channel_id, line.key) == (
        "line_crossing", "active", 5, 5, "0")
    # +00:00 and -00:00 are the same instant: the sign-less offset is repaired, not replaced by "now"
    assert line.time == dt.datetime(2019, 11, 17, 17, 53, 42, tzinfo=UTC) and line.time_raw is None
    assert channels.event_address(line.channel_id, line.dyn_channel_id) == 5
    assert beat.heartbeat and (beat.channel_id, beat.dyn_channel_id, beat.post_count) == (None, None, 0)
    assert decoder.stats.problems() == {}


# Source: Supergiovane/node-red-contrib-hikvision-ultimate issue #59 ("channelID is always 3",
# 2024-01-22): std-cgi namespace, version 1.0, motion on channel 3 and the NVR heartbeat with
# channelID 0; both dateTimes without the offset's sign.
NODE_RED_59_VMD = """<EventNotificationAlert version="1.0" xmlns="http://www.std-cgi.com/ver20/XMLSchema">
<ipAddress>192.0.2.12</ipAddress>
<portNo>80</portNo>
<protocol>HTTP</protocol>
<macAddress>02:00:00:09:88:85</macAddress>
<channelID>3</channelID>
<dateTime>2024-01-22T11:47:0500:00</dateTime>
<activePostCount>3</activePostCount>
<eventType>VMD</eventType>
<eventState>active</eventState>
<eventDescription>Motion alarm</eventDescription>
</EventNotificationAlert>
"""
NODE_RED_59_HEARTBEAT = NODE_RED_59_VMD.replace("<channelID>3</channelID>", "<channelID>0</channelID>").replace(
    "11:47:0500:00", "11:47:1500:00").replace("<activePostCount>3<", "<activePostCount>0<").replace(
    "<eventType>VMD<", "<eventType>videoloss<").replace(">active<", ">inactive<").replace(
    "Motion alarm", "videoloss alarm")


def test_node_red_59_std_cgi_namespace_and_channel_zero_heartbeat():
    (vmd, beat), _, _ = replay(framed(NODE_RED_59_VMD, NODE_RED_59_HEARTBEAT))
    assert (vmd.normalized, vmd.state, vmd.channel_id, vmd.post_count) == ("motion", "active", 3, 3)
    assert vmd.time == dt.datetime(2024, 1, 22, 11, 47, 5, tzinfo=UTC)
    assert beat.heartbeat and channels.event_address(beat.channel_id, beat.dyn_channel_id) is None


# Source: keshavdv/unifi-cam-proxy issue #145 (2022-01-12): a camera's VMD end, with an empty
# DetectionRegionList, after 283 posts of the same condition.
UNIFI_145_VMD_END = """<EventNotificationAlert version="2.0" xmlns="http://www.std-cgi.com/ver20/XMLSchema">
<ipAddress>192.0.2.20</ipAddress>
<portNo>80</portNo>
<protocol>HTTP</protocol>
<macAddress>02:00:00:00:00:20</macAddress>
<channelID>1</channelID>
<dateTime>2022-01-13T02:28:28+03:00</dateTime>
<activePostCount>283</activePostCount>
<eventType>VMD</eventType>
<eventState>inactive</eventState>
<eventDescription>Motion alarm</eventDescription>
<DetectionRegionList>
</DetectionRegionList>
<channelName>Camera 01</channelName>
</EventNotificationAlert>
"""


def test_unifi_145_an_end_without_region_ends_the_channel():
    (end,), _, _ = replay(framed(UNIFI_145_VMD_END))
    assert (end.normalized, end.state, end.key, end.post_count) == ("motion", "inactive", None, 283)
    assert end.time == dt.datetime(2022, 1, 13, 2, 28, 28, tzinfo=dt.timezone(dt.timedelta(hours=3)))


# Source: Supergiovane/node-red-contrib-hikvision-ultimate issue #105 (2026-05-18, trace of
# openHAB's ipcamera binding): an NVR names the channel in dynChannelID only, and an
# intrusion's regionID is empty.
NODE_RED_105_FIELD = """<EventNotificationAlert version="1.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<ipAddress>192.0.2.45</ipAddress>
<portNo>80</portNo>
<protocol>HTTP</protocol>
<macAddress>02:00:00:55:c9:c0</macAddress>
<dynChannelID>6</dynChannelID>
<dateTime>2026-05-18T20:21:00+02:00</dateTime>
<activePostCount>1</activePostCount>
<eventType>fielddetection</eventType>
<eventState>active</eventState>
<eventDescription>fielddetection alarm</eventDescription>
<DetectionRegionList>
<DetectionRegionEntry>
<regionID></regionID>
<sensitivityLevel>0</sensitivityLevel>
<RegionCoordinatesList>
</RegionCoordinatesList>
</DetectionRegionEntry>
</DetectionRegionList>
<detectionPictureTransType>url</detectionPictureTransType>
<detectionPicturesNumber>1</detectionPicturesNumber>
</EventNotificationAlert>
"""


def test_node_red_105_dyn_channel_only_and_empty_region():
    (field,), _, _ = replay(framed(NODE_RED_105_FIELD))
    assert (field.normalized, field.channel_id, field.dyn_channel_id, field.key) == ("intrusion", None, 6, None)
    assert channels.event_address(field.channel_id, field.dyn_channel_id) == 6
    assert field.data()["detectionPicturesNumber"] == "1"


# Source: tropicoo/hikvision-camera-bot issue #66 (2022-11-22): an NVR's intrusion on channel 5
# (dynChannelID and channelID both 5) and its heartbeat, whose empty channel elements are
# separated by a whitespace-only line.
TROPICOO_66_HEARTBEAT = """<EventNotificationAlert version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">
<ipAddress>192.0.2.217</ipAddress>
<portNo>80</portNo>
<protocolType>HTTP</protocolType>
<macAddress>02:00:00:0c:cc:ee</macAddress>
<dynChannelID/>
{WHITESPACE_LINE}
<channelID/>
<dateTime>2022-11-22T19:37:29+02:00</dateTime>
<activePostCount>0</activePostCount>
<eventType>videoloss</eventType>
<eventState>inactive</eventState>
<eventDescription>videoloss alarm</eventDescription>
<channelName/>
</EventNotificationAlert>
""".replace("{WHITESPACE_LINE}", " " * 6)
TROPICOO_66_FIELD = """<EventNotificationAlert version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">
<ipAddress>192.0.2.217</ipAddress>
<portNo>80</portNo>
<protocolType>HTTP</protocolType>
<macAddress>02:00:00:0c:cc:ee</macAddress>
<dynChannelID>5</dynChannelID>
<channelID>5</channelID>
<dateTime>2022-11-22T19:48:38+02:00</dateTime>
<activePostCount>1</activePostCount>
<eventType>fielddetection</eventType>
<eventState>active</eventState>
<eventDescription>fielddetection alarm</eventDescription>
<channelName>Front Yard</channelName>
</EventNotificationAlert>
"""


def test_tropicoo_66_nvr_intrusion_and_heartbeat():
    (beat, field), _, _ = replay(framed(TROPICOO_66_HEARTBEAT, TROPICOO_66_FIELD))
    assert beat.heartbeat and beat.channel_id is None
    assert (field.normalized, field.channel_id, field.dyn_channel_id) == ("intrusion", 5, 5)
    assert field.data()["channelName"] == "Front Yard"


# Source: mezz64/pyHik issue #10 (DS-7608NI-E2, 2017): "HTTP/1.0 200 OK", "MIME-Version: 1.0",
# "Content-Type: multipart/mixed;boundary=myboundary", and yet every part starts "--boundary".
def test_pyhik_10_header_boundary_differs_from_the_parts():
    stream = framed(NODE_RED_59_VMD, NODE_RED_59_HEARTBEAT)
    alerts, _, parser = replay(stream, "multipart/mixed;boundary=myboundary")
    assert [a.normalized for a in alerts] == ["motion", "video_loss"]
    assert parser.dropped == 0


# Source: toxuin/alarmserver pull request #51 (2025-03-14): cameras send a doubled "--boundary"
# line after some alerts; a strict MIME parser loses the next event.
def test_toxuin_51_doubled_delimiter_loses_nothing():
    one, two = framed(NODE_RED_59_VMD), framed(UNIFI_145_VMD_END)
    alerts, decoder, parser = replay(one + b"--boundary\r\n" + two)
    assert [(a.normalized, a.state) for a in alerts] == [("motion", "active"), ("motion", "inactive")]
    assert parser.dropped == 0 and decoder.stats.problems() == {}


# Source: Supergiovane/node-red-contrib-hikvision-ultimate issue #4 (DS-2CD2T85FWD-I5, 2020-12-18):
# a camera's heartbeat names channel 1 and carries the psiaext Extensions, whose eventPush
# holds an escaped "&&".
NODE_RED_4_HEARTBEAT = """<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<ipAddress>192.0.2.203</ipAddress>
<portNo>80</portNo>
<protocol>HTTP</protocol>
<macAddress>02:00:00:57:30:00</macAddress>
<channelID>1</channelID>
<dateTime>2020-12-18T22:39:43+01:00</dateTime>
<activePostCount>0</activePostCount>
<eventType>videoloss</eventType>
<eventState>inactive</eventState>
<eventDescription>videoloss alarm</eventDescription>
<channelName></channelName>
<Extensions version="1.0" xmlns="urn:psialliance-org">
<serialNumber xmlns="urn:selfextension:psiaext-ver10-xsd">DS-2CD2T85FWD-I5(B)20191224AAWRE00000000</serialNumber>
<eventPush xmlns="urn:selfextension:psiaext-ver10-xsd">IO&amp;&amp;DS-2CD2T85FWD-I5(B)20191224AAWRE00000000,\
2020-12-18T22:39:33+01:00,1.0</eventPush>
</Extensions>
</EventNotificationAlert>
"""


def test_node_red_4_camera_heartbeat_on_channel_one():
    (beat,), decoder, _ = replay(framed(NODE_RED_4_HEARTBEAT))
    assert beat.heartbeat and beat.channel_id == 1 and beat.post_count == 0
    assert beat.fields["serialNumber"] == "DS-2CD2T85FWD-I5(B)20191224AAWRE00000000"
    assert not beat.repaired and decoder.stats.problems() == {}


# Source: tropicoo/hikvision-camera-bot issue #50 (door station, 2022-09-30): its keep-alive is
# eventType "other", described "Heartbeat", inactive, with no channel.
TROPICOO_50_DOORBELL = ('<EventNotificationAlert version="1.0" xmlns="urn:psialliance-org"><ipAddress>192.0.2.80'
                        "</ipAddress><portNo>80</portNo><protocol>HTTP</protocol><macAddress>02:00:00:f7:d3:ba"
                        "</macAddress><dateTime>2022-09-30T13:04:07-05:00</dateTime><activePostCount>1"
                        "</activePostCount><eventType>other</eventType><eventDescription>Heartbeat"
                        "</eventDescription><eventState>inactive</eventState></EventNotificationAlert>")


def test_tropicoo_50_door_station_heartbeat():
    (beat,), _, _ = replay(framed(TROPICOO_50_DOORBELL))
    assert beat.heartbeat and beat.event_type == "other"


# Source: maciej-or/hikvision_next tests/fixtures/ISAPI/EventNotificationAlert/motiondetection_human.xml
# (an NVR's motion with the detected target at top level, targetType).
HIKVISION_NEXT_MOTION_HUMAN = """<EventNotificationAlert version="1.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
  <ipAddress>192.0.2.255</ipAddress>
  <portNo>8123</portNo>
  <protocol>HTTP</protocol>
  <macAddress>02:00:00:f8:01:09</macAddress>
  <dynChannelID>2</dynChannelID>
  <channelID>2</channelID>
  <dateTime>2025-07-11T06:56:42+02:00</dateTime>
  <activePostCount>0</activePostCount>
  <eventType>VMD</eventType>
  <eventState>active</eventState>
  <eventDescription>Motion alarm</eventDescription>
  <channelName>Camera 02</channelName>
  <targetType>human</targetType>
</EventNotificationAlert>
"""


def test_hikvision_next_motion_with_target_type():
    (vmd,), _, _ = replay(framed(HIKVISION_NEXT_MOTION_HUMAN))
    assert (vmd.normalized, vmd.channel_id, vmd.dyn_channel_id, vmd.key) == ("motion", 2, 2, None)
    assert vmd.data()["detectionTarget"] == "human"


def test_captured_region_alert_then_duration_part_is_one_condition():
    """Shared captures: fielddetection_human.xml (region 3) followed by the ``duration`` form
    ipc_1_fielddetection.xml on the same channel: the follow-up continues region 3."""
    base = captures() / "events"
    region = (base / "fielddetection_human.xml").read_text()
    duration = (base / "ipc_1_fielddetection.xml").read_text()
    (start, follow), _, _ = replay(framed(region, duration))
    assert (start.normalized, start.key, start.follow_up) == ("intrusion", "3", False)
    assert (follow.normalized, follow.state, follow.key, follow.follow_up) == ("intrusion", "active", "3", True)
    assert follow.data()["relationEvent"] == "fielddetection"


# Source: the JSON EventNotificationAlert of Hikvision access-control terminals as the vendor's
# "Device Network SDK (Access Control on Card) Developer Guide" documents it (AccessControllerEvent
# object with majorEventType/subEventType, cardNo, employeeNoString, serialNo, ...); the field set
# is a DS-K1T terminal's face authentication (major 5, minor 75) as public client code keeps it.
def access_event(serial: int, card: str = "", employee: str = "1001") -> str:
    return json.dumps({
        "ipAddress": "192.0.2.7", "portNo": 443, "protocol": "HTTPS", "macAddress": "02:00:00:4e:33:9e",
        "channelID": 1, "dateTime": "2025-04-02T08:15:31+05:00", "activePostCount": 1,
        "eventType": "AccessControllerEvent", "eventState": "active", "eventDescription": "Access Controller Event",
        "shortSerialNumber": "FY0000000",
        "AccessControllerEvent": {
            "deviceName": "DS-K1T673DX", "majorEventType": 5, "subEventType": 75, "name": "Staff",
            "cardReaderNo": 1, "employeeNoString": employee, "cardNo": card, "serialNo": serial,
            "userType": "normal", "currentVerifyMode": "faceOrFpOrCardOrPw", "frontSerialNo": serial - 1,
            "mask": "no", "picturesNumber": 1, "FaceRect": {"height": 0.051, "width": 0.092, "x": 0.012, "y": 0.511},
        },
    })


def test_access_controller_events_are_pulses_with_their_serial_and_every_field():
    stream = framed(access_event(25523, card="4455667788"), access_event(25524), ctype="application/json")
    (first, second), decoder, _ = replay(stream)
    assert (first.normalized, first.state, first.event_id) == ("access_control", "pulse", "25523")
    assert (second.state, second.event_id) == ("pulse", "25524")  # two swipes, two events
    data = first.data()
    for key in ("cardNo", "employeeNoString", "majorEventType", "subEventType", "serialNo", "currentVerifyMode",
                "cardReaderNo", "frontSerialNo", "FaceRect"):
        assert key in data, key
    assert (data["cardNo"], data["majorEventType"], data["FaceRect"]["x"]) == ("4455667788", 5, 0.012)
    assert data["eventDescription"] == "Access Controller Event"
    # the same serialNo again (a terminal re-sending after a reconnect) is not a new swipe
    again, _, _ = replay(framed(access_event(25523), ctype="application/json"))
    assert again[0].event_id == "25523"
    assert decoder.decode(next(iter(MultipartParser("boundary").feed(
        framed(access_event(25523), ctype="application/json"))))) == []
    assert decoder.stats.counts["duplicate"] == 1
