"""Declared capabilities -> Home Assistant configs, without a broker: every built-in schema and the
sample site give configs Home Assistant accepts (tests/mqtt/ha_mqtt.py), malformed declarations
fail naming the spot, device-reported facts drive and persist entities, names are readable,
and the embedded broker explains a refused MQTT 5 client in one line."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import aiomqtt
import pytest
from ha_mqtt import check_config, render_command, render_value

from gemhost.capabilities import FactMemory, route_action
from gemhost.model import DeviceConfig, ZoneConfig
from gemhost.mqtt.broker import EmbeddedBroker
from gemhost.mqtt.discovery import Discovery, ZoneInput, device_config
from gemhost.mqtt.topics import Topics
from gemhost.plugins import load_registry
from gemhost.schema import SchemaError, load_schema
from gemhost.site import load_site

ROOT = Path(__file__).resolve().parents[2]
TOPICS = Topics("gem/t")


def config_for(device: DeviceConfig, schema, facts: dict[str, dict] | None = None, info: dict | None = None):
    zones = [ZoneInput(z, (facts or {}).get(z.id, {})) for z in device.zones.values()]
    return device_config(topics=TOPICS, site_id="t", device=device, schema=schema, info=info or {},
                         zones=zones, version="0")


def zone(zid: str, name: str | None = None, **attributes) -> ZoneConfig:
    return ZoneConfig(zid, name or zid, attributes)


def schema_file(tmp_path: Path, capabilities: str, commands: str = "") -> Path:
    path = tmp_path / "demo.yaml"
    path.write_text(f"""driver: demo
zone_key: address
zone:
  address: {{type: string, required: true}}
commands:
  snap: {{scope: zone}}
  go: {{scope: zone, args: {{address: {{type: string}}, preset: {{type: int}}}}}}
  relay: {{scope: zone, args: {{address: {{type: string}}, n: {{type: int}}, state: {{type: string}}}}}}
  info: {{scope: device}}
  gone: {{scope: zone, supported: false, reason: Not on this device.}}
{commands}
capabilities:
{capabilities}
""")
    return path


def test_sample_site_entities_are_what_each_zone_can_use():
    registry = load_registry()
    site = load_site(ROOT / "sample_site.yaml", registry.schemas)
    for device in site.devices.values():
        config = config_for(device, registry.schemas[device.driver])
        if device.zones:
            check_config(config)
        for cid, comp in config["cmps"].items():
            # a snapshot only where the schema has a working snapshot command
            if comp["p"] in ("image", "button"):
                assert registry.schemas[device.driver].commands["snapshot"].supported, cid
    hpp_device, hpp_schema = site.devices["hpp"], registry.schemas["hpp"]
    # before the driver said what the bare serial is, nothing is announced for it
    assert not [cid for cid in config_for(hpp_device, hpp_schema)["cmps"] if cid.startswith("shop_hub")]
    # the facts the HPP driver reports for the sample's zones (tests/drivers/hpp/test_hpp_outputs.py)
    facts = {"shop_hub": {"device_type": "alarm_host", "outputs": [0, 1]},
             "shop_front_door": {"detector_type": "magneticContact"}}
    config = config_for(hpp_device, hpp_schema, facts)
    check_config(config)
    hpp = config["cmps"]
    camera_events = ("motion", "intrusion", "line_crossing", "region_entrance", "region_exit", "tamper",
                     "video_loss")
    # every entity works over HPP: no snapshot, siren or instant arming (not_supported there)
    assert {cid: c["p"] for cid, c in hpp.items()} == {
        **{f"yard_ptz_{t}": "binary_sensor" for t in camera_events},
        "shop_hub_relay_0": "switch", "shop_hub_relay_1": "switch",
        "shop_panel_panel": "alarm_control_panel",
        "shop_front_door_sensor": "binary_sensor", "shop_front_door_bypass": "switch"}
    assert hpp["shop_front_door_sensor"]["device_class"] == "door"
    assert set(hpp["shop_panel_panel"]["supported_features"]) == {"arm_away", "arm_home"}
    # HikCentral cameras take snapshots through HCP's capture API (docs/drivers/hikcentral.md)
    hcp_device = DeviceConfig("hcp", "hikcentral", "HCP", {}, {"lobby": zone("lobby", "Lobby", camera="c1")})
    hcp = config_for(hcp_device, registry.schemas["hikcentral"])
    check_config(hcp)
    assert {c["p"] for c in hcp["cmps"].values()} == {"binary_sensor", "image", "button"}
    assert hcp["cmps"]["lobby_take_snapshot"]["p"] == "button"
    assert "json_attributes_topic" in hcp["cmps"]["lobby_motion"]


def test_isapi_channel_sensors_follow_the_device_list_and_persist(tmp_path):
    schema = load_registry().schemas["hikvision_isapi"]
    device = DeviceConfig("nvr", "hikvision_isapi", "NVR", {}, {"gate": zone("gate", "Gate", address=1)})
    assert [c for c in config_for(device, schema)["cmps"] if c.startswith("gate_") and
            config_for(device, schema)["cmps"][c]["p"] == "binary_sensor"] == ["gate_motion"]
    memory = FactMemory(tmp_path / "capabilities.json", schema.capabilities.fact_fields())
    assert memory.observe("gate", {"event_types": ["io", "line_crossing", "motion"], "active": {}})
    assert not memory.observe("gate", {"event_types": ["io", "line_crossing", "motion"]})  # unchanged: no write
    restarted = FactMemory(tmp_path / "capabilities.json", schema.capabilities.fact_fields())
    config = config_for(device, schema, {"gate": restarted.facts("gate")})
    check_config(config)
    sensors = {c: v for c, v in config["cmps"].items() if v["p"] == "binary_sensor"}
    assert set(sensors) == {"gate_io", "gate_line_crossing", "gate_motion"}
    assert sensors["gate_line_crossing"]["device_class"] == "motion"
    state = json.dumps({"name": "Gate", "active": {"line_crossing": True}})
    assert render_value(sensors["gate_line_crossing"]["value_template"], state) == "ON"
    assert render_value(sensors["gate_io"]["value_template"], state) == "OFF"


def test_hpp_bare_serial_is_a_camera_or_a_panel_by_fact():
    schema = load_registry().schemas["hpp"]
    device = DeviceConfig("hpp", "hpp", "HPP", {}, {"unit": zone("unit", "Unit", address="Q20000001")})
    assert config_for(device, schema)["cmps"] == {}  # not known yet: nothing that could be wrong
    assert config_for(device, schema, {"unit": {"device_type": "alarm_host"}})["cmps"] == {}  # no relays read yet
    panel = config_for(device, schema, {"unit": {"device_type": "alarm_host", "outputs": [0, 1]}})
    check_config(panel)
    assert {cid: c["p"] for cid, c in panel["cmps"].items()} == {"unit_relay_0": "switch", "unit_relay_1": "switch"}
    camera = config_for(device, schema, {"unit": {"device_type": "nvr", "outputs": [1]}})
    check_config(camera)
    assert "unit_motion" in camera["cmps"] and camera["cmps"]["unit_output_1"]["p"] == "switch"
    # HPP has no snapshot, siren or lock (not_supported): no entity for them on either
    assert not [c for c in {**panel["cmps"], **camera["cmps"]}.values()
                if c["p"] in ("image", "button", "siren", "lock")]
    assert config_for(device, schema, {"unit": {"device_type": "intercom", "outputs": [1]}})["cmps"] == {}
    # a relay switch sends set_output and shows the relay's real state, not an optimistic guess
    relay = panel["cmps"]["unit_relay_1"]
    assert relay["command_topic"] == "gem/t/hpp/cmd/set_output" and "optimistic" not in relay
    assert json.loads(relay["payload_on"])["args"] == {"zone": "unit", "output": 1, "state": "on"}
    assert json.loads(relay["payload_off"])["args"] == {"zone": "unit", "output": 1, "state": "off"}
    for states, shown in (({"0": False, "1": True}, "ON"), ({"1": False}, "OFF"), ({"1": None}, ""), ({}, ""),
                          ([1], "")):
        assert render_value(relay["value_template"], json.dumps({"output_states": states})) == shown, states


def test_alarm_zone_device_class_from_the_detector_type():
    schema = load_registry().schemas["hpp"]
    device = DeviceConfig("hpp", "hpp", "HPP", {}, {"door": zone("door", "Door", address="Q20000001:zone:1")})
    sensor = config_for(device, schema, {"door": {"detector_type": "magneticContact"}})["cmps"]["door_sensor"]
    assert sensor["device_class"] == "door"
    assert config_for(device, schema, {"door": {"detector_type": "smokeDetector"}})["cmps"]["door_sensor"][
        "device_class"] == "smoke"
    unknown = config_for(device, schema, {"door": {"detector_type": "somethingNew"}})["cmps"]["door_sensor"]
    assert unknown["device_class"] == "safety"
    # on while the contact is open (A.5.13 magnetOpenStatus, zone state open) or an alarm is open
    assert render_value(sensor["value_template"], json.dumps({"open": True, "active": {}})) == "ON"
    assert render_value(sensor["value_template"], json.dumps({"open": False, "active": {"alarm": True}})) == "ON"
    assert render_value(sensor["value_template"], json.dumps({"open": False, "active": {}})) == "OFF"


def test_panel_states_and_commands_render_as_home_assistant_would():
    schema = load_registry().schemas["hpp"]
    device = DeviceConfig("hpp", "hpp", "HPP", {}, {"area": zone("area", "Area", address="Q20000001:sub:2")})
    panel = config_for(device, schema)["cmps"]["area_panel"]
    # the arming the HPP driver publishes (A.5.9 arming with disarm as disarmed, CID reports)
    for state, shown in (({"arming": "away"}, "armed_away"), ({"arming": "stay"}, "armed_home"),
                         ({"arming": "arming"}, "arming"), ({"arming": "disarmed"}, "disarmed"),
                         ({"arming": "away", "alarm": True}, "triggered"),
                         ({"arming": "away", "active": {"alarm": True}}, "triggered"), ({"arming": "odd"}, ""),
                         ({}, "")):
        assert render_value(panel["value_template"], json.dumps(state)) == shown, state
    body = json.loads(render_command(panel["command_template"], action="ARM_HOME", code=None))
    assert body == {"id": "ha-area", "args": {"zone": "area", "action": "ARM_HOME"}}
    command, args = route_action(schema.capabilities, device.zones, None, body["args"])
    assert (command, args) == ("arm_stay", {"zone": "area"})
    # instant arming is not_supported over HPP (A.4.10): no arm_night feature, the action is refused
    assert "arm_night" not in panel["supported_features"]
    with pytest.raises(ValueError, match="offers disarm, arm_away, arm_home, not 'ARM_NIGHT'"):
        route_action(schema.capabilities, device.zones, None, {"zone": "area", "action": "ARM_NIGHT"})
    with pytest.raises(ValueError, match="no zone 'nope'"):
        route_action(schema.capabilities, device.zones, None, {"zone": "nope", "action": "disarm"})


def test_names_manufacturer_and_case():
    schema = load_registry().schemas["hikvision_isapi"]
    single = DeviceConfig("porch_cam", "hikvision_isapi", "Porch camera", {}, {"porch": zone("porch", address=1)})
    cmps = config_for(single, schema)["cmps"]
    assert [cmps[c]["name"] for c in ("porch_motion", "porch_snapshot", "porch_take_snapshot")] == \
        ["Motion", "Snapshot", "Take snapshot"]
    two = DeviceConfig("nvr", "hikvision_isapi", "NVR", {}, {"front_gate": zone("front_gate", address=1),
                                                               "yard": zone("yard", "Yard", address=2)})
    cmps = config_for(two, schema)["cmps"]
    assert cmps["front_gate_take_snapshot"]["name"] == "Front gate take snapshot"
    assert cmps["yard_motion"]["name"] == "Yard motion"
    dev = config_for(two, schema, info={"model": "DS-7608", "firmware": "V4"})["dev"]
    assert "manufacturer" not in dev and dev["model"] == "DS-7608"  # never guessed
    assert config_for(two, schema)["dev"]["model"] == schema.title


@pytest.mark.parametrize(("capabilities", "message"), [
    ("  cam: {snapshot: nope}", "capabilities.cam.snapshot: no command 'nope'"),
    ("  cam: {snapshot: info}", "command 'info' must have scope: zone"),
    ("  cam: {colour: red}", "capabilities.cam: unknown keys ['colour']"),
    ("  cam: {match: {address: '('}}", "capabilities.cam.match.address: invalid regular expression"),
    ("  cam: {events: motion}", "capabilities.cam.events: expected a list"),
    ("  cam: {alarm_panel: {state: s, states: {a: armed_moon}, actions: {disarm: snap}}}", "armed_moon not one of"),
    ("  cam: {alarm_panel: {state: s, states: {a: disarmed}, actions: {explode: snap}}}", "explode not one of"),
    ("  cam: {outputs: [{key: r, platform: valve, command: relay, number_arg: n, numbers: [1]}]}",
     "outputs[0].platform: 'valve'"),
    ("  cam: {outputs: [{key: r, platform: switch, command: relay, number_arg: n, numbers: [1], on: {state: x}}]}",
     "a switch needs on and off"),
    ("  cam: {outputs: [{key: r, platform: button, command: relay, number_arg: n}]}",
     "exactly one of numbers, numbers_from"),
    ("  cam: {sensor: {device_class: door}}", "needs an event, a flag or both"),
    ("  cam: {snapshot: gone}", "command 'gone' is declared supported: false, so an entity for it could never"),
    ("  cam: {outputs: [{key: r, platform: lock, command: relay, number_arg: n, numbers: [1], on: {state: a}, "
     "off: {state: b}, state_from: s}]}", "outputs[0].state_from: only a switch"),
    ("  cam: {}\n", None),
])
def test_malformed_capabilities_name_the_spot(tmp_path, capabilities, message):
    path = schema_file(tmp_path, capabilities)
    if message is None:
        assert load_schema(path).capabilities.kinds["cam"].title == "Cam"
        return
    with pytest.raises(SchemaError, match="demo.yaml capabilities") as err:
        load_schema(path)
    assert message in str(err.value)


def test_the_action_command_name_is_reserved(tmp_path):
    path = schema_file(tmp_path, "  cam: {snapshot: snap}", "  action: {scope: zone}")
    with pytest.raises(SchemaError, match="'action' is reserved"):
        load_schema(path)


def test_outputs_and_presets_from_facts(tmp_path):
    schema = load_schema(schema_file(tmp_path, """  cam:
    presets: {command: go, arg: preset, from: presets}
    outputs:
      - {key: relay, platform: switch, name: Relay, command: relay, number_arg: n, numbers_from: relays,
         on: {state: 'on'}, off: {state: 'off'}}
      - {key: gate, platform: lock, name: Gate, command: relay, number_arg: n, numbers: [7],
         on: {state: close}, off: {state: open}}
      - {key: bell, platform: button, name: Bell, command: relay, number_arg: n, numbers: [9], on: {state: pulse}}"""))
    device = DeviceConfig("d", "demo", "D", {}, {"z": zone("z", "Gate cam", address="a")})
    facts = {"z": {"presets": [1, {"id": 4, "name": "Driveway"}, "junk"], "relays": [1, 2]}}
    config = config_for(device, schema, facts)
    check_config(config)
    cmps = config["cmps"]
    assert cmps["z_preset_4"]["name"] == "Gate cam driveway" and "z_preset_1" in cmps and len(
        [c for c in cmps if c.startswith("z_preset_")]) == 2
    assert json.loads(cmps["z_preset_4"]["payload_press"])["args"] == {"zone": "z", "preset": 4}
    assert json.loads(cmps["z_relay_2"]["payload_off"])["args"] == {"zone": "z", "n": 2, "state": "off"}
    assert cmps["z_relay_1"]["name"] == "Gate cam relay 1"
    assert json.loads(cmps["z_gate_7"]["payload_lock"])["args"]["state"] == "close"
    assert json.loads(cmps["z_bell_9"]["payload_press"])["args"] == {"zone": "z", "n": 9, "state": "pulse"}


def test_the_capabilities_example_of_writing_a_driver_works(tmp_path):
    """docs/writing-a-driver.md: its capabilities block, with its schema block, loads and gives
    the entities it describes."""
    doc = (ROOT / "docs" / "writing-a-driver.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    example = next(b for b in blocks if b.startswith("capabilities:"))
    path = tmp_path / "mydriver.yaml"
    path.write_text(blocks[0] + example)
    schema = load_schema(path)
    device = DeviceConfig("box", "mydriver", "Box", {}, {"gate": zone("gate", "Gate", channel=1)})
    config = config_for(device, schema, {"gate": {"relays": [1, 2]}})
    check_config(config)
    assert {cid: c["p"] for cid, c in config["cmps"].items()} == {
        "gate_motion": "binary_sensor", "gate_tamper": "binary_sensor", "gate_snapshot": "image",
        "gate_take_snapshot": "button", "gate_relay_1": "switch", "gate_relay_2": "switch"}
    relay = config["cmps"]["gate_relay_2"]
    assert json.loads(relay["payload_on"])["args"] == {"zone": "gate", "output": 2, "state": "on"}
    assert render_value(relay["value_template"], json.dumps({"relay_states": {"2": True}})) == "ON"


def test_announced_components_are_removed_after_a_restart(tmp_path):
    schema = load_registry().schemas["hikvision_isapi"]
    both = DeviceConfig("nvr", "hikvision_isapi", "NVR", {}, {"a": zone("a", "A", address=1),
                                                              "b": zone("b", "B", address=2)})
    first = Discovery(topics=TOPICS, site_id="t", version="0", state_dir=lambda d: tmp_path / d)
    assert "b_motion" in first.config(both, schema, {})["cmps"]
    # the host restarts with zone b gone from the site file
    only_a = DeviceConfig("nvr", "hikvision_isapi", "NVR", {}, {"a": zone("a", "A", address=1)})
    again = Discovery(topics=TOPICS, site_id="t", version="0", state_dir=lambda d: tmp_path / d)
    cmps = again.config(only_a, schema, {})["cmps"]
    assert cmps["b_motion"] == {"p": "binary_sensor"} and cmps["b_snapshot"] == {"p": "image"}
    again.forget("nvr")
    assert not list((tmp_path / "nvr").iterdir())


async def test_embedded_broker_explains_a_refused_mqtt5_client(caplog):
    broker = EmbeddedBroker("127.0.0.1", 0)
    await broker.start()
    caplog.set_level(logging.INFO)
    try:
        for _attempt in range(2):
            with pytest.raises(aiomqtt.MqttError):
                async with aiomqtt.Client("127.0.0.1", broker.port, protocol=aiomqtt.ProtocolVersion.V5, timeout=5):
                    pass
        async with aiomqtt.Client("127.0.0.1", broker.port, protocol=aiomqtt.ProtocolVersion.V311, timeout=5):
            pass  # 3.1.1 still works
    finally:
        await broker.stop()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in warnings] == ["gemhost.mqtt.broker"], [r.getMessage() for r in warnings]
    line = warnings[0].getMessage()
    assert "MQTT 5 client from 127.0.0.1" in line and "choose protocol 3.1.1" in line and "\n" not in line
