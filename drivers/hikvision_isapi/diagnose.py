"""``gemhost diagnose`` for ISAPI: the device's answers in the capture format of the fixtures.

The format is the one of ``../shared/fixtures/isapi-captures/devices/<MODEL>.json`` (from the
tests of hikvision_next): ``{"data": {"ISAPI": {"<path without /ISAPI/>": {"response": <XML
as an xmltodict dict>} | {"status_code": N}}}}``, so a capture a user sends replays in the
simulator with ``--fixture <name> --fixtures-dir <folder>``. The paths are the ones the driver
reads plus the ones those captures hold that describe the device (capabilities, triggers, IO,
storage), and the streaming channels of every channel found. Only GETs; a refused login ends
the capture at once, so it costs at most one failed login. The host removes secrets.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import xmltodict

from gemhost.errors import AuthError

from .client import IsapiClient

PATHS = (
    "System/deviceInfo",
    "System/capabilities",
    "System/Video/inputs/channels",
    "ContentMgmt/InputProxy/channels",
    "ContentMgmt/InputProxy/channels/status",
    "Streaming/channels",
    "System/IO/inputs",
    "System/IO/outputs",
    "ContentMgmt/IOProxy/inputs",
    "Event/triggers",
    "Event/notification/httpHosts",
    "ContentMgmt/Storage",
    "Security/adminAccesses",
    "PTZCtrl/channels",
)
MAX_CHANNELS = 64
"""Streaming entries are captured for at most this many channels (a bounded capture)."""

# (list path, list element, item element, how an item's id maps to a channel number)
_CHANNEL_LISTS = (
    ("ContentMgmt/InputProxy/channels", "InputProxyChannelList", "InputProxyChannel", 1),
    ("System/Video/inputs/channels", "VideoInputChannelList", "VideoInputChannel", 1),
    ("Streaming/channels", "StreamingChannelList", "StreamingChannel", 100),
)


async def capture(client: IsapiClient) -> dict[str, Any]:
    """GET every path and record the answer; returns the capture document."""
    entries: dict[str, Any] = {}
    await _record(client, PATHS, entries)
    channels = sorted(_channels(entries))[:MAX_CHANNELS]
    await _record(client, [f"Streaming/channels/{c}0{stream}" for c in channels for stream in (1, 2)], entries)
    return {"data": {"ISAPI": entries}}


async def _record(client: IsapiClient, paths: Iterable[str], entries: dict[str, Any]) -> None:
    for path in paths:
        entry = await _entry(client, path)
        if entry is not None:
            entries[path] = entry


async def _entry(client: IsapiClient, path: str) -> dict[str, Any] | None:
    """The capture entry of one path; None for a 200 that is not XML (nothing to replay)."""
    reply = await client.request("GET", f"/ISAPI/{path}", check_status=False)
    if reply.status == 401:
        raise AuthError(f"HTTP 401 on GET /ISAPI/{path}: capture stopped to protect the account")
    if reply.status != 200:
        return {"status_code": reply.status}
    try:
        return {"response": xmltodict.parse(reply.body)}  # entity declarations refused (its default)
    except Exception:  # not XML (JSON of newer firmware, a picture)
        return None


def _channels(entries: dict[str, Any]) -> set[int]:
    """Channel numbers named by the channel lists that were captured."""
    found: set[int] = set()
    for path, root, item, divisor in _CHANNEL_LISTS:
        listing = (entries.get(path, {}).get("response") or {}).get(root) or {}
        items = listing.get(item) if isinstance(listing, dict) else None
        for entry in items if isinstance(items, list) else [items] if items else []:
            ident = str(entry.get("id", "")) if isinstance(entry, dict) else ""
            if ident.isdigit() and int(ident) // divisor > 0:
                found.add(int(ident) // divisor)
    return found
