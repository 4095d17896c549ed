"""The demo driver: a device whose health a test can set at will."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import Any

from gemhost.driver import Driver
from gemhost.errors import AuthError, DeviceError, DeviceUnreachable
from gemhost.model import DeviceInfo, Event, ZoneConfig

BEHAVIOUR: dict[str, str] = defaultdict(lambda: "ok")
"""device id -> ok | down | hang | auth | crash | init_crash | stubborn | traffic_bug"""
CONNECTS: dict[str, int] = defaultdict(int)
POLLS: dict[str, int] = defaultdict(int)
CLOSED: list[str] = []
EVENT_STREAMS: dict[str, int] = defaultdict(int)
"""device id -> how often the host started its event stream"""
TRAFFIC: set[str] = set()
"""device ids whose own traffic is live (``last_traffic`` says "just now")"""
TRAFFIC_ASKED: dict[str, int] = defaultdict(int)
"""device id -> how often the host asked ``last_traffic`` (once per liveness tick)"""


class DemoDriver(Driver):
    name = "demo"
    version = "1.2.3"
    schema_path = Path(__file__).with_name("demo.yaml")

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        if BEHAVIOUR[self.device.id] == "init_crash":
            raise ValueError("unsupported firmware family")

    async def connect(self) -> DeviceInfo:
        CONNECTS[self.device.id] += 1
        return await self._answer()

    async def poll(self) -> DeviceInfo:
        POLLS[self.device.id] += 1
        return await self._answer()

    async def _answer(self) -> DeviceInfo:
        mode = BEHAVIOUR[self.device.id]
        if mode == "down":
            raise DeviceUnreachable(f"connection refused by {self.settings.host}")
        if mode == "hang":
            await asyncio.sleep(3600)
        if mode == "auth":
            raise AuthError("401 Unauthorized: wrong credentials")
        if mode == "crash":
            raise RuntimeError("driver bug")
        if mode == "stubborn":  # swallows every cancellation, as a badly written driver might
            while True:
                try:
                    await asyncio.sleep(0.05)
                except asyncio.CancelledError:
                    if BEHAVIOUR[self.device.id] != "stubborn":
                        raise  # the test released it: die as a task should
        return DeviceInfo(model="Demo-1", firmware="V1.0", serial=f"SN-{self.device.id}")

    def last_traffic(self) -> float | None:
        TRAFFIC_ASKED[self.device.id] += 1
        if BEHAVIOUR[self.device.id] == "traffic_bug":
            raise KeyError("driver bug in last_traffic")
        return asyncio.get_running_loop().time() if self.device.id in TRAFFIC else None

    async def run_events(self) -> None:
        EVENT_STREAMS[self.device.id] += 1  # no stream to read: returning ends it

    async def close(self) -> None:
        CLOSED.append(self.device.id)

    async def cmd_echo(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        return {"args": args}

    async def cmd_sleep(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        await asyncio.sleep(args["ms"] / 1000)
        return {"slept": args["ms"]}

    async def cmd_fail(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        raise DeviceError(f"device says no: {args['reason']}")

    async def cmd_fire(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        event = Event(type=args["type"], vendor_type=args["type"].upper(), state=args["state"],
                      zone=zone.id if zone else None, channel=args["channel"])
        await self.ctx.emit_event(event)
        return {"zone": event.zone}

    async def cmd_mark(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        assert zone is not None
        self.ctx.set_zone_state(zone.id, note=args["note"])
        return {"zone": zone.id}

    async def cmd_add(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        ids = await self.ctx.add_zones([{"id": args["id"], "name": args["id"].title(),
                                         "attributes": {"channel": args["channel"]}}])
        return {"added": ids}

    async def cmd_login(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        await asyncio.sleep(0.05)
        raise AuthError("401 Unauthorized: password changed on the device")

    async def cmd_status(self, args: dict[str, Any], zone: ZoneConfig | None) -> dict[str, Any]:
        return {"behaviour": BEHAVIOUR[self.device.id]}
