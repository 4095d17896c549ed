"""Issue 16 item 3: capability commands declared once (gemhost/capability_commands.yaml, a
schema's ``use:``) and the core's timed stops (gemhost/timedstops.py)."""

from __future__ import annotations

import asyncio
import logging
import textwrap

import pytest

from gemhost import capability_replies
from gemhost.schema import SchemaError, load_schema, shared_commands
from gemhost.timedstops import TimedStops


def _schema(tmp_path, body: str):
    path = tmp_path / "d.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return load_schema(path)


BASE = """
driver: d
zone_key: channel
zone:
  channel: {type: int, required: true, min: 1, max: 8, unique: true, note: Channel number.}
"""


def test_use_includes_groups_with_the_zone_attribute_as_argument(tmp_path):
    schema = _schema(tmp_path, BASE + "use: [ptz, snapshot]\n")
    fragment = shared_commands()
    assert list(schema.commands) == [*fragment["groups"]["ptz"], "snapshot"]
    pan = schema.commands["ptz_pan_tilt"]
    assert list(pan.args) == ["channel", "pan", "tilt", "duration"]
    channel = pan.args["channel"]
    assert (channel.type, channel.required, channel.min, channel.max, channel.unique) == ("int", True, 1, 8, False)
    assert set(pan.reply) == {"pan", "tilt", "stop_after_ms"}
    assert schema.commands["snapshot"].reply.keys() == {"content_type", "base64"}


def test_a_driver_entry_refines_and_supported_false_stays_as_written(tmp_path):
    schema = _schema(tmp_path, BASE + textwrap.dedent("""
        use: [snapshot, ptz_preset, outputs]
        zone_arg: {type: int, required: true, min: 1, note: Channel.}
        commands:
          own: {note: Not shared.}
          ptz_preset: {note: Preset through the vendor API., timeout: 30, args: {speed: {type: int, default: 5}}}
          snapshot: {supported: false, reason: The API has no picture.}
        """))
    assert list(schema.commands) == ["own", "ptz_preset", "snapshot", "set_output"]
    preset = schema.commands["ptz_preset"]
    assert (preset.note, preset.timeout, list(preset.args)) == (
        "Preset through the vendor API.", 30, ["channel", "preset", "speed"])
    assert preset.args["channel"].note == "Channel." and preset.args["channel"].max is None
    snap = schema.commands["snapshot"]
    assert (snap.supported, snap.scope, snap.args, snap.reply) == (False, "zone", {}, {})
    assert "channel" not in schema.commands["set_output"].args  # a device command


@pytest.mark.parametrize(("use", "message"), [
    ("[pzt]", "use: no capability group or command 'pzt'"),
    ("ptz", "use: expected a list of group or command names"),
])
def test_a_bad_use_names_the_spot(tmp_path, use, message):
    with pytest.raises(SchemaError, match=message) as info:
        _schema(tmp_path, BASE + f"use: {use}\n")
    assert "d.yaml" in str(info.value)


async def test_timed_stops_replace_cancel_log_and_close(caplog):
    stops = TimedStops(logging.getLogger("test.stops"))
    sent: list[str] = []

    async def stop(name: str) -> None:
        sent.append(name)

    stops.schedule("ch1", 60000, lambda: stop("first"), "first stop")
    first = stops["ch1"]
    stops.schedule("ch1", 1, lambda: stop("second"), "second stop")  # replaces the first
    await asyncio.sleep(0)
    assert first.cancelled() and len(stops) == 1
    async with asyncio.timeout(5):
        while stops:
            await asyncio.sleep(0.005)
    assert sent == ["second"]

    async def broken() -> None:
        raise OSError("no route to the camera")

    with caplog.at_level(logging.WARNING):
        stops.schedule("ch2", 1, broken, "PTZ stop after 1 ms on channel 2")
        async with asyncio.timeout(5):
            while stops:
                await asyncio.sleep(0.005)
    assert "PTZ stop after 1 ms on channel 2 failed: no route to the camera" in caplog.text
    stops.schedule("ch3", 60000, lambda: stop("late"), "late stop")
    pending = stops["ch3"]
    stops.schedule("ch4", None, lambda: stop("never"), "no duration")  # nothing scheduled
    assert list(stops) == ["ch3"]
    await stops.close()
    assert pending.cancelled() and stops == {} and sent == ["second"]


def test_a_reply_without_a_declared_key_is_refused():
    assert capability_replies.reply("ptz_stop", channel=1, stopped=True) == {"channel": 1, "stopped": True}
    with pytest.raises(ValueError, match="the ptz_pan_tilt reply lacks stop_after_ms"):
        capability_replies.reply("ptz_pan_tilt", channel=1, pan=1, tilt=0)
