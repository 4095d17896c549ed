"""Every HTTP exchange with the Hik-Partner Pro OpenAPI, built on the vendor's guide.

Source: "Hik-Partner Pro OpenAPI V2.14.0 Developer Guide" (section numbers below). The flow is
the guide's: ``POST /api/hpcgw/v1/token/get`` with ``appKey``/``secretKey`` at the token domain
(2.2, 3.1); every other call goes to the returned ``areaDomain`` with ``Authorization: Bearer
<accessToken>``; every answer is ``{"errorCode": "0", "data": ...}`` or an A.1 error code.

The client owns the token: it refreshes it once 80 % of its life (7 days, 3.1) is gone, and a
token the cloud refuses (``LAP500002``-``LAP500005``, e.g. ``LAP500004`` expired) is replaced
once, transparently, and the call retried. Rejected credentials (``LAP300001``-``LAP300003``,
a locked account) are an :class:`AuthError` and never retried here: the host's back-off
protects the account from lock-out.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from gemhost_drivers.hikvision_isapi import kernel
from gemhost_drivers.hpp import assumptions, codes, regions
from gemhost_drivers.hpp.parsing import BodyError, load_json

from gemhost.errors import AuthError, DeviceError, DeviceUnreachable
from gemhost.model import Secret
from gemhost.values import int_or_none

TOKEN_PATH = "/api/hpcgw/v1/token/get"  # 3.1
SITE_SEARCH_PATH = "/api/hpcgw/v1/site/search"  # 3.6
DEVICE_ADD_PATH = "/api/hpcgw/v2/device/add"  # 3.18
DEVICE_UPDATE_PATH = "/api/hpcgw/v1/device/update"  # 3.20
DEVICE_LIST_PATH = "/api/hpcgw/v1/device/list"  # 3.21
CAMERA_LIST_PATH = "/api/hpcgw/v1/device/camera/list"  # 3.22
TRANSPARENT_PATH = "/api/hpcgw/v1/device/transparent/"  # 3.23
SUBSCRIBE_PATH = "/api/hpcgw/v1/mq/subscribe"  # 3.33
MESSAGES_PATH = "/api/hpcgw/v1/mq/messages"  # 3.34
OFFSET_PATH = "/api/hpcgw/v1/mq/offset"  # 3.35
PICTURE_URL_PATH = "/api/hpcgw/v1/alarm/pictureurl"  # 3.36
VIDEO_BY_TIME_PATH = "/api/hpcgw/v1/video/by/time"  # 3.52

PAGE_SIZE = 20  # the guide's default page size (3.6, 3.21)
MAX_PAGES = 1000
_FAIL_CODE = re.compile(r"\{\s*([A-Z]{3}\d{5,6})\s*\}")  # 3.18: "add Exception{LAP006001}"


@dataclass(frozen=True)
class Credentials:
    """What the token request needs; secrets stay :class:`Secret` until the wire."""

    access_mode: str
    key: Secret | None = None
    access_key: str | None = None
    secret_key: Secret | None = None

    def token_body(self) -> dict[str, str]:
        if self.access_mode == assumptions.KEY_MODE:
            if not self.key:
                raise AuthError("access_mode is key but no key is configured")
            return assumptions.key_mode_token_body(self.key)
        if not self.access_key or not self.secret_key:
            raise AuthError("access_mode is aksk but access_key or secret_key is missing")
        return {"appKey": self.access_key, "secretKey": self.secret_key.reveal()}  # 2.2


class HppApiError(DeviceError):
    """A non-zero ``errorCode`` (guide A.1); ``code`` keeps it for callers."""

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(f"{message or codes.describe(code)} (HPP {code})")
        self.code = code


def fail_code(reason: Any) -> str | None:
    """The A.1 code inside a device-add ``failReason`` such as ``"add Exception{LAP006001}"``."""
    match = _FAIL_CODE.search(str(reason or ""))
    return match.group(1) if match else None


@dataclass
class Batch:
    """One pull of the queue (3.34): confirm ``batch_id`` with mq/offset once every message is safe."""

    batch_id: str
    messages: list[Any]


@dataclass(frozen=True)
class Reply(kernel.Reply):
    """A transparent-channel answer (3.23): the device's ISAPI reply (status, content type,
    body) and the cloud's X- headers."""

    ezo_code: str
    error_code: str
    device_code: str


class HppClient:
    """Async client of the HPP OpenAPI for one account.

    ``domain`` is where the token is requested (the site file's "domain where the account is
    located"); :attr:`area_domain` is where the cloud said the account lives, used for every
    other call. ``long_poll`` extends the read timeout of mq/messages, which "will be blocked
    for 20s" when the queue is empty (2.5).
    """

    def __init__(
        self, domain: str, credentials: Credentials, *, timeout: float = 15.0, long_poll: float = 20.0
    ) -> None:
        self.domain = regions.origin(domain)
        self.area_domain: str | None = None
        self._creds = credentials
        self._timeout = timeout
        self._long_poll = long_poll
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._refresh_at = 0.0
        self._token_lock = asyncio.Lock()
        self.tokens_issued = 0
        self.clock = time.monotonic
        """The refresh clock (a test can move it forward)."""

    def __repr__(self) -> str:
        return f"HppClient(domain={self.domain!r}, access_mode={self._creds.access_mode!r})"

    @property
    def region(self) -> str | None:
        """The guide's name of the answered area (3.1), when it is one of the listed domains."""
        return regions.area_name(self.area_domain) if self.area_domain else None

    # ------------------------------------------------------------ session and token

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def forget_token(self) -> None:
        self._token = None
        self._refresh_at = 0.0

    async def token(self) -> str:
        """A valid access token; fetched at the token domain, the area domain learnt with it."""
        async with self._token_lock:
            if self._token and self.clock() < self._refresh_at:
                return self._token
            doc = await self._request_json("POST", self.domain + TOKEN_PATH, self._creds.token_body(), None)
            code = str(doc.get("errorCode", codes.OK)).strip()
            if code in codes.CREDENTIAL_REJECTED:
                raise AuthError(f"Hik-Partner Pro refused the credentials: {codes.describe(code)} (HPP {code})")
            if code != codes.OK:
                raise HppApiError(code)
            # 2.2 wraps the token in "data"; 3.1's example shows it unwrapped.
            data = doc.get("data") if isinstance(doc.get("data"), dict) else doc
            token = data.get("accessToken")
            if not token:
                raise DeviceError("Hik-Partner Pro answered the token request without a token")
            area = str(data.get("areaDomain") or "").strip()
            try:
                self.area_domain = regions.check_area_domain(area, self.domain) if area else self.domain
            except ValueError as exc:
                raise DeviceError(str(exc)) from None
            try:
                expires_ms = float(data.get("expireTime") or 0)
            except (TypeError, ValueError):
                expires_ms = 0.0
            lifetime = max(0.0, expires_ms / 1000.0 - time.time())
            self._token = str(token)
            self._refresh_at = self.clock() + lifetime - min(300.0, lifetime * 0.2)
            self.tokens_issued += 1
            return self._token

    # ------------------------------------------------------------ transport

    async def call(self, path: str, body: dict[str, Any] | None = None, *, timeout: float | None = None) -> Any:
        """POST an API call and return its ``data``; a refused token is replaced once."""
        for attempt in (1, 2):
            token = await self.token()
            doc = await self._request_json("POST", self._base() + path, body or {}, token, timeout=timeout)
            code = str(doc.get("errorCode", codes.OK)).strip()
            if code == codes.OK:
                return doc.get("data")
            if code in codes.TOKEN_REJECTED:
                self.forget_token()
                if attempt == 1:
                    continue
                raise DeviceError(
                    f"Hik-Partner Pro refused a freshly issued token: {codes.describe(code)} (HPP {code})"
                )
            if code in codes.CREDENTIAL_REJECTED:
                raise AuthError(f"Hik-Partner Pro refused the credentials: {codes.describe(code)} (HPP {code})")
            raise HppApiError(code)
        raise AssertionError("unreachable")

    def _base(self) -> str:
        return self.area_domain or self.domain

    async def _request_json(
        self, method: str, url: str, body: Any, token: str | None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        status, _, raw, _ = await self._send(method, url, headers=headers, json_body=body, timeout=timeout)
        path = url[len(self._origin_of(url)) :]
        if status >= 300:  # assumption 7
            raise DeviceError(f"Hik-Partner Pro answered HTTP {status} to {path}")
        try:
            doc = load_json(raw)
        except BodyError:
            raise DeviceError(f"Hik-Partner Pro sent an answer to {path} that is not JSON") from None
        if not isinstance(doc, dict):
            raise DeviceError(f"Hik-Partner Pro sent an unexpected answer to {path}")
        return doc

    @staticmethod
    def _origin_of(url: str) -> str:
        return regions.origin(url)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        json_body: Any = None,
        data: bytes | None = None,
        timeout: float | None = None,
    ) -> tuple[int, str, bytes, dict[str, str]]:
        session = self._get_session()
        kwargs: dict[str, Any] = {"headers": headers}
        if json_body is not None:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
        if timeout is not None:
            kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout)
        where = url[len(self._origin_of(url)) :].split("?")[0]
        try:
            async with session.request(method, url, **kwargs) as resp:
                raw = await resp.read()
                return resp.status, resp.headers.get("Content-Type", ""), raw, dict(resp.headers)
        except TimeoutError:
            raise DeviceUnreachable(f"Hik-Partner Pro did not answer {where} in time") from None
        except aiohttp.ClientError as exc:
            raise DeviceUnreachable(
                f"cannot reach Hik-Partner Pro at {self._origin_of(url)}: {type(exc).__name__}"
            ) from None

    # ------------------------------------------------------------ paged lists

    async def _pages(self, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Every row of a paged list (``data.rows``, ``total``, ``totalPage``; 3.6, 3.21)."""
        rows: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            data = await self.call(path, {**body, "page": page, "pageSize": PAGE_SIZE})
            if not isinstance(data, dict):
                raise DeviceError(f"Hik-Partner Pro answered {path} without a page of rows")
            chunk = [r for r in data.get("rows") or [] if isinstance(r, dict)]
            rows.extend(chunk)
            total_pages = int_or_none(data.get("totalPage"))
            total = int_or_none(data.get("total"))
            if not chunk or (total_pages is not None and page >= total_pages) or (
                total is not None and len(rows) >= total
            ):
                break
        return rows

    # ------------------------------------------------------------ API

    async def sites(self, search: str = "") -> list[dict[str, Any]]:
        """3.6 site/search."""
        return await self._pages(SITE_SEARCH_PATH, {"search": search} if search else {})

    async def devices(self, site_id: str | None = None, serial: str | None = None) -> list[dict[str, Any]]:
        """3.21 device/list: all devices of the account, or of one site, or one serial."""
        body: dict[str, Any] = {}
        if site_id:
            body["siteId"] = site_id
        if serial:
            body["deviceSerial"] = serial
        return await self._pages(DEVICE_LIST_PATH, body)

    async def channels(self, serial: str) -> list[dict[str, Any]]:
        """3.22 device/camera/list: ``data`` is a plain array of channels."""
        data = await self.call(CAMERA_LIST_PATH, {"deviceSerial": serial})
        if data is None:
            return []
        if not isinstance(data, list):
            raise DeviceError(f"Hik-Partner Pro answered the channel list of {serial} without an array")
        return [c for c in data if isinstance(c, dict)]

    async def add_devices(self, site_id: str, devices: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """3.18 v2/device/add: ``addSuccessList`` and ``addFailedList`` (with ``failReason``)."""
        data = await self.call(DEVICE_ADD_PATH, {"deviceList": devices, "siteId": site_id}) or {}
        return {
            "added": [d for d in data.get("addSuccessList") or [] if isinstance(d, dict)],
            "failed": [d for d in data.get("addFailedList") or [] if isinstance(d, dict)],
        }

    async def rename_device(self, device_id: str, name: str) -> None:
        """3.20 device/update."""
        await self.call(DEVICE_UPDATE_PATH, {"deviceId": device_id, "deviceName": name})

    async def subscribe(self, serials: list[str] | None, on: bool) -> None:
        """3.33 mq/subscribe: ``subType`` 1/0, ``subMode`` "all" or "list"."""
        body: dict[str, Any] = {"subType": 1 if on else 0, "subMode": "list" if serials else "all"}
        if serials:
            body["deviceSerialList"] = serials
        await self.call(SUBSCRIBE_PATH, body)

    async def messages(self) -> Batch:
        """3.34 mq/messages, one long poll; nothing is consumed by pulling."""
        data = await self.call(MESSAGES_PATH, {}, timeout=self._timeout + self._long_poll) or {}
        if not isinstance(data, dict):
            raise DeviceError("Hik-Partner Pro answered mq/messages without a batch")
        items = data.get("list")
        return Batch(batch_id=str(data.get("batchId") or ""), messages=items if isinstance(items, list) else [])

    async def commit(self, batch_id: str) -> None:
        """3.35 mq/offset: the batch's messages are consumed for every consumer of the account."""
        await self.call(OFFSET_PATH, {"batchId": batch_id})

    async def picture_url(self, file_path: str) -> dict[str, Any]:
        """3.36 alarm/pictureurl for an ``ISAPI_FILES/...`` path: ``pictureUrl`` (2 h), ``encrypt``."""
        data = await self.call(PICTURE_URL_PATH, {"filePath": file_path})
        return data if isinstance(data, dict) else {}

    async def recordings(
        self, serial: str, channel: int, start_ms: int | None, end_ms: int | None, rec_type: int
    ) -> list[dict[str, Any]]:
        """3.52 video/by/time: recorded files of a channel."""
        body: dict[str, Any] = {"deviceSerial": serial, "channelNo": channel, "recType": rec_type}
        if start_ms is not None:
            body["startTime"] = start_ms
        if end_ms is not None:
            body["endTime"] = end_ms
        data = await self.call(VIDEO_BY_TIME_PATH, body)
        if data is None:
            return []
        if not isinstance(data, list):
            raise DeviceError(f"Hik-Partner Pro answered the recordings of {serial} without an array")
        return [r for r in data if isinstance(r, dict)]

    async def transparent(
        self, serial: str, method: str, isapi: str, *, json_body: Any = None, xml: str | None = None
    ) -> Reply:
        """3.23: an ISAPI request passed through the cloud to one device.

        Cloud-level refusals come back as the usual envelope (token codes refresh once); the
        device's own answer and the X-EZO-Code / X-ErrorCode / X-DeviceCode headers are
        returned for :mod:`gemhost_drivers.hpp.transparent` to judge.
        """
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {await self.token()}", "X-Devserial": serial}
            data = None
            if xml is not None:
                headers["Content-Type"] = "application/xml"
                data = xml.encode()
            elif json_body is not None:
                headers["Content-Type"] = "application/json"
            status, ctype, raw, hdrs = await self._send(
                method,
                self._base() + TRANSPARENT_PATH + isapi.lstrip("/"),
                headers=headers,
                json_body=json_body if xml is None else None,
                data=data,
            )
            code = _envelope_code(ctype, raw)
            if code in codes.TOKEN_REJECTED and attempt == 1:
                self.forget_token()
                continue
            if code in codes.CREDENTIAL_REJECTED:
                raise AuthError(f"Hik-Partner Pro refused the credentials: {codes.describe(code)} (HPP {code})")
            if code and code != codes.OK:
                raise HppApiError(code)
            return Reply(
                status=status,
                content_type=ctype,
                body=raw,
                ezo_code=str(hdrs.get("X-EZO-Code", "")).strip(),
                error_code=str(hdrs.get("X-ErrorCode", "")).strip(),
                device_code=str(hdrs.get("X-DeviceCode", "")).strip(),
            )
        raise AssertionError("unreachable")


def _envelope_code(ctype: str, raw: bytes) -> str | None:
    """The A.1 ``errorCode`` when a transparent answer is the cloud's envelope, not the device's."""
    if "json" not in ctype:
        return None
    try:
        doc = load_json(raw)
    except BodyError:
        return None
    if isinstance(doc, dict) and isinstance(doc.get("errorCode"), str) and "statusCode" not in doc:
        return doc["errorCode"].strip()
    return None
