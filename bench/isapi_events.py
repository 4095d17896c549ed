"""Benchmark: K simulated Hikvision cameras -> ONE gemhost host -> MQTT broker -> a subscriber.

    python bench/isapi_events.py --cameras 200 --rate 1 --seconds 20 [--broker amqtt|mosquitto]

Three kinds of process, so each figure belongs to one of them:

* this process: K ``IsapiSimulator`` instances (each its own aiohttp server on its own loopback
  port with its own alertStream, digest auth, heartbeats) and the MQTT subscriber;
* the broker, in its own process (the embedded amqtt broker of gemhost, or mosquitto);
* the host, ``gemhost run site.yaml`` in its own process. Host CPU and memory are read from
  ``/proc/<host pid>``, so they exclude the simulators, the subscriber and the broker.

Each camera pushes EventNotificationAlerts on its alertStream at ``--rate`` per second (random
phase). Every alert is a new condition (an ``IO`` alarm whose ``inputIOPortID`` is a sequence
number; IO is ``stateful``, so the condition stays open), so the core's event lifetime
(gemhost/lifetime.py) publishes each one exactly once as its ``active``; the alert's
``eventDescription`` carries the simulator's send time (``time.time()`` just before the part
is queued on the stream), which the driver copies into the MQTT event's ``data``, and the
subscriber takes ``time.time()`` on receipt: that is the end-to-end latency (same clock,
same process).

Printed: events sent/delivered, events/s delivered, latency p50/p99, host CPU seconds per
1,000 delivered events (all host CPU in the event window, including its idle work such as
heartbeat parsing, divided by events), and host memory per camera ((RSS with K cameras
connected - RSS of the same host with no devices) / K).

The host's and the broker's output go to log files in the work folder (a pipe nobody reads
fills up and freezes the writer), and every child is stopped on every path, errors and
Ctrl-C included. bench/peer.py is the side-by-side comparison with pyhik.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiomqtt

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cameras import LoopLag  # noqa: E402
from common import (  # noqa: E402
    Child,
    Children,
    cpu_seconds,
    freeze_heap,
    loopback_port,
    mosquitto_child,
    percentile,
    rss_bytes,
    run_main,
    wait_listening,
    wait_until,
)
from gemhost_drivers.hikvision_isapi.simulator import IsapiSimulator  # noqa: E402

BASE = "gem/bench"
PASSWORD = "bench-Pass-1"


# ---------------------------------------------------------------- processes


def broker_child(kind: str, work: Path, port: int) -> Child:
    if kind == "mosquitto":
        return mosquitto_child(work, port)
    code = ("import asyncio\n"
            "from gemhost.mqtt.broker import EmbeddedBroker\n"
            "async def main():\n"
            f"    b = EmbeddedBroker('127.0.0.1', {port})\n"
            "    await b.start()\n"
            "    await asyncio.Event().wait()\n"
            "asyncio.run(main())\n")
    return Child("amqtt", [sys.executable, "-c", code], work / "amqtt.log")


def site_text(broker_port: int, sims: list[IsapiSimulator], protocol: str) -> str:
    lines = ["site: {id: bench, name: Benchmark}",
             f'mqtt: {{broker: "mqtt://127.0.0.1:{broker_port}", protocol: "{protocol}", queue_size: 100000}}',
             "host: {command_timeout: 30, shutdown_timeout: 5}",
             "devices:" if sims else "devices: []"]
    for i, sim in enumerate(sims):
        lines.append(f"  - id: cam{i:04d}\n    driver: hikvision_isapi\n    attributes: "
                     f"{{ip: 127.0.0.1, port: {sim.port}, username: admin, password: {PASSWORD}, "
                     "status_interval: 60000, event_quiet_time: 600000}")
    return "\n".join(lines) + "\n"


def host_child(name: str, site: Path, work: Path) -> Child:
    env = {**os.environ, "GEMHOST_STATE_DIR": str(work / f"state-{name}")}
    return Child(name, [sys.executable, "-m", "gemhost.cli", "--log-level", "WARNING", "run", str(site)],
                 work / f"{name}.log", env=env)


# ---------------------------------------------------------------- subscriber


class Subscriber:
    def __init__(self, port: int, protocol: aiomqtt.ProtocolVersion) -> None:
        self.port = port
        self.protocol = protocol
        self.latencies: list[float] = []
        self.delivered = 0
        self.host_online = False
        self.online: set[str] = set()
        self._task: asyncio.Task | None = None
        self._client: aiomqtt.Client | None = None

    async def start(self) -> None:
        self._client = aiomqtt.Client("127.0.0.1", self.port, protocol=self.protocol, timeout=10,
                                      max_queued_incoming_messages=0)
        await self._client.__aenter__()
        await self._client.subscribe(f"{BASE}/+/event", qos=1)
        await self._client.subscribe(f"{BASE}/+/availability", qos=1)
        await self._client.subscribe(f"{BASE}/host/status", qos=1)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._client is not None
        async for msg in self._client.messages:
            received = time.time()
            topic = msg.topic.value
            payload = msg.payload if isinstance(msg.payload, bytes) else str(msg.payload).encode()
            if topic.endswith("/event"):
                desc = json.loads(payload).get("data", {}).get("eventDescription", "")
                if desc.startswith("bench "):
                    self.latencies.append(received - float(desc.split()[1]))
                    self.delivered += 1
            elif topic == f"{BASE}/host/status":
                self.host_online = payload == b"online"
            elif topic.endswith("/availability"):
                device = topic.split("/")[2]
                if payload == b"online":
                    self.online.add(device)
                else:
                    self.online.discard(device)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._client:
            with contextlib.suppress(Exception):
                await self._client.__aexit__(None, None, None)


# ---------------------------------------------------------------- load


class Emitter:
    """Pushes alerts on every simulator's alertStream at ``rate`` per second each."""

    def __init__(self, sims: list[IsapiSimulator], rate: float) -> None:
        self.sims = sims
        self.rate = rate
        self.sent = 0
        self.seq = 0

    def one(self, sim: IsapiSimulator) -> None:
        self.seq += 1
        body = sim.alert_xml(1, "IO", "active", inputIOPortID=str(self.seq))
        body = body.replace("<eventDescription>IO alarm</eventDescription>",
                            f"<eventDescription>bench {time.time():.6f}</eventDescription>")
        sim.push_part(body.encode(), "application/xml")
        self.sent += 1

    async def camera(self, sim: IsapiSimulator, until: float) -> None:
        period = 1.0 / self.rate
        loop = asyncio.get_running_loop()
        nxt = loop.time() + random.uniform(0, period)
        while nxt < until:
            await asyncio.sleep(max(0.0, nxt - loop.time()))
            self.one(sim)
            nxt += period

    async def run(self, seconds: float) -> None:
        until = asyncio.get_running_loop().time() + seconds
        await asyncio.gather(*(self.camera(sim, until) for sim in self.sims))


# ---------------------------------------------------------------- main


async def baseline_rss(children: Children, broker_port: int, protocol: str, work: Path, sub: Subscriber) -> int:
    site = work / "baseline.yaml"
    site.write_text(site_text(broker_port, [], protocol))
    child = await children.start(host_child("baseline", site, work))
    try:
        await wait_until(lambda: sub.host_online, 60, "the baseline host to come online")
        await asyncio.sleep(2)
        return rss_bytes(child.pid)
    finally:
        await children.stop(child)
        await wait_until(lambda: not sub.host_online, 30, "the baseline host to go offline")


async def main(args: argparse.Namespace) -> int:
    protocol = "3.1.1" if args.broker == "amqtt" else "auto"
    mqtt_protocol = aiomqtt.ProtocolVersion.V311 if args.broker == "amqtt" else aiomqtt.ProtocolVersion.V5
    work = Path(tempfile.mkdtemp(prefix="gemhost-bench-"))
    children = Children()
    sims: list[IsapiSimulator] = []
    sub: Subscriber | None = None
    try:
        port = loopback_port()
        await children.start(broker_child(args.broker, work, port))
        await wait_listening(port, 20, args.broker)
        sub = Subscriber(port, mqtt_protocol)
        await sub.start()
        base_rss = await baseline_rss(children, port, protocol, work, sub)
        for _ in range(args.cameras):
            sim = IsapiSimulator(kind="camera", password=PASSWORD, heartbeat=args.heartbeat)
            await sim.start()
            sims.append(sim)
        site = work / "site.yaml"
        site.write_text(site_text(port, sims, protocol))
        t_start = time.monotonic()
        host = await children.start(host_child("host", site, work))
        await wait_until(lambda: all(s.open_streams >= 1 for s in sims), 180,
                         "every camera's alertStream to be connected")
        await wait_until(lambda: len(sub.online) >= args.cameras, 60, "every camera online over MQTT")
        ready = time.monotonic() - t_start
        await asyncio.sleep(2)  # let the start-up burst settle
        rss_ready = rss_bytes(host.pid)
        emitter = Emitter(sims, args.rate)
        freeze_heap()
        lag = LoopLag()
        lag.start()
        window_start = time.time()
        cpu0, wall0 = cpu_seconds(host.pid), time.monotonic()
        await emitter.run(args.seconds)
        emit_wall = time.monotonic() - wall0
        drain_deadline = time.monotonic() + args.drain
        while sub.delivered < emitter.sent and time.monotonic() < drain_deadline:
            await asyncio.sleep(0.05)
        cpu1, wall1 = cpu_seconds(host.pid), time.monotonic()
        lag.stop()
        rss_end = rss_bytes(host.pid)
        reconnects = sum(s.stream_connects for s in sims) - len(sims)
        # taken now: stopping the host ends every open condition (ended_by: stop), and
        # those ends carry the same bench stamps
        delivered, lat_ms = sub.delivered, [x * 1000 for x in sub.latencies]
    finally:
        if sub is not None:  # before the broker goes (counts were taken above)
            await sub.stop()
        await children.stop_all()
        await asyncio.gather(*(sim.stop() for sim in sims), return_exceptions=True)
        print(f"logs: {work}", file=sys.stderr)

    host_cpu = cpu1 - cpu0
    print(f"cameras: {args.cameras} (one IsapiSimulator each, own port and alertStream), "
          f"rate {args.rate:g}/s per camera, {args.seconds:g} s, broker {args.broker}")
    print(f"host ready (all {args.cameras} connected, streams open): {ready:.1f} s")
    print(f"events sent: {emitter.sent}  delivered: {delivered}  lost: {emitter.sent - delivered}  "
          f"stream reconnects: {reconnects}")
    print(f"events/s delivered: {delivered / (wall1 - wall0):.1f} "
          f"(offered {emitter.sent / emit_wall:.1f}/s)")
    print(f"latency p50: {statistics.median(lat_ms) if lat_ms else float('nan'):.1f} ms  "
          f"p99: {percentile(lat_ms, 99):.1f} ms  max: {max(lat_ms, default=float('nan')):.1f} ms")
    print(f"this process's loop (cameras and subscriber), latest seconds (ms late): {lag.worst(window_start)}")
    print(f"host CPU: {host_cpu:.2f} s in {wall1 - wall0:.1f} s "
          f"({100 * host_cpu / (wall1 - wall0):.0f}% of one core) = "
          f"{1000 * host_cpu / max(delivered, 1):.3f} CPU s per 1,000 events")
    print(f"host memory: baseline (no devices) {base_rss / 2**20:.1f} MiB, with cameras "
          f"{rss_ready / 2**20:.1f} MiB -> {(rss_ready - base_rss) / args.cameras / 1024:.0f} KiB per camera "
          f"(after the run {rss_end / 2**20:.1f} MiB)")
    return 0 if delivered == emitter.sent else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=200)
    parser.add_argument("--rate", type=float, default=1.0, help="events per second per camera")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--broker", choices=("amqtt", "mosquitto"), default="amqtt")
    parser.add_argument("--heartbeat", type=float, default=10.0, help="simulator heartbeat seconds")
    parser.add_argument("--drain", type=float, default=15.0, help="max seconds to wait for stragglers")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(run_main(lambda: main(parse_args()))))
