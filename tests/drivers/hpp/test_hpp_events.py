"""Every event type of the guide's table, parsed from bodies as devices and the cloud send them."""

from __future__ import annotations

import json

import pytest
from gemhost_drivers.hpp.address import Address
from gemhost_drivers.hpp.events import EVENT_TYPES, batch_events, covered_ids, parse_cid, to_event

NS = "http://www.hikvision.com/ver20/XMLSchema"
ZONES = {
    "Q10000001": "nvr",
    "Q10000001:1": "door-cam",
    "Q10000001:2": "yard-cam",
    "Q20000001": "panel",
    "Q20000001:sub:1": "ground",
    "Q20000001:zone:3": "smoke",
}


def resolve(address: Address) -> str | None:
    return ZONES.get(str(address))


def alert(event_type: str, *, channel: int | None = 1, state: str = "active", extra: str = "") -> str:
    chan = f"<channelID>{channel}</channelID>" if channel is not None else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<EventNotificationAlert version="2.0" xmlns="{NS}">'
        f"<ipAddress>192.168.1.64</ipAddress><portNo>80</portNo><protocol>HTTP</protocol>"
        f"<macAddress>a4:14:37:12:34:56</macAddress>{chan}<dateTime>2026-11-29T10:15:30+08:00</dateTime>"
        f"<activePostCount>1</activePostCount><eventType>{event_type}</eventType>"
        f"<eventState>{state}</eventState><eventDescription>{event_type} alarm</eventDescription>"
        f"{extra}</EventNotificationAlert>"
    )


def message(
    msg_type: str,
    body: str,
    *,
    fmt: str | None = None,
    serial: str = "Q10000001",
    msg_id: str = "m-1",
    channel: int | None = None,
) -> dict:
    out = {
        "msgId": msg_id,
        "msgType": msg_type,
        "deviceSerial": serial,
        "formatType": fmt or EVENT_TYPES[msg_type],
        "alarmData": body,
        "alarmTime": "2026-11-29T10:15:31+08:00",
    }
    if channel is not None:
        out["channelNo"] = channel
    return out


REGION = (
    "<DetectionRegionList><DetectionRegionEntry><regionID>2</regionID>"
    "<sensitivityLevel>50</sensitivityLevel></DetectionRegionEntry></DetectionRegionList>"
)

XML_CASES = [
    # msgType, body, normalized, zone, channel, state
    ("VMD", alert("VMD", channel=1), "motion", "door-cam", 1, "active"),
    ("IO", alert("IO", channel=None, extra="<inputIOPortID>3</inputIOPortID>"), "io", "nvr", None, "active"),
    ("shelteralarm", alert("shelteralarm", channel=2), "tamper", "yard-cam", 2, "active"),
    (
        "fielddetection",
        alert("fielddetection", channel=1, extra=REGION),
        "intrusion",
        "door-cam",
        1,
        "active",
    ),
    (
        "linedetection",
        alert("linedetection", channel=2, state="inactive", extra=REGION),
        "line_crossing",
        "yard-cam",
        2,
        "inactive",
    ),
    ("diskfull", alert("diskfull", channel=None, extra="<hdNo>1</hdNo>"), "disk_full", "nvr", None, "active"),
    ("diskerror", alert("diskerror", channel=None), "disk_error", "nvr", None, "active"),
    ("diskrecover", alert("diskrecover", channel=None), "disk_recovered", "nvr", None, "active"),
    ("videoloss", alert("videoloss", channel=2), "video_loss", "yard-cam", 2, "active"),
    (
        "regionEntrance",
        alert("regionEntrance", channel=1, extra=REGION),
        "region_entrance",
        "door-cam",
        1,
        "active",
    ),
    (
        "regionExiting",
        alert("regionExiting", channel=1, extra=REGION),
        "region_exit",
        "door-cam",
        1,
        "active",
    ),
    ("recordException", alert("recordException", channel=None), "record_exception", "nvr", None, "active"),
]


@pytest.mark.parametrize(
    ("msg_type", "body", "normalized", "zone", "channel", "state"), XML_CASES, ids=[c[0] for c in XML_CASES]
)
def test_xml_event_types(msg_type, body, normalized, zone, channel, state):
    ev = to_event(message(msg_type, body), resolve)
    assert (ev.type, ev.vendor_type, ev.zone, ev.channel, ev.state) == (
        normalized,
        msg_type,
        zone,
        channel,
        state,
    )
    assert ev.id == "m-1" and ev.data["serial"] == "Q10000001"
    assert ev.time.isoformat() == "2026-11-29T10:15:30+08:00"
    if "DetectionRegion" in body:
        assert ev.data["regions"] == [2]
    if msg_type == "IO":
        assert ev.data["input"] == "3"


def test_channel_from_the_message_when_the_body_has_none():
    body = alert("VMD", channel=None)
    ev = to_event(message("VMD", body, channel=2), resolve)
    assert (ev.channel, ev.zone) == (2, "yard-cam")


def test_unknown_channel_falls_back_to_the_device_zone():
    ev = to_event(message("VMD", alert("VMD", channel=7)), resolve)
    assert (ev.channel, ev.zone) == (7, "nvr")


def test_xml_type_sent_as_json_is_parsed_the_same_way():
    body = json.dumps(
        {"eventType": "VMD", "eventState": "active", "channelID": 2, "dateTime": "2026-11-29T10:15:30+08:00"}
    )
    ev = to_event(message("VMD", body, fmt="JSON"), resolve)
    assert (ev.type, ev.zone, ev.channel) == ("motion", "yard-cam", 2)


@pytest.mark.parametrize(
    ("msg_type", "normalized"),
    [
        ("deviceonline", "device_online"),
        ("deviceoffline", "device_offline"),
        ("devicedeleted", "device_deleted"),
    ],
)
def test_device_notices(msg_type, normalized):
    body = json.dumps(
        {
            "eventType": msg_type,
            "dateTime": "2026-11-29T10:15:30Z",
            "deviceSerial": "Q10000001",
            "deviceName": "Shop NVR",
        }
    )
    ev = to_event(message(msg_type, body), resolve)
    assert (ev.type, ev.zone, ev.channel) == (normalized, "nvr", None)
    assert ev.data["device_name"] == "Shop NVR"
    assert ev.time.utcoffset().total_seconds() == 0


def cid(code, *, zone=3, sub=1, name="Smoke detector", user=None) -> str:
    body = {
        "code": code,
        "standardCIDcode": code,
        "type": "zoneAlarm",
        "trigger": "2026-11-29T10:20:00+01:00",
        "subSystemNo": sub,
        "name": name,
        "zone": zone,
    }
    if user is not None:
        body["userNo"] = user
    return json.dumps(
        {
            "ipAddress": "192.168.1.70",
            "eventType": "cidEvent",
            "dateTime": "2026-11-29T10:20:01+01:00",
            "CIDEvent": body,
        }
    )


def test_cid_alarm_with_code_and_zone_parsed():
    ev = to_event(message("cidEvent", cid(1110), serial="Q20000001", msg_id="c-1"), resolve)
    assert (ev.type, ev.state, ev.zone) == ("alarm", "active", "smoke")
    assert ev.data["cid_code"] == 110 and ev.data["cid_description"] == "fire"
    assert ev.data["cid_qualifier"] == "event" and ev.data["zone_number"] == 3 and ev.data["subsystem"] == 1
    assert ev.time.isoformat() == "2026-11-29T10:20:00+01:00"


def test_cid_restore_is_inactive_and_unknown_zone_falls_back_to_subsystem():
    ev = to_event(message("cidEvent", cid(3130, zone=9), serial="Q20000001"), resolve)
    assert (ev.state, ev.zone, ev.data["cid_qualifier"]) == ("inactive", "ground", "restore")


def test_cid_arming_reports_user_and_subsystem():
    armed = to_event(message("cidEvent", cid(3401, zone=None, user=2), serial="Q20000001"), resolve)
    disarmed = to_event(message("cidEvent", cid(1401, zone=None, user=2), serial="Q20000001"), resolve)
    assert armed.data["arming"] == "armed" and disarmed.data["arming"] == "disarmed"
    assert armed.state == disarmed.state == "active"
    assert armed.zone == "ground" and armed.data["user"] == 2 and "zone_number" not in armed.data


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (1130, (1, 130)),
        ("3130", (3, 130)),
        ("E110", (1, 110)),
        ("R570", (3, 570)),
        ("130", (None, 130)),
        ("", (None, None)),
    ],
)
def test_parse_cid_forms(code, expected):
    assert parse_cid(code) == expected


def linkage(related: str) -> str:
    return json.dumps(
        {
            "eventType": "Linkage",
            "dateTime": "2026-11-29T10:20:02+01:00",
            "Linkage": {
                "relatedEventId": related,
                "PictureList": [
                    {"url": "https://pictures.example/1.jpg", "deviceSerial": "Q10000001", "channelNo": 1},
                    {"url": "https://pictures.example/2.jpg", "deviceSerial": "Q10000001", "channelNo": 1},
                ],
            },
        }
    )


def test_linkage_pictures_are_attached_to_their_cid_alarm():
    batch = [
        message("cidEvent", cid(1130), serial="Q20000001", msg_id="c-7"),
        message("VMD", alert("VMD"), msg_id="v-1"),
        message("Linkage", linkage("c-7"), serial="Q20000001", msg_id="l-7"),
    ]
    events = batch_events(batch, resolve)
    assert [e.vendor_type for e in events] == ["cidEvent", "VMD"]
    alarm = events[0]
    assert [p["url"] for p in alarm.data["pictures"]] == [
        "https://pictures.example/1.jpg",
        "https://pictures.example/2.jpg",
    ]
    assert alarm.data["pictures"][0]["channel"] == 1
    assert covered_ids(alarm) == ["c-7", "l-7"]


def test_linkage_without_its_alarm_in_the_batch_is_published_alone():
    events = batch_events([message("Linkage", linkage("c-older"), serial="Q20000001", msg_id="l-9")], resolve)
    assert len(events) == 1 and events[0].type == "linkage"
    assert events[0].data["alarm_id"] == "c-older" and len(events[0].data["pictures"]) == 2
    assert events[0].zone == "panel"


def test_every_type_of_the_table_is_known():
    assert len(EVENT_TYPES) == 17


def test_malformed_body_is_kept_not_dropped():
    ev = to_event(message("VMD", "<EventNotificationAlert><eventType>VMD"), resolve)
    assert ev.type == "motion" and "parse_error" in ev.data and ev.data["raw"].startswith("<Event")


def test_xml_entities_attack_is_refused():
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        "<EventNotificationAlert><eventType>&b;</eventType></EventNotificationAlert>"
    )
    ev = to_event(message("VMD", bomb), resolve)
    assert "parse_error" in ev.data
