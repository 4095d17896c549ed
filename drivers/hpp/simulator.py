"""A loopback aiohttp server that behaves like the Hik-Partner Pro OpenAPI subset the driver uses.

The account state lives in :class:`~gemhost_drivers.hpp.sim_cloud.Cloud`; this module is only
the wire: JSON envelopes (``errorCode``/``msg``/``data``), Bearer tokens, the long-polled message
queue, ISAPI passed through ``device/transparent`` to cameras and AX PRO panels, fault
injection, and the ``/_sim/...`` control API used by tests and ``gemhost simulate hpp``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from aiohttp import web
from defusedxml import ElementTree
from gemhost_drivers.hpp import client as api
from gemhost_drivers.hpp import sim_bodies as bodies
from gemhost_drivers.hpp.sim_cloud import ALARM, ENCODING, Cloud, CloudError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RESPONSE_OK = {"statusCode": 1, "statusString": "OK", "subStatusCode": "ok"}
FAULTS = ("slow", "error500", "bad_json", "revoke_token")


def _ok(data: Any = None) -> web.Response:
    body: dict[str, Any] = {"errorCode": api.OK, "msg": "success"}
    if data is not None:
        body["data"] = data
    return web.json_response(body)


def _err(code: str, msg: str, data: Any = None) -> web.Response:
    body: dict[str, Any] = {"errorCode": code, "msg": msg}
    if data is not None:
        body["data"] = data
    return web.json_response(body)


def _isapi_status(code: int, sub: str, text: str, *, xml: bool) -> web.Response:
    if not xml:
        return web.json_response(
            {"statusCode": code, "statusString": text, "subStatusCode": sub, "errorMsg": text}
        )
    doc = (
        f'<?xml version="1.0" encoding="UTF-8"?><ResponseStatus version="2.0" xmlns="{bodies.ISAPI_NS}">'
        f"<requestURL></requestURL><statusCode>{code}</statusCode><statusString>{text}</statusString>"
        f"<subStatusCode>{sub}</subStatusCode></ResponseStatus>"
    )
    return web.Response(text=doc, content_type="application/xml")


class HppSimulator:
    """Simulated HPP cloud for one account. Options mirror the CLI flags."""

    driver: ClassVar[str] = "hpp"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the HPP simulator only listens on loopback")
        self.host = host
        self.port = port
        self.cloud = Cloud(
            region=options.get("region", "sg"),
            key=options.get("key"),
            access_key=options.get("access_key"),
            secret_key=options.get("secret_key"),
            token_ttl=float(options.get("token_ttl", 7 * 24 * 3600)),
            long_poll=float(options.get("long_poll", 20.0)),
            batch_size=int(options.get("batch_size", 20)),
            seed=options.get("seed", True),
        )
        if not (self.cloud.key or self.cloud.access_key):
            self.cloud.key = "sim-key-0123456789abcdef"
        self._faults: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.intrusion_every = float(options.get("intrusion_every", 0.0))
        self._demo_task: asyncio.Task | None = None
        self.streams: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------ Simulator protocol

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 picks a free one)")
        parser.add_argument("--key", help="the account key accepted in key mode")
        parser.add_argument("--access-key", help="the AK accepted in AK/SK mode (10 or 32 characters)")
        parser.add_argument("--secret-key", help="the SK accepted in AK/SK mode (10 or 32 characters)")
        parser.add_argument(
            "--region", default="sg", help="region of the simulated account (sg, eu, us, ...)"
        )
        parser.add_argument(
            "--token-ttl", type=float, default=7 * 24 * 3600, help="token lifetime in seconds"
        )
        parser.add_argument(
            "--long-poll", type=float, default=20.0, help="seconds mq/messages waits for events"
        )
        parser.add_argument(
            "--intrusion-every", type=float, default=0.0,
            help="seconds between scripted intrusions on zone 1 of every panel (0: none)",
        )

    @classmethod
    def options_from_args(cls, args: argparse.Namespace) -> dict[str, Any]:
        """Constructor options; ``--port`` is passed by the CLI itself (``cls(host=, port=, **options)``)."""
        out = {
            "region": args.region,
            "token_ttl": args.token_ttl,
            "long_poll": args.long_poll,
            "intrusion_every": args.intrusion_every,
        }
        for name in ("key", "access_key", "secret_key"):
            if getattr(args, name, None):
                out[name] = getattr(args, name)
        return out

    async def start(self) -> None:
        app = web.Application(middlewares=[self._fault_middleware], client_max_size=4 * 1024 * 1024)
        routes = [
            ("POST", api.TOKEN_PATH, self._token),
            ("POST", api.SITES_PATH, self._sites),
            ("POST", api.DEVICES_PATH, self._devices),
            ("POST", api.CAMERAS_PATH, self._cameras),
            ("POST", api.ADD_DEVICE_PATH, self._add),
            ("POST", api.SUBSCRIBE_PATH, self._subscribe),
            ("POST", api.MESSAGES_PATH, self._messages),
            ("POST", api.OFFSET_PATH, self._offset),
            ("POST", api.VIDEO_ADDRESS_PATH, self._video),
            ("*", api.TRANSPARENT_PATH + "{tail:.+}", self._transparent),
            ("GET", "/_sim/state", self._sim_state),
            ("POST", "/_sim/event", self._sim_event),
            ("POST", "/_sim/intrusion", self._sim_intrusion),
            ("POST", "/_sim/fault", self._sim_fault),
            ("POST", "/_sim/revoke", self._sim_revoke),
            ("POST", "/_sim/online", self._sim_online),
            ("POST", "/_sim/delete", self._sim_delete),
            ("GET", "/_sim/pictures/{name}", self._sim_picture),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
        # A short shutdown grace: pending long polls must not hold up stop() for 20 s.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.cloud.picture_base = self.url
        if self.intrusion_every > 0:
            self._demo_task = asyncio.create_task(self._demo_intrusions())

    async def _demo_intrusions(self) -> None:
        """Scripted activity for demos: zone 1 of every seeded panel trips every
        ``intrusion_every`` seconds; an armed subsystem turns that into a CID alarm."""
        while True:
            await asyncio.sleep(self.intrusion_every)
            for device in list(self.cloud.devices.values()):
                if device.category == ALARM and device.site_id:
                    self.intrusion(device.serial, 1)

    async def stop(self) -> None:
        if self._demo_task is not None:
            self._demo_task.cancel()
            self._demo_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------ Python control API

    def inject(self, kind: str, count: int = 1, delay: float = 1.0) -> None:
        """Make the next ``count`` API requests fail: slow, error500, bad_json or revoke_token."""
        if kind not in FAULTS:
            raise ValueError(f"fault must be one of {', '.join(FAULTS)}")
        self._faults.append({"kind": kind, "count": count, "delay": delay})

    def event(self, serial: str, event_type: str, *, channel: int | None = 1, state: str = "active") -> str:
        return self.cloud.camera_event(serial, event_type, channel=channel, state=state)

    def intrusion(self, serial: str, zone: int, *, fire: bool = False) -> str | None:
        return self.cloud.trigger_zone(serial, zone, fire=fire)

    def state(self) -> dict[str, Any]:
        return self.cloud.snapshot()

    # ------------------------------------------------------------ plumbing

    @web.middleware
    async def _fault_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        self.cloud.counters["requests"] += 1
        if self._faults:
            fault = self._faults[0]
            fault["count"] -= 1
            if fault["count"] <= 0:
                self._faults.pop(0)
            kind = fault["kind"]
            if kind == "slow":
                await asyncio.sleep(fault["delay"])
            elif kind == "error500":
                return web.Response(status=500, text="Internal Server Error")
            elif kind == "bad_json":
                return web.Response(text='{"errorCode": "0", "data": {', content_type="application/json")
            elif kind == "revoke_token":
                self.cloud.revoke_tokens()
        try:
            return await handler(request)
        except CloudError as exc:
            return _err(exc.code, str(exc))

    async def _json(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            raise CloudError("OPEN000001", "request body is not JSON") from None
        if not isinstance(body, dict):
            raise CloudError("OPEN000001", "request body is not a JSON object")
        return body

    def _auth(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        self.cloud.check_token(header[7:] if header.startswith("Bearer ") else None)

    # ------------------------------------------------------------ cloud API

    async def _token(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        try:
            return _ok(self.cloud.issue_token(body))
        except CloudError as exc:
            if exc.code == api.OTHER_REGION:
                creds = (
                    ("key", str(body["key"]))
                    if "key" in body
                    else ("aksk", str(body.get("appKey", "")), str(body.get("secretKey", "")))
                )
                return _err(exc.code, str(exc), {"areaDomain": self.cloud.foreign[creds]})
            raise

    def _page(self, rows: list[dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
        page, size = max(1, int(body.get("page", 1))), max(1, min(100, int(body.get("pageSize", 20))))
        return {
            "rows": rows[(page - 1) * size : page * size],
            "total": len(rows),
            "page": page,
            "pageSize": size,
        }

    async def _sites(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = await self._json(request)
        search = str(body.get("search") or "").lower()
        rows = [
            {"id": sid, "siteName": name, "timeZone": 222}
            for sid, name in self.cloud.sites.items()
            if search in name.lower()
        ]
        return _ok(self._page(rows, body))

    async def _devices(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = await self._json(request)
        site = body.get("siteId")
        if site and site not in self.cloud.sites:
            raise CloudError(api.SITE_UNKNOWN)
        rows = [self.cloud.device_row(d) for d in self.cloud.site_devices(site)]
        return _ok(self._page(rows, body))

    async def _cameras(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = await self._json(request)
        dev = self.cloud.device(str(body.get("deviceSerial", "")))
        rows = [
            {
                "deviceSerial": dev.serial,
                "channelNo": c.number,
                "channelName": c.name,
                "onlineStatus": 1 if (c.online and dev.online) else 0,
            }
            for c in dev.channels
        ]
        return _ok(self._page(rows, body))

    async def _add(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = await self._json(request)
        site = str(body.get("siteId") or "")
        if site not in self.cloud.sites:
            raise CloudError(api.SITE_UNKNOWN)
        added, failed = [], []
        for item in body.get("deviceList") or []:
            try:
                dev = self.cloud.add_to_site(site, item)
                added.append(
                    {"deviceSerial": dev.serial, "deviceName": dev.name, "deviceCategory": dev.category}
                )
            except CloudError as exc:
                failed.append(
                    {"deviceSerial": item.get("deviceSerial"), "errorCode": exc.code, "msg": str(exc)}
                )
        return _ok({"addSuccessList": added, "addFailedList": failed})

    async def _subscribe(self, request: web.Request) -> web.Response:
        self._auth(request)
        self.cloud.subscribe(await self._json(request))
        return _ok()

    async def _messages(self, request: web.Request) -> web.Response:
        self._auth(request)
        return _ok(await self.cloud.pull())

    async def _offset(self, request: web.Request) -> web.Response:
        self._auth(request)
        self.cloud.commit(str((await self._json(request)).get("batchId") or ""))
        return _ok()

    async def _video(self, request: web.Request) -> web.Response:
        self._auth(request)
        body = await self._json(request)
        dev = self.cloud.device(str(body.get("deviceSerial", "")))
        if dev.category != ENCODING:
            raise CloudError(api.NO_DEVICE, "not an encoding device")
        if not dev.online:
            raise CloudError(api.DEVICE_OFFLINE)
        channel = int(body.get("channelNo", 1))
        if channel not in {c.number for c in dev.channels}:
            raise CloudError("OPEN000002", f"no channel {channel}")
        kind = body.get("type", "live")
        if kind not in ("live", "playback"):
            raise CloudError("OPEN000002", "type must be live or playback")
        if kind == "playback" and not (body.get("startTime") and body.get("endTime")):
            raise CloudError("OPEN000002", "playback needs startTime and endTime")
        ticket = secrets.token_urlsafe(12)
        expire = None if dev.licence else int((time.time() + 300) * 1000)
        self.streams[ticket] = {"serial": dev.serial, "channel": channel, "type": kind, "expireTime": expire}
        url = f"{self.url}/_sim/stream/{dev.serial}/{channel}?type={kind}&ticket={ticket}"
        return _ok({"url": url, "expireTime": expire, "cameraLicense": dev.licence})

    # ------------------------------------------------------------ ISAPI through the cloud

    async def _transparent(self, request: web.Request) -> web.StreamResponse:
        self._auth(request)
        dev = self.cloud.device(request.headers.get("X-Devserial", ""))
        if not dev.online:
            raise CloudError(api.DEVICE_OFFLINE)
        path = request.match_info["tail"]
        xml = request.query.get("format") != "json"
        if dev.category == ALARM and path.startswith("ISAPI/SecurityCP/"):
            return await self._panel_isapi(request, dev.serial, path[len("ISAPI/SecurityCP/") :])
        if dev.category == ENCODING:
            return await self._camera_isapi(request, dev, path)
        return _isapi_status(4, "notSupport", "Invalid Operation", xml=xml)

    async def _camera_isapi(self, request: web.Request, dev: Any, path: str) -> web.StreamResponse:
        channels = {c.number for c in dev.channels}
        if m := re.fullmatch(r"ISAPI/Streaming/channels/(\d+)0[12]/picture", path):
            if request.method != "GET" or int(m[1]) not in channels:
                return _isapi_status(4, "invalidID", "Invalid ID", xml=True)
            return web.Response(body=bodies.JPEG, content_type="image/jpeg")
        if m := re.fullmatch(r"ISAPI/PTZCtrl/channels/(\d+)/continuous", path):
            values = _xml_fields(await request.read())
            dev.ptz.append(
                {
                    "channel": int(m[1]),
                    "pan": int(values.get("pan", 0)),
                    "tilt": int(values.get("tilt", 0)),
                    "zoom": int(values.get("zoom", 0)),
                }
            )
            return _isapi_status(1, "ok", "OK", xml=True)
        if m := re.fullmatch(r"ISAPI/PTZCtrl/channels/(\d+)/presets/(\d+)/goto", path):
            dev.ptz.append({"channel": int(m[1]), "preset": int(m[2])})
            return _isapi_status(1, "ok", "OK", xml=True)
        if m := re.fullmatch(r"ISAPI/System/IO/outputs/(\d+)/trigger", path):
            output = int(m[1])
            if output not in dev.outputs:
                return _isapi_status(4, "invalidID", "Invalid ID", xml=True)
            dev.outputs[output] = _xml_fields(await request.read()).get("outputState") == "high"
            return _isapi_status(1, "ok", "OK", xml=True)
        return _isapi_status(4, "notSupport", "Invalid Operation", xml=True)

    async def _panel_isapi(self, request: web.Request, serial: str, path: str) -> web.StreamResponse:
        dev = self.cloud.devices[serial]
        try:
            if path == "status/subSystems":
                return web.json_response(
                    {
                        "SubSysList": [
                            {"SubSys": {"id": s.number, "name": s.name, "arming": s.arming, "alarm": s.alarm}}
                            for s in dev.subsystems.values()
                        ]
                    }
                )
            if path == "status/zones":
                return web.json_response(
                    {
                        "ZoneList": [
                            {
                                "Zone": {
                                    "id": z.number,
                                    "name": z.name,
                                    "status": "online" if z.online else "offline",
                                    "sensorStatus": "fault" if z.fault else "normal",
                                    "bypassed": z.bypassed,
                                    "armed": dev.zone_armed(z),
                                    "alarm": z.alarm,
                                    "subSystemNo": z.subsystem,
                                }
                            }
                            for z in dev.zones.values()
                        ]
                    }
                )
            if m := re.fullmatch(r"control/arm/(\d+)", path):
                ways = request.query.get("ways", "away")
                if ways not in ("away", "stay", "instant"):
                    return _isapi_status(4, "badParameters", "Invalid Content", xml=False)
                self.cloud.arm(serial, int(m[1]), ways)
            elif m := re.fullmatch(r"control/disarm/(\d+)", path):
                self.cloud.disarm(serial, int(m[1]))
            elif m := re.fullmatch(r"control/clearAlarm/(\d+)", path):
                self.cloud.clear_alarm(serial, int(m[1]))
            elif m := re.fullmatch(r"control/(bypass|Recoverbypass)/(\d+)", path):
                self.cloud.bypass(serial, int(m[2]), m[1] == "bypass")
            elif m := re.fullmatch(r"control/(outputs|siren|lock|trigger)/(\d+)", path):
                return await self._panel_switch(request, dev, m[1], int(m[2]))
            else:
                return _isapi_status(4, "notSupport", "Invalid Operation", xml=False)
        except CloudError as exc:
            if exc.code.startswith("LAP"):
                raise
            return _isapi_status(4 if exc.code == "invalidID" else 6, exc.code, str(exc), xml=False)
        return web.json_response(RESPONSE_OK)

    async def _panel_switch(self, request: web.Request, dev: Any, what: str, number: int) -> web.Response:
        table = {"outputs": dev.outputs, "siren": dev.sirens, "lock": dev.locks, "trigger": dev.triggers}[
            what
        ]
        if number not in table:
            return _isapi_status(4, "invalidID", f"no {what} {number}", xml=False)
        body = await request.json()
        ctrl = next(iter(body.values())) if isinstance(body, dict) and body else {}
        if what == "lock":
            action = ctrl.get("cmd")
            if action not in ("open", "close"):
                return _isapi_status(4, "badParameters", "cmd must be open or close", xml=False)
            table[number] = action
        else:
            switch = ctrl.get("switch")
            if switch not in ("open", "close"):
                return _isapi_status(4, "badParameters", "switch must be open or close", xml=False)
            table[number] = switch == "open"
        return web.json_response(RESPONSE_OK)

    # ------------------------------------------------------------ /_sim control API

    async def _sim_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def _sim_call(self, func: Callable[[], Any]) -> web.Response:
        try:
            return web.json_response({"ok": True, "result": func()})
        except (CloudError, KeyError, ValueError, TypeError) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)

    async def _sim_event(self, request: web.Request) -> web.Response:
        b = await request.json()
        return await self._sim_call(
            lambda: self.event(
                b["serial"], b["type"], channel=b.get("channel", 1), state=b.get("state", "active")
            )
        )

    async def _sim_intrusion(self, request: web.Request) -> web.Response:
        b = await request.json()
        return await self._sim_call(
            lambda: self.intrusion(b["serial"], int(b["zone"]), fire=bool(b.get("fire")))
        )

    async def _sim_fault(self, request: web.Request) -> web.Response:
        b = await request.json()
        return await self._sim_call(
            lambda: self.inject(b["kind"], int(b.get("count", 1)), float(b.get("delay", 1.0)))
        )

    async def _sim_revoke(self, request: web.Request) -> web.Response:
        return await self._sim_call(self.cloud.revoke_tokens)

    async def _sim_online(self, request: web.Request) -> web.Response:
        b = await request.json()
        return await self._sim_call(lambda: self.cloud.set_online(b["serial"], bool(b.get("online", True))))

    async def _sim_delete(self, request: web.Request) -> web.Response:
        b = await request.json()
        return await self._sim_call(lambda: self.cloud.delete_device(b["serial"]))

    async def _sim_picture(self, request: web.Request) -> web.Response:
        return web.Response(body=bodies.JPEG, content_type="image/jpeg")


def _xml_fields(raw: bytes) -> dict[str, str]:
    """Leaf elements of a small ISAPI request body by local name."""
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError:
        return {}
    return {el.tag.split("}")[-1]: (el.text or "").strip() for el in root.iter() if not list(el)}
