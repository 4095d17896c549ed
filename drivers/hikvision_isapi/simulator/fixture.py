"""Re-serialise the captured devices (xmltodict's dict convention) back to XML.

The captures store XML as dicts (``@attr``, ``#text``, repeated elements as lists), as
``xmltodict.parse`` produced them; ``xmltodict.unparse`` (through the ISAPI kernel) writes
them back, so a replayed path answers the document the device sent.
"""

from __future__ import annotations

from typing import Any

from .. import kernel


def unparse(doc: dict[str, Any]) -> str:
    """XML text of a one-root dict in xmltodict's convention."""
    return kernel.unparse(doc)
