"""Home Assistant MQTT discovery payloads (device-based, one config per device with ``cmps``).

One retained config per device (``<prefix>/device/<site>_<device>/config``) lets Home
Assistant create the device and all its entities atomically, and removing the device is a
single empty retained payload. Components that disappear (a zone removed from the site) are
sent once with only their platform, which is how Home Assistant is told to delete them.
"""

from __future__ import annotations

import json
from typing import Any

from gemhost.mqtt.topics import Topics

ORIGIN_URL = "https://github.com/gemhost/gemhost"

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


def zone_event_types(zone_state: dict[str, Any] | None) -> list[str]:
    """Event types a zone reports: motion always (every camera channel has it) and first,
    then the types its driver declares for it (zone state ``event_types``, e.g. from ISAPI's
    Event/triggers, so sensors exist before they fire) and every type the host has seen
    active or inactive, in a stable order."""
    seen = set()
    active = (zone_state or {}).get("active")
    if isinstance(active, dict):
        seen.update(str(k) for k in active)
    declared = (zone_state or {}).get("event_types")
    if isinstance(declared, list):
        seen.update(str(k) for k in declared)
    seen.discard("motion")
    return ["motion", *sorted(seen)]


def _title(text: str) -> str:
    return text.replace("_", " ").capitalize()


def binary_sensor_template(event_type: str) -> str:
    lookup = "(value_json.get('active') or {}).get('" + event_type + "')"
    return "{{ 'ON' if " + lookup + " else 'OFF' }}"


def device_config(
    *,
    topics: Topics,
    site_id: str,
    device: str,
    name: str,
    driver: str,
    info: dict[str, Any],
    area: str | None,
    zones: list[dict[str, Any]],
    version: str,
    snapshot_command: str | None = None,
    removed_components: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The discovery config of one device. ``zones`` items: ``{"id", "name", "state",
    "attributes"}``. ``removed_components`` maps component id -> platform to delete."""
    dev: dict[str, Any] = {
        "identifiers": [f"gemhost_{site_id}_{device}"],
        "name": name,
        "manufacturer": info.get("manufacturer") or "Hikvision",
        "model": info.get("model") or driver,
    }
    if info.get("firmware"):
        dev["sw_version"] = str(info["firmware"])
    if info.get("serial"):
        dev["serial_number"] = str(info["serial"])
    if area:
        dev["suggested_area"] = area
    cmps: dict[str, dict[str, Any]] = {}
    for zone in zones:
        zid = zone["id"]
        state_topic = topics.zone_state(device, zid)
        for event_type in zone_event_types(zone.get("state")):
            comp: dict[str, Any] = {
                "p": "binary_sensor",
                "name": f"{zone['name']} {_title(event_type)}",
                "unique_id": f"gemhost_{site_id}_{device}_{zid}_{event_type}",
                "state_topic": state_topic,
                "value_template": binary_sensor_template(event_type),
                "payload_on": "ON",
                "payload_off": "OFF",
            }
            if event_type in DEVICE_CLASSES:
                comp["device_class"] = DEVICE_CLASSES[event_type]
            cmps[f"{zid}_{event_type}"] = comp
        cmps[f"{zid}_snapshot"] = {
            "p": "image",
            "name": f"{zone['name']} Snapshot",
            "unique_id": f"gemhost_{site_id}_{device}_{zid}_snapshot",
            "image_topic": topics.snapshot(device, zid),
            "image_encoding": "b64",
            "content_type": "image/jpeg",
        }
        if snapshot_command:
            cmps[f"{zid}_take_snapshot"] = {
                "p": "button",
                "name": f"{zone['name']} Take snapshot",
                "unique_id": f"gemhost_{site_id}_{device}_{zid}_take_snapshot",
                "command_topic": topics.command(device, snapshot_command),
                "payload_press": json.dumps({"id": f"ha-{zid}", "args": {"zone": zid}}),
            }
    for comp_id, platform in (removed_components or {}).items():
        if comp_id not in cmps:
            cmps[comp_id] = {"p": platform}
    return {
        "dev": dev,
        "o": {"name": "gemhost", "sw": version, "url": ORIGIN_URL},
        "availability": [
            {"topic": topics.host_status, "payload_available": "online", "payload_not_available": "offline"},
            {"topic": topics.availability(device), "payload_available": "online",
             "payload_not_available": "offline"},
        ],
        "availability_mode": "all",
        "qos": 1,
        "cmps": cmps,
    }


def component_platforms(config: dict[str, Any]) -> dict[str, str]:
    """component id -> platform of a config, to know what to delete next time."""
    return {cid: comp["p"] for cid, comp in config.get("cmps", {}).items() if len(comp) > 1}
