"""Issue 16 item 3: ISAPI answers the core's capability commands (PTZ, snapshot, outputs) with
the reply keys gemhost/capability_commands.yaml declares, against the ISAPI simulator."""

from __future__ import annotations

from isapi_helpers import SCHEMA, make_device

from gemhost.schema import mapping_validator
from gemhost.testing import check_reply_contract


def _args(command: str, values: dict) -> dict:
    return mapping_validator(SCHEMA.commands[command].args)(values)


async def test_every_capability_command_answers_the_shared_reply(sim, driver_factory):
    dev = make_device(sim, {"front": {"address": 2}})
    drv, _ = driver_factory(dev)
    front = dev.zones["front"]
    calls = [("ptz_pan_tilt", {"address": 2, "pan": 40, "tilt": -20, "duration": 60000}),
             ("ptz_zoom", {"address": 2, "zoom": -30}),
             ("ptz_stop", {"address": 2}),
             ("ptz_preset", {"address": 2, "preset": 7}),
             ("ptz_relative", {"address": 2, "pan": 10, "tilt": 5})]
    replies = {name: check_reply_contract(SCHEMA, name, await drv.command(name, _args(name, a), front))
               for name, a in calls}
    assert replies["ptz_pan_tilt"] == {"channel": 2, "pan": 40, "tilt": -20, "stop_after_ms": 60000}
    assert replies["ptz_zoom"]["zoom"] == -30 and replies["ptz_zoom"]["stop_after_ms"] is None
    assert replies["ptz_stop"]["stopped"] is True and drv._timers == {}  # the stop replaced the pending one
    assert (replies["ptz_preset"]["preset"], replies["ptz_relative"]["zoom"]) == (7, 0)
    assert sim.ptz[2]["preset"] == 7
    shot = await drv.command("snapshot", _args("snapshot", {"address": 2}), front)
    check_reply_contract(SCHEMA, "snapshot", shot)
    assert shot["content_type"] == "image/jpeg"
    level = await drv.command("set_output", _args("set_output", {"output": 1, "state": "on"}), None)
    assert check_reply_contract(SCHEMA, "set_output", level) == {"output": 1, "state": "on"}
    assert sim.outputs[1] == "high"
