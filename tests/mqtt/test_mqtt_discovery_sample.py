"""The sample site as a Home Assistant user meets it (issue 15, "Done when"): sample_site.yaml and
its simulators run on free loopback ports against a real broker, the HikCentral cameras imported
the way the sample's comments say. The discovery configs pass Home Assistant's keys
(tests/mqtt/ha_mqtt.py) and give: an alarm panel for the shop panel that arms and disarms the
simulated AX PRO, a door sensor for its door zone that follows the door, switches for the panel's
relays that switch the simulated relay, snapshot buttons only on cameras (ISAPI and HikCentral),
and no entity whose command answers not_supported: every button, switch and alarm-panel action
the configs offer is pressed, through the broker, and each one's reply is ok."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path
from typing import Any

from gemhost_drivers.hikcentral.simulator import HikCentralSimulator
from gemhost_drivers.hpp.simulator import HppSimulator
from ha_mqtt import check_config, render_command, render_value

from gemhost.host import Host
from gemhost.plugins import load_registry
from gemhost.testing import MqttWatcher, free_port

REPO = Path(__file__).resolve().parents[2]
B = "gem/sample"
PANEL = "Q20000001"
CONFIG = "homeassistant/device/sample_{}/config"
ISAPI_CAMERAS = ("driveway", "garden", "porch")


def sample_copy(tmp_path: Path, broker: Any) -> Path:
    folder = tmp_path / "sample"
    folder.mkdir()
    shutil.copy(REPO / "secrets.yaml", folder / "secrets.yaml")
    text = (REPO / "sample_site.yaml").read_text()
    for old in (18081, 18082, 18443, 18090):
        text = re.sub(rf"\b{old}\b", str(free_port()), text)
    text = text.replace("options: {key: sample-hpp-key-0123456789", "options: {key: sample-hpp-key-0123456789, "
                        "long_poll: 0.5", 1)
    mqtt = re.search(r"^mqtt:\n(?:[ #].*\n|\n)*?(?=^\S)", text, re.M)
    assert mqtt is not None
    protocol = "3.1.1" if broker.kind == "amqtt" else "auto"
    text = text.replace(mqtt.group(0), f'mqtt:\n  broker: "{broker.url}"\n  protocol: "{protocol}"\n'
                                       "  discovery: true\n\n")
    path = folder / "sample_site.yaml"
    path.write_text(text)
    return path


async def send(w: MqttWatcher, topic: str, payload: str) -> dict[str, Any]:
    """Publish what an entity publishes; gemhost's reply (exactly one per request)."""
    await w.client.subscribe(topic + "/reply", qos=1)
    seen = len(w.on(topic + "/reply"))
    await w.client.publish(topic, payload.encode(), qos=1)
    await w.wait(topic + "/reply", lambda m: w.on(topic + "/reply").index(m) >= seen, timeout=30)
    return json.loads(w.on(topic + "/reply")[seen].payload)


def presses(comp: dict[str, Any]) -> list[str]:
    """Every payload an entity can publish, as Home Assistant renders it."""
    if comp["p"] == "button":
        return [comp["payload_press"]]
    if comp["p"] == "switch":
        return [comp["payload_on"], comp["payload_off"]]
    if comp["p"] == "alarm_control_panel":
        actions = [f"ARM_{f.upper().removeprefix('ARM_')}" for f in comp["supported_features"]] + ["DISARM"]
        return [render_command(comp["command_template"], action=a, code=None) for a in actions]
    return []


def hpp_ready(d: dict[str, Any]) -> bool:
    """The HPP driver has said what its zones are: the AX PRO's relays, the door's detector."""
    cmps = d["cmps"]
    return "shop_hub_relay_1" in cmps and cmps.get("shop_front_door_sensor", {}).get("device_class") == "door"


def mark(w: MqttWatcher) -> set[int]:
    """The messages seen so far: a later wait must be met by a newer one."""
    return {id(m) for m in w.messages}


async def renders(w: MqttWatcher, topic: str, template: str, wanted: str, before: set[int]) -> None:
    """A state published after ``before`` renders ``wanted`` through the entity's template."""
    await w.wait(topic, lambda m: id(m) not in before and bool(m.payload) and
                 render_value(template, m.payload) == wanted, timeout=30)


async def test_sample_site_in_home_assistant(tmp_path, monkeypatch, mqtt_broker):
    monkeypatch.setenv("GEMHOST_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("GEMHOST_PLUGINS", raising=False)
    site = sample_copy(tmp_path, mqtt_broker)
    w = await MqttWatcher(mqtt_broker.port).start("homeassistant/#", f"{B}/#")
    host = Host(site, registry=load_registry())
    try:
        await host.start()
        hpp_sim = next(s for s in host.simulators if isinstance(s, HppSimulator))
        hcp_sim = next(s for s in host.simulators if isinstance(s, HikCentralSimulator))
        # HikCentral has no cameras until they are imported (the sample's comment: gemhost import)
        assert not w.on(CONFIG.format("hcp"))
        code = next(c.code for c in hcp_sim.cameras.values() if c.online)
        await w.wait_json(f"{B}/hcp/state", lambda d: d.get("online") is True, timeout=30)
        imported = await w.request(f"{B}/hcp/cmd/import_cameras", {"id": "imp", "args": {"cameras": [code]}},
                                   timeout=60)
        assert imported["ok"], imported
        (hcp_zone,) = imported["result"]["imported"]

        configs = {"hpp": await w.wait_json(CONFIG.format("hpp"), hpp_ready, timeout=30),
                   "hcp": await w.wait_json(CONFIG.format("hcp"),
                                            lambda d: f"{hcp_zone}_take_snapshot" in d["cmps"], timeout=60)}
        for device in ("front_nvr", "porch_cam"):
            configs[device] = await w.wait_json(CONFIG.format(device), timeout=30)
        schemas = host.schemas
        drivers = {"hpp": "hpp", "hcp": "hikcentral", "front_nvr": "hikvision_isapi", "porch_cam": "hikvision_isapi"}
        for config in configs.values():
            check_config(config)

        # snapshot images and buttons only on cameras (ISAPI and HikCentral), none over HPP
        cameras = (*ISAPI_CAMERAS, hcp_zone)
        for device, config in configs.items():
            for cid, comp in config["cmps"].items():
                if comp["p"] in ("image", "button"):
                    assert cid.startswith(cameras) and drivers[device] != "hpp", (device, cid)
        for zone in cameras:
            device = next(d for d, c in configs.items() if f"{zone}_take_snapshot" in c["cmps"])
            assert configs[device]["cmps"][f"{zone}_snapshot"]["p"] == "image"
        assert configs["porch_cam"]["cmps"]["porch_take_snapshot"]["name"] == "Take snapshot"
        hpp = configs["hpp"]["cmps"]
        assert {cid: c["p"] for cid, c in hpp.items() if cid.startswith("shop_")} == {
            "shop_hub_relay_0": "switch", "shop_hub_relay_1": "switch", "shop_panel_panel": "alarm_control_panel",
            "shop_front_door_sensor": "binary_sensor", "shop_front_door_bypass": "switch"}

        # no entity whose command can never work: every one names a supported command, and
        # every payload every entity can publish is answered ok
        for device, config in configs.items():
            for cid, comp in config["cmps"].items():
                if "command_topic" not in comp:
                    continue
                command = comp["command_topic"].rsplit("/", 1)[1]
                assert command == "action" or schemas[drivers[device]].commands[command].supported, (device, cid)
                for payload in presses(comp):
                    reply = await send(w, comp["command_topic"], payload)
                    assert reply["ok"], (device, cid, payload, reply)
        for zone in cameras:  # the presses took pictures
            device = next(d for d, c in configs.items() if f"{zone}_snapshot" in c["cmps"])
            image = await w.wait(configs[device]["cmps"][f"{zone}_snapshot"]["image_topic"],
                                 lambda m: bool(m.payload), timeout=30)
            assert base64.b64decode(image.payload)[:2] == b"\xff\xd8", zone

        # the alarm panel arms and disarms the simulated AX PRO and shows it
        ax_pro = hpp_sim.cloud.devices[PANEL]
        panel = hpp["shop_panel_panel"]
        for action, mode, shown in (("ARM_AWAY", "away", "armed_away"), ("DISARM", "disarm", "disarmed"),
                                    ("ARM_HOME", "stay", "armed_home")):
            before = mark(w)
            reply = await send(w, panel["command_topic"], render_command(panel["command_template"], action=action))
            assert reply["ok"], reply
            assert ax_pro.partitions[1].arming == mode
            await renders(w, panel["state_topic"], panel["value_template"], shown, before)

        # the door sensor follows the door: opened while armed it alarms (CID 1130), closed it
        # restores (3130), and the panel's contact state is read again with the next command
        door = hpp["shop_front_door_sensor"]
        assert render_value(door["value_template"], w.on(door["state_topic"])[-1].payload) == "OFF"
        before = mark(w)
        hpp_sim.contact(PANEL, 0, True)
        await renders(w, door["state_topic"], door["value_template"], "ON", before)
        hpp_sim.contact(PANEL, 0, False)
        before = mark(w)
        reply = await send(w, panel["command_topic"], render_command(panel["command_template"], action="DISARM"))
        assert reply["ok"] and ax_pro.partitions[1].arming == "disarm"
        await renders(w, door["state_topic"], door["value_template"], "OFF", before)

        # a relay switch switches the simulated relay and shows it
        relay = hpp["shop_hub_relay_0"]
        for payload, on, shown in ((relay["payload_on"], True, "ON"), (relay["payload_off"], False, "OFF")):
            before = mark(w)
            assert (await send(w, relay["command_topic"], payload))["ok"]
            assert ax_pro.relays[0] is on
            await renders(w, relay["state_topic"], relay["value_template"], shown, before)
    finally:
        await host.stop()
        await w.stop()
