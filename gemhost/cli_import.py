"""``gemhost import SITE DEVICE [--all | --new | CODE ...]``: pull zones from a VMS or cloud.

It runs the device's own ``import_*`` command (HikCentral's ``import_cameras``, Hik-Partner
Pro's ``import_devices``), the same code path as the MQTT command, so the shell and MQTT can
never import differently; the CLI only adds a progress line for long imports.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gemhost import contain
from gemhost.errors import NOT_SUPPORTED, CommandError
from gemhost.plugins import Registry


def add_import_parser(sub: Any, registry: Registry) -> None:
    p = sub.add_parser("import", help="import cameras/devices of a VMS or cloud account as zones")
    p.add_argument("site")
    p.add_argument("device")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--all", action="store_true", help="everything not yet in the site file")
    group.add_argument("--new", action="store_true", help="only what is new since the last import")
    group.add_argument("codes", nargs="*", default=[], help="camera index codes or device serials")
    p.set_defaults(func=lambda a: contain.run(_import(a, registry)))


def _import_command(schema: Any) -> tuple[str, str] | None:
    """The driver's import command and the list argument that takes the selection."""
    for command in schema.commands.values():
        if command.name.startswith("import_") and command.supported:
            for arg in command.args.values():
                if arg.type == "list":
                    return command.name, arg.name
    return None


async def _import(args: argparse.Namespace, registry: Registry) -> int:
    from gemhost.oneshot import run_one_shot

    if not (args.all or args.new or args.codes):
        print("give --all, --new or at least one code", file=sys.stderr)
        return 2
    selection = ["new"] if args.new else ["all"] if args.all else list(args.codes)

    async def job(host: Any, runner: Any) -> Any:
        found = _import_command(host.schemas[runner.config.driver])
        if found is None:
            raise CommandError(NOT_SUPPORTED, f"driver {runner.config.driver} of {args.device} "
                               "has no import command")
        command, arg = found
        runner.progress_listeners.append(_print_progress)
        await runner.first_attempt.wait()
        try:
            return await host.call(args.device, command, {arg: selection})
        finally:
            print(file=sys.stderr)  # end the progress line

    return await run_one_shot(args.site, args.device, registry, job)


def _print_progress(done: int, total: int | None, what: str) -> None:
    total_text = f"/{total}" if total else ""
    print(f"\r{done}{total_text} {what}", end="", file=sys.stderr, flush=True)
