"""Fixtures of the MQTT tests: a real Host on a site file in tmp_path, and watcher clients."""

from __future__ import annotations

from pathlib import Path

import aiomqtt
import pytest
from mqtt_helpers import SCHEMA, FakeCam, Plugin, Watcher

from gemhost.host import Host
from gemhost.plugins import load_registry


@pytest.fixture
def site_file(tmp_path, monkeypatch):
    """Returns write(text) -> path; state (tokens) goes to tmp_path too."""
    schema = tmp_path / "fakecam.yaml"
    schema.write_text(SCHEMA)
    FakeCam.schema_path = schema
    monkeypatch.setenv("GEMHOST_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("GEMHOST_PLUGINS", "none-of-the-bundled")
    path = tmp_path / "site.yaml"

    def write(text: str) -> Path:
        path.write_text(text)
        return path

    return write


@pytest.fixture
async def host_factory(site_file):
    hosts: list[Host] = []

    async def make(text: str) -> Host:
        host = Host(site_file(text), registry=load_registry([Plugin()]))
        hosts.append(host)
        await host.start()
        return host

    yield make
    for host in hosts:
        if not host.stopped.is_set():
            await host.stop()


@pytest.fixture
async def watcher_factory():
    watchers: list[Watcher] = []

    async def make(port: int, *filters: str, protocol=aiomqtt.ProtocolVersion.V311) -> Watcher:
        w = await Watcher(port, protocol).start(*filters)
        watchers.append(w)
        return w

    yield make
    for w in watchers:
        await w.stop()


