"""The Hik-Partner Pro driver: one device entry = one HPP account connection.

Lifecycle, inventory and zone state live here, the event pull loop in ``event_loop``, and the
commands are mixins in ``cmd_devices``, ``cmd_camera`` and ``cmd_panel`` so each file stays
about one thing. Wire formats are those of the vendor's guide (see ``client``); what the guide
does not cover is in ``assumptions``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from typing import Any

from gemhost_drivers.hpp import assumptions, binding, timezones, transparent
from gemhost_drivers.hpp.address import CHANNEL, DEVICE, SUBSYSTEM, ZONE, Address, parse
from gemhost_drivers.hpp.address import target as address_target
from gemhost_drivers.hpp.client import Credentials, HppClient, Reply
from gemhost_drivers.hpp.cmd_camera import CameraCommands
from gemhost_drivers.hpp.cmd_devices import DeviceCommands
from gemhost_drivers.hpp.cmd_panel import PanelCommands
from gemhost_drivers.hpp.event_loop import EventLoop
from gemhost_drivers.hpp.events import Mapper
from gemhost_drivers.hpp.inventory import ChannelRow, DeviceRow
from gemhost_drivers.hpp.outputs import OutputReader, OutputStates

from gemhost.driver import DeviceContext, Driver
from gemhost.errors import DeviceError, InvalidArgs, NotSupported, one_line
from gemhost.model import DeviceInfo, ZoneConfig
from gemhost.schema import bundled_schema
from gemhost.timedstops import TimedStops

ARMING_STATES = {"disarm": "disarmed", "stay": "stay", "away": "away", "arming": "arming"}
OFFLINE_ZONE_STATUS = frozenset({"offline", "notRelated", "heartbeatAbnormal"})


def arming_state(value: Any) -> str | None:
    """A.5.9 ``arming`` (stay, away, disarm, arming) in gemhost's words (disarm -> disarmed)."""
    return ARMING_STATES.get(str(value or "").strip())


class HppDriver(EventLoop, DeviceCommands, CameraCommands, PanelCommands, OutputReader, Driver):
    """Hik-Partner Pro cloud account: sites, cameras, AX PRO panels and the alarm queue."""

    name = "hpp"
    schema_path = bundled_schema("hpp")
    version = "2.0.0"

    BACKOFF_BASE = 1.0
    BACKOFF_MAX = 60.0
    LONG_POLL = 20.0  # guide 2.5: mq/messages "will be blocked for 20s" when there is nothing

    def __init__(self, ctx: DeviceContext) -> None:
        super().__init__(ctx)
        s = self.settings
        self.client = HppClient(
            str(s.domain),
            Credentials(access_mode=s.access_mode, key=s.key, access_key=s.access_key, secret_key=s.secret_key),
            timeout=float(s.timeout),
            long_poll=self.LONG_POLL,
        )
        self.inventory: dict[str, DeviceRow] = {}
        self.channel_rows: dict[str, list[ChannelRow]] = {}
        self.panel_status: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, OutputStates] = {}
        """Relays / alarm outputs by serial (outputs.py), for devices with a device zone."""
        self.mapper = Mapper(self.resolve, self.time_zone_of)
        self._authorized = asyncio.Event()
        self._timers = TimedStops(self.log)
        """Pending PTZ stops (``duration``) by channel; cancelled by :meth:`close`."""
        self._seen = None

    def __repr__(self) -> str:
        return f"HppDriver(device={self.device.id!r}, client={self.client!r})"

    # ------------------------------------------------------------ lifecycle

    async def connect(self) -> DeviceInfo:
        wanted = binding.binding_for(self.settings)
        already = binding.check(self.ctx.state_dir, wanted) if assumptions.BINDING_LOCK else True
        await self.client.token()
        self._authorized.set()
        if not already:
            binding.record(self.ctx.state_dir, wanted)
            self.log.info("bound this connection to HPP account %s", wanted.describe())
        await self.refresh()
        return self.info()

    async def poll(self) -> DeviceInfo:
        await self.refresh()
        # The cloud took the token again: resume an event loop a rejected key had paused (the
        # host connects once, then only polls).
        self._authorized.set()
        return self.info()

    async def close(self) -> None:
        await self._timers.close()
        try:
            await self.client.close()
        except Exception as exc:  # noqa: BLE001 - close must not raise
            self.log.debug("closing the HPP session: %s", one_line(exc))

    def info(self) -> DeviceInfo:
        return DeviceInfo(
            manufacturer="Hikvision",
            model="Hik-Partner Pro",
            extra={
                "domain": self.client.domain,
                "area_domain": self.client.area_domain,
                "region": self.client.region,
                "access_mode": self.settings.access_mode,
                "devices": len(self.inventory),
            },
        )

    # ------------------------------------------------------------ inventory

    def allowed_sites(self) -> set[str] | None:
        sites = self.settings.sites
        return {str(s) for s in sites} if sites else None

    def check_site(self, site: str) -> None:
        allowed = self.allowed_sites()
        if allowed is not None and site not in allowed:
            raise InvalidArgs(f"site {site} is not among the sites this connection is limited to")

    async def load_sites(self) -> list[dict[str, Any]]:
        allowed = self.allowed_sites()
        return [s for s in await self.client.sites() if allowed is None or str(s.get("id")) in allowed]

    async def load_inventory(self) -> dict[str, DeviceRow]:
        """Every device of the account (guide 3.21) in the allowed sites, by serial."""
        allowed = self.allowed_sites()
        rows = [DeviceRow.from_api(r) for r in await self.client.devices()]
        self.inventory = {r.serial: r for r in rows if r.serial and (allowed is None or r.site_id in allowed)}
        return self.inventory

    async def device_row(self, serial: str, need: str | None = None) -> DeviceRow:
        """The cloud's row for a serial (reloading once), checked against what a command needs."""
        row = self.inventory.get(serial) or (await self.load_inventory()).get(serial)
        if row is None:
            raise DeviceError(f"device {serial} is not in this HPP account (or not in the configured sites)")
        if need == "alarm" and not row.is_alarm_host:
            raise NotSupported(f"{serial} is a {row.type_name} device; this needs an alarm host (AX PRO panel)")
        if need == "encoding" and not row.is_encoding:
            raise NotSupported(f"{serial} is a {row.type_name} device; this needs a camera or recorder")
        return row

    async def load_channels(self, serial: str) -> list[ChannelRow]:
        rows = [ChannelRow.from_api(c) for c in await self.client.channels(serial)]
        self.channel_rows[serial] = [r for r in rows if r is not None]
        return self.channel_rows[serial]

    def time_zone_of(self, serial: str) -> dt.tzinfo | None:
        row = self.inventory.get(serial)
        return timezones.zone_of(row.time_zone) if row and row.time_zone else None

    def zone_addresses(self) -> dict[str, str]:
        """Canonical address -> zone id for the zones of the site file."""
        out = {}
        for zone in self.device.zones.values():
            try:
                out[str(parse(self.zone_settings(zone).address))] = zone.id
            except Exception:  # noqa: BLE001 - the host validated it; a bad one just matches nothing
                continue
        return out

    def resolve(self, address: Address) -> str | None:
        return self.zone_addresses().get(str(address))

    def target(self, args: dict[str, Any], zone: ZoneConfig | None) -> Address:
        """The address a zone command acts on (see :func:`gemhost_drivers.hpp.address.target`)."""
        return address_target(args, zone)

    # ------------------------------------------------------------ zone state

    async def refresh(self) -> None:
        """Reload the account's devices and push online/type/panel status to zone state."""
        await self.load_inventory()
        addresses = {text: parse(text) for text in self.zone_addresses()}
        serials = {a.serial for a in addresses.values()}
        for serial in sorted({a.serial for a in addresses.values() if a.kind in (CHANNEL, DEVICE)}):
            row = self.inventory.get(serial)
            if row and row.is_encoding:
                try:
                    await self.load_channels(serial)
                except DeviceError as exc:
                    self.log.debug("channels of %s: %s", serial, one_line(exc))
        for serial in sorted(serials):
            row = self.inventory.get(serial)
            if row and row.is_alarm_host and row.online:
                await self.load_panel_status(serial)
            if row and any(a.serial == serial and a.kind == DEVICE for a in addresses.values()):
                await self.load_outputs(serial)
        zone_ids = self.zone_addresses()
        for text, address in addresses.items():
            self.publish_zone(zone_ids[text], address)

    async def load_panel_status(self, serial: str) -> dict[str, Any] | None:
        """Partitions (A.4.16, A.5.9) and zones (A.4.18, A.5.13) of a panel, by number."""
        try:
            subs = await self.isapi_json(serial, "GET", "ISAPI/SecurityCP/status/subSystems?format=json")
            zones = await self.isapi_json(serial, "GET", "ISAPI/SecurityCP/status/zones?format=json")
        except DeviceError as exc:
            self.log.debug("status of panel %s: %s", serial, one_line(exc))
            return None
        status: dict[str, dict[int, dict[str, Any]]] = {"subsystems": {}, "zones": {}}
        for key, items, inner in (("subsystems", subs.get("SubSysList"), "SubSys"),
                                  ("zones", zones.get("ZoneList"), "Zone")):
            for item in items if isinstance(items, list) else []:
                entry = item.get(inner) if isinstance(item, dict) else None
                if isinstance(entry, dict) and str(entry.get("id", "")).strip().lstrip("-").isdigit():
                    status[key][int(entry["id"])] = entry
        self.panel_status[serial] = status
        return status

    def publish_zone(self, zone_id: str, address: Address) -> None:
        row = self.inventory.get(address.serial)
        if row is None:
            self.ctx.set_zone_state(zone_id, online=False, missing=True, source="hpp")
            return
        fields: dict[str, Any] = {
            "online": row.online,
            "missing": False,
            "source": "hpp",
            "device_type": row.type_name,
            "model": row.model or None,
            "firmware": row.firmware or None,
            "site": row.site_id or None,
            "subscribed": row.subscribed,
        }
        if address.kind == CHANNEL and row.is_encoding and address.serial in self.channel_rows:
            channel = next((c for c in self.channel_rows[address.serial] if c.number == address.number), None)
            fields["online"] = bool(row.online and channel and channel.online)
        status = self.panel_status.get(address.serial) if row.is_alarm_host else None
        if status and address.kind == SUBSYSTEM:
            sub = status["subsystems"].get(address.number or 0) or {}
            arming = arming_state(sub.get("arming"))
            fields.update(arming=arming, armed=None if arming is None else arming in ("stay", "away"))
        elif status and address.kind == ZONE:
            zone = status["zones"].get(address.number if address.number is not None else -1) or {}
            zone_status = str(zone.get("status") or "")
            fields.update(
                online=bool(row.online) and bool(zone) and zone_status not in OFFLINE_ZONE_STATUS,
                fault=zone_status == "breakDown" if zone_status else None,
                bypassed=_flag(zone.get("bypassed")),
                armed=_flag(zone.get("armed")),
                subsystem=zone.get("subSystemNo"),
                detector_type=str(zone.get("detectorType") or "").strip() or None,
                open=_flag(zone.get("magnetOpenStatus")),
            )
        elif status and address.kind == DEVICE:
            fields["subsystems"] = {str(n): arming_state(s.get("arming")) for n, s in status["subsystems"].items()}
        if address.kind == DEVICE:
            fields.update(self.output_fields(address.serial))
        self.ctx.set_zone_state(zone_id, **{k: v for k, v in fields.items() if v is not None})

    def set_row(self, serial: str, **changes: Any) -> None:
        row = self.inventory.get(serial)
        if row is not None:
            self.inventory[serial] = dataclasses.replace(row, **changes)

    def zones_of(self, serial: str) -> list[tuple[str, Address]]:
        return [(zid, parse(text)) for text, zid in self.zone_addresses().items() if parse(text).serial == serial]

    # ------------------------------------------------------------ ISAPI through the cloud

    async def isapi(
        self, serial: str, method: str, uri: str, *, json_body: Any = None, xml: str | None = None
    ) -> Reply:
        """One A.4 URI through the transparent channel (3.23), judged (raises on refusal)."""
        transparent.require_listed(method, uri)
        reply = await self.client.transparent(serial, method, uri, json_body=json_body, xml=xml)
        transparent.judge(reply, serial, f"{method} /{uri.split('?')[0]}")
        return reply

    async def isapi_json(self, serial: str, method: str, uri: str, body: Any = None) -> dict[str, Any]:
        reply = await self.isapi(serial, method, uri, json_body=body)
        return transparent.json_body(reply, serial, uri.split("?")[0])


def _flag(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)
