"""The ISAPI URIs the transparent channel carries (guide 3.23, A.4) and how answers are judged.

Only the URIs of guide A.4 are sent: a function the guide does not list (a snapshot, a siren,
an instant arm) is declared unsupported in the schema instead of guessed. Request bodies follow
A.5 (namespace ``http://www.isapi.org/ver20/XMLSchema`` for XML). An answer fails when the
cloud's ``X-ErrorCode`` / ``X-DeviceCode`` headers say so (assumption 10) or when the device's
ResponseStatus (A.5.8 JSON, A.5.27 XML) has a statusCode other than 0/1; the message names the
A.6 sub status and the header codes so the installer can look them up.
"""

from __future__ import annotations

import re
from typing import Any

from gemhost_drivers.hikvision_isapi import kernel
from gemhost_drivers.hpp import assumptions, codes
from gemhost_drivers.hpp.client import Reply
from gemhost_drivers.hpp.parsing import BodyError, load_json, load_xml

from gemhost.errors import DeviceError, NotSupported

ISAPI_NS = kernel.ISAPI_NS
_N = r"\d+"

# A.4 Request URIs, as (methods, URI pattern); <ID> is a number.
A4_URIS: list[tuple[frozenset[str], str]] = [
    (frozenset({"GET", "PUT"}), r"ISAPI/System/deviceInfo"),  # A.4.19
    (frozenset({"PUT"}), rf"ISAPI/PTZCtrl/channels/{_N}/continuous"),  # A.4.6
    (frozenset({"GET", "POST", "DELETE"}), rf"ISAPI/PTZCtrl/channels/{_N}/presets"),  # A.4.7
    (frozenset({"GET", "PUT", "DELETE"}), rf"ISAPI/PTZCtrl/channels/{_N}/presets/{_N}"),  # A.4.8
    (frozenset({"PUT"}), rf"ISAPI/PTZCtrl/channels/{_N}/presets/{_N}/goto"),  # A.4.9
    (frozenset({"PUT"}), rf"ISAPI/SecurityCP/control/arm/{_N}\?ways=(stay|away)&format=json"),  # A.4.10
    (frozenset({"PUT"}), r"ISAPI/SecurityCP/control/bypass\?format=json"),  # A.4.11
    (frozenset({"PUT"}), r"ISAPI/SecurityCP/control/bypassRecover\?format=json"),  # A.4.12
    (frozenset({"PUT"}), rf"ISAPI/SecurityCP/control/clearAlarm/{_N}\?format=json"),  # A.4.13
    (frozenset({"PUT"}), rf"ISAPI/SecurityCP/control/disarm/{_N}\?format=json"),  # A.4.14
    (frozenset({"POST"}), r"ISAPI/SecurityCP/control/outputs\?format=json"),  # A.4.15
    (frozenset({"GET"}), r"ISAPI/SecurityCP/status/subSystems\?format=json"),  # A.4.16
    (frozenset({"POST"}), r"ISAPI/SecurityCP/status/outputStatus\?format=json"),  # A.4.17
    (frozenset({"GET", "POST"}), r"ISAPI/SecurityCP/status/zones\?format=json"),  # A.4.18
    (frozenset({"GET"}), r"ISAPI/System/IO/outputs"),  # A.4.20
    (frozenset({"GET"}), rf"ISAPI/System/IO/outputs/{_N}/status"),  # A.4.21
    (frozenset({"PUT"}), rf"ISAPI/System/IO/outputs/{_N}/trigger"),  # A.4.22
    (frozenset({"GET", "PUT"}), r"ISAPI/System/time"),  # A.4.23
    (frozenset({"GET", "PUT", "POST"}), r"ISAPI/ContentMgmt/InputProxy/channels"),  # A.4.3
    (frozenset({"GET"}), r"ISAPI/ContentMgmt/InputProxy/channels/status"),  # A.4.4
    (frozenset({"PUT"}), rf"ISAPI/ContentMgmt/record/control/manualRefresh/channels/{_N}"),  # A.4.5
    (frozenset({"POST"}), r"ISAPI/AccessControl/AcsEvent\?format=json"),  # A.4.1
    (frozenset({"POST"}), r"ISAPI/AccessControl/UserInfo/Search\?format=json"),  # A.4.2
]
_COMPILED = [(methods, re.compile(pattern)) for methods, pattern in A4_URIS]
UNSUPPORTED_SUBS = frozenset({"notSupport", "methodNotAllowed", "zoneNotSupport"})


def listed(method: str, uri: str) -> bool:
    """Whether guide A.4 lists this method and URI for the transparent channel."""
    uri = uri.lstrip("/")
    return any(method.upper() in methods and rx.fullmatch(uri) for methods, rx in _COMPILED)


def require_listed(method: str, uri: str) -> None:
    if not listed(method, uri):
        raise NotSupported(f"{method} /{uri.lstrip('/')} is not among the ISAPI URIs of guide A.4")


# ------------------------------------------------------------ request bodies (A.5)


ptz_data = kernel.ptz_data
"""A.5.15 XML_Absolute_PTZData (the ISAPI kernel's, in A.5's namespace)."""
io_port_data = kernel.io_port_data
"""A.5.23 XML_IOPortData (the ISAPI kernel's, in A.5's namespace)."""


def list_id(ids: list[int]) -> dict[str, Any]:
    """A.5.3 JSON_List_ID: zone numbers (from 0) for bypass and bypassRecover."""
    return {"List": [{"id": int(i)} for i in ids]}


def outputs_ctrl(on: bool, ids: list[int]) -> dict[str, Any]:
    """A.5.5 JSON_OutputsCtrl: relays (numbered from 0) open (on) or close (off)."""
    return {"OutputsCtrl": {"switch": "open" if on else "close", "List": [{"id": int(i)} for i in ids]}}


OPERATE: dict[str, Any] = {}
"""A.5.7 JSON_Operate with its only member (``Operate``, optional) left out."""


# ------------------------------------------------------------ answers


def _status_of(reply: Reply) -> dict[str, Any] | None:
    """The ResponseStatus fields (``kernel.status_fields``) of an answer (A.5.8 JSON or
    A.5.27 XML), if it is one."""
    if not reply.body:
        return None
    try:
        if "json" in reply.content_type:
            doc = load_json(reply.body)
            found = doc if isinstance(doc, dict) and "statusCode" in doc else None
        elif "xml" in reply.content_type:
            tag, content = load_xml(reply.body)
            found = content if tag == "ResponseStatus" and isinstance(content, dict) else None
        else:
            found = None
    except BodyError:
        return None
    return kernel.status_fields(found, unreadable=3) if found is not None else None


def judge(reply: Reply, serial: str, what: str) -> None:
    """Raise when the cloud's headers or the device's ResponseStatus report a failure."""
    status = _status_of(reply) or {}
    status_code = 1 if status.get("status_code") is None else status["status_code"]
    sub = status.get("sub_status_code") or ""
    header_bad = reply.error_code not in assumptions.HEADER_OK or reply.device_code not in assumptions.HEADER_OK
    if status_code in (0, 1) and not header_bad and reply.status < 400:
        return
    parts: list[str] = []
    if status_code not in (0, 1):
        text = codes.SUB_STATUS.get(sub, ("", ""))[1] or (status.get("error_msg") or "")
        parts.append(f"{codes.STATUS_TEXT.get(status_code, status_code)}: {sub or 'no sub status'}"
                     + (f" ({text})" if text else ""))
    if reply.error_code not in assumptions.HEADER_OK:
        parts.append(f"X-ErrorCode {reply.error_code} ({codes.describe(reply.error_code)})")
    if reply.device_code not in assumptions.HEADER_OK:
        parts.append(f"X-DeviceCode {reply.device_code}")
    if reply.ezo_code not in assumptions.HEADER_OK:
        parts.append(f"X-EZO-Code {reply.ezo_code}")
    if not parts:
        parts.append(f"HTTP {reply.status}")
    message = f"{serial} refused {what}: " + "; ".join(parts)
    if sub in UNSUPPORTED_SUBS or reply.error_code in codes.NOT_SUPPORTED:
        raise NotSupported(message)
    raise DeviceError(message)


def json_body(reply: Reply, serial: str, what: str) -> dict[str, Any]:
    """The JSON document of a successful answer (an empty answer is ``{}``)."""
    if not reply.body.strip():
        return {}
    try:
        doc = load_json(reply.body)
    except BodyError as exc:
        raise DeviceError(f"{serial} answered {what} with malformed JSON ({exc})") from None
    return doc if isinstance(doc, dict) else {}
