"""Command request/reply over MQTT: parsing requests, running them, shaping replies.

The contract promises exactly one reply per request, malformed ones included, so every path
through :meth:`CommandRunner.handle` ends in :func:`reply_payload`. The host does the real
work (validation, per-device limits, timeouts, tokens); this module only translates.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gemhost.capabilities import ACTION_COMMAND
from gemhost.errors import BAD_REQUEST, BUSY, INTERNAL_ERROR, INVALID_ARGS, TIMEOUT, CommandError

log = logging.getLogger("gemhost.mqtt.commands")

"""Reply code when more requests are in flight than the bridge allows (host overload)."""

HOST_COMMANDS = ("list_devices", "describe", "reload")


@dataclass
class Request:
    id: Any
    args: dict[str, Any] | None
    token: str | None


def _read_id(data: Any) -> Any:
    if isinstance(data, dict):
        value = data.get("id")
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return value
    return None


def parse_request(payload: bytes, max_payload: int) -> tuple[Request | None, Any, CommandError | None]:
    """(request, id, error): exactly one of request and error is set; ``id`` is whatever
    could be read so even a rejected request's reply can be matched by the caller."""
    if len(payload) > max_payload:
        return None, None, CommandError(BAD_REQUEST, f"payload of {len(payload)} bytes exceeds {max_payload}")
    if not payload.strip():
        return Request(None, None, None), None, None
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        return None, None, CommandError(BAD_REQUEST, "payload is not valid JSON")
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


def reply_payload(req_id: Any, result: Any = None, error: CommandError | None = None) -> bytes:
    if error is not None:
        body: dict[str, Any] = {"id": req_id, "ok": False, "error": error.as_dict()}
    else:
        body = {"id": req_id, "ok": True, "result": result}
    return json.dumps(body, default=str, separators=(",", ":")).encode()


Sender = Callable[[bytes], Awaitable[None]]
Router = Callable[[str, dict[str, Any] | None], tuple[str, dict[str, Any]]]
"""(device, args of an ``action`` request) -> the driver command and args it stands for."""


class CommandRunner:
    """Runs requests as independent tasks (a slow device never holds up another's reply),
    with a bound on how many are in flight so a flood cannot exhaust memory."""

    def __init__(self, host: Any, *, max_in_flight: int = 256, max_payload: int = 65536,
                 on_result: Callable[[str, str, dict[str, Any] | None, Any], None] | None = None,
                 router: Router | None = None) -> None:
        self.host = host
        self.max_in_flight = max_in_flight
        self.max_payload = max_payload
        self.on_result = on_result
        self.router = router
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def submit(self, target: str, command: str, payload: bytes, send: Sender,
               refusal: CommandError | None = None) -> None:
        """Start handling one request; returns at once. ``refusal`` answers it with that
        error without running it."""
        if refusal is not None:
            _, req_id, _ = parse_request(payload, self.max_payload)
            task = asyncio.create_task(self._send(send, reply_payload(req_id, error=refusal)))
        elif len(self._tasks) >= self.max_in_flight:
            _, req_id, _ = parse_request(payload, self.max_payload)
            err = CommandError(BUSY, f"more than {self.max_in_flight} commands in flight; retry later")
            task = asyncio.create_task(self._send(send, reply_payload(req_id, error=err)))
        else:
            task = asyncio.create_task(self.handle(target, command, payload, send))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def handle(self, target: str, command: str, payload: bytes, send: Sender) -> None:
        request, req_id, error = parse_request(payload, self.max_payload)
        result: Any = None
        if request is not None:
            try:
                result = await self._run(target, command, request)
            except CommandError as exc:
                error = exc
            except TimeoutError:
                error = CommandError(TIMEOUT, f"{command} timed out")
            except Exception as exc:  # the reply must go out whatever happened
                log.exception("command %s/%s failed unexpectedly", target, command)
                error = CommandError(INTERNAL_ERROR, f"internal error: {type(exc).__name__}")
        if error is None and self.on_result is not None:
            try:
                self.on_result(target, command, request.args if request else None, result)
            except Exception:
                log.exception("command result hook failed")
        await self._send(send, reply_payload(req_id, result, error))

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

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
