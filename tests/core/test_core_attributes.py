"""Typed attribute views generated from the schema, and the three attributes the core owns."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

import pytest

from gemhost.attributes import CORE_ATTRIBUTES, device_view, zone_view
from gemhost.host import Host
from gemhost.model import ONLINE, Secret
from gemhost.schema import SchemaError, load_schema, mapping_validator

SCHEMA = """
driver: my-cam
device:
  host: {type: host, required: true}
  port: {type: int, default: 80, min: 1, max: 65535}
  password: {type: string, secret: true}
  mode: {type: enum, values: [key, pair], default: key}
  key: {type: string, secret: true, required_when: {mode: key}}
  tags: {type: list, items: int}
  timeout: {type: float, default: 15, min: 1, max: 60, note: Slow cloud.}
zone:
  channel: {type: int, required: true, min: 1}
  stream: {type: enum, values: [main, sub], default: main}
"""


@pytest.fixture
def schema(tmp_path):
    path = tmp_path / "my-cam.yaml"
    path.write_text(SCHEMA)
    return load_schema(path)


def test_the_view_has_schema_defaults_and_types(schema):
    values = mapping_validator(schema.device)({"host": "127.0.0.1", "key": "k-123", "port": "8080"})
    view = device_view(schema, values)
    assert (view.host, view.port, view.mode, view.tags, view.password) == ("127.0.0.1", 8080, "key", None, None)
    assert view.key == Secret("k-123") and "k-123" not in repr(view)
    assert (view.timeout, view.status_interval, view.events) == (15, 60000, True)  # declared, core, core
    types = {f.name: f.type for f in dataclasses.fields(view)}
    assert types["host"] is str and types["port"] == int | None
    assert types["mode"] == Literal["key", "pair"] | None and types["tags"] == list[int] | None
    assert types["key"] == Secret | None and types["events"] == bool | None
    assert type(view).__name__ == "MyCamDeviceAttributes"


def test_absent_attributes_get_the_schema_default_even_unvalidated(schema):
    view = device_view(schema, {"host": "cam.local"})
    assert view.port == 80 and view.mode == "key" and view.status_interval == 60000


def test_a_misspelt_name_fails_instead_of_defaulting(schema):
    view = device_view(schema, {"host": "127.0.0.1"})
    with pytest.raises(AttributeError):
        view.prot  # noqa: B018 - the point is that it raises
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.port = 1


def test_a_missing_required_attribute_is_named(schema):
    with pytest.raises(ValueError, match="device attribute 'host' is required"):
        device_view(schema, {"port": 80})


def test_zone_view(schema):
    view = zone_view(schema, {"channel": 3})
    assert (view.channel, view.stream) == (3, "main")
    assert type(view).__name__ == "MyCamZoneAttributes"


def test_the_core_attributes_are_added_after_the_drivers_own(schema):
    assert CORE_ATTRIBUTES == ("status_interval", "timeout", "events")
    assert list(schema.device)[-2:] == ["status_interval", "events"]  # timeout is declared
    assert schema.device["timeout"].default == 15 and schema.device["timeout"].note == "Slow cloud."
    assert schema.device["status_interval"].min == 1000
    validated = mapping_validator(schema.device)({"host": "127.0.0.1", "key": "k", "events": "off"})
    assert validated["events"] is False and validated["status_interval"] == 60000


def test_a_core_attribute_of_another_type_is_a_schema_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("driver: bad\ndevice:\n  events: {type: list, items: string}\n")
    with pytest.raises(SchemaError, match="bad.yaml device.events: a core attribute; it must be a non-secret bool"):
        load_schema(path)


def test_the_built_in_drivers_have_every_core_attribute():
    from gemhost.schema import bundled_schema

    for driver in ("hikvision_isapi", "hikcentral", "hpp"):
        schema = load_schema(bundled_schema(driver))
        assert set(CORE_ATTRIBUTES) <= set(schema.device), driver


SITE = """
site: {id: home}
devices:
  - id: streaming
    driver: demo
    attributes: {host: 127.0.0.1, key: k1, status_interval: 50}
  - id: quiet
    driver: demo
    attributes: {host: 127.0.0.2, key: k2, status_interval: 50, events: false}
"""


async def test_the_host_runs_the_event_stream_only_when_events_is_on(write_site, registry, demo, wait_until):
    host = Host(write_site(SITE), registry, mqtt=False)
    await host.start()
    try:
        await wait_until(lambda: demo.EVENT_STREAMS["streaming"] >= 1)
        await wait_until(lambda: host.runners["quiet"].state.status == ONLINE)
        # the event task is created before the device is marked online: none was for "quiet"
        assert not [t for t in host.runners["quiet"]._tasks if t.get_name().startswith("events:")]
        assert demo.EVENT_STREAMS["quiet"] == 0
        assert host.runners["quiet"].settings.events is False
    finally:
        await host.stop()


def test_a_driver_reads_its_settings(registry, tmp_path):
    from gemhost_demo.driver import DemoDriver

    from gemhost.model import DeviceConfig, ZoneConfig
    from gemhost.testing import FakeDeviceContext

    schema = DemoDriver.schema()
    assert schema.source == Path(DemoDriver.schema_path)
    zone = ZoneConfig("door", "Door", {"channel": 2})
    device = DeviceConfig("d1", "demo", "D1", {"host": "127.0.0.9", "key": Secret("k")}, {"door": zone})
    driver = DemoDriver(FakeDeviceContext(device, schema))
    assert driver.settings.host == "127.0.0.9" and driver.settings.port == 80
    assert driver.zone_settings(zone).channel == 2 and driver.zone_settings(zone).label is None
