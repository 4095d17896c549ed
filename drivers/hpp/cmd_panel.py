"""AX PRO alarm-panel commands, sent as SecurityCP ISAPI requests through the cloud.

A subsystem address (``SERIAL:sub:N``) acts on that subsystem and a bare panel address on every
subsystem; zone commands need ``SERIAL:zone:N``. After each change the panel status is re-read
so zone state shows the result without waiting for the next poll.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gemhost_drivers.hpp.address import DEVICE, SUBSYSTEM, ZONE, Address, parse, target, whole_device

from gemhost.errors import InvalidArgs
from gemhost.model import ZoneConfig

if TYPE_CHECKING:
    from gemhost_drivers.hpp.driver import HppDriver

ALARM = "alarmDevice"
CP = "ISAPI/SecurityCP/"


class PanelCommands:
    """Mixin of :class:`HppDriver`; ``self`` is the driver."""

    async def panel_action(
        self: HppDriver, address: Address, action: str, ways: str | None = None
    ) -> dict[str, Any]:
        """arm (with ways away/stay/instant), disarm or clearAlarm on one or every subsystem."""
        await self.device_row(address.serial, ALARM)
        if address.kind == SUBSYSTEM:
            numbers = [int(address.number or 0)]
        elif address.kind == DEVICE:
            status = await self.load_panel_status(address.serial) or {"subsystems": {}}
            numbers = sorted(status["subsystems"]) or [1]
        else:
            raise InvalidArgs(
                f"{action} needs a panel (SERIAL) or subsystem (SERIAL:sub:N) address, got {address}"
            )
        query = f"?ways={ways}&format=json" if ways else "?format=json"
        for number in numbers:
            await self.isapi_json(address.serial, "PUT", f"{CP}control/{action}/{number}{query}")
        return await self._after(
            address,
            {"serial": address.serial, "subsystems": numbers, "action": ways and f"arm_{ways}" or action},
        )

    async def _after(self: HppDriver, address: Address, result: dict[str, Any]) -> dict[str, Any]:
        status = await self.load_panel_status(address.serial)
        if status:
            for text, zone_id in self.zone_addresses().items():
                if parse(text).serial == address.serial:
                    self.publish_zone(zone_id, parse(text))
            result["status"] = {
                "subsystems": {str(n): s.get("arming") for n, s in status["subsystems"].items()}
            }
        return result

    async def cmd_arm_away(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        return await self.panel_action(target(args, zone), "arm", "away")

    async def cmd_arm_stay(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        return await self.panel_action(target(args, zone), "arm", "stay")

    async def cmd_arm_instant(
        self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None
    ) -> dict[str, Any]:
        return await self.panel_action(target(args, zone), "arm", "instant")

    async def cmd_clear_alarm(
        self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None
    ) -> dict[str, Any]:
        return await self.panel_action(target(args, zone), "clearAlarm")

    async def _zone_action(
        self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None, action: str
    ) -> dict[str, Any]:
        address = target(args, zone)
        if address.kind != ZONE:
            raise InvalidArgs(f"this needs an alarm zone address (SERIAL:zone:N), got {address}")
        await self.device_row(address.serial, ALARM)
        await self.isapi_json(address.serial, "PUT", f"{CP}control/{action}/{address.number}?format=json")
        return await self._after(
            address, {"serial": address.serial, "zone": address.number, "bypassed": action == "bypass"}
        )

    async def cmd_bypass_zone(
        self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None
    ) -> dict[str, Any]:
        return await self._zone_action(args, zone, "bypass")

    async def cmd_restore_bypass(
        self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None
    ) -> dict[str, Any]:
        return await self._zone_action(args, zone, "Recoverbypass")

    async def _switch(
        self: HppDriver,
        args: dict[str, Any],
        zone: ZoneConfig | None,
        what: str,
        number: int,
        body: dict[str, Any],
        result: dict[str, Any],
    ) -> dict[str, Any]:
        address = target(args, zone)
        await self.device_row(address.serial, ALARM)
        whole_device(address, what)
        await self.isapi_json(address.serial, "PUT", f"{CP}control/{what}/{number}?format=json", body)
        return {"serial": address.serial, **result}

    async def cmd_siren(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        number, on = int(args.get("siren", 1)), args["state"] == "on"
        return await self._switch(
            args,
            zone,
            "siren",
            number,
            {"SirenCtrl": {"switch": "open" if on else "close"}},
            {"siren": number, "state": args["state"]},
        )

    async def cmd_lock(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        number = int(args.get("lock", 1))
        return await self._switch(
            args,
            zone,
            "lock",
            number,
            {"LockCtrl": {"cmd": args["action"]}},
            {"lock": number, "action": args["action"]},
        )

    async def cmd_trigger(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        number, on = int(args["trigger"]), args["state"] == "on"
        return await self._switch(
            args,
            zone,
            "trigger",
            number,
            {"TriggerCtrl": {"switch": "open" if on else "close"}},
            {"trigger": number, "state": args["state"]},
        )
