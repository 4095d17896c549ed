"""Account-level commands: sites (guide 3.6), devices (3.21, 3.22), adding devices (3.18, 3.20)
and importing them as zones of the site file.

Importing writes zones through ``ctx.add_zones`` (the host keeps comments and a backup);
removing zones later never touches the HPP site, exactly like HikCentral's import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gemhost_drivers.hpp import codes
from gemhost_drivers.hpp.address import CHANNEL, DEVICE, SUBSYSTEM, ZONE, Address, zone_id
from gemhost_drivers.hpp.client import HppApiError, fail_code
from gemhost_drivers.hpp.inventory import CATEGORIES, DeviceRow

from gemhost.errors import DeviceError, InvalidArgs, one_line
from gemhost.model import ZoneConfig, reveal
from gemhost.values import int_or_none

if TYPE_CHECKING:
    from gemhost_drivers.hpp.driver import HppDriver

SELECT_ALL = ("all", "new")  # `gemhost import SITE DEVICE --all|--new` passes [all] or [new]


def device_item(row: DeviceRow, added: bool) -> dict[str, Any]:
    """A list_devices entry: the guide's row (3.21) in this driver's words."""
    return {
        "serial": row.serial,
        "name": row.name,
        "type": row.type_name,
        "category": row.category,
        "sub_type": row.sub_category,
        "model": row.model,
        "firmware": row.firmware,
        "site": row.site_id,
        "site_name": row.site_name,
        "online": row.online,
        "subscribed": row.subscribed,
        "shared": row.shared,
        "added": added,
    }


class DeviceCommands:
    """Mixin of :class:`HppDriver`; ``self`` is the driver."""

    async def cmd_list_sites(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        sites = await self.load_sites()
        return {
            "sites": [
                {"id": str(s.get("id")), "name": s.get("siteName"), "time_zone": s.get("timeZone"),
                 "city": s.get("siteCity") or None, "location": s.get("location") or None}
                for s in sites
            ]
        }

    async def cmd_list_devices(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        site = args.get("site")
        if site:
            self.check_site(site)
        inventory = await self.load_inventory()
        added = {a.split(":")[0] for a in self.zone_addresses()}
        wanted = args.get("type", "all")
        keyword = str(args.get("keyword") or "").strip().lower()
        out = []
        for serial, row in sorted(inventory.items()):
            if site and row.site_id != site:
                continue
            if not row.matches(wanted):
                continue
            if keyword and keyword not in serial.lower() and keyword not in row.name.lower():
                continue
            if serial in added and not args.get("show_added", False):
                continue
            out.append(device_item(row, serial in added))
        return {"devices": out}

    async def cmd_add_device(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        serial = str(args["serial"]).strip().upper()
        site = str(args["site"])
        self.check_site(site)
        item = {"deviceSerial": serial, "validateCode": reveal(args["verification_code"])}
        try:
            result = await self.client.add_devices(site, [item])
        except HppApiError as exc:
            raise DeviceError(f"cannot add {serial} to site {site}: {exc}") from None
        if result["failed"] or not result["added"]:
            reason = (result["failed"] or [{}])[0].get("failReason")
            code = fail_code(reason)
            words = codes.describe(code) if code else str(reason or "the cloud did not add it")
            raise DeviceError(f"cannot add {serial} to site {site}: {words}" + (f" (HPP {code})" if code else ""))
        added = result["added"][0]
        await self.load_inventory()
        row = self.inventory.get(serial)
        name = str(args.get("name") or "").strip()
        if name and row is not None and row.id:
            try:
                await self.client.rename_device(row.id, name)
                await self.load_inventory()
            except DeviceError as exc:
                self.log.warning("added %s but could not name it %r: %s", serial, name, one_line(exc))
        row = self.inventory.get(serial)
        category = row.category if row else int_or_none(added.get("deviceCategory"))
        out: dict[str, Any] = {
            "serial": serial,
            "site": site,
            "name": row.name if row else added.get("deviceName"),
            "type": CATEGORIES.get(category or 0, "other"),
        }
        if args.get("import", True):
            out["zones"] = await self.ctx.add_zones(await self.zones_for(serial, channels=True))
        return out

    async def cmd_import_devices(self: HppDriver, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        wanted = [str(s).strip() for s in args["serials"] if str(s).strip()]
        if not wanted:
            raise InvalidArgs("serials: give at least one serial number, or [all]")
        inventory = await self.load_inventory()
        existing = set(self.zone_addresses())
        if len(wanted) == 1 and wanted[0].lower() in SELECT_ALL:
            serials = sorted(inventory)  # every zone of every device; addresses already there are skipped
            unknown: list[str] = []
        else:
            serials = [s.upper() for s in wanted]
            unknown = [s for s in serials if s not in inventory]
            if len(unknown) == len(serials):
                raise InvalidArgs(f"none of {', '.join(serials)} is in this HPP account's (allowed) sites")
        zones: list[dict[str, Any]] = []
        skipped: list[str] = []
        chosen = [s for s in serials if s not in unknown]
        for done, serial in enumerate(chosen, 1):
            for entry in await self.zones_for(serial, channels=bool(args.get("channels", True))):
                address = entry["attributes"]["address"]
                if address in existing:
                    skipped.append(address)
                else:
                    zones.append(entry)
            self.ctx.report_progress(done, len(chosen), "devices read from Hik-Partner Pro")
        ids = await self.ctx.add_zones(zones) if zones else []
        return {"zones": ids, "already_present": skipped, "unknown": unknown}

    async def zones_for(self: HppDriver, serial: str, *, channels: bool) -> list[dict[str, Any]]:
        """Site-file zones for one device: its camera channels, or the panel, partitions and zones."""
        row = await self.device_row(serial)
        name = row.name or serial
        items: list[tuple[Address, str]] = []
        if row.is_encoding and channels:
            for channel in await self.load_channels(serial):
                items.append((Address(serial, CHANNEL, channel.number), channel.name or f"{name} {channel.number}"))
        if not items:
            items.append((Address(serial, DEVICE), name))
        if row.is_alarm_host and channels and row.online:
            status = await self.load_panel_status(serial)
            for number, sub in sorted((status or {}).get("subsystems", {}).items()):
                items.append((Address(serial, SUBSYSTEM, number), f"{name} {sub.get('name') or number}"))
            for number, item in sorted((status or {}).get("zones", {}).items()):
                items.append((Address(serial, ZONE, number), f"{name} {item.get('name') or number}"))
        return [{"id": zone_id(a), "name": label, "attributes": {"address": str(a)}} for a, label in items]
