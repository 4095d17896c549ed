"""What a simulated device answers through the transparent channel (guide 3.23, A.4, A.5).

Only the URIs of A.4 do anything; any other URI is answered the way ISAPI firmware answers an
unknown request (ResponseStatus statusCode 4, ``notSupport``, A.6). Panels answer JSON
(``?format=json``: JSON_SubSysList A.5.9, JSON_ZoneList A.5.13, JSON_OutputSearch_Status A.5.6,
JSON_ResponseStatus A.5.8), cameras XML (XML_ResponseStatus A.5.27, XML_IOOutputPortList A.5.22,
XML_IOPortStatus A.5.24, XML_DeviceInfo A.5.16).
A failed device request also sets the cloud's ``X-DeviceCode`` header (assumption 10).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from gemhost_drivers.hpp import codes, transparent
from gemhost_drivers.hpp.parsing import BodyError, load_json, load_xml
from gemhost_drivers.hpp.simulator.cloud import ALARM_HOST, Cloud, CloudError, Device

XML_STATUS_NS = "http://www.std-cgi.org/ver20/XMLSchema"  # A.5.27 names this namespace


@dataclass
class Answer:
    status: int = 200
    content_type: str = "application/json"
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def status_json(code: int, sub: str, uri: str, message: str = "") -> Answer:
    """A.5.8 JSON_ResponseStatus."""
    hex_code, text = codes.SUB_STATUS.get(sub, ("0x1", ""))
    doc: dict[str, Any] = {"requestURL": "/" + uri, "statusCode": code,
                           "statusString": codes.STATUS_TEXT.get(code, ""), "subStatusCode": sub}
    if code != 1:
        doc.update(errorCode=int(hex_code, 16), errorMsg=message or text)
    answer = Answer(body=json.dumps(doc).encode())
    if code != 1:
        answer.headers["X-DeviceCode"] = hex_code
    return answer


def status_xml(code: int, sub: str, uri: str) -> Answer:
    """A.5.27 XML_ResponseStatus."""
    doc = (
        f'<?xml version="1.0" encoding="utf-8"?><ResponseStatus version="2.0" xmlns="{XML_STATUS_NS}">'
        f"<requestURL>/{uri}</requestURL><statusCode>{code}</statusCode>"
        f"<statusString>{codes.STATUS_TEXT.get(code, '')}</statusString><subStatusCode>{sub}</subStatusCode>"
        "</ResponseStatus>"
    )
    answer = Answer(content_type="application/xml", body=doc.encode())
    if code != 1:
        answer.headers["X-DeviceCode"] = codes.SUB_STATUS.get(sub, ("0x1", ""))[0]
    return answer


def _json(doc: Any) -> Answer:
    return Answer(body=json.dumps(doc).encode())


def _xml_fields(raw: bytes) -> dict[str, Any]:
    try:
        return load_xml(raw)[1]
    except BodyError:
        return {}


def handle(cloud: Cloud, dev: Device, method: str, uri: str, body: bytes) -> Answer:
    """The device's answer to one transparent request."""
    json_format = "format=json" in uri
    if not transparent.listed(method, uri):
        return status_json(4, "notSupport", uri) if json_format else status_xml(4, "notSupport", uri)
    if dev.category == ALARM_HOST:
        return _panel(cloud, dev, method, uri, body)
    return _camera(dev, method, uri, body)


# ------------------------------------------------------------ cameras and recorders


def _camera(dev: Device, method: str, uri: str, body: bytes) -> Answer:
    channels = {c.number for c in dev.channels}
    if uri == "ISAPI/System/deviceInfo" and method == "GET":
        ns = transparent.ISAPI_NS
        doc = (f'<?xml version="1.0" encoding="utf-8"?><DeviceInfo version="2.0" xmlns="{ns}">'
               f"<deviceName>{dev.name}</deviceName><deviceID>{dev.id}</deviceID><model>{dev.model}</model>"
               f"<serialNumber>{dev.serial}</serialNumber><macAddress>a4:14:37:00:00:01</macAddress>"
               f"<firmwareVersion>{dev.firmware}</firmwareVersion><deviceType>"
               f"{'NVR' if len(dev.channels) > 1 else 'IPCamera'}</deviceType></DeviceInfo>")
        return Answer(content_type="application/xml", body=doc.encode())
    if m := re.fullmatch(r"ISAPI/PTZCtrl/channels/(\d+)/continuous", uri):
        fields = _xml_fields(body)
        if int(m[1]) not in channels or not fields:
            return status_xml(6, "badXmlContent" if fields == {} else "badParameters", uri)
        dev.ptz.append({"channel": int(m[1]), **{k: int(str(fields.get(k) or 0)) for k in ("pan", "tilt", "zoom")}})
        return status_xml(1, "ok", uri)
    if m := re.fullmatch(r"ISAPI/PTZCtrl/channels/(\d+)/presets/(\d+)/goto", uri):
        if int(m[1]) not in channels or int(m[2]) not in dev.presets:
            return status_xml(6, "badParameters", uri)
        dev.ptz.append({"channel": int(m[1]), "preset": int(m[2])})
        return status_xml(1, "ok", uri)
    if uri == "ISAPI/System/IO/outputs" and method == "GET":
        # A.5.21: id and PowerOnState (defaultState, outputState) are required, name optional
        ports = "".join(f"<IOOutputPort><id>{n}</id><PowerOnState><defaultState>low</defaultState>"
                        f"<outputState>high</outputState></PowerOnState><name>Output {n}</name>"
                        "<IOType>local</IOType></IOOutputPort>" for n in dev.io_outputs)
        doc = (f'<?xml version="1.0" encoding="utf-8"?><IOOutputPortList version="2.0" '
               f'xmlns="{transparent.ISAPI_NS}">{ports}</IOOutputPortList>')
        return Answer(content_type="application/xml", body=doc.encode())
    if m := re.fullmatch(r"ISAPI/System/IO/outputs/(\d+)/(status|trigger)", uri):
        number = int(m[1])
        if number not in dev.io_outputs:
            return status_xml(6, "badParameters", uri)
        if m[2] == "trigger":
            level = str(_xml_fields(body).get("outputState") or "")
            if level not in ("high", "low"):
                return status_xml(6, "badXmlContent", uri)
            dev.io_outputs[number] = level == "high"
            return status_xml(1, "ok", uri)
        state = "active" if dev.io_outputs[number] else "inactive"
        doc = (f'<?xml version="1.0" encoding="utf-8"?><IOPortStatus version="2.0" xmlns="{transparent.ISAPI_NS}">'
               f"<ioPortID>{number}</ioPortID><ioPortType>output</ioPortType><ioState>{state}</ioState>"
               "</IOPortStatus>")
        return Answer(content_type="application/xml", body=doc.encode())
    return status_xml(4, "notSupport", uri)


# ------------------------------------------------------------ AX PRO panels


def _panel(cloud: Cloud, dev: Device, method: str, uri: str, body: bytes) -> Answer:
    path = uri.split("?")[0].removeprefix("ISAPI/SecurityCP/")
    if not uri.startswith("ISAPI/SecurityCP/"):
        return status_json(4, "notSupport", uri) if "format=json" in uri else status_xml(4, "notSupport", uri)
    try:
        if path == "status/subSystems":
            return _json({"SubSysList": [
                {"SubSys": {"id": p.number, "name": p.name, "arming": p.arming, "alarm": p.alarm, "enabled": True}}
                for p in dev.partitions.values()]})
        if path == "status/zones" and method == "GET":
            return _json({"ZoneList": [{"Zone": _zone(dev, z)} for z in dev.zones.values()]})
        if m := re.fullmatch(r"control/(arm|disarm|clearAlarm)/(\d+)", path):
            number = int(m[2])
            if number not in dev.partitions:
                return status_json(6, "badParameters", uri, f"no partition {number}")
            if m[1] == "arm":
                ways = re.search(r"ways=(\w+)", uri)
                cloud.arm(dev.serial, number, ways[1] if ways else "away")
            elif m[1] == "disarm":
                cloud.disarm(dev.serial, number)
            else:
                cloud.clear_alarm(dev.serial, number)
            return status_json(1, "ok", uri)
        if path in ("control/bypass", "control/bypassRecover"):
            ids = _ids(body)
            if not ids or any(i not in dev.zones for i in ids):
                return status_json(6, "badParameters", uri, "List must name zones of the panel")
            for number in ids:
                cloud.bypass(dev.serial, number, path == "control/bypass")
            return status_json(1, "ok", uri)
        if path == "control/outputs":
            return _outputs(dev, uri, body)
        if path == "status/outputStatus":
            return _output_status(dev, uri, body)
    except CloudError as exc:
        return status_json(4, exc.code if exc.code in codes.SUB_STATUS else "operateFailed", uri, str(exc))
    return status_json(4, "notSupport", uri)


def _zone(dev: Device, zone: Any) -> dict[str, Any]:
    """A.5.13 Zone."""
    status = "offline" if not zone.online else "breakDown" if zone.fault else "online"
    doc = {"id": zone.number, "name": zone.name, "status": status, "tamperEvident": False, "shielded": False,
           "bypassed": zone.bypassed, "armed": dev.zone_armed(zone), "alarm": zone.alarm, "charge": "normal",
           "detectorType": zone.detector_type, "zoneType": zone.zone_type, "zoneAttrib": "wireless",
           "subSystemNo": zone.partition}
    if zone.magnet_open is not None:
        doc["magnetOpenStatus"] = zone.magnet_open
    return doc


def _ids(body: bytes) -> list[int]:
    """The ids of an A.5.3 JSON_List_ID."""
    try:
        doc = load_json(body or b"{}")
    except BodyError:
        return []
    return _list_ids(doc.get("List") if isinstance(doc, dict) else None)


def _list_ids(items: Any) -> list[int]:
    """The ``id`` of every entry of a ``List`` (A.5.3, A.5.5); empty when one is not an int."""
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), int):
            return []
        out.append(item["id"])
    return out


def _outputs(dev: Device, uri: str, body: bytes) -> Answer:
    """A.4.15 with A.5.5 JSON_OutputsCtrl."""
    try:
        doc = load_json(body or b"{}")
    except BodyError:
        return status_json(6, "badParameters", uri, "body is not JSON")
    ctrl = doc.get("OutputsCtrl") if isinstance(doc, dict) else None
    if not isinstance(ctrl, dict) or ctrl.get("switch") not in ("open", "close"):
        return status_json(6, "badParameters", uri, "OutputsCtrl.switch must be open or close")
    ids = _list_ids(ctrl.get("List"))
    if not ids or any(i not in dev.relays for i in ids):
        return status_json(6, "badParameters", uri, "List must name relays of the panel")
    for number in ids:
        dev.relays[number] = ctrl["switch"] == "open"
    return status_json(1, "ok", uri)


def _output_status(dev: Device, uri: str, body: bytes) -> Answer:
    """A.4.17: JSON_OutputCond (A.5.4) in, JSON_OutputSearch_Status (A.5.6) out, paged the way
    ISAPI searches are: at most ``search_limit`` results, ``MORE`` while some are left."""
    try:
        doc = load_json(body or b"{}")
    except BodyError:
        return status_json(6, "badParameters", uri, "body is not JSON")
    cond = doc.get("OutputCond") if isinstance(doc, dict) else None
    if not isinstance(cond, dict) or not isinstance(cond.get("searchID"), str) or not cond["searchID"]:
        return status_json(6, "badParameters", uri, "OutputCond.searchID is required")
    position, wanted = cond.get("searchResultPosition"), cond.get("maxResults")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (position, wanted)) or position < 0 \
            or wanted < 1:
        return status_json(6, "badParameters", uri, "OutputCond.searchResultPosition and maxResults are required")
    numbers = sorted(dev.relays)
    page = numbers[position:position + min(wanted, dev.search_limit)]
    more = position + len(page) < len(numbers)
    return _json({"OutputSearch": {
        "searchID": cond["searchID"],
        "responseStatusStrg": "NO MATCH" if not page else "MORE" if more else "OK",
        "numOfMatches": len(page),
        "totalMatches": len(numbers),
        "OutputList": [{"Output": {"id": n, "name": f"Relay {n + 1}", "status": "on" if dev.relays[n] else "off",
                                   "linkage": "manualCtrl", "relayAttrib": "wireless",
                                   "subSystemList": sorted(dev.partitions)}} for n in page],
    }})
