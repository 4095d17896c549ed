"""IsapiSimulator: a Hikvision camera or NVR on loopback, synthetic or replayed from captures.

It is a real aiohttp server speaking ISAPI as firmware does (XML bodies, ResponseStatus
errors, digest/basic auth with lockout, HTTPS with a self-signed certificate, an HTTP/1.0
close-delimited multipart alertStream with real heartbeats, Event/triggers and capabilities)
so the driver, and third-party clients such as pyhik, are tested against the wire, not
against mocks. A captured device (``fixture=<MODEL>`` with ``fixtures_dir``) answers every
path it was captured on exactly as recorded, error statuses included; paths not captured
(snapshot, PTZ, outputs, alertStream) fall back to the synthetic behaviour. Tests and other
processes drive it through the Python methods below or the same functions under ``/_sim/``
(see docs/drivers/hikvision_isapi.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
from pathlib import Path
from typing import Any, ClassVar

from aiohttp import web

from gemhost.jpeg import grey_jpeg
from gemhost.simulator import SimulatorBase

from .. import kernel as isapi_xml
from ..assumptions import REFUSAL_IS_RESPONSE_STATUS
from . import documents as docs
from .alerts import REGION_TYPES, AlertWriter
from .auth import AuthState, User
from .fixture import unparse
from .stream import PART_TYPE, FirmwareStreamResponse, chunked_response, part

NS = "http://www.hikvision.com/ver20/XMLSchema"
MAC = "02:00:00:00:00:01"
TRANSPORTS = ("close", "chunked")
UNAUTHORIZED_HTML = ("<!DOCTYPE html>\n<html><head><title>Document Error: Unauthorized</title></head>\n"
                     "<body><h2>Access Error: 401 -- Unauthorized</h2>\n<p>Authentication Error</p>\n"
                     "</body>\n</html>\n")
"""The 401 body firmware sends with its challenge (pyHik issue #15 quotes it)."""
STREAM_QUEUE = 256
USER_KEY = web.RequestKey("user", User)


def response_status(url: str, code: int, text: str, sub: str, extra: str = "") -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<ResponseStatus version="2.0" xmlns="{NS}">\n'
            f"<requestURL>{url}</requestURL>\n<statusCode>{code}</statusCode>\n"
            f"<statusString>{text}</statusString>\n<subStatusCode>{sub}</subStatusCode>\n{extra}"
            "</ResponseStatus>\n")


def _xml(body: str, status: int = 200) -> web.Response:
    return web.Response(status=status, body=body.encode("utf-8"),
                        content_type="application/xml", charset="UTF-8")


class IsapiSimulator(SimulatorBase):
    """A simulated ISAPI device. Control it with the methods of the "control API" section."""

    driver: ClassVar[str] = "hikvision_isapi"
    faults: ClassVar[tuple[str, ...]] = ("error500", "no_answer", "slow", "drop_stream", "stall", "no_stream",
                                         "stream_no_answer")
    tls_name: ClassVar[str] = "gemhost ISAPI simulator"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, kind: str = "camera", channels: int = 1,
                 username: str = "admin", password: str = "sim-password", https: bool = False,
                 auth: str = "digest", fixture: str | None = None, fixtures_dir: str | Path | None = None,
                 heartbeat: float = 10.0, model: str | None = None, motion_every: float = 0.0,
                 stream_transport: str = "close", **_: Any) -> None:
        super().__init__(host, port, https=https)
        if kind not in ("camera", "nvr"):
            raise ValueError("kind must be camera or nvr")
        if stream_transport not in TRANSPORTS:
            raise ValueError(f"stream_transport must be one of {', '.join(TRANSPORTS)}")
        self.stream_transport = stream_transport
        self.kind = kind
        self.motion_every = float(motion_every)
        self.heartbeat = heartbeat
        self.fixture: dict[str, Any] = {}
        self.fixture_name = fixture
        if fixture:
            if not fixtures_dir:  # captures are not shipped in the package: the caller names them
                raise ValueError(f"fixture {fixture!r} needs fixtures_dir (the isapi-captures folder)")
            base = Path(fixtures_dir)
            if (base / "devices").is_dir():
                base = base / "devices"
            self.fixture = json.loads((base / f"{fixture}.json").read_text(encoding="utf-8"))["data"]["ISAPI"]
        self.model = model or ("DS-7608NI-K2" if kind == "nvr" else "DS-2CD2386G2-IU")
        self.serial = f"{self.model}SIM0000000000"
        self.channels = max(1, int(channels))
        if self.fixture:
            self._channels_from_fixture()
        self.auth = AuthState(realm="IP Camera(SIM01)", mode=auth)
        self.auth.users[username] = User(username, password, ptz=True)
        self.ptz: dict[int, dict[str, Any]] = {}
        self.outputs: dict[int, str] = {1: "low", 2: "low"}
        self.output_log: list[tuple[int, str]] = []
        self.requests: list[tuple[str, str, str]] = []
        self._streams: set[asyncio.Queue] = set()
        self.stream_connects = 0
        self.alerts = AlertWriter(host=self.host, port=self.port, https=https, nvr=self.kind == "nvr", mac=MAC)
        self.started_at = dt.datetime.now().astimezone()

    # ------------------------------------------------------------ protocol

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--kind", choices=("camera", "nvr"), default="camera")
        parser.add_argument("--channels", type=int, default=1)
        parser.add_argument("--motion-every", type=float, default=0.0,
                            help="seconds between scripted motion events (0: none)")
        parser.add_argument("--port", type=int, default=0)
        parser.add_argument("--https", action="store_true")
        parser.add_argument("--fixture", help="captured model name, e.g. DS-7608NXI-I2")
        parser.add_argument("--fixtures-dir", help="folder holding isapi-captures/devices")
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="sim-password")
        parser.add_argument("--auth", choices=("digest", "basic"), default="digest")
        parser.add_argument("--heartbeat", type=float, default=10.0, help="seconds between heartbeats")
        parser.add_argument("--stream-transport", choices=TRANSPORTS, default="close",
                            help="alertStream as HTTP/1.0 close-delimited (firmware default) or chunked")

    @classmethod
    def options_from_args(cls, args: argparse.Namespace) -> dict[str, Any]:
        # host and port are passed by the caller (``gemhost simulate`` adds them itself)
        keys = ("kind", "channels", "https", "fixture", "fixtures_dir", "username", "password",
                "auth", "heartbeat", "motion_every", "stream_transport")
        return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}

    async def start(self) -> None:
        app = web.Application(middlewares=[self._faults, self._authenticate, self._recorded_errors])
        self._routes(app)
        self.port = await self.listen(app, self.port, tls=self.https, shutdown_timeout=0.5)
        self.alerts.port = self.port
        if self.motion_every > 0:
            self.spawn(self._demo_motion())

    async def _demo_motion(self) -> None:
        """Scripted activity for demos (``motion_every`` seconds): motion on each channel in
        turn, repeated for a few seconds the way real firmware repeats an ongoing event."""
        channel = 0
        while True:
            await asyncio.sleep(self.motion_every)
            channel = channel % self.channels + 1
            self.trigger_event(channel, "VMD", repeat=3, interval=1.0)

    async def stop(self) -> None:
        for q in list(self._streams):
            q.put_nowait(None)
        await super().stop()

    # ------------------------------------------------------------ control API

    def add_user(self, name: str, password: str, ptz: bool = True) -> None:
        """An extra account; ``ptz=False`` gets 403 on every PTZ path (like an Operator
        without the PTZ right)."""
        self.auth.users[name] = User(name, password, ptz=ptz)

    def lockout(self) -> None:
        self.auth.locked = True

    def unlock(self) -> None:
        self.auth.unlock()

    def set_fault(self, kind: str | None, seconds: float | None = None) -> None:
        """A standing fault of ``gemhost.simulator.FAULTS`` (``faults`` lists this one's);
        ``error500`` answers a ResponseStatus, ``no_stream`` and ``stream_no_answer`` act on
        alertStream only, ``drop_stream`` closes the open streams and clears itself."""
        super().set_fault(kind, seconds)
        if self.fault == "drop_stream":
            for q in list(self._streams):
                q.put_nowait(None)
            self.fault = "none"

    def trigger_event(self, channel: int | None, event_type: str, state: str = "active",
                      repeat: int = 1, interval: float = 1.0, *, region: int | None = None,
                      end: bool = False, follow_up: bool = False, **fields: str) -> None:
        """Send an EventNotificationAlert the way firmware does.

        ``repeat`` > 1 repeats an active alert every ``interval`` s while the condition lasts
        (``activePostCount`` 1, 2, ...). Smart events (linedetection, fielddetection,
        regionEntrance, regionExiting) name their detection region on active parts
        (``region``, default 1) and not on the inactive one. ``end`` closes the condition with
        that inactive part after the repeats; ``follow_up`` adds the ``duration`` part some
        firmware sends after a smart event's first alert. With ``interval`` 0, or a single
        part, everything is queued at once, in order.
        """
        smart = event_type.lower() in REGION_TYPES
        if smart and region is None:
            region = 1
        seq: list[bytes] = []
        for i in range(max(1, repeat)):
            active = state != "inactive"
            seq.append(self.alerts.alert(channel, event_type, state, post_count=i + 1,
                                         region=region if smart and active else None, **fields).encode())
            if follow_up and i == 0 and smart and channel is not None:
                seq.append(self.alerts.duration(channel, event_type).encode())
        if end:
            seq.append(self.alerts.alert(channel, event_type, "inactive", post_count=len(seq) + 1,
                                         **fields).encode())
        self._send(seq, interval)

    def trigger_access(self, card_no: str, employee_no: str = "", major: int = 5, sub: int = 1,
                       name: str = "") -> None:
        """An access-control JSON alert (AccessControllerEvent): one card swipe, its own serialNo."""
        self.push_part(self.alerts.access(card_no, employee_no, major, sub, name).encode(), "application/json")

    def _send(self, seq: list[bytes], interval: float) -> None:
        if interval <= 0 or len(seq) == 1:
            for body in seq:
                self.push_part(body)
            return

        async def paced() -> None:
            for i, body in enumerate(seq):
                if i:
                    await asyncio.sleep(interval)
                self.push_part(body)
        self.spawn(paced())

    def push_part(self, body: bytes, content_type: str = PART_TYPE) -> None:
        """Queue any part (captured XML, JSON, image) on every open alertStream."""
        for q in list(self._streams):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait((content_type, body))

    def push_raw(self, data: bytes) -> None:
        """Queue raw bytes (for truncated or broken framing) on every open alertStream."""
        for q in list(self._streams):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(("raw", data))

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    def state(self) -> dict[str, Any]:
        return {"ptz": {str(k): v for k, v in self.ptz.items()}, "outputs": self.outputs,
                "output_log": self.output_log, "failed_logins": self.auth.failed_logins_total,
                "locked": self.auth.locked, "open_streams": self.open_streams,
                "stream_connects": self.stream_connects, "fault": self.fault,
                "requests": len(self.requests)}

    # ------------------------------------------------------------ device model

    def _channels_from_fixture(self) -> None:
        info = self._fixture_xml("System/deviceInfo")
        if info:
            parsed = isapi_xml.device_info(info)
            self.model = parsed["model"] or self.model
            self.serial = parsed["serial"] or self.serial
            self.kind = "nvr" if (parsed["device_type"] or "").upper() in ("NVR", "DVR") else "camera"
        numbers: set[int] = set()
        for path, parse in (("ContentMgmt/InputProxy/channels", isapi_xml.input_proxy_channels),
                            ("Streaming/channels", isapi_xml.streaming_channels),
                            ("System/Video/inputs/channels", isapi_xml.video_inputs)):
            body = self._fixture_xml(path)
            if body:
                numbers |= {r["channel"] for r in parse(body)}
        for key in self.fixture:
            if key.startswith("Streaming/channels/") and key.rsplit("/", 1)[-1].isdigit():
                numbers.add(int(key.rsplit("/", 1)[-1]) // 100)
        self.channels = max(numbers or {1})
        self.channel_set = numbers or {1}

    def _fixture_xml(self, key: str) -> str | None:
        entry = self.fixture.get(key)
        if not entry or "response" not in entry:
            return None
        return unparse(entry["response"])

    def has_channel(self, n: int) -> bool:
        if self.fixture:
            return n in getattr(self, "channel_set", {1})
        return 1 <= n <= self.channels

    def device_info_xml(self) -> str:
        return docs.device_info(nvr=self.kind == "nvr", model=self.model, serial=self.serial, mac=MAC)

    def alert_xml(self, channel: int | None, event_type: str, state: str = "active", **fields: str) -> str:
        """One EventNotificationAlert like firmware sends (see simulator/alerts.py)."""
        smart = event_type.lower() in REGION_TYPES and state != "inactive"
        return self.alerts.alert(channel, event_type, state, region=1 if smart else None, **fields)

    # ------------------------------------------------------------ middlewares

    @web.middleware
    async def _faults(self, request: web.Request, handler):
        if request.path.startswith("/_sim/"):
            return await handler(request)
        self.requests.append((request.method, request.path, request.headers.get("Authorization", "")[:6]))
        fault, seconds = self.take_fault()
        await self.apply_timing_fault(fault, seconds)
        if fault == "error500":
            return _xml(response_status(request.path, 3, "Device Error", "deviceError"), 500)
        return await handler(request)

    @web.middleware
    async def _authenticate(self, request: web.Request, handler):
        if request.path.startswith("/_sim/"):
            return await handler(request)
        user, why = self.auth.check(request.method, request.headers.get("Authorization"))
        if user is None:
            if why == "locked":
                resp = _xml(response_status(request.path, 4, "Invalid Operation", "userLocked",
                                            "<lockStatus>lock</lockStatus>\n<unlockTime>1800</unlockTime>\n"), 401)
            elif why == "failed" and REFUSAL_IS_RESPONSE_STATUS:
                resp = _xml(response_status(request.path, 4, "Invalid Operation", "notAuthenticated"), 401)
            else:  # no credentials yet, or a stale nonce: the plain challenge, with firmware's HTML body
                resp = web.Response(status=401, text=UNAUTHORIZED_HTML, content_type="text/html")
            resp.headers["WWW-Authenticate"] = self.auth.challenge(stale=why == "stale")
            return resp
        request[USER_KEY] = user
        return await handler(request)

    @web.middleware
    async def _recorded_errors(self, request: web.Request, handler):
        """A captured path recorded as an error status answers that status, whatever the method
        and whichever handler would serve it (e.g. 403 for InputProxy on a camera)."""
        if self.fixture and request.path.startswith("/ISAPI/"):
            entry = self.fixture.get(request.path[len("/ISAPI/"):].strip("/"))
            if entry is not None and "status_code" in entry:
                return self._recorded_status(request, int(entry["status_code"]))
        return await handler(request)

    def _recorded_status(self, request: web.Request, code: int) -> web.Response:
        text, sub = {403: ("Invalid Operation", "notSupport"), 404: ("Invalid Operation", "notSupport"),
                     500: ("Device Error", "deviceError"), 400: ("Invalid XML Content", "badXmlContent"),
                     401: ("Invalid Operation", "notAuthenticated")}.get(code, ("Device Error", "deviceError"))
        return _xml(response_status(request.path, 4 if code in (401, 403, 404) else 3, text, sub), code)

    # ------------------------------------------------------------ routes

    def _routes(self, app: web.Application) -> None:
        r = app.router
        r.add_post("/_sim/event", self._sim_event)
        r.add_post("/_sim/lockout", self._sim_lock)
        r.add_post("/_sim/unlock", self._sim_unlock)
        r.add_post("/_sim/users", self._sim_users)
        r.add_get("/ISAPI/Event/notification/alertStream", self._alert_stream)
        r.add_get("/ISAPI/Streaming/channels/{sid:\\d+}/picture", self._picture)
        r.add_put("/ISAPI/PTZCtrl/channels/{ch:\\d+}/continuous", self._ptz_continuous)
        r.add_put("/ISAPI/PTZCtrl/channels/{ch:\\d+}/relative", self._ptz_relative)
        r.add_put("/ISAPI/PTZCtrl/channels/{ch:\\d+}/presets/{p:\\d+}/goto", self._ptz_preset)
        r.add_put("/ISAPI/System/IO/outputs/{id:\\d+}/trigger", self._output_trigger)
        r.add_get("/ISAPI/{tail:.*}", self._get)

    def _not_found(self, request: web.Request) -> web.Response:
        return _xml(response_status(request.path, 4, "Invalid Operation", "notSupport"), 404)

    async def _get(self, request: web.Request) -> web.Response:
        tail = request.match_info["tail"].strip("/")
        entry = self.fixture.get(tail)
        if entry is not None:
            return _xml(self._fixture_xml(tail) or "")
        if self.fixture and not tail.startswith("System/IO/outputs/"):
            return self._not_found(request)  # not captured: the real device's answer is unknown
        return self._synthetic_get(request, tail)

    def _synthetic_documents(self) -> dict[str, Any]:
        """Builders of the synthetic GET answers, by path below /ISAPI/."""
        n, nvr = self.channels, self.kind == "nvr"
        inputs = 2 if nvr else 1
        return {
            "System/deviceInfo": self.device_info_xml,
            "System/capabilities": lambda: docs.capabilities(nvr=nvr, channels=n, io_inputs=inputs,
                                                             io_outputs=len(self.outputs)),
            "System/status": lambda: docs.device_status(self.started_at),
            "Event/triggers": lambda: docs.event_triggers(nvr=nvr, channels=n, io_inputs=inputs),
            "Streaming/channels": lambda: docs.streaming_channels(n),
            "ContentMgmt/InputProxy/channels": (lambda: docs.input_proxy_channels(n)) if nvr else None,
            "ContentMgmt/InputProxy/channels/status": (lambda: docs.input_proxy_status(n)) if nvr else None,
            "System/Video/inputs/channels": None if nvr else lambda: docs.video_inputs(n),
        }

    def _synthetic_get(self, request: web.Request, tail: str) -> web.Response:
        documents = self._synthetic_documents()
        if tail in documents:
            build = documents[tail]
            if build is None:  # the path exists on the other kind of device: refused like the captures
                return _xml(response_status(request.path, 4, "Invalid Operation", "notSupport"), 403)
            return _xml(build())
        if tail.startswith("System/IO/outputs/") and tail.endswith("/status"):
            oid = tail.split("/")[3]
            if not oid.isdigit() or int(oid) not in self.outputs:
                return self._not_found(request)
            state = "active" if self.outputs[int(oid)] == "high" else "inactive"
            return _xml(f'<?xml version="1.0" encoding="UTF-8"?>\n<IOPortStatus version="2.0" xmlns="{NS}">'
                        f"<ioPortID>{oid}</ioPortID><ioPortType>output</ioPortType><ioState>{state}</ioState>"
                        "</IOPortStatus>")
        return self._not_found(request)

    async def _picture(self, request: web.Request) -> web.Response:
        sid = int(request.match_info["sid"])
        chan, stream = divmod(sid, 100)
        if not self.has_channel(chan) or stream not in (1, 2):
            return self._not_found(request)
        body = grey_jpeg(64 if stream == 1 else 32, 48 if stream == 1 else 24, comment=f"stream {sid}")
        return web.Response(body=body, content_type="image/jpeg")

    def _ptz_guard(self, request: web.Request) -> tuple[int, web.Response | None]:
        chan = int(request.match_info["ch"])
        if not self.has_channel(chan):
            return chan, self._not_found(request)
        if not request[USER_KEY].ptz:
            return chan, _xml(response_status(request.path, 4, "Invalid Operation", "noPermission"), 403)
        return chan, None

    async def _ptz_data(self, request: web.Request) -> Any:
        try:
            return isapi_xml.parse(await request.read())
        except isapi_xml.XmlError:
            return None

    def _ptz_entry(self, chan: int) -> dict[str, Any]:
        return self.ptz.setdefault(chan, {"pan": 0, "tilt": 0, "zoom": 0, "moving": False, "preset": None,
                                          "position": [0, 0, 0], "history": []})

    async def _ptz_continuous(self, request: web.Request) -> web.Response:
        chan, err = self._ptz_guard(request)
        if err:
            return err
        root = await self._ptz_data(request)
        if root is None or isapi_xml.local(root.tag) != "PTZData":
            return _xml(response_status(request.path, 6, "Invalid XML Content", "badXmlContent"), 400)
        entry = self._ptz_entry(chan)
        for axis in ("pan", "tilt", "zoom"):
            value = isapi_xml.integer(root, axis)
            entry[axis] = value if value is not None else 0
        entry["moving"] = any(entry[a] for a in ("pan", "tilt", "zoom"))
        entry["history"].append(("continuous", entry["pan"], entry["tilt"], entry["zoom"]))
        return _xml(response_status(request.path, 1, "OK", "ok"))

    async def _ptz_relative(self, request: web.Request) -> web.Response:
        chan, err = self._ptz_guard(request)
        if err:
            return err
        root = await self._ptz_data(request)
        rel = isapi_xml.child(root, "Relative") if root is not None else None
        if rel is None:
            return _xml(response_status(request.path, 6, "Invalid XML Content", "badXmlContent"), 400)
        entry = self._ptz_entry(chan)
        delta = [isapi_xml.integer(rel, k) or 0 for k in ("positionX", "positionY", "relativeZoom")]
        entry["position"] = [p + d for p, d in zip(entry["position"], delta, strict=True)]
        entry["history"].append(("relative", *delta))
        return _xml(response_status(request.path, 1, "OK", "ok"))

    async def _ptz_preset(self, request: web.Request) -> web.Response:
        chan, err = self._ptz_guard(request)
        if err:
            return err
        preset = int(request.match_info["p"])
        if not 1 <= preset <= 255:
            return _xml(response_status(request.path, 4, "Invalid Operation", "invalidID"), 400)
        entry = self._ptz_entry(chan)
        entry["preset"] = preset
        entry["history"].append(("preset", preset))
        return _xml(response_status(request.path, 1, "OK", "ok"))

    async def _output_trigger(self, request: web.Request) -> web.Response:
        oid = int(request.match_info["id"])
        if oid not in self.outputs:
            return self._not_found(request)
        try:
            root = isapi_xml.parse(await request.read())
        except isapi_xml.XmlError:
            root = None
        state = isapi_xml.text(root, "outputState") if root is not None else None
        if state not in ("high", "low"):
            return _xml(response_status(request.path, 6, "Invalid XML Content", "badXmlContent"), 400)
        self.outputs[oid] = state
        self.output_log.append((oid, state))
        return _xml(response_status(request.path, 1, "OK", "ok"))

    async def _alert_stream(self, request: web.Request) -> web.StreamResponse:
        if self.fault == "no_stream":
            return self._not_found(request)
        if self.fault == "stream_no_answer":  # accepts the request, never sends the headers
            await self.wait_released()
        resp = FirmwareStreamResponse() if self.stream_transport == "close" else chunked_response()
        await resp.prepare(request)
        queue: asyncio.Queue = asyncio.Queue(STREAM_QUEUE)
        self._streams.add(queue)
        self.stream_connects += 1
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), self.heartbeat)
                except TimeoutError:
                    item = (PART_TYPE, self.alerts.heartbeat().encode())
                if item is None:
                    break
                if self.fault == "stall":
                    continue
                ctype, body = item
                if ctype == "raw":
                    await resp.write(body)
                    continue
                await resp.write(part(body, PART_TYPE if ctype == "application/xml" else ctype))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._streams.discard(queue)
        return resp

    # ------------------------------------------------------------ /_sim/ HTTP control API

    async def _sim_event(self, request: web.Request) -> web.Response:
        body = await request.json()
        if "xml" in body:
            self.push_part(str(body["xml"]).encode(), body.get("content_type", PART_TYPE))
        else:
            self.trigger_event(body.get("channel"), body.get("event_type", "VMD"), body.get("state", "active"),
                               int(body.get("repeat", 1)), float(body.get("interval", 1.0)))
        return web.json_response({"ok": True, "open_streams": self.open_streams})

    async def _sim_lock(self, request: web.Request) -> web.Response:
        self.lockout()
        return web.json_response({"ok": True})

    async def _sim_unlock(self, request: web.Request) -> web.Response:
        self.unlock()
        return web.json_response({"ok": True})

    async def _sim_users(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.add_user(str(body["name"]), str(body["password"]), bool(body.get("ptz", True)))
        return web.json_response({"ok": True})
