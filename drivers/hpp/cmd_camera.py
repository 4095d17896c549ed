"""Camera / encoding-device commands, over the cloud (stream addresses) or ISAPI passed through it.

Argument names match the hikvision_isapi driver (pan, tilt, zoom -100..100, duration in ms,
preset) so a consumer moves a camera the same way whether it is on the LAN or behind HPP.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from typing import TYPE_CHECKING, Any

from gemhost_drivers.hpp.address import SUBSYSTEM, target, whole_device

from gemhost.errors import DeviceError, InvalidArgs, one_line
from gemhost.model import ZoneConfig

if TYPE_CHECKING:
    from gemhost_drivers.hpp.driver import HppDriver

ENCODING, ALARM = "encodingDevice", "alarmDevice"
UNLICENSED_LIMIT = 300  # seconds a stream runs without an HPP camera licence


def _ptz_xml(pan: int = 0, tilt: int = 0, zoom: int = 0) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><PTZData><pan>{pan}</pan><tilt>{tilt}</tilt>'
        f"<zoom>{zoom}</zoom></PTZData>"
    )


class CameraCommands:
    """Mixin of :class:`HppDriver`; ``self`` is the driver."""

    async def cmd_snapshot(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        address = target(args, zone)
        await self.device_row(address.serial, ENCODING)
        stream = 2 if (zone and zone.attributes.get("stream") == "sub") else 1
        ctype, raw = await self.client.transparent(
            address.serial, "GET", f"ISAPI/Streaming/channels/{address.channel}0{stream}/picture"
        )
        if not ctype.startswith("image/") or not raw:
            raise DeviceError(f"{address.serial} sent no picture for channel {address.channel}")
        return {"content_type": ctype.split(";")[0], "base64": base64.b64encode(raw).decode()}

    async def cmd_get_stream_url(
        self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None
    ) -> dict[str, Any]:
        address = target(args, zone)
        row = await self.device_row(address.serial, ENCODING)
        kind = args.get("type", "live")
        if kind == "playback" and not (args.get("start") and args.get("end")):
            raise InvalidArgs("playback needs start and end (ISO 8601 times)")
        data = await self.client.video_address(
            address.serial,
            address.channel,
            kind,
            args.get("stream", "main"),
            args.get("start"),
            args.get("end"),
        )
        if not data.get("url"):
            raise DeviceError(f"Hik-Partner Pro gave no {kind} address for {address}")
        licence = bool(data.get("cameraLicense", row.get("cameraLicense")))
        expires = data.get("expireTime")
        if expires:
            expires_at = dt.datetime.fromtimestamp(int(expires) / 1000, dt.UTC).astimezone()
        elif not licence:
            expires_at = dt.datetime.now().astimezone() + dt.timedelta(seconds=UNLICENSED_LIMIT)
        else:
            expires_at = None
        return {
            "url": data["url"],
            "type": kind,
            "channel": address.channel,
            "licence": licence,
            "expires_at": expires_at.isoformat(timespec="seconds") if expires_at else None,
            "limit_seconds": None if licence else UNLICENSED_LIMIT,
        }

    async def _ptz(
        self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None, pan: int, tilt: int, zoom: int
    ) -> dict[str, Any]:
        """Continuous move (or stop); a ``duration`` stops it later in the background.

        The command returns as soon as the move is sent: a long duration must not hold a command
        slot or outlive the host's command timeout (which would cancel the stop)."""
        address = target(args, zone)
        await self.device_row(address.serial, ENCODING)
        path = f"ISAPI/PTZCtrl/channels/{address.channel}/continuous"
        moving = bool(pan or tilt or zoom)
        self._schedule_stop(address.serial, address.channel, None)  # a new move supersedes it
        await self.client.transparent(address.serial, "PUT", path, xml=_ptz_xml(pan, tilt, zoom))
        duration = args.get("duration") if moving else None
        self._schedule_stop(address.serial, address.channel, duration)
        return {
            "address": str(address),
            "pan": pan,
            "tilt": tilt,
            "zoom": zoom,
            "stopped": not moving,
            "stop_after_ms": duration,
        }

    def _schedule_stop(self: HppDriver, serial: str, channel: int, duration_ms: int | None) -> None:
        """Cancel the channel's pending stop; with a duration, send a stop after it (a driver task)."""
        key = f"{serial}:{channel}"
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        if not duration_ms:
            return
        path = f"ISAPI/PTZCtrl/channels/{channel}/continuous"

        async def stop_later() -> None:
            try:
                await asyncio.sleep(duration_ms / 1000)
                await self.client.transparent(serial, "PUT", path, xml=_ptz_xml())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the move already ran: report, never raise
                self.log.warning(
                    "PTZ stop after %d ms on %s:%d failed: %s", duration_ms, serial, channel, one_line(exc)
                )
            finally:
                if self._timers.get(key) is asyncio.current_task():
                    del self._timers[key]

        self._timers[key] = asyncio.create_task(stop_later(), name=f"hpp-ptz-stop:{key}")

    async def cmd_ptz_pan_tilt(
        self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None
    ) -> dict[str, Any]:
        return await self._ptz(args, zone, int(args["pan"]), int(args["tilt"]), 0)

    async def cmd_ptz_zoom(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        return await self._ptz(args, zone, 0, 0, int(args["zoom"]))

    async def cmd_ptz_stop(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        return await self._ptz(args, zone, 0, 0, 0)

    async def cmd_ptz_preset(
        self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None
    ) -> dict[str, Any]:
        address = target(args, zone)
        await self.device_row(address.serial, ENCODING)
        preset = int(args["preset"])
        self._schedule_stop(address.serial, address.channel, None)  # a late stop would halt the preset move
        await self.client.transparent(
            address.serial, "PUT", f"ISAPI/PTZCtrl/channels/{address.channel}/presets/{preset}/goto"
        )
        return {"address": str(address), "preset": preset}

    async def cmd_alarm_output(
        self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None
    ) -> dict[str, Any]:
        """Relay output of a camera/recorder (ISAPI IO) or of an AX PRO (SecurityCP outputs)."""
        address = target(args, zone)
        row = await self.device_row(address.serial)
        whole_device(address, "alarm_output")
        output, on = int(args["output"]), args["state"] == "on"
        if row.get("deviceCategory") == ALARM:
            await self.isapi_json(
                address.serial,
                "PUT",
                f"ISAPI/SecurityCP/control/outputs/{output}?format=json",
                {"OutputsCtrl": {"switch": "open" if on else "close"}},
            )
        else:
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?><IOPortData><outputState>{"high" if on else "low"}'
                "</outputState></IOPortData>"
            )
            await self.client.transparent(
                address.serial, "PUT", f"ISAPI/System/IO/outputs/{output}/trigger", xml=body
            )
        return {"serial": address.serial, "output": output, "state": args["state"]}

    async def cmd_arm(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        """Arm = subscribe the device's alarms in the cloud (HikCentral's camera arming over HPP)."""
        address = target(args, zone)
        await self.device_row(address.serial)
        whole_device(address, "arm")
        await self.client.subscribe([address.serial], True)
        return {"serial": address.serial, "subscribed": True}

    async def cmd_disarm(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        """Disarm a panel (SERIAL:sub:N, or SERIAL for every subsystem); unsubscribe a camera's
        alarms (the whole device's: the cloud subscribes by serial, so only a device address)."""
        address = target(args, zone)
        row = await self.device_row(address.serial)
        if address.kind == SUBSYSTEM or row.get("deviceCategory") == ALARM:
            return await self.panel_action(address, "disarm")
        whole_device(address, "disarm of a camera")
        await self.client.subscribe([address.serial], False)
        return {"serial": address.serial, "subscribed": False}
