"""The replies of the core's capability commands (gemhost/capability_commands.yaml), built once.

Every driver answers PTZ, snapshot and output commands through these, so the same command
returns the same keys whichever driver serves it (docs/mqtt.md, "Capability commands"). A
driver may add keys of its own (``extra``), never leave one of the contract out.
"""

from __future__ import annotations

import base64
from typing import Any

from gemhost.model import ZoneConfig


def _zone_id(zone: ZoneConfig | None) -> str | None:
    return zone.id if zone is not None else None


def ptz_move(zone: ZoneConfig | None, address: Any, pan: int, tilt: int, zoom: int,
             stop_after_ms: int | None, **extra: Any) -> dict[str, Any]:
    """ptz_pan_tilt, ptz_zoom and ptz_stop: the speeds sent, whether that stopped the head,
    and when the driver's timed stop follows (None: no stop pending)."""
    moving = bool(pan or tilt or zoom)
    return {**extra, "zone": _zone_id(zone), "address": address, "pan": pan, "tilt": tilt, "zoom": zoom,
            "stopped": not moving, "stop_after_ms": stop_after_ms if moving else None}


def ptz_preset(zone: ZoneConfig | None, address: Any, preset: int, **extra: Any) -> dict[str, Any]:
    return {**extra, "zone": _zone_id(zone), "address": address, "preset": preset}


def ptz_relative(zone: ZoneConfig | None, address: Any, pan: int, tilt: int, zoom: int,
                 **extra: Any) -> dict[str, Any]:
    return {**extra, "zone": _zone_id(zone), "address": address, "pan": pan, "tilt": tilt, "zoom": zoom}


def snapshot(content_type: str, picture: bytes, **extra: Any) -> dict[str, Any]:
    """``{"content_type", "base64"}``: the bridge publishes the picture to the zone's snapshot topic."""
    return {**extra, "content_type": content_type, "base64": base64.b64encode(picture).decode("ascii")}


def output(output_id: int, state: str, **extra: Any) -> dict[str, Any]:
    return {"output": output_id, "state": state, **extra}
