"""Benchmark: what a command over MQTT costs on top of the device call it makes.

    python bench/commands.py --requests 400

``get_device_info`` (one GET /ISAPI/System/deviceInfo with digest auth) on simulated
cameras, two ways, from this process:

* over MQTT: request published to ``gem/bench/<device>/cmd/get_device_info`` (MQTT 5, QoS 0
  by default or ``--qos 1``, an id in the payload), reply (QoS 1) awaited on ``.../reply``;
  through stock mosquitto and a ``gemhost run`` host (processes of their own). The requester's
  socket has TCP_NODELAY. With QoS 1 requests stock mosquitto (``set_tcp_nodelay false``)
  holds the reply behind its own unacknowledged PUBACK of the request until the requester's
  delayed ACK, about 40 ms, whatever the host does: ``--qos 1`` shows it;
* directly: the same GET to the same camera, with the driver's own client (``IsapiClient``:
  digest without pre-emptive credentials, so two exchanges per call, as the host makes it)
  and with a plain aiohttp session using pre-emptive digest (one exchange, what a script
  would do).

Each way sequentially (one request at a time to one camera) and 16 in parallel (16 cameras,
one request in flight each: the host runs at most ``command_concurrency`` commands per device).
The cameras run in a process of their own, so the direct calls cross processes as the host's
do. The MQTT overhead is the MQTT p50 minus the driver-client p50. Every child's output is
filed in the work folder and every child is stopped on every path.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import aiomqtt

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cameras import PASSWORD, start_cameras  # noqa: E402
from common import Child, Children, cpu_seconds, loopback_port, machine, mosquitto_child, percentile, run_main  # noqa: E402
from gemhost_drivers.hikvision_isapi.client import IsapiClient  # noqa: E402

BASE = "gem/bench"
USER = "gemhost"
DEVICE_INFO = "/ISAPI/System/deviceInfo"
PARALLEL = 16


# ---------------------------------------------------------------- the cameras' process


async def serve_cameras(count: int, ports_file: Path) -> None:
    cams = await start_cameras(count, [USER])
    ports_file.write_text(json.dumps([c.port for c in cams]))
    print(json.dumps({"ready": True}), flush=True)
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.readline():  # until the benchmark closes our stdin (or stops us)
        pass
    await asyncio.gather(*(c.stop() for c in cams), return_exceptions=True)


# ---------------------------------------------------------------- the two ways


class MqttRequester:
    """Requests as an integration makes them; replies matched by id."""

    def __init__(self, port: int, qos: int) -> None:
        self.qos = qos
        self.client = aiomqtt.Client("127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5, timeout=30,
                                     identifier="bench-requester",
                                     socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        self.client.pending_calls_threshold = 1000  # 16 requests in flight are expected here
        self.pending: dict[str, asyncio.Future[dict]] = {}
        self.online: set[str] = set()
        self.seq = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.client.__aenter__()
        await self.client.subscribe(f"{BASE}/+/cmd/get_device_info/reply", qos=1)
        await self.client.subscribe(f"{BASE}/+/availability", qos=1)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.client.messages:
            topic = message.topic.value
            payload = message.payload if isinstance(message.payload, bytes) else b""
            if topic.endswith("/availability"):
                (self.online.add if payload == b"online" else self.online.discard)(topic.split("/")[2])
                continue
            reply = json.loads(payload)
            future = self.pending.pop(str(reply.get("id")), None)
            if future is not None and not future.done():
                future.set_result(reply)

    async def call(self, device: str) -> float:
        self.seq += 1
        rid = str(self.seq)
        future: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self.pending[rid] = future
        start = time.perf_counter()
        await self.client.publish(f"{BASE}/{device}/cmd/get_device_info", json.dumps({"id": rid}), qos=self.qos)
        reply = await asyncio.wait_for(future, 30)
        elapsed = time.perf_counter() - start
        if not reply.get("ok"):
            raise RuntimeError(f"command failed: {reply}")
        return elapsed

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            await self.client.__aexit__(None, None, None)
        except aiomqtt.MqttError:
            pass


async def timed(call, *args) -> float:
    start = time.perf_counter()
    await call(*args)
    return time.perf_counter() - start


async def run_way(call, targets: list, requests: int, parallel: int) -> list[float]:
    """``requests`` calls in all; ``parallel`` workers, each on its own target, one call at a time."""
    per_worker = max(1, requests // parallel)

    async def worker(target) -> list[float]:
        return [await call(target) for _ in range(per_worker)]

    results = await asyncio.gather(*(worker(t) for t in targets[:parallel]))
    return [x * 1000 for r in results for x in r]


# ---------------------------------------------------------------- main


def site_text(broker_port: int, ports: list[int]) -> str:
    lines = ["site: {id: bench, name: Commands}", f'mqtt: {{broker: "mqtt://127.0.0.1:{broker_port}"}}',
             "devices:"]
    for i, port in enumerate(ports):
        lines.append(f"  - id: cam{i:04d}\n    driver: hikvision_isapi\n    attributes: "
                     f"{{ip: 127.0.0.1, port: {port}, username: {USER}, password: {PASSWORD}}}")
    return "\n".join(lines) + "\n"


async def start(children: Children, work: Path, args: argparse.Namespace,
                processes: dict[str, int]) -> tuple[MqttRequester, list[int]]:
    """mosquitto, the cameras' process and the host (their pids into ``processes``); a
    requester that saw every camera online."""
    broker_port = loopback_port()
    broker = await children.start(mosquitto_child(work, broker_port,
                                                  "set_tcp_nodelay true\n" if args.broker_nodelay else ""))
    ports_file = work / "ports.json"
    cams = await children.start(Child("cameras", [sys.executable, str(Path(__file__).resolve()), "--role",
                                                  "cameras", "--ports-file", str(ports_file)],
                                      work / "cameras.log", json_lines=True))
    await cams.expect("ready", 60)
    ports = json.loads(ports_file.read_text())
    (work / "site.yaml").write_text(site_text(broker_port, ports))
    env = {**os.environ, "GEMHOST_STATE_DIR": str(work / "state")}
    host = await children.start(Child("gemhost", [sys.executable, "-m", "gemhost.cli", "--log-level", "WARNING",
                                                  "run", str(work / "site.yaml")], work / "gemhost.log", env=env))
    processes.update({"gemhost": host.pid, "mosquitto": broker.pid, "cameras": cams.pid})
    requester = MqttRequester(broker_port, args.qos)
    for _ in range(100):
        try:
            await requester.start()
            break
        except aiomqtt.MqttError:
            await asyncio.sleep(0.1)
    devices = {f"cam{i:04d}" for i in range(len(ports))}
    deadline = time.monotonic() + 60
    while not devices <= requester.online:
        if time.monotonic() > deadline:
            raise RuntimeError("the cameras did not come online over MQTT")
        await asyncio.sleep(0.1)
    return requester, ports


def cpu_now(processes: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each child, and of this process (requester and direct clients)."""
    return {**{name: cpu_seconds(pid) for name, pid in processes.items()}, "requester": time.process_time()}


async def measure(requester: MqttRequester, ports: list[int], requests: int, processes: dict[str, int],
                  cpu: dict[tuple[str, int], dict[str, float]]) -> dict[tuple[str, int], list[float]]:
    clients = [IsapiClient("127.0.0.1", port, username=USER, password=PASSWORD) for port in ports]
    sessions = [aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware(USER, PASSWORD),)) for _ in ports]
    urls = [f"http://127.0.0.1:{port}{DEVICE_INFO}" for port in ports]

    async def driver_client(i: int) -> float:
        return await timed(clients[i].get, DEVICE_INFO)

    async def preemptive(i: int) -> float:
        async def get() -> None:
            async with sessions[i].get(urls[i]) as resp:
                await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"HTTP {resp.status}")
        return await timed(get)

    indexes = list(range(len(ports)))
    ways = {"MQTT (gemhost)": (requester.call, [f"cam{i:04d}" for i in indexes]),
            "direct, driver's client": (driver_client, indexes),
            "direct, pre-emptive digest": (preemptive, indexes)}
    try:
        for call, targets in ways.values():  # warm up: sessions, digest challenges, caches
            await run_way(call, targets, PARALLEL, PARALLEL)
        results: dict[tuple[str, int], list[float]] = {}
        for parallel in (1, PARALLEL):
            for name, (call, targets) in ways.items():
                before = cpu_now(processes)
                results[(name, parallel)] = await run_way(call, targets, requests, parallel)
                after = cpu_now(processes)
                cpu[(name, parallel)] = {k: after[k] - before[k] for k in after}
        return results
    finally:
        for client in clients:
            await client.close()
        for session in sessions:
            await session.close()


async def run(args: argparse.Namespace) -> int:
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="gemhost-commands-"))
    work.mkdir(parents=True, exist_ok=True)
    children = Children()
    requester: MqttRequester | None = None
    ok = False
    try:
        processes: dict[str, int] = {}
        cpu: dict[tuple[str, int], dict[str, float]] = {}
        requester, ports = await start(children, work, args, processes)
        print_results(await measure(requester, ports, args.requests, processes, cpu), cpu, args)
        ok = True
        return 0
    finally:
        if requester is not None:
            await requester.stop()
        await children.stop_all()
        if args.workdir or not ok:
            print(f"logs: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def print_results(results: dict[tuple[str, int], list[float]], cpu: dict[tuple[str, int], dict[str, float]],
                  args: argparse.Namespace) -> None:
    broker = "mosquitto with set_tcp_nodelay true" if args.broker_nodelay else "stock mosquitto"
    print(f"get_device_info, {args.requests} requests per row, requests at QoS {args.qos}, {broker}; {machine()}")
    names = ("gemhost", "mosquitto", "cameras", "requester")
    print(f"{'way':28} {'in parallel':>11} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}   CPU ms per request: "
          + " ".join(f"{n:>9}" for n in names))
    for (name, parallel), values in results.items():
        used = cpu.get((name, parallel), {})
        per = " ".join(f"{1000 * used.get(n, 0.0) / len(values):9.3f}" for n in names)
        print(f"{name:28} {parallel:>11} {statistics.median(values):8.2f} {percentile(values, 99):8.2f} "
              f"{statistics.fmean(values):8.2f}   {' ' * 20}{per}")
    for parallel in (1, PARALLEL):
        mqtt = statistics.median(results[("MQTT (gemhost)", parallel)])
        direct = statistics.median(results[("direct, driver's client", parallel)])
        print(f"MQTT overhead over the same call made directly ({parallel} in parallel): p50 {mqtt - direct:.2f} ms")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per way and mode")
    parser.add_argument("--qos", type=int, choices=(0, 1), default=0,
                        help="QoS of the requests (replies are QoS 1): 0 is what Home Assistant's mqtt.publish "
                             "and mosquitto_pub send by default")
    parser.add_argument("--broker-nodelay", action="store_true",
                        help="add 'set_tcp_nodelay true' to mosquitto's configuration")
    parser.add_argument("--workdir", help="keep the logs here (default: a temporary folder, kept on failure)")
    parser.add_argument("--role", choices=("cameras",), help=argparse.SUPPRESS)
    parser.add_argument("--ports-file", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    options = parse_args()
    if options.role == "cameras":
        asyncio.run(serve_cameras(PARALLEL, Path(options.ports_file)))
    else:
        sys.exit(asyncio.run(run_main(lambda: run(options))))
