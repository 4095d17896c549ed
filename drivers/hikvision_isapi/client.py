"""The HTTP side of ISAPI: auth, timeouts, error mapping, over the host's shared session.

The aiohttp session and its connector are shared by the host's ISAPI devices of one TLS
setting (``gemhost.httpshare``: a session per device cost several KiB each at a thousand
cameras); what belongs to the device stays here: its credentials and digest state (passed
with every request), its connection limit (per endpoint), its timeouts. No cookies are kept.

Why so careful with 401: Hikvision locks an account after about five failed logins, so a
request must never cost more than one failed login. Digest therefore runs non-preemptively
(aiohttp's ``DigestAuthMiddleware(preemptive=False)``: the unauthenticated first request only
fetches the challenge, the one retry carries credentials), and after any 401 the device's
digest state is dropped so no stale challenge is replayed. Retrying a 401 is the host's job,
with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import aiohttp

from gemhost import httpshare
from gemhost.errors import AuthError, DeviceError, DeviceUnreachable, NotSupported
from gemhost.model import Secret, reveal

from . import kernel
from .kernel import Reply

MAX_BODY = 16 * 1024 * 1024
"""Largest body read into memory (a 4K snapshot is a few MB)."""

AUTH_HINT = "wrong credentials, locked account, or missing Operator role"
CONNECTIONS_PER_DEVICE = 8
"""Connections one device may have open at once (the alertStream, polls, commands)."""
HTTPS_HINT = ("HTTPS failed; if the device answers on http, check the port: HTTPS is usually 443 "
              "(some firmware uses 8443), and port 80 never speaks TLS")


class IsapiClient:
    """Requests to one device. Never logs or raises with the password in it."""

    def __init__(self, host: str, port: int, *, username: str, password: Secret | str,
                 scheme: str = "http", auth_mode: str = "digest", timeout: float = 10.0,
                 verify_tls: bool = False, log: logging.Logger | logging.LoggerAdapter | None = None) -> None:
        self.host = host
        self.port = port
        self.scheme = scheme
        self.auth_mode = auth_mode
        self.timeout = timeout
        self.verify_tls = verify_tls
        self.on_refused: Callable[[], None] = lambda: None
        """Called on every refused login, whichever request it was: the driver holds its event
        stream back until a poll proves the credentials again (two failed logins at most)."""
        self._username = username
        self._password = password if isinstance(password, Secret) else Secret(password)
        self._session: aiohttp.ClientSession | None = None
        """The leased shared session (None until the first request, and after close)."""
        self._digest = self._new_digest()
        self.log = log or logging.getLogger(__name__)
        host_part = f"[{host}]" if ":" in host else host
        self.base_url = f"{scheme}://{host_part}:{port}"

    def __repr__(self) -> str:
        return f"IsapiClient({self.base_url}, user={self._username!r}, auth={self.auth_mode})"

    # ------------------------------------------------------------ session

    def _new_digest(self) -> aiohttp.DigestAuthMiddleware | None:
        if self.auth_mode == "basic":
            return None
        return aiohttp.DigestAuthMiddleware(self._username, reveal(self._password), preemptive=False)

    def _auth(self, headers: dict[str, str] | None = None) -> dict:
        """This device's credentials for one request on the shared session: its own digest
        middleware (nonce and count per device), or its basic Authorization header (aiohttp
        3.14 deprecates auth=BasicAuth in favour of the header)."""
        if self._digest is not None:
            return {"middlewares": (self._digest,), "headers": headers}
        basic = {"Authorization": aiohttp.encode_basic_auth(self._username, reveal(self._password))}
        return {"headers": {**(headers or {}), **basic}}

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = httpshare.lease(verify_tls=self.verify_tls, per_device=CONNECTIONS_PER_DEVICE)
        return self._session

    async def reset(self) -> None:
        """Forget the device's digest challenge state (a new middleware, no nonce)."""
        self._digest = self._new_digest()

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(Exception):
                await httpshare.give_back(session)

    # ------------------------------------------------------------ requests

    async def request(self, method: str, path: str, *, data: str | bytes | None = None,
                      op: str = "", channel: int | None = None, check_status: bool = True) -> Reply:
        """One request; HTTP and ResponseStatus errors become gemhost errors (see ``error_for``),
        except with ``check_status=False`` (diagnostics record the status as it came)."""
        headers = {"Content-Type": 'application/xml; charset="UTF-8"'} if data is not None else None
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with self._session_now().request(method, self.base_url + path, data=data,
                                                   timeout=timeout, **self._auth(headers)) as resp:
                body = await resp.content.read(MAX_BODY)
                reply = Reply(resp.status, resp.headers.get("Content-Type", ""), body)
        except TimeoutError:
            raise DeviceUnreachable(
                f"{self.base_url}: no answer to {method} {path} within {self.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise self._unreachable(exc, method, path) from None
        if reply.status == 401:
            await self.reset()
            self.on_refused()
        if check_status:
            check(reply, method, path, op=op, channel=channel)
        return reply

    async def get(self, path: str, **kw) -> Reply:
        return await self.request("GET", path, **kw)

    async def put(self, path: str, data: str | bytes = b"", **kw) -> Reply:
        return await self.request("PUT", path, data=data, **kw)

    @contextlib.asynccontextmanager
    async def stream(self, path: str) -> AsyncIterator[aiohttp.ClientResponse]:
        """A long-lived GET (alertStream). Connecting, sending and receiving the response
        headers must finish within ``timeout`` (a device that accepts the connection and never
        answers would otherwise hold the stream forever); the body has no read timeout, the
        caller detects stalls from the moment of the request."""
        timeout = aiohttp.ClientTimeout(total=None, connect=self.timeout, sock_connect=self.timeout,
                                        sock_read=None)
        try:
            async with asyncio.timeout(self.timeout):
                resp = await self._session_now().get(self.base_url + path, timeout=timeout, **self._auth())
        except TimeoutError:
            raise DeviceUnreachable(f"{self.base_url}: no answer (response headers) to GET {path} within "
                                    f"{self.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise self._unreachable(exc, "GET", path) from None
        try:
            if resp.status != 200:
                try:
                    async with asyncio.timeout(self.timeout):
                        body = await resp.content.read(64 * 1024)
                except TimeoutError:
                    body = b""
                if resp.status == 401:
                    await self.reset()
                    self.on_refused()
                check(Reply(resp.status, resp.headers.get("Content-Type", ""), body), "GET", path)
            yield resp
        finally:
            resp.release()

    def _unreachable(self, exc: BaseException, method: str, path: str) -> DeviceUnreachable:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        msg = f"{self.base_url}: {method} {path} failed: {reason}"
        if self.scheme == "https" or isinstance(exc, aiohttp.ClientSSLError):
            msg += f" ({HTTPS_HINT})"
        return DeviceUnreachable(msg)


def describe_status(reply: Reply) -> str:
    """The ResponseStatus of a body as one line, or empty."""
    status = kernel.response_status(reply.body) if b"ResponseStatus" in reply.body[:4096] else None
    if not status:
        return ""
    parts = [status["status_string"] or "error"]
    detail = ", ".join(str(v) for v in (status["sub_status_code"],
                                         status["status_code"] and f"statusCode {status['status_code']}",
                                         status["error_msg"]) if v)
    if detail:
        parts.append(f"({detail})")
    return " ".join(parts)


def check(reply: Reply, method: str, path: str, *, op: str = "", channel: int | None = None) -> None:
    """Raise the gemhost error for a failed exchange; return for a success."""
    error = error_for(reply, method, path, op=op, channel=channel)
    if error is not None:
        raise error


def error_for(reply: Reply, method: str, path: str, *, op: str = "",  # noqa: C901 - a table
              channel: int | None = None) -> Exception | None:
    """The vendor troubleshooting table as error messages (issue 4, "Liveness and errors")."""
    status = reply.status
    vendor = describe_status(reply)
    where = f"{method} {path}"
    suffix = f"; device says: {vendor}" if vendor else ""
    chan = f"channel {channel}" if channel is not None else "that channel"
    if status == 401:
        return AuthError(f"HTTP 401 on {where}: {AUTH_HINT}{suffix}")
    if status == 403:
        if op.startswith("ptz"):
            return DeviceError(f"HTTP 403 on {where}: the account lacks PTZ permission on {chan}{suffix}")
        return DeviceError(f"HTTP 403 on {where}: the account lacks permission for this function{suffix}")
    if status == 404:
        if op == "snapshot":
            return DeviceError(f"HTTP 404 on {where}: {chan} is not an enabled input channel of this "
                               f"device; run get_channels to list them{suffix}")
        return NotSupported(f"HTTP 404 on {where}: the device does not offer this function{suffix}")
    if status >= 400:
        return DeviceError(f"HTTP {status} on {where}{suffix or ''}")
    if method != "GET" and vendor:
        parsed = kernel.response_status(reply.body) or {}
        code = parsed.get("status_code")
        if code not in (None, 0, 1):
            return DeviceError(f"{where} refused: {vendor}")
    return None
