"""Home Assistant device-based discovery, checked against HA's documented keys."""

from __future__ import annotations

import json

from mqtt_helpers import DEVICES, site_for, zone_event

# From the Home Assistant MQTT docs (device-based discovery; binary_sensor, image, button).
TOP_KEYS = {"dev", "device", "o", "origin", "cmps", "components", "availability", "availability_mode",
            "availability_topic", "qos", "state_topic", "command_topic", "encoding"}
DEVICE_KEYS = {"identifiers", "connections", "name", "manufacturer", "model", "model_id", "sw_version",
               "hw_version", "serial_number", "suggested_area", "via_device", "configuration_url"}
ORIGIN_KEYS = {"name", "sw", "sw_version", "url", "support_url"}
COMMON = {"p", "platform", "name", "unique_id", "device_class", "icon", "enabled_by_default",
          "entity_category", "availability", "availability_mode", "qos", "object_id", "default_entity_id"}
PLATFORM_KEYS = {
    "binary_sensor": COMMON | {"state_topic", "value_template", "payload_on", "payload_off", "off_delay",
                               "expire_after", "force_update", "json_attributes_topic"},
    "image": COMMON | {"image_topic", "image_encoding", "content_type", "url_topic", "url_template"},
    "button": COMMON | {"command_topic", "command_template", "payload_press", "retain"},
}
BINARY_SENSOR_CLASSES = {"battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
                         "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving",
                         "occupancy", "opening", "plug", "power", "presence", "problem", "running", "safety",
                         "smoke", "sound", "tamper", "update", "vibration", "window"}
B = "gem/lab"
CONFIG = "homeassistant/device/lab_cam1/config"


def check_schema(config: dict) -> None:
    assert set(config) <= TOP_KEYS, set(config) - TOP_KEYS
    assert set(config["dev"]) <= DEVICE_KEYS and config["dev"]["identifiers"]
    assert set(config["o"]) <= ORIGIN_KEYS and config["o"]["name"] == "gemhost"
    for cid, comp in config["cmps"].items():
        platform = comp["p"]
        assert set(comp) <= PLATFORM_KEYS[platform], (cid, set(comp) - PLATFORM_KEYS[platform])
        if len(comp) > 1:
            assert comp["unique_id"]
        if platform == "binary_sensor" and "device_class" in comp:
            assert comp["device_class"] in BINARY_SENSOR_CLASSES


async def test_discovery_payloads_republish_and_removal(mqtt_broker, host_factory, watcher_factory):
    host = await host_factory(site_for(mqtt_broker))
    w = await watcher_factory(mqtt_broker.port, "homeassistant/#")
    config = await w.wait_json(CONFIG, lambda d: d["dev"].get("sw_version") == "V5.7.0")
    check_schema(config)
    assert config["dev"] == {"identifiers": ["gemhost_lab_cam1"], "name": "Front door",
                             "manufacturer": "Hikvision", "model": "FC-1", "sw_version": "V5.7.0",
                             "serial_number": "FC0001", "suggested_area": "Entrance"}
    assert config["availability_mode"] == "all"
    assert [a["topic"] for a in config["availability"]] == [f"{B}/host/status", f"{B}/cam1/availability"]
    assert list(config["cmps"])[0] == "door_motion"  # motion first
    motion = config["cmps"]["door_motion"]
    assert motion["state_topic"] == f"{B}/cam1/door/state" and motion["device_class"] == "motion"
    assert config["cmps"]["door_snapshot"]["image_topic"] == f"{B}/cam1/door/snapshot"
    press = json.loads(config["cmps"]["yard_take_snapshot"]["payload_press"])
    assert press["args"] == {"zone": "yard"}
    await w.wait("homeassistant/device/lab_cam2/config")

    # a new event type on a zone adds its binary_sensor
    host.runners["cam1"].emit_event(zone_event("door", "line_crossing"))
    config = await w.wait_json(CONFIG, lambda d: "door_line_crossing" in d["cmps"])
    check_schema(config)

    # Home Assistant restarted: everything is sent again
    before = len(w.on(CONFIG))
    await w.client.publish("homeassistant/status", b"online", qos=1)
    await w.wait(CONFIG, lambda m: w.on(CONFIG).index(m) >= before)

    # remove zone yard and device cam2 from the site file, then reload
    devices = DEVICES.replace("      - {id: yard, name: Yard, attributes: {address: 2}}\n", "")
    devices = devices[:devices.index("  - id: cam2")]
    host.site_path.write_text(site_for(mqtt_broker, devices=devices))
    result = await host.host_command("reload", {})
    assert result["ok"], result
    removed = await w.wait_json(CONFIG, lambda d: d["cmps"].get("yard_motion") == {"p": "binary_sensor"})
    check_schema(removed)
    assert removed["cmps"]["yard_snapshot"] == {"p": "image"}
    await w.wait("homeassistant/device/lab_cam2/config", lambda m: m.payload == b"")


async def test_removed_device_and_zone_topics_are_cleared(mqtt_broker, host_factory, watcher_factory):
    host = await host_factory(site_for(mqtt_broker, discovery=False))
    w = await watcher_factory(mqtt_broker.port, f"{B}/#", "homeassistant/#")
    await w.wait_json(f"{B}/cam1/yard/state")
    await w.wait(f"{B}/cam2/availability")
    devices = DEVICES.replace("      - {id: yard, name: Yard, attributes: {address: 2}}\n", "")
    devices = devices[:devices.index("  - id: cam2")]
    host.site_path.write_text(site_for(mqtt_broker, discovery=False, devices=devices))
    assert (await host.host_command("reload", {}))["ok"]
    await w.wait(f"{B}/cam1/yard/state", lambda m: m.payload == b"")
    await w.wait(f"{B}/cam2/availability", lambda m: m.payload == b"")
    await w.wait(f"{B}/cam2/state", lambda m: m.payload == b"")
    assert not w.on("homeassistant/device/lab_cam1/config")  # discovery off: nothing published
