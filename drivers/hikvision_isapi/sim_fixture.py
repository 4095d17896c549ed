"""Re-serialise the captured devices (xmltodict's dict convention) back to XML.

The captures store XML as dicts (``@attr``, ``#text``, repeated elements as lists). Writing
them back here instead of calling ``xmltodict.unparse`` keeps xmltodict a test-only
dependency, so ``gemhost simulate hikvision_isapi --fixture ...`` works on a plain install.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr


def unparse(doc: dict[str, Any]) -> str:
    """XML text of a one-root dict in xmltodict's convention."""
    (root, value), = doc.items()
    return '<?xml version="1.0" encoding="utf-8"?>\n' + _element(root, value)


def _element(name: str, value: Any) -> str:
    if isinstance(value, list):
        return "".join(_element(name, v) for v in value)
    if not isinstance(value, dict):
        text = "" if value is None else escape(str(value))
        return f"<{name}>{text}</{name}>" if text else f"<{name}></{name}>"
    attrs = "".join(f" {k[1:]}={quoteattr(str(v))}" for k, v in value.items() if k.startswith("@"))
    inner = escape(str(value["#text"])) if value.get("#text") is not None else ""
    inner += "".join(_element(k, v) for k, v in value.items() if not k.startswith(("@", "#")))
    return f"<{name}{attrs}>{inner}</{name}>"
