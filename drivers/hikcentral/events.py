"""Receiving HikCentral's event pushes and turning them into gemhost events.

HikCentral does not offer a stream to read events from: after a subscription it POSTs every
event to a callback URL. So the driver runs a small aiohttp endpoint of its own. The handler
only queues the raw JSON (bounded, so a flood cannot eat memory) and answers at once; the
driver parses it against the *current* zones, so a zone removed from the site file stops
publishing immediately.

Push body (``OnEventNotify``)::

    {"method": "OnEventNotify",
     "params": {"ability": "event_vss", "sendTime": "...",
                "events": [{"eventId": "...", "eventType": 131331, "srcIndex": "<camera code>",
                            "srcType": "camera", "srcName": "...", "status": 0, "timeout": 0,
                            "happenTime": "2024-05-01T10:00:00.000+08:00", "data": {...}}]}}

``status`` says what the report is (see :data:`STATUS_REPORTS`); the core decides from it
when the zone's condition starts and ends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import logging
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from gemhost_drivers.hikcentral.eventcodes import vendor_name

from gemhost.eventtypes import normalize
from gemhost.model import Event, now

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024

# The push's ``status`` -> what the device said, for the core's event lifetime
# (docs/mqtt.md "Event lifetime"): 0 instantaneous, 1 start, 2 stop, 3 pulse repeat of an
# ongoing event, 4 linkage result update, 5 picture uploaded after the event. Every report of
# one event carries the same eventId, so 3/4/5 are updates of the event with that id.
STATUS_REPORTS = {0: "pulse", 1: "active", 2: "inactive", 3: "update", 4: "update", 5: "update"}


def report_state(status: int) -> str:
    """The Event.state of a push status; an unknown status is more data about an event
    (an update), never a start that could leave a zone on."""
    return STATUS_REPORTS.get(status, "update")


def parse_time(text: Any) -> dt.datetime:
    """HikCentral's ISO 8601 time with offset; a missing or odd one becomes "now"."""
    if not isinstance(text, str) or not text:
        return now()
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return now()
    return value if value.tzinfo else value.astimezone()


def parse_push(payload: Any, camera_zones: Mapping[str, str]) -> tuple[list[Event], int]:
    """Events of one push for the cameras that are zones; returns (events, ignored count).

    ``camera_zones`` maps a camera index code to its zone id. Events of cameras that are not
    imported are ignored: removing a zone must stop publishing that camera.
    """
    params = payload.get("params") if isinstance(payload, dict) else None
    raw_events = params.get("events") if isinstance(params, dict) else None
    if not isinstance(raw_events, list):
        raise ValueError("push without params.events")
    events: list[Event] = []
    ignored = 0
    for raw in raw_events:
        if not isinstance(raw, dict):
            ignored += 1
            continue
        code = str(raw.get("srcIndex", ""))
        zone = camera_zones.get(code)
        if zone is None:
            ignored += 1
            continue
        vendor = vendor_name(raw.get("eventType"))
        try:
            status = int(raw.get("status", 0))
        except (TypeError, ValueError):
            status = 0
        data = {"event_type_code": raw.get("eventType"), "camera": code,
                "camera_name": raw.get("srcName"), "status": status}
        if isinstance(raw.get("data"), dict):
            data["detail"] = raw["data"]
        event_id = str(raw["eventId"]) if raw.get("eventId") else None
        state = report_state(status)
        events.append(Event(
            type=normalize(vendor),
            vendor_type=vendor,
            state=state,
            time=parse_time(raw.get("happenTime")),
            zone=zone,
            data=data,
            id=event_id,
            # a stop names no sub-condition: it ends the camera's open event of that type
            refers_to=event_id if state == "update" else None,
        ))
    return events, ignored


class SeenReports:
    """Reports already handled, so a push HikCentral sends again (after a receiver that did
    not answer in time) is not published twice. Bounded: only recent pushes come back."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._seen: OrderedDict[tuple[str, str, str], None] = OrderedDict()

    def first_time(self, event: Event) -> bool:
        """True the first time this event id, report and time arrive (always without an id)."""
        if event.id is None:
            return True
        key = (event.id, str(event.data.get("status")), event.time.isoformat())
        if key in self._seen:
            return False
        self._seen[key] = None
        while len(self._seen) > self.limit:
            self._seen.popitem(last=False)
        return True


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def unreachable_warning(listen_host: str, callback_url: str | None, hcp_url: str) -> str | None:
    """Why pushes cannot reach this host, or None when they can as far as we can tell."""
    hcp_host = urlsplit(hcp_url).hostname or ""
    target = urlsplit(callback_url).hostname if callback_url else listen_host
    if is_loopback(target or "") and not is_loopback(hcp_host):
        return (f"event receiver is at {target}, a loopback address, but HikCentral is at {hcp_host}: "
                "its pushes cannot reach this host; set event_listen_host (and event_callback_url "
                "behind NAT) to an address HikCentral can reach")
    return None


class EventReceiver:
    """A local aiohttp endpoint that queues HikCentral's pushes.

    The path carries a random token so that stray POSTs to the port are not taken as events.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, queue_size: int = 1000) -> None:
        self.host = host
        self.port = port
        self.path = f"/gemhost/hikcentral/{secrets.token_urlsafe(12)}"
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=queue_size)
        self.dropped = 0
        self._runner: web.AppRunner | None = None

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(self.path, self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self._runner = runner

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            payload = json.loads(await request.read())
        except ValueError:
            return web.json_response({"code": "1", "msg": "body is not JSON"}, status=400)
        try:
            self.queue.put_nowait(payload)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("HikCentral event queue full, push dropped (%d so far)", self.dropped)
            return web.json_response({"code": "1", "msg": "busy"}, status=503)
        return web.json_response({"code": "0", "msg": "success"})
