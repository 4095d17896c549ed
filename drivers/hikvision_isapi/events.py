"""alertStream framing and EventNotificationAlert decoding.

``GET /ISAPI/Event/notification/alertStream`` answers ``multipart/mixed; boundary=<b>`` and
never ends: each part has its own headers (``Content-Type``, usually ``Content-Length``) and
is an EventNotificationAlert in XML, on newer firmware sometimes JSON, and after smart events
one or more image parts. The parser is incremental, bounded in memory, and treats anything
malformed (a truncated part, a wrong Content-Length, garbage) as a part to drop, never as a
reason to crash or to lose the parts that follow.

Real streams are untidy (docs/drivers/hikvision_isapi.md, "Events", cites each case): a part
may hold two alert documents, a ``channelName`` with a raw ``&``, a ``dateTime`` without the
sign of its UTC offset, a header boundary that differs from the one the parts use. The
decoder reads what can be read, drops only what cannot, and counts both in ``DecodeStats``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any

from gemhost.eventtypes import normalize
from gemhost.model import now
from gemhost.values import int_or_none

from . import kernel
from .assumptions import NAIVE_TIME_IS_HOST_LOCAL
from .flatxml import flat_alert_fields

MAX_PART = 4 * 1024 * 1024
"""A part larger than this is dropped (a snapshot part is well below it)."""
MAX_DEPTH = 32
"""Deepest nesting accepted in an alert; real ones are 5 levels deep (DetectionRegionList)."""
DEFAULT_BOUNDARY = "boundary"
"""What Hikvision firmware uses; some firmware declares another boundary in the header and
still delimits its parts with ``--boundary`` (pyHik issue #10), so both are accepted."""

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


def boundary_of(content_type: str) -> str:
    """The multipart boundary of a Content-Type; Hikvision's default is ``boundary``."""
    match = _BOUNDARY.search(content_type or "")
    return match.group(1).strip() if match else DEFAULT_BOUNDARY


@dataclass(slots=True)
class Part:
    headers: dict[str, str]
    body: bytes
    content_type: str = field(init=False)
    """The media type alone, lower-cased (the decoder asks twice a part)."""

    def __post_init__(self) -> None:
        self.content_type = self.headers.get("content-type", "").split(";")[0].strip().lower()


class MultipartParser:
    """Feed bytes as they arrive; get back the complete parts."""

    def __init__(self, boundary: str, max_part: int = MAX_PART) -> None:
        names = dict.fromkeys([boundary, DEFAULT_BOUNDARY])
        self.delimiters = [b"--" + name.encode("latin-1") for name in names]
        self.max_part = max_part
        self.buf = bytearray()
        self.dropped = 0
        """Parts (or garbage) discarded because they were truncated or oversized."""
        self._longest = max(len(d) for d in self.delimiters)
        self._shortest = min(len(d) for d in self.delimiters)
        self._tidy = _tidy_part_head(self.delimiters)

    def _find(self, start: int = 0, end: int | None = None) -> tuple[int, int]:
        """(position, length) of the earliest delimiter at or after ``start``, or (-1, 0)."""
        best = (-1, 0)
        for delim in self.delimiters:
            pos = self.buf.find(delim, start, end if end is not None else len(self.buf))
            if pos >= 0 and (best[0] < 0 or pos < best[0]):
                best = (pos, len(delim))
        return best

    def feed(self, data: bytes) -> list[Part]:
        self.buf += data
        parts: list[Part] = []
        while len(self.buf) >= self._shortest:  # shorter than any delimiter: nothing to find
            part = self._next_tidy()
            if part is not None:
                parts.append(part)
                continue
            part, progressed = self._next()
            if part is not None:
                parts.append(part)
            if not progressed:
                break
        if len(self.buf) > self.max_part + 1024:
            # A part that never completes: forget it, resynchronise on the next delimiter.
            self.dropped += 1
            cut, _ = self._find(1)
            del self.buf[: cut if cut > 0 else len(self.buf) - self._longest]
        return parts

    def _next_tidy(self) -> Part | None:
        """The next part when it is complete and tidy, as firmware writes nearly every part:
        delimiter line, ``Name: value`` header lines, a blank line, ``Content-Length`` bytes
        with no delimiter among them (``_tidy_part_head``). One match instead of the state
        machine's several searches; for anything else None, and :meth:`_next` reads it (the
        same result: ``tests/drivers/hikvision_isapi/test_isapi_parse.py`` compares both)."""
        buf = self.buf
        match = self._tidy.match(buf)
        if match is None:
            return None
        headers = _headers(match.group(1))
        length = headers.get("content-length")
        if not length or not length.isdigit():
            return None
        head_start, body_start = match.start(1), match.end()
        end = body_start + int(length)
        if end > len(buf):
            return None
        for delim in self.delimiters:
            if buf.find(delim, head_start, match.end(1)) >= 0 or buf.find(delim, body_start, end + len(delim) - 1) >= 0:
                return None
        body = bytes(buf[body_start:end])
        del buf[:end]
        return Part(headers, body)

    def _next(self) -> tuple[Part | None, bool]:  # noqa: C901 - one framing state machine
        start, dlen = self._find()
        if start < 0:
            # Keep only a tail that may be the start of a delimiter.
            keep = self._longest + 2
            if len(self.buf) > keep:
                del self.buf[: len(self.buf) - keep]
            return None, False
        if start > 0:
            del self.buf[:start]
        line_end = self.buf.find(b"\n")
        if line_end < 0:
            return None, False
        after = bytes(self.buf[dlen: line_end]).strip()
        if after.startswith(b"--"):  # closing delimiter
            del self.buf[: line_end + 1]
            return None, True
        if after:  # "--boundaryX": not a delimiter line after all
            del self.buf[:dlen]
            return None, True
        nxt_line, _ = self._find(line_end + 1)
        if nxt_line == line_end + 1:
            # Two delimiter lines in a row (firmware bug seen in the wild): an empty part.
            del self.buf[: line_end + 1]
            return None, True
        head_end, sep_len = _find_blank_line(self.buf, line_end + 1)
        if head_end < 0:
            if nxt_line > 0:  # headers never finished: truncated part
                self.dropped += 1
                del self.buf[:nxt_line]
                return None, True
            return None, False
        inner, _ = self._find(line_end + 1, head_end)
        if inner > 0:  # a delimiter inside the header block: the headers were cut short
            self.dropped += 1
            del self.buf[:inner]
            return None, True
        headers = _headers(bytes(self.buf[line_end + 1: head_end]))
        body_start = head_end + sep_len
        nxt, _ = self._find(body_start)
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


def _tidy_part_head(delimiters: list[bytes]) -> re.Pattern[bytes]:
    """The start of a tidy part at the head of the buffer: an optional CRLF (the end of the
    part before), a delimiter line, one or more ``Name: value`` lines, the blank line; group 1
    is the header lines. Names start with an alphanumeric, so no header line is a delimiter
    line, and no line holds a lone CR or LF, so the blank line found is the first one."""
    delimiter = b"|".join(re.escape(d) for d in delimiters)
    return re.compile(rb"(?:\r\n)?(?:" + delimiter + rb")\r\n((?:[A-Za-z0-9][A-Za-z0-9-]*:[^\r\n]*\r\n)+)\r\n")


HEADER_CACHE = 512
"""Header blocks remembered with their parsed form: a camera repeats the same few."""
_header_cache: dict[bytes, dict[str, str]] = {}


def _headers(block: bytes | bytearray) -> dict[str, str]:
    """A part's headers by lower-cased name (each part gets its own dict)."""
    key = bytes(block)
    known = _header_cache.get(key)
    if known is not None:
        return dict(known)
    out = {}
    for line in key.decode("latin-1").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip().lower()] = value.strip()
    if len(_header_cache) >= HEADER_CACHE:
        _header_cache.clear()
    _header_cache[key] = out
    return dict(out)


# ---------------------------------------------------------------- alerts

ACCESS_CONTROL_TYPE = "accesscontrollerevent"
"""JSON alerts of access-control terminals: one per card swipe / face / fingerprint."""


@dataclass(slots=True)
class Alert:
    """One decoded EventNotificationAlert, still in vendor terms.

    ``state`` is what the device said, in the core's vocabulary: ``active`` (a start or a
    repeat), ``inactive`` (an end), ``pulse`` (an instantaneous event such as a card swipe).
    ``key`` tells sub-conditions of one channel and type apart (the detection region of a
    smart event, the input port of an IO alarm); None means "the channel as a whole", and
    an ``inactive`` with key None ends every open condition of that channel and type.
    """

    event_type: str
    """The vendor eventType (for ``duration`` alerts, the relationEvent)."""
    state: str
    time: dt.datetime
    channel_id: int | None = None
    dyn_channel_id: int | None = None
    post_count: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    key: str | None = None
    event_id: str | None = None
    """The vendor's own id of the event (AccessControllerEvent ``serialNo``), when it has one."""
    follow_up: bool = False
    """A ``duration``/``relationEvent`` part: it continues a region alert, it does not start one."""
    time_raw: str | None = None
    """The device's ``dateTime`` when it could not be read as a timestamp (``time`` is then
    the time of reception)."""
    nested: dict[str, Any] = field(default_factory=dict)
    """The event's own object of a JSON alert (``AccessControllerEvent`` etc.), published whole."""
    repaired: bool = False
    """The document was read only after escaping raw ``&`` characters."""

    @property
    def normalized(self) -> str:
        return normalize(self.event_type)

    @property
    def heartbeat(self) -> bool:
        """The periodic keep-alive of the stream, not an event: ``videoloss``/``inactive``
        (cameras and NVRs), or an ``inactive`` alert described "Heartbeat" (door stations,
        hikvision-camera-bot issue #50)."""
        if self.state != "inactive":
            return False
        described = str(self.fields.get("eventDescription") or "").strip().lower()
        return self.event_type.lower() == "videoloss" or described == "heartbeat"

    def data(self) -> dict[str, Any]:
        """Vendor fields worth publishing (no addresses of other hosts)."""
        keep = ("eventDescription", "channelName", "inputIOPortID", "activePostCount",
                "detectionTarget", "regionID", "relationEvent", "isDataRetransmission",
                "detectionPicturesNumber", "serialNumber", "macAddress")
        fields = self.fields
        out = {k: fields[k] for k in keep if fields.get(k) not in (None, "", {})}
        if "DetectionRegionList" in fields or "targetType" in fields:  # smart events only
            target = _target(fields)
            if target:
                out["detectionTarget"] = target
            region = _region(fields)
            if region:
                out["regionID"] = region
        if self.nested:
            out.update(self.nested)
        if self.time_raw is not None:
            out["device_time"] = self.time_raw
            out["time_source"] = "received"
        return out


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _region_entry(fields: dict[str, Any]) -> dict[str, Any]:
    lst = fields.get("DetectionRegionList")
    entry = _first(lst.get("DetectionRegionEntry")) if isinstance(lst, dict) else None
    return entry if isinstance(entry, dict) else {}


def _text_or_none(value: Any) -> str | None:
    """A field as stripped text; None for absent or empty (``<regionID></regionID>``)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value).strip() or None


def _region(fields: dict[str, Any]) -> str | None:
    return _text_or_none(_region_entry(fields).get("regionID"))


def _target(fields: dict[str, Any]) -> str | None:
    return _region_entry(fields).get("detectionTarget") or fields.get("targetType") or None


def parse_time(value: Any) -> tuple[dt.datetime, str | None]:
    """(timestamp, None) for a readable ``dateTime`` (``kernel.read_time``), else (time of
    reception, the raw text), so the published event shows what the device said."""
    parsed = kernel.read_time(value)
    if parsed is None:
        return now(), (value.strip() or None) if isinstance(value, str) else None
    if parsed.tzinfo is None and NAIVE_TIME_IS_HOST_LOCAL:
        parsed = parsed.astimezone()
    return parsed, None


def _condition_key(vendor_lower: str, fields: dict[str, Any]) -> str | None:
    if vendor_lower == "io":
        return _text_or_none(fields.get("inputIOPortID")) or _text_or_none(fields.get("dynInputIOPortID"))
    return _region(fields)


def _relation(fields: dict[str, Any]) -> str | None:
    duration = fields.get("DurationList")
    entry = _first(duration.get("Duration")) if isinstance(duration, dict) else None
    return _text_or_none(entry.get("relationEvent")) if isinstance(entry, dict) else None


def alert_from_fields(fields: dict[str, Any], nested: dict[str, Any] | None = None) -> Alert | None:
    """The Alert of one document's fields (XML or JSON alike); None without an event type."""
    vendor = str(fields.get("eventType") or "").strip()
    relation = _relation(fields) if "DurationList" in fields else None
    follow_up = relation is not None and (not vendor or vendor.lower() in ("duration", relation.lower()))
    if follow_up:
        # "duration" parts say an ongoing smart event still lasts; the event is the relation.
        fields = {**fields, "relationEvent": relation}
        vendor = str(relation)
    if not vendor:
        return None
    vendor_lower = vendor.lower()
    time, time_raw = parse_time(fields.get("dateTime"))
    said = str(fields.get("eventState") or "active").strip().lower()
    state = "inactive" if said == "inactive" else "active"
    event_id = None
    if vendor_lower == ACCESS_CONTROL_TYPE:
        state = "pulse"
        serial = (nested or {}).get("serialNo")
        event_id = str(serial) if serial not in (None, "") else None
    return Alert(
        event_type=vendor, state=state, time=time, time_raw=time_raw,
        channel_id=int_or_none(fields.get("channelID")), dyn_channel_id=int_or_none(fields.get("dynChannelID")),
        post_count=int_or_none(fields.get("activePostCount")), fields=fields,
        key=_condition_key(vendor_lower, fields), event_id=event_id, follow_up=follow_up,
        nested=dict(nested) if nested else {},
    )


# ---------------------------------------------------------------- documents of a part

_ALERT_DOC = re.compile(rb"<(?:[\w.-]+:)?EventNotificationAlert\b.*?</(?:[\w.-]+:)?EventNotificationAlert\s*>",
                        re.DOTALL)
_RAW_AMP = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);)")


class PartError(ValueError):
    """A text part of which nothing could be read."""


def _xml_fields(doc: bytes) -> dict[str, Any] | None:
    fields = flat_alert_fields(doc)  # the common flat alert, read strictly (flatxml.py)
    if fields is not None:
        return fields
    tag, fields = kernel.load(doc, max_depth=MAX_DEPTH)
    if tag != "EventNotificationAlert" or not isinstance(fields, dict):
        return None
    ext = fields.get("Extensions")
    if isinstance(ext, dict) and "serialNumber" in ext:
        fields["serialNumber"] = str(ext["serialNumber"]).strip()
    return fields


def parse_alert_xml(body: bytes | str, failures: list[str] | None = None) -> list[Alert]:
    """The EventNotificationAlerts of an XML part (any namespace); [] if it holds something else.

    Repairs what real firmware gets wrong: two documents in one part (each is read), and a
    raw ``&`` in free text such as ``channelName`` (hikvision_next escapes it too). Raises
    PartError when no document could be read at all; when only some could, the reasons of
    the others are appended to ``failures``.
    """
    raw = body.encode("utf-8") if isinstance(body, str) else body
    # A root's name appears twice in one document (open and close tag): look for several
    # documents only when it appears more often.
    found = [m.group(0) for m in _ALERT_DOC.finditer(raw)] if raw.count(b"EventNotificationAlert") > 2 else []
    docs = found if len(found) > 1 else [raw]  # one document keeps its XML declaration
    alerts: list[Alert] = []
    failures = failures if failures is not None else []
    for doc in docs:
        try:
            fields, repaired = _read_xml_doc(doc)
        except PartError as exc:
            failures.append(str(exc))
            continue
        alert = alert_from_fields(fields) if fields is not None else None
        if alert is not None:
            alert.repaired = repaired
            alerts.append(alert)
    if failures and not alerts:
        raise PartError("; ".join(failures))
    return alerts


def _read_xml_doc(doc: bytes) -> tuple[dict[str, Any] | None, bool]:
    """(fields, repaired) of one XML document."""
    try:
        return _xml_fields(doc), False
    except kernel.XmlError as first:
        repaired = _RAW_AMP.sub(b"&amp;", doc)
        if repaired == doc:
            raise PartError(str(first)) from None
        try:
            return _xml_fields(repaired), True
        except kernel.XmlError:
            raise PartError(str(first)) from None


def _json_depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((c, level + 1) for c in children if isinstance(c, (dict, list)))
    return deepest


def _json_docs(text: str) -> list[Any]:
    """Every JSON value of a part (firmware may concatenate two)."""
    decoder = json.JSONDecoder()
    docs, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return docs
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except RecursionError:
            raise PartError("JSON nested too deeply") from None
        except json.JSONDecodeError as exc:
            if not docs:
                raise PartError(f"malformed JSON: {exc}") from None
            return docs
        docs.append(doc)


def parse_alert_json(body: bytes | str) -> list[Alert]:
    """The JSON form newer firmware sends (same field names; the event's own object, e.g.
    ``AccessControllerEvent``, one level down, published whole)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    alerts = []
    for doc in _json_docs(text):
        if not isinstance(doc, dict):
            continue
        if _json_depth(doc) > MAX_DEPTH:
            raise PartError(f"JSON alert nested deeper than {MAX_DEPTH} levels")
        alert = _alert_from_json(doc)
        if alert is not None:
            alerts.append(alert)
    return alerts


def _alert_from_json(doc: dict[str, Any]) -> Alert | None:
    if "eventType" not in doc:
        inner = next((v for v in doc.values() if isinstance(v, dict) and "eventType" in v), None)
        if inner is None:
            return None
        doc = {**{k: v for k, v in doc.items() if not isinstance(v, dict)}, **inner}
    vendor = str(doc.get("eventType") or "")
    nested = next((v for k, v in doc.items() if isinstance(v, dict) and k.lower() == vendor.lower()), None)
    return alert_from_fields(doc, nested)


def decode_part(part: Part, failures: list[str] | None = None) -> list[Alert]:
    """Alerts of one multipart part; [] for images and anything that is not an alert.

    Raises PartError for a text part of which nothing could be read, so the caller can
    count it; a document of a multi-document part that could not be read is appended to
    ``failures``. Images are skipped on purpose (events carry no binary payload).
    """
    ctype = part.content_type
    body = part.body.strip()
    if ctype.startswith("image/") or not body:
        return []
    if "json" in ctype or body[:1] == b"{":
        return parse_alert_json(body)
    if "xml" in ctype or body[:1] == b"<" or not ctype:
        return parse_alert_xml(body, failures)
    return []


# ---------------------------------------------------------------- the decoder of one stream


PROBLEMS = ("dropped", "truncated", "repaired", "unreadable_time", "multi_document", "unhandled")
"""Counters worth a device-state update; the routine ones (parts, alerts, images) are not."""


@dataclass
class DecodeStats:
    """What a stream's decoder saw. ``problems()`` is published in the device state as
    ``alert_parts``: parts dropped (unreadable, hostile) or truncated (framing), documents
    repaired (raw ``&``), alerts whose dateTime could not be read, parts holding several
    documents, alerts the driver failed to handle."""

    counts: Counter = field(default_factory=Counter)
    problem_count: int = 0
    """How many problems were noted in all: the driver republishes the tally only when this
    moved (comparing one number per chunk, not the whole tally)."""

    def problem(self, name: str, n: int = 1) -> None:
        """Count ``n`` of one of :data:`PROBLEMS`."""
        self.counts[name] += n
        self.problem_count += n

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))

    def problems(self) -> dict[str, int]:
        return {k: self.counts[k] for k in PROBLEMS if self.counts[k]}


class AlertDecoder:
    """Parts in, alerts out, for one device's alertStream.

    Besides decoding it remembers the detection region of each channel's last smart event,
    so a ``duration`` follow-up part (which names no region) continues that condition
    instead of opening a second one.
    """

    MEMORY = 1024

    def __init__(self) -> None:
        self.stats = DecodeStats()
        self.last_error = ""
        """Why the last dropped part could not be read (for the debug log)."""
        self._regions: OrderedDict[tuple, str | None] = OrderedDict()
        self._seen_ids: OrderedDict[str, None] = OrderedDict()

    def decode(self, part: Part) -> list[Alert]:
        """Alerts of a part; a part that cannot be read (or is hostile) costs only itself."""
        counts = self.stats.counts
        counts["parts"] += 1
        failures: list[str] = []
        try:
            alerts = decode_part(part, failures)
        except Exception as exc:  # any unreadable or hostile part costs only itself
            self.stats.problem("dropped")
            self.last_error = str(exc)[:200]
            return []
        if failures:
            self.stats.problem("dropped", len(failures))
            self.last_error = failures[-1][:200]
        if part.content_type.startswith("image/"):
            counts["images"] += 1
        alerts = [a for a in alerts if not self._duplicate(a)]
        for alert in alerts:
            counts["alerts"] += 1
            if alert.time_raw is not None:
                self.stats.problem("unreadable_time")
            if alert.repaired:
                self.stats.problem("repaired")
            self._remember(alert)
        if len(alerts) > 1:
            self.stats.problem("multi_document")
        return alerts

    def _duplicate(self, alert: Alert) -> bool:
        """An alert whose vendor id was seen lately (a terminal re-sending after a reconnect)."""
        if alert.event_id is None:
            return False
        if alert.event_id in self._seen_ids:
            self.stats.counts["duplicate"] += 1
            return True
        self._seen_ids[alert.event_id] = None
        while len(self._seen_ids) > self.MEMORY:
            self._seen_ids.popitem(last=False)
        return False

    def _remember(self, alert: Alert) -> None:
        where = (alert.channel_id, alert.dyn_channel_id, alert.event_type.lower())
        if alert.follow_up:
            alert.key = self._regions.get(where)
            return
        if alert.state == "inactive" and alert.key is None:
            self._regions.pop(where, None)
        elif alert.key is not None:
            self._regions[where] = alert.key
            self._regions.move_to_end(where)
            while len(self._regions) > self.MEMORY:
                self._regions.popitem(last=False)
