"""The Hik-Partner Pro driver: one device entry = one HPP account connection.

Lifecycle, inventory, zone state and the event pull loop live here; the commands are mixins in
``cmd_devices``, ``cmd_camera`` and ``cmd_panel`` so each file stays about one thing.

Event delivery is at-least-once by construction: a pulled batch is committed (consumed in the
cloud) only after the MQTT broker acknowledged every event of it, and ids already published are
remembered on disk, so a re-delivered batch after a crash publishes only what was not yet out.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gemhost_drivers.hpp import binding
from gemhost_drivers.hpp.address import CHANNEL, DEVICE, SUBSYSTEM, ZONE, Address, parse
from gemhost_drivers.hpp.client import Credentials, HppClient
from gemhost_drivers.hpp.cmd_camera import CameraCommands
from gemhost_drivers.hpp.cmd_devices import DeviceCommands
from gemhost_drivers.hpp.cmd_panel import PanelCommands
from gemhost_drivers.hpp.events import batch_events, covered_ids
from gemhost_drivers.hpp.seen import SeenIds

from gemhost.backoff import Backoff, half_jitter
from gemhost.driver import DeviceContext, Driver
from gemhost.errors import AuthError, DeviceError, NotSupported, one_line
from gemhost.model import DeviceInfo, Event
from gemhost.schema import bundled_schema

ENCODING, ALARM = "encodingDevice", "alarmDevice"
TYPE_NAMES = {ENCODING: "encoding", ALARM: "alarm"}


class HppDriver(DeviceCommands, CameraCommands, PanelCommands, Driver):
    """Hik-Partner Pro cloud account: sites, cameras, AX PRO panels and the alarm queue."""

    name = "hpp"
    schema_path = bundled_schema("hpp")
    version = "1.0.0"

    BACKOFF_BASE = 1.0
    BACKOFF_MAX = 60.0
    LONG_POLL = 20.0

    def __init__(self, ctx: DeviceContext) -> None:
        super().__init__(ctx)
        self.client = HppClient(
            str(self.attrs["domain"]),
            self._credentials(),
            timeout=float(self.attrs.get("timeout", 15.0)),
            long_poll=self.LONG_POLL,
        )
        self.inventory: dict[str, dict[str, Any]] = {}
        self.panel_status: dict[str, dict[str, Any]] = {}
        self._seen: SeenIds | None = None
        self._authorized = asyncio.Event()
        self._timers: dict[str, asyncio.Task[None]] = {}
        """Pending PTZ stops (``duration``) by channel; cancelled by :meth:`close`."""

    def __repr__(self) -> str:
        return f"HppDriver(device={self.device.id!r}, client={self.client!r})"

    def _credentials(self) -> Credentials:
        mode = self.attrs.get("access_mode", "key")
        return Credentials(
            access_mode=mode,
            key=self.attrs.get("key"),
            access_key=self.attrs.get("access_key"),
            secret_key=self.attrs.get("secret_key"),
        )

    # ------------------------------------------------------------ lifecycle

    async def connect(self) -> DeviceInfo:
        wanted = binding.binding_for(self.attrs)
        already = binding.check(self.ctx.state_dir, wanted)
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
        timers = list(self._timers.values())
        self._timers.clear()
        for task in timers:
            task.cancel()
        await asyncio.gather(*timers, return_exceptions=True)
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
                "access_mode": self.attrs.get("access_mode", "key"),
                "devices": len(self.inventory),
            },
        )

    # ------------------------------------------------------------ inventory and zone state

    def allowed_sites(self) -> set[str] | None:
        sites = self.attrs.get("sites")
        return {str(s) for s in sites} if sites else None

    async def load_sites(self) -> list[dict[str, Any]]:
        allowed = self.allowed_sites()
        return [s for s in await self.client.sites() if allowed is None or str(s.get("id")) in allowed]

    async def load_inventory(self) -> dict[str, dict[str, Any]]:
        """Every device of the allowed sites, by serial (upper case)."""
        inventory: dict[str, dict[str, Any]] = {}
        for site in await self.load_sites():
            for row in await self.client.devices(str(site["id"])):
                row = dict(row, siteName=row.get("siteName") or site.get("siteName"))
                inventory[str(row["deviceSerial"]).upper()] = row
        self.inventory = inventory
        return inventory

    async def device_row(self, serial: str, category: str | None = None) -> dict[str, Any]:
        """The cloud's row for a serial (reloading once), checked against the wanted category."""
        row = self.inventory.get(serial) or (await self.load_inventory()).get(serial)
        if row is None:
            raise DeviceError(f"device {serial} is not in this HPP account (or not in the configured sites)")
        if category and row.get("deviceCategory") != category:
            kind = TYPE_NAMES.get(str(row.get("deviceCategory")), "other")
            raise NotSupported(f"{serial} is an {kind} device; this needs an {TYPE_NAMES[category]} device")
        return row

    def zone_addresses(self) -> dict[str, str]:
        """Canonical address -> zone id for the zones of the site file."""
        out = {}
        for zone in self.device.zones.values():
            try:
                out[str(parse(zone.attributes.get("address", "")))] = zone.id
            except Exception:  # noqa: BLE001 - the host validated it; a bad one just matches nothing
                continue
        return out

    def resolve(self, address: Address) -> str | None:
        return self.zone_addresses().get(str(address))

    async def refresh(self) -> None:
        """Reload the account's devices and push online/type/licence/panel status to zone state."""
        await self.load_inventory()
        addresses = {a: parse(a) for a in self.zone_addresses()}
        channels: dict[str, dict[int, bool]] = {}
        for serial in {a.serial for a in addresses.values() if a.kind == CHANNEL}:
            row = self.inventory.get(serial)
            if row and row.get("deviceCategory") == ENCODING:
                try:
                    channels[serial] = {
                        int(c["channelNo"]): bool(c.get("onlineStatus", 1))
                        for c in await self.client.cameras(serial)
                    }
                except DeviceError as exc:
                    self.log.debug("channels of %s: %s", serial, one_line(exc))
        for serial in {a.serial for a in addresses.values()}:
            row = self.inventory.get(serial)
            if row and row.get("deviceCategory") == ALARM and row.get("onlineStatus"):
                await self.load_panel_status(serial)
        zone_ids = self.zone_addresses()
        for text, address in addresses.items():
            self.publish_zone(zone_ids[text], address, channels.get(address.serial))

    async def load_panel_status(self, serial: str) -> dict[str, Any] | None:
        try:
            subs = await self.isapi_json(serial, "GET", "ISAPI/SecurityCP/status/subSystems?format=json")
            zones = await self.isapi_json(serial, "GET", "ISAPI/SecurityCP/status/zones?format=json")
        except DeviceError as exc:
            self.log.debug("status of panel %s: %s", serial, one_line(exc))
            return None
        status = {
            "subsystems": {int(s["SubSys"]["id"]): s["SubSys"] for s in subs.get("SubSysList") or []},
            "zones": {int(z["Zone"]["id"]): z["Zone"] for z in zones.get("ZoneList") or []},
        }
        self.panel_status[serial] = status
        return status

    def publish_zone(self, zone_id: str, address: Address, channels: dict[int, bool] | None = None) -> None:
        row = self.inventory.get(address.serial)
        if row is None:
            self.ctx.set_zone_state(zone_id, online=False, missing=True, source="hpp")
            return
        online = bool(row.get("onlineStatus"))
        fields: dict[str, Any] = {
            "online": online,
            "missing": False,
            "source": "hpp",
            "device_type": TYPE_NAMES.get(str(row.get("deviceCategory")), "other"),
            "model": row.get("deviceModel"),
            "site": row.get("siteId"),
        }
        if row.get("deviceCategory") == ENCODING:
            fields["licence"] = bool(row.get("cameraLicense"))
            if address.kind == CHANNEL and channels is not None:
                fields["online"] = online and channels.get(address.channel, False)
        status = self.panel_status.get(address.serial) if row.get("deviceCategory") == ALARM else None
        if status and address.kind == SUBSYSTEM:
            sub = status["subsystems"].get(address.number) or {}
            fields.update(
                arming=sub.get("arming"),
                armed=sub.get("arming") not in (None, "disarm"),
                alarm=bool(sub.get("alarm")),
            )
        elif status and address.kind == ZONE:
            zone = status["zones"].get(address.number) or {}
            fields.update(
                online=online and zone.get("status") == "online",
                bypassed=bool(zone.get("bypassed")),
                fault=zone.get("sensorStatus") not in (None, "normal"),
                armed=bool(zone.get("armed")),
                alarm=bool(zone.get("alarm")),
                subsystem=zone.get("subSystemNo"),
            )
        elif status and address.kind == DEVICE:
            fields["subsystems"] = {str(n): s.get("arming") for n, s in status["subsystems"].items()}
        self.ctx.set_zone_state(zone_id, **{k: v for k, v in fields.items() if v is not None})

    async def isapi_json(self, serial: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """A JSON ISAPI call passed through the cloud to one device."""
        import json

        _, raw = await self.client.transparent(serial, method, path, body=body)
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            raise DeviceError(f"{serial} answered {path.split('?')[0]} with malformed JSON") from None
        return doc if isinstance(doc, dict) else {}

    # ------------------------------------------------------------ events

    async def run_events(self) -> None:
        if not self.attrs.get("receive_events", True):
            self.log.info("receive_events is off: leaving the HPP queue to other alarm-receiving software")
            return
        backoff = Backoff(initial=self.BACKOFF_BASE, maximum=self.BACKOFF_MAX, jitter=half_jitter)
        while True:
            # After a rejected key the loop waits for the host's next successful connect or poll
            # instead of asking for tokens itself: the host owns the back-off that protects the
            # account.
            await self._authorized.wait()
            try:
                await self.pull_once()
                backoff.reset()
            except asyncio.CancelledError:
                raise
            except AuthError as exc:
                self._authorized.clear()
                self.log.warning(
                    "HPP refused the credentials (%s); events wait until the host's next status "
                    "poll is accepted",
                    one_line(exc),
                )
            except Exception as exc:  # noqa: BLE001 - any failure: back off and pull again
                delay = backoff.next()
                self.log.warning("HPP event pull failed (%s); retrying in %.1f s", one_line(exc), delay)
                await asyncio.sleep(delay)

    async def pull_once(self) -> int:
        """Pull one batch, publish it, wait for the broker's acks, then commit. Returns events sent."""
        if self._seen is None:
            self._seen = SeenIds(self.ctx.state_dir)
        batch = await self.client.messages()
        if not batch.messages:
            return 0
        seen = self._seen
        restricted = self.allowed_sites() is not None
        futures: list[asyncio.Future[None]] = []
        skipped: list[str] = []
        for event in batch_events(batch.messages, self.resolve):
            serial = str(event.data.get("serial") or "")
            known = serial in self.inventory
            self.apply_effects(event, serial)
            cover = covered_ids(event)
            if cover and all(i in seen for i in cover):
                continue
            if restricted and not known:
                skipped.extend(cover)
                continue
            future = self.ctx.emit_event(event)
            # Each id counts as published the moment the broker acked it, so an outage in the
            # middle of a batch re-publishes only the events the broker never got.
            future.add_done_callback(
                lambda f, ids=cover: (
                    seen.remember(ids) if not f.cancelled() and f.exception() is None else None
                )
            )
            futures.append(future)
        try:
            if futures:
                await asyncio.gather(*futures)
        finally:
            seen.remember(skipped)
            seen.save()
        if batch.batch_id:
            await self.client.commit(batch.batch_id)
        return len(futures)

    def apply_effects(self, event: Event, serial: str) -> None:
        """deviceonline/offline drive zone ``online``; devicedeleted marks the zones ``missing``."""
        vendor = event.vendor_type.lower()
        if vendor not in ("deviceonline", "deviceoffline", "devicedeleted") or not serial:
            return
        row = self.inventory.get(serial)
        if vendor == "devicedeleted":
            self.inventory.pop(serial, None)
        elif row is not None:
            row["onlineStatus"] = 1 if vendor == "deviceonline" else 0
        for text, zone_id in self.zone_addresses().items():
            if parse(text).serial != serial:
                continue
            if vendor == "devicedeleted":
                self.ctx.set_zone_state(zone_id, online=False, missing=True)
            else:
                self.ctx.set_zone_state(zone_id, online=vendor == "deviceonline")
