"""Helpers of the fault-injection suite: a misbehaving in-test driver, site files, bounded waits.

The suite attacks the host the way a hostile or broken world would: floods and malformed
requests through a real broker, tokens used beyond their scope, devices that change their
password, drivers that ignore cancellation or block the event loop, brokers that hang.
Everything runs on loopback with real servers; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import aiomqtt

from gemhost.driver import Driver
from gemhost.errors import AuthError
from gemhost.hookspecs import hookimpl
from gemhost.model import DeviceInfo
from gemhost.testing import skip_without, until

SITE_ID = "flt"
B = f"gem/{SITE_ID}"

SCHEMA = """
driver: faultcam
title: A camera that misbehaves on request
zone_key: address
device:
  connect: {type: enum, values: [ok, stubborn], default: ok,
            note: 'stubborn: connect() hangs and swallows every cancellation'}
  status_interval: {type: int, default: 60000}
zone:
  address: {type: int, required: true, min: 1, max: 64, unique: true}
commands:
  echo:
    args:
      text: {type: string, required: true}
  look:
    scope: zone
    args:
      address: {type: int, min: 1, max: 64}
  hold:
    timeout: 30
    note: waits until the test releases it
  block:
    note: blocks the event loop (time.sleep), as a driver calling a blocking library would
    args:
      seconds: {type: float, default: 1.5}
  stubborn:
    note: sleeps and swallows every cancellation, so only an abandoning timeout ends it
    args:
      seconds: {type: float, default: 3}
  relogin:
    note: logs in again, which the device refuses (a changed password)
capabilities:
  camera:
    title: Camera
    events: [motion]
"""

RELEASE = asyncio.Event()
LOGINS: dict[str, int] = {}
RUNS: Counter[str] = Counter()
"""Commands the driver actually ran, as ``device/command``."""


class FaultCam(Driver):
    """Answers like a camera until told to misbehave."""

    name = "faultcam"
    version = "0.1"
    schema_path: ClassVar[Path]

    async def command(self, name: str, args: dict[str, Any], zone: Any) -> Any:
        RUNS[f"{self.device.id}/{name}"] += 1
        return await super().command(name, args, zone)

    async def connect(self) -> DeviceInfo:
        if self.attrs.get("connect") == "stubborn":
            await _sleep_ignoring_cancellation(3600)
        return DeviceInfo(model="FLT-1", firmware="1.0", serial=f"FLT-{self.device.id}")

    async def poll(self) -> DeviceInfo:
        return DeviceInfo(model="FLT-1", firmware="1.0", serial=f"FLT-{self.device.id}")

    async def close(self) -> None:
        if self.attrs.get("connect") == "stubborn":
            await _sleep_ignoring_cancellation(3600)

    async def cmd_echo(self, args: dict[str, Any], zone: Any) -> dict[str, Any]:
        return {"text": args["text"]}

    async def cmd_look(self, args: dict[str, Any], zone: Any) -> dict[str, Any]:
        return {"zone": zone.id if zone else None, "address": args.get("address")}

    async def cmd_hold(self, args: dict[str, Any], zone: Any) -> dict[str, Any]:
        await RELEASE.wait()
        return {"released": True}

    async def cmd_block(self, args: dict[str, Any], zone: Any) -> dict[str, Any]:
        time.sleep(float(args["seconds"]))  # noqa: ASYNC251 - blocking on purpose: the fault under test
        return {"blocked": args["seconds"]}

    async def cmd_stubborn(self, args: dict[str, Any], zone: Any) -> dict[str, Any]:
        await _sleep_ignoring_cancellation(float(args["seconds"]))
        return {"finished": True}

    async def cmd_relogin(self, args: dict[str, Any], zone: Any) -> dict[str, Any]:
        LOGINS[self.device.id] = LOGINS.get(self.device.id, 0) + 1
        await asyncio.sleep(0.05)
        raise AuthError("HTTP 401: the device refused the password")


STUBBORN_UNTIL_TEARDOWN = threading.Event()
"""Set by the fixtures when a test ends: the stubborn sleeps stop, so pytest's event loop can
close (asyncio waits for every task when a loop closes; gemhost's CLI does not, see
gemhost.contain.run)."""


async def _sleep_ignoring_cancellation(seconds: float) -> None:
    """What a badly written driver does: catch CancelledError and carry on."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and not STUBBORN_UNTIL_TEARDOWN.is_set():
        try:
            await asyncio.sleep(min(0.05, max(0.0, end - time.monotonic())))
        except asyncio.CancelledError:
            continue


class FaultPlugin:
    __name__ = "faultcam_plugin"

    @hookimpl
    def register_drivers(self, register: Callable[[type[Driver]], None]) -> None:
        register(FaultCam)


FAULTCAMS = """
  - id: cam1
    driver: faultcam
    zones:
      - {id: door, attributes: {address: 1}}
      - {id: yard, attributes: {address: 2}}
  - id: cam2
    driver: faultcam
    zones:
      - {id: gate, attributes: {address: 1}}
"""


def site_yaml(broker: Any, *, devices: str = FAULTCAMS, mqtt: str = "", host: dict[str, Any] | None = None,
              require_token: bool = False, protocol: str | None = None, broker_url: str | None = None,
              max_payload: int = 4096) -> str:
    """A site on ``broker``; amqtt speaks 3.1.1 only, so its sites skip the MQTT 5 probe."""
    if protocol is None:
        protocol = "3.1.1" if getattr(broker, "kind", "") == "amqtt" else "auto"
    timing = {"command_timeout": 2, "command_concurrency": 2, "shutdown_timeout": 1, **(host or {})}
    return f"""
site: {{id: {SITE_ID}, name: Fault injection}}
mqtt:
  broker: "{broker_url or broker.url}"
  protocol: "{protocol}"
  keepalive: 5
  max_payload: {max_payload}
{mqtt}
access: {{require_token: {str(require_token).lower()}}}
host: {json.dumps(timing)}
devices:
{devices}
"""


async def connected(host: Any, timeout: float = 15) -> None:
    """Wait (bounded) until the host's MQTT bridge is connected."""
    await until(lambda: host.bridge.connected.is_set(), "the MQTT bridge connected", timeout)


def replies(messages: list[aiomqtt.Message], topic: str) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in messages if m.topic.value == topic]


class Collector:
    """A bare MQTT subscriber that only stores what arrives (cheap enough for floods)."""

    def __init__(self, port: int, protocol: aiomqtt.ProtocolVersion = aiomqtt.ProtocolVersion.V311) -> None:
        self.port, self.protocol = port, protocol
        self.messages: list[aiomqtt.Message] = []
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, *filters: str) -> Collector:
        self._client = aiomqtt.Client("127.0.0.1", self.port, protocol=self.protocol, timeout=10)
        await self._client.__aenter__()
        for f in filters:
            await self._client.subscribe(f, qos=1)
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        assert self._client is not None
        async for message in self._client.messages:
            self.messages.append(message)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._client is not None:
            try:
                await asyncio.wait_for(self._client.__aexit__(None, None, None), 10)
            except (aiomqtt.MqttError, TimeoutError):
                pass

    def payloads(self, topic: str) -> list[Any]:
        return [json.loads(m.payload) for m in self.messages if m.topic.value == topic]


KEEP_EVERYTHING = "max_queued_messages 1000000\n"
"""mosquitto option: never drop messages queued for a slow client (its default keeps 1,000
beyond the in-flight ones and drops the rest, QoS 1 included). A flood test that needs every
request to reach gemhost runs its broker with this, so what it measures is gemhost."""


async def publish_lines(port: int, topic: str, lines: list[bytes], qos: int = 1) -> None:
    """Publish one message per line at full speed with mosquitto_pub (a separate process, so
    the flood does not share the host's event loop)."""
    if shutil.which("mosquitto_pub") is None:
        skip_without("mosquitto_pub")
    proc = await asyncio.create_subprocess_exec(
        "mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", str(qos), "-t", topic, "-l",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(b"".join(line + b"\n" for line in lines)), 60)
    assert proc.returncode == 0, err.decode()
