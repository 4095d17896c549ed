"""Schema files are data written by driver authors: a malformed one is refused with its place."""

from __future__ import annotations

import textwrap

import pytest

from gemhost.schema import SchemaError, load_schema

BASE = """
driver: x
zone_key: channel
device:
  host: {type: host, required: true}
zone:
  channel: {type: int, required: true}
commands:
  go: {scope: zone, args: {channel: {type: int}}}
"""


def write(tmp_path, text: str):
    path = tmp_path / "x.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_valid_schema_loads(tmp_path):
    schema = load_schema(write(tmp_path, BASE))
    assert schema.driver == "x" and schema.zone_key == "channel"
    assert schema.device["host"].required and schema.commands["go"].scope == "zone"


def test_event_kinds_are_declared_and_undeclared_types_are_pulses(tmp_path):
    schema = load_schema(write(tmp_path, BASE + "events:\n  io: {kind: stateful, note: Alarm input.}\n"))
    assert schema.event_kind("io") == "stateful" and schema.event_kind("doorbell") == "pulse"
    assert schema.as_dict()["events"] == [{"name": "io", "kind": "stateful", "note": "Alarm input."}]
    repeating = load_schema(write(tmp_path, BASE + "event_default_kind: repeating\n"))
    assert repeating.event_kind("doorbell") == "repeating"


def test_describe_prints_the_event_kinds():
    from gemhost.describe import to_markdown
    from gemhost.schema import bundled_schema

    text = to_markdown(load_schema(bundled_schema("hikvision_isapi")))
    assert "| Event type | Kind | Notes |" in text
    assert "| `io` | stateful |" in text and "| `motion` | repeating |" in text


@pytest.mark.parametrize(("change", "message"), [
    (("driver: x", "driver: x\nextras: 1"), "x.yaml: unknown top-level keys ['extras']"),
    (("type: host, required: true", "type: hostname"), "x.yaml device.host: type 'hostname' is not one of"),
    (("type: host, required: true", "type: enum"), "x.yaml device.host: an enum needs 'values'"),
    (("type: host, required: true", "type: int, default: ten"), "x.yaml device.host: default 'ten': expected an"),
    (("type: host, required: true", "type: host, colour: red"), "x.yaml device.host: unknown keys ['colour']"),
    (("zone_key: channel", "zone_key: address"), "x.yaml: zone_key 'address' is not a zone attribute"),
    (("scope: zone", "scope: site"), "x.yaml commands.go: scope must be device or zone"),
    (("driver: x", "driver: x\nevents: {motion: {kind: sometimes}}"),
     "x.yaml events.motion: kind 'sometimes' is not one of stateful, repeating, pulse"),
    (("driver: x", "driver: x\nevents: {motion: repeating}"),
     "x.yaml events.motion: expected a mapping with 'kind'"),
    (("driver: x", "driver: x\nevents: {motion: {kind: pulse, colour: red}}"),
     "x.yaml events.motion: unknown keys ['colour']"),
    (("driver: x", "driver: x\nevent_default_kind: never"),
     "x.yaml event_default_kind: kind 'never' is not one of"),
])
def test_malformed_schema_names_the_place(tmp_path, change, message):
    old, new = change
    with pytest.raises(SchemaError) as info:
        load_schema(write(tmp_path, BASE.replace(old, new, 1)))
    assert str(info.value).startswith(message)


def test_unreadable_schema(tmp_path):
    with pytest.raises(SchemaError) as info:
        load_schema(write(tmp_path, "driver: [unclosed\n"))
    assert "x.yaml" in str(info.value)
    with pytest.raises(SchemaError, match="expected a mapping with a 'driver' key"):
        load_schema(write(tmp_path, "- just a list\n"))
