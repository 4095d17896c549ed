"""Shared fixtures: real MQTT brokers on free loopback ports.

``mqtt_broker`` is parametrized over the embedded amqtt broker (MQTT 3.1.1) and Debian's
mosquitto (MQTT 5), so every bridge test runs against both protocol versions.
"""

from __future__ import annotations

import asyncio
import getpass
import shutil
import subprocess
from pathlib import Path

import pytest

from gemhost.mqtt.broker import EmbeddedBroker
from gemhost.testing import free_port, skip_without

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


class AmqttBroker:
    kind = "amqtt"

    def __init__(self) -> None:
        self.port = 0
        self._broker: EmbeddedBroker | None = None

    async def start(self) -> None:
        self._broker = EmbeddedBroker("127.0.0.1", self.port)
        await self._broker.start()
        self.port = self._broker.port or 0

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.stop()
            self._broker = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


class MosquittoBroker:
    """mosquitto from its binary with a generated config: loopback only, no persistence
    (a restart loses retained messages, which is what the re-publish tests need)."""

    kind = "mosquitto"

    def __init__(self, workdir: Path, listener_options: str = "") -> None:
        self.port = free_port()
        self.workdir = workdir
        self.listener_options = listener_options
        self._proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        conf = self.workdir / "mosquitto.conf"
        # "user": stay the current user (as root mosquitto would switch to "mosquitto", which
        # cannot read the test's private tmp files).
        conf.write_text(f"user {getpass.getuser()}\nlistener {self.port} 127.0.0.1\n"
                        f"{self.listener_options}allow_anonymous true\n"
                        "persistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n")
        self._proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)
        for _ in range(200):
            if self._proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self._proc.stderr.read().decode()[-500:]}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.025)
        raise RuntimeError("mosquitto did not start listening")

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                await asyncio.to_thread(proc.wait, 10)
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.to_thread(proc.wait)
        if proc is not None and proc.stderr:
            proc.stderr.close()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


@pytest.fixture(params=["amqtt", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
async def mqtt_broker(request, tmp_path):
    """A running broker (amqtt or mosquitto) with ``url``, ``port``, ``start()``, ``stop()``."""
    if request.param == "mosquitto":
        if MOSQUITTO is None:
            skip_without("mosquitto")
        broker: AmqttBroker | MosquittoBroker = MosquittoBroker(tmp_path)
    else:
        broker = AmqttBroker()
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


@pytest.fixture
async def mosquitto_factory(tmp_path):
    """make(listener_options) -> a started mosquitto with extra listener lines (e.g. TLS)."""
    if MOSQUITTO is None:
        skip_without("mosquitto")
    brokers: list[MosquittoBroker] = []

    async def make(listener_options: str = "") -> MosquittoBroker:
        broker = MosquittoBroker(tmp_path, listener_options)
        await broker.start()
        brokers.append(broker)
        return broker

    yield make
    for broker in brokers:
        await broker.stop()
