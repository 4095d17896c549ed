"""Benchmark: the same K simulated cameras consumed, in ONE run, by gemhost, by pyhik 0.4.8
and by pyhik with a paho-mqtt publisher, through stock mosquitto.

    python bench/peer.py --cameras 1000 --rate 1 --seconds 30
    python bench/peer.py --cameras 2000 --consumers gemhost --seconds 10   # one host, 2,000 cameras

Processes, so that each figure belongs to one of them:

* this process: K cameras (``IsapiSimulator``, see bench/cameras.py) and the alerts they send;
* mosquitto (Debian's, default configuration on one loopback port, see bench/common.py);
* the MQTT receiver (``mosquitto_sub``, see bench/eventlog.py), which timestamps arrivals;
* the consumers, each reading every camera's alertStream with its own account:
  ``gemhost`` (``python -m gemhost.cli run site.yaml``: the host, publishing each event to
  mosquitto), ``pyhik`` (bench/pyhik_consumer.py: pyhik's callback is the receiver) and
  ``pyhik+paho`` (the same, its callback publishing to mosquitto as a pyhik-based bridge would).

Each camera sends one alert per period to all its open alertStreams at once (the same bytes
to every consumer). Per consumer the benchmark prints: delivered/sent, events/s, latency
p50/p99 (alert queued on the camera -> consumer's callback, or -> subscriber for the MQTT
consumers), CPU seconds per 1,000 events (utime+stime of the consumer's process over the
event window, read from /proc), memory per camera ((RSS with K cameras connected - RSS of the
same process with none) / K) and connect time (process start -> the camera side saw the K-th
alertStream of that consumer open), then the ratios gemhost : pyhik. It also prints how busy
the machine was with other work during the window (other agents share it).

By default each consumer has its turn: it connects (on a quiet machine), gets its event
window, and is stopped before the next one connects; same run, same cameras, broker and
machine. ``--together`` runs all consumers through one window instead, each alert read by all
three at once: on two cores pyhik's two thousand threads then starve the single-threaded
processes (the kernel shares CPU per thread), which shows in everyone's latency. The harness
(this process with the cameras, mosquitto, the receiver) runs at nice -10 where allowed, the
consumers at the default 0: the cameras and the broker stand for the network and must not be
starved by what is measured. Every child's output goes to a log file in the work folder
(printed at the end); children are stopped on every path, including errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiomqtt  # noqa: E402
from cameras import PASSWORD, BenchCamera, Emitter, LoopLag, all_streams_open, last_stream_opened, start_cameras  # noqa: E402
from common import (  # noqa: E402
    HARNESS_NICE,
    HERE,
    Child,
    Children,
    cpu_seconds,
    freeze_heap,
    harness_priority,
    loopback_port,
    machine,
    machine_busy,
    mosquitto_child,
    percentile,
    rss_bytes,
    run_main,
    sys_seconds,
    wait_listening,
    wait_until,
)
from eventlog import EventLog  # noqa: E402

BASE = "gem/bench"
PAHO_TOPIC = "bench-pyhik"
USERS = {"gemhost": "gemhost", "pyhik": "pyhik", "pyhik+paho": "pyhikpaho"}
CONSUMERS = tuple(USERS)
CONSUMER_NICE = 0
"""Every consumer at the default priority (set explicitly: children inherit the harness's)."""


@dataclass
class Result:
    name: str
    child: Child
    baseline_rss: int = 0
    ready_rss: int = 0
    connect: float = float("nan")
    cpu0: float = 0.0
    cpu: float = 0.0
    sys0: float = 0.0
    sys: float = 0.0
    delivered: int = 0
    finished: float = 0.0
    latencies: list[float] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)


# ---------------------------------------------------------------- gemhost


def site_text(broker_port: int, cams: list[BenchCamera], status_interval: int | None) -> str:
    lines = ["site: {id: bench, name: Benchmark}",
             f'mqtt: {{broker: "mqtt://127.0.0.1:{broker_port}"}}',
             "host: {shutdown_timeout: 5}",
             "devices:" if cams else "devices: []"]
    interval = f", status_interval: {status_interval}" if status_interval else ""
    for i, cam in enumerate(cams):
        lines.append(f"  - id: cam{i:04d}\n    driver: hikvision_isapi\n    attributes: "
                     f"{{ip: 127.0.0.1, port: {cam.port}, username: {USERS['gemhost']}, "
                     f"password: {PASSWORD}{interval}}}")
    return "\n".join(lines) + "\n"


def host_child(name: str, site: Path, work: Path) -> Child:
    env = {**os.environ, "GEMHOST_STATE_DIR": str(work / f"state-{name}")}
    return Child(name, [sys.executable, "-m", "gemhost.cli", "--log-level", "WARNING", "run", str(site)],
                 work / f"{name}.log", env=env, nice=CONSUMER_NICE)


class Control:
    """The benchmark's own low-rate MQTT client: the host's status, and a probe that shows the
    receiver is subscribed."""

    def __init__(self, port: int) -> None:
        self.client = aiomqtt.Client("127.0.0.1", port, identifier="bench-control", timeout=30)
        self.host_status = b""
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.client.__aenter__()
        await self.client.subscribe(f"{BASE}/host/status", qos=1)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.client.messages:
            self.host_status = message.payload if isinstance(message.payload, bytes) else b""
            self.changed.set()

    async def host_becomes(self, status: bytes, timeout: float) -> None:
        await wait_until(lambda: self.host_status == status, timeout, f"the host to be {status.decode()}")

    async def receiver_ready(self, events: EventLog) -> None:
        async def probe() -> None:
            while b"/probe " not in events.path.read_bytes():
                await self.client.publish(f"{PAHO_TOPIC}/probe", b"probe", qos=1)
                await asyncio.sleep(0.2)
        await asyncio.wait_for(probe(), 30)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(aiomqtt.MqttError):
            await self.client.__aexit__(None, None, None)


async def host_baseline(children: Children, control: Control, broker_port: int, work: Path) -> int:
    """RSS of a host with no devices, connected to the broker, after 2 s of settling."""
    site = work / "baseline.yaml"
    site.write_text(site_text(broker_port, [], None))
    child = await children.start(host_child("gemhost-baseline", site, work))
    try:
        await control.host_becomes(b"online", 60)
        await asyncio.sleep(2)
        return rss_bytes(child.pid)
    finally:
        await children.stop(child)
        with contextlib.suppress(RuntimeError):
            await control.host_becomes(b"offline", 10)  # what it says on stopping


# ---------------------------------------------------------------- run


async def start_consumer(name: str, children: Children, cams: list[BenchCamera], args: argparse.Namespace,
                         work: Path, broker_port: int) -> Result:
    if name == "gemhost":
        site = work / "site.yaml"
        site.write_text(site_text(broker_port, cams, args.status_interval))
        child = await children.start(host_child("gemhost", site, work))
        result = Result(name, child)
    else:
        argv = [sys.executable, str(HERE / "pyhik_consumer.py"), "--ports-file", str(work / "ports.json"),
                "--user", USERS[name]]
        if name == "pyhik+paho":
            argv += ["--mqtt-port", str(broker_port), "--topic", PAHO_TOPIC]
        child = await children.start(Child(name, argv, work / f"{name.replace('+', '-')}.log", json_lines=True,
                                           nice=CONSUMER_NICE))
        result = Result(name, child)
        result.baseline_rss = (await child.expect("baseline", 60))["baseline"]
    user = USERS[name]
    await wait_until(lambda: all_streams_open(cams, user, child.started) or not child.alive(), args.connect_timeout,
                     f"{name}: every camera's alertStream open", every=0.1)
    if not child.alive():
        raise RuntimeError(f"{name} exited while connecting; its log: {child.log}\n{child.tail()}")
    result.connect = last_stream_opened(cams, user) - child.started
    return result


async def profile(result: Result, args: argparse.Namespace) -> asyncio.subprocess.Process:
    """py-spy sampling a consumer through the event window (collapsed stacks, for flame graphs).
    ``--gil``: only samples holding the GIL, i.e. Python's own CPU; without it py-spy also
    counts the wall time of system calls (a send() waiting while the broker is woken)."""
    out = Path(args.workdir or ".") / f"profile-{result.name.replace('+', '-')}.txt"
    return await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "py-spy"), "record", "--nonblocking", "--gil", "--format", "raw",
        "--rate", "200", "--duration", str(int(args.seconds)), "--pid", str(result.child.pid), "--output", str(out),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


async def counts(results: list[Result], events: EventLog, before: dict[str, int]) -> None:
    """Delivered in this window: the receiver for MQTT consumers (minus what it had seen
    before the window), pyhik's own count for pyhik (a fresh process each window)."""
    seen = events.counts()
    for r in results:
        if r.name == "pyhik":
            await r.child.send({"count": 1})
            r.delivered = (await r.child.expect("counts", 30))["counts"]["delivered"]
        else:
            r.delivered = seen.get(r.name, 0) - before.get(r.name, 0)


async def measure(results: list[Result], cams: list[BenchCamera], events: EventLog,
                  args: argparse.Namespace) -> dict:
    sub = events.child
    await asyncio.sleep(2)  # let the start-up burst settle
    for r in results:
        r.ready_rss = rss_bytes(r.child.pid)
        r.cpu0 = cpu_seconds(r.child.pid)
        r.sys0 = sys_seconds(r.child.pid)
    ours = [r.child.pid for r in results] + [sub.pid]
    ours_cpu0 = sum(cpu_seconds(p) for p in ours) + time.process_time()
    sub_cpu0, cams_cpu0 = cpu_seconds(sub.pid), time.process_time()
    before, since = events.counts(), time.time()
    busy0, wall0 = machine_busy(), time.monotonic()
    emitter = Emitter(cams, args.rate)
    profilers = [await profile(r, args) for r in results if r.name in args.profile]
    freeze_heap()
    lag = LoopLag()
    lag.start()
    await emitter.run(args.seconds)
    lag.stop()
    for proc in profilers:
        await proc.wait()
    emit_wall = time.monotonic() - wall0
    # Let the cameras write the last alerts before counting: reading the receiver's file
    # blocks this process (the cameras' loop) for a moment, which would delay those alerts.
    await asyncio.sleep(1.0)
    deadline = time.monotonic() + args.drain
    while True:
        await counts(results, events, before)
        now = time.monotonic()
        for r in results:
            if r.delivered >= emitter.sent and not r.finished:
                r.finished = now
        if all(r.finished for r in results) or now > deadline:
            break
        await asyncio.sleep(0.25)
    wall1 = time.monotonic()
    for r in results:
        r.cpu = cpu_seconds(r.child.pid) - r.cpu0
        r.sys = sys_seconds(r.child.pid) - r.sys0
        r.finished = r.finished or wall1
    ours_cpu = sum(cpu_seconds(p) for p in ours) + time.process_time() - ours_cpu0
    sub_cpu, cams_cpu = cpu_seconds(sub.pid) - sub_cpu0, time.process_time() - cams_cpu0
    busy = machine_busy() - busy0
    received = events.report(since)
    for r in results:
        if r.name == "pyhik":
            await r.child.send({"report": 1})
            mine = (await r.child.expect("report", 60))["report"]
            r.latencies, r.arrivals = mine["latencies"], mine["arrivals"]
        else:
            r.latencies, r.arrivals = received.get(r.name, ([], []))
    return {"sent": emitter.sent, "emit_wall": emit_wall, "wall0": wall0, "window": wall1 - wall0, "lag": lag,
            "ours_cpu": ours_cpu, "busy": busy, "sub_cpu": sub_cpu, "cams_cpu": cams_cpu}


async def consume(args: argparse.Namespace, children: Children, cams: list[BenchCamera], work: Path,
                  broker_port: int, host_base: int, events: EventLog, broker_pid: int) -> list[tuple[Result, dict]]:
    """Each consumer in its turn (connect, window, stop), or all at once with ``--together``."""
    async def window_of(results: list[Result]) -> dict:
        broker_cpu0 = cpu_seconds(broker_pid)
        window = await measure(results, cams, events, args)
        window["broker_cpu"] = cpu_seconds(broker_pid) - broker_cpu0
        window["other_cpu"] = max(0.0, window["busy"] - window["ours_cpu"] - window["broker_cpu"])
        return window

    async def connect(name: str) -> Result:
        result = await start_consumer(name, children, cams, args, work, broker_port)
        if name == "gemhost":
            result.baseline_rss = host_base
        print(f"{name}: {args.cameras} alertStreams open {result.connect:.1f} s after its start", flush=True)
        return result

    if args.together:
        results = [await connect(name) for name in args.consumers]
        window = await window_of(results)
        return [(r, window) for r in results]
    pairs = []
    for _ in range(args.rounds):  # rounds alternate the consumers: slow drifts of the machine's load even out
        for name in args.consumers:
            result = await connect(name)
            pairs.append((result, await window_of([result])))
            await children.stop(result.child)
    return pairs


async def run(args: argparse.Namespace) -> int:
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="gemhost-peer-"))
    work.mkdir(parents=True, exist_ok=True)
    children = Children()
    cams: list[BenchCamera] = []
    control: Control | None = None
    ok = False
    try:
        nice = HARNESS_NICE if harness_priority() else None  # the cameras run in this process
        broker_port = loopback_port()
        broker = await children.start(mosquitto_child(work, broker_port, nice=nice))
        await wait_listening(broker_port, 20, "mosquitto")
        events = EventLog(work, broker_port, {"gemhost": f"{BASE}/+/event", "pyhik+paho": f"{PAHO_TOPIC}/#"},
                          nice=nice)
        await children.start(events.child)
        control = Control(broker_port)
        await control.start()
        await control.receiver_ready(events)
        host_base = await host_baseline(children, control, broker_port, work) if "gemhost" in args.consumers else 0
        cams = await start_cameras(args.cameras, [USERS[c] for c in CONSUMERS], heartbeat=args.heartbeat,
                                   stream_transport=args.transport)
        (work / "ports.json").write_text(json.dumps([c.port for c in cams]))
        pairs = await consume(args, children, cams, work, broker_port, host_base, events, broker.pid)
        print_results(pairs, args)
        ok = all(r.delivered >= window["sent"] for r, window in pairs)
        return 0 if ok else 1
    finally:
        if control is not None:
            await control.stop()
        await children.stop_all()
        await asyncio.gather(*(cam.stop() for cam in cams), return_exceptions=True)
        if args.workdir or not ok:
            print(f"logs: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- report


def print_results(pairs: list[tuple[Result, dict]], args: argparse.Namespace) -> None:
    sent = pairs[0][1]["sent"]
    mode = "all consumers at once" if args.together else "each consumer in its turn"
    print(f"\n{args.cameras} cameras x {args.rate:g} alert/s, windows of {args.seconds:g} s (~{sent} alerts), "
          f"{mode}, {args.transport} alertStreams, mosquitto default configuration; {machine()}")
    windows = {id(w): w for _, w in pairs}
    for r, window in pairs:
        if id(window) not in windows:
            continue
        del windows[id(window)]
        span = window["window"]
        who = "all" if args.together else r.name
        print(f"window of {who}: {100 * window['busy'] / span / 2:.0f}% of 2 cores busy; work not of this "
              f"benchmark: {window['other_cpu'] / span:.2f} cores; cameras {window['cams_cpu'] / span:.2f}, "
              f"mosquitto {window['broker_cpu'] / span:.2f}, receiver {window['sub_cpu'] / span:.2f} cores")
    head = ("consumer", "delivered", "events/s", "p50 ms", "p99 ms", "max ms", "CPU s/1k ev", "in kernel",
            "cores", "KiB/camera", "connect s")
    rows = []
    for r, window in pairs:
        lat = r.latencies
        rows.append((r.name, f"{r.delivered}/{window['sent']}", f"{r.delivered / (r.finished - window['wall0']):.0f}",
                     f"{statistics.median(lat):.1f}" if lat else "-", f"{percentile(lat, 99):.1f}",
                     f"{max(lat, default=float('nan')):.0f}", f"{1000 * r.cpu / max(r.delivered, 1):.3f}",
                     f"{100 * r.sys / max(r.cpu, 1e-9):.0f}%", f"{r.cpu / window['window']:.2f}",
                     f"{(r.ready_rss - r.baseline_rss) / args.cameras / 1024:.1f}", f"{r.connect:.1f}"))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    for row in (head, *rows):
        print("  ".join(str(x).rjust(w) for x, w in zip(row, widths, strict=True)))
    for r, window in pairs:
        print(f"{r.name}: slowest seconds of the window (p99 ms): {worst_seconds(r, window)}")
        if r.arrivals:
            print(f"  the cameras' own loop in that window, latest seconds (ms late): "
                  f"{window['lag'].worst(min(r.arrivals))}")
    totals: dict[str, dict] = {}
    for r, _ in pairs:
        t = totals.setdefault(r.name, {"delivered": 0, "cpu": 0.0, "memory": [], "latencies": []})
        t["delivered"] += r.delivered
        t["cpu"] += r.cpu
        t["memory"].append(r.ready_rss - r.baseline_rss)
        t["latencies"] += r.latencies
    if "gemhost" in totals:
        g = totals["gemhost"]
        for other_name in ("pyhik", "pyhik+paho"):
            if other_name in totals:
                o = totals[other_name]
                eff = (g["delivered"] / max(g["cpu"], 1e-9)) / (o["delivered"] / max(o["cpu"], 1e-9))
                mem = statistics.fmean(o["memory"]) / max(statistics.fmean(g["memory"]), 1)
                print(f"gemhost vs {other_name}: {eff:.2f}x events per CPU second, {mem:.1f}x less memory "
                      f"per camera, p99 {percentile(g['latencies'], 99):.1f} vs "
                      f"{percentile(o['latencies'], 99):.1f} ms (all windows)")


def worst_seconds(result: Result, window: dict, count: int = 5) -> str:
    """The seconds of the window with the highest p99 latency, as "t+12s: 45.1": where the
    tail comes from (a burst of polls, a garbage collection, the machine's other work)."""
    if not result.arrivals:
        return "-"
    start = min(result.arrivals)
    by_second: dict[int, list[float]] = {}
    for at, latency in zip(result.arrivals, result.latencies, strict=True):
        by_second.setdefault(int(at - start), []).append(latency)
    ranked = sorted(by_second.items(), key=lambda kv: percentile(kv[1], 99), reverse=True)[:count]
    return ", ".join(f"t+{sec}s: {percentile(values, 99):.1f}" for sec, values in ranked)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=100)
    parser.add_argument("--rate", type=float, default=1.0, help="alerts per second per camera")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the event window")
    parser.add_argument("--consumers", default=",".join(CONSUMERS),
                        type=lambda s: [c for c in CONSUMERS if c in s.split(",")],
                        help="comma-separated subset of gemhost,pyhik,pyhik+paho")
    parser.add_argument("--together", action="store_true",
                        help="all consumers read the same alerts at once (default: each in its turn, the "
                             "others stopped, so none is starved by another's threads)")
    parser.add_argument("--rounds", type=int, default=1, help="turns of every consumer (not with --together)")
    parser.add_argument("--status-interval", type=int, help="gemhost liveness poll interval, ms "
                        "(default: the driver's)")
    parser.add_argument("--heartbeat", type=float, default=10.0, help="camera heartbeat seconds")
    parser.add_argument("--transport", choices=("close", "chunked"), default="close",
                        help="alertStream as firmware sends it (HTTP/1.0, close-delimited) or chunked HTTP/1.1")
    parser.add_argument("--drain", type=float, default=20.0, help="max seconds to wait for stragglers")
    parser.add_argument("--connect-timeout", type=float, default=600.0)
    parser.add_argument("--profile", default="", type=lambda s: s.split(","),
                        help="consumers to sample with py-spy during the window (pip install py-spy)")
    parser.add_argument("--workdir", help="keep the logs here (default: a temporary folder, kept on failure)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(run_main(lambda: run(parse_args()))))
