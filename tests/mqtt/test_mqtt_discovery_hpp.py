"""Home Assistant entities of a Hik-Partner Pro account, end to end: HppSimulator -> real Host ->
real broker (amqtt and mosquitto) -> the commands the entities publish, rendered from their
discovery config with Jinja2 as Home Assistant renders them (tests/mqtt/ha_mqtt.py), reach the
driver as the right gemhost command; the effect is read back from the simulated panel.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from gemhost_drivers.hpp.simulator import HppSimulator
from ha_mqtt import check_config, render_command, render_value

from gemhost.host import Host
from gemhost.plugins import load_registry
from gemhost.testing import MqttWatcher

KEY = "ha-hpp-key-5b0e1c77d2a94f31"
PANEL, PTZ = "Q20000001", "Q10000002"
B = "gem/ha"
CONFIG = "homeassistant/device/ha_hpp/config"
ZONES = {"yard_ptz": ("Yard PTZ", f"{PTZ}:1"), "yard_cam": ("Yard camera", PTZ), "shop_unit": ("Shop panel", PANEL),
         "shop_panel": ("Shop alarm", f"{PANEL}:sub:1"), "shop_door": ("Shop front door", f"{PANEL}:zone:0")}
CAMERA_EVENTS = {"motion", "intrusion", "line_crossing", "region_entrance", "region_exit", "tamper", "video_loss"}


def site_text(broker: Any, domain: str) -> str:
    protocol = "3.1.1" if broker.kind == "amqtt" else "auto"
    zones = "\n".join(f'      - {{id: {zid}, name: {name}, attributes: {{address: "{address}"}}}}'
                      for zid, (name, address) in ZONES.items())
    return f"""
site: {{id: ha, name: HA test}}
mqtt:
  broker: "{broker.url}"
  protocol: "{protocol}"
  keepalive: 5
  discovery: true
host: {{command_timeout: 10, shutdown_timeout: 2}}
devices:
  - id: hpp
    driver: hpp
    name: Hik-Partner Pro
    attributes: {{access_mode: key, key: "{KEY}", domain: "{domain}", status_interval: 5000, timeout: 5}}
    zones:
{zones}
"""


@pytest.fixture
async def rig(tmp_path, monkeypatch, mqtt_broker):
    monkeypatch.setenv("GEMHOST_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("GEMHOST_PLUGINS", raising=False)
    sim = HppSimulator(host="127.0.0.1", port=0, key=KEY, long_poll=0.2)
    await sim.start()
    path = tmp_path / "site.yaml"
    path.write_text(site_text(mqtt_broker, sim.url))
    hosts: list[Host] = []
    watcher = await MqttWatcher(mqtt_broker.port).start("homeassistant/#", f"{B}/#")

    class Rig:
        simulator = sim
        w = watcher
        site = path

        async def start(self) -> Host:
            host = Host(path, registry=load_registry())
            hosts.append(host)
            await host.start()
            return host

    yield Rig()
    await watcher.stop()
    for host in hosts:
        if not host.stopped.is_set():
            await host.stop()
    await sim.stop()


async def send(w: MqttWatcher, topic: str, payload: str) -> dict[str, Any]:
    """Publish what an entity publishes and return gemhost's reply (exactly one per request;
    the watcher's wildcard subscription already covers the reply topic)."""
    seen = len(w.on(topic + "/reply"))
    await w.client.publish(topic, payload.encode(), qos=1)
    await w.wait(topic + "/reply", lambda m: w.on(topic + "/reply").index(m) >= seen, timeout=20)
    return json.loads(w.on(topic + "/reply")[seen].payload)


def mark(w: MqttWatcher) -> set[int]:
    """The messages seen so far: a later wait must be met by a newer one."""
    return {id(m) for m in w.messages}


async def state_renders(w: MqttWatcher, zone: str, template: str, wanted: str, before: set[int] | None = None
                        ) -> None:
    """A zone state (published after ``before``, when given) renders ``wanted`` through the template."""
    seen = before or set()
    await w.wait(f"{B}/hpp/{zone}/state", lambda m: id(m) not in seen and bool(m.payload) and
                 render_value(template, m.payload) == wanted, timeout=20)


def full_config(d: dict[str, Any]) -> bool:
    """The driver has said what it knows: the bare serials' kinds and outputs, the door's detector,
    what the cloud says the device is (each may reach the broker in its own config: retained
    updates are sent at once, not held back to coalesce)."""
    cmps = d["cmps"]
    return "manufacturer" in d["dev"] and "shop_unit_relay_1" in cmps and "yard_cam_output_1" in cmps and \
        cmps.get("shop_door_sensor", {}).get("device_class") == "door"


async def test_hpp_entities_send_the_right_commands(rig):
    await rig.start()
    w, sim = rig.w, rig.simulator
    panel, camera = sim.cloud.devices[PANEL], sim.cloud.devices[PTZ]
    config = await w.wait_json(CONFIG, full_config, timeout=30)
    check_config(config)
    cmps = config["cmps"]
    platforms = {cid: c["p"] for cid, c in cmps.items()}
    # every zone kind gets the entities it can use over HPP, and nothing else: no snapshot
    # image or button, no siren, no instant arming (all not_supported through the cloud)
    assert {cid for cid in platforms if cid.startswith("shop_panel")} == {"shop_panel_panel"}
    assert {cid for cid in platforms if cid.startswith("shop_door")} == {"shop_door_sensor", "shop_door_bypass"}
    assert {cid: p for cid, p in platforms.items() if cid.startswith("shop_unit")} == {
        "shop_unit_relay_0": "switch", "shop_unit_relay_1": "switch"}
    assert {cid for cid in platforms if cid.startswith("yard_ptz")} == {f"yard_ptz_{t}" for t in CAMERA_EVENTS}
    assert {cid for cid in platforms if cid.startswith("yard_cam")} == \
        {f"yard_cam_{t}" for t in CAMERA_EVENTS} | {"yard_cam_output_1"}
    assert not {"image", "button", "siren", "lock"} & set(platforms.values())
    assert config["dev"]["manufacturer"] == "Hikvision" and config["dev"]["model"] == "Hik-Partner Pro"

    alarm = cmps["shop_panel_panel"]
    assert alarm["name"] == "Shop alarm" and alarm["code_arm_required"] is False
    assert set(alarm["supported_features"]) == {"arm_away", "arm_home"}
    await state_renders(w, "shop_panel", alarm["value_template"], "disarmed")
    # the payloads Home Assistant publishes: its defaults ARM_AWAY/ARM_HOME/DISARM through the
    # command_template (alarm_control_panel.py _publish: variables action and code)
    for action, mode, shown in (("ARM_AWAY", "away", "armed_away"), ("ARM_HOME", "stay", "armed_home"),
                                ("DISARM", "disarm", "disarmed")):
        payload = render_command(alarm["command_template"], action=action, code=None)
        before = mark(w)
        reply = await send(w, alarm["command_topic"], payload)
        assert reply["ok"], reply
        assert panel.partitions[1].arming == mode
        await state_renders(w, "shop_panel", alarm["value_template"], shown, before)
    refused = await send(w, alarm["command_topic"], render_command(alarm["command_template"], action="ARM_NIGHT"))
    assert refused["error"]["code"] == "invalid_args" and "arm_away" in refused["error"]["message"]

    door, bypass = cmps["shop_door_sensor"], cmps["shop_door_bypass"]
    assert door["name"] == "Shop front door" and door["device_class"] == "door"
    await state_renders(w, "shop_door", door["value_template"], "OFF")
    sim.contact(PANEL, 0, True)  # the door opens (disarmed: no alarm, the panel's zone status says so)
    before = mark(w)
    assert (await send(w, bypass["command_topic"], bypass["payload_on"]))["ok"]  # the panel is read again
    assert panel.zones[0].bypassed is True
    await state_renders(w, "shop_door", bypass["value_template"], bypass["state_on"], before)
    await state_renders(w, "shop_door", door["value_template"], "ON", before)
    sim.contact(PANEL, 0, False)
    before = mark(w)
    assert (await send(w, bypass["command_topic"], bypass["payload_off"]))["ok"]
    assert panel.zones[0].bypassed is False
    await state_renders(w, "shop_door", bypass["value_template"], bypass["state_off"], before)
    await state_renders(w, "shop_door", door["value_template"], "OFF", before)

    # switches show the relay as the device reports it (A.4.17 / A.4.21) and switch it
    for cid, zone, states in (("shop_unit_relay_1", "shop_unit", panel.relays),
                              ("yard_cam_output_1", "yard_cam", camera.io_outputs)):
        switch = cmps[cid]
        assert "optimistic" not in switch
        await state_renders(w, zone, switch["value_template"], switch["state_off"])
        before = mark(w)
        assert (await send(w, switch["command_topic"], switch["payload_on"]))["ok"] and states[1] is True
        await state_renders(w, zone, switch["value_template"], switch["state_on"], before)
        before = mark(w)
        assert (await send(w, switch["command_topic"], switch["payload_off"]))["ok"] and states[1] is False
        await state_renders(w, zone, switch["value_template"], switch["state_off"], before)
    assert panel.relays[0] is False  # the other relay untouched


async def test_hpp_entities_survive_a_restart_without_the_cloud(rig):
    """Facts (which bare serial is a panel, its relays, the door's detector) persist: a host
    restarted while the cloud is unreachable announces the same entities at once instead of
    dropping them."""
    host = await rig.start()
    first = await rig.w.wait_json(CONFIG, full_config, timeout=30)
    await host.stop()
    await rig.simulator.stop()
    seen = len(rig.w.on(CONFIG))
    await rig.start()
    again = await rig.w.wait_json(CONFIG, timeout=30, after=seen)
    assert {c: v for c, v in again["cmps"].items() if len(v) > 1} == \
        {c: v for c, v in first["cmps"].items() if len(v) > 1}
    state = Path(rig.site.parent / "state" / "hpp")
    facts = json.loads((state / "capabilities.json").read_text())["zones"]
    assert (facts["shop_unit"]["device_type"], facts["shop_unit"]["outputs"]) == ("alarm_host", [0, 1])
    assert facts["shop_door"]["detector_type"] == "magneticContact"
    await asyncio.sleep(0)  # the restarted host is stopped by the fixture
