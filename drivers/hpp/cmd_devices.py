"""Account-level commands: sites, device lists, adding devices and importing them as zones.

Importing writes zones into the site file through ``ctx.add_zones`` (the host keeps comments
and a backup); removing zones later never touches the HPP site, exactly like HikCentral's import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gemhost_drivers.hpp.address import CHANNEL, DEVICE, SUBSYSTEM, ZONE, Address, parse, zone_id
from gemhost_drivers.hpp.client import MESSAGES, SITE_UNKNOWN, HppApiError

from gemhost.errors import DeviceError, InvalidArgs
from gemhost.model import ZoneConfig, reveal

if TYPE_CHECKING:
    from gemhost_drivers.hpp.driver import HppDriver

ENCODING, ALARM = "encodingDevice", "alarmDevice"
CATEGORY = {"encoding": ENCODING, "alarm": ALARM}


class DeviceCommands:
    """Mixin of :class:`HppDriver`; ``self`` is the driver."""

    async def cmd_list_sites(
        self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None
    ) -> dict[str, Any]:
        sites = await self.load_sites()
        return {"sites": [{"id": str(s["id"]), "name": s.get("siteName")} for s in sites]}

    async def cmd_list_devices(
        self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None
    ) -> dict[str, Any]:
        inventory = await self.load_inventory()
        added = {parse(a).serial for a in self.zone_addresses()}
        wanted_type = CATEGORY.get(args.get("type", "all"))
        keyword = str(args.get("keyword") or "").lower()
        site = args.get("site")
        if site and self.allowed_sites() is not None and site not in self.allowed_sites():
            raise InvalidArgs(f"site {site} is not among the sites this connection is limited to")
        out = []
        for serial, row in sorted(inventory.items()):
            if site and str(row.get("siteId")) != site:
                continue
            if wanted_type and row.get("deviceCategory") != wanted_type:
                continue
            if (
                keyword
                and keyword not in serial.lower()
                and keyword not in str(row.get("deviceName", "")).lower()
            ):
                continue
            if serial in added and not args.get("show_added", False):
                continue
            item = {
                "serial": serial,
                "name": row.get("deviceName"),
                "type": "encoding" if row.get("deviceCategory") == ENCODING else "alarm",
                "model": row.get("deviceModel"),
                "site": row.get("siteId"),
                "site_name": row.get("siteName"),
                "online": bool(row.get("onlineStatus")),
                "added": serial in added,
            }
            if row.get("deviceCategory") == ENCODING:
                item["licence"] = bool(row.get("cameraLicense"))
                item["channels"] = row.get("channelNum")
            out.append(item)
        return {"devices": out}

    async def cmd_add_device(
        self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None
    ) -> dict[str, Any]:
        serial = str(args["serial"]).upper()
        site = str(args["site"])
        if self.allowed_sites() is not None and site not in self.allowed_sites():
            raise InvalidArgs(f"site {site} is not among the sites this connection is limited to")
        encoding = args.get("type", "encoding") == "encoding"
        item: dict[str, Any] = {"deviceSerial": serial, "validateCode": reveal(args["verification_code"])}
        if args.get("name"):
            item["deviceName"] = args["name"]
        if encoding:
            item["streamEncryption"] = bool(args.get("stream_encryption", True))
        try:
            result = await self.client.add_devices(site, [item])
        except HppApiError as exc:
            if exc.code != SITE_UNKNOWN:
                raise
            # Name the serial and the site like the per-device refusals below do.
            reason = f"{MESSAGES[SITE_UNKNOWN]} (HPP {exc.code})"
            raise DeviceError(f"cannot add {serial} to site {site}: {reason}") from None
        if result["failed"] or not result["added"]:
            failure = (result["failed"] or [{}])[0]
            code = str(failure.get("errorCode", ""))
            reason = MESSAGES.get(code) or failure.get("msg") or "the cloud did not add it"
            raise DeviceError(
                f"cannot add {serial} to site {site}: {reason}" + (f" (HPP {code})" if code else "")
            )
        added = result["added"][0]
        await self.load_inventory()
        out: dict[str, Any] = {
            "serial": serial,
            "site": site,
            "name": added.get("deviceName"),
            "type": "encoding" if added.get("deviceCategory", ENCODING) == ENCODING else "alarm",
            "stream_encryption": item.get("streamEncryption", False),
        }
        if args.get("import", True):
            out["zones"] = await self.ctx.add_zones(await self.zones_for(serial, channels=True))
        return out

    async def cmd_import_devices(
        self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None
    ) -> dict[str, Any]:
        serials = [str(s).upper() for s in args["serials"]]
        if not serials:
            raise InvalidArgs("serials: give at least one serial number")
        inventory = await self.load_inventory()
        unknown = [s for s in serials if s not in inventory]
        if len(unknown) == len(serials):
            raise InvalidArgs(f"none of {', '.join(serials)} is in this HPP account's (allowed) sites")
        existing = set(self.zone_addresses())
        zones: list[dict[str, Any]] = []
        skipped: list[str] = []
        for serial in serials:
            if serial in unknown:
                continue
            for item in await self.zones_for(serial, channels=bool(args.get("channels", True))):
                if item["attributes"]["address"] in existing:
                    skipped.append(item["attributes"]["address"])
                else:
                    zones.append(item)
        ids = await self.ctx.add_zones(zones) if zones else []
        return {"zones": ids, "already_present": skipped, "unknown": unknown}

    async def zones_for(self: HppDriver, serial: str, *, channels: bool) -> list[dict[str, Any]]:
        """Site-file zones for one device: its camera channels, or the panel, subsystems and zones."""
        row = await self.device_row(serial)
        name = str(row.get("deviceName") or serial)
        items: list[tuple[Address, str]] = []
        if row.get("deviceCategory") == ENCODING:
            if channels:
                for cam in await self.client.cameras(serial):
                    number = int(cam["channelNo"])
                    items.append(
                        (Address(serial, CHANNEL, number), str(cam.get("channelName") or f"{name} {number}"))
                    )
            if not items:
                items.append((Address(serial, DEVICE), name))
        else:
            items.append((Address(serial, DEVICE), name))
            status = await self.load_panel_status(serial) if channels and row.get("onlineStatus") else None
            if status:
                for number, sub in sorted(status["subsystems"].items()):
                    items.append((Address(serial, SUBSYSTEM, number), f"{name} {sub.get('name') or number}"))
                for number, item in sorted(status["zones"].items()):
                    items.append((Address(serial, ZONE, number), f"{name} {item.get('name') or number}"))
        return [{"id": zone_id(a), "name": label, "attributes": {"address": str(a)}} for a, label in items]
