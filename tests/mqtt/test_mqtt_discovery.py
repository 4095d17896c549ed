"""Home Assistant device-based discovery through a real broker, checked against HA's own keys
(tests/mqtt/ha_mqtt.py cites the Home Assistant source of every key set)."""

from __future__ import annotations

import json

from ha_mqtt import check_config, render_value
from mqtt_helpers import DEVICES, site_for, zone_event

B = "gem/lab"
CONFIG = "homeassistant/device/lab_cam1/config"


def check_schema(config: dict) -> None:
    check_config(config)


async def test_discovery_payloads_republish_and_removal(mqtt_broker, host_factory, watcher_factory):
    host = await host_factory(site_for(mqtt_broker))
    w = await watcher_factory(mqtt_broker.port, "homeassistant/#", f"{B}/#")
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
    # cam2 has no zones, so no entity: nothing is announced for it (a config without
    # components creates nothing in Home Assistant)
    assert not w.on("homeassistant/device/lab_cam2/config")

    # Entities come from declared capabilities only (issue 15): a type the schema does not
    # declare for the zone kind adds no sensor (it used to, and vanished after a restart).
    before = len(w.on(CONFIG))
    host.runners["cam1"].emit_event(zone_event("door", "line_crossing"))
    await w.wait_json(f"{B}/cam1/door/state", lambda d: d["active"].get("line_crossing"))
    await w.client.publish("homeassistant/status", b"online", qos=1)  # a re-send proves the config
    config = await w.wait_json(CONFIG, lambda d: len(w.on(CONFIG)) > before)
    assert "door_line_crossing" not in config["cmps"]
    state = (await w.wait(f"{B}/cam1/door/state")).payload
    assert render_value(config["cmps"]["door_motion"]["value_template"], state) in ("ON", "OFF")

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
    # Home Assistant drops the entities before their state topics are cleared (issue 15: the
    # other order made it render the templates on the empty payload and log errors)
    for topic in (f"{B}/cam1/yard/state", f"{B}/cam1/yard/snapshot", f"{B}/cam2/availability"):
        await w.wait(topic, lambda m: m.payload == b"")
    order = [(m.topic.value, m.payload) for m in w.messages]
    stub = next(i for i, (t, p) in enumerate(order) if t == CONFIG and b'"yard_motion":{"p":"binary_sensor"}' in p)
    assert stub < order.index((f"{B}/cam1/yard/state", b""))
    assert stub < order.index((f"{B}/cam1/yard/snapshot", b""))
    assert order.index(("homeassistant/device/lab_cam2/config", b"")) < order.index((f"{B}/cam2/availability", b""))


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
