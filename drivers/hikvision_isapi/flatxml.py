"""A strict fast reader for the flat EventNotificationAlert, the alertStream's common case.

Most alerts a camera sends (VMD, IO, tamper, video loss, the heartbeat) are one root with a
flat list of ``<name>text</name>`` children. Reading them through the hardened parser
(``kernel.load``: xmltodict on expat, entities refused, a depth check per element) costs tens
of microseconds per alert; at a thousand alerts a second that is a large share of the host's
CPU. This reader takes only a strict subset of XML and hands everything else to the full
parser:

* an optional XML declaration (version 1.0, encoding UTF-8 or none, standalone),
* the root ``EventNotificationAlert`` with plain attributes (``version``, ``xmlns``,
  ``xmlns:prefix``), no namespace prefix on any element,
* children that are leaves without attributes, their text free of ``<``, ``&``, ``]]>`` and
  of the control characters XML forbids, only XML whitespace between them, nothing after
  the root.

So no DOCTYPE, entity, character reference, comment, CDATA or processing instruction ever
reaches this reader's output, nothing is nested, and what it returns is exactly what
``kernel.load`` returns for the same document (text stripped, ``""`` for an empty leaf, line
ends normalised as an XML parser does, a repeated name as a list). Anything else -- a smart
event's nested region list, ``Extensions``, an entity, a broken or hostile part -- returns None
and goes the full way (entities refused, depth limit, repairs, errors counted).
"""

from __future__ import annotations

import re
from typing import Any

ROOT = "EventNotificationAlert"
KNOWN_HEADS = 256
"""Document heads (declaration and root tag) already checked, at most this many: a camera
sends the same head every time, so checking it once per camera is enough."""

_WS = r"[ \t\r\n]*"
_NAME = r"[A-Za-z_][A-Za-z0-9_.-]*"
_FORBIDDEN = r"\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff"
_TEXT = rf"[^<&{_FORBIDDEN}]*"
_VALUE = rf"[^\"'<&{_FORBIDDEN}]*"
_ATTRIBUTE = rf"((?:xmlns:)?{_NAME}){_WS}={_WS}(?:\"({_VALUE})\"|'({_VALUE})')"
_ANY_ATTRIBUTE = rf"(?:xmlns:)?{_NAME}{_WS}={_WS}(?:\"{_VALUE}\"|'{_VALUE}')"
_ENCODING = r"[A-Za-z][A-Za-z0-9._-]*"
_HEAD = re.compile(
    rf"(?:<\?xml[ \t\r\n]+version{_WS}={_WS}(?:\"1\.0\"|'1\.0')"
    rf"(?:[ \t\r\n]+encoding{_WS}={_WS}(?:\"(?P<enc>{_ENCODING})\"|'(?P<enc2>{_ENCODING})'))?"
    rf"(?:[ \t\r\n]+standalone{_WS}={_WS}(?:\"(?:yes|no)\"|'(?:yes|no)'))?{_WS}\?>)?"
    rf"{_WS}<{ROOT}(?P<attrs>(?:[ \t\r\n]+{_ANY_ATTRIBUTE})*){_WS}>")
_CHILD = rf"{_WS}<({_NAME})(?:{_WS}>({_TEXT})</\1{_WS}>|{_WS}/>)"
_BODY = re.compile(rf"(?:{_CHILD})+{_WS}</{ROOT}{_WS}>{_WS}")
_PAIRS = re.compile(_CHILD)
_ATTRIBUTES = re.compile(_ATTRIBUTE)
_UTF8 = ("utf-8", "utf8")
_known_heads: set[str] = set()


def flat_alert_fields(doc: bytes) -> dict[str, Any] | None:
    """The fields of a flat EventNotificationAlert, or None when ``doc`` is not one in the
    strict form above (the caller then parses it fully)."""
    try:
        text = doc.decode("utf-8")
    except UnicodeDecodeError:
        return None
    root = text.find("<" + ROOT)
    if root < 0:
        return None
    head = text[: text.find(">", root) + 1]
    if head not in _known_heads and not _good_head(head):
        return None
    body = text[len(head):]
    if "]]>" in body or _BODY.fullmatch(body) is None:
        return None
    pairs = _PAIRS.findall(body)
    if "\r" in body:  # an XML parser reads CRLF and a lone CR as LF
        pairs = [(name, value.replace("\r\n", "\n").replace("\r", "\n")) for name, value in pairs]
    fields = {name: value.strip() for name, value in pairs}
    if len(fields) != len(pairs):  # a repeated name: a list, as kernel.load makes it
        fields = {}
        for name, value in pairs:
            value = value.strip()
            previous = fields.get(name)
            if previous is None:
                fields[name] = value
            elif isinstance(previous, list):
                previous.append(value)
            else:
                fields[name] = [previous, value]
    return fields


def _good_head(head: str) -> bool:
    """Declaration and root tag in the strict form: UTF-8, each attribute once, no empty
    ``xmlns:prefix`` (a parser refuses both). Remembered when good."""
    match = _HEAD.fullmatch(head)
    if match is None:
        return False
    encoding = match.group("enc") or match.group("enc2")
    if encoding is not None and encoding.lower() not in _UTF8:
        return False
    pairs = [(name, double or single) for name, double, single in _ATTRIBUTES.findall(match.group("attrs"))]
    names = {name for name, _ in pairs}
    if len(names) != len(pairs) or any(name.startswith("xmlns:") and not value for name, value in pairs):
        return False
    if len(_known_heads) >= KNOWN_HEADS:
        _known_heads.clear()
    _known_heads.add(head)
    return True
