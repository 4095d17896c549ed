"""alertStream framing and EventNotificationAlert decoding.

``GET /ISAPI/Event/notification/alertStream`` answers ``multipart/mixed; boundary=<b>`` and
never ends: each part has its own headers (``Content-Type``, usually ``Content-Length``) and
is an EventNotificationAlert in XML, on newer firmware sometimes JSON, and after smart events
one or more image parts. The parser is incremental, bounded in memory, and treats anything
malformed (a truncated part, a wrong Content-Length, garbage) as a part to drop, never as a
reason to crash or to lose the parts that follow.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from gemhost.eventtypes import normalize
from gemhost.model import now

from . import xml

MAX_PART = 4 * 1024 * 1024
"""A part larger than this is dropped (a snapshot part is well below it)."""

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


def boundary_of(content_type: str) -> str:
    """The multipart boundary of a Content-Type; Hikvision's default is ``boundary``."""
    match = _BOUNDARY.search(content_type or "")
    return match.group(1).strip() if match else "boundary"


@dataclass
class Part:
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class MultipartParser:
    """Feed bytes as they arrive; get back the complete parts."""

    def __init__(self, boundary: str, max_part: int = MAX_PART) -> None:
        self.delimiter = b"--" + boundary.encode("latin-1")
        self.max_part = max_part
        self.buf = bytearray()
        self.dropped = 0
        """Parts (or garbage) discarded because they were truncated or oversized."""

    def feed(self, data: bytes) -> list[Part]:
        self.buf += data
        parts: list[Part] = []
        while True:
            part, progressed = self._next()
            if part is not None:
                parts.append(part)
            if not progressed:
                break
        if len(self.buf) > self.max_part + 1024:
            # A part that never completes: forget it, resynchronise on the next delimiter.
            self.dropped += 1
            cut = self.buf.find(self.delimiter, 1)
            del self.buf[: cut if cut > 0 else len(self.buf) - len(self.delimiter)]
        return parts

    def _next(self) -> tuple[Part | None, bool]:
        start = self.buf.find(self.delimiter)
        if start < 0:
            # Keep only a tail that may be the start of a delimiter.
            keep = len(self.delimiter) + 2
            if len(self.buf) > keep:
                del self.buf[: len(self.buf) - keep]
            return None, False
        if start > 0:
            del self.buf[:start]
        line_end = self.buf.find(b"\n")
        if line_end < 0:
            return None, False
        after = bytes(self.buf[len(self.delimiter): line_end]).strip()
        if after.startswith(b"--"):  # closing delimiter
            del self.buf[: line_end + 1]
            return None, True
        head_end, sep_len = _find_blank_line(self.buf, line_end + 1)
        if head_end < 0:
            nxt = self.buf.find(self.delimiter, line_end + 1)
            if nxt > 0:  # headers never finished: truncated part
                self.dropped += 1
                del self.buf[:nxt]
                return None, True
            return None, False
        inner = self.buf.find(self.delimiter, line_end + 1, head_end)
        if inner > 0:  # a delimiter inside the header block: the headers were cut short
            self.dropped += 1
            del self.buf[:inner]
            return None, True
        headers = _headers(bytes(self.buf[line_end + 1: head_end]))
        body_start = head_end + sep_len
        nxt = self.buf.find(self.delimiter, body_start)
        length = headers.get("content-length")
        if length and length.isdigit():
            end = body_start + int(length)
            if nxt < 0 or nxt >= end:
                if len(self.buf) < end:
                    return None, False
                body = bytes(self.buf[body_start:end])
                del self.buf[:end]
                return Part(headers, body), True
            # The next delimiter came before Content-Length bytes: this part was truncated.
            self.dropped += 1
            del self.buf[:nxt]
            return None, True
        if nxt < 0:
            return None, False
        body = bytes(self.buf[body_start:nxt]).rstrip(b"\r\n")
        del self.buf[:nxt]
        return Part(headers, body), True


def _find_blank_line(buf: bytearray, start: int) -> tuple[int, int]:
    """(end of the header block, length of the blank line after it), or (-1, 0) if not yet seen.

    ``start`` is the first byte after the delimiter line; a part without headers begins
    with the blank line itself.
    """
    for sep in (b"\r\n", b"\n"):
        if buf[start: start + len(sep)] == sep:
            return start, len(sep)
    found = [(pos, len(sep) * 2) for sep in (b"\r\n", b"\n")
             if (pos := buf.find(sep * 2, start)) >= 0]
    if not found:
        return -1, 0
    pos, length = min(found)
    return pos + length // 2, length // 2


def _headers(block: bytes) -> dict[str, str]:
    out = {}
    for line in block.decode("latin-1").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip().lower()] = value.strip()
    return out


# ---------------------------------------------------------------- alerts


@dataclass
class Alert:
    """One decoded EventNotificationAlert, still in vendor terms."""

    event_type: str
    """The vendor eventType (for ``duration`` alerts, the relationEvent)."""
    state: str
    time: dt.datetime
    channel_id: int | None = None
    dyn_channel_id: int | None = None
    post_count: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def normalized(self) -> str:
        return normalize(self.event_type)

    @property
    def heartbeat(self) -> bool:
        """The periodic ``videoloss``/``inactive`` keep-alive of the stream, not an event."""
        return self.event_type.lower() == "videoloss" and self.state == "inactive"

    @property
    def sub_key(self) -> str | None:
        """What tells two conditions of one channel and type apart: the alarm input or the
        detection region. None when the part names neither (real ``inactive`` parts of line
        and field detection carry no region): the end then closes all of them."""
        sub = self.fields.get("inputIOPortID") or _region(self.fields)
        return str(sub) if sub not in (None, "") else None

    def data(self) -> dict[str, Any]:
        """Vendor fields worth publishing (no addresses of other hosts)."""
        keep = ("eventDescription", "channelName", "inputIOPortID", "activePostCount",
                "detectionTarget", "regionID", "relationEvent", "isDataRetransmission",
                "detectionPicturesNumber", "serialNumber", "macAddress")
        out = {k: self.fields[k] for k in keep if self.fields.get(k) not in (None, "", {})}
        target = _target(self.fields)
        if target:
            out["detectionTarget"] = target
        region = _region(self.fields)
        if region:
            out["regionID"] = region
        return out


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _region_entry(fields: dict[str, Any]) -> dict[str, Any]:
    lst = fields.get("DetectionRegionList")
    entry = _first(lst.get("DetectionRegionEntry")) if isinstance(lst, dict) else None
    return entry if isinstance(entry, dict) else {}


def _region(fields: dict[str, Any]) -> str | None:
    return _region_entry(fields).get("regionID") or None


def _target(fields: dict[str, Any]) -> str | None:
    return _region_entry(fields).get("detectionTarget") or fields.get("targetType") or None


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _time(value: Any) -> dt.datetime:
    if isinstance(value, str) and value.strip():
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.astimezone()
        except ValueError:
            pass
    return now()


def _alert_from_fields(fields: dict[str, Any]) -> Alert | None:
    vendor = str(fields.get("eventType") or "").strip()
    relation = None
    duration = fields.get("DurationList")
    if isinstance(duration, dict):
        relation = (_first(duration.get("Duration")) or {}).get("relationEvent")
    if (not vendor or vendor.lower() == "duration") and relation:
        # "duration" alerts repeat an ongoing condition; the real event is the relation.
        fields = {**fields, "relationEvent": relation}
        vendor = str(relation)
    if not vendor:
        return None
    state = str(fields.get("eventState") or "active").strip().lower()
    return Alert(
        event_type=vendor,
        state="inactive" if state == "inactive" else "active",
        time=_time(fields.get("dateTime")),
        channel_id=_int(fields.get("channelID")),
        dyn_channel_id=_int(fields.get("dynChannelID")),
        post_count=_int(fields.get("activePostCount")),
        fields=fields,
    )


def parse_alert_xml(body: bytes | str) -> Alert | None:
    """An EventNotificationAlert XML document (any namespace); None if it is something else."""
    root = xml.parse(body)
    if xml.local(root.tag) != "EventNotificationAlert":
        return None
    fields = xml.to_dict(root)
    if not isinstance(fields, dict):
        return None
    ext = fields.get("Extensions")
    if isinstance(ext, dict) and "serialNumber" in ext:
        fields["serialNumber"] = str(ext["serialNumber"]).strip()
    return _alert_from_fields(fields)


def parse_alert_json(body: bytes | str) -> Alert | None:
    """The JSON form newer firmware sends (same field names, sometimes one level down)."""
    doc = json.loads(body)
    if not isinstance(doc, dict):
        return None
    if "eventType" not in doc:
        inner = next((v for v in doc.values() if isinstance(v, dict) and "eventType" in v), None)
        if inner is None:
            return None
        doc = {**{k: v for k, v in doc.items() if not isinstance(v, dict)}, **inner}
    return _alert_from_fields(doc)


def decode_part(part: Part) -> Alert | None:
    """Alert of one multipart part; None for images and anything not an alert.

    Raises ValueError (XmlError, JSONDecodeError) for a broken text part, so the caller can
    count it; images are skipped on purpose (events carry no binary payload).
    """
    ctype = part.content_type
    body = part.body.strip()
    if ctype.startswith("image/") or not body:
        return None
    if "json" in ctype or body[:1] == b"{":
        return parse_alert_json(body)
    if "xml" in ctype or body[:1] == b"<" or not ctype:
        return parse_alert_xml(body)
    return None
