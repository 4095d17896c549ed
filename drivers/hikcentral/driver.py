"""HikCentral Professional as one gemhost device whose zones are its imported cameras.

The host never talks to the cameras: HikCentral (the VMS) owns them, so status, streams, PTZ
and events all go through its OpenAPI. Nothing here ever changes or deletes anything in
HikCentral; imports only write zones into the site file (through ``ctx.add_zones``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from gemhost_drivers.hikcentral import cameras as cams
from gemhost_drivers.hikcentral import streams
from gemhost_drivers.hikcentral.client import HikCentralClient, reason_of, safe_close
from gemhost_drivers.hikcentral.eventcodes import EVENT_CODES
from gemhost_drivers.hikcentral.events import EventReceiver, SeenReports, parse_push, unreachable_warning
from gemhost_drivers.hikcentral.known import KnownCameras

from gemhost import capability_replies
from gemhost.backoff import Backoff
from gemhost.driver import DeviceContext, Driver
from gemhost.errors import DeviceError, DriverError, InvalidArgs
from gemhost.model import DeviceInfo, Event, ZoneConfig
from gemhost.schema import bundled_schema
from gemhost.timedstops import TimedStops

SOURCE = "hikcentral"
BACKOFF_START = 1.0
BACKOFF_MAX = 300.0


def ptz_direction(pan: int, tilt: int) -> str | None:
    """HikCentral's PTZ command for a pan/tilt vector (None when both are zero)."""
    horizontal = "LEFT" if pan < 0 else "RIGHT" if pan > 0 else ""
    vertical = "UP" if tilt > 0 else "DOWN" if tilt < 0 else ""
    if horizontal and vertical:
        return f"{horizontal}_{vertical}"
    return horizontal or vertical or None


class HikCentralDriver(Driver):
    """One HikCentral Professional server; zones are cameras addressed by index code."""

    name = "hikcentral"
    schema_path = bundled_schema("hikcentral")
    version = "1.0"

    def __init__(self, ctx: DeviceContext) -> None:
        super().__init__(ctx)
        s = self.settings
        self.client = HikCentralClient(s.url, s.app_key, s.app_secret, verify_tls=bool(s.verify_tls),
                                       ca_file=s.ca_file, timeout=float(s.timeout))
        self.receiver = EventReceiver(s.event_listen_host, int(s.event_listen_port))
        self.event_types = sorted(EVENT_CODES)
        self._subscribed = False
        self._ever_subscribed = False
        self._seen = SeenReports()
        self._warned_unreachable = False
        self._online: dict[str, bool] = {}
        self.publish_stream_url = bool(s.publish_stream_url)
        self.streams = streams.StreamUrls(self.client, ctx.set_zone_state, self.log,
                                          float(s.stream_url_ttl), s.stream_protocol,
                                          lambda zone: self.zone_settings(zone).stream)
        self._ptz_last: dict[str, str] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers = TimedStops(self.log)
        """Pending PTZ stops (``duration``) by camera index code; cancelled by close()."""
        self.known = KnownCameras(ctx.state_dir, self.log)

    # ------------------------------------------------------------ lifecycle

    @property
    def events_enabled(self) -> bool:
        return bool(self.settings.events) and getattr(self.ctx, "events_wanted", True)

    def callback_url(self) -> str:
        """Where HikCentral should push: the receiver, or the NAT override plus its path."""
        override = self.settings.event_callback_url
        if override:
            return str(override).rstrip("/") + self.receiver.path
        return self.receiver.url

    async def connect(self) -> DeviceInfo:
        info = await self._info()
        await self._refresh_zones()
        if self.publish_stream_url and not any(t.get_name() == "stream-urls" for t in self._tasks):
            self._start(self.streams.run(self._listed_zones), "stream-urls")
        if self.events_enabled:
            try:
                await self._ensure_subscribed()
            except (DriverError, OSError) as exc:
                self.log.warning("event subscription failed, will retry: %s", exc)
        return info

    async def poll(self) -> DeviceInfo:
        info = await self._info()
        await self._refresh_zones()
        if self.events_enabled and self._subscribed:
            await self._check_subscription()
        return info

    async def _check_subscription(self) -> None:
        """Subscribe again when HikCentral lost ours (e.g. after its restart or a reset)."""
        dest = self.callback_url()
        try:
            present = any(d.get("eventDest") == dest for d in await self.client.subscriptions())
            if not present:
                self.log.info("HikCentral no longer has the event subscription; subscribing again")
                self._subscribed = False
                await self._ensure_subscribed()
        except (DriverError, OSError) as exc:
            self.log.warning("checking the event subscription failed: %s", exc)

    async def _info(self) -> DeviceInfo:
        version = await self.client.version()
        page = await self.client.cameras_page(1, 1)
        return DeviceInfo(manufacturer="Hikvision", model="HikCentral Professional",
                          firmware=str(version.get("softVersion") or "") or None,
                          extra={"product": version.get("produceName"), "cameras": page.total})

    async def run_events(self) -> None:
        """Keep the receiver and the subscription alive and publish what is pushed."""
        if not self.events_enabled:
            return
        backoff = Backoff(initial=BACKOFF_START, maximum=BACKOFF_MAX, jitter=0.5)
        while True:
            if not self._subscribed or not self.receiver.running:
                try:
                    await self._ensure_subscribed()
                    backoff.reset()
                except (DriverError, OSError) as exc:
                    delay = backoff.next()
                    self.log.warning("event subscription failed (%s); retrying in %.0f s", exc, delay)
                    await asyncio.sleep(delay)
                    continue
            try:
                payload = await asyncio.wait_for(self.receiver.queue.get(), timeout=30)
            except TimeoutError:
                continue
            self.handle_push(payload)

    async def _ensure_subscribed(self) -> None:
        if not self.receiver.running:
            await self.receiver.start()
            # the URL's path is the receiver's shared secret: log the address only
            self.log.info("HikCentral event receiver listening on %s:%s", self.receiver.host, self.receiver.port)
        if not self._warned_unreachable:
            self._warned_unreachable = True
            warning = unreachable_warning(self.receiver.host, self.settings.event_callback_url,
                                          self.client.base)
            if warning:
                self.log.warning(warning)
        if not self._subscribed:
            if self._ever_subscribed:
                # pushes were lost meanwhile, a stop among them perhaps: nothing may stay on
                self.ctx.end_open_events("offline")
            await self.client.subscribe(self.event_types, self.callback_url())
            self._subscribed = self._ever_subscribed = True

    def handle_push(self, payload: Any) -> list[Event]:
        """Publish the events of one push (exposed for tests and the receiver loop)."""
        try:
            events, ignored = parse_push(payload, cams.zone_codes(self.device.zones))
        except ValueError as exc:
            self.log.warning("ignored a malformed HikCentral push: %s", exc)
            return []
        if ignored:
            self.log.debug("ignored %d pushed events of cameras that are not zones", ignored)
        fresh = [e for e in events if self._seen.first_time(e)]
        for event in fresh:
            self.ctx.emit_event(event)
        return fresh

    async def close(self) -> None:
        await self._timers.close()
        for task in list(self._tasks):
            task.cancel()
        if self._subscribed:
            try:
                await asyncio.wait_for(self.client.unsubscribe(self.event_types), timeout=self.client.timeout)
            except Exception as exc:  # noqa: BLE001 - close must not raise
                self.log.warning("unsubscribing from HikCentral events failed: %s", exc)
            self._subscribed = False
        try:
            await self.receiver.stop()
        except Exception as exc:  # noqa: BLE001 - close must not raise
            self.log.debug("stopping the event receiver failed: %s", exc)
        await safe_close(self.client)

    # ------------------------------------------------------------ zone state

    async def _refresh_zones(self) -> None:
        """Online status of every imported camera, from HikCentral's list in pages of 500."""
        zones = self.device.zones
        if not zones:
            return
        raw = {str(c.get("cameraIndexCode")): c for c in await self.client.all_cameras()}
        for zone in zones.values():
            code = str(self.zone_settings(zone).camera)
            camera = raw.get(code)
            if camera is None:
                self.ctx.set_zone_state(zone.id, source=SOURCE, online=False, missing=True)
                self._online.pop(zone.id, None)
                self.streams.drop(zone.id)
                continue
            online = str(camera.get("status")) == str(cams.ONLINE)
            self.ctx.set_zone_state(zone.id, source=SOURCE, online=online, missing=False,
                                    name=camera.get("cameraName"))
            previous = self._online.get(zone.id)
            self._online[zone.id] = online
            if previous is not None and previous != online:
                vendor = "deviceOnline" if online else "deviceOffline"
                self.ctx.emit_event(Event(type="device_online" if online else "device_offline",
                                          vendor_type=vendor, state="pulse", zone=zone.id,
                                          data={"camera": code, "source": "status_poll"}))
        for gone in set(self.streams.next_at) - set(zones):
            self.streams.drop(gone)  # no longer a zone
        if self.publish_stream_url:
            await self.streams.refresh(self._listed_zones())

    def _listed_zones(self) -> list[ZoneConfig]:
        """The zones whose camera HikCentral listed at the last poll (online or not)."""
        return [z for z in self.device.zones.values() if z.id in self._online]

    # ------------------------------------------------------------ commands

    async def cmd_test_connection(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        """Version and camera count, or the precise reason why not (never raises)."""
        try:
            version = await self.client.version()
            page = await self.client.cameras_page(1, 1)
        except DriverError as exc:
            return failure_report(exc)
        # "produceName" (sic) is HikCentral's spelling of the product name
        return {"ok": True, "product": version.get("produceName"), "version": version.get("softVersion"),
                "cameras": page.total}

    async def cmd_list_cameras(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        imported = cams.zone_codes(self.device.zones)
        cameras = await cams.fetch_cameras(self.client, name=args.get("name") or None)
        if args.get("online_only"):
            cameras = [c for c in cameras if c.online]
        if args.get("not_imported"):
            cameras = [c for c in cameras if c.code not in imported]
        page, size = int(args.get("page", 1)), int(args.get("page_size", 100))
        chunk = cameras[(page - 1) * size: page * size]
        return {"total": len(cameras), "page": page, "page_size": size,
                "pages": (len(cameras) + size - 1) // size,
                "cameras": [c.as_dict(imported.get(c.code)) for c in chunk]}

    async def cmd_import_cameras(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        selection = import_selection(args.get("cameras"))
        cameras = await cams.fetch_cameras(
            self.client,
            progress=lambda fetched, total: self.ctx.report_progress(fetched, total, "cameras read from HikCentral"))
        zones = cams.select_cameras(cameras, self.device.zones, selection, self.known.load())
        ids = await self.ctx.add_zones(zones) if zones else []
        self.known.save(c.code for c in cameras)
        return {"imported": ids, "count": len(ids)}

    async def cmd_sync_cameras(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        cameras = await cams.fetch_cameras(self.client)
        report = cams.sync_report(cameras, self.device.zones.values())
        missing = {m["zone"] for m in report["missing"]}
        for z in self.device.zones.values():
            if z.id in missing:
                self.ctx.set_zone_state(z.id, source=SOURCE, missing=True, online=False)
                self.streams.drop(z.id)
            else:
                self.ctx.set_zone_state(z.id, source=SOURCE, missing=False)
        self.known.save(c.code for c in cameras)
        return {**report, "counts": {k: len(v) for k, v in report.items()}}

    async def cmd_snapshot(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        """A picture taken now, through HikCentral (the host never talks to the camera)."""
        zone = self._zone(args, zone)
        code = str(zone.attributes["camera"])
        content_type, picture = await self.client.capture(code)
        if not content_type.startswith("image/"):
            raise DeviceError(f"HikCentral sent {content_type} instead of a picture of camera {code}")
        return capability_replies.snapshot(content_type, picture, camera=code, zone=zone.id)

    async def cmd_get_stream_url(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        zone = self._zone(args, zone)
        stream = args.get("stream") or self.zone_settings(zone).stream
        return await streams.fetch(self.client, zone, stream, args.get("protocol", "rtsp"), self.streams.ttl)

    async def cmd_ptz_pan_tilt(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        zone = self._zone(args, zone)
        pan, tilt = int(args["pan"]), int(args["tilt"])
        command = ptz_direction(pan, tilt)
        if command is None:
            return await self.cmd_ptz_stop(args, zone)
        moved = await self._ptz_move(zone, command, max(abs(pan), abs(tilt)), args.get("duration"))
        return capability_replies.reply("ptz_pan_tilt", **moved, pan=pan, tilt=tilt,
                                        stop_after_ms=moved["duration"])

    async def cmd_ptz_zoom(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        zone = self._zone(args, zone)
        value = int(args["zoom"])
        if value == 0:
            return await self.cmd_ptz_stop(args, zone)
        moved = await self._ptz_move(zone, "ZOOM_IN" if value > 0 else "ZOOM_OUT", abs(value), args.get("duration"))
        return capability_replies.reply("ptz_zoom", **moved, zoom=value, stop_after_ms=moved["duration"])

    async def cmd_ptz_stop(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        zone = self._zone(args, zone)
        code = str(zone.attributes["camera"])
        self._timers.cancel(code)
        command = self._ptz_last.pop(code, "LEFT")
        await self.client.ptz(code, 1, command)
        return capability_replies.reply("ptz_stop", camera=code, stopped=True)

    async def cmd_ptz_preset(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        zone = self._zone(args, zone)
        code = str(zone.attributes["camera"])
        self._timers.cancel(code)  # a late stop would halt the preset move
        await self.client.ptz(code, 0, "GOTO_PRESET", preset=int(args["preset"]))
        return capability_replies.reply("ptz_preset", camera=code, preset=int(args["preset"]))

    async def _ptz_move(self, zone: ZoneConfig, command: str, speed: int, duration: int | None) -> dict[str, Any]:
        """One HikCentral move (action 0); a ``duration`` stops it later through the core's timed stops."""
        code = str(zone.attributes["camera"])
        self._timers.cancel(code)  # a new move supersedes a pending stop
        await self.client.ptz(code, 0, command, speed=max(1, min(100, speed)))
        self._ptz_last[code] = command
        if duration:
            self._timers.schedule(code, duration, lambda: self._ptz_stop(code, command),
                                  f"PTZ stop after {duration} ms of camera {code}")
        return {"camera": code, "command": command, "speed": speed, "duration": duration}

    async def _ptz_stop(self, code: str, command: str) -> None:
        """HikCentral stops a move by repeating its command with action 1."""
        await self.client.ptz(code, 1, command)
        if self._ptz_last.get(code) == command:
            self._ptz_last.pop(code, None)

    def _start(self, work: Any, name: str) -> None:
        """A background task of this driver, cancelled by close()."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _zone(self, args: dict[str, Any], zone: ZoneConfig | None) -> ZoneConfig:
        if zone is None:
            raise InvalidArgs(f"camera {args.get('camera')!r} is not a zone of this device; import it first")
        return zone


def failure_report(exc: DriverError) -> dict[str, Any]:
    """What test_connection says about a failure: the reason, the message, HikCentral's code,
    and for a refused signature both strings to sign (neither holds a secret), so an
    integrator sees at once whether the AppSecret or the request layout is wrong."""
    report: dict[str, Any] = {"ok": False, "reason": reason_of(exc), "message": str(exc)}
    if getattr(exc, "code", None):
        report["code"] = exc.code  # type: ignore[attr-defined]
    theirs = getattr(exc, "gateway_string_to_sign", None)
    if theirs:
        report["gateway_string_to_sign"] = theirs
        report["our_string_to_sign"] = exc.our_string_to_sign  # type: ignore[attr-defined]
    return report


def import_selection(value: Any) -> str | list[str]:
    """``cameras`` as the host passes it: "new"/"all", ["new"]/["all"], or a list of index codes."""
    if isinstance(value, str):
        return value.strip().lower() if value.strip().lower() in ("new", "all") else [value]
    if isinstance(value, list):
        if len(value) == 1 and str(value[0]).strip().lower() in ("new", "all"):
            return str(value[0]).strip().lower()
        if not value:
            raise InvalidArgs("cameras is empty: give index codes, 'new' or 'all'")
        return [str(v) for v in value]
    raise InvalidArgs("cameras must be a list of index codes, 'new' or 'all'")
