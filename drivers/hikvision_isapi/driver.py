"""IsapiDriver: a Hikvision camera, NVR or DVR over ISAPI (issue 4)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, ClassVar

from gemhost import capability_replies, httpfeed, outputs
from gemhost.backoff import Backoff
from gemhost.driver import DeviceContext, Driver
from gemhost.errors import AuthError, DeviceError, DeviceUnreachable, NotSupported
from gemhost.flag import Flag
from gemhost.model import DeviceInfo, Event, ZoneConfig
from gemhost.schema import bundled_schema
from gemhost.timedstops import TimedStops
from gemhost.urls import strip_credentials

from . import channels, diagnose, kernel, triggers
from .client import IsapiClient
from .events import Alert, AlertDecoder, MultipartParser, boundary_of

DEVICE_INFO = "/ISAPI/System/deviceInfo"
INPUT_PROXY = "/ISAPI/ContentMgmt/InputProxy/channels"
STREAMING = "/ISAPI/Streaming/channels"
VIDEO_INPUTS = "/ISAPI/System/Video/inputs/channels"
ALERT_STREAM = "/ISAPI/Event/notification/alertStream"
EVENT_TRIGGERS = "/ISAPI/Event/triggers"
CAPABILITIES = "/ISAPI/System/capabilities"
STATS_FLUSH = 2.0
"""Seconds between device-state updates of the alertStream tally: a hostile stream of broken
parts must not turn into a flood of state publications."""
RECORDER_TYPES = ("nvr", "dvr", "hvr", "dvs", "hybrid")

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 60.0


class StreamStalled(Exception):
    """No byte arrived on the alertStream within stream_stall_timeout."""


class IsapiDriver(Driver):
    """One ISAPI device; zones are its video channels by human channel number."""

    name: ClassVar[str] = "hikvision_isapi"
    schema_path = bundled_schema("hikvision_isapi")
    version: ClassVar[str] = "1.0"

    def __init__(self, ctx: DeviceContext) -> None:
        super().__init__(ctx)
        s = self.settings
        self.client = IsapiClient(
            str(s.ip), int(s.port or (443 if s.scheme == "https" else 80)),
            username=str(s.username), password=s.password, scheme=s.scheme,
            auth_mode=s.auth_mode, timeout=float(s.timeout), verify_tls=bool(s.verify_tls), log=self.log)
        self.info = DeviceInfo(manufacturer="Hikvision")
        self.ip_channel_ids: list[int] = []
        self.stream_state: str | None = None
        self._auth_ok = Flag(True)
        self.client.on_refused = self._auth_ok.clear  # a refused command holds the stream back too
        self._timers = TimedStops(self.log)
        """Pending PTZ stops (``duration``) by channel and pulse ends by output."""
        self.stall_timeout = s.stream_stall_timeout / 1000
        self.decoder = AlertDecoder()
        self.event_types: dict[int, list[str]] | None = None
        """Event types per channel from Event/triggers, read once per driver (None: not yet)."""
        self.device_event_types: list[str] = []
        self._stats_flush: asyncio.TimerHandle | None = None
        self._problems_noted = 0
        """``problem_count`` of the decoder when the tally was last published."""
        self._zones_mapped: dict[str, ZoneConfig] | None = None
        """The zone list ``_zone_by_address`` was built from (``zone_for``)."""
        self._zone_by_address: dict[int, ZoneConfig] = {}
        self._stream_good = False
        self._traffic_at: float | None = None
        """Loop time of the alertStream's last byte while it is open (``last_traffic``)."""
        self._refusals = 0
        self.backoff = Backoff(initial=BACKOFF_FIRST, maximum=BACKOFF_MAX, jitter=0.5)
        """Reconnect delays of the alertStream; reset after a stream that delivered a readable part."""

    # ------------------------------------------------------------ liveness

    async def connect(self) -> DeviceInfo:
        """GET deviceInfo; on success the device is online and the event stream may (re)try."""
        try:
            reply = await self.client.get(DEVICE_INFO)
        except AuthError:
            self._auth_ok.clear()
            raise
        try:
            parsed = kernel.device_info(reply.body)
        except kernel.XmlError as exc:
            raise DeviceError(f"deviceInfo is not valid XML: {exc}") from None
        self.info = DeviceInfo(
            model=parsed["model"], firmware=parsed["firmware"], serial=parsed["serial"],
            manufacturer="Hikvision",
            extra={"mac": parsed["mac"], "device_type": parsed["device_type"],
                   "device_name": parsed["name"], "firmware_build": parsed["firmware_build"]})
        if not self._auth_ok.is_set():
            self._auth_ok.set()
        if self.is_recorder and not self.ip_channel_ids:
            await self._learn_ip_channels()
        if self.event_types is None:
            await self._learn_event_types()
        self._add_extras()
        self._publish_zone_states()
        return self.info

    def _add_extras(self) -> None:
        """What the driver learnt besides deviceInfo: stream state, device-level event types,
        the alertStream tally (parts read, dropped, repaired)."""
        extra = self.info.extra
        if self.stream_state:
            extra["event_stream"] = self.stream_state
        if self.device_event_types:
            extra["event_types"] = self.device_event_types
        if self.decoder.stats.problems():
            extra["alert_parts"] = self.decoder.stats.problems()

    async def _learn_event_types(self) -> None:
        """Event/triggers (and System/capabilities for PIR) -> event types per channel. A device
        without them (old firmware, an account without the right) just publishes none."""
        try:
            body = (await self.client.get(EVENT_TRIGGERS)).body
            found = kernel.event_triggers(body)
        except DeviceUnreachable as exc:  # deviceInfo just answered: try again at the next poll
            self.log.info("event triggers not read this time: %s", exc)
            return
        except (AuthError, DeviceError, NotSupported, kernel.XmlError) as exc:
            # refused or absent: never asked again by this driver (a refusal may count as a
            # failed login on the device, and the lockout allows very few)
            self.log.info("event triggers unavailable (%s); zones publish no event_types", exc)
            self.event_types = {}
            return
        pir = None
        with contextlib.suppress(AuthError, DeviceError, DeviceUnreachable, NotSupported, kernel.XmlError):
            pir = kernel.capability((await self.client.get(CAPABILITIES)).body, "WLAlarmCap", "isSupportPIR")
        self.event_types, self.device_event_types = triggers.event_types(found, pir=pir)

    async def poll(self) -> DeviceInfo:
        return await self.connect()

    @property
    def is_recorder(self) -> bool:
        kind = (self.info.extra.get("device_type") or "").lower()
        return any(k in kind for k in RECORDER_TYPES)

    async def _learn_ip_channels(self) -> None:
        """InputProxy ids, needed to place NVR events that use the channelID+32 numbering."""
        with contextlib.suppress(DeviceError, NotSupported, DeviceUnreachable, kernel.XmlError):
            reply = await self.client.get(INPUT_PROXY)
            self.ip_channel_ids = [c["channel"] for c in kernel.input_proxy_channels(reply.body)]

    async def zones_changed(self) -> None:
        """Zone state (stream URL, channel id) derives from the zone attributes alone."""
        self._publish_zone_states()

    def _publish_zone_states(self) -> None:
        for zone in self.device.zones.values():
            z = self.zone_settings(zone)
            addr, stream = int(z.address), z.stream
            # a user-typed stream_url may carry user:password; it is published without them
            url = strip_credentials(z.stream_url or "") or channels.rtsp_url(str(self.settings.ip), addr, stream)
            fields: dict[str, Any] = {"stream_url": url, "channel_id": channels.stream_id(addr, stream)}
            if self.event_types is not None:
                fields["event_types"] = self.event_types.get(addr, [])
            self.ctx.set_zone_state(zone.id, **fields)

    async def diagnostics(self) -> dict[str, Any]:
        return await diagnose.capture(self.client)

    async def close(self) -> None:
        await self._timers.close()
        if self._stats_flush is not None:
            self._stats_flush.cancel()
        with contextlib.suppress(Exception):
            await self.client.close()

    # ------------------------------------------------------------ events

    def _set_stream_state(self, state: str) -> None:
        if state == self.stream_state:
            return
        self.stream_state = state
        self.info.extra["event_stream"] = state
        self.ctx.set_device_info(self.info)

    def last_traffic(self) -> float | None:
        """The last byte of the open alertStream (alerts and the heartbeat alike): an
        authenticated answer of the device itself, so the host need not poll it meanwhile."""
        return self._traffic_at

    async def run_events(self) -> None:
        """alertStream with reconnect (exponential back-off, full jitter, reset after a stream
        that delivered a readable part); returns on 404 or a stream refused twice."""
        if not self.settings.events:
            return
        backoff = self.backoff
        self._refusals = 0
        while True:
            await self._auth_ok.wait()
            self._stream_good = False
            outcome = await self._stream_once()
            self._traffic_at = None  # a broken stream proves nothing: the next liveness tick polls
            if outcome == "stop":
                return
            if outcome == "auth":
                continue
            if self._stream_good:
                backoff.reset()
            # an end sent while we were away is lost: close what is open rather than guess
            self.ctx.end_open_events("offline")
            self._set_stream_state("reconnecting")
            await asyncio.sleep(backoff.next())

    async def _stream_once(self) -> str:
        """One alertStream connection: "stop" (never retry), "auth" (wait for a good login),
        or "retry"."""
        try:
            requested = asyncio.get_running_loop().time()
            async with self.client.stream(ALERT_STREAM) as resp:
                self._refusals = 0
                self._set_stream_state("connected")
                await self._consume(resp, requested)
                self.log.info("alertStream ended; reconnecting")
        except NotSupported as exc:
            self.log.warning("event stream not supported, not retrying: %s", exc)
            self._set_stream_state("unsupported")
            return "stop"
        except AuthError as exc:
            self._refusals += 1
            if self._refusals >= 2:
                # Refused again although deviceInfo accepted the same login in between: the
                # account lacks the event right. Retrying would only feed the lockout counter.
                self.log.warning("event stream refused twice while the login works: the account "
                                 "may not subscribe to events; not retrying until reload (%s)", exc)
                self._set_stream_state("forbidden")
                return "stop"
            self.log.warning("event stream refused (waiting for a good login): %s", exc)
            self._auth_ok.clear()
            self._set_stream_state("auth_failed")
            return "auth"
        except StreamStalled:
            self.log.warning("alertStream silent for %.1f s; reconnecting", self.stall_timeout)
        except (DeviceError, DeviceUnreachable) as exc:
            self.log.warning("event stream: %s", exc)
        except (OSError, asyncio.IncompleteReadError, ConnectionError) as exc:
            self.log.warning("event stream dropped: %s", type(exc).__name__)
        except Exception as exc:  # aiohttp payload errors and the like: reconnect, never die
            self.log.warning("event stream error: %s: %s", type(exc).__name__, exc)
        return "retry"

    async def _consume(self, resp, requested: float) -> None:
        """Read parts until EOF. Raises StreamStalled when nothing arrives for
        ``stream_stall_timeout``, counted from the request for the first byte (a device that
        answers the headers and then sends nothing is stalled too), then from the last byte.

        Firmware's close-delimited body is read by callback (``gemhost.httpfeed``: no task
        woken per chunk); a chunked one, or anything else, through aiohttp's reader."""
        parser = MultipartParser(boundary_of(resp.headers.get("Content-Type", "")))
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        stalled = False

        def on_data(chunk: bytes) -> None:
            self._traffic_at = loop.time()
            self._read_chunk(parser, chunk)

        def watch() -> None:
            # One timer per stream, moved lazily: a chunk only notes its time, and the timer,
            # when it fires, either ends the stream or waits for what remains. A wait_for per
            # read costs a task and a timer per chunk, a timer moved at every chunk a heap
            # operation; at 1,000 cameras both were a visible share of the host's CPU.
            nonlocal watchdog, stalled
            last = self._traffic_at if self._traffic_at is not None else requested
            if loop.time() - last >= self.stall_timeout:
                stalled = True
                task.cancel()
            else:
                watchdog = loop.call_at(last + self.stall_timeout, watch)

        watchdog = loop.call_at(requested + self.stall_timeout, watch)
        try:
            if httpfeed.feedable(resp):
                await httpfeed.feed_body(resp, on_data)
                return
            content = resp.content
            while chunk := await content.readany():
                on_data(chunk)
        except asyncio.CancelledError:
            if stalled and task.uncancel() == 0:  # our own cancellation, and no one else's
                raise StreamStalled() from None
            raise
        finally:
            watchdog.cancel()

    def _read_chunk(self, parser: MultipartParser, chunk: bytes) -> None:
        """Decode and hand on the alerts a chunk completed; count framing losses."""
        truncated = parser.dropped
        for part in parser.feed(chunk):
            for alert in self.decoder.decode(part):
                self._stream_good = True
                self._handle_safely(alert)
        if parser.dropped > truncated:
            self.decoder.stats.problem("truncated", parser.dropped - truncated)
        self._note_problems()

    def _handle_safely(self, alert: Alert) -> None:
        """One alert; a bug or an odd value in it costs that alert, never the stream."""
        try:
            self.handle_alert(alert)
        except Exception as exc:
            self.decoder.stats.problem("unhandled")
            self.log.warning("alert %s on channel %s not handled: %s: %s", alert.event_type,
                             alert.channel_id, type(exc).__name__, exc)

    def _note_problems(self) -> None:
        """Publish the alertStream tally (in device state ``alert_parts``) when a problem counter
        moved, at most every STATS_FLUSH seconds."""
        stats = self.decoder.stats
        if stats.problem_count == self._problems_noted or self._stats_flush is not None:
            return

        def flush() -> None:
            self._stats_flush = None
            self._problems_noted = stats.problem_count
            self.info.extra["alert_parts"] = stats.problems()
            self.ctx.set_device_info(self.info)
        self._stats_flush = asyncio.get_running_loop().call_later(STATS_FLUSH, flush)

    def zone_for(self, address: int | None) -> ZoneConfig | None:
        """The zone of a channel address (the first one, if two share it); looked up in a map
        rebuilt whenever the host hands the driver a new zone list."""
        if address is None:
            return None
        zones = self.device.zones
        if zones is not self._zones_mapped:
            self._zone_by_address = {}
            for zone in zones.values():
                self._zone_by_address.setdefault(int(zone.attributes["address"]), zone)
            self._zones_mapped = zones
        return self._zone_by_address.get(address)

    def handle_alert(self, alert: Alert) -> Event | None:
        """Report one decoded alert to the core, which owns its lifetime (alertStream types
        are ``repeating`` in the schema: repeats extend a condition, quiet time ends it; an
        end without a region ends every region of the channel; access-control alerts are
        pulses). Returns the Event reported (None for a heartbeat)."""
        if alert.heartbeat:
            return None
        address = channels.event_address(alert.channel_id, alert.dyn_channel_id, self.ip_channel_ids)
        zone = self.zone_for(address)
        data = alert.data()
        if address is not None:
            data["address"] = address
        event = Event(type=alert.normalized, vendor_type=alert.event_type, state=alert.state,
                      time=alert.time, zone=zone.id if zone else None, channel=address, data=data,
                      key=alert.key, id=alert.event_id)
        # Not awaited, and no done callback per event: a delivery failure (an event the full
        # offline queue dropped) marks itself retrieved (gemhost/mqtt/queue.py, Outgoing.fail).
        self.ctx.emit_event(event)
        return event

    # ------------------------------------------------------------ commands

    def _address(self, args: dict[str, Any], zone: ZoneConfig | None) -> tuple[int, str]:
        if zone is not None:
            z = self.zone_settings(zone)
            return int(z.address), z.stream
        return int(args["address"]), "main"

    async def cmd_snapshot(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        address, stream = self._address(args, zone)
        sid = channels.stream_id(address, stream)
        reply = await self.client.get(f"{STREAMING}/{sid}/picture", op="snapshot", channel=address)
        if not reply.content_type.lower().startswith("image/") and reply.body[:2] != b"\xff\xd8":
            status = kernel.response_status(reply.body)
            why = (status or {}).get("status_string") or f"unexpected {reply.content_type or 'body'}"
            raise DeviceError(f"snapshot of channel {address} (stream {sid}) failed: {why}")
        ctype = reply.content_type.split(";")[0].strip() or "image/jpeg"
        if not ctype.startswith("image/"):
            ctype = "image/jpeg"
        return capability_replies.snapshot(ctype, reply.body)

    async def _continuous(self, address: int, pan: int = 0, tilt: int = 0, zoom: int | None = None) -> None:
        if zoom and (pan, tilt) == (0, 0):  # a zoom alone (a stop names all three axes)
            body = kernel.ptz_data(None, None, zoom, namespace=None)
        else:
            body = kernel.ptz_data(pan, tilt, zoom, namespace=None)
        await self.client.put(f"/ISAPI/PTZCtrl/channels/{address}/continuous", body,
                              op="ptz", channel=address)

    async def _move(self, args: dict[str, Any], zone: ZoneConfig | None, pan: int, tilt: int,
                    zoom: int | None) -> int | None:
        """One continuous move (or stop); a ``duration`` stops it later through the core's timed
        stops. Returns the stop's delay (None: none pending)."""
        address, _ = self._address(args, zone)
        key = f"ptz-{address}"
        self._timers.cancel(key)  # a new move supersedes a pending stop
        await self._continuous(address, pan, tilt, zoom)
        duration = args.get("duration") if (pan or tilt or zoom) else None
        self._timers.schedule(key, duration, lambda: self._continuous(address, 0, 0, 0),
                              f"PTZ stop after {duration} ms on channel {address}")
        return duration

    async def cmd_ptz_pan_tilt(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        address, _ = self._address(args, zone)
        pan, tilt = int(args["pan"]), int(args["tilt"])
        stop_after = await self._move(args, zone, pan, tilt, None)
        return capability_replies.reply("ptz_pan_tilt", channel=address, pan=pan, tilt=tilt, stop_after_ms=stop_after)

    async def cmd_ptz_zoom(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        address, _ = self._address(args, zone)
        zoom = int(args["zoom"])
        stop_after = await self._move(args, zone, 0, 0, zoom)
        return capability_replies.reply("ptz_zoom", channel=address, zoom=zoom, stop_after_ms=stop_after)

    async def cmd_ptz_stop(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        address, _ = self._address(args, zone)
        await self._move(args, zone, 0, 0, 0)
        return capability_replies.reply("ptz_stop", channel=address, stopped=True)

    async def cmd_ptz_preset(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        address, _ = self._address(args, zone)
        preset = int(args["preset"])
        await self.client.put(f"/ISAPI/PTZCtrl/channels/{address}/presets/{preset}/goto", b"",
                              op="ptz", channel=address)
        return capability_replies.reply("ptz_preset", channel=address, preset=preset)

    async def cmd_ptz_relative(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        address, _ = self._address(args, zone)
        pan, tilt, zoom = int(args.get("pan", 0)), int(args.get("tilt", 0)), int(args.get("zoom", 0))
        await self.client.put(f"/ISAPI/PTZCtrl/channels/{address}/relative", kernel.ptz_relative_data(pan, tilt, zoom),
                              op="ptz", channel=address)
        return capability_replies.reply("ptz_relative", channel=address, pan=pan, tilt=tilt, zoom=zoom)

    async def cmd_get_channels(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        """InputProxy (NVR IP channels), else Streaming channels (camera), else video inputs (DVR)."""
        for path, parse, source in ((INPUT_PROXY, kernel.input_proxy_channels, "input_proxy"),
                                    (STREAMING, kernel.streaming_channels, "streaming"),
                                    (VIDEO_INPUTS, kernel.video_inputs, "video_inputs")):
            try:
                reply = await self.client.get(path)
                rows = parse(reply.body)
            except (DeviceError, NotSupported, kernel.XmlError) as exc:
                self.log.debug("get_channels: %s unusable: %s", path, exc)
                continue
            if not rows:
                continue
            if source == "input_proxy":
                self.ip_channel_ids = [r["channel"] for r in rows]
                with contextlib.suppress(DeviceError, NotSupported, kernel.XmlError):
                    status = kernel.input_proxy_status((await self.client.get(INPUT_PROXY + "/status")).body)
                    for r in rows:
                        r["online"] = status.get(r["channel"])
            return {"source": source, "channels": rows}
        return {"source": None, "channels": []}

    async def cmd_get_device_info(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        reply = await self.client.get(DEVICE_INFO)
        try:
            parsed = kernel.device_info(reply.body)
        except kernel.XmlError as exc:
            raise DeviceError(f"deviceInfo is not valid XML: {exc}") from None
        return {**parsed, "raw_xml": reply.body.decode("utf-8", "replace")}

    async def _output(self, output: int, on: bool) -> None:
        """``on`` is output level high, off low (IOPortData outputState)."""
        body = kernel.io_port_data(on, namespace=None)
        await self.client.put(f"/ISAPI/System/IO/outputs/{output}/trigger", body, op="output")

    async def cmd_set_output(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        return await outputs.set_output(args, self._output, self._timers, f"output-{args['output']}")
