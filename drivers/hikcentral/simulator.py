"""A HikCentral Professional OpenAPI server on loopback that answers as the real one does.

It verifies every Artemis signature exactly and refuses like the real gateway: HTTP 200 with
the guide's codes in the envelope (``0x02401001`` unknown AppKey, ``0x02401003`` invalid
signature with the gateway's StringToSign echoed, permission codes). It serves thousands of
cameras across regions and encoding devices in pages, with the field names of real HCP
(``produceName``, ``encodeDevIndexCode``/``encodeDevName``), hands out preview URLs that expire
(on a clock tests can advance instead of sleeping), captures pictures, keeps PTZ state,
accepts event subscriptions and pushes scripted events (every ``status`` of the push format)
to the subscribed callback URLs. Faults of the core's vocabulary (``gemhost.simulator.FAULTS``,
this one supports ``faults``) can be injected from Python or from the control API under ``/_sim/``.
Every body and code is cited in docs/drivers/hikcentral.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import hmac
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from gemhost_drivers.hikcentral import signing
from gemhost_drivers.hikcentral.eventcodes import EVENT_CODES, code_for
from gemhost_drivers.hikcentral.events import is_loopback

from gemhost.jpeg import grey_jpeg
from gemhost.simulator import SimulatorBase

log = logging.getLogger(__name__)

TIMESTAMP_WINDOW_MS = 15 * 60 * 1000
OFFLINE = 2
JSON_BODY = web.RequestKey("hcp_json_body", dict)


@dataclass
class SimCamera:
    code: str
    name: str
    region: str
    device: str
    channel: int
    online: bool = True
    ptz: bool = False

    def as_api(self) -> dict[str, Any]:
        return {"cameraIndexCode": self.code, "cameraName": self.name, "regionIndexCode": self.region,
                "encodeDevIndexCode": self.device, "channelNo": self.channel,
                "capabilitySet": "ptz,vss,record" if self.ptz else "vss,record",
                "status": 1 if self.online else OFFLINE, "recordLocation": "0"}


@dataclass
class PtzState:
    moving: str | None = None
    speed: int = 0
    preset: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


class HikCentralSimulator(SimulatorBase):
    """The simulator; see the module docstring. Options: cameras, https, app_key, app_secret."""

    driver: ClassVar[str] = "hikcentral"
    faults: ClassVar[tuple[str, ...]] = ("slow", "error500", "bad_json", "api_disabled", "permission",
                                         "permission_17", "no_answer")
    tls_name: ClassVar[str] = "gemhost HikCentral simulator"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, cameras: int = 2000, https: bool = False,
                 app_key: str = "sim-app-key", app_secret: str = "sim-app-secret", url_ttl: float = 300.0,
                 slow_delay: float = 5.0, **_options: Any) -> None:
        super().__init__(host, port, https=https, slow_delay=slow_delay)
        self.motion_every = float(_options.get("motion_every", 0.0))
        self.app_key, self.app_secret = app_key, app_secret
        self.url_ttl = url_ttl
        self.clock_offset = 0.0
        self.regions: dict[str, str] = {}
        self.devices: dict[str, str] = {}
        self.cameras: dict[str, SimCamera] = {}
        self.ptz: dict[str, PtzState] = {}
        self.subscriptions: dict[int, str] = {}
        self.tokens: dict[str, tuple[str, float]] = {}
        self.requests: list[str] = []
        self.rejected_signatures = 0
        self.denied: set[str] = set()
        self.captures: list[str] = []
        self.last_event_id: str | None = None
        self._next_code = 1
        self._channels: dict[str, int] = {}
        self._populate(cameras)

    # ------------------------------------------------------------ protocol

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--cameras", type=int, default=2000, help="number of cameras (default 2000)")
        parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
        parser.add_argument("--https", action="store_true", help="serve HTTPS with a self-signed certificate")
        parser.add_argument("--app-key", default="sim-app-key", help="AppKey to accept")
        parser.add_argument("--app-secret", default="sim-app-secret", help="AppSecret to verify with")
        parser.add_argument("--motion-every", type=float, default=0.0,
                            help="seconds between scripted motion pushes (0: none)")

    @classmethod
    def options_from_args(cls, args: argparse.Namespace) -> dict[str, Any]:
        return {"cameras": args.cameras, "https": args.https, "app_key": args.app_key,
                "app_secret": args.app_secret, "motion_every": args.motion_every}

    async def start(self) -> None:
        app = web.Application(middlewares=[self._artemis_gate])
        routes = {
            "/artemis/api/common/v1/version": self._version,
            "/artemis/api/resource/v1/cameras": self._cameras,
            "/artemis/api/resource/v1/cameras/indexCode": self._camera_by_code,
            "/artemis/api/resource/v1/camera/advance/cameraList": self._camera_search,
            "/artemis/api/resource/v1/regions": self._regions,
            "/artemis/api/resource/v1/encodeDevice/encodeDeviceList": self._encode_devices,
            "/artemis/api/video/v1/cameras/previewURLs": self._preview_urls,
            "/artemis/api/video/v1/ptzs/controlling": self._ptz,
            "/artemis/api/video/v1/camera/capture": self._capture,
            "/artemis/api/eventService/v1/eventSubscriptionByEventTypes": self._subscribe,
            "/artemis/api/eventService/v1/eventUnSubscriptionByEventTypes": self._unsubscribe,
            "/artemis/api/eventService/v1/eventSubscriptionView": self._subscription_view,
        }
        for path, handler in routes.items():
            app.router.add_post(path, handler)
        app.router.add_post("/_sim/push", self._sim_push)
        app.router.add_post("/_sim/cameras", self._sim_add)
        app.router.add_delete("/_sim/cameras/{code}", self._sim_remove)
        app.router.add_post("/_sim/cameras/{code}/rename", self._sim_rename)
        app.router.add_post("/_sim/cameras/{code}/deny", self._sim_deny)
        self.port = await self.listen(app, self.port, tls=self.https, access_log=None)
        if self.motion_every > 0:
            self.spawn(self._demo_motion())

    async def _demo_motion(self) -> None:
        """Scripted activity for demos: every ``motion_every`` seconds a motion push for the
        next online camera (only reaches the host once it subscribed)."""
        turn = 0
        while True:
            await asyncio.sleep(self.motion_every)
            online = [c for c in self.cameras.values() if c.online]
            if online and self.subscriptions:
                camera = online[turn % min(len(online), 8)]
                turn += 1
                with contextlib.suppress(Exception):
                    await self.push_event(camera.code, "motion")

    # ------------------------------------------------------------ Python control API

    def _populate(self, count: int) -> None:
        n_regions = max(1, min(50, count // 200 + 1))
        for r in range(1, n_regions + 1):
            self.regions[str(r)] = f"Site {r:02d}"
        for i in range(1, count + 1):
            region = str((i - 1) % n_regions + 1)
            device = str(10000 + (i - 1) // 16 + 1)
            self.devices.setdefault(device, f"NVR-{int(device) - 10000:04d}")
            name = "Entrance" if i % 100 == 0 else f"{self.regions[region]} Camera {i:05d}"
            self.add_camera(name, region=region, device=device, online=i % 7 != 0, ptz=i % 5 == 1)

    def add_camera(self, name: str, *, region: str | None = None, device: str | None = None,
                   online: bool = True, ptz: bool = False) -> str:
        """Add a camera; returns its index code."""
        code = str(self._next_code)
        self._next_code += 1
        region = region or next(iter(self.regions), "1")
        self.regions.setdefault(region, f"Site {region}")
        device = device or str(20000 + int(code))
        self.devices.setdefault(device, f"Encoder-{device}")
        channel = self._channels.get(device, 0) + 1
        self._channels[device] = channel
        self.cameras[code] = SimCamera(code, name, region, device, channel, online, ptz)
        return code

    def remove_camera(self, code: str) -> None:
        self.cameras.pop(str(code))

    def rename_camera(self, code: str, name: str) -> None:
        self.cameras[str(code)].name = name

    def set_online(self, code: str, online: bool) -> None:
        self.cameras[str(code)].online = online

    def deny_camera(self, code: str, denied: bool = True) -> None:
        """Take the partner's permission for one camera away (or give it back): calls that
        address it are refused with code 130."""
        (self.denied.add if denied else self.denied.discard)(str(code))

    def advance(self, seconds: float) -> None:
        """Move the simulator's clock forward (preview URL expiry) without sleeping."""
        self.clock_offset += seconds

    def now(self) -> float:
        return time.time() + self.clock_offset

    def url_valid(self, url: str) -> bool:
        """True while a preview URL handed out by this simulator has not expired."""
        for token, (_code, expires) in self.tokens.items():
            if token in url:
                return self.now() < expires
        return False

    async def push_event(self, camera_code: str, event_type: int | str, status: int = 0,
                         event_id: str | None = None) -> int:
        """POST one event to every subscriber of its type; returns how many accepted it.

        ``status`` is the push's: 0 instantaneous, 1 start, 2 stop, 3 pulse repeat, 4 linkage
        result update, 5 picture uploaded afterwards. Every report of one event carries the
        same ``eventId``: give the start's id (``last_event_id``) to its stop and updates.
        """
        code = code_for(event_type)
        dest = self.subscriptions.get(code)
        if dest is None:
            return 0
        camera = self.cameras.get(str(camera_code))
        happen = dt.datetime.fromtimestamp(self.now()).astimezone().isoformat(timespec="milliseconds")
        self.last_event_id = event_id or str(uuid.uuid4())
        data: dict[str, Any] = {"eventDescription": EVENT_CODES.get(code, ("", ""))[1]}
        if status == 5:
            data["picUrl"] = f"{self.url}/pic/{self.last_event_id}.jpg"
        payload = {"method": "OnEventNotify", "params": {
            "ability": "event_vss", "sendTime": happen,
            "events": [{"eventId": self.last_event_id, "eventType": code, "happenTime": happen,
                        "srcIndex": str(camera_code), "srcName": camera.name if camera else "",
                        "srcType": "camera", "status": status, "timeout": 0 if status == 0 else 30,
                        "data": data}]}}
        if not is_loopback(urlsplit(dest).hostname or ""):
            log.warning("not pushing to %s: the simulator only talks to loopback", dest)
            return 0
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.post(dest, json=payload) as resp:
            return 1 if resp.status == 200 else 0

    # ------------------------------------------------------------ gateway

    @web.middleware
    async def _artemis_gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/artemis/"):
            return await handler(request)
        self.requests.append(request.path)
        fault, seconds = self.take_fault()
        if fault == "api_disabled":
            return web.Response(status=404, text="<html><body>404 Not Found</body></html>",
                                content_type="text/html")
        body = await request.read()
        refusal = self._check_signature(request, body)
        if refusal:
            self.rejected_signatures += 1
            return _error(*refusal)
        if fault == "permission":
            return _error(*PERMISSION_DENIED)
        if fault == "permission_17":
            return _error("17", "No permission for OpenAPI access.")
        if fault == "error500":
            return web.Response(status=500, text="Internal Server Error")
        await self.apply_timing_fault(fault, seconds)
        if fault == "bad_json":
            return web.Response(status=200, text='{"code": "0", "data": {', content_type="application/json")
        try:
            parsed = json.loads(body or b"{}")
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            return _error(*BAD_FORMAT)
        request[JSON_BODY] = parsed
        return await handler(request)

    def _check_signature(self, request: web.Request, body: bytes) -> tuple[str, str] | None:
        """The gateway's refusal (code, msg), or None for a good signature. Refusals come in
        the guide's order: AppKey, signature present, signature right."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        key = headers.get("x-ca-key", "")
        if not key:
            return "0x02401000", "No AppKey is configured. Enter the correct AppKey in the request."
        if key != self.app_key:
            return "0x02401001", "The partner of AppKey does not exist. Check the AppKey in the request."
        given = headers.get("x-ca-signature")
        if not given:
            return "0x02401002", "No signature is configured. Enter the correct signature in the request."
        query = {k: v for k, v in request.query.items()}
        signed = [n for n in headers.get("x-ca-signature-headers", "").split(",") if n]
        text = signing.string_to_sign(request.method, request.path, headers, signed, query)
        timestamp = headers.get("x-ca-timestamp", "")
        stale = timestamp.isdigit() and abs(int(timestamp) - self.now() * 1000) > TIMESTAMP_WINDOW_MS
        md5_wrong = "content-md5" in headers and headers["content-md5"] != signing.content_md5(body)
        if stale or md5_wrong or not hmac.compare_digest(signing.signature(self.app_secret, text), given):
            # What a real gateway sends, secret and all (docs/drivers/hikcentral.md): the
            # driver must show the StringToSign and nothing after it.
            return signing_failed(text, request.path, key, self.app_secret)
        return None

    # ------------------------------------------------------------ OpenAPI handlers

    async def _version(self, request: web.Request) -> web.Response:
        return _ok({"produceName": "HikCentral Professional", "softVersion": "V2.4.1 build20230529"})

    def _paged(self, items: list[dict[str, Any]], body: dict[str, Any]) -> web.Response:
        if "pageNo" not in body or "pageSize" not in body:
            return _error(*MISSING_PARAMETER)
        try:
            page_no, page_size = int(body["pageNo"]), int(body["pageSize"])
        except (TypeError, ValueError):
            return _error(*BAD_FORMAT)
        if not 1 <= page_no <= 2147483647 or not 1 <= page_size <= 500:
            return _error(*OUT_OF_RANGE)
        start = (page_no - 1) * page_size
        return _ok({"total": len(items), "pageNo": page_no, "pageSize": page_size,
                    "list": items[start:start + page_size]})

    async def _cameras(self, request: web.Request) -> web.Response:
        return self._paged([c.as_api() for c in self.cameras.values()], request[JSON_BODY])

    async def _camera_search(self, request: web.Request) -> web.Response:
        body = request[JSON_BODY]
        name = str(body.get("cameraName") or "").lower()
        region = body.get("regionIndexCode")
        items = [c.as_api() for c in self.cameras.values()
                 if name in c.name.lower() and (not region or c.region == region)]
        return self._paged(items, body)

    def _camera_of(self, body: dict[str, Any]) -> SimCamera | web.Response:
        """The addressed camera, or the refusal HikCentral sends for it."""
        if not body.get("cameraIndexCode"):
            return _error(*MISSING_PARAMETER)
        code = str(body["cameraIndexCode"])
        if code in self.denied:
            return _error(*NO_RESOURCE_PERMISSION)
        camera = self.cameras.get(code)
        if camera is None:
            return _error(*NOT_FOUND)
        return camera

    async def _camera_by_code(self, request: web.Request) -> web.Response:
        camera = self._camera_of(request[JSON_BODY])
        return camera if isinstance(camera, web.Response) else _ok(camera.as_api())

    async def _capture(self, request: web.Request) -> web.Response:
        camera = self._camera_of(request[JSON_BODY])
        if isinstance(camera, web.Response):
            return camera
        if not camera.online:
            return _error(*RESOURCE_OFFLINE)
        self.captures.append(camera.code)
        picture = grey_jpeg(64, 48, comment=f"hcp camera {camera.code} capture {len(self.captures)}")
        return _ok("data:image/jpeg;base64," + base64.b64encode(picture).decode("ascii"), msg="success")

    async def _regions(self, request: web.Request) -> web.Response:
        items = [{"indexCode": code, "name": name, "parentIndexCode": "0"} for code, name in self.regions.items()]
        return self._paged(items, request[JSON_BODY])

    async def _encode_devices(self, request: web.Request) -> web.Response:
        items = [{"encodeDevIndexCode": code, "encodeDevName": name, "treatyType": "hiksdk_net",
                  "encodeDevIp": f"127.0.0.{1 + int(code) % 250}", "encodeDevPort": "8000",
                  "encodeDevCode": f"DS-SIM{code}", "isSupportWakeUp": 0, "wakeUpStatus": 0, "status": 1,
                  "pictureStorePosType": 0}
                 for code, name in self.devices.items()]
        return self._paged(items, request[JSON_BODY])

    async def _preview_urls(self, request: web.Request) -> web.Response:
        body = request[JSON_BODY]
        camera = self._camera_of(body)
        if isinstance(camera, web.Response):
            return camera
        code = camera.code
        protocol = body.get("protocol", "rtsp")
        token = secrets.token_urlsafe(12)
        self.tokens[token] = (code, self.now() + self.url_ttl)
        stream = "sub" if body.get("streamType") == 1 else "main"
        if protocol == "rtsp":
            url = f"rtsp://{self.host}:554/openUrl/{token}?stream={stream}"
        elif protocol == "hls":
            url = f"{self.url}/openUrl/{token}/live.m3u8"
        elif protocol == "ws":
            url = f"ws://{self.host}:559/openUrl/{token}"
        else:
            return _error(*OUT_OF_RANGE)
        return _ok({"url": url})

    async def _ptz(self, request: web.Request) -> web.Response:
        body = request[JSON_BODY]
        camera = self._camera_of(body)
        if isinstance(camera, web.Response):
            return camera
        if not camera.ptz:
            return _error(*NOT_SUPPORTED)
        state = self.ptz.setdefault(camera.code, PtzState())
        state.history.append(dict(body))
        command, action = str(body.get("command", "")), int(body.get("action", 0))
        if command == "GOTO_PRESET":
            state.preset = int(body.get("presetIndex", 0))
        elif action == 0:
            state.moving, state.speed = command, int(body.get("speed", 50))
        else:
            state.moving, state.speed = None, 0
        return _ok(None)

    async def _subscribe(self, request: web.Request) -> web.Response:
        body = request[JSON_BODY]
        dest = str(body.get("eventDest") or "")
        types = body.get("eventTypes") or []
        if not dest or not types:
            return _error(*MISSING_PARAMETER)
        if not dest.startswith(("http://", "https://")):
            return _error(*BAD_FORMAT)
        for code in types:
            self.subscriptions[int(code)] = dest
        return _ok(None)

    async def _unsubscribe(self, request: web.Request) -> web.Response:
        for code in request[JSON_BODY].get("eventTypes") or []:
            self.subscriptions.pop(int(code), None)
        return _ok(None)

    async def _subscription_view(self, request: web.Request) -> web.Response:
        by_dest: dict[str, list[int]] = {}
        for code, dest in self.subscriptions.items():
            by_dest.setdefault(dest, []).append(code)
        return _ok({"detail": [{"eventDest": d, "eventTypes": sorted(t)} for d, t in by_dest.items()]})

    # ------------------------------------------------------------ /_sim control API

    async def _sim_push(self, request: web.Request) -> web.Response:
        body = await request.json()
        delivered = await self.push_event(str(body["camera"]), body["event"], int(body.get("status", 0)),
                                          body.get("event_id"))
        return web.json_response({"delivered": delivered, "event_id": self.last_event_id})

    async def _sim_add(self, request: web.Request) -> web.Response:
        body = await request.json()
        code = self.add_camera(str(body["name"]), region=body.get("region"), online=bool(body.get("online", True)),
                               ptz=bool(body.get("ptz", False)))
        return web.json_response({"code": code})

    async def _sim_remove(self, request: web.Request) -> web.Response:
        self.cameras.pop(request.match_info["code"], None)
        return web.json_response({"ok": True})

    async def _sim_rename(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.rename_camera(request.match_info["code"], str(body["name"]))
        return web.json_response({"ok": True})

    async def _sim_deny(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.deny_camera(request.match_info["code"], bool(body.get("denied", True)))
        return web.json_response({"denied": sorted(self.denied)})

    def state(self) -> dict[str, Any]:
        """What ``/_sim/state`` answers."""
        return {
            "cameras": len(self.cameras), "fault": self.fault,
            "subscriptions": {str(k): v for k, v in self.subscriptions.items()},
            "ptz": {k: {"moving": v.moving, "speed": v.speed, "preset": v.preset} for k, v in self.ptz.items()},
            "rejected_signatures": self.rejected_signatures,
            "denied": sorted(self.denied), "captures": len(self.captures),
        }


def _ok(data: Any, msg: str = "Success") -> web.Response:
    return web.json_response({"code": "0", "msg": msg, "data": data})


def _error(code: str, msg: str) -> web.Response:
    """A refusal as HikCentral sends it: HTTP 200, the code in the envelope."""
    return web.json_response({"code": code, "msg": msg, "data": None})


# (code, msg) of the refusals; codes from the guide's "Status or Error Code" appendix, msg texts
# as the guide words them (docs/drivers/hikcentral.md lists sources and what is assumed).
PERMISSION_DENIED = ("0x02401007", "No permission. Please contact the administrator to apply for permissions.")
MISSING_PARAMETER = ("0x00072001", "The required parameters are not configured. Set the required "
                                   "parameters in the request.")
OUT_OF_RANGE = ("0x00072002", "Invalid parameter value range.")
BAD_FORMAT = ("0x00072003", "Invalid parameter value format.")
NOT_FOUND = ("128", "The requested resource does not exist.")
RESOURCE_OFFLINE = ("129", "The resource is offline.")
NO_RESOURCE_PERMISSION = ("130", "No permission for resource access.")
NOT_SUPPORTED = ("195", "The device does not support this function.")


def signing_failed(string_to_sign: str, path: str, app_key: str, app_secret: str) -> tuple[str, str]:
    """The invalid-signature refusal of a real gateway: its StringToSign, then (as some
    versions do) the API name, the AppKey and the partner's AppSecret."""
    return ("0x02401003", "api AK/SK signature authentication failed,Invalid Signature! and StringToSign: "
            f"{string_to_sign}, apiName : {path}, appKey : {app_key}, secret : {app_secret}")
