"""Issue 16 item 3: HPP answers the core's capability commands (PTZ; snapshot stays declared
unsupported) and its relay command with the reply keys gemhost/capability_commands.yaml
declares, against the HPP simulator."""

from __future__ import annotations

from gemhost.schema import mapping_validator
from gemhost.testing import check_reply_contract


async def test_every_capability_command_answers_the_shared_reply(make_driver, hpp, sim):
    driver, _ = make_driver({"ptz": "Q10000002:1", "nvr": "Q10000001"})
    await driver.connect()
    ptz = driver.device.zones["ptz"]

    async def call(name: str, values: dict, zone=ptz) -> dict:
        return await driver.command(name, mapping_validator(hpp.SCHEMA.commands[name].args)(values), zone)

    moved = check_reply_contract(hpp.SCHEMA, "ptz_pan_tilt",
                                 await call("ptz_pan_tilt", {"address": "Q10000002:1", "pan": 30, "tilt": 0,
                                                             "duration": 60000}))
    assert moved == {"address": "Q10000002:1", "pan": 30, "tilt": 0, "zoom": 0, "stopped": False,
                     "stop_after_ms": 60000}
    zoomed = check_reply_contract(hpp.SCHEMA, "ptz_zoom", await call("ptz_zoom", {"address": "Q10000002:1", "zoom": 5}))
    assert zoomed["stop_after_ms"] is None and driver._timers == {}  # the new move replaced the pending stop
    stopped = check_reply_contract(hpp.SCHEMA, "ptz_stop", await call("ptz_stop", {"address": "Q10000002:1"}))
    assert stopped["stopped"] is True
    preset = check_reply_contract(hpp.SCHEMA, "ptz_preset", await call("ptz_preset", {"address": "Q10000002:1",
                                                                                      "preset": 7}))
    assert preset == {"address": "Q10000002:1", "preset": 7}
    assert sim.cloud.devices["Q10000002"].ptz[-1] == {"channel": 1, "preset": 7}
    # the relay command is HPP's own (zone scope, on/off) and answers the outputs reply keys
    relay = await call("set_output", {"address": "Q10000001", "output": 1, "state": "on"},
                       driver.device.zones["nvr"])
    assert {k: relay[k] for k in ("output", "state")} == {"output": 1, "state": "on"}
    assert hpp.SCHEMA.commands["snapshot"].supported is False and not hpp.SCHEMA.commands["snapshot"].reply
