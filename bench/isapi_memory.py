"""Benchmark: memory per ISAPI camera in one host, and where it goes.

    python bench/isapi_memory.py --cameras 300
    python bench/isapi_memory.py --cameras 300 --top 25     # more allocation sites

The cameras (``IsapiSimulator``, bench/cameras.py) run in a child process, so that nothing of
theirs is counted; this process runs the host in-process (``gemhost.host.Host`` without MQTT:
the per-device MQTT cost is retained topics, held by the broker) with ``tracemalloc`` on. It
starts the host with no device, waits until it settles, then adds K cameras (the site file
reloaded), waits until every camera's alertStream is open and the first liveness poll is done,
and prints:

* Python heap per camera: traced memory with K cameras minus traced memory with none, / K;
* RSS per camera, the same difference of the process's resident set (what ``peer.py`` shows;
  it also holds the interpreter's free lists and the allocator's slack);
* the allocation sites that hold most of the difference (``tracemalloc`` by file and line),
  and by package (aiohttp, gemhost, the ISAPI driver, asyncio, ...).

Only loopback; every child stopped on every path (bench/common.py).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cameras import PASSWORD, start_cameras  # noqa: E402
from common import HERE, Child, Children, rss_bytes, run_main, wait_until  # noqa: E402

from gemhost.eventloop import daemon_loop_factory, loop_name  # noqa: E402
from gemhost.gcfreeze import freeze_when_started  # noqa: E402

USER = "bench"
FRAMES = 12
"""Traceback depth kept by tracemalloc: enough to see through aiohttp to the caller."""


async def serve_cameras(count: int) -> None:
    """The child: K cameras, their ports on stdout, until stdin closes."""
    cams = await start_cameras(count, [USER])
    print(json.dumps({"ports": [c.port for c in cams]}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    for cam in cams:
        await cam.stop()


def site_text(ports: list[int]) -> str:
    lines = ["site: {id: membench, name: Memory benchmark}", "host: {shutdown_timeout: 5}",
             "devices:" if ports else "devices: []"]
    for i, port in enumerate(ports):
        lines.append(f"  - id: cam{i:04d}\n    driver: hikvision_isapi\n    attributes: "
                     f"{{ip: 127.0.0.1, port: {port}, username: {USER}, password: {PASSWORD}}}")
    return "\n".join(lines) + "\n"


def package_of(filename: str) -> str:
    parts = Path(filename).parts
    for marker in ("aiohttp", "yarl", "multidict", "asyncio", "ssl", "gemhost", "gemhost_drivers",
                   "hikvision_isapi", "voluptuous", "logging"):
        if marker in parts or Path(filename).stem == marker:
            return marker
    return Path(filename).name


async def settle(seconds: float) -> None:
    await asyncio.sleep(seconds)
    gc.collect()


async def measure(args: argparse.Namespace) -> int:
    from gemhost.host import Host

    work = Path(tempfile.mkdtemp(prefix="gemhost-mem-"))
    os.environ["GEMHOST_STATE_DIR"] = str(work / "state")
    children = Children()
    try:
        cams = await children.start(Child("cameras", [sys.executable, str(HERE / "isapi_memory.py"),
                                                      "--serve-cameras", str(args.cameras)],
                                          work / "cameras.log", json_lines=True))
        ports = (await cams.expect("ports", 120))["ports"]
        site = work / "site.yaml"
        site.write_text(site_text([]))
        if args.trace:
            tracemalloc.start(FRAMES)
        host = Host(site, mqtt=False)
        await host.start()
        try:
            await settle(1.0)
            base_rss = rss_bytes(os.getpid())
            base = tracemalloc.take_snapshot() if args.trace else None
            if args.trace:
                base_heap = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
            site.write_text(site_text(ports))
            await host.reload()

            def ready() -> bool:
                drivers = [r.driver for r in host.runners.values()]
                return len(drivers) == len(ports) and all(
                    d is not None and d.stream_state == "connected" and d.info.model for d in drivers)
            await wait_until(ready, args.connect_timeout, "every camera connected with its alertStream open")
            # what gemhost run does once every device made its first attempt
            await freeze_when_started(lambda: list(host.runners.values()), settle=0.0)
            await settle(args.settle)
            rss = rss_bytes(os.getpid())
            snap = tracemalloc.take_snapshot() if args.trace else None
            if args.trace:
                peak = (tracemalloc.get_traced_memory()[1] - base_heap) / args.cameras / 1024
                print(f"Python heap per camera at its peak while connecting: {peak:.1f} KiB")
        finally:
            await host.stop()
        print(f"{args.cameras} ISAPI cameras in one host (no MQTT), Python {sys.version.split()[0]}, "
              f"{loop_name(asyncio.get_running_loop())} loop, measured {args.settle:g} s after the last "
              f"connect, {'tracemalloc on' if args.trace else 'tracemalloc off'}")
        print(f"RSS per camera: {(rss - base_rss) / args.cameras / 1024:.1f} KiB")
        if snap is not None and base is not None:
            report(args, snap.compare_to(base, "traceback"))
        return 0
    finally:
        await children.stop_all()


def report(args: argparse.Namespace, stats: list[tracemalloc.StatisticDiff]) -> None:
    """Python heap per camera, by package of the allocating line, by the project's own line
    that led to it (the first frame in gemhost or a driver, counting from the allocation), and
    the top allocating lines."""
    k = args.cameras
    print(f"Python heap per camera: {sum(s.size_diff for s in stats) / k / 1024:.1f} KiB (tracemalloc)")
    by_package: dict[str, int] = {}
    by_caller: dict[str, int] = {}
    by_line: dict[str, list[int]] = {}
    for stat in stats:
        top = stat.traceback[-1] if stat.traceback else None  # tracemalloc: most recent call last
        if top is None:
            continue
        name = package_of(top.filename)
        by_package[name] = by_package.get(name, 0) + stat.size_diff
        ours = next((f for f in reversed(stat.traceback) if "/gemhost/" in f.filename
                     or "/drivers/" in f.filename or "gemhost_drivers" in f.filename), None)
        caller = f"{ours.filename.rsplit('/', 2)[-2]}/{Path(ours.filename).name}:{ours.lineno}" if ours else "other"
        by_caller[caller] = by_caller.get(caller, 0) + stat.size_diff
        line = f"{top.filename}:{top.lineno}"
        sizes = by_line.setdefault(line, [0, 0])
        sizes[0] += stat.size_diff
        sizes[1] += stat.count_diff

    def kib(size: int) -> str:
        return f"{size / k / 1024:.1f}"
    print("by package of the allocating line (KiB per camera): " + ", ".join(
        f"{n} {kib(v)}" for n, v in sorted(by_package.items(), key=lambda kv: -kv[1])[:10]))
    print("by the project's line that led to it (KiB per camera):")
    for caller, size in sorted(by_caller.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {kib(size):>6}  {caller}")
    print("top allocating lines (bytes and blocks per camera):")
    for line, (size, count) in sorted(by_line.items(), key=lambda kv: -kv[1][0])[: args.top]:
        print(f"  {size / k:8.0f}  {count / k:6.1f}  {line}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=300)
    parser.add_argument("--top", type=int, default=15, help="allocation sites to list")
    parser.add_argument("--trace", action="store_true",
                        help="tracemalloc: Python heap per camera and where it goes (slow; RSS then "
                             "includes tracemalloc's own bookkeeping)")
    parser.add_argument("--connect-timeout", type=float, default=300.0)
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds between the last connect and the measurement (past the idle "
                             "keep-alive of 15 s, the connections of the first poll are closed)")
    parser.add_argument("--loop", choices=("daemon", "asyncio"), default="daemon",
                        help="the event loop: gemhost run's (uvloop where installed) or the standard one")
    parser.add_argument("--serve-cameras", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_cameras is not None:
        asyncio.run(serve_cameras(args.serve_cameras))
        return 0
    factory = daemon_loop_factory() if args.loop == "daemon" else asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(run_main(lambda: measure(args)))


if __name__ == "__main__":
    sys.exit(main())
