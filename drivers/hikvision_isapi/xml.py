"""Namespace-tolerant readers of the ISAPI XML documents the driver relies on.

Device responses are untrusted input, so everything goes through defusedxml (no entity
expansion, no external DTDs). Real firmware uses at least three default namespaces
(``http://www.hikvision.com/ver20/XMLSchema``, ``http://www.isapi.org/ver20/XMLSchema``,
``urn:psialliance-org``) or none at all, and omits fields freely, so lookups compare local
names only and every field is optional.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

HIKVISION_NS = "http://www.hikvision.com/ver20/XMLSchema"
ISAPI_NS = "http://www.isapi.org/ver20/XMLSchema"


class XmlError(ValueError):
    """A body that is not well-formed (or is hostile) XML."""


def parse(body: bytes | str) -> ET.Element:
    """The root element of an untrusted XML body; raises XmlError instead of crashing."""
    try:
        return fromstring(body)
    except (ET.ParseError, DefusedXmlException, ValueError) as exc:
        raise XmlError(f"malformed XML: {exc}") from None


def local(tag: str) -> str:
    """``{ns}name`` -> ``name``."""
    return tag.rsplit("}", 1)[-1]


def child(el: ET.Element | None, *path: str) -> ET.Element | None:
    """The first descendant along ``path`` of local names, or None."""
    for name in path:
        if el is None:
            return None
        el = next((c for c in el if local(c.tag) == name), None)
    return el


def children(el: ET.Element | None, name: str) -> list[ET.Element]:
    """All direct children with local name ``name``."""
    return [] if el is None else [c for c in el if local(c.tag) == name]


def text(el: ET.Element | None, *path: str) -> str | None:
    """Stripped text at ``path``; None when absent or empty."""
    node = child(el, *path)
    if node is None or node.text is None:
        return None
    value = node.text.strip()
    return value or None


def integer(el: ET.Element | None, *path: str) -> int | None:
    value = text(el, *path)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def boolean(el: ET.Element | None, *path: str) -> bool | None:
    value = text(el, *path)
    return None if value is None else value.lower() == "true"


def depth(el: ET.Element) -> int:
    """Nesting depth of an element tree, counted without recursion (a hostile document may
    nest far deeper than Python's recursion limit)."""
    deepest, stack = 0, [(el, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((c, level + 1) for c in node)
    return deepest


def to_dict(el: ET.Element) -> Any:
    """A plain dict of an element (local names; repeated children become lists).

    Used to hand the vendor's own fields of an event to consumers without namespaces.
    """
    kids = list(el)
    if not kids:
        return (el.text or "").strip()
    out: dict[str, Any] = {}
    for kid in kids:
        key = local(kid.tag)
        value = to_dict(kid)
        if key in out:
            if not isinstance(out[key], list):
                out[key] = [out[key]]
            out[key].append(value)
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------- documents


def device_info(body: bytes | str) -> dict[str, Any]:
    """Fields of ``/ISAPI/System/deviceInfo`` (DeviceInfo)."""
    root = parse(body)
    if local(root.tag) != "DeviceInfo":
        raise XmlError(f"expected DeviceInfo, got {local(root.tag)}")
    fw = text(root, "firmwareVersion")
    build = text(root, "firmwareReleasedDate")
    return {
        "name": text(root, "deviceName"),
        "device_id": text(root, "deviceID"),
        "model": text(root, "model"),
        "serial": text(root, "serialNumber"),
        "mac": text(root, "macAddress"),
        "firmware": fw,
        "firmware_build": build,
        "device_type": text(root, "deviceType"),
        "manufacturer": text(root, "manufacturer"),
    }


def response_status(body: bytes | str) -> dict[str, Any] | None:
    """statusCode/statusString/subStatusCode of a ResponseStatus body, None if it is not one."""
    try:
        root = parse(body)
    except XmlError:
        return None
    if local(root.tag) != "ResponseStatus":
        return None
    return {
        "status_code": integer(root, "statusCode"),
        "status_string": text(root, "statusString"),
        "sub_status_code": text(root, "subStatusCode"),
        "request_url": text(root, "requestURL"),
        "error_msg": text(root, "errorMsg"),
    }


def input_proxy_channels(body: bytes | str) -> list[dict[str, Any]]:
    """NVR IP channels of ``/ISAPI/ContentMgmt/InputProxy/channels``."""
    root = parse(body)
    out = []
    for ch in children(root, "InputProxyChannel"):
        number = integer(ch, "id")
        if number is None:
            continue
        src = child(ch, "sourceInputPortDescriptor")
        out.append({
            "channel": number,
            "name": text(ch, "name"),
            "source_ip": text(src, "ipAddress") or text(src, "hostName"),
            "source_model": text(src, "model"),
            "source_serial": text(src, "serialNumber"),
            "source_firmware": text(src, "firmwareVersion"),
            "online": None,
        })
    return out


def input_proxy_status(body: bytes | str) -> dict[int, bool]:
    """Channel id -> online of ``/ISAPI/ContentMgmt/InputProxy/channels/status``."""
    root = parse(body)
    out = {}
    for st in children(root, "InputProxyChannelStatus"):
        number, online = integer(st, "id"), boolean(st, "online")
        if number is not None and online is not None:
            out[number] = online
    return out


def streaming_channels(body: bytes | str) -> list[dict[str, Any]]:
    """Video channels of ``/ISAPI/Streaming/channels``, one row per human channel number."""
    root = parse(body)
    rows: dict[int, dict[str, Any]] = {}
    for sc in children(root, "StreamingChannel"):
        sid = integer(sc, "id")
        if sid is None or sid < 100:
            continue
        number = sid // 100
        row = rows.setdefault(number, {"channel": number, "name": None, "streams": [], "online": None})
        row["streams"].append(sid)
        enabled = boolean(sc, "enabled")
        if sid % 100 == 1 or row["name"] is None:
            row["name"] = text(sc, "channelName") or row["name"]
        if enabled is not None:
            row["online"] = bool(row["online"]) or enabled
    return [rows[k] for k in sorted(rows)]


NO_VIDEO = "NO VIDEO"
"""``resDesc`` of an analog input with no signal (iDS-7208HQHI-M1 capture, channel 8)."""


def video_inputs(body: bytes | str) -> list[dict[str, Any]]:
    """Analog/local inputs of ``/ISAPI/System/Video/inputs/channels`` (DVRs, cameras).

    ``online`` needs both: the input is enabled and it has a signal (``resDesc`` is the
    detected resolution, or "NO VIDEO" when nothing is connected).
    """
    root = parse(body)
    out = []
    for vi in children(root, "VideoInputChannel"):
        number = integer(vi, "id")
        if number is None:
            continue
        enabled = boolean(vi, "videoInputEnabled")
        signal = text(vi, "resDesc")
        online = enabled
        if enabled and signal is not None and signal.upper() == NO_VIDEO:
            online = False
        out.append({"channel": number, "name": text(vi, "name"), "online": online, "signal": signal})
    return out


def _trigger_root(root: ET.Element) -> ET.Element | None:
    """The EventTriggerList of ``/ISAPI/Event/triggers``: the root on most firmware, under
    ``EventNotification`` on some (hikvision_next reads both)."""
    if local(root.tag) == "EventTriggerList":
        return root
    return child(root, "EventTriggerList")


def event_triggers(body: bytes | str) -> list[dict[str, Any]]:
    """The event triggers of ``/ISAPI/Event/triggers``: which event types each video channel
    (``videoInputChannelID`` / ``dynVideoInputChannelID``) or alarm input
    (``inputIOPortID`` / ``dynInputIOPortID``) can raise, and how each is notified."""
    lst = _trigger_root(parse(body))
    out = []
    for trig in children(lst, "EventTrigger"):
        event_type = text(trig, "eventType")
        if event_type is None:
            continue
        methods = [m for n in children(child(trig, "EventTriggerNotificationList"), "EventTriggerNotification")
                   if (m := text(n, "notificationMethod"))]
        out.append({
            "event_type": event_type,
            "channel": integer(trig, "videoInputChannelID") or integer(trig, "dynVideoInputChannelID"),
            "io_port": integer(trig, "inputIOPortID") or integer(trig, "dynInputIOPortID"),
            "notifications": methods,
        })
    return out


def capability(body: bytes | str, *path: str) -> bool | None:
    """A boolean of ``/ISAPI/System/capabilities`` (DeviceCap), e.g. ("WLAlarmCap", "isSupportPIR")."""
    return boolean(parse(body), *path)
