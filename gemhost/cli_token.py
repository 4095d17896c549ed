"""``gemhost token create|revoke|list``: manage the site's command access tokens.

Works on the token file directly (no running host needed); a running host picks changes up
on its next command because the store re-reads the file when it changes.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gemhost.cli_output import print_json
from gemhost.hookspecs import AddCommand
from gemhost.tokens import TokenStore, parse_ttl


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_token_parser(add_command: AddCommand) -> argparse.ArgumentParser:
    parser = add_command("token", help="manage command access tokens",
                         description="Create, revoke and list access tokens for commands.")
    parser.add_argument("--site", type=Path, default=Path(os.environ.get("GEMHOST_SITE", "site.yaml")),
                        help="the site file whose tokens to manage (default: $GEMHOST_SITE or site.yaml)")
    sub = parser.add_subparsers(dest="token_action", required=True)

    def site_option(action: argparse.ArgumentParser) -> None:
        # also accepted after the action (gemhost token create --site x ...); SUPPRESS keeps
        # the value given before the action when it is not repeated here
        action.add_argument("--site", type=Path, default=argparse.SUPPRESS, help="the site file")

    create = sub.add_parser("create", help="issue a token (its value is shown once)")
    create.add_argument("--name", required=True, help="what the token is for, e.g. frigate or vms")
    create.add_argument("--devices", type=_csv, default=[],
                        help="comma-separated device ids, or '*' for all")
    create.add_argument("--zones", type=_csv, default=[],
                        help="comma-separated device/zone pairs covered even when the device is not")
    create.add_argument("--commands", type=_csv, default=["*"],
                        help="comma-separated commands (default: all)")
    create.add_argument("--ttl", default="never", help="lifetime: 30m, 1h, 7d, 2w or never (default)")
    site_option(create)
    create.set_defaults(func=_create)

    revoke = sub.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name")
    site_option(revoke)
    revoke.set_defaults(func=_revoke)

    lister = sub.add_parser("list", help="names, scopes and expiry (never the secret)")
    lister.add_argument("--json", action="store_true", help="machine-readable output")
    site_option(lister)
    lister.set_defaults(func=_list)
    return parser


def _create(args: argparse.Namespace) -> int:
    if not args.site.is_file():
        print(f"error: site file {args.site} not found (give --site or set GEMHOST_SITE)", file=sys.stderr)
        return 2
    try:
        ttl = parse_ttl(args.ttl)
        token = TokenStore.for_site(args.site).create(args.name, args.devices, args.zones, args.commands, ttl)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(token)
    print(f"token {args.name!r} created; store it now, it cannot be shown again", file=sys.stderr)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    if TokenStore.for_site(args.site).revoke(args.name):
        print(f"token {args.name!r} revoked")
        return 0
    print(f"error: no active token named {args.name!r}", file=sys.stderr)
    return 1


def _list(args: argparse.Namespace) -> int:
    tokens = TokenStore.for_site(args.site).list()
    if args.json:
        print_json(tokens)
        return 0
    if not tokens:
        print("no tokens")
        return 0
    for t in tokens:
        scope = ", ".join(t["devices"] + t["zones"]) or "-"
        print(f"{t['name']:<20} {t['status']:<8} expires {t['expires'] or 'never':<26} "
              f"devices/zones: {scope}  commands: {', '.join(t['commands'])}")
    return 0
