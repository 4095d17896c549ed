"""The replies of the core's capability commands (gemhost/capability_commands.yaml), checked once.

Every driver answers PTZ, snapshot and output commands through :func:`reply`, which refuses an
answer that lacks a key the fragment declares for the command, so the same command returns the
same keys whichever driver serves it (docs/mqtt.md, "Capability commands"). A driver adds the
target in its own words (``channel``, ``camera``, ``address``) and any keys of its own.
"""

from __future__ import annotations

import base64
from typing import Any

from gemhost.schema import shared_commands


def reply(command: str, /, **fields: Any) -> dict[str, Any]:
    """``fields`` as the command's answer (a field may be named ``command`` too); a missing
    declared key is a driver bug (ValueError)."""
    declared = shared_commands()["commands"][command].get("reply") or {}
    missing = [k for k in declared if k not in fields]
    if missing:
        raise ValueError(f"the {command} reply lacks {', '.join(missing)} (gemhost/capability_commands.yaml)")
    return fields


def snapshot(content_type: str, picture: bytes, **extra: Any) -> dict[str, Any]:
    """``{"content_type", "base64"}``: the bridge publishes the picture to the zone's snapshot topic."""
    return reply("snapshot", **extra, content_type=content_type,
                 base64=base64.b64encode(picture).decode("ascii"))
