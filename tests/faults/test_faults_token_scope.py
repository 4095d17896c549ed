"""Issue 13, items 1 and 2: a token reaches exactly its scope, and a refusal says nothing.

Item 1 is the attack that worked: a token for one HPP camera zone, sent with that zone *and*
a panel subsystem's address, disarmed the panel. The HPP part runs against the HPP simulator
(a real aiohttp server on loopback) and reads the effect back from the simulated cloud.
"""

from __future__ import annotations

import json

import pytest
from fault_helpers import B, connected, site_yaml, until
from gemhost_drivers.hpp.simulator import HppSimulator

from gemhost.errors import CommandError

PANEL, PTZ = "Q20000001", "Q10000002"
KEY = "faults-hpp-key-0d9e4c7b21"

HPP_DEVICE = f"""
  - id: hpp
    driver: hpp
    attributes: {{access_mode: key, key: !secret hpp_key, domain: "DOMAIN", status_interval: 5000,
                  timeout: 5, receive_events: false}}
    zones:
      - {{id: yard_ptz, attributes: {{address: "{PTZ}:1"}}}}
      - {{id: ground_floor, attributes: {{address: "{PANEL}:sub:1"}}}}
"""


def arming(sim: HppSimulator, number: int) -> str:
    return sim.cloud.devices[PANEL].partitions[number].arming


async def test_a_zone_token_cannot_reach_another_target_through_the_address(amqtt_broker, sims, start_host,
                                                                            watch):
    sim = await sims(HppSimulator, key=KEY, long_poll=0.2)
    host = await start_host(site_yaml(amqtt_broker, devices=HPP_DEVICE.replace("DOMAIN", sim.url),
                                      require_token=True), secrets=f"hpp_key: {KEY}\n")
    admin = host.tokens.create("admin", ["hpp"], [], None, 3600)
    yard = host.tokens.create("yard", [], ["hpp/yard_ptz"], None, 3600)
    w = await watch(amqtt_broker.port)
    await connected(host)
    await until(lambda: host.runners["hpp"].state.online, "the HPP connection online")

    async def ask(command: str, args: dict, token: str, n: int) -> dict:
        return await w.request(f"{B}/hpp/cmd/{command}", {"id": n, "args": args, "token": token}, timeout=20)

    assert (await ask("arm_away", {"zone": "ground_floor"}, admin, 1))["ok"]
    assert arming(sim, 1) == "away"
    # the attack of the issue: the yard camera's zone, the panel subsystem's address
    reply = await ask("disarm", {"zone": "yard_ptz", "address": f"{PANEL}:sub:1"}, yard, 2)
    assert reply["error"]["code"] == "invalid_args" and "different targets" in reply["error"]["message"]
    assert arming(sim, 1) == "away"
    # the panel's address alone is outside the token: refused without a word about it
    reply = await ask("disarm", {"address": f"{PANEL}:sub:1"}, yard, 3)
    assert reply["error"] == {"code": "unauthorized",
                              "message": "token 'yard' does not cover this request on device 'hpp'"}
    assert arming(sim, 1) == "away"
    # the zone the token does cover still works, and acts on that zone only
    moved = await ask("ptz_preset", {"zone": "yard_ptz", "preset": 3}, yard, 4)
    assert moved["ok"] and moved["result"]["address"] == f"{PTZ}:1"
    assert sim.state()["devices"][PTZ]["ptz"][-1] == {"channel": 1, "preset": 3}
    # a camera zone cannot switch off the alarms of the whole recorder it belongs to
    reply = await ask("disarm", {"zone": "yard_ptz"}, yard, 5)
    assert reply["error"]["code"] == "invalid_args" and "whole device" in reply["error"]["message"]
    assert sim.state()["devices"][PTZ]["subscribed"] is True


async def test_the_driver_gets_only_the_resolved_target(amqtt_broker, start_host, watch):
    host = await start_host(site_yaml(amqtt_broker))
    w = await watch(amqtt_broker.port)
    await connected(host)
    await until(lambda: host.runners["cam1"].state.online, "cam1 online")

    async def look(args: dict, n: int) -> dict:
        return await w.request(f"{B}/cam1/cmd/look", {"id": n, "args": args})

    assert (await look({"zone": "door"}, 1))["result"] == {"zone": "door", "address": 1}
    assert (await look({"address": 2}, 2))["result"] == {"zone": "yard", "address": 2}
    assert (await look({"zone": "door", "address": "1"}, 3))["result"] == {"zone": "door", "address": 1}
    clash = await look({"zone": "door", "address": 2}, 4)
    assert clash["error"]["code"] == "invalid_args" and "different targets" in clash["error"]["message"]


async def test_out_of_scope_requests_learn_nothing(amqtt_broker, start_host, watch):
    host = await start_host(site_yaml(amqtt_broker, require_token=True))
    cam1 = host.tokens.create("cam1-only", ["cam1"], [], None, 3600)
    door = host.tokens.create("door-only", [], ["cam1/door"], None, 3600)
    w = await watch(amqtt_broker.port)
    await connected(host)
    await until(lambda: host.runners["cam1"].state.online, "cam1 online")
    n = 0

    async def ask(device: str, command: str, args: dict, token: str) -> dict:
        nonlocal n
        n += 1
        return (await w.request(f"{B}/{device}/cmd/{command}", {"id": n, "args": args, "token": token}))

    # a device token: other devices look the same whether they exist or not
    def other(device: str) -> dict:
        return {"code": "unauthorized", "message": f"token 'cam1-only' does not cover device {device!r}"}

    assert (await ask("cam2", "echo", {"text": "x"}, cam1))["error"] == other("cam2")
    assert (await ask("ghost", "echo", {"text": "x"}, cam1))["error"] == other("ghost")
    assert (await ask("cam2", "no_such_command", {}, cam1))["error"] == other("cam2")
    assert (await ask("ghost", "no_such_command", {}, cam1))["error"] == other("ghost")
    assert (await ask("cam2", "look", {"zone": "nowhere"}, cam1))["error"] == other("cam2")
    # within its device it gets the full detail
    detail = (await ask("cam1", "no_such_command", {}, cam1))["error"]
    assert detail["code"] == "unknown_command" and "echo" in detail["message"]

    # a zone token: everything that is not its zone gets one and the same refusal
    refusal = {"code": "unauthorized", "message": "token 'door-only' does not cover this request on device 'cam1'"}
    outside = [("no_such_command", {}), ("look", {"zone": "nowhere"}), ("look", {"zone": "yard"}),
               ("look", {"address": 2}), ("look", {"address": 9}), ("echo", {"text": "x"})]
    texts = []
    for command, args in outside:
        reply = await ask("cam1", command, args, door)
        assert reply["error"] == refusal, (command, args, reply)
        texts.append(json.dumps(reply))
    assert (await ask("cam2", "look", {"zone": "gate"}, door))["error"]["code"] == "unauthorized"
    assert not any(word in text for text in texts for word in ("yard", "gate", "hold", "zones:", "available"))
    # inside its zone, it is an ordinary caller again
    assert (await ask("cam1", "look", {"zone": "door"}, door))["result"] == {"zone": "door", "address": 1}
    assert (await ask("cam1", "look", {"address": 1}, door))["result"] == {"zone": "door", "address": 1}
    bad = (await ask("cam1", "look", {"zone": "door", "address": 70}, door))["error"]
    assert bad["code"] == "invalid_args"


@pytest.mark.parametrize("token_kind", ["device", "zone"])
async def test_refusals_come_before_any_device_lookup(amqtt_broker, start_host, token_kind):
    """Host.call itself (the CLI's path too): a refused token never reaches the runners."""
    host = await start_host(site_yaml(amqtt_broker, require_token=True))
    token = host.tokens.create("t", ["cam9"] if token_kind == "device" else [], [] if token_kind == "device"
                               else ["cam9/door"], None, 3600)
    looked_up: list[str] = []

    class Watching(dict):
        def get(self, key, default=None):
            looked_up.append(key)
            return super().get(key, default)

    host.runners = Watching(host.runners)
    with pytest.raises(CommandError) as info:
        await host.call("cam1", "echo", {"text": "x"}, token=token)
    assert info.value.code == "unauthorized" and looked_up == []
