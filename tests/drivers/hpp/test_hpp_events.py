"""Queue messages -> events (guide 3.34, 2.10, A.3) and their lifetime reports (issue 9, issue 11
items 7 and 10). Bodies come from guide/ (the section is in each file name, see SOURCES.md) or
from real device captures in the shared fixtures folder."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as StdET
from pathlib import Path

import pytest
from gemhost_drivers.hpp import cid
from gemhost_drivers.hpp.address import Address
from gemhost_drivers.hpp.events import EVENT_FORMATS, Mapper

REPO = Path(__file__).resolve().parents[3]
CAPTURES = (REPO / ".." / "shared" / "fixtures" / "isapi-captures").resolve()
PANEL, NVR = "Q20000001", "Q10000001"
SG = dt.timezone(dt.timedelta(hours=8))  # A.2 time zone 182
ZONES = {
    f"{NVR}:1": "nvr_ch1",
    f"{NVR}:2": "nvr_ch2",
    NVR: "nvr",
    PANEL: "panel",
    f"{PANEL}:sub:1": "sub1",
    f"{PANEL}:zone:0": "front_door",
    f"{PANEL}:zone:1": "hall",
}


def mapper(time_zone: dt.tzinfo | None = SG) -> Mapper:
    return Mapper(lambda address: ZONES.get(str(address)), lambda serial: time_zone)


def message(body, fmt: str = "JSON", serial: str = PANEL, msg_id: str = "m-1") -> dict:
    """A queue item as guide 2.10 shows it (alarmData is a string)."""
    data = body if isinstance(body, str) else json.dumps(body)
    return {"messageId": msg_id, "accountNumber": "12XX", "deviceSerial": serial, "formatType": fmt,
            "alarmData": data}


def cid_body(code: int, evttype: str, **fields) -> dict:
    """A.3.1's structure with our values."""
    info = {"code": code, "evttype": evttype, **fields}
    return {"deviceSerial": PANEL, "triggerTime": "2025-06-19T21:04:41", "eventType": "cidEvent",
            "eventDescription": "CID event", "CIDEvent": info}


def filled(hpp, name: str, values: dict[str, str]) -> str:
    """An A.3 XML template of the guide with its empty leaves given values (ours)."""
    root = StdET.fromstring(hpp.text(name).encode())
    for elem in root.iter():
        tag = elem.tag.split("}")[-1]
        if tag in values and not list(elem):
            elem.text = values[tag]
    return StdET.tostring(root, encoding="unicode")


# ----------------------------------------------------------------------------- A.3.1 CID


def test_a_3_1_guide_example_is_an_alarm_on_its_zone_and_partition(hpp):
    """The guide's cidEvent example: code 1103 with evttype 11 (alarm), zone 1, partition 1."""
    body = hpp.json("A.3.1_cidEvent.json")
    body["deviceSerial"] = PANEL
    event = mapper().event(message(body))
    assert (event.type, event.state, event.vendor_type) == ("alarm", "active", "cidEvent")
    assert event.zone == "hall"  # SERIAL:zone:1 (zone numbers as the panel sends them)
    assert event.data["zone_number"] == 1 and event.data["subsystem"] == 1 and event.data["cid_code"] == 103
    assert event.data["user_name"] == "test" and event.data["device_name"] == "aaa" and event.data["temperature"] == 1
    assert event.time == dt.datetime(2009, 11, 14, 15, 27, 12, tzinfo=SG)
    assert event.key == "1"


def test_cid_alarm_and_its_restore_are_one_condition():
    """Issue 9: a CID alarm is active, its restore (qualifier 3) inactive, same zone/type/key."""
    m = mapper()
    alarm = m.event(message(cid_body(1130, "11", zone=0, system=1, zoneName="Front door"), msg_id="a"))
    restore = m.event(message(cid_body(3130, "31", zone=0, system=1), msg_id="r"))
    assert (alarm.type, alarm.state, alarm.zone, alarm.key) == ("alarm", "active", "front_door", "0")
    assert (restore.type, restore.state, restore.zone, restore.key) == ("alarm", "inactive", "front_door", "0")
    assert alarm.data["cid_description"] == "burglary" and alarm.data["cid_qualifier"] == "event"
    assert restore.data["cid_qualifier"] == "restore"


@pytest.mark.parametrize(
    ("code", "evttype", "kind", "arming"),
    [(3401, "13", "arming", "away"), (3441, "13", "arming", "stay"), (3456, "13", "arming", "stay"),
     (1401, "13", "arming", "disarmed"), (1407, "13", "arming", "disarmed"), (3407, "13", "arming", "away")],
)
def test_arming_and_disarming_are_state_pulses_never_alarms(code, evttype, kind, arming):
    """Issue 9: arming reports are panel state (type arming, pulse), not `alarm`."""
    event = mapper().event(message(cid_body(code, evttype, system=1, systemName="Ground floor", userNo=502)))
    assert (event.type, event.state, event.data["arming"]) == (kind, "pulse", arming)
    assert event.zone == "sub1" and event.data["subsystem"] == 1


def test_bypass_and_its_recovery_are_bypass_pulses_on_the_zone():
    m = mapper()
    on = m.event(message(cid_body(1570, "13", zone=1, system=1)))
    off = m.event(message(cid_body(3570, "33", zone=1, system=1)))
    assert (on.type, on.state, on.data["bypassed"], on.zone) == ("bypass", "pulse", True, "hall")
    assert (off.type, off.state, off.data["bypassed"]) == ("bypass", "pulse", False)


@pytest.mark.parametrize(
    ("code", "evttype", "kind", "state"),
    [(1110, "11", "fire", "active"), (3110, "31", "fire", "inactive"), (1120, "11", "panic", "active"),
     (1100, "11", "medical", "active"), (1144, "11", "tamper", "active"), (3383, "31", "tamper", "inactive"),
     (1301, "12", "fault", "active"), (3301, "32", "fault", "inactive"), (1602, "13", "cid", "pulse"),
     (6130, "11", "alarm", "active"), (130, "31", "alarm", "inactive"), ("E151", "11", "alarm", "active"),
     (1999, "13", "cid", "pulse")],
)
def test_cid_families(code, evttype, kind, state):
    meaning = cid.classify(code, evttype)
    assert (meaning.type, meaning.state) == (kind, state)


def test_cid_zone_falls_back_to_partition_then_panel():
    m = mapper()
    assert m.event(message(cid_body(1130, "11", zone=7, system=1))).zone == "sub1"
    assert m.event(message(cid_body(1130, "11", zone=7, system=2))).zone == "panel"


def test_a_3_1_partition_bitmask_examples():
    """A.3.1 partitionNo: "43" is partitions 1, 2, 4, 6; "21,2" is 2, 33, 35, 37."""
    assert cid.partitions("43") == [1, 2, 4, 6]
    assert cid.partitions("21,2") == [2, 33, 35, 37]
    assert cid.partitions("") == [] and cid.partitions("x") == []


# ----------------------------------------------------------------------------- A.3.6 Linkage


def test_a_3_6_linkage_after_its_alarm_is_an_update_of_it(hpp):
    """Issue 9: the Linkage (relationId) updates the CID event; pictures per A.3.6 and 2.5."""
    m = mapper()
    relation = "5c09bee8-0d44-11eb-b416-4308bd0ace10"
    body = cid_body(1130, "11", zone=0, system=1)
    body["relationId"] = relation
    alarm = m.event(message(body, msg_id="alarm-1"))
    linkage_body = hpp.json("A.3.6_Linkage.json")
    linkage_body["deviceSerial"] = PANEL
    update = m.event(message(linkage_body, msg_id="link-1"))
    assert (update.state, update.refers_to, update.type, update.zone) == ("update", "alarm-1", "alarm", "front_door")
    assert update.id == "link-1" and update.vendor_type == "Linkage" and alarm.data["relation_id"] == relation
    first = update.data["pictures"][0]
    assert first["id"] == "20220809023446-Q04814335-0-40002-2-1" and first["encrypted"] is False
    assert "&amp;" not in first["url"] and "&deviceSerialNo=Q03110476&" in first["url"]
    assert update.data["media"] == 1 and len(update.data["pictures"]) == 2


def test_linkage_whose_alarm_is_unknown_is_its_own_pulse(hpp):
    body = hpp.json("A.3.6_Linkage.json")
    body["deviceSerial"] = PANEL
    event = mapper().event(message(body))
    assert (event.type, event.state, event.zone) == ("linkage", "pulse", "panel")
    assert event.data["relation_id"] == "5c09bee8-0d44-11eb-b416-4308bd0ace10"


# ----------------------------------------------------------------------------- A.3.10-A.3.21


CAMERA = [
    ("A.3.21_VMD.xml", "VMD", "motion"),
    ("A.3.14_IO.xml", "IO", "io"),
    ("A.3.19_shelteralarm.xml", "shelteralarm", "tamper"),
    ("A.3.13_fielddetection.xml", "fielddetection", "intrusion"),
    ("A.3.15_linedetection.xml", "linedetection", "line_crossing"),
    ("A.3.20_videoloss.xml", "videoloss", "video_loss"),
    ("A.3.18_regionEntrance.xml", "regionEntrance", "region_entrance"),
    ("A.3.17_regionExiting.xml", "regionExiting", "region_exit"),
    ("A.3.16_recordException.xml", "recordException", "record_exception"),
]


@pytest.mark.parametrize(("name", "vendor", "kind"), CAMERA)
def test_camera_events_of_a3_are_pulses_on_their_channel(hpp, name, vendor, kind):
    """Issue 9: camera events from the cloud are instantaneous (pulse). A.3 template, our values."""
    values = {"deviceSerial": NVR, "channelID": "2", "triggerTime": "2024-05-01T10:00:00", "eventType": vendor,
              "eventDescription": f"{vendor} alarm", "channelName": "Gate", "inputIOPortID": "3",
              "regionID": "4", "detectionTarget": "human", "dateTime": "", "eventState": "", "activePostCount": "1"}
    event = mapper().event(message(filled(hpp, name, values), "XML", NVR))
    assert (event.type, event.vendor_type, event.state) == (kind, vendor, "pulse")
    assert (event.zone, event.channel) == ("nvr_ch2", 2)
    assert event.time == dt.datetime(2024, 5, 1, 10, 0, tzinfo=SG)  # device local time (A.2 zone 182)
    assert event.data["channel_name"] == "Gate" and event.data["description"] == f"{vendor} alarm"
    if vendor == "IO":
        assert event.data["input"] == 3
    if vendor in ("fielddetection", "linedetection", "regionEntrance", "regionExiting"):
        assert event.data["regions"] == [4]


@pytest.mark.parametrize(("name", "vendor", "kind"), CAMERA)
def test_unfilled_a3_templates_are_published_not_dropped(hpp, name, vendor, kind):
    """The guide's templates as printed (values are comments): an event of unknown type, kept."""
    event = mapper().event(message(hpp.text(name), "XML", NVR))
    assert event.type in ("unknown", kind) and event.state == "pulse" and event.id == "m-1"


def test_region_event_with_an_explicit_offset_uses_it_and_reports_inactive(hpp):
    values = {"deviceSerial": NVR, "channelID": "1", "dateTime": "2017-04-22T15:39:01+02:00",
              "triggerTime": "2017-04-22T21:39:01", "eventType": "regionExiting", "eventState": "inactive",
              "eventDescription": "x", "regionID": "1"}
    event = mapper().event(message(filled(hpp, "A.3.17_regionExiting.xml", values), "XML", NVR))
    assert event.state == "inactive"
    assert event.time == dt.datetime(2017, 4, 22, 15, 39, 1, tzinfo=dt.timezone(dt.timedelta(hours=2)))


def test_disk_error_opens_a_condition_that_disk_recover_ends(hpp):
    values = {"deviceSerial": NVR, "dateTime": "2024-05-01T02:00:00Z", "eventDescription": "HD", "diskNo": "2",
              "id": "2", "diskNumber": "1"}
    m = mapper()
    error = m.event(message(filled(hpp, "A.3.10_diskerror.xml", {**values, "eventType": "diskerror"}), "XML", NVR))
    recover = m.event(message(filled(hpp, "A.3.12_diskrecover.xml", {**values, "eventType": "diskrecover"}), "XML",
                              NVR))
    full = m.event(message(filled(hpp, "A.3.11_diskfull.xml", {**values, "eventType": "diskfull"}), "XML", NVR))
    assert (error.type, error.state, error.key, error.zone) == ("disk_error", "active", "2", None)
    assert (recover.type, recover.state, recover.key) == ("disk_error", "inactive", "2")
    assert (full.type, full.state) == ("disk_full", "pulse")
    assert error.time == dt.datetime(2024, 5, 1, 2, 0, tzinfo=dt.UTC) and error.data["hdds"] == [{"id": 2, "disks": 1}]


def test_a_real_device_alert_relayed_as_alarm_data_is_parsed():
    """A.3's XML is the ISAPI EventNotificationAlert; a real camera's (hikvision_next fixtures) parses."""
    path = CAPTURES / "events" / "fielddetection_human.xml"
    if not path.exists():
        pytest.skip(f"shared fixtures not found at {CAPTURES}")
    event = mapper().event(message(path.read_text(), "XML", NVR))
    assert (event.type, event.state, event.channel, event.zone) == ("intrusion", "pulse", 1, "nvr_ch1")
    assert event.data["regions"] == [3] and event.data["targets"] == ["human"]
    assert event.time == dt.datetime(2022, 1, 31, 13, 53, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))


# ----------------------------------------------------------------------------- A.3.2-A.3.9


@pytest.mark.parametrize(
    ("name", "vendor", "kind"),
    [("A.3.2_devicedeleted.json", "devicedeleted", "device_deleted"),
     ("A.3.3_deviceadded.json", "deviceadded", "device_added"),
     ("A.3.4_deviceoffline.json", "deviceoffline", "device_offline"),
     ("A.3.5_deviceonline.json", "deviceonline", "device_online")],
)
def test_device_notices(hpp, name, vendor, kind):
    body = hpp.json(name)
    printed = mapper().event(message(body, serial=NVR))  # the guide's example leaves eventType empty
    assert printed.type == "unknown" and printed.state == "pulse"
    body.update(eventType=vendor, deviceSerial=NVR)
    event = mapper().event(message(body, serial=NVR))
    assert (event.type, event.vendor_type, event.state, event.zone) == (kind, vendor, "pulse", None)
    assert event.time == dt.datetime(2009, 11, 14, 15, 27, 12, tzinfo=dt.UTC) and event.data["serial"] == NVR


def test_a_3_7_access_event(hpp):
    event = mapper().event(message(hpp.json("A.3.7_ACSEvent_filled.json"), serial="ABCEDF123"))
    assert (event.type, event.vendor_type, event.state, event.channel) == ("access", "AccessControllerEvent",
                                                                           "pulse", 1)
    assert event.data["major"] == 5 and event.data["minor"] == 75 and event.data["name"] == "Ann"


def test_a_3_8_doorbell_call(hpp):
    event = mapper().event(message(hpp.json("A.3.8_YsCallingEvent.json"), serial="K20924932"))
    assert (event.type, event.vendor_type, event.state) == ("doorbell", "YsCallingEvent", "pulse")
    assert event.data["serial"] == "K20924932" and event.data["pictures"][0]["encrypted"] is True
    assert event.time == dt.datetime(2024, 5, 8, 20, 48, 17, tzinfo=SG)


def test_a_3_9_manual_capture(hpp):
    event = mapper().event(message(hpp.json("A.3.9_manualRep.json"), serial="Q19323594"))
    assert (event.type, event.state, event.data["zone_number"]) == ("capture", "pulse", 0)
    assert event.data["user"] == "lyh_uat7_0403@yopmail.com" and len(event.data["pictures"]) == 1


def test_every_type_of_a3_is_known():
    assert len(EVENT_FORMATS) == 21


# ----------------------------------------------------------------------------- item 10: unparsed


def _deep_xml(levels: int) -> str:
    return ('<EventNotificationAlert><deviceSerial>Q20000001</deviceSerial>' + "<a>" * levels + "x"
            + "</a>" * levels + "</EventNotificationAlert>")


@pytest.mark.parametrize(
    ("alarm_data", "fmt", "error"),
    [
        (_deep_xml(5000), "XML", "nested deeper"),
        ("[" * 5000 + "]" * 5000, "JSON", "nested"),
        ('{"deviceSerial": "Q2000', "JSON", "not JSON"),
        ("<ResponseStatus/>", "XML", "not an EventNotificationAlert"),
        ('<!DOCTYPE x [<!ENTITY a "b">]><EventNotificationAlert>&a;</EventNotificationAlert>', "XML", "not XML"),
        ("", "JSON", "empty"),
        ('["a list"]', "JSON", "not an object"),
        ('{"eventType": "cidEvent", "CIDEvent": "not an object"}', "JSON", "without a CIDEvent"),
    ],
)
def test_a_body_that_cannot_be_parsed_is_an_unparsed_event_with_its_raw_text(alarm_data, fmt, error):
    """Issue 11 item 10: never an exception, one ``unparsed`` event carrying (bounded) raw text."""
    event = mapper().event({"messageId": "bad-1", "deviceSerial": PANEL, "formatType": fmt, "alarmData": alarm_data})
    assert (event.type, event.state, event.id, event.zone) == ("unparsed", "pulse", "bad-1", "panel")
    assert error in event.data["error"] and len(event.data["raw"]) <= 2000
    assert event.data["raw_length"] == len(alarm_data)


def test_a_queue_item_that_is_not_an_object_is_unparsed():
    event = mapper().event(["not", "an", "object"])
    assert event.type == "unparsed" and event.zone is None and "not an object" in event.data["error"]


def test_a_3_7_template_as_printed_is_not_json(hpp):
    event = mapper().event(message(hpp.text("A.3.7_ACSEvent_template.txt")))
    assert event.type == "unparsed" and event.data["raw"].startswith("{")


def test_message_without_device_time_zone_reads_local_time_in_the_host_zone():
    event = mapper(time_zone=None).event(message(cid_body(1130, "11", zone=0, system=1)))
    assert event.time == dt.datetime(2025, 6, 19, 21, 4, 41).astimezone()


def test_address_helper_matches_zone_table():
    assert ZONES[str(Address(PANEL, "zone", 0))] == "front_door"


def test_an_out_of_range_time_costs_only_its_message(hpp):
    body = hpp.json("A.3.8_YsCallingEvent.json")
    body.update(timestamp="", callingTime=10**20)
    event = mapper().event(message(body, serial="K20924932"))
    assert event.type == "unparsed" and event.data["serial"] == "K20924932"
