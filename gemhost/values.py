"""Reading numbers out of untrusted device and cloud documents, one way for every driver.

Vendors send a number as a JSON number, as a string (often padded: ``" 3"``), or leave it out;
XML and xmltodict give text only. A field that is not a whole number must cost only itself, so
readers get None instead of an exception and decide what a missing value means.
"""

from __future__ import annotations

from typing import Any


def int_or_none(value: Any) -> int | None:
    """``value`` as an int when its text is a whole number (``3``, ``"3"``, ``" 3 "``), else
    None (None, ``""``, ``"3.5"``, ``3.5``, ``True``, a dict, ...)."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
