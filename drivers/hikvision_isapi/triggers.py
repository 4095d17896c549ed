"""Which event types each channel can raise, from ``/ISAPI/Event/triggers``.

Every real device lists one EventTrigger per event type and channel (the captures of
../shared/fixtures/isapi-captures: cameras name the channel in ``videoInputChannelID`` /
``dynVideoInputChannelID``, NVRs in ``dynVideoInputChannelID``). The driver publishes the
result as each zone's ``event_types`` so subscribers and Home Assistant discovery know the
sensors of a channel before anything fires.
"""

from __future__ import annotations

from typing import Any

from gemhost.eventtypes import normalize

from .assumptions import IO_PROXY_STRIDE

DEVICE_LEVEL = frozenset({"diskfull", "diskerror", "nicbroken", "ipconflict", "illaccess", "videomismatch",
                          "badvideo", "recordingfailure", "storagedetection", "hdbadblock", "poepowerexception"})
"""Exception events of the device itself; a camera lists them with ``videoInputChannelID`` 1,
which is not a statement about its video channel."""


def _channel_of(trigger: dict[str, Any]) -> int | None:
    if trigger.get("channel"):
        return int(trigger["channel"])
    port = trigger.get("io_port")
    if trigger["event_type"].lower() == "io" and port and port >= IO_PROXY_STRIDE:
        return port // IO_PROXY_STRIDE
    return None


def event_types(triggers: list[dict[str, Any]], *, pir: bool | None = None) -> tuple[dict[int, list[str]], list[str]]:
    """({channel: sorted normalized types}, sorted device-level types) of the trigger list.

    ``pir`` is ``WLAlarmCap/isSupportPIR`` of System/capabilities when the device has it:
    firmware lists a PIR trigger on cameras without the sensor, as hikvision_next notes.
    """
    per_channel: dict[int, set[str]] = {}
    device: set[str] = set()
    for trig in triggers:
        vendor = trig["event_type"]
        if vendor.lower() == "pir" and pir is False:
            continue
        kind = normalize(vendor)
        channel = _channel_of(trig)
        if vendor.lower() in DEVICE_LEVEL or channel is None:
            device.add(kind)
        else:
            per_channel.setdefault(channel, set()).add(kind)
    return {ch: sorted(kinds) for ch, kinds in sorted(per_channel.items())}, sorted(device)
