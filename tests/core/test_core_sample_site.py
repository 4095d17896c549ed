"""sample_site.yaml is the first thing a user runs: it must stay valid and show every driver."""

from __future__ import annotations

from pathlib import Path

from gemhost.plugins import load_registry
from gemhost.site import load_site

ROOT = Path(__file__).resolve().parents[2]


def test_sample_site_is_valid_and_shows_every_built_in_driver():
    registry = load_registry()
    site = load_site(ROOT / "sample_site.yaml", registry.schemas)
    built_in = {"hikvision_isapi", "hikcentral", "hpp"}
    assert built_in <= set(registry.drivers)
    assert {d.driver for d in site.devices.values()} == built_in
    assert {s.driver for s in site.simulators} == built_in
    assert site.mqtt.embedded and site.mqtt.base_topic == "gem/sample"
    # Every device points at a simulator the site starts, on loopback.
    ports = {s.port for s in site.simulators}
    for device in site.devices.values():
        address = str(device.attributes.get("ip") or device.attributes.get("url") or device.attributes["domain"])
        assert "127.0.0.1" in address
        port = device.attributes.get("port") or int(address.rsplit(":", 1)[1])
        assert port in ports, device.id
    # The sample shows what the issues ask for: an NVR and a camera, an HPP camera and panel.
    assert {d.attributes.get("ip") and d.id for d in site.devices.values()} >= {"front_nvr", "porch_cam"}
    hpp_addresses = [z.attributes["address"] for z in site.devices["hpp"].zones.values()]
    assert any(":sub:" in a for a in hpp_addresses) and any(a.endswith(":1") for a in hpp_addresses)
