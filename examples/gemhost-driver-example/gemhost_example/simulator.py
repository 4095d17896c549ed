"""BoxSimulator: the I/O box on loopback, speaking the API of README.md.

Like the real box it checks the API key on every request, holds an event poll open until an
event arrives or ``wait`` seconds pass, and numbers events so a client resumes with ``after``.
Tests and demos press the button or open inputs through the methods below or ``POST /_sim/...``.

The plumbing is gemhost's :class:`~gemhost.simulator.SimulatorBase`, as in the built-in
simulators: the loopback-only guard, the listener and its bound port, background tasks,
``stop``, ``GET /_sim/state`` (:meth:`BoxSimulator.state`) and ``POST /_sim/fault`` with the
core's fault names (the ones in ``faults``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import secrets
from typing import Any, ClassVar

from aiohttp import web

from gemhost.simulator import SimulatorBase

KEEP_EVENTS = 1000


class BoxSimulator(SimulatorBase):
    """One simulated box: four outputs, inputs 1 to 16, a doorbell button."""

    driver: ClassVar[str] = "example"
    faults: ClassVar[tuple[str, ...]] = ("error500", "slow", "no_answer")

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, api_key: str = "sim-api-key",
                 model: str = "EX-1", press_every: float = 0.0, slow_delay: float = 5.0, **_: Any) -> None:
        super().__init__(host, port, slow_delay=slow_delay)
        self.api_key = api_key
        self.model = model
        self.press_every = float(press_every)
        self.outputs = {n: "off" for n in range(1, 5)}
        self.events: list[dict[str, Any]] = []
        self.refused = 0
        self._seq = 0
        self._new = asyncio.Condition()

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--api-key", default="sim-api-key", help="the API key the box accepts")
        parser.add_argument("--press-every", type=float, default=0.0,
                            help="seconds between scripted doorbell presses (0: none)")

    @classmethod
    def options_from_args(cls, args: argparse.Namespace) -> dict[str, Any]:
        return {"api_key": args.api_key, "press_every": args.press_every}

    async def start(self) -> None:
        app = web.Application(middlewares=[self._check_key])
        app.router.add_get("/api/info", self._info)
        app.router.add_get("/api/events", self._events)
        app.router.add_put("/api/outputs/{n}", self._set_output)
        app.router.add_post("/_sim/press", self._sim_press)
        app.router.add_post("/_sim/input/{n}/{state}", self._sim_input)
        self.port = await self.listen(app, self.port, shutdown_timeout=0.5)
        if self.press_every > 0:
            self.spawn(self._press_loop())

    def state(self) -> dict[str, Any]:
        """``GET /_sim/state``: the fault, the outputs, how many events and refused keys."""
        return {**super().state(), "outputs": dict(self.outputs), "events": self._seq, "refused": self.refused}

    # ------------------------------------------------------------ control API

    def press(self) -> dict[str, Any]:
        """Someone pressed the doorbell button."""
        return self._record({"type": "doorbell"})

    def set_input(self, number: int, active: bool) -> dict[str, Any]:
        """An input opened (active) or closed (inactive)."""
        return self._record({"type": "input", "input": number, "state": "active" if active else "inactive"})

    # ------------------------------------------------------------ the box's API

    @web.middleware
    async def _check_key(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        if not secrets.compare_digest(request.headers.get("X-Api-Key", ""), self.api_key):
            self.refused += 1
            return web.json_response({"error": "invalid api key"}, status=401)
        fault, seconds = self.take_fault()
        if fault == "error500":
            return web.json_response({"error": "internal error"}, status=500)
        await self.apply_timing_fault(fault, seconds)
        return await handler(request)

    async def _info(self, request: web.Request) -> web.Response:
        return web.json_response({"model": self.model, "firmware": "1.4.2", "serial": "EX1-000042"})

    async def _events(self, request: web.Request) -> web.Response:
        try:
            after = int(request.query.get("after", "0"))
            wait = min(120.0, max(0.0, float(request.query.get("wait", "0"))))
        except ValueError:
            return web.json_response({"error": "after and wait are numbers"}, status=400)
        async with self._new:
            try:
                await asyncio.wait_for(self._new.wait_for(lambda: self._seq > after), wait)
            except TimeoutError:
                pass
        return web.json_response({"events": [e for e in self.events if e["seq"] > after]})

    async def _set_output(self, request: web.Request) -> web.Response:
        number = int(request.match_info["n"]) if request.match_info["n"].isdigit() else 0
        if number not in self.outputs:
            return web.json_response({"error": f"no output {request.match_info['n']}"}, status=404)
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("state") not in ("on", "off"):
            return web.json_response({"error": 'body must be {"state": "on"|"off"}'}, status=400)
        self.outputs[number] = body["state"]
        return web.json_response({"output": number, "state": self.outputs[number]})

    async def _sim_press(self, request: web.Request) -> web.Response:
        return web.json_response(self.press())

    async def _sim_input(self, request: web.Request) -> web.Response:
        number, state = request.match_info["n"], request.match_info["state"]
        if not number.isdigit() or state not in ("active", "inactive"):
            return web.json_response({"error": "POST /_sim/input/<n>/active|inactive"}, status=400)
        return web.json_response(self.set_input(int(number), state == "active"))

    # ------------------------------------------------------------ internals

    def _record(self, event: dict[str, Any]) -> dict[str, Any]:
        self._seq += 1
        event = {"seq": self._seq, **event, "time": dt.datetime.now().astimezone().isoformat(timespec="seconds")}
        self.events = [*self.events[-(KEEP_EVENTS - 1):], event]
        self.spawn(self._notify())
        return event

    async def _notify(self) -> None:
        async with self._new:
            self._new.notify_all()

    async def _press_loop(self) -> None:
        while True:
            await asyncio.sleep(self.press_every)
            self.press()
