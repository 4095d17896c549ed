"""Test utilities for gemhost and for third-party driver authors: an MQTT consumer that
records what the host publishes and sends commands the way an integration would, a bounded
wait, a fake device context, and ``gemhost`` run as a real process.

Used by gemhost's own end-to-end tests (simulator -> host -> real broker -> this client).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import aiomqtt

from gemhost.lifetime import EventLifetime
from gemhost.model import DeviceConfig, DeviceInfo, Event
from gemhost.schema import DriverSchema


def skip_without(what: str) -> None:
    """Skip a test whose external binary (mosquitto, its clients) is absent, except where
    ``GEMHOST_REQUIRE_MOSQUITTO`` is set (CI): there a missing binary fails loudly."""
    import pytest

    message = f"{what} not installed (apt-get install mosquitto mosquitto-clients); CI installs it"
    if os.environ.get("GEMHOST_REQUIRE_MOSQUITTO"):
        pytest.fail(message)
    pytest.skip(message)


async def until(predicate: Callable[[], Any], what: str = "the condition", timeout: float = 15) -> Any:
    """Poll a condition (bounded) and return its first truthy value; fail the test with a
    readable reason (``what`` it waited for) instead of hanging (a bound against hangs, not a
    timing assertion)."""
    import pytest

    try:
        async with asyncio.timeout(timeout):
            while True:
                value = predicate()
                if value:
                    return value
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"timed out after {timeout}s waiting for {what}")


FREE_PORTS = (30000, 32767)
"""Where :func:`free_port` looks: below Linux's ephemeral range (32768-60999 by default) and
above the benchmarks' ports (bench/common.py, 22000-29999). A port the kernel hands out for
``bind(0)`` comes from the ephemeral range, and so does the local port of every outgoing
connection, so one of the suite's many loopback clients could take it before the test binds
it (CI saw "Address already in use" for a simulator's port this way)."""
_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port_in(low: int, high: int, taken: set[int]) -> int | None:
    """A port of ``low..high`` that 127.0.0.1 can bind right now and that is not in ``taken``
    (it is added there): a few random tries, then every port from a random start; None when
    the range has none."""
    span = high - low + 1
    if span < 1:
        return None
    rng = random.Random()
    tries = [rng.randint(low, high) for _ in range(min(64, span))]
    first = rng.randint(low, high)
    tries += [low + (first - low + i) % span for i in range(span)]
    for port in tries:
        if port in taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    return None


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for brokers and simulators in tests), never one this
    process handed out before, and outside the range outgoing connections take their ports
    from (:data:`FREE_PORTS`)."""
    port = free_port_in(FREE_PORTS[0], min(FREE_PORTS[1], _ephemeral_low() - 1), _handed_out)
    if port is not None:
        return port
    with socket.socket() as sock:  # an unusual ephemeral range, or all taken: let the kernel choose
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GemhostProcess:
    """``python -m gemhost.cli ARGS`` as a real child process, for tests of what only a process
    shows (signals, exit codes, the log). Its log (stderr) is read by a thread, so every wait
    is bounded even when the process prints nothing; leaving the ``with`` block kills it if it
    still runs."""

    def __init__(self, *args: str, env: Mapping[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "gemhost.cli", *args], stderr=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, text=True, env=dict(env or os.environ))
        self.seen: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._ended = False
        self._reader = threading.Thread(target=self._read, name="gemhost-log", daemon=True)
        self._reader.start()

    def __enter__(self) -> GemhostProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)
        self._drain()

    @property
    def log(self) -> str:
        """Every log line read so far."""
        return "".join(self.seen)

    def read_until(self, needle: str, limit: float = 30.0) -> str:
        """The first new log line that contains ``needle``; fails (AssertionError with the log)
        when the process ends or ``limit`` seconds pass first."""
        deadline = time.monotonic() + limit
        while not self._ended and (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                self._ended = True
                break
            self.seen.append(line)
            if needle in line:
                return line
        raise AssertionError(f"{needle!r} never logged; log was:\n{self.log}")

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, as a service manager stops gemhost; the exit code once the process ended
        (``subprocess.TimeoutExpired`` after ``timeout``), with the rest of its log read."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout)
        self._drain()
        return code

    def _read(self) -> None:
        assert self.proc.stderr is not None
        with self.proc.stderr:
            for line in self.proc.stderr:
                self._lines.put(line)
        self._lines.put(None)

    def _drain(self) -> None:
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                return
            if line is None:
                self._ended = True
            else:
                self.seen.append(line)


class MqttWatcher:
    """A plain MQTT client that records everything under a filter, as a consumer would."""

    def __init__(self, url_port: int, protocol: aiomqtt.ProtocolVersion = aiomqtt.ProtocolVersion.V311) -> None:
        self.port = url_port
        self.protocol = protocol
        self.messages: list[aiomqtt.Message] = []
        self._new = asyncio.Condition()
        self.client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, *filters: str) -> MqttWatcher:
        self.client = aiomqtt.Client("127.0.0.1", self.port, protocol=self.protocol, timeout=5)
        await self.client.__aenter__()
        for f in filters:
            await self.client.subscribe(f, qos=1)
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        assert self.client is not None
        async for message in self.client.messages:
            async with self._new:
                self.messages.append(message)
                self._new.notify_all()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.client:
            try:
                await self.client.__aexit__(None, None, None)
            except aiomqtt.MqttError:
                pass

    def on(self, topic: str) -> list[aiomqtt.Message]:
        return [m for m in self.messages if m.topic.value == topic]

    async def wait(self, topic: str, check: Callable[[aiomqtt.Message], bool] = lambda m: True,
                   timeout: float = 10, *, after: int = 0) -> aiomqtt.Message:
        """The first message on ``topic`` that passes ``check``, skipping the first ``after``
        messages on that topic (``after=len(w.on(topic))``: only one not seen yet)."""
        async def find() -> aiomqtt.Message:
            async with self._new:
                while True:
                    for m in self.on(topic)[after:]:
                        if check(m):
                            return m
                    await self._new.wait()
        return await asyncio.wait_for(find(), timeout)

    async def wait_json(self, topic: str, check: Callable[[Any], bool] = lambda d: True,
                        timeout: float = 10, *, after: int = 0) -> Any:
        msg = await self.wait(topic, lambda m: bool(m.payload) and check(json.loads(m.payload)), timeout,
                              after=after)
        return json.loads(msg.payload)

    async def request(self, topic: str, body: Any, timeout: float = 10) -> Any:
        """Publish a command and wait for its reply on ``<topic>/reply`` (matched by id)."""
        assert self.client is not None
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        await self.client.subscribe(topic + "/reply", qos=1)
        seen = len(self.on(topic + "/reply"))
        await self.client.publish(topic, payload, qos=1)
        req_id = body.get("id") if isinstance(body, dict) else None

        def check(m: aiomqtt.Message) -> bool:
            return json.loads(m.payload).get("id") == req_id
        if req_id is None:
            async def nth() -> aiomqtt.Message:
                async with self._new:
                    while len(self.on(topic + "/reply")) <= seen:
                        await self._new.wait()
                return self.on(topic + "/reply")[seen]
            return json.loads((await asyncio.wait_for(nth(), timeout)).payload)
        return json.loads((await self.wait(topic + "/reply", check, timeout)).payload)


class FakeDeviceContext:
    """A :class:`gemhost.driver.DeviceContext` for driver unit tests, without a host.

    ``reports`` holds what the driver said; ``events`` what the host would publish, because
    reports go through the real :class:`~gemhost.lifetime.EventLifetime` with the driver's
    schema. ``zone_state`` merges set_zone_state fields with the core-owned ``active`` map.
    With ``auto_ack=False`` the delivery futures stay pending until :meth:`ack_all`, the way
    a broker that has not acknowledged yet leaves them.
    """

    def __init__(self, device: DeviceConfig, schema: DriverSchema, state_dir: Path | None = None, *,
                 pulse_hold: float = 5.0, auto_ack: bool = True) -> None:
        self.device = device
        self.log = logging.LoggerAdapter(logging.getLogger(f"test.{schema.driver}.{device.id}"), {})
        self.state_dir = state_dir or Path("/nonexistent")
        self.site_path = None
        self.events_wanted = True
        self.auto_ack = auto_ack
        self.reports: list[Event] = []
        self.events: list[Event] = []
        self.futures: list[asyncio.Future[None]] = []
        self.zone_state: dict[str, dict[str, Any]] = {}
        self.infos: list[DeviceInfo] = []
        self.progress: list[tuple[int, int | None, str]] = []
        self.added_zones: list[dict[str, Any]] = []
        self.changed = asyncio.Event()
        self.lifetime = EventLifetime(
            schema.event_kind, self._publish, self._zone_flag,
            quiet_time=float(device.attributes.get("event_quiet_time", 5000)) / 1000.0, pulse_hold=pulse_hold)

    def emit_event(self, event: Event) -> asyncio.Future[None]:
        self.reports.append(event)
        return self.lifetime.report(event)

    def end_open_events(self, reason: str = "offline") -> None:
        self.lifetime.end_all(reason)

    def set_zone_state(self, zone: str, **fields: Any) -> None:
        self.zone_state.setdefault(zone, {}).update(fields)
        self.changed.set()

    def set_device_info(self, info: DeviceInfo) -> None:
        self.infos.append(info)
        self.changed.set()

    def report_progress(self, done: int, total: int | None, what: str) -> None:
        self.progress.append((done, total, what))

    async def add_zones(self, zones: list[dict[str, Any]]) -> list[str]:
        self.added_zones.extend(zones)
        return [z["id"] for z in zones]

    def ack_all(self) -> None:
        for future in self.futures:
            if not future.done():
                future.set_result(None)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until predicate() holds (a bound against hangs, not a timing assertion)."""
        async def loop() -> None:
            while not predicate():
                self.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), 0.05)
        await asyncio.wait_for(loop(), timeout)

    def _publish(self, event: Event) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.events.append(event)
        self.futures.append(future)
        if self.auto_ack:
            future.set_result(None)
        self.changed.set()
        return future

    def _zone_flag(self, zone: str, event_type: str, on: bool) -> None:
        self.zone_state.setdefault(zone, {}).setdefault("active", {})[event_type] = on
        self.changed.set()


def check_reply_contract(schema: Any, command: str, reply: Any) -> dict[str, Any]:
    """Assert that a command's answer holds every reply key its schema declares (the core's
    capability commands declare them in gemhost/capability_commands.yaml); returns the reply.
    A driver may add keys of its own, never leave a declared one out."""
    declared = schema.commands[command].reply
    assert declared, f"{schema.driver}.{command} declares no reply keys"
    assert isinstance(reply, dict), f"{schema.driver}.{command} answered {type(reply).__name__}, not an object"
    missing = [k for k in declared if k not in reply]
    assert not missing, f"{schema.driver}.{command} reply lacks {missing}: {reply}"
    return reply
