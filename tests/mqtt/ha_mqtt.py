"""What Home Assistant's MQTT integration accepts, written out from its source, and its template
rendering, so discovery payloads are checked against Home Assistant rather than against gemhost.

Sources (home-assistant/core, homeassistant/components/mqtt/):
- ``schemas.py``: DEVICE_DISCOVERY_SCHEMA (``device`` and ``origin`` required, ``components``
  mapping whose entries need ``platform``), MQTT_ENTITY_DEVICE_INFO_SCHEMA, MQTT_ORIGIN_INFO_SCHEMA,
  the availability schemas and SHARED_OPTIONS; ``abbreviations.py`` for ``p``, ``o``, ``cmps``,
  ``dev``, and the origin's ``sw``/``url`` (sw_version/support_url).
- ``config.py``: MQTT_BASE_SCHEMA (qos, encoding), MQTT_RO_SCHEMA (state_topic required,
  value_template), MQTT_RW_SCHEMA (adds command_topic required and retain).
- each platform's PLATFORM_SCHEMA_MODERN: ``binary_sensor.py``, ``alarm_control_panel.py`` (with
  _SUPPORTED_FEATURES and the AlarmControlPanelState values it accepts), ``switch.py``,
  ``siren.py`` (a siren without command_template publishes ``{"state": ...}`` JSON, so gemhost
  gives it one), ``lock.py``, ``button.py``, ``image.py`` (image_topic or url_topic).
- ``models.py`` MqttValueTemplate.async_render_with_possible_json_value: ``value`` is the payload,
  ``value_json`` is defined only when the payload parses as JSON; the platforms ignore an empty
  rendering (binary_sensor "Empty template output", alarm panel "Ignoring empty payload").
"""

from __future__ import annotations

import json
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

TOP_KEYS = {"dev", "device", "o", "origin", "cmps", "components", "availability", "availability_mode",
            "availability_topic", "availability_template", "payload_available", "payload_not_available",
            "qos", "state_topic", "command_topic", "encoding"}
DEVICE_KEYS = {"identifiers", "connections", "name", "manufacturer", "model", "model_id", "sw_version",
               "hw_version", "serial_number", "suggested_area", "via_device", "configuration_url"}
ORIGIN_KEYS = {"name", "sw", "sw_version", "url", "support_url"}
ENTITY_COMMON = {"p", "platform", "name", "unique_id", "availability", "availability_mode", "availability_topic",
                 "availability_template", "payload_available", "payload_not_available", "device",
                 "enabled_by_default", "entity_category", "entity_picture", "icon", "json_attributes_topic",
                 "json_attributes_template", "object_id", "default_entity_id", "qos", "encoding"}
PLATFORM_KEYS = {
    "binary_sensor": {"state_topic", "value_template", "device_class", "expire_after", "force_update",
                      "off_delay", "payload_on", "payload_off"},
    "alarm_control_panel": {"state_topic", "value_template", "command_topic", "command_template", "retain",
                            "code", "code_arm_required", "code_disarm_required", "code_trigger_required",
                            "supported_features", "payload_arm_away", "payload_arm_home", "payload_arm_night",
                            "payload_arm_vacation", "payload_arm_custom_bypass", "payload_disarm",
                            "payload_trigger"},
    "switch": {"command_topic", "command_template", "retain", "state_topic", "value_template", "payload_on",
               "payload_off", "state_on", "state_off", "optimistic", "device_class"},
    "siren": {"command_topic", "retain", "state_topic", "available_tones", "command_template",
              "command_off_template", "optimistic", "payload_on", "payload_off", "state_on", "state_off",
              "state_value_template", "support_duration", "support_volume_set"},
    "lock": {"command_topic", "command_template", "retain", "state_topic", "value_template", "code_format",
             "optimistic", "payload_lock", "payload_unlock", "payload_open", "payload_reset", "state_locked",
             "state_unlocked", "state_locking", "state_unlocking", "state_jammed", "state_open", "state_opening"},
    "button": {"command_topic", "command_template", "retain", "payload_press", "device_class"},
    "image": {"image_topic", "url_topic", "image_encoding", "content_type", "url_template"},
}
REQUIRED = {"binary_sensor": {"state_topic"}, "alarm_control_panel": {"state_topic", "command_topic"},
            "switch": {"command_topic"}, "siren": {"command_topic"}, "lock": {"command_topic"},
            "button": {"command_topic"}, "image": set()}
ALARM_FEATURES = {"arm_home", "arm_away", "arm_night", "arm_vacation", "arm_custom_bypass", "trigger"}
ALARM_STATES = {"disarmed", "armed_home", "armed_away", "armed_night", "armed_vacation", "armed_custom_bypass",
                "pending", "arming", "disarming", "triggered"}
BINARY_SENSOR_CLASSES = {"battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
                         "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving",
                         "occupancy", "opening", "plug", "power", "presence", "problem", "running", "safety",
                         "smoke", "sound", "tamper", "update", "vibration", "window"}
ENTITY_CATEGORIES = {"config", "diagnostic"}
TEMPLATE_KEYS = ("value_template", "state_value_template", "json_attributes_template")

_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined)


def render_value(template: str, payload: bytes | str) -> str:
    """Render a value template as Home Assistant does (StrictUndefined makes a use of an
    undefined name raise, where Home Assistant logs an error)."""
    text = payload.decode() if isinstance(payload, bytes) else payload
    variables: dict[str, Any] = {"value": text}
    try:
        variables["value_json"] = json.loads(text)
    except ValueError:
        pass
    return _ENV.from_string(template).render(**variables)


def render_command(template: str, **variables: Any) -> str:
    return _ENV.from_string(template).render(**variables)


def check_config(config: dict[str, Any]) -> None:
    """Assert a device-based discovery config is one Home Assistant accepts without warnings."""
    assert set(config) <= TOP_KEYS, set(config) - TOP_KEYS
    assert set(config["dev"]) <= DEVICE_KEYS and config["dev"]["identifiers"], config["dev"]
    assert set(config["o"]) <= ORIGIN_KEYS and config["o"]["name"] == "gemhost"
    unique_ids = [c["unique_id"] for c in config["cmps"].values() if len(c) > 1]
    assert len(unique_ids) == len(set(unique_ids)), "unique_id must be unique"
    for cid, comp in config["cmps"].items():
        check_component(cid, comp)


def check_component(cid: str, comp: dict[str, Any]) -> None:
    platform = comp["p"]
    assert platform in PLATFORM_KEYS, (cid, platform)
    if len(comp) == 1:
        return  # a removal
    allowed = ENTITY_COMMON | PLATFORM_KEYS[platform]
    assert set(comp) <= allowed, (cid, set(comp) - allowed)
    assert comp["unique_id"] and REQUIRED[platform] <= set(comp), (cid, REQUIRED[platform] - set(comp))
    assert isinstance(comp.get("name"), str) and comp["name"], cid
    if platform == "image":
        assert ("image_topic" in comp) != ("url_topic" in comp), cid
    if "device_class" in comp and platform == "binary_sensor":
        assert comp["device_class"] in BINARY_SENSOR_CLASSES, (cid, comp["device_class"])
    if "entity_category" in comp:
        assert comp["entity_category"] in ENTITY_CATEGORIES, cid
    if platform == "alarm_control_panel":
        assert set(comp["supported_features"]) <= ALARM_FEATURES, cid
    for key in TEMPLATE_KEYS:
        if key in comp:
            # a removed zone's empty retained state, or any payload that is not a JSON object,
            # renders nothing: Home Assistant ignores it instead of logging a template error
            for payload in (b"", b"not json", b"[1, 2]", b"null"):
                rendered = render_value(comp[key], payload)
                assert rendered in ("", "{}"), (cid, key, payload, rendered)
