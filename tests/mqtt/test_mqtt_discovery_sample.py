"""The sample site as a Home Assistant user meets it (issue 15, "Done when"): sample_site.yaml and
its simulators run on free loopback ports against a real broker; the discovery configs give an
alarm panel for the shop panel that arms and disarms it, a sensor for its alarm zone, snapshot
buttons only on cameras, and only entities that can work (tests/mqtt/ha_mqtt.py for the keys)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from gemhost_drivers.hpp.simulator import HppSimulator
from ha_mqtt import check_config, render_command, render_value

from gemhost.host import Host
from gemhost.plugins import load_registry
from gemhost.testing import MqttWatcher, free_port

REPO = Path(__file__).resolve().parents[2]
B = "gem/sample"


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


async def test_sample_site_in_home_assistant(tmp_path, monkeypatch, mqtt_broker):
    monkeypatch.setenv("GEMHOST_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("GEMHOST_PLUGINS", raising=False)
    site = sample_copy(tmp_path, mqtt_broker)
    w = await MqttWatcher(mqtt_broker.port).start("homeassistant/#", f"{B}/#")
    host = Host(site, registry=load_registry())
    try:
        await host.start()
        hpp = await w.wait_json("homeassistant/device/sample_hpp/config",
                                lambda d: "shop_panel_panel" in d["cmps"], timeout=30)
        configs = {"hpp": hpp}
        for device in ("front_nvr", "porch_cam"):
            configs[device] = await w.wait_json(f"homeassistant/device/sample_{device}/config", timeout=30)
        for config in configs.values():
            check_config(config)
        # snapshot buttons only on cameras; no motion sensor, image or button on panel parts
        for device, config in configs.items():
            for cid, comp in config["cmps"].items():
                if comp["p"] in ("image", "button"):
                    assert cid.startswith(("driveway", "garden", "porch", "yard_ptz")), (device, cid)
        assert {cid for cid in hpp["cmps"] if cid.startswith(("shop_panel", "shop_front_door"))} == \
            {"shop_panel_panel", "shop_front_door_sensor", "shop_front_door_bypass"}
        assert configs["porch_cam"]["cmps"]["porch_take_snapshot"]["name"] == "Take snapshot"
        # HikCentral has no cameras until they are imported: nothing to announce
        assert not w.on("homeassistant/device/sample_hcp/config")

        sim = next(s for s in host.simulators if isinstance(s, HppSimulator))
        panel = hpp["cmps"]["shop_panel_panel"]
        state_topic, topic = panel["state_topic"], panel["command_topic"]
        for action, mode, shown in (("ARM_AWAY", "away", "armed_away"), ("DISARM", "disarm", "disarmed")):
            seen = len(w.on(topic + "/reply"))
            await w.client.publish(topic, render_command(panel["command_template"], action=action, code=None),
                                   qos=1)
            await w.wait(topic + "/reply", lambda m, s=seen: w.on(topic + "/reply").index(m) >= s, timeout=20)
            assert json.loads(w.on(topic + "/reply")[seen].payload)["ok"]
            assert sim.cloud.devices["Q20000001"].subsystems[1].arming == mode
            await w.wait(state_topic, lambda m, v=shown: bool(m.payload) and
                         render_value(panel["value_template"], m.payload) == v, timeout=20)
    finally:
        await host.stop()
        await w.stop()
