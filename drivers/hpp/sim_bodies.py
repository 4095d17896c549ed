"""Alarm bodies the simulated cloud relays, in the form devices send them.

Cameras and recorders send ISAPI ``EventNotificationAlert`` XML; the cloud's own device
notifications and AX PRO panels send JSON. Kept apart from the simulator's state so a test can
build the exact body a message will carry.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from xml.sax.saxutils import escape

from gemhost_drivers.hpp.events import EVENT_TYPES

from gemhost.jpeg import grey_jpeg

ISAPI_NS = "http://www.hikvision.com/ver20/XMLSchema"
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
JPEG = grey_jpeg(1, 1)
"""A 1x1 grey baseline JPEG: small but real (the core's, shared by every simulator)."""


def stamp(when: dt.datetime | None = None) -> str:
    return (when or dt.datetime.now().astimezone()).isoformat(timespec="seconds")


def isapi_alert(
    event_type: str,
    *,
    channel: int | None,
    state: str = "active",
    when: dt.datetime | None = None,
    ip: str = "10.0.0.64",
    extra: dict[str, Any] | None = None,
) -> str:
    """An EventNotificationAlert exactly as ISAPI devices format it."""
    fields: list[tuple[str, Any]] = [
        ("ipAddress", ip),
        ("portNo", 80),
        ("protocol", "HTTP"),
        ("macAddress", "a4:14:37:00:00:01"),
    ]
    if channel is not None:
        fields.append(("channelID", channel))
    fields += [
        ("dateTime", stamp(when)),
        ("activePostCount", 1),
        ("eventType", event_type),
        ("eventState", state),
        ("eventDescription", DESCRIPTIONS.get(event_type, event_type)),
    ]
    for key, value in (extra or {}).items():
        fields.append((key, value))
    inner = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in fields)
    if event_type in ("fielddetection", "linedetection", "regionEntrance", "regionExiting"):
        inner += (
            "<DetectionRegionList><DetectionRegionEntry><regionID>1</regionID>"
            "<sensitivityLevel>50</sensitivityLevel></DetectionRegionEntry></DetectionRegionList>"
        )
    head = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<EventNotificationAlert version="2.0" xmlns="{ISAPI_NS}">'
    )
    return f"{head}{inner}</EventNotificationAlert>"


def device_notice(event_type: str, serial: str, name: str, when: dt.datetime | None = None) -> str:
    return json.dumps(
        {"eventType": event_type, "dateTime": stamp(when), "deviceSerial": serial, "deviceName": name}
    )


def cid_body(
    code: int,
    *,
    zone: int | None,
    subsystem: int,
    name: str,
    user: int | None = None,
    when: dt.datetime | None = None,
) -> str:
    """An AX PRO CIDEvent as relayed by the cloud (4-digit code: qualifier + event code)."""
    cid: dict[str, Any] = {
        "code": code,
        "standardCIDcode": code,
        "type": _cid_type(code),
        "trigger": stamp(when),
        "upload": stamp(when),
        "subSystemNo": subsystem,
        "name": name,
    }
    if zone is not None:
        cid["zone"] = zone
    if user is not None:
        cid["userNo"] = user
    return json.dumps(
        {"ipAddress": "10.0.0.70", "eventType": "cidEvent", "dateTime": stamp(when), "CIDEvent": cid}
    )


def _cid_type(code: int) -> str:
    event = code % 1000
    if 100 <= event < 200:
        return "zoneAlarm"
    if 400 <= event < 500:
        return "armAndDisarm"
    if 570 <= event < 580:
        return "bypass"
    return "systemStatus"


def linkage_body(related: str, pictures: list[dict[str, Any]], when: dt.datetime | None = None) -> str:
    return json.dumps(
        {
            "eventType": "Linkage",
            "dateTime": stamp(when),
            "Linkage": {"relatedEventId": related, "PictureList": pictures},
        }
    )


def format_of(event_type: str) -> str:
    return EVENT_TYPES.get(event_type, "XML")
