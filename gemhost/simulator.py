"""Vendor simulators: their contract, the base they share, and the one fault vocabulary.

Simulators are aiohttp servers on loopback that behave like the vendor's API. They are
shipped with their driver (``drivers/<vendor>/simulator/``) and registered through the
``register_simulators`` hook, so ``gemhost simulate <driver>`` and the ``simulators:`` block of
a site file work for third-party drivers too.

:class:`SimulatorBase` owns what is the same for every vendor, so a simulator keeps only its
vendor's behaviour: the loopback-only guard, listeners bound on a socket it opens itself (the
bound port is the socket's, read the public way), HTTPS with a throw-away self-signed
certificate (:mod:`gemhost.selfsigned`), background tasks, ``stop``, the ``/_sim/state`` and
``/_sim/fault`` control routes, and the faults of :data:`FAULTS`.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import socket
from collections import deque
from collections.abc import Coroutine
from typing import Any, ClassVar, Protocol

from aiohttp import web

from gemhost.selfsigned import SelfSignedTLS

FAULTS: dict[str, str] = {
    "none": "clear the fault (and any queued ones)",
    "error500": "API requests answer HTTP 500, with the body the vendor sends with it",
    "no_answer": "API requests are accepted and never answered, until the fault is cleared or the simulator stops",
    "slow": "API answers are delayed by `seconds` (the simulator's `slow_delay` when not given)",
    "bad_json": "API requests answer HTTP 200 with a truncated JSON body",
    "auth_fail": "the credentials in use are refused the vendor's way (HPP: every token revoked, LAP500005)",
    "permission": "API calls are refused for missing permission (HikCentral 0x02401007)",
    "permission_17": "API calls are refused with HikCentral's older code 17 (no OpenAPI permission)",
    "api_disabled": "the API is switched off: 404 with an HTML page (HikCentral with OpenAPI disabled)",
    "rate_limit": "API calls are refused as over the call limit (HPP LAP500007)",
    "drop_stream": "the open event streams are closed now (the fault clears itself)",
    "stall": "event streams stay open and go silent (no events, no heartbeats)",
    "no_stream": "the event stream path answers 404",
    "stream_no_answer": "the event stream request is accepted and never answered; every other path works",
}
"""The one fault vocabulary: every simulator names a fault with these words, and supports the
subset in its ``faults``. Documented here and nowhere else."""

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_loopback(host: str, what: str = "the simulator") -> None:
    """Refuse anything but loopback: simulators and tests never touch another address."""
    if not is_loopback(host):
        raise ValueError(f"{what} only listens on loopback addresses (127.0.0.0/8, ::1), not {host!r}")


class Simulator(Protocol):
    """A running fake of one vendor endpoint."""

    driver: ClassVar[str]

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None: ...

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add the simulator's options to ``gemhost simulate <driver>``."""

    @classmethod
    def options_from_args(cls, args: argparse.Namespace) -> dict[str, Any]:
        """Turn parsed CLI options into constructor keyword arguments."""

    async def start(self) -> None:
        """Bind (port 0 picks a free one) and serve; return once listening."""

    async def stop(self) -> None:
        """Stop serving and release everything."""

    @property
    def url(self) -> str:
        """Base URL clients use, e.g. ``http://127.0.0.1:18080``."""


class SimulatorBase:
    """What every simulator shares; subclasses add routes, state and vendor answers.

    A fault is either *standing* (``set_fault``: every API request until cleared) or *queued*
    (``queue_fault``: the next ``count`` API requests, in order, before the standing one).
    The vendor's middleware asks :meth:`take_fault` once per API request, lets
    :meth:`apply_timing_fault` handle ``slow`` and ``no_answer`` and answers the rest the
    vendor's way.
    """

    driver: ClassVar[str]
    faults: ClassVar[tuple[str, ...]] = ()
    """The names of :data:`FAULTS` this simulator supports ("none" always)."""
    fault_count_default: ClassVar[int | None] = None
    """``count`` of a ``/_sim/fault`` request that names none (None: a standing fault)."""
    tls_name: ClassVar[str] = "gemhost simulator"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, https: bool = False,
                 slow_delay: float = 0.0) -> None:
        require_loopback(host)
        self.host, self.port, self.https = host, port, https
        self.slow_delay = slow_delay
        self.fault = "none"
        self.fault_seconds: float | None = None
        self._queued: deque[list[Any]] = deque()
        self._released = asyncio.Event()
        self._runners: list[web.AppRunner] = []
        self._tls: SelfSignedTLS | None = None
        self._tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------ serving

    @property
    def url(self) -> str:
        return f"{'https' if self.https else 'http'}://{self.host}:{self.port}"

    @property
    def cert_file(self) -> str | None:
        """The self-signed certificate (PEM) while serving HTTPS, usable as a client's CA file."""
        return str(self._tls.cert_file) if self._tls else None

    async def listen(self, app: web.Application, port: int, *, tls: bool = False, **runner_options: Any) -> int:
        """Serve ``app`` on ``self.host``:``port`` (0: a free one); returns the bound port.

        The socket is opened here, so its port is read from the socket itself rather than from
        aiohttp's internals. ``tls`` serves HTTPS with the simulator's self-signed certificate.
        """
        self.add_control_routes(app)
        runner = web.AppRunner(app, handle_signals=False, **runner_options)
        await runner.setup()
        family = socket.getaddrinfo(self.host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((self.host, port), family=family)
        if tls and self._tls is None:
            self._tls = SelfSignedTLS(self.host, self.tls_name)
        site = web.SockSite(runner, sock, ssl_context=self._tls.context if tls and self._tls else None)
        try:
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runners.append(runner)
        return int(sock.getsockname()[1])

    def add_control_routes(self, app: web.Application) -> None:
        app.router.add_get("/_sim/state", self._sim_state)
        app.router.add_post("/_sim/fault", self._sim_fault)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run a background task that ``stop`` cancels."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def stop(self) -> None:
        self._released.set()
        for task in list(self._tasks):
            task.cancel()
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        if self._tls is not None:
            self._tls.cleanup()
            self._tls = None

    def state(self) -> dict[str, Any]:
        """What ``/_sim/state`` answers; subclasses add their vendor state."""
        return {"fault": self.fault}

    # ------------------------------------------------------------ faults

    def _check_fault(self, kind: str) -> None:
        if kind != "none" and kind not in self.faults:
            raise ValueError(f"fault must be one of {', '.join(('none', *self.faults))}")

    def set_fault(self, kind: str | None, seconds: float | None = None) -> None:
        """A standing fault of :data:`FAULTS` (None or "none" clears it and the queue)."""
        kind = kind or "none"
        self._check_fault(kind)
        self.fault, self.fault_seconds = kind, seconds
        if kind == "none":
            self._queued.clear()
        if kind not in ("no_answer", "stream_no_answer"):
            self._release()

    def queue_fault(self, kind: str, count: int = 1, seconds: float | None = None) -> None:
        """A fault for the next ``count`` API requests, after those queued before it."""
        self._check_fault(kind)
        self._queued.append([kind, max(1, int(count)), seconds])

    def take_fault(self) -> tuple[str, float | None]:
        """(fault, seconds) for one API request: the first queued one (counted down), else the standing one."""
        if self._queued:
            entry = self._queued[0]
            entry[1] -= 1
            if entry[1] <= 0:
                self._queued.popleft()
            return entry[0], entry[2]
        return self.fault, self.fault_seconds

    async def apply_timing_fault(self, kind: str, seconds: float | None) -> None:
        """``slow`` waits, ``no_answer`` never answers (until cleared or stopped)."""
        if kind == "slow":
            delay = self.slow_delay if seconds is None else seconds
            if delay:
                await asyncio.sleep(delay)
        elif kind == "no_answer":
            await self.wait_released()

    async def wait_released(self) -> None:
        """Hang like a device that accepted a request and went quiet, until the fault is
        cleared or the simulator stops; then the request ends with 503."""
        await self._released.wait()
        raise web.HTTPServiceUnavailable()

    def _release(self) -> None:
        self._released.set()
        self._released = asyncio.Event()

    # ------------------------------------------------------------ /_sim/ control routes

    async def _sim_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def _sim_fault(self, request: web.Request) -> web.Response:
        """``{"kind": ..., "seconds": ..., "count": ...}``: with a count, queued; else standing."""
        try:
            body = await request.json()
            kind = body.get("kind") or "none"
            seconds = None if body.get("seconds") is None else float(body["seconds"])
            count = body.get("count", self.fault_count_default)
            if count is None or kind == "none":
                self.set_fault(kind, seconds)
            else:
                self.queue_fault(kind, int(count), seconds)
        except (ValueError, TypeError, AttributeError) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        return web.json_response({"ok": True, "fault": kind})
