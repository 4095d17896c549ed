"""The ``gemhost`` command line: run, check, describe, drivers, call, import, diagnose, simulate, token."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

from gemhost import __version__, contain, logsetup
from gemhost.cli_diagnose import add_diagnose_parser
from gemhost.cli_import import add_import_parser
from gemhost.cli_output import print_json
from gemhost.cli_token import add_token_parser
from gemhost.describe import to_markdown
from gemhost.errors import StartupError, one_line
from gemhost.eventloop import daemon_loop_factory, loop_name
from gemhost.gcfreeze import freeze_when_started
from gemhost.plugins import Registry, load_registry, run_cli_hooks
from gemhost.site import load_site
from gemhost.siteyaml import SiteFileError

log = logging.getLogger("gemhost.cli")


def cmd_check(args: argparse.Namespace, registry: Registry) -> int:
    path = Path(args.site)
    try:
        site = load_site(path, registry.schemas, set(registry.simulators))
    except SiteFileError as exc:
        for problem in exc.problems:
            print(problem.format(str(args.site)), file=sys.stderr)
        print(f"{args.site}: {len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    zones = sum(len(d.zones) for d in site.devices.values())
    print(f"{args.site}: OK (site {site.id}, {len(site.devices)} devices, {zones} zones)")
    return 0


def cmd_drivers(args: argparse.Namespace, registry: Registry) -> int:
    if args.format == "json":
        print_json({"drivers": [e.info() for e in registry.drivers.values()], "failed": registry.failures})
    else:
        for entry in registry.drivers.values():
            print(f"{entry.name:<18} {entry.version:<10} {entry.source}")
        for name, reason in registry.failures.items():
            print(f"{name:<18} FAILED     {reason}")
    return 0 if registry.drivers else 1


def cmd_describe(args: argparse.Namespace, registry: Registry) -> int:
    names = [args.driver] if args.driver else list(registry.drivers)
    unknown = [n for n in names if n not in registry.drivers]
    if unknown:
        print(f"unknown driver {unknown[0]!r} (installed: {', '.join(registry.drivers) or 'none'})",
              file=sys.stderr)
        return 1
    if args.format == "json":
        schemas = [registry.drivers[n].schema.as_dict() for n in names]
        print_json(schemas[0] if args.driver else {"drivers": schemas})
    else:
        print("\n".join(to_markdown(registry.drivers[n].schema) for n in names))
    return 0


def parse_kv(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are JSON when they parse as JSON (numbers, lists), else text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"argument {pair!r} is not key=value")
        key, _, raw = pair.partition("=")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


async def _call(args: argparse.Namespace, registry: Registry) -> int:
    from gemhost.oneshot import run_one_shot

    try:
        call_args = parse_kv(args.args)
    except ValueError as exc:
        print_json({"ok": False, "error": {"code": "invalid_args", "message": str(exc)}})
        return 1

    async def job(host: Any, runner: Any) -> Any:
        spec = host.schemas[runner.config.driver].commands.get(args.command)
        if spec is None or not spec.offline_ok:
            await runner.first_attempt.wait()
        return await host.call(args.device, args.command, call_args, token=args.token)

    return await run_one_shot(args.site, args.device, registry, job)


async def _run(args: argparse.Namespace, registry: Registry) -> int:
    from gemhost.host import Host

    log.info("gemhost %s on the %s event loop", __version__, loop_name(asyncio.get_running_loop()))
    host = Host(args.site, registry)
    try:
        await host.start()
    except SiteFileError as exc:
        for problem in exc.problems:
            print(problem.format(str(args.site)), file=sys.stderr)
        await host.stop()
        return 1
    except (StartupError, OSError) as exc:
        print(f"{args.site}: {one_line(exc)}", file=sys.stderr)
        await host.stop()
        return 1
    freezer = asyncio.create_task(freeze_when_started(lambda: list(host.runners.values())))
    try:
        await host.run_forever()
    finally:
        freezer.cancel()
    return 0


async def _simulate(args: argparse.Namespace, registry: Registry) -> int:
    cls = registry.simulators[args.driver]
    options = cls.options_from_args(args)
    try:
        sim = cls(host=args.host, port=args.port, **options)
        await sim.start()
    except (ValueError, OSError) as exc:
        print(f"{args.driver} simulator: {one_line(exc)}", file=sys.stderr)
        return 1
    print(f"{args.driver} simulator listening on {sim.url} (Ctrl-C to stop)", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()
    return 0


class Subcommands:
    """The ``gemhost <name>`` subcommands. Built-ins and plugins (``register_cli``) add theirs
    through :meth:`add` alike, which refuses a name that is already taken."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self._sub = parser.add_subparsers(dest="subcommand", required=True)
        self.names: list[str] = []

    def add(self, name: str, *, help: str, description: str | None = None) -> argparse.ArgumentParser:
        if name in self.names:
            raise ValueError(f"the subcommand name {name!r} is already taken")
        self.names.append(name)
        return self._sub.add_parser(name, help=help, description=description)


def _add_simulate(commands: Subcommands, registry: Registry) -> None:
    p = commands.add("simulate", help="run a vendor simulator on loopback")
    sim_sub = p.add_subparsers(dest="driver", required=True)
    for name, cls in registry.simulators.items():
        # "resolve": a simulator that declares its own --port (or --host) replaces the default
        sp = sim_sub.add_parser(name, help=f"{name} simulator", conflict_handler="resolve")
        sp.add_argument("--host", default="127.0.0.1")
        sp.add_argument("--port", type=int, default=0, help="port (default: a free one)")
        cls.add_arguments(sp)
        sp.set_defaults(func=lambda a: contain.run(_simulate(a, registry)))


def build_parser(registry: Registry) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gemhost", description="Security devices to MQTT.")
    parser.add_argument("--version", action="version", version=f"gemhost {__version__}")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    commands = Subcommands(parser)

    p = commands.add("run", help="run a site: devices, liveness, events, MQTT")
    p.add_argument("site")
    p.set_defaults(func=lambda a: contain.run(_run(a, registry), loop_factory=daemon_loop_factory()))

    p = commands.add("check", help="validate a site file and list every problem")
    p.add_argument("site")
    p.set_defaults(func=lambda a: cmd_check(a, registry))

    p = commands.add("drivers", help="list installed drivers")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=lambda a: cmd_drivers(a, registry))

    p = commands.add("describe", help="print a driver's attributes and commands")
    p.add_argument("driver", nargs="?")
    p.add_argument("--format", choices=["markdown", "json"], default="markdown")
    p.set_defaults(func=lambda a: cmd_describe(a, registry))

    p = commands.add("call", help="run one command on one device, without MQTT")
    p.add_argument("site")
    p.add_argument("device")
    p.add_argument("command")
    p.add_argument("args", nargs="*", help="key=value arguments")
    p.add_argument("--token", help="access token, when the site requires one")
    p.set_defaults(func=lambda a: contain.run(_call(a, registry)))

    _add_simulate(commands, registry)
    add_import_parser(commands.add, registry)
    add_diagnose_parser(commands.add, registry)
    add_token_parser(commands.add)
    run_cli_hooks(registry, commands.add)
    return parser


def main(argv: list[str] | None = None) -> int:
    registry = load_registry()
    parser = build_parser(registry)
    args = parser.parse_args(argv)
    logsetup.configure(args.log_level)
    func = getattr(args, "func", None)
    if func is None:  # a plugin's command group without a runnable parser
        parser.print_usage(sys.stderr)
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
