"""The plugin contract checked at load time: schema commands and cmd_* methods agree, and
register_cli goes through pluggy with a public type, one plugin's failure its own."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from gemhost.cli import build_parser
from gemhost.driver import Driver
from gemhost.hookspecs import hookimpl
from gemhost.plugins import load_registry

SCHEMA = """
driver: {name}
title: Contract test
device:
  host: {{type: host, required: true}}
commands:
  ping: {{}}
  reboot: {{note: Restarts the device.}}
  reset_password:
    supported: false
    reason: not over this API
"""


def driver_class(tmp_path: Path, name: str, **methods: Any) -> type[Driver]:
    schema = tmp_path / f"{name}.yaml"
    schema.write_text(SCHEMA.format(name=name))
    return type(f"{name.title()}Driver", (Driver,), {"name": name, "schema_path": schema, **methods})


async def _ok(self, args, zone):
    return {}


def plugin_for(*classes: type[Driver]) -> Any:
    class Plugin:
        __name__ = "contract_plugin"

        @hookimpl
        def register_drivers(self, register):
            for cls in classes:
                register(cls)

    return Plugin()


def test_matching_commands_load(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMHOST_PLUGINS", "none-from-entry-points")
    cls = driver_class(tmp_path, "good", cmd_ping=_ok, cmd_reboot=_ok)
    registry = load_registry([plugin_for(cls)])
    assert registry.failures == {} and registry.drivers["good"].cls is cls


def test_every_mismatch_is_a_load_failure_naming_the_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMHOST_PLUGINS", "none-from-entry-points")
    cls = driver_class(tmp_path, "bad", cmd_ping=_ok, cmd_rebot=_ok, cmd_reset_password=_ok)
    registry = load_registry([plugin_for(cls)])
    assert "bad" not in registry.drivers
    assert registry.failures["contract_plugin:bad"] == (
        "schema commands without a cmd_ method: reboot; "
        "cmd_ methods the schema does not declare: cmd_rebot; "
        "commands declared supported: false but implemented: reset_password")


def test_a_synchronous_command_method_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMHOST_PLUGINS", "none-from-entry-points")

    def cmd_reboot(self, args, zone):
        return {}

    registry = load_registry([plugin_for(driver_class(tmp_path, "sync", cmd_ping=_ok, cmd_reboot=cmd_reboot))])
    assert registry.failures["contract_plugin:sync"] == "cmd_ methods that are not async: cmd_reboot"


def test_the_built_in_drivers_keep_the_contract(monkeypatch):
    monkeypatch.setenv("GEMHOST_PLUGINS", "hikvision_isapi,hikcentral,hpp")
    registry = load_registry()
    assert registry.failures == {}
    assert sorted(registry.drivers) == ["hikcentral", "hikvision_isapi", "hpp"]


class HelloPlugin:
    __name__ = "hello_plugin"

    @hookimpl
    def register_cli(self, add_command):
        parser = add_command("hello", help="say hello")
        assert isinstance(parser, argparse.ArgumentParser)
        parser.add_argument("who")
        parser.set_defaults(func=lambda args: f"hello {args.who}")


class CrashingCliPlugin:
    __name__ = "crashing_cli"

    @hookimpl
    def register_cli(self, add_command):
        raise RuntimeError("cli exploded")


class GreedyPlugin:
    __name__ = "greedy"

    @hookimpl
    def register_cli(self, add_command):
        add_command("run", help="take over gemhost run")


class OldStylePlugin:
    __name__ = "old_style"

    @hookimpl
    def register_cli(self, subparsers):
        subparsers.add_parser("old", help="written against the private argparse type")


def test_register_cli_runs_through_pluggy_and_isolates_failures(monkeypatch):
    monkeypatch.setenv("GEMHOST_PLUGINS", "none-from-entry-points")
    registry = load_registry([HelloPlugin(), CrashingCliPlugin(), GreedyPlugin()])
    parser = build_parser(registry)
    args = parser.parse_args(["hello", "world"])
    assert args.func(args) == "hello world"
    assert registry.failures == {
        "crashing_cli:cli": "register_cli failed: RuntimeError: cli exploded",
        "greedy:cli": "register_cli failed: ValueError: the subcommand name 'run' is already taken",
    }
    assert parser.parse_args(["run", "site.yaml"]).site == "site.yaml"  # the built-in is intact


def test_a_hook_with_the_old_argument_is_a_load_failure(monkeypatch):
    monkeypatch.setenv("GEMHOST_PLUGINS", "none-from-entry-points")
    registry = load_registry([OldStylePlugin()])
    assert registry.failures["old_style"].startswith("cannot register: PluginValidationError")
    assert "subparsers" in registry.failures["old_style"]


class PortlessSimulator:
    """A simulator that declares no --port: the CLI adds the default one."""

    driver = "portless"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--flavour", default="plain")

    @classmethod
    def options_from_args(cls, args: argparse.Namespace) -> dict[str, Any]:
        return {"flavour": args.flavour}


class OwnPortSimulator(PortlessSimulator):
    driver = "ownport"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--port", type=int, default=18999, help="its own default")


@pytest.mark.parametrize(("name", "port"), [("portless", 0), ("ownport", 18999)])
def test_simulate_port_default_or_the_simulators_own(monkeypatch, name, port):
    monkeypatch.setenv("GEMHOST_PLUGINS", "none-from-entry-points")
    registry = load_registry()
    registry.simulators = {"portless": PortlessSimulator, "ownport": OwnPortSimulator}
    args = build_parser(registry).parse_args(["simulate", name])
    assert args.port == port and args.host == "127.0.0.1"
    assert build_parser(registry).parse_args(["simulate", name, "--port", "5"]).port == 5
