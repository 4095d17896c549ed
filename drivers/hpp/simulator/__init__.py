"""A loopback aiohttp server that answers the Hik-Partner Pro OpenAPI the way the guide defines it.

Two listeners, as the guide's flow has two domains (2.2, 3.1): the *token* listener (the port
given, what the site file's ``domain`` names) answers ``POST /api/hpcgw/v1/token/get`` and the
``/_sim`` control API only; the *regional* listener (a free port, returned as ``areaDomain``)
answers every API the driver uses, plus the picture URLs of A.3.6 (``/v3/alarms/pic/get``).
Paths outside the guide get 404. Answers are the guide's envelope ``{"errorCode": "0",
"data": ...}`` with the A.1 codes; the account state lives in :mod:`.cloud`, the devices'
ISAPI answers in :mod:`.isapi`, the bodies they carry in :mod:`.bodies`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from aiohttp import web
from gemhost_drivers.hpp import client as api
from gemhost_drivers.hpp import codes
from gemhost_drivers.hpp.simulator import bodies
from gemhost_drivers.hpp.simulator import isapi as device_isapi
from gemhost_drivers.hpp.simulator.cloud import ALARM_HOST, Cloud, CloudError, Device

from gemhost.simulator import SimulatorBase

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
API_PREFIX = "/api/hpcgw/"


def _ok(data: Any = None) -> web.Response:
    body: dict[str, Any] = {"errorCode": codes.OK}
    if data is not None:
        body["data"] = data
    return web.json_response(body)


def _err(code: str) -> web.Response:
    return web.json_response({"errorCode": code})


class HppSimulator(SimulatorBase):
    """Simulated HPP cloud for one account. Options mirror the CLI flags."""

    driver: ClassVar[str] = "hpp"
    faults: ClassVar[tuple[str, ...]] = ("slow", "error500", "bad_json", "auth_fail", "rate_limit", "no_answer")
    fault_count_default: ClassVar[int | None] = 1

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        super().__init__(host, port, slow_delay=1.0)
        self.area_port = int(options.get("area_port", 0))
        self.cloud = Cloud(
            key=options.get("key"),
            access_key=options.get("access_key"),
            secret_key=options.get("secret_key"),
            token_ttl=float(options.get("token_ttl", 7 * 24 * 3600)),
            long_poll=float(options.get("long_poll", 20.0)),
            batch_size=int(options.get("batch_size", 20)),
            seed=options.get("seed", True),
        )
        if not self.cloud.credentials:
            self.cloud.key = "sim-key-0123456789abcdef"
        self.answer_area_domain: str | None = options.get("area_domain")
        """Answer this areaDomain instead of the regional listener (tests of refusal)."""
        self.intrusion_every = float(options.get("intrusion_every", 0.0))
        self.restore_after = float(options.get("restore_after", 3.0))
        self.transparent_log: list[dict[str, Any]] = []
        """The last transparent requests (serial, method, uri, content_type, body), for tests."""

    # ------------------------------------------------------------ Simulator protocol

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--port", type=int, default=0, help="token port on 127.0.0.1 (0 picks a free one)")
        parser.add_argument("--area-port", type=int, default=0, help="regional API port (0 picks a free one)")
        parser.add_argument("--key", help="the account key accepted in key mode")
        parser.add_argument("--access-key", help="the AK accepted in AK/SK mode (10 or 32 characters)")
        parser.add_argument("--secret-key", help="the SK accepted in AK/SK mode (10 or 32 characters)")
        parser.add_argument("--token-ttl", type=float, default=7 * 24 * 3600, help="token lifetime in seconds")
        parser.add_argument("--long-poll", type=float, default=20.0, help="seconds mq/messages waits for events")
        parser.add_argument("--intrusion-every", type=float, default=0.0,
                            help="seconds between scripted intrusions on zone 0 of every panel (0: none)")

    @classmethod
    def options_from_args(cls, args: argparse.Namespace) -> dict[str, Any]:
        """Constructor options; ``--port`` is passed by the CLI itself (``cls(host=, port=, **options)``)."""
        out: dict[str, Any] = {
            "token_ttl": args.token_ttl,
            "long_poll": args.long_poll,
            "intrusion_every": args.intrusion_every,
            "area_port": args.area_port,
        }
        for name in ("key", "access_key", "secret_key"):
            if getattr(args, name, None):
                out[name] = getattr(args, name)
        return out

    async def start(self) -> None:
        token_app = web.Application(middlewares=[self._middleware(area=False)])
        token_app.router.add_route("POST", api.TOKEN_PATH, self._token)
        self._control_routes(token_app)
        area_app = web.Application(middlewares=[self._middleware(area=True)], client_max_size=4 * 1024 * 1024)
        routes = [
            (api.TOKEN_PATH, self._token),
            (api.SITE_SEARCH_PATH, self._sites),
            (api.DEVICE_LIST_PATH, self._devices),
            (api.CAMERA_LIST_PATH, self._channels),
            (api.DEVICE_ADD_PATH, self._add),
            (api.DEVICE_UPDATE_PATH, self._update),
            (api.SUBSCRIBE_PATH, self._subscribe),
            (api.MESSAGES_PATH, self._messages),
            (api.OFFSET_PATH, self._offset),
            (api.PICTURE_URL_PATH, self._picture_url),
            (api.VIDEO_BY_TIME_PATH, self._recordings),
        ]
        for path, handler in routes:
            area_app.router.add_route("POST", path, handler)
        area_app.router.add_route("*", api.TRANSPARENT_PATH + "{tail:.+}", self._transparent)
        area_app.router.add_route("GET", "/v3/alarms/pic/get", self._picture)
        self._control_routes(area_app)
        # A short shutdown grace: pending long polls must not hold up stop() for 20 s.
        self.port = await self.listen(token_app, self.port, access_log=None, shutdown_timeout=0.5)
        self.area_port = await self.listen(area_app, self.area_port, access_log=None, shutdown_timeout=0.5)
        self.cloud.area_domain = self.answer_area_domain or self.area_url
        if self.intrusion_every > 0:
            self.spawn(self._demo_intrusions())

    def _control_routes(self, app: web.Application) -> None:
        for method, path, handler in [
            ("POST", "/_sim/event", self._sim_event),
            ("POST", "/_sim/intrusion", self._sim_intrusion),
            ("POST", "/_sim/restore", self._sim_restore),
            ("POST", "/_sim/contact", self._sim_contact),
            ("POST", "/_sim/revoke", self._sim_revoke),
            ("POST", "/_sim/online", self._sim_online),
            ("POST", "/_sim/delete", self._sim_delete),
        ]:
            app.router.add_route(method, path, handler)

    async def _demo_intrusions(self) -> None:
        """Scripted activity for demos: zone 0 of every seeded panel trips every ``intrusion_every``
        seconds; an armed partition turns that into a CID alarm, restored ``restore_after`` later."""
        while True:
            await asyncio.sleep(self.intrusion_every)
            for device in list(self.cloud.devices.values()):
                if device.category == ALARM_HOST and device.site_id and self.intrusion(device.serial, 0):
                    self._later(self.restore_after, lambda s=device.serial: self.cloud.restore_zone(s, 0))

    def _later(self, delay: float, action: Callable[[], Any]) -> None:
        async def run() -> None:
            await asyncio.sleep(delay)
            try:
                action()
            except CloudError:
                pass

        self.spawn(run())

    @property
    def area_url(self) -> str:
        """The regional domain answered as ``areaDomain``."""
        return f"http://{self.host}:{self.area_port}"

    # ------------------------------------------------------------ Python control API

    def event(self, serial: str, event_type: str, *, channel: int | None = 1, state: str | None = None) -> str:
        return self.cloud.camera_event(serial, event_type, channel=channel, state=state)

    def intrusion(self, serial: str, zone: int, *, fire: bool = False) -> str | None:
        return self.cloud.trigger_zone(serial, zone, fire=fire)

    def contact(self, serial: str, zone: int, opened: bool) -> str | None:
        """Open or close a panel zone's magnetic contact (an armed zone alarms when opened)."""
        return self.cloud.set_contact(serial, zone, opened)

    def state(self) -> dict[str, Any]:
        return self.cloud.snapshot()

    # ------------------------------------------------------------ plumbing

    def _middleware(self, *, area: bool) -> Any:
        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            if not request.path.startswith(API_PREFIX):
                return await handler(request)
            self.cloud.counters["requests"] += 1
            if area:
                self.cloud.counters["area_requests"] += 1
                refusal = await self._fault()
                if refusal is not None:
                    return refusal
            try:
                return await handler(request)
            except CloudError as exc:
                return _err(exc.code)

        return middleware

    async def _fault(self) -> web.StreamResponse | None:
        """The regional API's answer to the fault of this request (``gemhost.simulator.FAULTS``;
        ``/_sim/fault`` queues one for one request unless it names a ``count``)."""
        kind, seconds = self.take_fault()
        await self.apply_timing_fault(kind, seconds)
        if kind == "error500":
            return web.Response(status=500, text="Internal Server Error")
        if kind == "bad_json":
            return web.Response(text='{"errorCode": "0", "data": {', content_type="application/json")
        if kind == "auth_fail":  # every token dies; check_token then refuses this request (LAP500005)
            self.cloud.revoke_tokens()
        elif kind == "rate_limit":
            return _err(codes.CALLS_LIMITED)
        return None

    async def _json(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            raise CloudError(codes.PARAMETER_ERROR) from None
        if not isinstance(body, dict):
            raise CloudError(codes.PARAMETER_ERROR)
        return body

    def _auth(self, request: web.Request) -> str:
        return self.cloud.check_token(request.headers.get("Authorization"))

    @staticmethod
    def _page(rows: list[dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
        """3.6/3.21 paging: page from 1, pageSize 20 by default."""
        try:
            page = max(1, int(body.get("page") or 1))
            size = max(1, min(200, int(body.get("pageSize") or 20)))
        except (TypeError, ValueError):
            raise CloudError(codes.PARAMETER_ERROR) from None
        total_pages = (len(rows) + size - 1) // size
        return {"page": page, "pageSize": size, "rows": rows[(page - 1) * size : page * size],
                "total": len(rows), "totalPage": total_pages}

    # ------------------------------------------------------------ the cloud API

    async def _token(self, request: web.Request) -> web.Response:
        return _ok(self.cloud.issue_token(await self._json(request)))  # 2.2, 3.1

    async def _sites(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = await self._json(request)
        search = str(body.get("search") or "").lower()
        rows = [self.cloud.site_row(s) for s in self.cloud.sites.values()
                if search in s.name.lower() or search in s.city.lower()]
        return _ok(self._page(rows, body))

    async def _devices(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = await self._json(request)
        site = body.get("siteId")
        if site and site not in self.cloud.sites:
            raise CloudError(codes.SITE_MISSING)
        devices = self.cloud.site_devices(site)
        if body.get("deviceSerial"):
            devices = [d for d in devices if d.serial == str(body["deviceSerial"]).strip().upper()]
        return _ok(self._page([self.cloud.device_row(d) for d in devices], body))

    async def _channels(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = await self._json(request)
        return _ok(self.cloud.channel_rows(self.cloud.device(str(body.get("deviceSerial") or ""))))  # 3.22

    async def _add(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = await self._json(request)
        site = str(body.get("siteId") or "")
        if site not in self.cloud.sites:
            raise CloudError(codes.SITE_MISSING)
        items = body.get("deviceList")
        if not isinstance(items, list) or not items:
            raise CloudError(codes.PARAMETER_ERROR)
        added, failed = [], []
        for item in items:
            try:
                dev = self.cloud.add_to_site(site, item if isinstance(item, dict) else {})
                added.append({"deviceCategory": str(dev.category), "deviceName": dev.name,
                              "deviceSerial": dev.serial})
            except CloudError as exc:
                serial = item.get("deviceSerial") if isinstance(item, dict) else None
                failed.append({"deviceSerial": serial, "failReason": f"add Exception{{{exc.code}}}"})  # 3.18
        return _ok({"addFailedList": failed, "addSuccessList": added})

    async def _update(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = await self._json(request)
        name = str(body.get("deviceName") or "")
        if not name or len(name) > 128:
            raise CloudError(codes.PARAMETER_ERROR)
        dev = next((d for d in self.cloud.site_devices() if d.id == body.get("deviceId")), None)
        if dev is None:
            raise CloudError(codes.NO_DEVICE)
        dev.name = name
        if len(dev.channels) == 1:
            dev.channels[0].name = name  # a single camera's channel carries the device name
        return _ok()

    async def _subscribe(self, request: web.Request) -> web.Response:
        self._auth(request)
        self.cloud.subscribe(await self._json(request))
        return _ok()

    async def _messages(self, request: web.Request) -> web.Response:
        return _ok(await self.cloud.pull(self._auth(request)))

    async def _offset(self, request: web.Request) -> web.Response:
        self._auth(request)
        self.cloud.commit(str((await self._json(request)).get("batchId") or ""))
        return _ok()

    async def _picture_url(self, request: web.Request) -> web.Response:
        """3.36: an ISAPI_FILES path becomes a download URL valid for two hours."""
        self._auth(request)
        path = str((await self._json(request)).get("filePath") or "")
        if not path.startswith("ISAPI_FILES/"):
            raise CloudError(codes.BAD_PICTURE_PATH)
        file_id = path.split("/")[-1].split("$")[0]
        encrypted = "$encrypt=" in path and path.split("$encrypt=")[1][:1] != "0"
        return _ok({"pictureUrl": f"{self.area_url}/v3/alarms/pic/get?fileId={file_id}&isEncrypted=0",
                    "encrypt": encrypted})

    async def _recordings(self, request: web.Request) -> web.Response:
        """3.52: one alarm recording and one timing recording per hour of the window."""
        self._auth(request)
        body = await self._json(request)
        dev = self.cloud.device(str(body.get("deviceSerial") or ""))
        channel = int(body.get("channelNo") or 1)
        if channel not in {c.number for c in dev.channels}:
            raise CloudError(codes.CHANNEL_MISSING)
        now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
        end = int(body.get("endTime") or now_ms)
        start = int(body.get("startTime") or end - 3_600_000)
        rec_type = int(body.get("recType") or 0)
        rows = []
        for n, begin in enumerate(range(start, end, 3_600_000)):
            rows.append({"recType": rec_type or 2, "startTime": begin, "endTime": min(end, begin + 60_000),
                         "localType": "0" if n % 2 == 0 else "1", "crypt": 0})
        return _ok(rows[:100])

    # ------------------------------------------------------------ ISAPI through the cloud (3.23)

    async def _transparent(self, request: web.Request) -> web.StreamResponse:
        self._auth(request)
        serial = request.headers.get("X-Devserial", "")
        if not serial:
            raise CloudError(codes.PARAMETER_ERROR)
        dev: Device = self.cloud.device(serial)
        if not dev.online:
            return web.Response(status=200, headers={"X-EZO-Code": codes.DEVICE_OFFLINE,
                                                     "X-ErrorCode": codes.DEVICE_OFFLINE})
        uri = request.match_info["tail"] + (f"?{request.query_string}" if request.query_string else "")
        raw = await request.read()
        self.transparent_log.append({"serial": dev.serial, "method": request.method, "uri": uri,
                                     "content_type": request.content_type, "body": raw})
        del self.transparent_log[:-200]
        answer = device_isapi.handle(self.cloud, dev, request.method, uri, raw)
        return web.Response(status=answer.status, body=answer.body, content_type=answer.content_type,
                            headers={"X-EZO-Code": "0", **answer.headers})

    async def _picture(self, request: web.Request) -> web.Response:
        """The picture URLs of A.3.6 / 2.5 (``.../v3/alarms/pic/get?fileId=...``)."""
        if not request.query.get("fileId"):
            return web.Response(status=404)
        return web.Response(body=bodies.JPEG, content_type="image/jpeg")

    # ------------------------------------------------------------ /_sim control API

    async def _sim_call(self, func: Callable[[], Any]) -> web.Response:
        try:
            return web.json_response({"ok": True, "result": func()})
        except (CloudError, KeyError, ValueError, TypeError) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)

    async def _sim_event(self, request: web.Request) -> web.Response:
        b = await request.json()
        return await self._sim_call(lambda: self.event(b["serial"], b["type"], channel=b.get("channel", 1),
                                                       state=b.get("state")))

    async def _sim_intrusion(self, request: web.Request) -> web.Response:
        b = await request.json()
        return await self._sim_call(lambda: self.intrusion(b["serial"], int(b["zone"]), fire=bool(b.get("fire"))))

    async def _sim_restore(self, request: web.Request) -> web.Response:
        b = await request.json()
        return await self._sim_call(lambda: self.cloud.restore_zone(b["serial"], int(b["zone"])))

    async def _sim_contact(self, request: web.Request) -> web.Response:
        b = await request.json()
        return await self._sim_call(lambda: self.contact(b["serial"], int(b["zone"]), bool(b.get("open", True))))

    async def _sim_revoke(self, request: web.Request) -> web.Response:
        return await self._sim_call(self.cloud.revoke_tokens)

    async def _sim_online(self, request: web.Request) -> web.Response:
        b = await request.json()
        return await self._sim_call(lambda: self.cloud.set_online(b["serial"], bool(b.get("online", True))))

    async def _sim_delete(self, request: web.Request) -> web.Response:
        b = await request.json()
        return await self._sim_call(lambda: self.cloud.delete_device(b["serial"]))
