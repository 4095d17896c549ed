"""HikCentral OpenAPI event type codes used for the event subscription and pushes.

The OpenAPI addresses event types by number; the pushes carry only that number. Each code is
mapped to the Hikvision eventType name that :func:`gemhost.eventtypes.normalize` already knows,
so HikCentral events land on the same normalized types (and MQTT topics) as the ISAPI driver's.
Sources and the confidence of each code are listed in docs/drivers/hikcentral.md.
"""

from __future__ import annotations

from gemhost.eventtypes import normalize

# code -> (Hikvision vendor eventType name, human description)
EVENT_CODES: dict[int, tuple[str, str]] = {
    131329: ("videoloss", "Video loss"),
    131330: ("shelteralarm", "Video tampering"),
    131331: ("VMD", "Motion detection"),
    131585: ("linedetection", "Line crossing"),
    131586: ("regionEntrance", "Region entrance"),
    131587: ("regionExiting", "Region exiting"),
    131588: ("fielddetection", "Intrusion"),
}

BY_NAME: dict[str, int] = {name.lower(): code for code, (name, _desc) in EVENT_CODES.items()}


def vendor_name(code: int | str) -> str:
    """The Hikvision eventType for a code; unknown codes pass through as ``hcp_<code>``."""
    try:
        return EVENT_CODES[int(code)][0]
    except (KeyError, TypeError, ValueError):
        return f"hcp_{code}"


def code_for(name_or_code: int | str) -> int:
    """A code from a code or a vendor/normalized name ("motion", "VMD", "131331")."""
    if isinstance(name_or_code, int):
        return name_or_code
    text = str(name_or_code).strip()
    if text.isdigit():
        return int(text)
    lowered = text.lower()
    if lowered in BY_NAME:
        return BY_NAME[lowered]
    for code, (vendor, _desc) in EVENT_CODES.items():
        if normalize(vendor) == lowered:
            return code
    raise ValueError(f"unknown HikCentral event type {text!r}")
