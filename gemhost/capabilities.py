"""Declared capabilities: what each kind of zone of a driver offers, known before anything happens.

Consumers that build a user interface from gemhost (Home Assistant discovery first of all) must
know every sensor, switch and panel of a zone when the host starts, not when an event first
turns up: an entity that appears on its first alarm and vanishes after a restart is useless. So
each driver's schema declares, per **zone kind**, what that kind of zone can do (the
``capabilities:`` section; its entities are the table in docs/mqtt.md, "Home Assistant"):

.. code-block:: yaml

    capabilities:
      subsystem:                       # a zone kind; the first kind whose match fits a zone wins
        title: Subsystem               # readable name for a zone the site file leaves unnamed
        match: {address: '.*:sub:[0-9]+'}      # zone attributes (regular expressions)
        facts: {device_type: alarm}    # optional: zone-state facts the driver reports
        alarm_panel:
          state: arming                # zone-state field with the arming mode
          triggered: alarm             # zone-state flag (or active event type) of an alarm
          states: {away: armed_away, stay: armed_home, disarmed: disarmed}
          actions: {disarm: disarm, arm_away: arm_away, arm_home: arm_stay}

Some capabilities depend on what only the device can say (the event types of an ISAPI channel,
read from ``Event/triggers``; the detector type of an alarm zone). Those are **facts**: zone-state
fields the driver sets, named in the declaration, remembered per device under the state
directory (:class:`FactMemory`) so that after a restart they are known at once instead of when
the device is next reached.

This module knows nothing about MQTT or Home Assistant; ``gemhost.mqtt.discovery`` maps the
capabilities to entities, and :func:`route_action` turns the one-topic commands such an entity
sends (an alarm panel's ARM_AWAY) into the driver's own command.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACTION_COMMAND = "action"
"""The core's command that runs a zone's declared action (``{"zone": ..., "action": ...}``):
entities with one command topic for several driver commands (an alarm panel, a bypass switch)
publish to it. Reserved: a driver that declares capabilities cannot have a command of that name."""

PANEL_ACTIONS = ("disarm", "arm_away", "arm_home", "arm_night", "arm_vacation", "arm_custom_bypass")
"""Alarm-panel actions, named as Home Assistant names its alarm_control_panel features."""
PANEL_STATES = ("disarmed", "armed_home", "armed_away", "armed_night", "armed_vacation",
                "armed_custom_bypass", "pending", "arming", "disarming", "triggered")
"""The states an alarm panel can show (Home Assistant's AlarmControlPanelState values)."""
BYPASS_ACTIONS = ("bypass_on", "bypass_off")
OUTPUT_PLATFORMS = ("switch", "siren", "lock", "button")
FILE_NAME = "capabilities.json"


class CapabilityError(ValueError):
    """A ``capabilities:`` declaration is malformed; the message names the spot."""


@dataclass(frozen=True)
class Sensor:
    """The zone itself is a sensor (an alarm zone): on while its ``event`` is active or its
    ``flag`` is true; the device class comes from a fact when the driver reports one."""

    event: str | None = None
    flag: str | None = None
    device_class: str | None = None
    device_class_from: str | None = None
    device_classes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AlarmPanel:
    state: str
    states: dict[str, str]
    actions: dict[str, str]
    triggered: str | None = None


@dataclass(frozen=True)
class Bypass:
    on: str
    off: str
    state: str


@dataclass(frozen=True)
class Presets:
    """PTZ presets: one entity per preset the device reported (fact ``presets_from``: a list of
    numbers or of ``{"id", "name"}``)."""

    command: str
    arg: str
    presets_from: str


@dataclass(frozen=True)
class Output:
    """A relay, siren, lock or one-shot output driven by one driver command. ``numbers`` are
    declared (a built-in siren), ``numbers_from`` names a fact listing what the device has;
    ``state_from`` (switches only) names a zone-state mapping number -> on (true) / off (false)
    that shows the output's real state instead of the last command sent."""

    key: str
    platform: str
    command: str
    name: str
    on: dict[str, Any]
    off: dict[str, Any] | None
    number_arg: str | None = None
    numbers: tuple[int, ...] = ()
    numbers_from: str | None = None
    state_from: str | None = None


@dataclass(frozen=True)
class ZoneKind:
    name: str
    title: str
    match: dict[str, re.Pattern[str]] = field(default_factory=dict)
    facts: dict[str, re.Pattern[str]] = field(default_factory=dict)
    events: tuple[str, ...] = ()
    events_from: str | None = None
    sensor: Sensor | None = None
    snapshot: str | None = None
    stream_url: str | None = None
    presets: Presets | None = None
    alarm_panel: AlarmPanel | None = None
    bypass: Bypass | None = None
    outputs: tuple[Output, ...] = ()

    def matches(self, attributes: dict[str, Any], facts: dict[str, Any]) -> bool:
        """True when every ``match`` attribute and every required fact fits (a fact not yet
        known does not fit: the kind is decided once the driver has said)."""
        for name, pattern in self.match.items():
            if name not in attributes or not pattern.fullmatch(str(attributes[name])):
                return False
        for name, pattern in self.facts.items():
            if facts.get(name) is None or not pattern.fullmatch(str(facts[name])):
                return False
        return True

    def fact_fields(self) -> set[str]:
        fields = set(self.facts)
        for name in (self.events_from, self.sensor and self.sensor.device_class_from,
                     self.presets and self.presets.presets_from):
            if name:
                fields.add(name)
        fields.update(o.numbers_from for o in self.outputs if o.numbers_from)
        return fields

    def event_types(self, facts: dict[str, Any]) -> list[str]:
        """The event types this zone has sensors for: what the device reported when it did
        (``events_from``), otherwise the declared ones."""
        reported = facts.get(self.events_from) if self.events_from else None
        if isinstance(reported, list):
            return [str(t) for t in reported]
        return list(self.events)

    def actions(self) -> dict[str, str]:
        """Action name -> driver command, for :func:`route_action`."""
        out = dict(self.alarm_panel.actions) if self.alarm_panel else {}
        if self.bypass:
            out.update(bypass_on=self.bypass.on, bypass_off=self.bypass.off)
        return out


@dataclass
class Capabilities:
    """All zone kinds of one driver, in declaration order."""

    kinds: dict[str, ZoneKind]

    def kind_of(self, attributes: dict[str, Any], facts: dict[str, Any]) -> ZoneKind | None:
        return next((k for k in self.kinds.values() if k.matches(attributes, facts)), None)

    def fact_fields(self) -> set[str]:
        return set().union(*(k.fact_fields() for k in self.kinds.values())) if self.kinds else set()

    def as_dict(self) -> dict[str, Any]:
        return {name: _kind_dict(kind) for name, kind in self.kinds.items()}


def _kind_dict(kind: ZoneKind) -> dict[str, Any]:
    out: dict[str, Any] = {"title": kind.title}
    if kind.match:
        out["match"] = {k: p.pattern for k, p in kind.match.items()}
    if kind.facts:
        out["facts"] = {k: p.pattern for k, p in kind.facts.items()}
    for name in ("events_from", "snapshot", "stream_url"):
        if getattr(kind, name):
            out[name] = getattr(kind, name)
    if kind.events:
        out["events"] = list(kind.events)
    for name in ("sensor", "presets", "alarm_panel", "bypass"):
        value = getattr(kind, name)
        if value is not None:
            out[name] = {k: v for k, v in value.__dict__.items() if v not in (None, {}, ())}
    if kind.outputs:
        out["outputs"] = [{k: v for k, v in o.__dict__.items() if v not in (None, {}, ())} for o in kind.outputs]
    return out


# ---------------------------------------------------------------- parsing

_KIND_KEYS = {"title", "match", "facts", "events", "events_from", "sensor", "snapshot", "stream_url",
              "presets", "alarm_panel", "bypass", "outputs"}


def parse(raw: Any, commands: dict[str, Any], where: str) -> Capabilities:
    """Check a schema's ``capabilities:`` mapping; every command it names must be one of the
    schema's zone commands (so a typo fails at load, naming the spot)."""
    if not isinstance(raw, dict) or not raw:
        raise CapabilityError(f"{where}: expected a mapping of zone kinds")
    if ACTION_COMMAND in commands:
        raise CapabilityError(f"{where}: the command name {ACTION_COMMAND!r} is reserved by the core "
                              "for declared actions; rename the driver's command")
    kinds = {}
    for name, spec in raw.items():
        kinds[str(name)] = _kind(str(name), spec, commands, f"{where}.{name}")
    return Capabilities(kinds)


def _kind(name: str, spec: Any, commands: dict[str, Any], where: str) -> ZoneKind:
    spec = _mapping(spec, where, _KIND_KEYS)
    cmd = _CommandCheck(commands, where)
    events = spec.get("events") or []
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise CapabilityError(f"{where}.events: expected a list of event type names")
    return ZoneKind(
        name=name,
        title=str(spec.get("title") or name.replace("_", " ").capitalize()),
        match=_patterns(spec.get("match"), f"{where}.match"),
        facts=_patterns(spec.get("facts"), f"{where}.facts"),
        events=tuple(events),
        events_from=_optional_text(spec, "events_from", where),
        sensor=_sensor(spec["sensor"], f"{where}.sensor") if "sensor" in spec else None,
        snapshot=cmd(spec.get("snapshot"), "snapshot"),
        stream_url=_optional_text(spec, "stream_url", where),
        presets=_presets(spec["presets"], cmd, f"{where}.presets") if "presets" in spec else None,
        alarm_panel=_panel(spec["alarm_panel"], cmd, f"{where}.alarm_panel") if "alarm_panel" in spec else None,
        bypass=_bypass(spec["bypass"], cmd, f"{where}.bypass") if "bypass" in spec else None,
        outputs=tuple(_output(o, cmd, f"{where}.outputs[{i}]") for i, o in enumerate(spec.get("outputs") or [])),
    )


class _CommandCheck:
    """Checks that a named command exists and addresses a zone."""

    def __init__(self, commands: dict[str, Any], where: str) -> None:
        self.commands = commands
        self.where = where

    def __call__(self, name: Any, key: str) -> str | None:
        if name is None:
            return None
        command = self.commands.get(str(name))
        if command is None:
            raise CapabilityError(f"{self.where}.{key}: no command {name!r} in the schema's commands")
        if getattr(command, "scope", "zone") != "zone":
            raise CapabilityError(f"{self.where}.{key}: command {name!r} must have scope: zone")
        if getattr(command, "supported", True) is False:
            raise CapabilityError(f"{self.where}.{key}: command {name!r} is declared supported: false, "
                                  "so an entity for it could never work")
        return str(name)


def _mapping(spec: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise CapabilityError(f"{where}: expected a mapping")
    # YAML 1.1 reads an unquoted on/off key as true/false
    spec = {{True: "on", False: "off"}.get(k, k) if isinstance(k, bool) else k: v for k, v in spec.items()}
    unknown = set(spec) - allowed
    if unknown:
        raise CapabilityError(f"{where}: unknown keys {sorted(unknown)} (allowed: {', '.join(sorted(allowed))})")
    return spec


def _optional_text(spec: dict[str, Any], key: str, where: str) -> str | None:
    value = spec.get(key)
    if value is not None and not isinstance(value, str):
        raise CapabilityError(f"{where}.{key}: expected a zone-state field name")
    return value


def _patterns(raw: Any, where: str) -> dict[str, re.Pattern[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise CapabilityError(f"{where}: expected a mapping of name: regular expression")
    out = {}
    for name, text in raw.items():
        try:
            out[str(name)] = re.compile(str(text))
        except re.error as exc:
            raise CapabilityError(f"{where}.{name}: invalid regular expression: {exc}") from None
    return out


def _str_map(raw: Any, where: str, values: tuple[str, ...] | None = None) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise CapabilityError(f"{where}: expected a mapping")
    out = {str(k): str(v) for k, v in raw.items()}
    if values is not None:
        bad = sorted(v for v in out.values() if v not in values)
        if bad:
            raise CapabilityError(f"{where}: {', '.join(bad)} not one of {', '.join(values)}")
    return out


def _sensor(spec: Any, where: str) -> Sensor:
    spec = _mapping(spec, where, {"event", "flag", "device_class", "device_class_from", "device_classes"})
    if not spec.get("event") and not spec.get("flag"):
        raise CapabilityError(f"{where}: needs an event, a flag or both")
    return Sensor(event=spec.get("event"), flag=spec.get("flag"), device_class=spec.get("device_class"),
                  device_class_from=spec.get("device_class_from"),
                  device_classes=_str_map(spec.get("device_classes"), f"{where}.device_classes"))


def _panel(spec: Any, cmd: _CommandCheck, where: str) -> AlarmPanel:
    spec = _mapping(spec, where, {"state", "states", "actions", "triggered"})
    if not spec.get("state") or not spec.get("states") or not spec.get("actions"):
        raise CapabilityError(f"{where}: needs state, states and actions")
    actions = _str_map(spec["actions"], f"{where}.actions")
    unknown = sorted(set(actions) - set(PANEL_ACTIONS))
    if unknown:
        raise CapabilityError(f"{where}.actions: {', '.join(unknown)} not one of {', '.join(PANEL_ACTIONS)}")
    for action, command in actions.items():
        cmd(command, f"actions.{action}")
    return AlarmPanel(state=str(spec["state"]), states=_str_map(spec["states"], f"{where}.states", PANEL_STATES),
                      actions=actions, triggered=spec.get("triggered"))


def _bypass(spec: Any, cmd: _CommandCheck, where: str) -> Bypass:
    spec = _mapping(spec, where, {"on", "off", "state"})
    if not all(spec.get(k) for k in ("on", "off", "state")):
        raise CapabilityError(f"{where}: needs on, off and state")
    return Bypass(on=cmd(spec["on"], "bypass.on") or "", off=cmd(spec["off"], "bypass.off") or "",
                  state=str(spec["state"]))


def _presets(spec: Any, cmd: _CommandCheck, where: str) -> Presets:
    spec = _mapping(spec, where, {"command", "arg", "from"})
    if not all(spec.get(k) for k in ("command", "arg", "from")):
        raise CapabilityError(f"{where}: needs command, arg and from")
    return Presets(command=cmd(spec["command"], "presets.command") or "", arg=str(spec["arg"]),
                   presets_from=str(spec["from"]))


def _output(spec: Any, cmd: _CommandCheck, where: str) -> Output:
    spec = _mapping(spec, where, {"key", "platform", "command", "name", "on", "off", "number_arg", "numbers",
                                  "numbers_from", "state_from"})
    platform = spec.get("platform")
    if platform not in OUTPUT_PLATFORMS:
        raise CapabilityError(f"{where}.platform: {platform!r} not one of {', '.join(OUTPUT_PLATFORMS)}")
    if not spec.get("key") or not re.fullmatch(r"[a-z0-9_]+", str(spec["key"])):
        raise CapabilityError(f"{where}.key: needs a lower-case id (letters, digits, _)")
    numbers = spec.get("numbers") or []
    if not isinstance(numbers, list) or not all(isinstance(n, int) for n in numbers):
        raise CapabilityError(f"{where}.numbers: expected a list of integers")
    if bool(numbers) == bool(spec.get("numbers_from")) or not spec.get("number_arg"):
        raise CapabilityError(f"{where}: needs number_arg and exactly one of numbers, numbers_from")
    on, off = spec.get("on") or {}, spec.get("off")
    if not isinstance(on, dict) or (off is not None and not isinstance(off, dict)):
        raise CapabilityError(f"{where}: on and off are mappings of command arguments")
    if (platform == "button") != (off is None):
        raise CapabilityError(f"{where}: a button has only on; a {platform} needs on and off")
    state_from = _optional_text(spec, "state_from", where)
    if state_from is not None and platform != "switch":
        raise CapabilityError(f"{where}.state_from: only a switch shows a state from zone state")
    return Output(key=str(spec["key"]), platform=platform, command=cmd(spec.get("command"), "command") or "",
                  name=str(spec.get("name") or spec["key"]), on=on, off=off, number_arg=str(spec["number_arg"]),
                  numbers=tuple(numbers), numbers_from=spec.get("numbers_from"), state_from=state_from)


# ---------------------------------------------------------------- facts


class FactMemory:
    """The facts (zone-state fields a capability depends on) of one device's zones, kept in
    ``<state dir>/<device>/capabilities.json`` so that a restart knows them at once.

    Written only when a fact changes (rare: the device's trigger list, a detector type), and
    atomically, so a crash mid-write leaves the previous file."""

    def __init__(self, path: Path | None, fields: set[str]) -> None:
        self.path = path
        self.fields = fields
        self.zones: dict[str, dict[str, Any]] = {}
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}  # unreadable: the driver will say again
            zones = data.get("zones") if isinstance(data, dict) else None
            if isinstance(zones, dict):
                self.zones = {str(z): {k: v for k, v in f.items() if k in fields}
                              for z, f in zones.items() if isinstance(f, dict)}

    def facts(self, zone: str) -> dict[str, Any]:
        return self.zones.get(zone, {})

    def observe(self, zone: str, state: dict[str, Any]) -> bool:
        """Take the facts a zone state carries; True when one changed (and was saved)."""
        known = self.zones.setdefault(zone, {})
        changed = False
        for name in self.fields:
            if name in state and state[name] is not None and known.get(name) != state[name]:
                known[name] = state[name]
                changed = True
        if changed:
            self.save()
        return changed

    def keep_only(self, zones: set[str]) -> None:
        """Forget zones no longer in the site file."""
        if set(self.zones) - zones:
            self.zones = {z: f for z, f in self.zones.items() if z in zones}
            self.save()

    def save(self) -> None:
        if self.path is not None:
            write_json_atomic(self.path, {"zones": self.zones})


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON through a temporary file and a rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- actions


def route_action(capabilities: Capabilities, zones: dict[str, Any], facts: FactMemory | None,
                 args: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """(driver command, its args) for an ``action`` request ``{"zone", "action"}``: the
    action is looked up in the zone's kind (case-insensitive, so Home Assistant's ARM_AWAY is
    arm_away). Raises ValueError with a message naming what is wrong."""
    args = dict(args or {})
    unknown = set(args) - {"zone", "action"}
    if unknown:
        raise ValueError(f"unknown arguments {sorted(unknown)} (allowed: zone, action)")
    zone_id, action = args.get("zone"), args.get("action")
    if not isinstance(zone_id, str) or not isinstance(action, str):
        raise ValueError("arguments 'zone' and 'action' are required strings")
    zone = zones.get(zone_id)
    if zone is None:
        raise ValueError(f"argument 'zone': no zone {zone_id!r} (zones: {', '.join(zones) or 'none'})")
    kind = capabilities.kind_of(zone.attributes, facts.facts(zone_id) if facts else {})
    offered = kind.actions() if kind else {}
    command = offered.get(action.strip().lower())
    if command is None:
        raise ValueError(f"argument 'action': zone {zone_id} offers {', '.join(offered) or 'no actions'}, "
                         f"not {action!r}")
    return command, {"zone": zone_id}
