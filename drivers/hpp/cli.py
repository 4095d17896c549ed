"""``gemhost hpp ...``: the deliberate way to change a saved HPP connection.

The driver refuses to start when the configured account differs from the bound one; unbinding
is a separate, explicit step so that a typo in the site file can never re-point a customer's
connection at another account.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gemhost_drivers.hpp import binding

from gemhost.hookspecs import AddCommand
from gemhost.statedir import device_state_dir


def add_parsers(add_command: AddCommand) -> None:
    hpp = add_command("hpp", help="Hik-Partner Pro tools")
    sub = hpp.add_subparsers(dest="hpp_command", required=True)
    unbind = sub.add_parser("unbind", help="forget the HPP account a device is bound to")
    unbind.add_argument("site", help="the site file")
    unbind.add_argument("device", help="the device id of the HPP connection")
    unbind.set_defaults(func=run_unbind)


def run_unbind(args: argparse.Namespace) -> int:
    state_dir = device_state_dir(Path(args.site), args.device, create=False)
    try:
        bound = binding.load(state_dir)
    except Exception as exc:  # noqa: BLE001 - an unreadable record is removed all the same
        print(f"{args.device}: the binding record was unreadable ({exc}); removing it")
        bound = None
    if not binding.unbind(state_dir):
        print(f"{args.device}: no HPP binding recorded in {state_dir}; nothing to do")
        return 1
    what = bound.describe() if bound else "an unreadable binding"
    print(f"{args.device}: removed the binding to {what}; the next connect binds the configured account")
    return 0
