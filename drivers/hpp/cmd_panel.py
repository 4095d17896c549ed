"""AX PRO alarm-panel commands: the SecurityCP URIs of guide A.4, through the cloud (3.23).

A partition address (``SERIAL:sub:N``) acts on that partition and a bare panel address on every
partition the panel reports; zone commands need ``SERIAL:zone:N`` (N as the panel numbers its
zones, from 0: assumption 11). Arming is ``stay`` or ``away`` only (A.4.10); bypass and its
recovery take a JSON_List_ID body (A.4.11, A.4.12, A.5.3). After each change the panel status
is read again so zone state shows the result without waiting for the next poll.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gemhost_drivers.hpp import transparent
from gemhost_drivers.hpp.address import DEVICE, SUBSYSTEM, ZONE, Address

from gemhost.errors import InvalidArgs
from gemhost.model import ZoneConfig

if TYPE_CHECKING:
    from gemhost_drivers.hpp.driver import HppDriver

CP = "ISAPI/SecurityCP/"


class PanelCommands:
    """Mixin of :class:`HppDriver`; ``self`` is the driver."""

    async def panel_action(self: HppDriver, address: Address, action: str, ways: str | None = None) -> dict[str, Any]:
        """arm (ways stay/away, A.4.10), disarm (A.4.14) or clearAlarm (A.4.13) on partitions."""
        await self.device_row(address.serial, "alarm")
        if address.kind == SUBSYSTEM:
            numbers = [int(address.number or 0)]
        elif address.kind == DEVICE:
            status = await self.load_panel_status(address.serial) or {"subsystems": {}}
            numbers = sorted(status["subsystems"]) or [1]
        else:
            raise InvalidArgs(f"{action} needs a panel (SERIAL) or partition (SERIAL:sub:N) address, got {address}")
        query = f"?ways={ways}&format=json" if ways else "?format=json"
        for number in numbers:
            await self.isapi(address.serial, "PUT", f"{CP}control/{action}/{number}{query}",
                             json_body=transparent.OPERATE)
        return await self._after(
            address, {"serial": address.serial, "subsystems": numbers, "action": f"arm_{ways}" if ways else action}
        )

    async def _after(self: HppDriver, address: Address, result: dict[str, Any]) -> dict[str, Any]:
        status = await self.load_panel_status(address.serial)
        if status:
            for zone_id, zone_address in self.zones_of(address.serial):
                self.publish_zone(zone_id, zone_address)
            result["status"] = {"subsystems": {str(n): s.get("arming") for n, s in status["subsystems"].items()}}
        return result

    async def cmd_arm_away(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        return await self.panel_action(self.target(args, zone), "arm", "away")

    async def cmd_arm_stay(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        return await self.panel_action(self.target(args, zone), "arm", "stay")

    async def cmd_clear_alarm(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        return await self.panel_action(self.target(args, zone), "clearAlarm")

    async def _bypass(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None, on: bool) -> dict[str, Any]:
        address = self.target(args, zone)
        if address.kind != ZONE:
            raise InvalidArgs(f"this needs an alarm zone address (SERIAL:zone:N), got {address}")
        await self.device_row(address.serial, "alarm")
        uri = f"{CP}control/{'bypass' if on else 'bypassRecover'}?format=json"
        await self.isapi(address.serial, "PUT", uri, json_body=transparent.list_id([int(address.number or 0)]))
        return await self._after(address, {"serial": address.serial, "zone": address.number, "bypassed": on})

    async def cmd_bypass_zone(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        return await self._bypass(args, zone, True)

    async def cmd_restore_bypass(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        return await self._bypass(args, zone, False)
