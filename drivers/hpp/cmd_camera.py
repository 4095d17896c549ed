"""Camera / recorder commands: the ISAPI URIs guide A.4 lists for them, relays (the core's
set_output, panels included), recordings (3.52) and event subscription (3.33).

Argument names match the hikvision_isapi driver (pan, tilt, zoom -100..100, duration in ms,
preset) so a consumer moves a camera the same way whether it is on the LAN or behind HPP.
Live view, playback and snapshots are not among them: the guide sends video through HPNetSDK
(2.7) and lists no picture URI, so those commands are declared unsupported in the schema.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from gemhost_drivers.hpp import transparent
from gemhost_drivers.hpp.address import SUBSYSTEM, whole_device

from gemhost import capability_replies, outputs
from gemhost.errors import InvalidArgs
from gemhost.model import ZoneConfig

if TYPE_CHECKING:
    from gemhost_drivers.hpp.driver import HppDriver

REC_TYPES = {"auto": 0, "cloud": 1, "local": 2}  # 3.52 recType
FILE_TYPES = {"0": "alarm", "1": "timing", "2": "io"}  # 3.52 localType


def _millis(value: str | None, what: str) -> int | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgs(f"{what}: {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()
    return int(parsed.timestamp() * 1000)


def _iso(millis: Any) -> str | None:
    try:
        return dt.datetime.fromtimestamp(int(millis) / 1000, dt.UTC).astimezone().isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError, OSError):
        return None


class CameraCommands:
    """Mixin of :class:`HppDriver`; ``self`` is the driver."""

    async def _ptz(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None, pan: int, tilt: int,
                   zoom: int) -> dict[str, Any]:
        """A.4.6 continuous move (or stop); a ``duration`` stops it later through the core's
        timed stops (the command answers as soon as the move is sent)."""
        address = self.target(args, zone)
        await self.device_row(address.serial, "encoding")
        key = f"{address.serial}:{address.channel}"
        self._timers.cancel(key)  # a new move supersedes a pending stop
        await self.isapi(address.serial, "PUT", f"ISAPI/PTZCtrl/channels/{address.channel}/continuous",
                         xml=transparent.ptz_data(pan, tilt, zoom))
        moving = bool(pan or tilt or zoom)
        duration = args.get("duration") if moving else None
        serial, channel = address.serial, address.channel
        self._timers.schedule(
            key, duration,
            lambda: self.isapi(serial, "PUT", f"ISAPI/PTZCtrl/channels/{channel}/continuous",
                               xml=transparent.ptz_data()),
            f"PTZ stop after {duration} ms on {key}")
        return {"address": str(address), "pan": pan, "tilt": tilt, "zoom": zoom, "stopped": not moving,
                "stop_after_ms": duration}

    async def cmd_ptz_pan_tilt(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        return capability_replies.reply("ptz_pan_tilt", **await self._ptz(args, zone, int(args["pan"]),
                                                                          int(args["tilt"]), 0))

    async def cmd_ptz_zoom(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        return capability_replies.reply("ptz_zoom", **await self._ptz(args, zone, 0, 0, int(args["zoom"])))

    async def cmd_ptz_stop(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        return capability_replies.reply("ptz_stop", **await self._ptz(args, zone, 0, 0, 0))

    async def cmd_ptz_preset(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        """A.4.9 goto a preset."""
        address = self.target(args, zone)
        await self.device_row(address.serial, "encoding")
        preset = int(args["preset"])
        self._timers.cancel(f"{address.serial}:{address.channel}")  # a late stop would halt the preset move
        await self.isapi(address.serial, "PUT", f"ISAPI/PTZCtrl/channels/{address.channel}/presets/{preset}/goto")
        return capability_replies.reply("ptz_preset", address=str(address), preset=preset)

    async def cmd_set_output(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        """The core's outputs command: a relay of a camera/recorder (A.4.22 IO trigger) or of an
        AX PRO (A.4.15 control/outputs), read again after each switch (A.4.17 / A.4.20-21) when
        the device has a device zone; a pulse is on, then off after it (gemhost.outputs)."""
        address = whole_device(self.target(args, zone), "set_output")
        row = await self.device_row(address.serial)
        if not row.is_alarm_host and not row.is_encoding:
            await self.device_row(address.serial, "encoding")  # raises NotSupported naming the type
        serial = address.serial

        async def switch(output: int, on: bool) -> None:
            if row.is_alarm_host:
                await self.isapi(serial, "POST", "ISAPI/SecurityCP/control/outputs?format=json",
                                 json_body=transparent.outputs_ctrl(on, [output]))
            else:
                await self.isapi(serial, "PUT", f"ISAPI/System/IO/outputs/{output}/trigger",
                                 xml=transparent.io_port_data(on))
            await self.refresh_outputs(serial)  # the device zone's output_states show it at once

        return await outputs.set_output(args, switch, self._timers, f"output-{serial}:{args['output']}",
                                        address=serial)

    async def cmd_list_recordings(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        """3.52 video/by/time: the recorded files of a channel (metadata only; no stream)."""
        address = self.target(args, zone)
        await self.device_row(address.serial, "encoding")
        start, end = _millis(args.get("start"), "start"), _millis(args.get("end"), "end")
        if start is not None and end is not None and end < start:
            raise InvalidArgs("end is before start")
        rows = await self.client.recordings(address.serial, address.channel, start, end,
                                            REC_TYPES[args.get("source", "auto")])
        source = {v: k for k, v in REC_TYPES.items()}
        return {
            "address": str(address),
            "recordings": [
                {"start": _iso(r.get("startTime")), "end": _iso(r.get("endTime")),
                 "type": FILE_TYPES.get(str(r.get("localType", "")).strip(), str(r.get("localType"))),
                 "source": source.get(r.get("recType"), r.get("recType")),
                 "encrypted": None if r.get("crypt") is None else bool(r.get("crypt"))}
                for r in rows
            ],
        }

    async def cmd_arm(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        """Arm = subscribe the device's alarms in the cloud (3.33; HCP's arming of HPP cameras)."""
        address = whole_device(self.target(args, zone), "arm")
        await self.device_row(address.serial)
        await self.client.subscribe([address.serial], True)
        self.set_row(address.serial, subscribed=True)
        return {"serial": address.serial, "subscribed": True}

    async def cmd_disarm(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        """Disarm a panel (SERIAL:sub:N, or SERIAL for every partition); unsubscribe a camera's alarms."""
        address = self.target(args, zone)
        row = await self.device_row(address.serial)
        if address.kind == SUBSYSTEM or row.is_alarm_host:
            return await self.panel_action(address, "disarm")
        whole_device(address, "disarm of a camera")  # the cloud unsubscribes by serial: all channels
        await self.client.subscribe([address.serial], False)
        self.set_row(address.serial, subscribed=False)
        return {"serial": address.serial, "subscribed": False}
