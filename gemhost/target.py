"""What a command request acts on: its command spec, its zone and its checked arguments.

A zone command may name its zone by id (``"zone": "door"``) or by the driver's zone key
(``"address": 1``). The target is resolved exactly once, here, and the driver receives only
that target: when a zone was named, the zone key argument is overwritten with the zone's own
value, so a driver reading ``args["address"]`` can never act on something other than the zone
the token was checked against. A request that names two different targets (``zone`` and a
zone key that disagree) is refused as ``invalid_args`` rather than guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import voluptuous as vol

from gemhost import errors
from gemhost.errors import CommandError
from gemhost.model import DeviceConfig, ZoneConfig
from gemhost.schema import Command, DriverSchema, friendly, mapping_validator


@dataclass
class Target:
    """A resolved request. ``conflict`` is set (and :meth:`checked_args` refuses) when the
    request named two different targets; it is kept apart so a zone-scoped token is checked
    against the named zone before the caller learns anything else."""

    spec: Command
    zone: ZoneConfig | None
    args: dict[str, Any]
    conflict: str | None = None

    def checked_args(self) -> dict[str, Any]:
        """The arguments validated against the command's schema (defaults filled in)."""
        if self.conflict is not None:
            raise CommandError(errors.INVALID_ARGS, self.conflict)
        try:
            return mapping_validator(self.spec.args)(self.args)
        except vol.MultipleInvalid as exc:
            details = "; ".join(f"argument {'.'.join(map(str, e.path)) or '?'!r}: {friendly(e, self.spec.args)}"
                                for e in exc.errors)
            raise CommandError(errors.INVALID_ARGS, details) from None


def resolve(schema: DriverSchema, device: DeviceConfig, command: str, args: dict[str, Any] | None,
            *, list_choices: bool = True) -> Target:
    """The command's spec and zone; CommandError for an unknown command, a command that is not
    supported, args that are not an object or a zone id the device does not have.

    ``list_choices`` False keeps the device's command and zone lists out of error messages
    (for a caller whose token covers only some zones of the device)."""
    spec = schema.commands.get(command)
    if spec is None:
        available = f" (available: {', '.join(schema.commands) or 'none'})" if list_choices else ""
        raise CommandError(errors.UNKNOWN_COMMAND, f"driver {schema.driver} has no command {command!r}{available}")
    if not spec.supported:
        raise CommandError(errors.NOT_SUPPORTED, spec.reason or f"{command} is not supported")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise CommandError(errors.INVALID_ARGS, "args must be a JSON object")
    args = dict(args)
    if spec.scope != "zone":
        return Target(spec, None, args)
    key = schema.zone_key
    zone_id = args.pop("zone", None) if "zone" not in spec.args else args.get("zone")
    if zone_id is not None:
        return _by_id(device, spec, args, key, str(zone_id), list_choices)
    if key and key in args:
        for zone in device.zones.values():
            if str(zone.attributes.get(key)) == str(args[key]):
                return Target(spec, zone, args)
    return Target(spec, None, args)


def _by_id(device: DeviceConfig, spec: Command, args: dict[str, Any], key: str | None, zone_id: str,
           list_choices: bool) -> Target:
    zone = device.zones.get(zone_id)
    if zone is None:
        choices = f" (zones: {', '.join(device.zones) or 'none'})" if list_choices else ""
        raise CommandError(errors.INVALID_ARGS, f"argument 'zone': device {device.id} has no zone {zone_id!r}{choices}")
    conflict = None
    if key:
        own = zone.attributes.get(key)
        if key in args and (own is None or str(args[key]) != str(own)):
            conflict = (f"arguments 'zone' ({zone_id!r}) and {key!r} ({args[key]!r}) name different targets; "
                        f"give only one of them")
        if key in spec.args and own is not None:
            args[key] = own  # the driver acts on the zone that was resolved, nothing else
    return Target(spec, zone, args, conflict)
