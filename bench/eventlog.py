"""The benchmark's MQTT receiver: Debian's ``mosquitto_sub``, writing what arrives to a file.

    mosquitto_sub -q 1 --nodelay -F '%U %t %p' -t <filter> ...

A C client, so the measuring end is never what limits the measurement (a Python subscriber
starved by two thousand pyhik threads fell behind, and stock mosquitto drops QoS 1 messages
for a client more than ``max_queued_messages`` = 1000 behind). ``%U`` is the arrival time
(Unix time with nanoseconds) taken by mosquitto_sub as it prints the message; the payload
carries the alert's ``bench <time>`` stamp, so arrival minus stamp is the latency. Output goes
to a file (never a pipe), read when counting or at the end.
"""

from __future__ import annotations

from pathlib import Path

from cameras import sent_time
from common import Child
from paho.mqtt.client import topic_matches_sub

MOSQUITTO_SUB = "/usr/bin/mosquitto_sub"


class EventLog:
    """Events received per consumer, each named by a topic filter."""

    def __init__(self, work: Path, broker_port: int, filters: dict[str, str], nice: int | None = None) -> None:
        self.filters = filters
        self.path = work / "events.txt"
        argv = [MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(broker_port), "-q", "1", "--nodelay",
                "-i", "bench-subscriber", "-F", "%U %t %p"]
        for topic in filters.values():
            argv += ["-t", topic]
        self.child = Child("subscriber", argv, self.path, nice=nice)
        self._counted = 0
        self._counts = dict.fromkeys(filters, 0)
        self._partial = b""

    def _name(self, topic: str) -> str | None:
        return next((name for name, f in self.filters.items() if topic_matches_sub(f, topic)), None)

    def counts(self) -> dict[str, int]:
        """Bench-stamped events received so far, per consumer (reads only what is new)."""
        with self.path.open("rb") as f:
            f.seek(self._counted)
            data = self._partial + f.read()
        self._counted += len(data) - len(self._partial)
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            parts = line.split(b" ", 2)
            if len(parts) == 3 and b"bench " in parts[2]:
                name = self._name(parts[1].decode(errors="replace"))
                if name is not None:
                    self._counts[name] += 1
        return dict(self._counts)

    def report(self, since: float = 0.0) -> dict[str, tuple[list[float], list[float]]]:
        """Per consumer: (latencies in ms, arrival times) of what arrived from ``since`` on."""
        out: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in self.filters}
        for line in self.path.read_bytes().split(b"\n"):
            parts = line.split(b" ", 2)
            if len(parts) != 3:
                continue
            stamp = sent_time(parts[2])
            name = self._name(parts[1].decode(errors="replace")) if stamp is not None else None
            if name is None:
                continue
            arrived = float(parts[0])
            if arrived < since:
                continue
            out[name][0].append(round((arrived - stamp) * 1000, 3))
            out[name][1].append(arrived)
        return out
