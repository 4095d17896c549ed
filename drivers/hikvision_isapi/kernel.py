"""The ISAPI kernel: what every carrier of ISAPI shares, read once.

ISAPI reaches gemhost two ways: straight from a camera or NVR (this driver) and through
Hik-Partner Pro's transparent channel (guide 3.23), whose URIs and bodies are ISAPI's
(guide A.4, A.5). Both use this module for the reply of an exchange, XML to dict, ResponseStatus, the request bodies
of PTZ and IO outputs, device timestamps, alert fields and the document readers. It lives with the
ISAPI driver rather than in ``gemhost/`` because it is one vendor's protocol: the core
stays vendor-neutral (a third-party driver never needs it), and the driver that owns the
protocol's sources (docs/drivers/hikvision_isapi.md) owns its reader; HPP imports it as
the carrier of the same protocol.

Device responses are untrusted input. Documents become dicts with xmltodict in its hardened
mode (``disable_entities``: any entity declaration is refused, so no billion laughs and no
external entities) with a depth limit checked as the parser closes each element, so nothing
here recurses and a hostile body costs only itself. The element readers below parse with
defusedxml. Real firmware uses at least three default namespaces
(``http://www.hikvision.com/ver20/XMLSchema``, ``http://www.isapi.org/ver20/XMLSchema``,
``urn:psialliance-org``) or none at all, and omits fields freely, so lookups compare local
names only and every field is optional.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from xml.parsers import expat

import xmltodict
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

HIKVISION_NS = "http://www.hikvision.com/ver20/XMLSchema"
ISAPI_NS = "http://www.isapi.org/ver20/XMLSchema"
MAX_DEPTH = 32
"""Deeper than any ISAPI document (alerts nest 5 levels, HPP guide A.3/A.5 at most 6) by far."""


class XmlError(ValueError):
    """A body that is not well-formed (or is hostile) XML."""


@dataclass(frozen=True)
class Reply:
    """One finished ISAPI exchange, whichever carrier brought it: the ISAPI client straight
    from the device, or HPP's transparent channel (whose reply adds the cloud's headers)."""

    status: int
    content_type: str
    body: bytes


# ---------------------------------------------------------------- XML <-> dict


def load(body: bytes | str, *, max_depth: int = MAX_DEPTH) -> tuple[str, Any]:
    """(root local name, content) of an untrusted XML document.

    Content follows xmltodict's convention without attributes: an element with children is a
    dict of their local names (a repeated name is a list), a leaf is its stripped text ("" when
    empty). Text mixed between children is dropped. Raises XmlError for malformed, hostile or
    too deep (more than ``max_depth`` levels) documents.
    """

    def local_names(path: list[Any], key: str, value: Any) -> tuple[str, Any] | None:
        if len(path) > max_depth:
            raise XmlError(f"XML nested deeper than {max_depth} levels")
        if key == "#text":
            return None
        return key.rsplit(":", 1)[-1], "" if value is None else value

    try:
        # disable_entities (xmltodict's default) refuses any entity declaration with a ValueError
        doc = xmltodict.parse(body, disable_entities=True, xml_attribs=False, postprocessor=local_names)
    except XmlError:
        raise
    except (expat.ExpatError, ValueError) as exc:
        raise XmlError(f"not XML: {exc}") from None
    if not isinstance(doc, dict) or not doc:
        raise XmlError("not XML: no root element")
    ((tag, content),) = doc.items()
    return tag, content


def unparse(doc: dict[str, Any]) -> str:
    """XML text of a one-root dict in xmltodict's convention (``@attr``, ``#text``, lists)."""
    return xmltodict.unparse(doc)


# ---------------------------------------------------------------- element readers


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


# ---------------------------------------------------------------- ResponseStatus


def status_fields(doc: dict[str, Any], *, unreadable: int | None = None) -> dict[str, Any]:
    """The fields of a ResponseStatus read as a dict: XML (ISAPI 2.0, HPP A.5.27) and JSON
    (HPP A.5.8) use the same names. ``status_code`` is None when absent or empty, and
    ``unreadable`` when it is not a number."""
    def field(name: str) -> str | None:
        value = doc.get(name)
        return None if value is None or isinstance(value, (dict, list)) else str(value).strip() or None

    code = field("statusCode")
    try:
        status_code = int(code) if code is not None else None
    except ValueError:
        status_code = unreadable
    return {"status_code": status_code, "status_string": field("statusString"),
            "sub_status_code": field("subStatusCode"), "request_url": field("requestURL"),
            "error_msg": field("errorMsg")}


def response_status(body: bytes | str) -> dict[str, Any] | None:
    """statusCode/statusString/subStatusCode of a ResponseStatus body, None if it is not one."""
    try:
        tag, content = load(body)
    except XmlError:
        return None
    if tag != "ResponseStatus" or not isinstance(content, dict):
        return None
    return status_fields(content)


# ---------------------------------------------------------------- request bodies


def _root(name: str, namespace: str | None) -> str:
    """The XML declaration and opening tag of a request body: ISAPI 2.0's ``xmlns`` and
    ``version`` (HPP guide A.5), or a bare tag as the ISAPI driver has always sent it."""
    attrs = f' xmlns="{namespace}" version="2.0"' if namespace else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><{name}{attrs}>'


def ptz_data(pan: int | None = 0, tilt: int | None = 0, zoom: int | None = 0, *,
             namespace: str | None = ISAPI_NS) -> str:
    """PTZData for ``PTZCtrl/channels/<ID>/continuous`` (HPP guide A.5.15 XML_Absolute_PTZData;
    pan, tilt, zoom in -100..100). An axis given as None is left out (the ISAPI driver sends a
    pan/tilt move without zoom and a zoom alone); without ``namespace`` the root carries
    neither ``xmlns`` nor ``version``."""
    axes = "".join(f"<{name}>{int(value)}</{name}>"
                   for name, value in (("pan", pan), ("tilt", tilt), ("zoom", zoom)) if value is not None)
    return f"{_root('PTZData', namespace)}{axes}</PTZData>"


def ptz_relative_data(pan: int, tilt: int, zoom: int, *, namespace: str | None = None) -> str:
    """PTZData for ``PTZCtrl/channels/<ID>/relative``: ``Relative`` with ``positionX``,
    ``positionY``, ``relativeZoom`` (public ISAPI clients, docs/drivers/hikvision_isapi.md)."""
    return (f"{_root('PTZData', namespace)}<Relative><positionX>{int(pan)}</positionX>"
            f"<positionY>{int(tilt)}</positionY><relativeZoom>{int(zoom)}</relativeZoom></Relative></PTZData>")


def io_port_data(on: bool, *, namespace: str | None = ISAPI_NS) -> str:
    """IOPortData for ``System/IO/outputs/<ID>/trigger`` (HPP guide A.5.23 XML_IOPortData):
    output level high (on) or low (off). Without ``namespace`` the element carries none, as
    the ISAPI driver has always sent it."""
    level = "high" if on else "low"
    ns = f' xmlns="{namespace}"' if namespace else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><IOPortData{ns}><outputState>{level}</outputState></IOPortData>'


# ---------------------------------------------------------------- time

_NO_SIGN_OFFSET = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)(00:?00)$")


def read_time(value: Any) -> dt.datetime | None:
    """An ISAPI ``dateTime`` (ISO 8601) as a datetime (naive when it has no offset), or None.

    ``Z`` is UTC. Some firmware drops the sign of a zero UTC offset
    (``2019-11-17T17:53:4200:00``, pyHik issue #45); +00:00 and -00:00 are the same instant,
    so that one case is repaired.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    for repair in (_zulu, _signless_offset):  # the second only when the first cannot be read
        try:
            return dt.datetime.fromisoformat(repair(text))
        except ValueError:
            continue
    return None


def _zulu(text: str) -> str:
    return text.replace("Z", "+00:00")


def _signless_offset(text: str) -> str:
    return _NO_SIGN_OFFSET.sub(r"\1+00:00", text)


# ---------------------------------------------------------------- alert fields


def detection_regions(fields: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``DetectionRegionList/DetectionRegionEntry`` objects of an EventNotificationAlert's
    fields (XML as :func:`load` reads it, or JSON alike): smart events (fielddetection,
    linedetection, regionEntrance, ...) carry one entry per region that fired, each with its
    ``regionID`` and ``detectionTarget`` (the fixtures' fielddetection captures). One entry
    and several alike; [] when the alert has none. Shared by the ISAPI alert decoder's
    field reader and HPP's camera alerts (guide A.3.13-A.3.18 carry the same list)."""
    lst = fields.get("DetectionRegionList")
    entries = lst.get("DetectionRegionEntry") if isinstance(lst, dict) else None
    if isinstance(entries, dict):
        return [entries]
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


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
