"""HPP queue messages -> gemhost :class:`Event` objects, per guide 3.34, 2.10 and A.3.

A queue item (3.34; 2.10's example adds ``messageId``) is ``{"messageId", "accountNumber",
"deviceSerial", "formatType": "XML"|"JSON", "alarmData"}``; ``alarmData`` is the device's body,
a string (3.34) or, in 3.34's example, already an object. Each body names its type in
``eventType`` and its time in ``triggerTime`` (device local time, no offset) or ``dateTime``
(with ``Z`` or an offset); A.3 defines the bodies of every type. What a body means for the
event-lifetime contract (active / inactive / pulse / update) is decided here:

* camera events (VMD, fielddetection, linedetection, ...) are instantaneous: ``pulse``;
* CID reports go through :mod:`cid` (alarms and troubles ``active`` until their restore,
  arming / bypass as ``pulse`` state reports);
* a Linkage (A.3.6, verification pictures) is an ``update`` of the CID event whose
  ``relationId`` it carries;
* diskerror opens a ``disk_error`` condition that diskrecover ends.

A message that cannot be parsed (not JSON/XML, nested too deep, a field of the wrong type)
becomes one ``unparsed`` event carrying the raw text, so it is published and committed like any
other and never blocks the queue.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gemhost_drivers.hikvision_isapi import events as isapi_events
from gemhost_drivers.hikvision_isapi import kernel
from gemhost_drivers.hpp import assumptions, cid
from gemhost_drivers.hpp.address import CHANNEL, SUBSYSTEM, ZONE, Address
from gemhost_drivers.hpp.parsing import as_list, load_json, load_xml

from gemhost.eventtypes import normalize
from gemhost.model import Event, now

RAW_LIMIT = 2000

# A.3 Event Details: the types of the table, with the body format the guide defines for each.
EVENT_FORMATS: dict[str, str] = {
    "cidEvent": "JSON",  # A.3.1
    "devicedeleted": "JSON",  # A.3.2
    "deviceadded": "JSON",  # A.3.3
    "deviceoffline": "JSON",  # A.3.4
    "deviceonline": "JSON",  # A.3.5
    "Linkage": "JSON",  # A.3.6
    "ACSEvent": "JSON",  # A.3.7 (its body says eventType "AccessControllerEvent")
    "YsCallingEvent": "JSON",  # A.3.8
    "manualRep": "JSON",  # A.3.9
    "diskerror": "XML",  # A.3.10
    "diskfull": "XML",  # A.3.11
    "diskrecover": "XML",  # A.3.12
    "fielddetection": "XML",  # A.3.13
    "IO": "XML",  # A.3.14
    "linedetection": "XML",  # A.3.15
    "recordException": "XML",  # A.3.16
    "regionExiting": "XML",  # A.3.17
    "regionEntrance": "XML",  # A.3.18
    "shelteralarm": "XML",  # A.3.19
    "videoloss": "XML",  # A.3.20
    "VMD": "XML",  # A.3.21
}
CAMERA_TYPES = frozenset(
    {"vmd", "io", "shelteralarm", "fielddetection", "linedetection", "recordexception", "regionexiting",
     "regionentrance", "videoloss"}
)
DEVICE_NOTICES = {
    "deviceonline": "device_online",
    "deviceoffline": "device_offline",
    "devicedeleted": "device_deleted",
    "deviceadded": "device_added",
}
ACCESS_TYPES = frozenset({"acsevent", "accesscontrollerevent"})
CALL_TYPES = frozenset({"yscallingevent", "voicetalkevent"})
UNPARSED = "unparsed"

Resolver = Callable[[Address], "str | None"]
TimeZoneOf = Callable[[str], "dt.tzinfo | None"]


@dataclass
class Related:
    """What a Linkage needs to know of the CID event it belongs to."""

    event_id: str
    type: str
    zone: str | None


@dataclass
class Relations:
    """relationId -> the CID event it names (assumption 13: bounded, in memory)."""

    limit: int = assumptions.RELATIONS_KEPT
    _items: OrderedDict[str, Related] = field(default_factory=OrderedDict)

    def remember(self, relation_id: str, related: Related) -> None:
        self._items[relation_id] = related
        self._items.move_to_end(relation_id)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def get(self, relation_id: str) -> Related | None:
        return self._items.get(relation_id)


@dataclass
class Mapper:
    """Turns queue messages into events; holds what mapping needs from the driver."""

    resolve: Resolver
    time_zone_of: TimeZoneOf = lambda serial: None
    relations: Relations = field(default_factory=Relations)

    def event(self, message: Any) -> Event:
        """One queue message as one Event; never raises for a bad message (it is ``unparsed``)."""
        msg_id = assumptions.message_id(message) if isinstance(message, dict) else None
        if not isinstance(message, dict):
            return self._unparsed(msg_id, "", "", message, "the queue item is not an object")
        serial = _text(message.get("deviceSerial")).upper()
        body_in = message.get("alarmData")
        try:
            fmt, body = parse_body(message.get("formatType"), body_in)
            serial = _text(body.get("deviceSerial") or body.get("devSerial")).upper() or serial
            return self._typed(msg_id, serial, fmt, body)
        except Exception as exc:  # noqa: BLE001 - whatever is wrong with a message costs only that message
            vendor = _text(message.get("eventType"))
            return self._unparsed(msg_id, serial, vendor, body_in, str(exc) or type(exc).__name__)

    # ------------------------------------------------------------ dispatch

    def _typed(self, msg_id: str | None, serial: str, fmt: str, body: dict[str, Any]) -> Event:
        vendor = event_type_of(body)
        key = vendor.lower()
        when = self._time(serial, body)
        if key == "cidevent":
            return self._cid(msg_id, serial, when, body, vendor)
        if key == "linkage":
            return self._linkage(msg_id, serial, when, body, vendor)
        if key in CAMERA_TYPES:
            return self._camera(msg_id, serial, when, body, vendor)
        if key in ("diskerror", "diskfull", "diskrecover"):
            return self._disk(msg_id, serial, when, body, vendor)
        if key in DEVICE_NOTICES:
            return self._notice(msg_id, serial, when, body, vendor)
        if key in ACCESS_TYPES:
            return self._access(msg_id, serial, when, body, vendor)
        if key in CALL_TYPES:
            return self._call(msg_id, serial, when, body, vendor)
        if key == "manualrep":
            return self._manual(msg_id, serial, when, body, vendor)
        data = {"serial": serial, "format": fmt, "description": _text(body.get("eventDescription")) or None}
        return Event(type=normalize(vendor or "unknown"), vendor_type=vendor or "unknown", state="pulse",
                     time=when, zone=self._zone(Address(serial)) if serial else None, data=_clean(data), id=msg_id)

    def _unparsed(self, msg_id: str | None, serial: str, vendor: str, raw: Any, error: str) -> Event:
        text = raw if isinstance(raw, str) else repr(raw)
        return Event(
            type=UNPARSED,
            vendor_type=vendor or "unknown",
            state="pulse",
            zone=self._zone(Address(serial)) if _valid_serial(serial) else None,
            data={"serial": serial, "error": error[:300], "raw": text[:RAW_LIMIT], "raw_length": len(text)},
            id=msg_id,
        )

    def _zone(self, *candidates: Address) -> str | None:
        for address in candidates:
            zone = self.resolve(address)
            if zone:
                return zone
        return None

    def _time(self, serial: str, body: dict[str, Any]) -> dt.datetime:
        """A.3's times: an explicit offset wins, a local time is read in the device's A.2 zone."""
        zone = self.time_zone_of(serial) if serial else None
        stamped = parse_time(body.get("dateTime"), zone)
        if stamped is not None and stamped[1]:
            return stamped[0]
        for name in ("triggerTime", "timestamp"):
            local = parse_time(body.get(name), zone)
            if local is not None:
                return local[0]
        if stamped is not None:
            return stamped[0]
        millis = _int(body.get("callingTime"))
        if millis:
            return dt.datetime.fromtimestamp(millis / 1000, dt.UTC).astimezone()
        return now()

    # ------------------------------------------------------------ A.3.1 CID events

    def _cid(self, msg_id: str | None, serial: str, when: dt.datetime, body: dict[str, Any], vendor: str) -> Event:
        info = body.get("CIDEvent")
        if not isinstance(info, dict):
            raise ValueError("cidEvent without a CIDEvent object")
        code_value = info.get("standardCode") or info.get("code")
        meaning = cid.classify(code_value, info.get("evttype"))
        zone_no = _int(info.get("zone"))
        system = _int(info.get("system"))
        candidates = []
        if meaning.zone_related and zone_no is not None:
            candidates.append(Address(serial, ZONE, zone_no))
        if system is not None:
            candidates.append(Address(serial, SUBSYSTEM, system))
        candidates.append(Address(serial))
        zone = self._zone(*candidates)
        relation = _text(body.get("relationId"))
        data = {
            "serial": serial,
            "cid_code": meaning.code,
            "cid_qualifier": cid.QUALIFIERS.get(meaning.qualifier or 0),
            "cid_description": cid.DESCRIPTIONS.get(meaning.code or 0),
            "description": _text(info.get("description")) or None,
            "evttype": _text(info.get("evttype")) or None,
            "zone_number": zone_no if meaning.zone_related else None,
            "zone_v30": _int(info.get("zoneV30")) if meaning.zone_related else None,
            "zone_name": _text(info.get("zoneName")) or None,
            "subsystem": system,
            "subsystem_name": _text(info.get("systemName")) or None,
            "partitions": cid.partitions(info.get("partitionNo")) or None,
            "user_no": _int(info.get("userNo")),
            "user_name": _text(info.get("userName")) or None,
            "arming": meaning.arming,
            "bypassed": meaning.bypassed,
            "relation_id": relation or None,
            "is_video": _int(body.get("isVideo")),
            "ipc_channel": _int(info.get("ipcChannel")) or None,
            "channel_serial": _text(info.get("channelSerial")) or None,
            "temperature": _int(info.get("temp")),
            "device_name": _text(info.get("deviceName")) or None,
        }
        # One condition per detector: the restore of zone 3 must not end zone 4's alarm when both
        # fall back to the same partition zone.
        key = str(zone_no) if meaning.type in cid.STATEFUL and zone_no is not None else None
        event = Event(type=meaning.type, vendor_type=vendor, state=meaning.state, time=when, zone=zone,
                      data=_clean(data), id=msg_id, key=key)
        if relation and msg_id:
            self.relations.remember(relation, Related(msg_id, meaning.type, zone))
        return event

    # ------------------------------------------------------------ A.3.6 Linkage

    def _linkage(
        self, msg_id: str | None, serial: str, when: dt.datetime, body: dict[str, Any], vendor: str
    ) -> Event:
        pictures = [_picture(p) for p in as_list(body.get("pictureList")) if isinstance(p, dict)]
        relation = _text(body.get("relationId"))
        data = _clean({
            "serial": serial,
            "relation_id": relation or None,
            "media": _int(body.get("media")),
            "description": _text(body.get("eventDescription")) or None,
            "pictures": pictures,
        })
        related = self.relations.get(relation) if relation else None
        if related is None:
            return Event(type="linkage", vendor_type=vendor, state="pulse", time=when,
                         zone=self._zone(Address(serial)), data=data, id=msg_id)
        return Event(type=related.type, vendor_type=vendor, state="update", time=when, zone=related.zone,
                     data=data, id=msg_id, refers_to=related.event_id)

    # ------------------------------------------------------------ A.3.10-A.3.21 camera and disk

    def _camera(self, msg_id: str | None, serial: str, when: dt.datetime, body: dict[str, Any], vendor: str) -> Event:
        """A.3.13-A.3.21 bodies are the device's ISAPI EventNotificationAlert: its channel, post
        count, state and detection regions are read by the ISAPI alert reader; the time (in the
        device's A.2 zone) and the instantaneous ``pulse`` are HPP's."""
        alert = isapi_events.alert_from_fields({**body, "eventType": vendor})
        channel = (alert.channel_id or alert.dyn_channel_id) if alert else None
        candidates = [Address(serial, CHANNEL, channel)] if channel else []
        candidates.append(Address(serial))
        entries = kernel.detection_regions(body)
        data = {
            "serial": serial,
            "description": _text(body.get("eventDescription")) or None,
            "channel_name": _text(body.get("channelName")) or None,
            "input": _int(body.get("inputIOPortID")),
            "count": alert.post_count if alert else None,
            "regions": [r for e in entries if (r := _int(e.get("regionID"))) is not None] or None,
            "targets": [t for e in entries if (t := _text(e.get("detectionTarget")))] or None,
        }
        ended = alert is not None and alert.state == "inactive"
        return Event(
            type=normalize(vendor),
            vendor_type=vendor,
            state="inactive" if ended else "pulse",
            time=when,
            zone=self._zone(*candidates),
            channel=channel,
            data=_clean(data),
            id=msg_id,
        )

    def _disk(self, msg_id: str | None, serial: str, when: dt.datetime, body: dict[str, Any], vendor: str) -> Event:
        disk = _int(body.get("diskNo"))
        hdds = [
            {"id": _int(h.get("id")), "disks": _int(h.get("diskNumber"))}
            for h in as_list(_get(body, "HDDList", "HDD"))
            if isinstance(h, dict)
        ]
        key = vendor.lower()
        kind, state = {
            "diskerror": ("disk_error", "active"),
            "diskrecover": ("disk_error", "inactive"),
            "diskfull": ("disk_full", "pulse"),
        }[key]
        return Event(
            type=kind,
            vendor_type=vendor,
            state=state,
            time=when,
            data=_clean({"serial": serial, "description": _text(body.get("eventDescription")) or None,
                         "disk": disk, "hdds": hdds or None}),
            id=msg_id,
            key=str(disk) if kind == "disk_error" and disk is not None else None,
        )

    # ------------------------------------------------------------ A.3.2-A.3.5, A.3.7-A.3.9

    def _notice(self, msg_id: str | None, serial: str, when: dt.datetime, body: dict[str, Any], vendor: str) -> Event:
        data = {
            "serial": serial,
            "description": _text(body.get("eventDescription")) or None,
            "device_name": _text(body.get("deviceName")) or None,
            "device_type": _text(body.get("deviceType")) or None,
            "company": _text(body.get("companyName")) or None,
            "handed_over_to": _text(body.get("hcAccount")) or None,
        }
        return Event(type=DEVICE_NOTICES[vendor.lower()], vendor_type=vendor, state="pulse", time=when,
                     data=_clean(data), id=msg_id)

    def _access(self, msg_id: str | None, serial: str, when: dt.datetime, body: dict[str, Any], vendor: str) -> Event:
        info = body.get("AccessControllerEvent")
        info = info if isinstance(info, dict) else {}
        channel = _int(body.get("channelID"))
        candidates = [Address(serial, CHANNEL, channel)] if channel else []
        candidates.append(Address(serial))
        data = {
            "serial": serial,
            "description": _text(body.get("eventDescription")) or None,
            "major": _int(info.get("majorEventType")),
            "minor": _int(info.get("subEventType")),
            "door": _int(info.get("doorNo")),
            "card_no": _text(info.get("cardNo")) or None,
            "name": _text(info.get("name")) or None,
            "employee_no": _text(info.get("employeeNoString")) or None,
            "verify_mode": _text(info.get("currentVerifyMode")) or None,
            "picture_url": _text(info.get("pictureURL")) or None,
        }
        ended = _text(body.get("eventState")).lower() == "inactive"
        return Event(type="access", vendor_type=vendor, state="inactive" if ended else "pulse", time=when,
                     zone=self._zone(*candidates), channel=channel, data=_clean(data), id=msg_id)

    def _call(self, msg_id: str | None, serial: str, when: dt.datetime, body: dict[str, Any], vendor: str) -> Event:
        channel = _int(body.get("channel"))
        cover = body.get("coverUrl") if isinstance(body.get("coverUrl"), dict) else {}
        candidates = [Address(serial, CHANNEL, channel)] if channel else []
        candidates.append(Address(serial))
        data = {"serial": serial, "calling_id": _text(body.get("callingId")) or None,
                "pictures": [_picture(cover)] if cover else None}
        return Event(type="doorbell", vendor_type=vendor, state="pulse", time=when, zone=self._zone(*candidates),
                     channel=channel, data=_clean(data), id=msg_id)

    def _manual(self, msg_id: str | None, serial: str, when: dt.datetime, body: dict[str, Any], vendor: str) -> Event:
        custom = _pairs(body.get("customInfo"))
        zone_no = _int(custom.get("zoneNo"))
        candidates = [Address(serial, ZONE, zone_no)] if zone_no is not None else []
        candidates.append(Address(serial))
        data = {
            "serial": serial,
            "description": _text(body.get("eventDescription")) or None,
            "zone_number": zone_no,
            "zone_name": custom.get("zoneName"),
            "user": custom.get("user"),
            "pictures": [_picture(p) for p in as_list(body.get("pictureList")) if isinstance(p, dict)] or None,
        }
        return Event(type="capture", vendor_type=vendor, state="pulse", time=when, zone=self._zone(*candidates),
                     data=_clean(data), id=msg_id)


# ------------------------------------------------------------ helpers


def parse_body(format_type: Any, body: Any) -> tuple[str, dict[str, Any]]:
    """(format, body as a dict) of an ``alarmData`` (3.34: a string; its example: an object)."""
    if isinstance(body, dict):
        return "JSON", body
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if not isinstance(body, str) or not body.strip():
        raise ValueError("alarmData is empty or not a string")
    text = body.lstrip()
    fmt = "XML" if text.startswith("<") else "JSON" if text.startswith("{") else _text(format_type).upper()
    if fmt == "XML":
        tag, content = load_xml(text)
        if tag != "EventNotificationAlert":
            raise ValueError(f"XML alarmData is a {tag}, not an EventNotificationAlert")
        return "XML", content
    doc = load_json(text)
    if not isinstance(doc, dict):
        raise ValueError("JSON alarmData is not an object")
    return "JSON", doc


def event_type_of(body: dict[str, Any]) -> str:
    """A body's ``eventType``; the guide's own examples leave it empty, so infer it from the body."""
    given = _text(body.get("eventType"))
    if given:
        return given
    if isinstance(body.get("CIDEvent"), dict):
        return "cidEvent"
    if "pictureList" in body and "relationId" in body:
        return "Linkage"
    if isinstance(body.get("AccessControllerEvent"), dict):
        return "AccessControllerEvent"
    if "callingId" in body:
        return "YsCallingEvent"
    description = _text(body.get("eventDescription")).lower()
    known = {name.lower(): name for name in EVENT_FORMATS}
    return known.get(description, "")


def parse_time(value: Any, zone: dt.tzinfo | None) -> tuple[dt.datetime, bool] | None:
    """(time, had an explicit offset) of an ISO 8601 string (the ISAPI kernel's reader, as
    alarm bodies are the devices' ISAPI); a local one is read in ``zone``."""
    parsed = kernel.read_time(_text(value))
    if parsed is None:
        return None
    if parsed.tzinfo is not None:
        return parsed, True
    return (parsed.replace(tzinfo=zone) if zone else parsed.astimezone()), False


def _picture(item: dict[str, Any]) -> dict[str, Any]:
    """A picture of A.3.6/A.3.8/A.3.9: id, url, and whether 2.5 says it is encrypted."""
    url = _text(item.get("url")).replace("&amp;", "&")
    out: dict[str, Any] = {"id": _text(item.get("id")) or None, "url": url or None}
    query = parse_qs(urlsplit(url).query) if url.startswith("http") else {}
    flag = (query.get("isEncrypted") or [None])[0]
    if url.startswith("ISAPI_FILES"):
        flag = url.split("$encrypt=")[1][:1] if "$encrypt=" in url else None
    if flag is not None:
        out["encrypted"] = flag != "0"  # 2.5: 0 plain, 1 by device, 2 by platform
    return {k: v for k, v in out.items() if v is not None}


def _pairs(value: Any) -> dict[str, str]:
    """A.3.9 ``customInfo``: ``key=value|key=value``."""
    out = {}
    for part in _text(value).split("|"):
        name, sep, val = part.partition("=")
        if sep:
            out[name.strip()] = val.strip()
    return out


def _get(body: dict[str, Any], *path: str) -> Any:
    value: Any = body
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    return value


def _text(value: Any) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value).strip()


def _int(value: Any) -> int | None:
    text = _text(value)
    try:
        return int(text) if text else None
    except ValueError:
        try:
            return int(float(text))
        except ValueError:
            return None


def _valid_serial(serial: str) -> bool:
    return len(serial) == 9 and serial.isalnum()


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}
