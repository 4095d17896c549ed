"""The site-file check: every problem at once, each with its file, line and key path."""

from __future__ import annotations

import pytest

from gemhost.model import Secret
from gemhost.site import load_site
from gemhost.siteyaml import SiteFileError

GOOD = """
site:
  id: home
  name: Home
devices:
  - id: front_nvr
    driver: demo
    name: Front NVR
    attributes:
      host: 127.0.0.1
      key: !secret demo_key
      password: !env DEMO_PASSWORD
    zones:
      - id: door
        attributes: {channel: 1}
      - id: yard
        name: Back yard
        attributes:
          channel: 2
"""


def problems_of(path, registry) -> list[str]:
    with pytest.raises(SiteFileError) as info:
        load_site(path, registry.schemas)
    return [p.format(path.name) for p in info.value.problems]


def test_valid_site_resolves_secrets_and_defaults(write_site, registry, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "pw-from-env")
    path = write_site(GOOD)
    (path.parent / "secrets.yaml").write_text("demo_key: k3y-value\n")
    site = load_site(path, registry.schemas)
    device = site.devices["front_nvr"]
    assert site.id == "home" and site.mqtt.base_topic == "gem/home"
    assert device.attributes["port"] == 80 and device.attributes["mode"] == "key"
    assert isinstance(device.attributes["key"], Secret)
    assert device.attributes["key"].reveal() == "k3y-value"
    assert device.attributes["password"].reveal() == "pw-from-env"
    assert "k3y-value" not in repr(device)
    assert device.zones["yard"].name == "Back yard" and device.zones["yard"].attributes["channel"] == 2


def test_type_error_names_file_line_and_key_path(write_site, registry):
    path = write_site("""
    site: {id: home}
    devices:
      - id: front_nvr
        driver: demo
        attributes:
          host: 10.0.0.2
          key: abc
          port: eighty
    """)
    assert problems_of(path, registry) == [
        "site.yaml:8 devices[front_nvr].attributes.port: expected an integer, got 'eighty'"]


def test_all_problems_reported_at_once(write_site, registry):
    path = write_site("""
    site: {id: home}
    mqtt:
      brokr: embedded
    devices:
      - id: cam1
        driver: demo
        attributes:
          host: 10.0.0.2
          colour: red
          port: 70000
        zones:
          - id: door
            attributes: {channel: 1}
          - id: door
            attributes: {channel: 2}
          - id: yard
            attributes: {channel: 1}
          - id: Bad Zone
            attributes: {channel: 3}
      - id: cam1
        driver: demo
        attributes: {host: 10.0.0.3, key: x}
      - id: cam2
        driver: hikvison
        typo: 1
    """)
    problems = problems_of(path, registry)
    expected = [
        "site.yaml:3 mqtt.brokr: unknown key (allowed: broker, base_topic,",
        "site.yaml:9 devices[cam1].attributes.colour: unknown key",
        "site.yaml:10 devices[cam1].attributes.port: must be at most 65535, got 70000",
        "site.yaml:7 devices[cam1].attributes.key: is required when mode is key",
        "site.yaml:14 devices[cam1].zones[door].id: duplicate zone id 'door' (first at line 12)",
        "site.yaml:17 devices[cam1].zones[yard].attributes.channel: duplicate channel 1 (also zone 'door')",
        "site.yaml:18 devices[cam1].zones[Bad Zone].id: must be a short slug",
        "site.yaml:20 devices[cam1].id: duplicate device id 'cam1' (first at line 5)",
        "site.yaml:25 devices[cam2].typo: unknown key",
        "site.yaml:24 devices[cam2].driver: unknown driver 'hikvison' (installed: ",
    ]
    for start in expected:
        assert any(p.startswith(start) for p in problems), f"missing {start!r} in {problems}"
    assert len(problems) == len(expected)
    assert any("demo" in p for p in problems if "unknown driver" in p)  # lists installed drivers


def test_missing_secret_and_env_are_named(write_site, registry, monkeypatch):
    monkeypatch.delenv("NOPE_VAR", raising=False)
    path = write_site("""
    site: {id: home}
    devices:
      - id: cam
        driver: demo
        attributes:
          host: 10.0.0.2
          key: !secret cam_key
          password: !env NOPE_VAR
    """)
    (path.parent / "secrets.yaml").write_text("other: 1\n")
    assert problems_of(path, registry) == [
        "site.yaml:7 devices[cam].attributes.key: secret 'cam_key' is not in secrets.yaml",
        "site.yaml:8 devices[cam].attributes.password: environment variable 'NOPE_VAR' is not set",
    ]


def test_secret_value_never_echoed_in_errors(write_site, registry):
    path = write_site("""
    site: {id: home}
    devices:
      - id: cam
        driver: demo
        attributes: {host: 10.0.0.2, key: k, port: !secret cam_port}
    """)
    (path.parent / "secrets.yaml").write_text("cam_port: hunter2-port\n")
    problems = problems_of(path, registry)
    assert problems == ["site.yaml:5 devices[cam].attributes.port: expected an integer (value from a secret)"]


def test_yaml_syntax_error_has_line(write_site, registry):
    path = write_site("site:\n  id: home\ndevices:\n  - id: [unclosed\n")
    problems = problems_of(path, registry)
    assert len(problems) == 1 and problems[0].startswith("site.yaml:") and "invalid YAML" in problems[0]
    line = int(problems[0].split(":")[1].split()[0])
    assert line >= 4


def test_bad_site_block_and_broker(write_site, registry):
    path = write_site("""
    site: {id: Home Site}
    mqtt: {broker: "http://x", base_topic: "a/#"}
    """)
    problems = problems_of(path, registry)
    assert any(p.startswith("site.yaml:1 site.id: must be a short slug") for p in problems)
    assert any(p.startswith("site.yaml:2 mqtt.broker: expected 'embedded' or a URL") for p in problems)
    assert any(p.startswith("site.yaml:2 mqtt.base_topic:") for p in problems)


def test_broker_url_credentials_are_split_off(write_site, registry):
    path = write_site("""
    site: {id: home}
    mqtt: {broker: "mqtts://bridge:s3cret@broker.example:8883"}
    """)
    site = load_site(path, registry.schemas)
    assert site.mqtt.broker == "mqtts://broker.example:8883"
    assert site.mqtt.username == "bridge" and site.mqtt.password.reveal() == "s3cret"
    assert site.mqtt.tls and site.mqtt.port == 8883


def test_missing_secret_does_not_hide_other_problems_on_its_line(write_site, registry, monkeypatch):
    monkeypatch.delenv("NOPE_VAR", raising=False)
    path = write_site("""
    site: {id: home}
    devices:
      - id: cam
        driver: demo
        attributes: {host: 10.0.0.2, key: k, password: !env NOPE_VAR, port: eighty}
    """)
    assert problems_of(path, registry) == [
        "site.yaml:5 devices[cam].attributes.password: environment variable 'NOPE_VAR' is not set",
        "site.yaml:5 devices[cam].attributes.port: expected an integer, got 'eighty'",
    ]


@pytest.mark.parametrize("broker", ["mqtt://host:abc", "mqtt://host:99999"])
def test_bad_broker_port_is_a_problem_not_a_crash(write_site, registry, broker):
    path = write_site(f"site: {{id: home}}\nmqtt: {{broker: \"{broker}\"}}\n")
    problems = problems_of(path, registry)
    assert len(problems) == 1 and problems[0].startswith("site.yaml:2 mqtt.broker: expected 'embedded' or a URL")


def test_mqtt_block_details(write_site, registry, monkeypatch):
    monkeypatch.setenv("BROKER_URL", "mqtt://bridge:pw@127.0.0.1:1884")
    path = write_site("""
    site: {id: home}
    mqtt: {broker: !env BROKER_URL, protocol: 5, tls: {ca_file: missing-ca.pem}}
    """)
    assert problems_of(path, registry) == ["site.yaml:2 mqtt.tls.ca_file: file not found: missing-ca.pem"]
    (path.parent / "missing-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    site = load_site(path, registry.schemas)
    assert site.mqtt.protocol == "5" and site.mqtt.broker == "mqtt://127.0.0.1:1884"
    assert site.mqtt.username == "bridge" and site.mqtt.password.reveal() == "pw"


def test_reserved_ids_and_unknown_simulators(write_site, registry):
    path = write_site("""
    site: {id: Bad Id}
    simulators:
      - {driver: nosuch, port: 1}
    devices:
      - id: cam
        driver: demo
        area: Front yard
        attributes: {host: 10.0.0.2, key: k}
        zones:
          - {id: cmd, attributes: {channel: 1}}
    """)
    with pytest.raises(SiteFileError) as info:
        load_site(path, registry.schemas, set(registry.simulators))
    problems = [p.format(path.name) for p in info.value.problems]
    assert problems[0].startswith("site.yaml:1 site.id: must be a short slug")
    assert not any("base_topic" in p for p in problems)  # no echo of the bad id
    assert any(p.startswith("site.yaml:3 simulators[0].driver: no simulator for driver 'nosuch'") for p in problems)
    assert any(p.startswith("site.yaml:10 devices[cam].zones[cmd].id:") and "'cmd'" in p for p in problems)
    assert len(problems) == 3
