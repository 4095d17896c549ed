"""Fixtures of the fault-injection suite: a real Host on a site file in tmp_path, real MQTT
watchers, and the bundled drivers' loopback simulators. The brokers (``mqtt_broker``,
``mosquitto_factory``) come from tests/conftest.py.

Tests name their broker and simulators before ``start_host``: fixtures are torn down in
reverse, so hosts stop while what they talk to is still there."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from fault_helpers import LOGINS, RELEASE, RUNS, SCHEMA, STUBBORN_UNTIL_TEARDOWN, FaultCam, FaultPlugin

from gemhost.host import Host
from gemhost.mqtt.broker import EmbeddedBroker
from gemhost.plugins import load_registry
from gemhost.testing import MqttWatcher


@pytest.fixture
def site_path(tmp_path, monkeypatch) -> Path:
    """Where the site file goes; state (tokens, bindings) and the test schema beside it."""
    schema = tmp_path / "faultcam.yaml"
    schema.write_text(SCHEMA)
    FaultCam.schema_path = schema
    RELEASE.clear()
    LOGINS.clear()
    RUNS.clear()
    STUBBORN_UNTIL_TEARDOWN.clear()
    monkeypatch.setenv("GEMHOST_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("GEMHOST_PLUGINS", raising=False)
    return tmp_path / "site.yaml"


@pytest.fixture
async def start_host(site_path):
    """start(site_text, secrets=None) -> a started Host (bundled drivers and faultcam);
    every host is stopped at teardown, bounded."""
    hosts: list[Host] = []

    async def start(text: str, secrets: str | None = None) -> Host:
        site_path.write_text(text)
        if secrets is not None:
            site_path.with_name("secrets.yaml").write_text(secrets)
        host = Host(site_path, registry=load_registry([FaultPlugin()]))
        hosts.append(host)
        await host.start()
        return host

    yield start
    RELEASE.set()
    for host in hosts:
        if not host.stopped.is_set():
            await asyncio.wait_for(host.stop(), 30)
    STUBBORN_UNTIL_TEARDOWN.set()
    await asyncio.sleep(0.1)  # abandoned stubborn tasks notice it and end


@pytest.fixture
async def watch():
    """watch(port, *filters, protocol=...) -> a started MqttWatcher; all stopped at teardown."""
    made: list[MqttWatcher] = []

    async def make(port: int, *filters: str, protocol: Any = aiomqtt.ProtocolVersion.V311) -> MqttWatcher:
        w = await MqttWatcher(port, protocol).start(*filters)
        made.append(w)
        return w

    yield make
    for w in made:
        await w.stop()


@pytest.fixture
async def sims():
    """sims(cls, **options) -> a started loopback simulator of a bundled driver."""
    started: list[Any] = []

    async def make(cls: type, **options: Any) -> Any:
        sim = cls(host="127.0.0.1", port=0, **options)
        await sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in reversed(started):
        await sim.stop()


class _Amqtt:
    """The embedded amqtt broker on a free loopback port (MQTT 3.1.1)."""

    kind = "amqtt"

    def __init__(self, broker: EmbeddedBroker) -> None:
        self._broker = broker

    @property
    def port(self) -> int:
        return self._broker.port or 0

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


@pytest.fixture
async def amqtt_broker():
    """For tests where the broker does not matter: the fast in-process one."""
    broker = EmbeddedBroker("127.0.0.1", 0)
    await broker.start()
    try:
        yield _Amqtt(broker)
    finally:
        await asyncio.wait_for(broker.stop(), 15)


@pytest.fixture
async def mosquitto(mosquitto_factory):
    """A plain mosquitto (MQTT 5 and 3.1.1) on a free loopback port."""
    return await mosquitto_factory()
