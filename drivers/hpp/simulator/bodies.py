"""Alarm bodies the simulated cloud relays, in the shapes of guide appendix A.3.

Camera and recorder events are ISAPI ``EventNotificationAlert`` XML with ``deviceSerial``,
``channelID``, ``triggerTime`` (device local time, "yyyy-MM-ddTHH:mm:ss", no offset) and the
type's own fields (A.3.13-A.3.21); disk events carry ``dateTime`` with an offset (A.3.10-A.3.12);
the cloud's device notices (A.3.2-A.3.5), CID events (A.3.1) and Linkage pictures (A.3.6) are
JSON. Kept apart from the simulator's state so a test can build the exact body a message carries.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from xml.sax.saxutils import escape

from gemhost.jpeg import grey_jpeg

ISAPI_NS = "http://www.isapi.org/ver20/XMLSchema"  # the namespace of guide A.3's XML messages
DESCRIPTIONS = {
    "VMD": "Motion alarm",
    "IO": "IO alarm",
    "shelteralarm": "Shelter Alarm",
    "fielddetection": "fielddetection alarm",
    "linedetection": "linedetection alarm",
    "diskfull": "HD full",
    "diskerror": "HD error",
    "diskrecover": "HD recovered",
    "videoloss": "videoloss alarm",
    "regionEntrance": "regionEntrance alarm",
    "regionExiting": "regionExiting alarm",
    "recordException": "record exception",
}
REGION_TYPES = ("fielddetection", "linedetection", "regionEntrance", "regionExiting")
DISK_TYPES = ("diskfull", "diskerror", "diskrecover")
JPEG = grey_jpeg(1, 1)
"""A 1x1 grey baseline JPEG: small but real (the core's, shared by every simulator)."""


def local_time(zone: dt.tzinfo | None, when: dt.datetime | None = None) -> str:
    """A device-local "yyyy-MM-ddThh:mm:ss" (A.3 ``triggerTime``): wall clock, no offset."""
    moment = (when or dt.datetime.now(dt.UTC)).astimezone(zone or dt.UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


def utc_time(when: dt.datetime | None = None) -> str:
    """A.3.2 ``dateTime``: "yyyy-MM-ddThh:mm:ssZ"."""
    return (when or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _xml(fields: list[tuple[str, Any]], extra: str = "") -> str:
    inner = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in fields if v is not None)
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<EventNotificationAlert version="2.0" xmlns="{ISAPI_NS}">'
        f"{inner}{extra}</EventNotificationAlert>"
    )


def camera_alert(
    event_type: str,
    serial: str,
    *,
    channel: int | None,
    channel_name: str | None = None,
    zone: dt.tzinfo | None = None,
    state: str | None = None,
) -> str:
    """A.3.13-A.3.21: a camera event as the cloud relays it."""
    fields: list[tuple[str, Any]] = [("deviceSerial", serial), ("channelID", channel)]
    if event_type in ("regionEntrance", "regionExiting"):  # A.3.17/A.3.18 add dateTime with an offset
        now = dt.datetime.now(dt.UTC).astimezone(zone or dt.UTC)
        fields.append(("dateTime", now.isoformat(timespec="seconds")))
    fields += [("triggerTime", local_time(zone))]
    if event_type in ("regionEntrance", "regionExiting"):
        fields.append(("activePostCount", 1))
    fields.append(("eventType", event_type))
    if state and event_type in ("regionEntrance", "regionExiting"):
        fields.append(("eventState", state))
    fields.append(("eventDescription", DESCRIPTIONS.get(event_type, event_type)))
    if event_type == "IO":
        fields.append(("inputIOPortID", 1))
    extra = ""
    if event_type in REGION_TYPES:
        target = "<detectionTarget>human</detectionTarget>" if event_type in ("fielddetection", "linedetection") else ""
        extra = (
            "<DetectionRegionList><DetectionRegionEntry><regionID>1</regionID>"
            "<sensitivityLevel>50</sensitivityLevel><RegionCoordinatesList><RegionCoordinates><positionX>100"
            "</positionX><positionY>200</positionY></RegionCoordinates></RegionCoordinatesList>"
            f"{target}</DetectionRegionEntry></DetectionRegionList>"
        )
    if channel_name:
        extra += f"<channelName>{escape(channel_name)}</channelName>"
    return _xml(fields, extra)


def disk_alert(event_type: str, serial: str, disk: int = 1) -> str:
    """A.3.10-A.3.12: diskerror / diskfull / diskrecover with ``dateTime`` in UTC."""
    fields: list[tuple[str, Any]] = [
        ("deviceSerial", serial),
        ("dateTime", utc_time()),
        ("eventType", event_type),
        ("eventDescription", DESCRIPTIONS[event_type]),
        ("diskNo", disk),
    ]
    return _xml(fields, f"<HDDList><HDD><id>{disk}</id><diskNumber>1</diskNumber></HDD></HDDList>")


def device_notice(event_type: str, serial: str, **extra: Any) -> str:
    """A.3.2-A.3.5: devicedeleted / deviceadded / deviceoffline / deviceonline."""
    body = {"deviceSerial": serial, "dateTime": utc_time(), "eventType": event_type,
            "eventDescription": event_type, **extra}
    return json.dumps(body)


def cid_body(
    serial: str,
    code: int,
    *,
    description: str,
    evttype: str,
    zone_tz: dt.tzinfo | None,
    system: int | None = None,
    system_name: str | None = None,
    zone: int | None = None,
    zone_name: str | None = None,
    user_no: int | None = None,
    user_name: str | None = None,
    relation_id: str | None = None,
) -> str:
    """A.3.1 JSON_EventNotificationAlert_cidEvent (zone from 0, zoneV30 = zone + 1)."""
    info: dict[str, Any] = {"code": code, "description": description, "evttype": evttype}
    if system is not None:
        info.update(system=system, systemName=system_name or f"Area {system}")
    if zone is not None:
        info.update(zone=zone, zoneV30=zone + 1, zoneName=zone_name or f"Zone {zone + 1}")
    if user_no is not None:
        info.update(userNo=user_no, userName=user_name or "installer")
    body: dict[str, Any] = {
        "deviceSerial": serial,
        "triggerTime": local_time(zone_tz),
        "eventType": "cidEvent",
        "eventDescription": "CID event",
        "CIDEvent": info,
    }
    if relation_id:
        body["relationId"] = relation_id
        body["isVideo"] = 0
    return json.dumps(body)


def linkage_body(serial: str, relation_id: str, pictures: list[dict[str, str]], zone_tz: dt.tzinfo | None) -> str:
    """A.3.6 JSON_EventNotificationAlert_Linkage."""
    return json.dumps({
        "deviceSerial": serial,
        "triggerTime": local_time(zone_tz),
        "eventType": "Linkage",
        "eventDescription": "Linkage alarm",
        "pictureList": pictures,
        "media": 1,
        "relationId": relation_id,
    })
