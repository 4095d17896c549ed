"""Issue 13, item 9: what happens to a retained command, exactly as docs/mqtt.md says.

Before the fix a retained command published while the host was subscribed was delivered live
without the retain flag (MQTT 3.1.1 section 3.3.1.3, and MQTT 5 without Retain As Published)
and run; the docs said retained commands are ignored. Now: never run on MQTT 5, answered
``bad_request`` whenever it arrives flagged, and on 3.1.1 the one case the protocol cannot
tell apart (live delivery) is documented and tested as what it is.
"""

from __future__ import annotations

import json

import aiomqtt
import pytest
from fault_helpers import RUNS, B, connected, site_yaml, until

pytestmark = pytest.mark.mosquitto

ECHO = f"{B}/cam1/cmd/echo"


async def _publish(port: int, payload: bytes, *, retain: bool) -> None:
    async with aiomqtt.Client("127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5) as client:
        await client.publish(ECHO, payload, qos=1, retain=retain)


async def test_mqtt5_never_runs_a_retained_command(mosquitto, start_host, watch):
    host = await start_host(site_yaml(mosquitto))  # protocol auto: MQTT 5 on mosquitto
    w = await watch(mosquitto.port, f"{ECHO}/reply")
    await connected(host)
    await until(lambda: host.runners["cam1"].state.online, "cam1 online")
    assert host.bridge.protocol == aiomqtt.ProtocolVersion.V5

    # published while gemhost is subscribed: delivered live, still flagged (Retain As Published)
    await _publish(mosquitto.port, b'{"id": "live", "args": {"text": "x"}}', retain=True)
    live = await w.wait_json(f"{ECHO}/reply", lambda d: d["id"] == "live")
    assert live["error"]["code"] == "bad_request" and "retained commands are not run" in live["error"]["message"]
    # the stored copy, delivered when gemhost subscribes again: refused again, still not run
    await host.stop()
    host = await start_host(site_yaml(mosquitto))
    await connected(host)
    await until(lambda: [m for m in w.on(f"{ECHO}/reply") if json.loads(m.payload)["id"] == "live"][1:],
                "the refusal of the stored copy")
    # clearing it (an empty retained message) is not a request: no reply, nothing run
    await _publish(mosquitto.port, b"", retain=True)
    await _publish(mosquitto.port, b'{"id": "plain", "args": {"text": "x"}}', retain=False)
    await w.wait_json(f"{ECHO}/reply", lambda d: d["id"] == "plain")
    bodies = [json.loads(m.payload) for m in w.on(f"{ECHO}/reply")]
    assert [b["id"] for b in bodies] == ["live", "live", "plain"]
    assert all("retained commands are not run" in b["error"]["message"] for b in bodies[:2])
    assert RUNS["cam1/echo"] == 1  # only the plain request ran


async def test_mqtt311_runs_a_live_retained_command_and_refuses_the_stored_one(mosquitto, start_host, watch):
    host = await start_host(site_yaml(mosquitto, protocol="3.1.1"))
    w = await watch(mosquitto.port, f"{ECHO}/reply")
    await connected(host)
    await until(lambda: host.runners["cam1"].state.online, "cam1 online")

    # 3.1.1 clears the flag on live delivery: indistinguishable from a request, so it runs
    await _publish(mosquitto.port, b'{"id": "live", "args": {"text": "x"}}', retain=True)
    live = await w.wait_json(f"{ECHO}/reply", lambda d: d["id"] == "live")
    assert live == {"id": "live", "ok": True, "result": {"text": "x"}} and RUNS["cam1/echo"] == 1
    # the copy the broker keeps arrives flagged when gemhost subscribes again: refused
    await host.stop()
    host = await start_host(site_yaml(mosquitto, protocol="3.1.1"))
    await connected(host)
    replies = await until(lambda: [json.loads(m.payload) for m in w.on(f"{ECHO}/reply")
                                   if json.loads(m.payload)["id"] == "live" and not json.loads(m.payload)["ok"]],
                          "the refusal of the stored copy")
    assert "retained commands are not run" in replies[0]["error"]["message"]
    assert RUNS["cam1/echo"] == 1
