"""ExampleDriver: the box's liveness, event poll and commands, using gemhost's shared pieces
(typed settings, Backoff, event kinds, the outputs capability command with its timed pulses).

What it does not do, because the host does it: time liveness polls (``status_interval``),
park the device after refused logins, decide when an input's condition starts and ends (the
schema's ``events:`` kinds), validate arguments, or start the event loop when ``events`` is
off. Every attribute comes typed from ``self.settings`` with the schema's defaults.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

from gemhost import outputs
from gemhost.backoff import Backoff
from gemhost.driver import DeviceContext, Driver
from gemhost.errors import AuthError, DeviceError
from gemhost.model import DeviceInfo, Event, ZoneConfig
from gemhost.timedstops import TimedStops

from .client import BoxClient


class ExampleDriver(Driver):
    """One I/O box; zones are its inputs by number."""

    name: ClassVar[str] = "example"
    version: ClassVar[str] = "1.0.0"
    schema_path = Path(__file__).with_name("example.yaml")

    def __init__(self, ctx: DeviceContext) -> None:
        super().__init__(ctx)
        s = self.settings
        self.client = BoxClient(s.host, s.port, s.api_key, s.timeout)
        self._after = 0  # the last event sequence number seen
        self._key_ok = asyncio.Event()  # set by a good connect; the event poll waits for it
        self._pulses = TimedStops(self.log)  # the pending off of each pulsing output

    async def connect(self) -> DeviceInfo:
        try:
            info = await self.client.request("GET", "/api/info")
        except AuthError:
            self._key_ok.clear()
            raise
        self._key_ok.set()
        return DeviceInfo(manufacturer="Example", model=info.get("model"), firmware=info.get("firmware"),
                          serial=info.get("serial"))

    async def run_events(self) -> None:
        """Long-poll ``/api/events`` for ever, with back-off after failures."""
        backoff = Backoff(initial=1.0, maximum=60.0, jitter=0.5)
        while True:
            await self._key_ok.wait()  # after a refused key, the host's next good connect
            try:
                await self._poll_events()
                backoff.reset()
            except asyncio.CancelledError:
                raise
            except AuthError as exc:  # the host's liveness loop owns retries of a refused key
                self.log.warning("event poll refused: %s", exc)
                self._key_ok.clear()
            except Exception as exc:
                self.log.warning("event poll failed: %s", exc)
                self.ctx.end_open_events("offline")  # an end sent meanwhile may be lost
                await asyncio.sleep(backoff.next())

    async def _poll_events(self) -> None:
        wait = self.settings.long_poll
        reply = await self.client.request("GET", f"/api/events?after={self._after}&wait={wait}", wait=wait)
        zones = {z.attributes["input"]: z.id for z in self.device.zones.values()}
        for item in reply.get("events", []):
            self._after = max(self._after, int(item["seq"]))
            is_input = item["type"] == "input"
            self.ctx.emit_event(Event(
                type=item["type"], vendor_type=item["type"], state=item["state"] if is_input else "pulse",
                zone=zones.get(item.get("input")), channel=item.get("input"), id=str(item["seq"]),
                data={"box_time": item.get("time")}))

    async def close(self) -> None:
        await self._pulses.close()  # a closed driver sends no pulse's off
        await self.client.close()

    async def cmd_get_info(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        return await self.client.request("GET", "/api/info")

    async def cmd_set_output(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        """The core's outputs command: gemhost.outputs checks the arguments, runs a pulse's
        later off through the timed stops and builds the reply; the box only switches."""
        return await outputs.set_output(args, self._switch, self._pulses, f"output-{args['output']}")

    async def _switch(self, output: int, on: bool) -> None:
        wanted = "on" if on else "off"
        reply = await self.client.request("PUT", f"/api/outputs/{output}", json={"state": wanted})
        if reply.get("state") != wanted:
            raise DeviceError(f"output {output} is {reply.get('state')!r} after switching it {wanted}")
