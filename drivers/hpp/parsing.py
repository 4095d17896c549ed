"""Bounded parsers for what the cloud relays: JSON and XML that may be hostile or broken.

Alarm bodies in the HPP queue are written by devices, not by the cloud (guide 3.34:
``alarmData`` is "the alarm data ... when the message format is JSON and XML"), so one body can
be nested thousands of levels deep or declare entities. Nothing here recurses: the XML is read
by the ISAPI kernel (xmltodict over an expat that refuses entities, depth checked while it is
read), JSON depth is checked with an explicit stack, and too deep is a :class:`ValueError` like any
other malformed body. The guide's own examples put stray spaces in keys (``"accessToken "``,
``"subSystemNo "``), so keys are stripped.
"""

from __future__ import annotations

import json
from typing import Any

from gemhost_drivers.hikvision_isapi import kernel

MAX_DEPTH = 32
"""Deeper than any body of the guide (A.3, A.5 nest at most 6 levels) by a wide margin."""


class BodyError(ValueError):
    """A body that is not JSON/XML, too deep, or not the expected shape."""


def load_json(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON, refusing documents nested deeper than ``max_depth``; keys are stripped."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        doc = json.loads(text)
    except RecursionError:
        raise BodyError("JSON nested too deeply") from None
    except ValueError as exc:
        raise BodyError(f"not JSON: {exc}") from None
    return strip_keys(doc, max_depth=max_depth)


def strip_keys(doc: Any, *, max_depth: int = MAX_DEPTH) -> Any:
    """A copy of a JSON value with every object key stripped of spaces (iterative)."""
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any, int]] = [(doc, root, 0, 1)]
    while stack:
        value, parent, slot, depth = stack.pop()
        if depth > max_depth:
            raise BodyError(f"JSON nested deeper than {max_depth} levels")
        if isinstance(value, dict):
            copy: dict[str, Any] = {}
            parent[slot] = copy
            for key, item in value.items():
                name = str(key).strip()
                copy[name] = None
                stack.append((item, copy, name, depth + 1))
        elif isinstance(value, list):
            items: list[Any] = [None] * len(value)
            parent[slot] = items
            for index, item in enumerate(value):
                stack.append((item, items, index, depth + 1))
        else:
            parent[slot] = value
    return root[0]


def load_xml(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> tuple[str, Any]:
    """(root tag, content) of an XML body, read by the ISAPI kernel (the bodies are ISAPI's):
    nested dicts of local tag names, a leaf is its stripped text, repeated tags are lists,
    namespaces dropped. Malformed, hostile or too deep XML is a :class:`BodyError`."""
    try:
        return kernel.load(text, max_depth=max_depth)
    except kernel.XmlError as exc:
        raise BodyError(str(exc)) from None


def as_list(value: Any) -> list[Any]:
    """A repeated XML element or a JSON array as a list (a single element as one item)."""
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]
