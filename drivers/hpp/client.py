"""Every HTTP exchange with the Hik-Partner Pro (HPP) partner OpenAPI, in this one module.

Why one module: the public material on HPP's OpenAPI is thin (see docs/drivers/hpp.md), so
paths, field names and error codes below are partly inferred. Keeping them together means a
wire detail learnt later is corrected in one place and nothing else in the driver changes.

The client owns the access token: it asks for one with the key (or AK/SK), refreshes it before
it expires, and re-asks once when the cloud says a token is no longer valid. It never retries a
*rejected credential*: that becomes :class:`AuthError` and the host's back-off decides.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from gemhost.errors import AuthError, DeviceError, DeviceUnreachable, NotSupported
from gemhost.model import Secret

TOKEN_PATH = "/api/hpcgw/v1/token/get"
SITES_PATH = "/api/hpcgw/v1/site/search"
DEVICES_PATH = "/api/hpcgw/v1/device/list"
CAMERAS_PATH = "/api/hpcgw/v1/camera/list"
ADD_DEVICE_PATH = "/api/hpcgw/v2/device/add"
SUBSCRIBE_PATH = "/api/hpcgw/v1/mq/subscribe"
MESSAGES_PATH = "/api/hpcgw/v1/mq/messages"
OFFSET_PATH = "/api/hpcgw/v1/mq/offset"
VIDEO_ADDRESS_PATH = "/api/hpcgw/v1/video/address"
TRANSPARENT_PATH = "/api/hpcgw/v1/device/transparent/"

OK = "0"
# Error codes. The LAP0200xx/LAP0060xx/LAP068001 ones appear in public HPP integrations; the
# others are this project's assumption of the same family (docs/drivers/hpp.md says which).
KEY_REJECTED = "LAP000401"
TOKEN_INVALID = "LAP000402"
OTHER_REGION = "LAP000403"
DEVICE_OFFLINE = "LAP020011"
NO_DEVICE = "LAP006009"
NOT_SUBSCRIBED = "LAP068001"
NO_PERMISSION = "LAP008128"
SERIAL_UNKNOWN = "LAP006001"
WRONG_CODE = "LAP006002"
ALREADY_ADDED = "LAP006003"
ADDED_ELSEWHERE = "LAP006004"
SITE_UNKNOWN = "LAP005001"

MESSAGES: dict[str, str] = {
    KEY_REJECTED: "Hik-Partner Pro rejected the key",
    TOKEN_INVALID: "the access token is no longer valid",
    DEVICE_OFFLINE: "the device is offline in Hik-Partner Pro",
    NO_DEVICE: "the device does not exist in this account or there is no permission for it",
    NOT_SUBSCRIBED: "event subscription is not active",
    NO_PERMISSION: "permission denied by Hik-Partner Pro",
    SERIAL_UNKNOWN: "no device with this serial number is registered on the Hik-Connect cloud "
    "(check the 9-character serial on the device label and that the device is online)",
    WRONG_CODE: "the verification code is wrong (it is the 6 capital letters on the device label)",
    ALREADY_ADDED: "the device is already added to a site of this account",
    ADDED_ELSEWHERE: "the device belongs to another Hik-Connect or Hik-Partner Pro account",
    SITE_UNKNOWN: "no such site in this account",
}


@dataclass(frozen=True)
class Credentials:
    """What the token request needs. ``key``/``secret_key`` stay :class:`Secret` until the wire."""

    access_mode: str
    key: Secret | None = None
    access_key: str | None = None
    secret_key: Secret | None = None

    def token_body(self) -> dict[str, str]:
        if self.access_mode == "key":
            if not self.key:
                raise AuthError("access_mode is key but no key is configured")
            return {"key": self.key.reveal()}
        if not self.access_key or not self.secret_key:
            raise AuthError("access_mode is aksk but access_key or secret_key is missing")
        return {"appKey": self.access_key, "secretKey": self.secret_key.reveal()}


class HppApiError(DeviceError):
    """A non-zero ``errorCode`` from HPP; ``code`` keeps the vendor code for callers."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{message} (HPP {code})")
        self.code = code


@dataclass
class Batch:
    """One pull of the message queue: commit ``batch_id`` once every message is safe."""

    batch_id: str
    messages: list[dict[str, Any]]


def same_domain(a: str, b: str) -> bool:
    """Domains compare by scheme, host and port (a trailing slash or path does not matter)."""
    pa, pb = urlsplit(a.strip()), urlsplit(b.strip())
    return (pa.scheme, (pa.hostname or "").lower(), pa.port) == (
        pb.scheme,
        (pb.hostname or "").lower(),
        pb.port,
    )


class HppClient:
    """Async client of the HPP OpenAPI for one account.

    ``long_poll`` is how long the cloud may hold ``mq/messages`` open; the read timeout of that
    one call is extended by it so an idle queue is not mistaken for a dead connection.
    """

    def __init__(
        self, domain: str, credentials: Credentials, *, timeout: float = 15.0, long_poll: float = 20.0
    ) -> None:
        self.domain = domain.rstrip("/")
        self._creds = credentials
        self._timeout = timeout
        self._long_poll = long_poll
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._refresh_at = 0.0
        self._token_lock = asyncio.Lock()
        self.tokens_issued = 0

    def __repr__(self) -> str:
        return f"HppClient(domain={self.domain!r}, access_mode={self._creds.access_mode!r})"

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
        """A valid access token, refreshed once 80 % of its life (at most 5 min early) is gone."""
        async with self._token_lock:
            if self._token and time.monotonic() < self._refresh_at:
                return self._token
            data = await self._post(TOKEN_PATH, self._creds.token_body(), token=None)
            if not isinstance(data, dict) or not data.get("accessToken"):
                raise DeviceError("Hik-Partner Pro answered the token request without a token")
            area = data.get("areaDomain")
            if area and not same_domain(area, self.domain):
                raise DeviceError(
                    f"account is located in another region: {area} "
                    f"(set domain to it instead of {self.domain})"
                )
            lifetime = max(0.0, float(data.get("expireTime", 0)) / 1000.0 - time.time())
            margin = min(300.0, lifetime * 0.2)
            self._token = str(data["accessToken"])
            self._refresh_at = time.monotonic() + lifetime - margin
            self.tokens_issued += 1
            return self._token

    # ------------------------------------------------------------ transport

    async def call(
        self, path: str, body: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """POST a JSON API call with the token; re-ask for a token once if it went stale."""
        for attempt in (1, 2):
            token = await self.token()
            try:
                return await self._post(path, body or {}, token=token, timeout=timeout)
            except HppApiError as exc:
                if exc.code != TOKEN_INVALID or attempt == 2:
                    raise
                self.forget_token()
        raise AssertionError("unreachable")

    async def _post(
        self, path: str, body: dict[str, Any], *, token: str | None, timeout: float | None = None
    ) -> Any:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        status, ctype, raw = await self._send("POST", path, headers=headers, json_body=body, timeout=timeout)
        return self._envelope(path, status, raw, token_call=token is None)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        json_body: Any = None,
        data: bytes | None = None,
        timeout: float | None = None,
    ) -> tuple[int, str, bytes]:
        session = self._get_session()
        kwargs: dict[str, Any] = {"headers": headers}
        if json_body is not None:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
        if timeout is not None:
            kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout)
        try:
            async with session.request(method, self.domain + path, **kwargs) as resp:
                raw = await resp.read()
                return resp.status, resp.headers.get("Content-Type", ""), raw
        except TimeoutError:
            raise DeviceUnreachable(f"Hik-Partner Pro did not answer {path} in time") from None
        except aiohttp.ClientError as exc:
            raise DeviceUnreachable(
                f"cannot reach Hik-Partner Pro at {self.domain}: {type(exc).__name__}"
            ) from None

    def _envelope(self, path: str, status: int, raw: bytes, *, token_call: bool) -> Any:
        if token_call and status in (401, 403):
            raise AuthError(f"Hik-Partner Pro rejected the credentials (HTTP {status})")
        if status >= 400:
            raise DeviceError(f"Hik-Partner Pro answered HTTP {status} to {path}")
        try:
            doc = json.loads(raw)
        except ValueError:
            raise DeviceError(f"Hik-Partner Pro sent an answer to {path} that is not JSON") from None
        if not isinstance(doc, dict):
            raise DeviceError(f"Hik-Partner Pro sent an unexpected answer to {path}")
        code = str(doc.get("errorCode", OK))
        if code == OK:
            return doc.get("data")
        message = MESSAGES.get(code) or str(doc.get("msg") or "request failed")
        if code == KEY_REJECTED or (token_call and code == NO_PERMISSION):
            raise AuthError(f"{message} (HPP {code})")
        if code == OTHER_REGION:
            area = (doc.get("data") or {}).get("areaDomain") or "unknown"
            raise DeviceError(
                f"account is located in another region: {area} (set domain to it instead of {self.domain})"
            )
        raise HppApiError(code, message)

    # ------------------------------------------------------------ API

    async def _pages(self, path: str, body: dict[str, Any], page_size: int = 100) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            data = await self.call(path, {**body, "page": page, "pageSize": page_size}) or {}
            chunk = list(data.get("rows") or [])
            rows.extend(chunk)
            total = int(data.get("total") or 0)
            if not chunk or len(rows) >= total or page >= 1000:
                return rows
            page += 1

    async def sites(self, search: str = "") -> list[dict[str, Any]]:
        return await self._pages(SITES_PATH, {"search": search})

    async def devices(self, site_id: str) -> list[dict[str, Any]]:
        return await self._pages(DEVICES_PATH, {"siteId": site_id})

    async def cameras(self, serial: str) -> list[dict[str, Any]]:
        return await self._pages(CAMERAS_PATH, {"deviceSerial": serial})

    async def add_devices(self, site_id: str, devices: list[dict[str, Any]]) -> dict[str, Any]:
        data = await self.call(ADD_DEVICE_PATH, {"siteId": site_id, "deviceList": devices}) or {}
        return {
            "added": list(data.get("addSuccessList") or []),
            "failed": list(data.get("addFailedList") or []),
        }

    async def subscribe(self, serials: list[str] | None, on: bool) -> None:
        body: dict[str, Any] = {"subType": 1 if on else 0}
        if serials:
            body.update(subMode="list", deviceSerialList=serials)
        else:
            body["subMode"] = "all"
        await self.call(SUBSCRIBE_PATH, body)

    async def messages(self) -> Batch:
        """One long poll of the account's message queue (nothing is consumed by pulling)."""
        data = await self.call(MESSAGES_PATH, {}, timeout=self._timeout + self._long_poll) or {}
        return Batch(batch_id=str(data.get("batchId") or ""), messages=list(data.get("list") or []))

    async def commit(self, batch_id: str) -> None:
        """Consume a pulled batch: HPP then never hands these messages to anyone again."""
        await self.call(OFFSET_PATH, {"batchId": batch_id})

    async def video_address(
        self,
        serial: str,
        channel: int,
        kind: str,
        stream: str,
        start: str | None = None,
        end: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "deviceSerial": serial,
            "channelNo": channel,
            "type": kind,
            "streamType": 1 if stream == "main" else 2,
        }
        if start:
            body["startTime"] = start
        if end:
            body["endTime"] = end
        return await self.call(VIDEO_ADDRESS_PATH, body) or {}

    async def transparent(
        self, serial: str, method: str, isapi: str, *, body: Any = None, xml: str | None = None
    ) -> tuple[str, bytes]:
        """Pass an ISAPI request through the cloud to one device; returns (content type, body).

        ISAPI errors come back as a ResponseStatus (XML or JSON) and become DeviceError, or
        NotSupported for ``notSupport``; cloud errors come back in the usual JSON envelope.
        """
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {await self.token()}", "X-Devserial": serial}
            data = None
            if xml is not None:
                headers["Content-Type"] = "application/xml"
                data = xml.encode()
            status, ctype, raw = await self._send(
                method, TRANSPARENT_PATH + isapi.lstrip("/"), headers=headers, json_body=body, data=data
            )
            try:
                _check_transparent(status, ctype, raw)
            except HppApiError as exc:
                if exc.code == TOKEN_INVALID and attempt == 1:
                    self.forget_token()
                    continue
                raise
            return ctype, raw
        raise AssertionError("unreachable")


def _check_transparent(status: int, ctype: str, raw: bytes) -> None:
    """Raise for an envelope error or a failed ISAPI ResponseStatus in a transparent answer."""
    if status >= 500:
        raise DeviceError(f"Hik-Partner Pro answered HTTP {status} to a device request")
    if "json" in ctype:
        try:
            doc = json.loads(raw)
        except ValueError:
            raise DeviceError("the device answered with malformed JSON") from None
        if isinstance(doc, dict) and str(doc.get("errorCode", OK)) != OK:
            code = str(doc["errorCode"])
            raise HppApiError(code, MESSAGES.get(code) or str(doc.get("msg") or "request failed"))
        if isinstance(doc, dict) and "statusCode" in doc:
            _check_status(
                int(doc.get("statusCode", 1)),
                str(doc.get("subStatusCode", "")),
                str(doc.get("errorMsg") or doc.get("statusString") or ""),
            )
    elif "xml" in ctype:
        from defusedxml import ElementTree

        try:
            root = ElementTree.fromstring(raw)
        except ElementTree.ParseError:
            raise DeviceError("the device answered with malformed XML") from None
        if root.tag.split("}")[-1] == "ResponseStatus":
            text = {child.tag.split("}")[-1]: (child.text or "") for child in root}
            _check_status(
                int(text.get("statusCode") or 1), text.get("subStatusCode", ""), text.get("statusString", "")
            )
    if status >= 400:
        raise DeviceError(f"the device answered HTTP {status}")


def _check_status(code: int, sub: str, text: str) -> None:
    if code == 1:
        return
    if code == 4 and sub.lower() in ("notsupport", "invalidoperation"):
        raise NotSupported(f"the device does not support this ({sub})")
    detail = f" ({text})" if text and text not in (sub, "OK") else ""
    raise DeviceError(f"the device refused the request: {sub or code}{detail}")
