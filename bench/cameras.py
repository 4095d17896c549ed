"""The benchmark's cameras: real ``IsapiSimulator`` instances, and the load they send.

Each simulator is the project's ISAPI simulator unchanged (its own aiohttp server on its own
loopback port, digest auth, Event/triggers, the firmware-shaped HTTP/1.0 alertStream). The
benchmark only adds accounts, one per consumer, and notes when each account's alertStream
opened, so the connect time of each consumer is read on the camera side, the same way for all.

The load: each camera's alarm input 1 (``IO``, ``inputIOPortID`` 1) goes active, then
inactive, then active..., one alert per period. Every alert is a change of state for every
consumer (pyhik calls its callback on each change; gemhost's core publishes the start and
the end of each IO condition, kind ``stateful``), so each alert is delivered exactly once by
each, and nothing accumulates. ``eventDescription`` carries ``bench <time.time()>`` taken
just before the part is queued on the camera's streams: every consumer passes it on, and the
receiver's clock minus it is the end-to-end latency (one machine, one clock).
"""

from __future__ import annotations

import asyncio
import random
import time

from gemhost_drivers.hikvision_isapi.simulator import USER_KEY, IsapiSimulator

PASSWORD = "bench-Pass-1"
DESCRIPTION = "<eventDescription>IO alarm</eventDescription>"


class BenchCamera(IsapiSimulator):
    """An IsapiSimulator that remembers when each account last opened its alertStream."""

    def __init__(self, users: list[str], **options) -> None:
        super().__init__(kind="camera", username=users[0], password=PASSWORD, **options)
        for user in users[1:]:
            self.add_user(user, PASSWORD)
        self.stream_opened: dict[str, float] = {}

    async def _alert_stream(self, request):
        user = request.get(USER_KEY)
        if user is not None:
            self.stream_opened[user.name] = time.time()
        return await super()._alert_stream(request)


async def start_cameras(count: int, users: list[str], **options) -> list[BenchCamera]:
    cams: list[BenchCamera] = []
    for _ in range(count):
        cam = BenchCamera(users, **options)
        await cam.start()
        cams.append(cam)
    return cams


def all_streams_open(cams: list[BenchCamera], user: str, since: float = 0.0) -> bool:
    """Every camera saw ``user`` open its alertStream at ``since`` or later."""
    return all(cam.stream_opened.get(user, -1.0) >= since for cam in cams)


def last_stream_opened(cams: list[BenchCamera], user: str) -> float:
    return max(cam.stream_opened[user] for cam in cams)


class Emitter:
    """Alerts on every camera at ``rate`` per second each, random phase, alternating states."""

    def __init__(self, cams: list[BenchCamera], rate: float) -> None:
        self.cams = cams
        self.rate = rate
        self.sent = 0
        self._active = dict.fromkeys(range(len(cams)), False)

    def one(self, index: int) -> None:
        cam = self.cams[index]
        state = "inactive" if self._active[index] else "active"
        self._active[index] = not self._active[index]
        body = cam.alert_xml(1, "IO", state, inputIOPortID="1")
        body = body.replace(DESCRIPTION, f"<eventDescription>bench {time.time():.6f}</eventDescription>")
        cam.push_part(body.encode(), "application/xml")
        self.sent += 1

    async def _camera(self, index: int, until: float) -> None:
        period = 1.0 / self.rate
        loop = asyncio.get_running_loop()
        nxt = loop.time() + random.uniform(0, period)
        while nxt < until:
            await asyncio.sleep(max(0.0, nxt - loop.time()))
            self.one(index)
            nxt += period

    async def run(self, seconds: float) -> None:
        until = asyncio.get_running_loop().time() + seconds
        await asyncio.gather(*(self._camera(i, until) for i in range(len(self.cams))))


class LoopLag:
    """How late this process's event loop runs a timer due every ``every`` seconds, kept with
    the wall-clock time: the cameras' own stalls (their loop is where each alert is stamped
    and written), which the latency figures would otherwise blame on the consumer."""

    def __init__(self, every: float = 0.005) -> None:
        self.every = every
        self.samples: list[tuple[float, float]] = []
        """(wall-clock time, seconds late) of every tick."""
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + self.every

        def tick() -> None:
            nonlocal due
            self.samples.append((time.time(), loop.time() - due))
            due = loop.time() + self.every
            self._handle = loop.call_at(due, tick)

        self._handle = loop.call_at(due, tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()

    def worst(self, start: float, count: int = 5) -> str:
        """The seconds (counted from ``start``, wall clock) in which the loop was latest, as
        "t+0s: 93.0" (ms)."""
        by_second: dict[int, float] = {}
        for at, late in self.samples:
            if at >= start:
                second = int(at - start)
                by_second[second] = max(by_second.get(second, 0.0), late)
        ranked = sorted(by_second.items(), key=lambda kv: kv[1], reverse=True)[:count]
        return ", ".join(f"t+{sec}s: {late * 1000:.1f}" for sec, late in ranked) or "-"


def sent_time(payload: bytes) -> float | None:
    """The ``bench <time>`` stamp of a payload (JSON or XML), without parsing all of it."""
    at = payload.find(b"bench ")
    if at < 0:
        return None
    end = at + 6
    while end < len(payload) and payload[end:end + 1] in b"0123456789.":
        end += 1
    try:
        return float(payload[at + 6:end])
    except ValueError:
        return None
