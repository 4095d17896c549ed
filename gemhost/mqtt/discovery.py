"""Home Assistant MQTT discovery: one device-based config per device, built from declared capabilities.

Every entity comes from what the driver's schema declares for the zone's kind
(:mod:`gemhost.capabilities`) plus the facts the device reported and the host remembers, never
from what happened to be seen at run time: a sensor exists before its first event and survives
a restart. The mapping capability -> Home Assistant platform is the table in docs/mqtt.md
("Home Assistant"); the keys of each platform are the ones Home Assistant's MQTT platforms
accept (tests/mqtt/test_mqtt_discovery.py cites their source).

One retained config per device (``<prefix>/device/<site>_<device>/config``) lets Home Assistant
create the device and its entities at once. Home Assistant deletes a component only when it is
sent with nothing but its platform (``{"p": "image"}``), so every component ever announced is
remembered (on disk, per device) and sent that way once it is gone. Value templates render
nothing for a payload that is not a JSON object, so an empty retained state (a removed zone)
never makes Home Assistant log a template error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gemhost.capabilities import (
    ACTION_COMMAND,
    Capabilities,
    FactMemory,
    Output,
    ZoneKind,
    route_action,
    write_json_atomic,
)
from gemhost.model import DeviceConfig, ZoneConfig
from gemhost.mqtt.topics import Topics
from gemhost.schema import DriverSchema

log = logging.getLogger("gemhost.mqtt.discovery")

ORIGIN_URL = "https://github.com/gemhost/gemhost"
COMPONENTS_FILE = "ha_discovery.json"

# Normalized event type -> binary_sensor device_class (types not listed get none).
DEVICE_CLASSES: dict[str, str] = {
    "motion": "motion",
    "pir": "motion",
    "line_crossing": "motion",
    "intrusion": "motion",
    "region_entrance": "motion",
    "region_exit": "motion",
    "face": "occupancy",
    "tamper": "tamper",
    "video_loss": "problem",
    "disk_error": "problem",
    "disk_full": "problem",
    "record_exception": "problem",
    "audio": "sound",
    "alarm": "safety",
}
BINARY_SENSOR_CLASSES = frozenset({
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door", "garage_door", "gas",
    "heat", "light", "lock", "moisture", "motion", "moving", "occupancy", "opening", "plug", "power",
    "presence", "problem", "running", "safety", "smoke", "sound", "tamper", "update", "vibration", "window"})
"""Home Assistant's BinarySensorDeviceClass values; a declared class outside them is dropped."""

_GUARD = "{% if value_json is defined and value_json is mapping %}"
"""Templates render only for a JSON object: an empty retained payload (a removed zone) renders
nothing, which Home Assistant ignores instead of logging 'value_json is undefined'."""


def _title(text: str) -> str:
    return text.replace("_", " ").capitalize()


def _label(prefix: str, what: str) -> str:
    """Sentence case, as Home Assistant names entities: "Porch motion", "Take snapshot"."""
    return f"{prefix} {what[:1].lower()}{what[1:]}" if prefix else what[:1].upper() + what[1:]


def zone_prefix(zone: ZoneConfig, zones_of_device: int) -> str:
    """How a zone's entities are named: the site file's name; for an unnamed zone nothing when
    it is the device's only zone (Home Assistant shows "Porch camera Motion"), else its id."""
    if zone.name and zone.name != zone.id:
        return zone.name
    if zones_of_device == 1:
        return ""
    return zone.id.replace("_", " ").replace("-", " ").capitalize()


def _active(event_type: str) -> str:
    return f"(value_json.get('active') or {{}}).get({json.dumps(event_type)})"


def binary_sensor_template(event_type: str | None, flag: str | None = None) -> str:
    """ON while ``event_type`` is active in the zone's ``active`` map or ``flag`` is true."""
    tests = ([_active(event_type)] if event_type else []) + ([f"value_json.get({json.dumps(flag)})"] if flag else [])
    return _GUARD + "{{ 'ON' if " + " or ".join(tests) + " else 'OFF' }}{% endif %}"


def panel_template(state: str, states: dict[str, str], triggered: str | None) -> str:
    """The alarm panel's state: ``triggered`` while an alarm is on, else the mapped arming
    mode; an unknown mode renders nothing (Home Assistant then keeps the last state)."""
    mapped = "{{ " + json.dumps(states) + f".get(value_json.get({json.dumps(state)}) | string, '') }}}}"
    if not triggered:
        return _GUARD + mapped + "{% endif %}"
    alarm = f"value_json.get({json.dumps(triggered)}) or {_active(triggered)}"
    return _GUARD + "{% if " + alarm + " %}triggered{% else %}" + mapped + "{% endif %}{% endif %}"


def output_state_template(field_name: str, number: int) -> str:
    """A switch's state from a zone-state mapping number -> true/false (``output_states``);
    nothing while the number's state is unknown (Home Assistant keeps the last one)."""
    return (_GUARD + f"{{% set m = value_json.get({json.dumps(field_name)}) %}}{{% if m is mapping %}}"
            f"{{% set s = m.get({json.dumps(str(number))}) %}}"
            "{{ 'ON' if s is sameas true else 'OFF' if s is sameas false else '' }}{% endif %}{% endif %}")


def attributes_template(field_name: str) -> str:
    """json_attributes_template exposing one zone-state field (the stream URL) as an attribute."""
    value = f"value_json.get({json.dumps(field_name)})"
    return (_GUARD + "{{ {" + json.dumps(field_name) + ": " + value + "} | tojson }}"
            "{% else %}{}{% endif %}")


def request(zone: str, **args: Any) -> str:
    """A gemhost command request as the payload an entity publishes."""
    return json.dumps({"id": f"ha-{zone}", "args": {"zone": zone, **args}}, separators=(",", ":"))


def _template_literal(text: str) -> str:
    """A fixed payload used where Home Assistant expects a template (a siren's command_template)."""
    return "{% raw %}" + text + "{% endraw %}" if any(m in text for m in ("{{", "{%", "{#")) else text


@dataclass
class ZoneInput:
    """What one zone contributes: its site-file entry, the facts known about it."""

    zone: ZoneConfig
    facts: dict[str, Any] = field(default_factory=dict)


class _Builder:
    """Builds the components of one device (one instance per config)."""

    def __init__(self, topics: Topics, site_id: str, device: DeviceConfig, schema: DriverSchema) -> None:
        self.topics = topics
        self.site_id = site_id
        self.device = device
        self.schema = schema
        self.cmps: dict[str, dict[str, Any]] = {}

    def supported(self, command: str | None) -> bool:
        spec = self.schema.commands.get(command or "")
        return spec is not None and spec.supported

    def add(self, cid: str, platform: str, name: str, **config: Any) -> dict[str, Any]:
        comp = {"p": platform, "name": name,
                "unique_id": f"gemhost_{self.site_id}_{self.device.id}_{cid}", **config}
        self.cmps[cid] = comp
        return comp

    def zone(self, item: ZoneInput, kind: ZoneKind, prefix: str) -> None:
        zid = item.zone.id
        state = self.topics.zone_state(self.device.id, zid)
        first = len(self.cmps)
        self._panel(zid, kind, prefix or kind.title, state)
        self._sensor(zid, kind, prefix or kind.title, state, item.facts)
        for event_type in kind.event_types(item.facts):
            comp = self.add(f"{zid}_{event_type}", "binary_sensor", _label(prefix, _title(event_type)),
                            state_topic=state, value_template=binary_sensor_template(event_type),
                            payload_on="ON", payload_off="OFF")
            if event_type in DEVICE_CLASSES:
                comp["device_class"] = DEVICE_CLASSES[event_type]
        if self.supported(kind.snapshot):
            self.add(f"{zid}_snapshot", "image", _label(prefix, "Snapshot"),
                     image_topic=self.topics.snapshot(self.device.id, zid), image_encoding="b64",
                     content_type="image/jpeg")
            self.add(f"{zid}_take_snapshot", "button", _label(prefix, "Take snapshot"),
                     command_topic=self.topics.command(self.device.id, kind.snapshot or ""),
                     payload_press=request(zid))
        self._bypass(zid, kind, prefix, state)
        self._presets(zid, kind, prefix, item.facts)
        for output in kind.outputs:
            self._outputs(zid, output, prefix, item.facts)
        zone_cmps = list(self.cmps.values())[first:]
        if kind.stream_url and zone_cmps:  # the stream URL rides on the zone's first entity
            zone_cmps[0].update(json_attributes_topic=state, json_attributes_template=attributes_template(
                kind.stream_url))

    def _panel(self, zid: str, kind: ZoneKind, name: str, state: str) -> None:
        panel = kind.alarm_panel
        if panel is None:
            return
        actions = [a for a, command in panel.actions.items() if self.supported(command)]
        if not actions:
            return
        self.add(f"{zid}_panel", "alarm_control_panel", name, state_topic=state,
                 value_template=panel_template(panel.state, panel.states, panel.triggered),
                 command_topic=self.topics.command(self.device.id, ACTION_COMMAND),
                 command_template=request(zid, action="{{ action }}"),
                 supported_features=[a for a in actions if a != "disarm"],
                 code_arm_required=False, code_disarm_required=False)

    def _sensor(self, zid: str, kind: ZoneKind, name: str, state: str, facts: dict[str, Any]) -> None:
        sensor = kind.sensor
        if sensor is None:
            return
        comp = self.add(f"{zid}_sensor", "binary_sensor", name, state_topic=state,
                        value_template=binary_sensor_template(sensor.event, sensor.flag),
                        payload_on="ON", payload_off="OFF")
        reported = facts.get(sensor.device_class_from) if sensor.device_class_from else None
        device_class = sensor.device_classes.get(str(reported), sensor.device_class) if reported is not None \
            else sensor.device_class
        if device_class in BINARY_SENSOR_CLASSES:
            comp["device_class"] = device_class

    def _bypass(self, zid: str, kind: ZoneKind, prefix: str, state: str) -> None:
        bypass = kind.bypass
        if bypass is None or not (self.supported(bypass.on) and self.supported(bypass.off)):
            return
        self.add(f"{zid}_bypass", "switch", _label(prefix, "Bypass"),
                 command_topic=self.topics.command(self.device.id, ACTION_COMMAND),
                 payload_on=request(zid, action="bypass_on"), payload_off=request(zid, action="bypass_off"),
                 state_topic=state, value_template=binary_sensor_template(None, bypass.state),
                 state_on="ON", state_off="OFF", entity_category="config")

    def _presets(self, zid: str, kind: ZoneKind, prefix: str, facts: dict[str, Any]) -> None:
        presets = kind.presets
        if presets is None or not self.supported(presets.command):
            return
        reported = facts.get(presets.presets_from)
        for item in reported if isinstance(reported, list) else []:
            number = item.get("id") if isinstance(item, dict) else item
            if not isinstance(number, int) or isinstance(number, bool):
                continue
            title = str(item.get("name") or f"Preset {number}") if isinstance(item, dict) else f"Preset {number}"
            self.add(f"{zid}_preset_{number}", "button", _label(prefix, title),
                     command_topic=self.topics.command(self.device.id, presets.command),
                     payload_press=request(zid, **{presets.arg: number}))

    def _outputs(self, zid: str, output: Output, prefix: str, facts: dict[str, Any]) -> None:
        if not self.supported(output.command):
            return
        numbers = list(output.numbers)
        if output.numbers_from:
            reported = facts.get(output.numbers_from)
            numbers = [n for n in reported if isinstance(n, int)] if isinstance(reported, list) else []
        topic = self.topics.command(self.device.id, output.command)
        for number in numbers:
            name = _label(prefix, output.name if len(numbers) == 1 else f"{output.name} {number}")
            on = request(zid, **{output.number_arg or "number": number}, **output.on)
            off = request(zid, **{output.number_arg or "number": number}, **(output.off or {}))
            cid = f"{zid}_{output.key}_{number}"
            if output.platform == "button":
                self.add(cid, "button", name, command_topic=topic, payload_press=on)
            elif output.platform == "switch" and output.state_from:
                self.add(cid, "switch", name, command_topic=topic, payload_on=on, payload_off=off,
                         state_topic=self.topics.zone_state(self.device.id, zid),
                         value_template=output_state_template(output.state_from, number),
                         state_on="ON", state_off="OFF")
            elif output.platform == "switch":
                self.add(cid, "switch", name, command_topic=topic, payload_on=on, payload_off=off,
                         optimistic=True)
            elif output.platform == "siren":
                # without a command template a siren publishes {"state": ...}: the templates are
                # the fixed requests
                self.add(cid, "siren", name, command_topic=topic, command_template=_template_literal(on),
                         command_off_template=_template_literal(off), optimistic=True,
                         support_duration=False, support_volume_set=False)
            else:
                self.add(cid, "lock", name, command_topic=topic, payload_lock=on, payload_unlock=off,
                         optimistic=True)


def device_config(*, topics: Topics, site_id: str, device: DeviceConfig, schema: DriverSchema,
                  info: dict[str, Any], zones: list[ZoneInput], version: str,
                  removed_components: dict[str, str] | None = None) -> dict[str, Any]:
    """The discovery config of one device; ``removed_components`` (component id -> platform)
    are announced before and are sent as deletions unless they exist again."""
    dev: dict[str, Any] = {"identifiers": [f"gemhost_{site_id}_{device.id}"], "name": device.name,
                           "model": str(info.get("model") or schema.title)}
    if info.get("manufacturer"):  # what the device says; never guessed from the driver
        dev["manufacturer"] = str(info["manufacturer"])
    if info.get("firmware"):
        dev["sw_version"] = str(info["firmware"])
    if info.get("serial"):
        dev["serial_number"] = str(info["serial"])
    if device.area:
        dev["suggested_area"] = device.area
    builder = _Builder(topics, site_id, device, schema)
    capabilities = schema.capabilities
    if capabilities is not None:
        for item in zones:
            kind = capabilities.kind_of(item.zone.attributes, item.facts)
            if kind is not None:
                builder.zone(item, kind, zone_prefix(item.zone, len(zones)))
    cmps = builder.cmps
    for comp_id, platform in (removed_components or {}).items():
        if comp_id not in cmps:
            cmps[comp_id] = {"p": platform}
    return {
        "dev": dev,
        "o": {"name": "gemhost", "sw": version, "url": ORIGIN_URL},
        "availability": [
            {"topic": topics.host_status, "payload_available": "online", "payload_not_available": "offline"},
            {"topic": topics.availability(device.id), "payload_available": "online",
             "payload_not_available": "offline"},
        ],
        "availability_mode": "all",
        "qos": 1,
        "cmps": cmps,
    }


def component_platforms(config: dict[str, Any]) -> dict[str, str]:
    """component id -> platform of the live components of a config."""
    return {cid: comp["p"] for cid, comp in config.get("cmps", {}).items() if len(comp) > 1}


class Discovery:
    """The bridge's discovery state: per device the remembered facts and every component ever
    announced, both kept on disk (``state_dir(device)``) so a restart loses neither."""

    def __init__(self, *, topics: Topics, site_id: str, version: str,
                 state_dir: Callable[[str], Path] | None) -> None:
        self.topics = topics
        self.site_id = site_id
        self.version = version
        self._state_dir = state_dir
        self._facts: dict[str, FactMemory] = {}
        self._announced: dict[str, dict[str, str]] = {}

    def _path(self, device: str, name: str) -> Path | None:
        return self._state_dir(device) / name if self._state_dir else None

    def facts(self, device: str, capabilities: Capabilities | None) -> FactMemory | None:
        if capabilities is None:
            return None
        memory = self._facts.get(device)
        if memory is None:
            memory = self._facts[device] = FactMemory(self._path(device, "capabilities.json"),
                                                      capabilities.fact_fields())
        return memory

    def observe(self, device: str, schema: DriverSchema | None, zone: str, state: dict[str, Any]) -> bool:
        """A zone state arrived: True when it changed a fact (the config must be sent again)."""
        memory = self.facts(device, schema.capabilities if schema else None)
        return memory.observe(zone, state) if memory and memory.fields else False

    def announced(self, device: str) -> dict[str, str]:
        known = self._announced.get(device)
        if known is None:
            known = {}
            path = self._path(device, COMPONENTS_FILE)
            if path is not None and path.is_file():
                try:
                    data = json.loads(path.read_text(encoding="utf-8"))
                    known = {str(k): str(v) for k, v in (data.get("components") or {}).items()}
                except (OSError, ValueError, AttributeError):
                    known = {}
            self._announced[device] = known
        return known

    def config(self, device: DeviceConfig, schema: DriverSchema, info: dict[str, Any]) -> dict[str, Any] | None:
        """The device's config, or None when it has nothing to announce (no capabilities and
        nothing announced before)."""
        memory = self.facts(device.id, schema.capabilities)
        if memory is not None:
            memory.keep_only(set(device.zones))
        zones = [ZoneInput(z, memory.facts(z.id) if memory else {}) for z in device.zones.values()]
        announced = self.announced(device.id)
        config = device_config(topics=self.topics, site_id=self.site_id, device=device, schema=schema,
                               info=info, zones=zones, version=self.version, removed_components=announced)
        if not config["cmps"]:
            return None
        live = component_platforms(config)
        if any(announced.get(cid) != platform for cid, platform in live.items()):
            # remember every component ever announced: its deletion must be sent even after a
            # restart, or Home Assistant keeps an entity that can never work
            announced.update(live)
            path = self._path(device.id, COMPONENTS_FILE)
            if path is not None:
                write_json_atomic(path, {"components": announced})
        return config

    def forget(self, device: str) -> None:
        """A device left the site: its discovery topic is cleared, so its memory goes too."""
        self._facts.pop(device, None)
        self._announced.pop(device, None)
        for name in ("capabilities.json", COMPONENTS_FILE):
            path = self._path(device, name)
            if path is not None:
                path.unlink(missing_ok=True)

    def route(self, device: DeviceConfig, schema: DriverSchema, args: dict[str, Any] | None
              ) -> tuple[str, dict[str, Any]]:
        """An ``action`` request -> (driver command, args); ValueError names what is wrong."""
        if schema.capabilities is None:
            raise ValueError(f"driver {schema.driver} declares no capabilities, so no actions")
        return route_action(schema.capabilities, device.zones, self.facts(device.id, schema.capabilities), args)
