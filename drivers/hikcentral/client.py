"""The one place where the driver talks HTTP to HikCentral's OpenAPI gateway.

Every call is a signed POST of a JSON body to ``/artemis/api/...`` answered by the envelope
``{"code": "0", "msg": "Success", "data": ...}``. Failures are sorted into a few precise
*reasons* because the user-facing ``test_connection`` must say which of them it is
(unreachable, TLS, wrong key or signature, API service disabled, permission), and because only
a rejected key may count towards the host's auth back-off.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from gemhost_drivers.hikcentral import gateway, signing

from gemhost.errors import AuthError, DeviceError, DeviceUnreachable
from gemhost.model import Secret, reveal

log = logging.getLogger(__name__)

# Failure reasons and codes live in gateway.py; re-exported here for the driver and tests.
UNREACHABLE, TIMEOUT, TLS, AUTH = gateway.UNREACHABLE, gateway.TIMEOUT, gateway.TLS, gateway.AUTH
API_DISABLED, PERMISSION = gateway.API_DISABLED, gateway.PERMISSION
BAD_RESPONSE, API_ERROR = gateway.BAD_RESPONSE, gateway.API_ERROR

PATH_VERSION = "/artemis/api/common/v1/version"
PATH_CAMERAS = "/artemis/api/resource/v1/cameras"
PATH_CAMERA_BY_CODE = "/artemis/api/resource/v1/cameras/indexCode"
PATH_CAMERA_SEARCH = "/artemis/api/resource/v1/camera/advance/cameraList"
PATH_REGIONS = "/artemis/api/resource/v1/regions"
PATH_ENCODE_DEVICES = "/artemis/api/resource/v1/encodeDevice/encodeDeviceList"
PATH_PREVIEW_URLS = "/artemis/api/video/v1/cameras/previewURLs"
PATH_PTZ = "/artemis/api/video/v1/ptzs/controlling"
PATH_CAPTURE = "/artemis/api/video/v1/camera/capture"
PATH_SUBSCRIBE = "/artemis/api/eventService/v1/eventSubscriptionByEventTypes"
PATH_UNSUBSCRIBE = "/artemis/api/eventService/v1/eventUnSubscriptionByEventTypes"
PATH_SUBSCRIPTIONS = "/artemis/api/eventService/v1/eventSubscriptionView"

MAX_PAGE_SIZE = 500
STREAM_TYPES = {"main": 0, "sub": 1}


class _Reasoned:
    reason: str


class HcpUnreachable(DeviceUnreachable, _Reasoned):
    """HikCentral could not be reached (refused, DNS, TLS, timeout)."""

    def __init__(self, message: str, reason: str = UNREACHABLE) -> None:
        super().__init__(message)
        self.reason = reason


class HcpAuthError(AuthError, _Reasoned):
    """The gateway rejected the AppKey or the signature (wrong AppSecret).

    For an invalid signature, ``gateway_string_to_sign`` is what the gateway signed (its echo,
    cut after the path) and ``our_string_to_sign`` what the driver signed: equal strings mean
    a wrong AppSecret, different ones a request the gateway read differently.
    """

    reason = AUTH

    def __init__(self, message: str, code: str | None = None, gateway_string_to_sign: str | None = None,
                 our_string_to_sign: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.gateway_string_to_sign = gateway_string_to_sign
        self.our_string_to_sign = our_string_to_sign


class HcpApiError(DeviceError, _Reasoned):
    """HikCentral answered with an error; ``code`` is its envelope code when there is one."""

    def __init__(self, message: str, reason: str = API_ERROR, code: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.code = code


def reason_of(exc: BaseException) -> str:
    """The failure reason of any error the client raises."""
    return getattr(exc, "reason", API_ERROR)


@dataclass
class Page:
    """One page of a paged listing."""

    total: int
    page_no: int
    page_size: int
    items: list[dict[str, Any]]


class HikCentralClient:
    """Signed OpenAPI calls over one aiohttp session.

    ``verify_tls`` is off by default because HikCentral usually serves a self-signed
    certificate; when on, ``ca_file`` may name the CA bundle that signed it.
    """

    def __init__(self, url: str, app_key: str, app_secret: Secret | str, *, verify_tls: bool = False,
                 ca_file: str | None = None, timeout: float = 10.0) -> None:
        self.base = url.rstrip("/")
        self.host = urlsplit(self.base).hostname or ""
        self.app_key = str(reveal(app_key))
        self._secret = app_secret if isinstance(app_secret, Secret) else Secret(app_secret)
        self.verify_tls = verify_tls
        self.ca_file = ca_file
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"HikCentralClient({self.base!r}, app_key={self.app_key!r})"

    # ------------------------------------------------------------ session

    def _ssl(self) -> ssl.SSLContext | bool:
        if not self.base.startswith("https:"):
            return True
        if not self.verify_tls:
            return False
        return ssl.create_default_context(cafile=self.ca_file or None)

    async def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl(), limit=8)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------ the call

    async def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST one signed request and return the envelope's ``data``."""
        raw = json.dumps(body or {}, separators=(",", ":")).encode("utf-8")
        signed = signing.sign(self.app_key, self._secret.reveal(), "POST", path, raw)
        session = await self._get_session()
        try:
            async with session.post(self.base + path, data=raw, headers=signed.headers,
                                    allow_redirects=False) as resp:
                text = await resp.text(errors="replace")
                return self._unwrap(path, resp.status, resp.headers, text, signed.string_to_sign)
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError) as exc:
            raise HcpUnreachable(f"TLS handshake with {self.host} failed: {_ssl_reason(exc)}"
                                 f"{self._scheme_hint(exc)}", TLS) from None
        except aiohttp.ClientConnectorError as exc:
            raise HcpUnreachable(f"cannot connect to {self.host}:{exc.port}: {exc.os_error.strerror or exc}",
                                 UNREACHABLE) from None
        except TimeoutError:
            raise HcpUnreachable(f"{self.host} did not answer {path} within {self.timeout:g} s",
                                 TIMEOUT) from None
        except aiohttp.ClientError as exc:
            raise HcpUnreachable(f"connection to {self.host} failed: {type(exc).__name__}: {exc}"
                                 f"{self._scheme_hint(exc)}", UNREACHABLE) from None

    def _scheme_hint(self, exc: BaseException) -> str:
        """Why a connection died at once: most often the URL's scheme does not match the port.

        A TLS port closes a plain HTTP request without a word ("Server disconnected"); a plain
        port answers a TLS hello with bytes that are no TLS record ("wrong version number").
        """
        parts = urlsplit(self.base)
        other = parts._replace(scheme="https" if parts.scheme == "http" else "http").geturl()
        if parts.scheme == "http" and isinstance(exc, aiohttp.ServerDisconnectedError):
            return f"; is this an HTTPS port? Try url: {other}"
        if parts.scheme == "https" and "WRONG_VERSION_NUMBER" in str(exc).upper():
            return f"; the port does not speak TLS: is it plain HTTP? Try url: {other}"
        return ""

    def _unwrap(self, path: str, status: int, headers: Any, text: str, ours: str) -> Any:
        envelope = _envelope(text)
        code = str(envelope.get("code")) if envelope is not None else None
        if code is not None and code != "0":
            known = gateway.classify(code)
            if known is not None or status == 200:
                raise self._envelope_error(path, code, known, str(envelope.get("msg") or ""), ours)
        gateway_msg = gateway.sanitize(headers.get("X-Ca-Error-Message", ""), self._secret.reveal())
        if status == 401 or (400 <= status < 500 and _names_key_or_signature(gateway_msg)):
            raise HcpAuthError("HikCentral rejected the AppKey or signature (wrong AppKey/AppSecret?)"
                               f": HTTP {status} {gateway_msg}".rstrip())
        if status == 403:
            raise HcpApiError(f"this AppKey has no permission for {path} (HTTP 403 {gateway_msg})".rstrip(),
                              PERMISSION)
        if status in (404, 502, 503):
            raise HcpApiError(f"HikCentral's OpenAPI service is not available (HTTP {status} on {path}); "
                              "is the OpenAPI component installed and enabled?", API_DISABLED)
        if 300 <= status < 400:
            location = headers.get("Location", "")
            raise HcpApiError(f"HikCentral redirected {path} to {location}; set url to that address",
                              API_ERROR)
        if status != 200:
            raise HcpApiError(f"HikCentral answered HTTP {status} on {path}: "
                              f"{gateway_msg or gateway.sanitize(text, self._secret.reveal())}", API_ERROR)
        if envelope is None:
            if _looks_like_json(text):
                raise HcpApiError(f"HikCentral answered {path} without the code/msg/data envelope",
                                  BAD_RESPONSE)
            raise HcpApiError(f"HikCentral answered {path} with something that is not JSON: {_short(text)}",
                              BAD_RESPONSE)
        return envelope.get("data")

    def _envelope_error(self, path: str, code: str, known: tuple[str, str] | None, msg: str,
                        ours: str) -> DeviceError:
        """The error of a non-"0" envelope: by its code first, whatever the HTTP status was."""
        reason, meaning = known or (API_ERROR, "")
        said = gateway.sanitize(msg, self._secret.reveal())
        same = said.lower().rstrip(".").startswith(meaning.lower()) if meaning else False
        detail = said if same or not meaning else f"{meaning}; {said}" if said else meaning
        if reason != AUTH:
            return HcpApiError(f"HikCentral refused {path}: {detail} (code {code})", reason, code)
        theirs = gateway.gateway_string_to_sign(msg) if code == gateway.INVALID_SIGNATURE else None
        if theirs is None:
            return HcpAuthError(f"HikCentral rejected the AppKey or signature: {detail} (code {code})", code)
        differs = gateway.first_difference(theirs, ours)
        why = (f"the gateway built a different string to sign ({differs})" if differs else
               "the gateway built the same string to sign, so the AppSecret is wrong")
        return HcpAuthError(f"HikCentral rejected the signature (code {code}): {why}", code, theirs, ours)

    # ------------------------------------------------------------ endpoints

    async def version(self) -> dict[str, Any]:
        """Product name and software version (the cheapest authenticated call)."""
        data = await self.call(PATH_VERSION, {})
        return data if isinstance(data, dict) else {}

    async def cameras_page(self, page_no: int, page_size: int = MAX_PAGE_SIZE,
                           name: str | None = None) -> Page:
        """One page of cameras; with ``name`` the condition search (name contains) is used."""
        body: dict[str, Any] = {"pageNo": page_no, "pageSize": min(page_size, MAX_PAGE_SIZE)}
        path = PATH_CAMERAS
        if name:
            path = PATH_CAMERA_SEARCH
            body["cameraName"] = name
        return _page(await self.call(path, body), page_no, body["pageSize"])

    async def all_cameras(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every camera, fetched in pages of 500 (the batches of the status refresh)."""
        out: list[dict[str, Any]] = []
        page_no = 1
        while True:
            page = await self.cameras_page(page_no, MAX_PAGE_SIZE, name)
            out.extend(page.items)
            if not page.items or len(out) >= page.total:
                return out
            page_no += 1

    async def camera(self, code: str) -> dict[str, Any] | None:
        """One camera by index code, None when HikCentral says it does not exist (code 128).

        Any other refusal raises: a partner without permission for the camera must hear
        "permission", not "missing".
        """
        try:
            data = await self.call(PATH_CAMERA_BY_CODE, {"cameraIndexCode": code})
        except HcpApiError as exc:
            if exc.code == gateway.NOT_FOUND:
                return None
            raise
        return data if isinstance(data, dict) and data else None

    async def _camera_call(self, path: str, body: dict[str, Any], what: str) -> Any:
        try:
            return await self.call(path, body)
        except HcpApiError as exc:
            raise for_camera(exc, str(body["cameraIndexCode"]), what) from None

    async def _all_of(self, path: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page_no = 1
        while True:
            page = _page(await self.call(path, {"pageNo": page_no, "pageSize": MAX_PAGE_SIZE}),
                         page_no, MAX_PAGE_SIZE)
            out.extend(page.items)
            if not page.items or len(out) >= page.total:
                return out
            page_no += 1

    async def regions(self) -> dict[str, str]:
        """Region index code -> name."""
        return {str(r.get("indexCode")): str(r.get("name", "")) for r in await self._all_of(PATH_REGIONS)}

    async def encoding_devices(self) -> dict[str, str]:
        """Encoding device (NVR, DVR, camera) index code -> name (``encodeDevIndexCode`` and
        ``encodeDevName`` in HikCentral's rows, unlike the regions' ``indexCode``/``name``)."""
        return {str(d.get("encodeDevIndexCode")): str(d.get("encodeDevName") or "")
                for d in await self._all_of(PATH_ENCODE_DEVICES)}

    async def preview_url(self, code: str, stream: str, protocol: str) -> str:
        """A live-view URL for one camera; HikCentral makes it valid for a limited time only."""
        body = {"cameraIndexCode": code, "streamType": STREAM_TYPES[stream], "protocol": protocol,
                "transmode": 1}
        data = await self._camera_call(PATH_PREVIEW_URLS, body, "preview URL")
        url = data.get("url") if isinstance(data, dict) else None
        if not url:
            raise HcpApiError(f"HikCentral returned no preview URL for camera {code}", BAD_RESPONSE)
        return str(url)

    async def ptz(self, code: str, action: int, command: str, speed: int = 50,
                  preset: int | None = None) -> None:
        """One PTZ control call (action 0 = start, 1 = stop)."""
        body: dict[str, Any] = {"cameraIndexCode": code, "action": action, "command": command,
                                "speed": speed}
        if preset is not None:
            body["presetIndex"] = preset
        await self._camera_call(PATH_PTZ, body, "PTZ")

    async def capture(self, code: str) -> tuple[str, bytes]:
        """A picture taken now by one camera: (content type, image bytes).

        HikCentral answers with a data URI (``data:image/jpeg;base64,...``) in ``data``.
        """
        data = await self._camera_call(PATH_CAPTURE, {"cameraIndexCode": code}, "picture capture")
        return parse_data_uri(data, f"the picture of camera {code}")

    async def subscribe(self, event_types: list[int], dest: str) -> None:
        await self.call(PATH_SUBSCRIBE, {"eventTypes": event_types, "eventDest": dest})

    async def unsubscribe(self, event_types: list[int]) -> None:
        await self.call(PATH_UNSUBSCRIBE, {"eventTypes": event_types})

    async def subscriptions(self) -> list[dict[str, Any]]:
        data = await self.call(PATH_SUBSCRIPTIONS, {})
        detail = data.get("detail") if isinstance(data, dict) else None
        return list(detail or [])


def _page(data: Any, page_no: int, page_size: int) -> Page:
    if not isinstance(data, dict):
        raise HcpApiError("HikCentral returned a page without data", BAD_RESPONSE)
    items = data.get("list") or []
    try:
        total = int(data.get("total", len(items)))
    except (TypeError, ValueError):
        total = len(items)
    return Page(total=total, page_no=page_no, page_size=page_size, items=list(items))


def for_camera(exc: HcpApiError, code: str, what: str) -> HcpApiError:
    """A refusal of a call about one camera, in words about that camera (the reason and code
    stay): a partner without permission hears "permission", never "missing"."""
    if exc.code == gateway.NOT_FOUND:
        text = f"HikCentral has no camera {code} (removed from HikCentral? sync_cameras marks it missing)"
    elif exc.reason == PERMISSION:
        text = f"this AppKey's partner has no permission for camera {code} ({what}; code {exc.code})"
    elif exc.code == "195":
        text = f"camera {code} does not support {what} (code 195)"
    elif exc.code == "129":
        text = f"camera {code} is offline in HikCentral, so no {what} (code 129)"
    else:
        return exc
    return HcpApiError(text, exc.reason, exc.code)


def parse_data_uri(value: Any, what: str) -> tuple[str, bytes]:
    """(content type, bytes) of a ``data:<type>;base64,<data>`` string; a bad one raises."""
    text = value.strip() if isinstance(value, str) else ""
    head, sep, payload = text.partition(",")
    if not (sep and head.startswith("data:") and head.endswith(";base64")):
        raise HcpApiError(f"HikCentral sent {what} in an unexpected form: {_short(text[:60])}", BAD_RESPONSE)
    content_type = head[5:-7] or "application/octet-stream"
    try:
        raw = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        raise HcpApiError(f"HikCentral sent {what} with invalid base64", BAD_RESPONSE) from None
    if not raw:
        raise HcpApiError(f"HikCentral sent {what} empty", BAD_RESPONSE)
    return content_type, raw


def _envelope(text: str) -> dict[str, Any] | None:
    """The ``{code, msg, data}`` envelope, or None when the body is not one."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "code" in value else None


def _looks_like_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _names_key_or_signature(message: str) -> bool:
    lowered = message.lower()
    return "signature" in lowered or "appkey" in lowered


def _ssl_reason(exc: BaseException) -> str:
    cert_error = getattr(exc, "certificate_error", None)
    return str(cert_error or exc).splitlines()[0][:200]


def _short(text: str) -> str:
    return " ".join(text.split())[:200]


async def safe_close(client: HikCentralClient) -> None:
    """Close without raising (close paths must not fail)."""
    try:
        await asyncio.shield(client.close())
    except Exception as exc:  # noqa: BLE001 - closing must never raise
        log.debug("closing the HikCentral session failed: %s", exc)
