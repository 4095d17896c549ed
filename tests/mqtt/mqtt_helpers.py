"""Helpers for the MQTT tests: an in-test driver and its schema, site files, a watcher client."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from gemhost.driver import Driver
from gemhost.errors import DeviceError, DeviceUnreachable, NotSupported
from gemhost.hookspecs import hookimpl
from gemhost.model import DeviceInfo, Event
from gemhost.testing import MqttWatcher

SCHEMA = """
driver: fakecam
title: Fake camera
zone_key: address
device:
  reachable: {type: bool, default: true}
  status_interval: {type: int, default: 60000}
zone:
  address: {type: int, required: true, min: 1, max: 64, unique: true}
commands:
  echo:
    args:
      text: {type: string, required: true}
      times: {type: int, default: 1, min: 1, max: 5}
  snapshot:
    scope: zone
    args:
      address: {type: int, min: 1, max: 64}
  slow:
    args:
      seconds: {type: float, default: 5}
  hold:
    timeout: 30
    note: waits until the test releases it (RELEASE), to prove others are not blocked
  fail: {}
  unimplemented: {}
  ptz:
    supported: false
    reason: this camera has no PTZ motor
capabilities:
  camera:
    title: Camera
    events: [motion]
    snapshot: snapshot
"""

HELD = asyncio.Event()
RELEASE = asyncio.Event()
JPEG = b"\xff\xd8\xff\xe0fake-jpeg-bytes\xff\xd9"


class FakeCam(Driver):
    """Answers like a camera would, with every failure path a command can take."""

    name = "fakecam"
    version = "1.2.3"
    schema_path: ClassVar[Path]

    async def connect(self) -> DeviceInfo:
        if not self.settings.reachable:
            raise DeviceUnreachable("connection refused")
        return DeviceInfo(model="FC-1", firmware="V5.7.0", serial="FC0001", manufacturer="Hikvision")

    async def cmd_echo(self, args: dict[str, Any], zone: Any) -> dict[str, Any]:
        return {"text": args["text"] * args["times"]}

    async def cmd_snapshot(self, args: dict[str, Any], zone: Any) -> dict[str, Any]:
        return {"content_type": "image/jpeg", "base64": base64.b64encode(JPEG).decode(),
                "zone": zone.id if zone else None}

    async def cmd_slow(self, args: dict[str, Any], zone: Any) -> dict[str, Any]:
        await asyncio.sleep(args["seconds"])
        return {"slept": args["seconds"]}

    async def cmd_hold(self, args: dict[str, Any], zone: Any) -> dict[str, Any]:
        HELD.set()
        await RELEASE.wait()
        return {"released": True}

    async def cmd_fail(self, args: dict[str, Any], zone: Any) -> dict[str, Any]:
        raise DeviceError("camera says: disk 2 not formatted")

    async def cmd_unimplemented(self, args: dict[str, Any], zone: Any) -> dict[str, Any]:
        raise NotSupported("firmware V5.4 has no such function")


class Plugin:
    __name__ = "fakecam_plugin"

    @hookimpl
    def register_drivers(self, register: Callable[[type[Driver]], None]) -> None:
        register(FakeCam)


def site_for(broker: Any, **kwargs: Any) -> str:
    """A site on ``broker``: amqtt is 3.1.1-only, so its tests skip the MQTT 5 probe (tested
    once on its own); mosquitto runs with ``auto`` and so over MQTT 5."""
    protocol = "3.1.1" if broker.kind == "amqtt" else "auto"
    return site_yaml(broker.url, protocol=protocol, **kwargs)


def site_yaml(broker_url: str, *, discovery: bool = True, require_token: bool = False,
              queue_size: int = 1000, extra_mqtt: str = "", devices: str | None = None,
              protocol: str = "auto") -> str:
    if devices is None:
        devices = DEVICES
    return f"""
site: {{id: lab, name: Test lab}}
mqtt:
  broker: "{broker_url}"
  discovery: {str(discovery).lower()}
  queue_size: {queue_size}
  max_payload: 4096
  keepalive: 5
  protocol: "{protocol}"
{extra_mqtt}
access: {{require_token: {str(require_token).lower()}}}
host: {{command_timeout: 0.5, command_concurrency: 2}}
devices:
{devices}
"""


DEVICES = """
  - id: cam1
    driver: fakecam
    name: Front door
    area: Entrance
    zones:
      - {id: door, name: Door, attributes: {address: 1}}
      - {id: yard, name: Yard, attributes: {address: 2}}
  - id: cam2
    driver: fakecam
    name: Garage
    attributes: {reachable: false}
"""


Watcher = MqttWatcher  # the MQTT consumer lives in gemhost.testing, shared with the e2e tests


def zone_event(zone: str | None, kind: str = "motion", state: str = "active", n: int = 0) -> Event:
    return Event(type=kind, vendor_type="VMD" if kind == "motion" else kind, state=state, zone=zone,
                 channel=1, data={"n": n}, id=f"ev{n}")
