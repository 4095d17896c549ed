"""HPP queue messages -> normalized :class:`Event` objects.

A message of the HPP queue wraps one device alarm: ``msgType`` (the guide's event type),
``formatType`` (``XML`` or ``JSON``) and ``alarmData``, the device's own body as a string. The
XML bodies are ISAPI ``EventNotificationAlert`` documents (parsed with defusedxml, the cloud
relays what devices send and we do not trust it); JSON bodies carry the same keys, or a
``CIDEvent`` / ``Linkage`` object for AX PRO panels. Both become a flat dict first, so every
type has one code path whatever its format.

Linkage messages (the verification pictures a panel takes when a CID alarm fires) are attached
to the CID alarm they name when it is in the same batch, so a consumer gets the alarm and its
pictures as one event; a Linkage whose alarm came earlier is published on its own.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from defusedxml import ElementTree
from gemhost_drivers.hpp.address import CHANNEL, SUBSYSTEM, ZONE, Address

from gemhost.eventtypes import normalize
from gemhost.model import Event, now

ZoneResolver = Callable[[Address], "str | None"]

# The 17 event types of HikCentral Professional 2.4's HPP event table, with the body format
# each arrives in (the parser accepts either format for any type).
EVENT_TYPES: dict[str, str] = {
    "cidEvent": "JSON",
    "VMD": "XML",
    "IO": "XML",
    "shelteralarm": "XML",
    "fielddetection": "XML",
    "linedetection": "XML",
    "diskfull": "XML",
    "diskerror": "XML",
    "diskrecover": "XML",
    "deviceonline": "JSON",
    "deviceoffline": "JSON",
    "devicedeleted": "JSON",
    "Linkage": "JSON",
    "videoloss": "XML",
    "regionEntrance": "XML",
    "regionExiting": "XML",
    "recordException": "XML",
}

DEVICE_LEVEL = {
    "diskfull",
    "diskerror",
    "diskrecover",
    "deviceonline",
    "deviceoffline",
    "devicedeleted",
    "recordexception",
}

# SIA/Contact ID event codes an AX PRO reports most often (description only; unknown pass).
CID_DESCRIPTIONS: dict[int, str] = {
    100: "medical",
    110: "fire",
    111: "smoke",
    113: "water leakage",
    114: "heat",
    120: "panic",
    121: "duress",
    122: "silent panic",
    123: "audible panic",
    130: "burglary",
    131: "perimeter",
    132: "interior",
    133: "24-hour",
    134: "entry/exit",
    137: "panel tamper",
    144: "sensor tamper",
    150: "24-hour non-burglary",
    301: "AC power loss",
    302: "low system battery",
    384: "detector low battery",
    401: "disarm/arm by user",
    407: "remote disarm/arm",
    441: "stay arm",
    456: "partial arm",
    570: "zone bypass",
    602: "periodic test",
}
CID_QUALIFIERS = {1: "event", 3: "restore", 6: "status"}


def parse_body(fmt: str, body: Any) -> dict[str, Any]:
    """The alarm body as a dict of local tag names (XML) or keys (JSON)."""
    if isinstance(body, dict):
        return body
    text = body.decode() if isinstance(body, bytes) else str(body or "")
    if fmt.upper() == "JSON" or text.lstrip().startswith("{"):
        doc = json.loads(text)
        if not isinstance(doc, dict):
            raise ValueError("JSON body is not an object")
        return doc
    return _element(ElementTree.fromstring(text.encode()))


def _element(elem: Any) -> Any:
    children = list(elem)
    if not children:
        return (elem.text or "").strip()
    out: dict[str, Any] = {}
    for child in children:
        tag = child.tag.split("}")[-1]
        value = _element(child)
        if tag in out:
            if not isinstance(out[tag], list):
                out[tag] = [out[tag]]
            out[tag].append(value)
        else:
            out[tag] = value
    return out


def parse_time(value: Any) -> dt.datetime:
    """Vendor times are ISO 8601, with or without an offset; naive ones are taken as local."""
    if not value:
        return now()
    try:
        parsed = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return now()
    return parsed if parsed.tzinfo else parsed.astimezone()


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def parse_cid(code: Any) -> tuple[int | None, int | None]:
    """(qualifier, event code) from ``1130``, ``"1130"``, ``"E130"`` or ``"R130"``."""
    text = str(code or "").strip().upper()
    if text[:1] in ("E", "R") and text[1:].isdigit():
        return (1 if text[0] == "E" else 3), int(text[1:])
    if text.isdigit() and len(text) == 4:
        return int(text[0]), int(text[1:])
    if text.isdigit():
        return None, int(text)
    return None, None


def _resolve(resolve: ZoneResolver, *candidates: Address) -> str | None:
    for address in candidates:
        zone = resolve(address)
        if zone:
            return zone
    return None


def to_event(message: dict[str, Any], resolve: ZoneResolver) -> Event:
    """One queue message as an Event; a body that cannot be parsed is kept raw, never dropped."""
    vendor = str(message.get("msgType") or "")
    serial = str(message.get("deviceSerial") or "").upper()
    msg_id = str(message["msgId"]) if message.get("msgId") else None
    fmt = str(message.get("formatType") or EVENT_TYPES.get(vendor, "JSON"))
    try:
        body = parse_body(fmt, message.get("alarmData"))
    except (ValueError, ElementTree.ParseError) as exc:
        return Event(
            type=normalize(vendor or "unknown"),
            vendor_type=vendor or "unknown",
            time=parse_time(message.get("alarmTime")),
            id=msg_id,
            zone=_resolve(resolve, Address(serial)) if serial else None,
            data={
                "serial": serial,
                "parse_error": str(exc)[:200],
                "raw": str(message.get("alarmData"))[:2000],
            },
        )
    vendor = vendor or str(body.get("eventType") or "unknown")
    when = parse_time(body.get("dateTime") or message.get("alarmTime"))
    key = vendor.lower()
    if key == "cidevent":
        return _cid(vendor, serial, msg_id, when, body, resolve)
    if key == "linkage":
        return _linkage(vendor, serial, msg_id, when, body, resolve)
    return _generic(vendor, serial, msg_id, when, body, message, resolve)


def _generic(
    vendor: str,
    serial: str,
    msg_id: str | None,
    when: dt.datetime,
    body: dict[str, Any],
    message: dict[str, Any],
    resolve: ZoneResolver,
) -> Event:
    key = vendor.lower()
    channel = (
        None
        if key in DEVICE_LEVEL
        else _int(body.get("channelID") or body.get("dynChannelID") or message.get("channelNo"))
    )
    candidates = [Address(serial, CHANNEL, channel)] if channel else []
    candidates.append(Address(serial))
    state = str(body.get("eventState") or "active").lower()
    data: dict[str, Any] = {"serial": serial}
    for src, dst in (
        ("eventDescription", "description"),
        ("channelName", "channel_name"),
        ("inputIOPortID", "input"),
        ("activePostCount", "count"),
        ("deviceName", "device_name"),
        ("hdNo", "disk"),
    ):
        if body.get(src) not in (None, ""):
            data[dst] = body[src]
    regions = (
        (body.get("DetectionRegionList") or {}) if isinstance(body.get("DetectionRegionList"), dict) else {}
    )
    entries = regions.get("DetectionRegionEntry")
    if entries:
        entries = entries if isinstance(entries, list) else [entries]
        data["regions"] = [_int(e.get("regionID")) for e in entries if isinstance(e, dict)]
    return Event(
        type=normalize(vendor),
        vendor_type=vendor,
        state="inactive" if state == "inactive" else "active",
        time=when,
        zone=_resolve(resolve, *candidates),
        channel=channel,
        data=data,
        id=msg_id,
    )


def _cid(
    vendor: str,
    serial: str,
    msg_id: str | None,
    when: dt.datetime,
    body: dict[str, Any],
    resolve: ZoneResolver,
) -> Event:
    cid = body.get("CIDEvent") or body.get("CIDEventInfo") or body
    qualifier, code = parse_cid(cid.get("standardCIDcode") or cid.get("code"))
    zone_no = _int(cid.get("zone"))
    sub_no = _int(cid.get("subSystemNo") or cid.get("subSystem"))
    zone_related = code is not None and (100 <= code < 400 or 570 <= code < 580)
    candidates = []
    if zone_related and zone_no is not None:
        candidates.append(Address(serial, ZONE, zone_no))
    if sub_no is not None:
        candidates.append(Address(serial, SUBSYSTEM, sub_no))
    candidates.append(Address(serial))
    data: dict[str, Any] = {
        "serial": serial,
        "cid_code": code,
        "cid_qualifier": CID_QUALIFIERS.get(qualifier or 0),
        "cid_description": CID_DESCRIPTIONS.get(code or 0),
        "cid_type": cid.get("type"),
        "zone_number": zone_no if zone_related else None,
        "subsystem": sub_no,
        "name": cid.get("name") or cid.get("zoneName"),
    }
    if code is not None and 400 <= code < 500:
        data["arming"] = "disarmed" if qualifier == 1 else "armed"
        data["user"] = _int(cid.get("userNo") or cid.get("user"))
    state = "inactive" if qualifier == 3 and not (code and 400 <= code < 500) else "active"
    return Event(
        type=normalize(vendor),
        vendor_type=vendor,
        state=state,
        time=parse_time(cid.get("trigger") or body.get("dateTime")) if cid.get("trigger") else when,
        zone=_resolve(resolve, *candidates),
        data={k: v for k, v in data.items() if v is not None},
        id=msg_id,
    )


def _linkage(
    vendor: str,
    serial: str,
    msg_id: str | None,
    when: dt.datetime,
    body: dict[str, Any],
    resolve: ZoneResolver,
) -> Event:
    link = body.get("Linkage") or body
    pictures = link.get("PictureList") or link.get("pictureList") or []
    if isinstance(pictures, dict):
        pictures = pictures.get("Picture") or []
    if isinstance(pictures, dict):
        pictures = [pictures]
    out = [
        {
            "url": p.get("url") or p.get("pictureUrl"),
            "serial": p.get("deviceSerial") or serial,
            "channel": _int(p.get("channelNo")),
            "time": p.get("time"),
        }
        for p in pictures
        if isinstance(p, dict)
    ]
    data = {
        "serial": serial,
        "alarm_id": link.get("relatedEventId") or link.get("cidEventId"),
        "pictures": [{k: v for k, v in p.items() if v is not None} for p in out],
    }
    return Event(
        type=normalize(vendor),
        vendor_type=vendor,
        time=when,
        zone=_resolve(resolve, Address(serial)),
        data=data,
        id=msg_id,
    )


def batch_events(messages: list[dict[str, Any]], resolve: ZoneResolver) -> list[Event]:
    """A batch in order, with each Linkage folded into its CID alarm when both are present.

    The alarm then carries ``data.pictures`` and ``data.linkage_ids`` (ids the caller must
    treat as published too, so a re-delivered Linkage is suppressed like its alarm).
    """
    events = [to_event(m, resolve) for m in messages]
    alarms = {ev.id: ev for ev in events if ev.vendor_type.lower() == "cidevent" and ev.id}
    out = []
    for ev in events:
        target = alarms.get(ev.data.get("alarm_id")) if ev.vendor_type.lower() == "linkage" else None
        if target is None:
            out.append(ev)
            continue
        target.data.setdefault("pictures", []).extend(ev.data.get("pictures", []))
        if ev.id:
            target.data.setdefault("linkage_ids", []).append(ev.id)
    return out


def covered_ids(event: Event) -> list[str]:
    """Every queue message id an event stands for (itself and any folded Linkage)."""
    return [i for i in [event.id, *event.data.get("linkage_ids", [])] if i]
