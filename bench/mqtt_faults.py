"""Benchmark: how fast gemhost finds a restarted broker, and how it answers a request flood.

    python bench/mqtt_faults.py reconnect --restarts 10 --downtime 1.0
    python bench/mqtt_faults.py flood --requests 20000

Both run Debian's mosquitto (``/usr/sbin/mosquitto``, its own process, loopback only, a free
port) and one gemhost host in this process, on a site without devices (only the MQTT side
is measured).

* ``reconnect``: the broker runs until the host's session has lasted 4 s (a good connection),
  is stopped, stays down ``--downtime`` seconds and is started again on the same port. The
  figure is the time from the broker listening again to the host's session being set up
  (subscribed, ``online`` published), read by polling the bridge every 5 ms.
* ``flood``: ``--requests`` malformed requests (``{"id": n, "args": 7}``) published at full
  speed by ``mosquitto_pub -l`` (its own process) into a mosquitto that keeps everything for
  its clients (``max_queued_messages 1000000``, as a broker sized for floods would); replies
  are counted by a plain subscriber in this process. Printed: replies received and unique
  ids, how many were ``busy``, the time from the first request to the last reply, and this
  process's peak RSS growth (host plus subscriber).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "faults"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # first: its conftest

from conftest import MosquittoBroker  # noqa: E402 - the tests' mosquitto runner
from fault_helpers import Collector, publish_lines  # noqa: E402

from gemhost.host import Host  # noqa: E402

SITE = """
site: {{id: bench}}
mqtt: {{broker: "mqtt://127.0.0.1:{port}", keepalive: 5}}
devices: []
"""


async def _host(port: int, workdir: Path) -> Host:
    site = workdir / "site.yaml"
    site.write_text(SITE.format(port=port))
    os.environ["GEMHOST_STATE_DIR"] = str(workdir / "state")
    host = Host(site)
    await host.start()
    return host


async def reconnect(restarts: int, downtime: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        broker = MosquittoBroker(Path(tmp))
        await broker.start()
        host = await _host(broker.port, Path(tmp))
        bridge = host.bridge
        figures = []
        try:
            for _ in range(restarts):
                while not bridge.connected.is_set():
                    await asyncio.sleep(0.005)
                await asyncio.sleep(4.0)
                connections = bridge.connections
                await broker.stop()
                await asyncio.sleep(downtime)
                await broker.start()
                back = time.monotonic()
                while not (bridge.connections > connections and bridge.connected.is_set()):
                    await asyncio.sleep(0.005)
                figures.append(time.monotonic() - back)
        finally:
            await host.stop()
            await broker.stop()
    print(f"restarts: {restarts}, downtime {downtime:g} s; reconnected after the broker was back: "
          f"median {statistics.median(figures):.2f} s, max {max(figures):.2f} s "
          f"({', '.join(f'{f:.2f}' for f in figures)})")


async def flood(requests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        broker = MosquittoBroker(Path(tmp), "max_queued_messages 1000000\n")
        await broker.start()
        host = await _host(broker.port, Path(tmp))
        while not host.bridge.connected.is_set():
            await asyncio.sleep(0.005)
        topic = "gem/bench/host/cmd/describe"
        replies = await Collector(broker.port).start(topic + "/reply")
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.monotonic()
        try:
            await publish_lines(broker.port, topic, [b'{"id": %d, "args": 7}' % n for n in range(requests)])
            deadline = time.monotonic() + 120
            while len(replies.messages) < requests and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            took = time.monotonic() - start
            bodies = [json.loads(m.payload) for m in replies.messages]
        finally:
            await replies.stop()
            await host.stop()
            await broker.stop()
    rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    busy = sum(1 for b in bodies if b["error"]["code"] == "busy")
    print(f"requests {requests}: replies {len(bodies)}, unique ids {len({b['id'] for b in bodies})}, "
          f"busy {busy}, first request to last reply {took:.1f} s, peak RSS growth {rss:.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    r = sub.add_parser("reconnect")
    r.add_argument("--restarts", type=int, default=10)
    r.add_argument("--downtime", type=float, default=1.0)
    f = sub.add_parser("flood")
    f.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args()
    if args.what == "reconnect":
        asyncio.run(reconnect(args.restarts, args.downtime))
    else:
        asyncio.run(flood(args.requests))


if __name__ == "__main__":
    main()
