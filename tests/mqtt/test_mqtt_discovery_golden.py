"""Snapshot tests of the Home Assistant discovery payloads, one device per built-in driver.

The configs are what Home Assistant turns into entities, so any change to them must be seen in
review: each device's config, built without a broker by the code the bridge uses
(:class:`gemhost.mqtt.discovery.Discovery`: the zone states' facts, then the config from site
file, schema and facts), is compared with ``tests/golden/discovery/<device>.json``. Regenerate
after an intended change (a capability edit) and review the diff:

    GEMHOST_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/mqtt/test_mqtt_discovery_golden.py

Stable by construction: sorted keys, the origin's version pinned (it is the only field that
changes between releases), no time anywhere in a config.

The ISAPI devices' facts come from real captures (../shared/fixtures/isapi-captures, from
hikvision_next's tests): the camera's and the NVR's deviceInfo and Event/triggers, read with the
driver's own parsers. The HPP zone states are the ones the HPP driver publishes for the guide's
categories (tests/drivers/hpp/test_hpp_outputs.py): a camera's alarm outputs (A.4.20-21), a
panel's relays (A.4.17), a subsystem's arming (A.5.9) and a magnetic contact (A.5.13).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import xmltodict
from gemhost_drivers.hikvision_isapi import kernel, triggers
from golden_check import GOLDEN, check_golden, stable_json
from ha_mqtt import check_config

from gemhost.mqtt.discovery import Discovery
from gemhost.mqtt.topics import Topics
from gemhost.plugins import load_registry
from gemhost.site import load_site

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT.parent / "shared" / "fixtures" / "isapi-captures" / "devices"
VERSION = "0.0.0+golden"
"""The origin's ``sw`` pinned: a release must not change the golden files."""

SITE = """
site: {id: golden, name: Golden site}
mqtt: {broker: embedded, discovery: true}
devices:
  - id: porch_cam
    driver: hikvision_isapi
    name: Porch camera
    area: Porch
    attributes: {ip: 127.0.0.1, username: admin, password: golden-cam-pass}
    zones:
      - id: porch
        attributes: {address: 1}
  - id: front_nvr
    driver: hikvision_isapi
    name: Front NVR
    attributes: {ip: 127.0.0.1, username: admin, password: golden-nvr-pass}
    zones:
      - {id: driveway, name: Driveway, attributes: {address: 1}}
  - id: hcp
    driver: hikcentral
    name: HikCentral
    attributes: {url: "https://127.0.0.1:18443", app_key: golden-app-key, app_secret: golden-app-secret}
    zones:
      - {id: lobby, name: Lobby, attributes: {camera: "1"}}
  - id: hpp
    driver: hpp
    name: Hik-Partner Pro
    attributes: {access_mode: key, key: golden-hpp-key-0123456789, domain: "http://127.0.0.1:18090"}
    zones:
      - {id: yard_ptz, name: Yard PTZ, attributes: {address: "Q10000002:1"}}
      - {id: yard_cam, name: Yard camera, attributes: {address: Q10000002}}
      - {id: shop_hub, name: Shop AX PRO, attributes: {address: Q20000001}}
      - {id: shop_panel, name: Shop alarm, attributes: {address: "Q20000001:sub:1"}}
      - {id: shop_door, name: Shop front door, attributes: {address: "Q20000001:zone:0"}}
"""
SECRETS = ("golden-cam-pass", "golden-nvr-pass", "golden-app-secret", "golden-hpp-key-0123456789")

ISAPI_MODELS = {"porch_cam": "DS-2CD2146G2-ISU", "front_nvr": "DS-7608NXI-I2"}

HPP_STATES: dict[str, dict[str, Any]] = {
    "yard_ptz": {"name": "Yard PTZ", "active": {}},
    "yard_cam": {"device_type": "ipc", "outputs": [1], "output_states": {"1": False}, "active": {}},
    "shop_hub": {"device_type": "alarm_host", "outputs": [0, 1], "output_states": {"0": False, "1": True},
                 "active": {}},
    "shop_panel": {"arming": "disarmed", "alarm": False, "active": {}},
    "shop_door": {"detector_type": "magneticContact", "open": False, "bypassed": False, "active": {}},
}


def isapi_capture(model: str) -> tuple[dict[str, Any], dict[int, list[str]]]:
    """(device info as the driver reports it, event types per channel) of a real device's
    deviceInfo and Event/triggers."""
    isapi = json.loads((CAPTURES / f"{model}.json").read_text())["data"]["ISAPI"]

    def body(path: str) -> str:
        return xmltodict.unparse(isapi[path]["response"])

    parsed = kernel.device_info(body("System/deviceInfo"))
    info = {"manufacturer": "Hikvision", "model": parsed["model"], "firmware": parsed["firmware"],
            "serial": parsed["serial"]}
    per_channel, _device_level = triggers.event_types(kernel.event_triggers(body("Event/triggers")))
    return info, per_channel


def zone_states(device: str, zones: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(device info, zone id -> zone state) of one device of SITE."""
    if device in ISAPI_MODELS:
        info, per_channel = isapi_capture(ISAPI_MODELS[device])
        return info, {zid: {"event_types": per_channel.get(int(z.attributes["address"]), []), "active": {},
                            "stream_url": f"rtsp://127.0.0.1:554/Streaming/Channels/{z.attributes['address']}01"}
                      for zid, z in zones.items()}
    if device == "hcp":
        return {}, {"lobby": {"active": {}, "stream_url": "rtsp://127.0.0.1:554/openUrl/golden"}}
    return {}, HPP_STATES


class Built:
    """Each device's config and the capability kind each zone got."""

    def __init__(self) -> None:
        self.configs: dict[str, dict[str, Any] | None] = {}
        self.kinds: set[tuple[str, str]] = set()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    site_path = tmp_path_factory.mktemp("golden") / "site.yaml"
    site_path.write_text(SITE)
    registry = load_registry()
    site = load_site(site_path, registry.schemas)
    discovery = Discovery(topics=Topics("gem/golden"), site_id=site.id, version=VERSION, state_dir=None)
    out = Built()
    for device in site.devices.values():
        schema = registry.schemas[device.driver]
        info, states = zone_states(device.id, device.zones)
        for zid, state in states.items():
            discovery.observe(device.id, schema, zid, state)
        out.configs[device.id] = discovery.config(device, schema, info)
        memory = discovery.facts(device.id, schema.capabilities)
        for zone in device.zones.values():
            kind = schema.capabilities.kind_of(zone.attributes, memory.facts(zone.id) if memory else {})
            assert kind is not None, f"{device.id}/{zone.id} is of no kind: it would get no entity"
            out.kinds.add((device.driver, next(n for n, k in schema.capabilities.kinds.items() if k is kind)))
    return out


@pytest.mark.parametrize("device", ["porch_cam", "front_nvr", "hcp", "hpp"])
def test_discovery_config_matches_golden(built, device):
    config = built.configs[device]
    assert config is not None, f"{device} announces nothing"
    check_config(config)
    text = stable_json(config)
    assert not [s for s in SECRETS if s in text], "a secret reached a discovery payload"
    check_golden(GOLDEN / "discovery" / f"{device}.json", text, f"the discovery config of {device}")


def test_golden_site_has_every_declared_zone_kind(built):
    """Every capability kind of the built-in schemas is in the golden files: a new kind fails
    here until the site gets a zone of it."""
    schemas = load_registry().schemas
    declared = {(driver, kind) for driver in ("hikvision_isapi", "hikcentral", "hpp")
                for kind in schemas[driver].capabilities.kinds}
    assert built.kinds == declared
