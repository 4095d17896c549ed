"""Plugin discovery through entry points, and the CLI commands built on it."""

from __future__ import annotations

import json
from pathlib import Path

from gemhost.cli import main
from gemhost.hookspecs import hookimpl
from gemhost.plugins import load_registry


def test_third_party_driver_found_through_its_entry_point(registry):
    entry = registry.drivers["demo"]
    assert entry.version == "1.2.3"
    assert entry.source == "gemhost-demo 1.2.3 (entry point gemhost_demo.plugin)"
    assert entry.schema.zone_key == "channel"


def test_broken_plugin_is_reported_and_others_still_load(registry):
    assert "No module named 'gemhost_missing_dependency'" in registry.failures["broken"]
    assert "demo" in registry.drivers


def test_invalid_driver_registration_is_reported_by_name(plugin_path):
    class NotADriver:
        name = "bogus"

    class BadPlugin:
        @hookimpl
        def register_drivers(self, register):
            register(NotADriver)

    class CrashingPlugin:
        @hookimpl
        def register_drivers(self, register):
            raise RuntimeError("plugin exploded")

    registry = load_registry([BadPlugin(), CrashingPlugin()])
    assert registry.failures["BadPlugin:bogus"] == "registered object is not a gemhost.driver.Driver subclass"
    assert registry.failures["CrashingPlugin"] == "register hook failed: RuntimeError: plugin exploded"
    assert "demo" in registry.drivers


def test_plugin_filter_environment_variable(plugin_path, monkeypatch):
    monkeypatch.setenv("GEMHOST_PLUGINS", "demo")
    registry = load_registry()
    assert list(registry.drivers) == ["demo"] and registry.failures == {}


def test_cli_drivers_lists_name_version_source(plugin_path, capsys):
    main(["drivers"])
    out = capsys.readouterr().out
    assert "demo" in out and "1.2.3" in out and "gemhost-demo" in out
    assert "broken" in out and "FAILED" in out


def test_cli_describe_markdown_and_json(plugin_path, capsys):
    assert main(["describe", "demo"]) == 0
    out = capsys.readouterr().out
    assert "| Attribute | Required | Type | Default | Notes |" in out
    assert "| `port` | no | int 1..65535 | 80 | TCP port. |" in out
    assert "| `key` | when mode = key | string |  | API key in key mode. Secret: never logged or published. |" in out
    assert "| `reset_password` | The vendor does not allow password reset over this API. |" in out
    assert "| `mode` | no | key \\| pair | key | Login mode. |" in out  # enum bars escaped
    assert main(["describe", "demo", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["driver"] == "demo"
    assert {a["name"]: a["secret"] for a in data["device_attributes"]}["key"] is True
    assert [c["name"] for c in data["commands"]][:2] == ["echo", "sleep"]
    assert main(["describe", "nope"]) == 1
    assert "unknown driver 'nope'" in capsys.readouterr().err


def test_cli_check_exit_codes(plugin_path, write_site, capsys):
    good = write_site("site: {id: home}\ndevices:\n  - id: d1\n    driver: demo\n"
                      "    attributes: {host: 127.0.0.1, key: k}\n", name="good.yaml")
    assert main(["check", str(good)]) == 0
    assert "OK (site home, 1 devices, 0 zones)" in capsys.readouterr().out
    bad = write_site("site: {id: home}\ndevices:\n  - id: d1\n    driver: demo\n"
                     "    attributes: {host: 127.0.0.1, port: eighty}\n", name="bad.yaml")
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:5 devices[d1].attributes.port: expected an integer, got 'eighty'" in err
    assert f"{bad}:5 devices[d1].attributes.key: is required when mode is key" in err


def test_cli_call_runs_one_command(plugin_path, write_site, capsys):
    site = write_site("site: {id: home}\ndevices:\n  - id: d1\n    driver: demo\n"
                      "    attributes: {host: 127.0.0.1, key: k}\n  - id: d2\n    driver: demo\n"
                      "    attributes: {host: 127.0.0.2, key: k}\n")
    assert main(["call", str(site), "d1", "echo", "text=hello", "count=3"]) == 0
    assert json.loads(capsys.readouterr().out) == {"args": {"text": "hello", "count": 3}}
    assert main(["call", str(site), "d1", "echo", "count=30", "text=x"]) == 1
    error = json.loads(capsys.readouterr().out)["error"]
    assert error == {"code": "invalid_args", "message": "argument 'count': must be at most 10, got 30"}
    assert main(["call", str(site), "zz", "echo"]) == 1
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "unknown_device"


def test_docs_show_how_to_write_a_driver():
    doc = Path(__file__).resolve().parents[2] / "docs" / "writing-a-driver.md"
    text = doc.read_text()
    assert "gemhost.plugins" in text and "register_drivers" in text and "schema_path" in text


def test_cli_call_beside_a_running_site_uses_its_simulator(plugin_path, write_site, capsys):
    """`gemhost call` on the sample while `gemhost run` serves it: the simulator ports are
    taken by the running site, and the one-shot host talks to those simulators."""
    import asyncio
    import threading

    from gemhost_drivers.hikvision_isapi.simulator import IsapiSimulator

    from gemhost.testing import free_port

    port = free_port()
    loop = asyncio.new_event_loop()
    sim = IsapiSimulator(port=port, password="pw-running")
    loop.run_until_complete(sim.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        site = write_site(f"""
        site: {{id: home}}
        simulators:
          - {{driver: hikvision_isapi, port: {port}, options: {{password: pw-running}}}}
        devices:
          - id: cam
            driver: hikvision_isapi
            attributes: {{ip: 127.0.0.1, port: {port}, username: admin, password: pw-running}}
        """)
        assert main(["call", str(site), "cam", "get_device_info"]) == 0
        assert json.loads(capsys.readouterr().out)["model"] == sim.model
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(sim.stop())
        loop.close()
