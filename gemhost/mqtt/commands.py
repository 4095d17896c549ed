"""Command request/reply over MQTT: parsing requests, running them, shaping replies.

The contract promises exactly one reply per request, malformed and hostile ones included, so
every path through :class:`CommandRunner` ends in :func:`reply_payload`, and nothing a payload
contains (nesting, NaN, a result that cannot be encoded) can skip it. The host does the real
work (validation, per-device limits, timeouts, tokens); this module only translates.

A flood is met with back-pressure, not by dropping: :meth:`CommandRunner.submit` waits for one
of a fixed number of slots before it returns, and the bridge acknowledges a request to the
broker only after that, so an excess stays queued in the broker (whose limits then apply)
instead of in gemhost's memory. One device cannot use up the slots: beyond a per-target bound
its requests are answered ``busy`` at once, and those answers are quick.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gemhost.capabilities import ACTION_COMMAND
from gemhost.contain import cancel_and_wait
from gemhost.errors import BAD_REQUEST, BUSY, INTERNAL_ERROR, INVALID_ARGS, TIMEOUT, CommandError

if TYPE_CHECKING:
    from gemhost.mqtt.hostview import HostView

log = logging.getLogger("gemhost.mqtt.commands")

MAX_DEPTH = 32
"""Deepest JSON nesting a request may have: real requests need three or four levels."""
MAX_IN_FLIGHT = 256
"""Requests handled at once; the next one waits (and stays in the broker) until one ends."""
MAX_PER_TARGET = 32
"""Requests for one device (or the host) at once; beyond this they are answered ``busy``."""
STOP_REPLY_TIMEOUT = 1.0


@dataclass
class Request:
    id: Any
    args: dict[str, Any] | None
    token: str | None


class _NonFinite(ValueError):
    """NaN or an infinity in a request: valid for Python's json, not for strict JSON parsers."""


def _refuse_constant(name: str) -> Any:
    raise _NonFinite(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(text)
    return value


def _too_deep(data: Any, limit: int) -> bool:
    """True when ``data`` nests containers deeper than ``limit`` (iterative: no recursion)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return False


def _read_id(data: Any) -> Any:
    if isinstance(data, dict):
        value = data.get("id")
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return value
    return None


def _decode(payload: bytes) -> tuple[Any, CommandError | None]:
    try:
        data = json.loads(payload, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _NonFinite:
        return None, CommandError(BAD_REQUEST, "NaN and infinite numbers are not allowed (replies are strict JSON)")
    except RecursionError:
        return None, CommandError(BAD_REQUEST, f"payload is nested deeper than {MAX_DEPTH} levels")
    except (UnicodeDecodeError, ValueError):
        return None, CommandError(BAD_REQUEST, "payload is not valid JSON")
    if _too_deep(data, MAX_DEPTH):
        return None, CommandError(BAD_REQUEST, f"payload is nested deeper than {MAX_DEPTH} levels")
    return data, None


def parse_request(payload: bytes, max_payload: int) -> tuple[Request | None, Any, CommandError | None]:
    """(request, id, error): exactly one of request and error is set; ``id`` is whatever
    could be read so even a rejected request's reply can be matched by the caller."""
    if len(payload) > max_payload:
        return None, None, CommandError(BAD_REQUEST, f"payload of {len(payload)} bytes exceeds {max_payload}")
    if not payload.strip():
        return Request(None, None, None), None, None
    data, error = _decode(payload)
    if error is not None:
        return None, None, error
    req_id = _read_id(data)
    if not isinstance(data, dict):
        return None, None, CommandError(BAD_REQUEST, "payload must be a JSON object")
    unknown = set(data) - {"id", "args", "token"}
    if unknown:
        allowed = "allowed: id, args, token"
        return None, req_id, CommandError(BAD_REQUEST, f"unknown keys {sorted(unknown)} ({allowed})")
    if "id" in data and data["id"] is not None and req_id is None:
        return None, None, CommandError(BAD_REQUEST, "id must be a string or a number")
    args = data.get("args")
    if args is not None and not isinstance(args, dict):
        return None, req_id, CommandError(BAD_REQUEST, "args must be a JSON object")
    token = data.get("token")
    if token is not None and not isinstance(token, str):
        return None, req_id, CommandError(BAD_REQUEST, "token must be a string")
    return Request(req_id, args, token), req_id, None


def request_id(payload: bytes, max_payload: int) -> Any:
    """The id of a request that is refused before it is read for anything else."""
    return parse_request(payload, max_payload)[1]


def reply_payload(req_id: Any, result: Any = None, error: CommandError | None = None) -> bytes:
    """The reply, always strict JSON: a result that cannot be encoded as such (NaN from a
    driver, a cycle) becomes an ``internal_error`` reply instead of no reply."""
    if error is not None:
        body: dict[str, Any] = {"id": req_id, "ok": False, "error": error.as_dict()}
    else:
        body = {"id": req_id, "ok": True, "result": result}
    try:
        return json.dumps(body, default=str, separators=(",", ":"), allow_nan=False).encode()
    except (ValueError, TypeError, RecursionError):
        log.error("a command result could not be encoded as JSON; answering internal_error")
        failed = CommandError(INTERNAL_ERROR, "the result could not be encoded as strict JSON")
        return json.dumps({"id": req_id, "ok": False, "error": failed.as_dict()}, separators=(",", ":")).encode()


Sender = Callable[[bytes], Awaitable[None]]
Router = Callable[[str, dict[str, Any] | None], tuple[str, dict[str, Any]]]
"""(device, args of an ``action`` request) -> the driver command and args it stands for."""


class CommandRunner:
    """Runs requests as independent tasks (a slow device never holds up another's reply),
    with bounds on how many run at once overall and per target."""

    def __init__(self, host: HostView, *, max_in_flight: int = MAX_IN_FLIGHT, max_per_target: int = MAX_PER_TARGET,
                 max_payload: int = 65536, router: Router | None = None) -> None:
        self.host = host
        self.max_in_flight = max_in_flight
        self.max_per_target = max_per_target
        self.max_payload = max_payload
        self.router = router
        self._slots = asyncio.Semaphore(max_in_flight)
        self._per_target: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def submit(self, target: str, command: str, payload: bytes, send: Sender,
                     refusal: CommandError | None = None) -> None:
        """Start handling one request once a slot is free (back-pressure); ``refusal``
        answers it with that error without running it."""
        await self._slots.acquire()
        if refusal is not None:
            coro = self._refuse(payload, refusal, send)
        else:
            coro = self.handle(target, command, payload, send)
        task = asyncio.create_task(coro, name=f"command:{target}/{command}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def _refuse(self, payload: bytes, error: CommandError, send: Sender) -> None:
        await self._send(send, reply_payload(request_id(payload, self.max_payload), error=error))

    async def handle(self, target: str, command: str, payload: bytes, send: Sender) -> None:
        request, req_id, error = parse_request(payload, self.max_payload)
        result: Any = None
        if request is not None and self._per_target[target] >= self.max_per_target:
            error = CommandError(BUSY, f"more than {self.max_per_target} requests for {target} in flight; "
                                 "retry later")
        elif request is not None:
            self._per_target[target] += 1
            try:
                result = await self._run(target, command, request)
            except CommandError as exc:
                error = exc
            except TimeoutError:
                error = CommandError(TIMEOUT, f"{command} timed out")
            except asyncio.CancelledError:
                await self._reply_on_stop(send, req_id)
                raise
            except Exception as exc:  # the reply must go out whatever happened
                log.exception("command %s/%s failed unexpectedly", target, command)
                error = CommandError(INTERNAL_ERROR, f"internal error: {type(exc).__name__}")
            finally:
                self._per_target[target] -= 1
                if self._per_target[target] <= 0:
                    del self._per_target[target]
        await self._send(send, reply_payload(req_id, result, error))

    async def _reply_on_stop(self, send: Sender, req_id: Any) -> None:
        """A request cut off by shutdown still gets its one reply, if the broker is there."""
        error = CommandError(BUSY, "gemhost is stopping; retry later")
        try:
            async with asyncio.timeout(STOP_REPLY_TIMEOUT):
                await self._send(send, reply_payload(req_id, error=error))
        except (TimeoutError, asyncio.CancelledError):
            pass

    async def _run(self, target: str, command: str, request: Request) -> Any:
        if target == "host":
            return await self.host.host_command(command, request.args or {}, token=request.token)
        args = request.args
        if command == ACTION_COMMAND and self.router is not None:
            command, args = self._route(target, request)
        return await self.host.call(target, command, args, token=request.token)

    def _route(self, target: str, request: Request) -> tuple[str, Any]:
        """An ``action`` -> the driver command it stands for. With tokens, the token must cover
        the device, or the zone the action names, before anything is looked up; a refusal or a
        routing error then says nothing the token does not cover. The routed command itself is
        authorized by :meth:`Host.call` like any other."""
        grant = None
        if self.host.site.access.require_token:
            grant = self.host.tokens.grant(request.token, target, None)
            zone = (request.args or {}).get("zone")
            if not grant.whole_device and not (isinstance(zone, str) and grant.covers_zone(zone)):
                raise grant.refusal()
        if target not in self.host.runners:
            if grant is not None:
                raise grant.refusal()
            return ACTION_COMMAND, request.args  # the host answers unknown_device
        try:
            return self.router(target, request.args)
        except ValueError as exc:
            if grant is not None and not grant.whole_device:
                raise grant.refusal() from None
            raise CommandError(INVALID_ARGS, str(exc)) from None

    @staticmethod
    async def _send(send: Sender, payload: bytes) -> None:
        try:
            await send(payload)
        except Exception as exc:  # broker gone: the requester times out, as MQTT clients expect
            log.warning("could not send command reply: %s", exc)

    async def cancel_all(self, timeout: float = 5.0) -> None:
        """Cancel every request (each still answers ``busy`` if it can), bounded in time."""
        abandoned = await cancel_and_wait(list(self._tasks), timeout)
        if abandoned:
            log.warning("%d command tasks ignored cancellation; abandoned", len(abandoned))
