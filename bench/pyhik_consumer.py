"""pyhik 0.4.8 as Home Assistant runs it, on the benchmark's cameras, in a process of its own.

    python bench/pyhik_consumer.py --ports-file ports.json --user pyhik
    python bench/pyhik_consumer.py --ports-file ports.json --user pyhikpaho --mqtt-port P --topic bench-pyhik

pyhik is used unmodified: one ``HikCamera`` per camera (deviceInfo, Event/triggers and the
motion settings read at construction, built 16 at a time in a thread pool the way Home
Assistant builds config entries in its executor), one thread and one alertStream per camera
(``start_stream``), and an update callback on the camera's ``I/O`` sensor, channel 1. The
benchmark instruments it from outside only: each camera's ``process_stream`` is wrapped to
note the alert's ``bench`` stamp before pyhik handles it, and the callback (what a consumer of
pyhik writes) takes the latency when pyhik reports the change.

With ``--mqtt-port`` the callback is a pyhik-based MQTT bridge instead: it publishes the
sensor's new state as JSON (QoS 1, paho-mqtt's defaults, its network thread via
``loop_start``) and the benchmark's subscriber takes the latency on arrival.

JSON lines on stdout: ``{"baseline": rss}`` before any camera exists, ``{"started": ...}``
once every stream thread runs; on stdin ``{"count": 1}`` and ``{"report": 1}`` are answered,
``{"quit": 1}`` (or end of input) exits at once (pyhik's stream threads are not daemons).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pyhik.hikvision import HikCamera

NS = "{http://www.hikvision.com/ver20/XMLSchema}"
PASSWORD = "bench-Pass-1"
SENSOR = "I/O"
_out = threading.Lock()


def emit(message: dict) -> None:
    with _out:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def own_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Consumer:
    def __init__(self, publish: Any = None, topic: str = "") -> None:
        self.publish = publish
        self.topic = topic
        self.latencies: list[float] = []
        self.arrivals: list[float] = []
        self.delivered = 0
        self.failed: list[int] = []

    def attach(self, index: int, cam: HikCamera) -> None:
        """Wrap process_stream (note the stamp) and register the consumer's callback."""
        original = cam.process_stream
        pending: dict[str, float] = {}

        def process_stream(tree) -> None:
            node = tree.find(f"{NS}eventDescription")
            text = node.text if node is not None and node.text else ""
            if text.startswith("bench "):
                pending["sent"] = float(text.split()[1])
            original(tree)

        def changed(_msg: str) -> None:
            sent = pending.pop("sent", None)
            if sent is None:
                return  # the "stream connected" notification, not an alert
            if self.publish is None:
                arrived = time.time()
                self.latencies.append(round((arrived - sent) * 1000, 3))
                self.arrivals.append(round(arrived, 3))
                self.delivered += 1
                return
            state, channel, count, when, target = cam.fetch_attributes(SENSOR, 1)
            body = json.dumps({"camera": str(cam.get_id), "sensor": SENSOR, "channel": channel, "on": state,
                               "count": count, "time": when.isoformat(), "target": target,
                               "eventDescription": f"bench {sent:.6f}"})
            self.publish(f"{self.topic}/{index}/io_1", body, qos=1)
            self.delivered += 1

        cam.process_stream = process_stream
        cam.add_update_callback(changed, f"{cam.get_id}.{SENSOR}.1")


def mqtt_publisher(port: int):
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-pyhik-bridge")
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not connected.wait(30):
        raise SystemExit("the pyhik bridge could not connect to the broker")
    return client.publish


def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ports = json.loads(Path(args.ports_file).read_text())
    consumer = Consumer(mqtt_publisher(args.mqtt_port) if args.mqtt_port else None, args.topic)
    time.sleep(1.0)
    emit({"baseline": own_rss()})

    def make(port: int) -> HikCamera:
        return HikCamera("http://127.0.0.1", port=port, usr=args.user, pwd=PASSWORD)

    with ThreadPoolExecutor(args.init_threads) as pool:
        cams = list(pool.map(make, ports))
    for index, cam in enumerate(cams):
        if cam.cam_id is None or not cam.current_event_states or SENSOR not in cam.current_event_states:
            consumer.failed.append(index)
            continue
        consumer.attach(index, cam)
        cam.start_stream()
    emit({"started": time.time(), "cameras": len(cams) - len(consumer.failed), "failed": consumer.failed[:20]})
    for line in sys.stdin:
        try:
            command = json.loads(line)
        except ValueError:
            continue
        if "count" in command:
            emit({"counts": {"delivered": consumer.delivered,
                             "connected": sum(1 for c in cams if c.stream_connected)}})
        if "report" in command:
            emit({"report": {"latencies": list(consumer.latencies), "arrivals": list(consumer.arrivals),
                             "delivered": consumer.delivered}})
        if "quit" in command:
            break
    sys.stdout.flush()
    os._exit(0)  # the stream threads are not daemons and block in reads: do not wait for them


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ports-file", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--mqtt-port", type=int)
    parser.add_argument("--topic", default="bench-pyhik")
    parser.add_argument("--init-threads", type=int, default=16)
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())
