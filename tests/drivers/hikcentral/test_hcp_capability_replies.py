"""Issue 16 item 3: HikCentral answers the core's capability commands (PTZ, snapshot) with the
reply keys gemhost/capability_commands.yaml declares, against the HikCentral simulator."""

from __future__ import annotations

from hcp_fakes import make_driver, zone

from gemhost.schema import mapping_validator
from gemhost.testing import check_reply_contract


async def test_every_capability_command_answers_the_shared_reply(small_sim):
    dome = zone("dome", "1")  # camera 1 has PTZ in the simulator
    driver, _ = make_driver(small_sim, [dome], events=False)
    schema = driver.schema()

    async def call(name: str, values: dict) -> dict:
        reply = await driver.command(name, mapping_validator(schema.commands[name].args)(values), dome)
        return check_reply_contract(schema, name, reply)

    try:
        moved = await call("ptz_pan_tilt", {"camera": "1", "pan": -40, "tilt": 60, "duration": 60000})
        assert moved == {"camera": "1", "command": "LEFT_UP", "speed": 60, "duration": 60000, "pan": -40, "tilt": 60,
                         "stop_after_ms": 60000}
        assert len(driver._timers) == 1
        zoomed = await call("ptz_zoom", {"camera": "1", "zoom": 30})
        assert (zoomed["zoom"], zoomed["stop_after_ms"]) == (30, None) and driver._timers == {}
        stopped = await call("ptz_stop", {"camera": "1"})
        assert stopped["stopped"] is True and small_sim.ptz["1"].moving is None
        preset = await call("ptz_preset", {"camera": "1", "preset": 7})
        assert preset == {"camera": "1", "preset": 7} and small_sim.ptz["1"].preset == 7
        shot = await call("snapshot", {"camera": "1"})
        assert shot["content_type"] == "image/jpeg"
        assert "ptz_relative" not in schema.commands  # ptzs/controlling has no relative move
    finally:
        await driver.close()
