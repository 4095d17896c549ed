"""Driver schema files (``schemas/<driver>.yaml``) turned into voluptuous validators.

The schema file is data and the single source of truth: the site-file check, command
argument validation and ``gemhost describe`` all read it, so documentation and behaviour
cannot drift apart. The format is documented in docs/writing-a-driver.md.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import voluptuous as vol
import yaml

from gemhost.capabilities import Capabilities, CapabilityError
from gemhost.capabilities import parse as parse_capabilities
from gemhost.model import Secret

TYPES = ("string", "int", "float", "bool", "enum", "url", "host", "path", "list")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


class SchemaError(Exception):
    """A schema file itself is malformed (a driver bug, reported with the file name)."""


@dataclass
class Attribute:
    """One attribute or command argument as the schema declares it."""

    name: str
    type: str = "string"
    required: bool = False
    default: Any = None
    values: list[Any] | None = None
    min: float | None = None
    max: float | None = None
    lengths: list[int] | None = None
    pattern: str | None = None
    items: str | None = None
    secret: bool = False
    unique: bool = False
    required_when: dict[str, Any] | None = None
    explain: str = ""
    """Appended to every rule violation's message (e.g. why only 10 or 32 characters)."""
    default_label: str = ""
    """What describe shows as the default when it depends on other values (no ``default``)."""
    note: str = ""

    def type_label(self) -> str:
        if self.type == "enum" and self.values:
            return " | ".join(str(v) for v in self.values)
        label = self.type if self.type != "list" else f"list of {self.items or 'string'}"
        if self.min is not None or self.max is not None:
            lo = "" if self.min is None else _num(self.min)
            hi = "" if self.max is None else _num(self.max)
            label += f" {lo}..{hi}"
        if self.lengths:
            label += " (" + " or ".join(str(n) for n in self.lengths) + " chars)"
        return label

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "required": self.required}
        for key in ("values", "min", "max", "lengths", "pattern", "items", "required_when"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.default is not None:
            out["default"] = self.default
        if self.default_label:
            out["default_label"] = self.default_label
        out["secret"] = self.secret
        if self.unique:
            out["unique"] = True
        out["note"] = self.note
        return out


@dataclass
class Command:
    """A command a driver accepts; ``scope: zone`` commands address one zone."""

    name: str
    scope: str = "device"
    args: dict[str, Attribute] = field(default_factory=dict)
    note: str = ""
    offline_ok: bool = False
    supported: bool = True
    reason: str = ""
    timeout: float | None = None
    reply: dict[str, str] = field(default_factory=dict)
    """The keys every answer holds, with what each means (capability commands declare them)."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "scope": self.scope, "note": self.note,
                               "args": [a.as_dict() for a in self.args.values()]}
        if self.reply:
            out["reply"] = dict(self.reply)
        if self.offline_ok:
            out["offline_ok"] = True
        if not self.supported:
            out["supported"] = False
            out["reason"] = self.reason
        if self.timeout is not None:
            out["timeout"] = self.timeout
        return out


EVENT_KINDS = ("stateful", "repeating", "pulse")
"""How an event type's conditions end: the device ends them, quiet time ends them, or they are
instantaneous (see gemhost/lifetime.py and docs/mqtt.md, "Event lifetime")."""


@dataclass
class EventType:
    """One event type a driver's devices can send, with the kind that decides its lifetime."""

    name: str
    kind: str
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "note": self.note}


@dataclass
class DriverSchema:
    """Everything a schema file declares about one driver."""

    driver: str
    title: str
    zone_key: str | None
    device: dict[str, Attribute]
    zone: dict[str, Attribute]
    commands: dict[str, Command]
    description: str = ""
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    source: Path | None = None
    events: dict[str, EventType] = field(default_factory=dict)
    event_default_kind: str = "pulse"
    """Kind of a type the schema does not list: pulse, so an undeclared type can never stay on."""
    views: dict[str, type] = field(default_factory=dict, repr=False, compare=False)
    """The typed attribute view classes, made once (see gemhost/attributes.py)."""
    capabilities: Capabilities | None = None
    """What each kind of zone offers (gemhost/capabilities.py); None: the driver declares none."""

    def event_kind(self, event_type: str) -> str:
        declared = self.events.get(event_type)
        return declared.kind if declared else self.event_default_kind

    def secret_names(self) -> set[str]:
        return {a.name for a in (*self.device.values(), *self.zone.values()) if a.secret}

    def as_dict(self) -> dict[str, Any]:
        return {
            "driver": self.driver,
            "title": self.title,
            "description": self.description,
            "zone_key": self.zone_key,
            "device_attributes": [a.as_dict() for a in self.device.values()],
            "zone_attributes": [a.as_dict() for a in self.zone.values()],
            "commands": [c.as_dict() for c in self.commands.values()],
            "events": [e.as_dict() for e in self.events.values()],
            "event_default_kind": self.event_default_kind,
            "capabilities": self.capabilities.as_dict() if self.capabilities else {},
            "tables": self.tables,
        }


# ---------------------------------------------------------------- loading


def load_schema(path: Path) -> DriverSchema:
    """Read and check one schema file; a malformed one raises SchemaError naming the spot."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SchemaError(f"{path}: {exc}") from exc
    if not isinstance(raw, dict) or "driver" not in raw:
        raise SchemaError(f"{path}: expected a mapping with a 'driver' key")
    where = path.name
    unknown = set(raw) - {"driver", "title", "description", "zone_key", "device", "zone", "use", "zone_arg",
                          "commands", "tables", "events", "event_default_kind", "capabilities"}
    if unknown:
        raise SchemaError(f"{where}: unknown top-level keys {sorted(unknown)}")
    schema = DriverSchema(
        driver=str(raw["driver"]),
        title=str(raw.get("title", raw["driver"])),
        description=str(raw.get("description", "")).strip(),
        zone_key=raw.get("zone_key"),
        device=_attributes(raw.get("device") or {}, f"{where} device"),
        zone=_attributes(raw.get("zone") or {}, f"{where} zone"),
        commands={},
        tables=raw.get("tables") or {},
        source=path,
    )
    commands = raw.get("commands") or {}
    if raw.get("use") is not None:
        commands = use_shared_commands(raw, schema.zone, where)
    for name, spec in commands.items():
        schema.commands[name] = _command(name, spec or {}, f"{where} commands.{name}")
    schema.event_default_kind = _event_kind(raw.get("event_default_kind", "pulse"), f"{where} event_default_kind")
    for name, spec in (raw.get("events") or {}).items():
        schema.events[str(name)] = _event_type(str(name), spec, f"{where} events.{name}")
    if schema.zone_key and schema.zone_key not in schema.zone:
        raise SchemaError(f"{where}: zone_key {schema.zone_key!r} is not a zone attribute")
    _add_core_attributes(schema.device, where)
    if raw.get("capabilities") is not None:
        try:
            schema.capabilities = parse_capabilities(raw["capabilities"], schema.commands, f"{where} capabilities")
        except CapabilityError as exc:
            raise SchemaError(str(exc)) from None
    return schema


SHARED_COMMANDS = "capability_commands.yaml"
"""The core's capability commands (PTZ, snapshot, outputs), shipped beside this module."""


@functools.cache
def shared_commands() -> dict[str, Any]:
    """The core fragment: ``groups`` (name -> command names) and ``commands`` (name -> spec)."""
    path = Path(__file__).with_name(SHARED_COMMANDS)
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def use_shared_commands(raw: dict[str, Any], zone: dict[str, Attribute], where: str) -> dict[str, Any]:
    """The schema's ``commands`` with the groups (or single commands) named in ``use`` merged in.

    A shared zone command gets the zone key argument first (``zone_arg``, else the zone
    attribute made required), then the fragment's arguments. A driver entry of the same name
    refines it: its keys win, its arguments override or extend the fragment's; an entry
    declared ``supported: false`` is taken as written. The driver's entries keep their order;
    shared commands it does not mention follow, in ``use`` order."""
    fragment = shared_commands()
    use = raw["use"]
    if not isinstance(use, list) or not all(isinstance(g, str) for g in use):
        raise SchemaError(f"{where} use: expected a list of group or command names "
                          f"(groups: {', '.join(fragment['groups'])})")
    own = dict(raw.get("commands") or {})
    merged = dict(own)
    for group in use:
        if group in fragment["groups"]:
            names = fragment["groups"][group]
        elif group in fragment["commands"]:
            names = [group]  # one command of a group the driver offers only in part
        else:
            raise SchemaError(f"{where} use: no capability group or command {group!r} "
                              f"(groups: {', '.join(fragment['groups'])})")
        for name in names:
            mine = own.get(name) or {}
            if not isinstance(mine, dict):
                raise SchemaError(f"{where} commands.{name}: expected a mapping")
            if mine.get("supported") is False:
                merged[name] = {"scope": fragment["commands"][name].get("scope", "device"), **mine}
                continue
            merged[name] = _refine(copy.deepcopy(fragment["commands"][name]), mine, raw, zone, f"{where} use {group}")
    return merged


def _refine(base: dict[str, Any], mine: dict[str, Any], raw: dict[str, Any], zone: dict[str, Attribute],
            where: str) -> dict[str, Any]:
    args: dict[str, Any] = {}
    key = raw.get("zone_key")
    if mine.get("scope", base.get("scope")) == "zone" and key:
        given = raw.get("zone_arg")
        if given is None:
            attr = zone.get(key)
            if attr is None:
                raise SchemaError(f"{where}: zone_key {key!r} is not a zone attribute")
            given = {k: v for k, v in attr.as_dict().items() if k not in ("name", "unique", "secret", "required_when")}
            given["required"] = True
        args[key] = given
    args.update(base.get("args") or {})
    args.update(mine.get("args") or {})
    return {**base, **mine, "args": args}


def _add_core_attributes(device: dict[str, Attribute], where: str) -> None:
    """The attributes the core owns (status_interval, timeout, events), appended unless the
    schema declares them; a declaration may tune default, bounds and note, not the type."""
    from gemhost.attributes import core_attributes

    for name, core in core_attributes().items():
        declared = device.get(name)
        if declared is None:
            device[name] = core
        elif declared.type != core.type or declared.secret:
            raise SchemaError(f"{where} device.{name}: a core attribute; it must be a non-secret {core.type}")


def _attributes(raw: dict[str, Any], where: str) -> dict[str, Attribute]:
    out = {}
    for name, spec in raw.items():
        out[name] = _attribute(name, spec or {}, f"{where}.{name}")
    return out


_ATTRIBUTE_KEYS = {f for f in Attribute.__dataclass_fields__ if f != "name"}


def _attribute(name: str, spec: dict[str, Any], where: str) -> Attribute:
    unknown = set(spec) - _ATTRIBUTE_KEYS
    if unknown:
        raise SchemaError(f"{where}: unknown keys {sorted(unknown)}")
    attr = Attribute(name=name, **spec)
    if attr.type not in TYPES:
        raise SchemaError(f"{where}: type {attr.type!r} is not one of {', '.join(TYPES)}")
    if attr.type == "enum" and not attr.values:
        raise SchemaError(f"{where}: an enum needs 'values'")
    if attr.default is not None:
        try:
            vol.Schema(validator(attr))(attr.default)
        except vol.Invalid as exc:
            raise SchemaError(f"{where}: default {attr.default!r}: {exc.msg}") from exc
    return attr


def _command(name: str, spec: dict[str, Any], where: str) -> Command:
    unknown = set(spec) - {"scope", "args", "note", "offline_ok", "supported", "reason", "timeout", "reply"}
    if unknown:
        raise SchemaError(f"{where}: unknown keys {sorted(unknown)}")
    scope = spec.get("scope", "device")
    if scope not in ("device", "zone"):
        raise SchemaError(f"{where}: scope must be device or zone")
    return Command(
        name=name,
        scope=scope,
        args=_attributes(spec.get("args") or {}, f"{where}.args"),
        note=str(spec.get("note", "")),
        offline_ok=bool(spec.get("offline_ok", False)),
        supported=bool(spec.get("supported", True)),
        reason=str(spec.get("reason", "")),
        timeout=spec.get("timeout"),
        reply={str(k): str(v) for k, v in (spec.get("reply") or {}).items()},
    )


def _event_kind(kind: Any, where: str) -> str:
    if kind not in EVENT_KINDS:
        raise SchemaError(f"{where}: kind {kind!r} is not one of {', '.join(EVENT_KINDS)}")
    return str(kind)


def _event_type(name: str, spec: Any, where: str) -> EventType:
    if not isinstance(spec, dict):
        raise SchemaError(f"{where}: expected a mapping with 'kind' (and 'note')")
    unknown = set(spec) - {"kind", "note"}
    if unknown:
        raise SchemaError(f"{where}: unknown keys {sorted(unknown)}")
    return EventType(name=name, kind=_event_kind(spec.get("kind"), where), note=str(spec.get("note", "")))


# ---------------------------------------------------------------- validators


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


SECRET_SHOWN = "(secret value not shown)"


def _show(value: Any, attr: Attribute | None = None) -> str:
    """A value as a message quotes it; a secret attribute's value never, whatever its type."""
    if attr is not None and attr.secret:
        return SECRET_SHOWN
    return repr(value) if isinstance(value, str) else str(value)


def validator(attr: Attribute):
    """A callable that checks and coerces one value, raising vol.Invalid with a user message.

    Values that came from ``!secret``/``!env`` arrive as Secret; their messages never show
    the value, and secret attributes come out wrapped in Secret again."""

    def check(value: Any) -> Any:
        try:
            if isinstance(value, Secret):
                try:
                    plain = _check_plain(attr, value.reveal())
                except vol.Invalid as exc:
                    raise vol.Invalid(exc.msg.split(", got ")[0] + " (value from a secret)") from None
            elif attr.secret:
                try:
                    plain = _check_plain(attr, value)
                except vol.Invalid as exc:  # the coercers hide it already; this keeps it so
                    if SECRET_SHOWN in exc.msg:
                        raise
                    raise vol.Invalid(exc.msg.split(", got ")[0] + f", got {SECRET_SHOWN}") from None
            else:
                plain = _check_plain(attr, value)
        except vol.Invalid as exc:
            if attr.explain:
                raise vol.Invalid(f"{exc.msg} ({attr.explain})") from None
            raise
        return Secret(plain) if attr.secret else plain

    return check


def _check_plain(attr: Attribute, value: Any) -> Any:
    value = _COERCE.get(attr.type, _coerce_text)(attr, value)
    _check_bounds(attr, value)
    return value


def _coerce_int(attr: Attribute, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise vol.Invalid(f"expected an integer, got {_show(value, attr)}")


def _coerce_float(attr: Attribute, value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise vol.Invalid(f"expected a number, got {_show(value, attr)}") from None


def _coerce_bool(attr: Attribute, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("true", "on", "yes", "1"):
        return True
    if lowered in ("false", "off", "no", "0"):
        return False
    raise vol.Invalid(f"expected true or false, got {_show(value, attr)}")


def _coerce_list(attr: Attribute, value: Any) -> list[Any]:
    """A list; a single scalar is taken as a list of one (``cameras=new`` from the CLI)."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list):
        raise vol.Invalid(f"expected a list, got {_show(value, attr)}")
    item = validator(Attribute(name=attr.name, type=attr.items or "string", secret=attr.secret))
    return [item(v) for v in value]


def _coerce_enum(attr: Attribute, value: Any) -> Any:
    if value not in (attr.values or []):
        allowed = ", ".join(str(v) for v in attr.values or [])
        raise vol.Invalid(f"expected one of {allowed}, got {_show(value, attr)}")
    return value


def _coerce_text(attr: Attribute, value: Any) -> str:
    """string, url, host and path: scalars read as text, then checked by kind."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise vol.Invalid(f"expected a {attr.type}, got {_show(value, attr)}")
    value = str(value)
    if attr.type == "url":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise vol.Invalid(f"expected an http:// or https:// URL, got {_show(value, attr)}")
    elif attr.type == "host" and not _is_host(value):
        raise vol.Invalid(f"expected an IP address or host name, got {_show(value, attr)}")
    return value


_COERCE = {"int": _coerce_int, "float": _coerce_float, "bool": _coerce_bool, "list": _coerce_list,
           "enum": _coerce_enum}


def _check_bounds(attr: Attribute, value: Any) -> None:
    shown = _show(value, attr)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if attr.min is not None and value < attr.min:
            raise vol.Invalid(f"must be at least {_num(attr.min)}, got {shown}")
        if attr.max is not None and value > attr.max:
            raise vol.Invalid(f"must be at most {_num(attr.max)}, got {shown}")
    if isinstance(value, str):
        if attr.lengths and len(value) not in attr.lengths:
            allowed = " or ".join(str(n) for n in attr.lengths)
            raise vol.Invalid(f"must be {allowed} characters long, got {len(value)}: {shown}")
        if attr.pattern and not re.fullmatch(attr.pattern, value):
            raise vol.Invalid(f"must match {attr.pattern}, got {shown}")


def _is_host(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
        return True
    except ValueError:
        return bool(HOSTNAME.match(value))


def mapping_validator(attrs: dict[str, Attribute]) -> vol.Schema:
    """A voluptuous schema for a mapping of attributes: unknown keys rejected, defaults in.

    ``required_when`` is checked by :func:`conditional_problems` after the mapping passes,
    because it depends on other values.
    """
    fields: dict[Any, Any] = {}
    for attr in attrs.values():
        if attr.required and not attr.required_when:
            key: Any = vol.Required(attr.name, msg="is required")
        elif attr.default is not None:
            key = vol.Optional(attr.name, default=attr.default)
        else:
            key = vol.Optional(attr.name)
        fields[key] = validator(attr)
    return vol.Schema(fields, extra=vol.PREVENT_EXTRA)


def conditional_problems(attrs: dict[str, Attribute], values: dict[str, Any]) -> list[tuple[str, str]]:
    """(attribute, message) for each ``required_when`` attribute missing in ``values``."""
    problems = []
    for attr in attrs.values():
        if not attr.required_when or attr.name in values:
            continue
        if all(values.get(k) == v for k, v in attr.required_when.items()):
            cond = ", ".join(f"{k} is {v}" for k, v in attr.required_when.items())
            problems.append((attr.name, f"is required when {cond}"))
    return problems


def friendly(error: vol.Invalid, attrs: dict[str, Attribute] | None = None) -> str:
    """voluptuous' messages, rewritten where they are not yet in user terms."""
    msg = error.msg
    if msg == "extra keys not allowed":
        known = ", ".join(attrs) if attrs else "none"
        return f"unknown key (allowed: {known})"
    if msg == "required key not provided":
        return "is required"
    return msg


def bundled_schema(driver: str) -> Path:
    """Path of a built-in driver's schema file inside the installed ``gemhost_schemas``."""
    import importlib.resources

    return Path(str(importlib.resources.files("gemhost_schemas").joinpath(f"{driver}.yaml")))
