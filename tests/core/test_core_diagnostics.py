"""Secret removal of diagnostics captures, and diagnose on a driver without a capture."""

from __future__ import annotations

import json

import pytest

from gemhost.cli import main
from gemhost.diagnostics import REDACTED, device_secrets, redact, to_json
from gemhost.model import DeviceConfig, Secret, ZoneConfig


def test_secret_values_and_sensitive_fields_are_removed_everywhere():
    capture = {"data": {"API": {
        "a": {"response": {"Info": {"name": "cam pw-Secret-1", "serialNumber": "SN1", "@UserName": "bob",
                                    "password": {"@encrypted": "true", "#text": "x"}, "empty": "",
                                    "list": ["pw-Secret-1 twice pw-Secret-1", 3, None]}}},
        "b": {"status_code": 403}}}}
    out = redact(capture, ["pw-Secret-1"])
    info = out["data"]["API"]["a"]["response"]["Info"]
    assert info == {"name": f"cam {REDACTED}", "serialNumber": REDACTED, "@UserName": REDACTED,
                    "password": REDACTED, "empty": "", "list": [f"{REDACTED} twice {REDACTED}", 3, None]}
    assert out["data"]["API"]["b"] == {"status_code": 403}
    assert capture["data"]["API"]["a"]["response"]["Info"]["serialNumber"] == "SN1"  # a copy


def test_device_secrets_from_device_and_zones():
    zone = ZoneConfig("z", "Z", {"stream_key": Secret("zone-key-1"), "n": 1})
    device = DeviceConfig("d", "x", "D", {"password": Secret("dev-pass"), "host": "h", "key": Secret("")},
                          {"z": zone})
    assert device_secrets(device) == ["zone-key-1", "dev-pass"]


def test_to_json_refuses_a_surviving_secret():
    assert json.loads(to_json({"name": "has s3cr3t"}, ["s3cr3t"])) == {"name": f"has {REDACTED}"}
    with pytest.raises(ValueError, match="still in the capture"):
        to_json({"s3cr3t": 1}, ["s3cr3t"])  # a key is not redacted: refuse rather than leak


def test_diagnose_on_a_driver_without_a_capture(plugin_path, write_site, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    site = write_site("site: {id: home}\ndevices:\n  - id: d1\n    driver: demo\n"
                      "    attributes: {host: 127.0.0.1, key: k}\n")
    assert main(["diagnose", str(site), "d1"]) == 1
    error = json.loads(capsys.readouterr().out)["error"]
    assert error == {"code": "not_supported", "message": "driver demo cannot capture diagnostics"}
    assert not (tmp_path / "d1-diagnostics.json").exists()
