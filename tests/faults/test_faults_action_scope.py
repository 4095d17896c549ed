"""The core ``action`` command (what a Home Assistant alarm panel or bypass switch sends) is held
to the same token rules as every other command: the token must cover the zone the action names
before anything is looked up, and an out-of-scope action learns nothing (issue 13, items 1-2)."""

from __future__ import annotations

from fault_helpers import B, site_yaml, until
from gemhost_drivers.hpp.simulator import HppSimulator
from test_faults_token_scope import HPP_DEVICE, KEY, PANEL


async def test_an_action_needs_a_token_that_covers_its_zone(amqtt_broker, sims, start_host, watch):
    sim = await sims(HppSimulator, key=KEY, long_poll=0.2)
    host = await start_host(site_yaml(amqtt_broker, devices=HPP_DEVICE.replace("DOMAIN", sim.url),
                                      require_token=True), secrets=f"hpp_key: {KEY}\n")
    admin = host.tokens.create("admin", ["hpp"], [], None, 3600)
    yard = host.tokens.create("yard", [], ["hpp/yard_ptz"], None, 3600)
    w = await watch(amqtt_broker.port)
    await host.bridge.connected.wait()
    await until(lambda: host.runners["hpp"].state.online, "the HPP connection online")

    async def act(args: dict, token: str | None, n: int) -> dict:
        body = {"id": n, "args": args, **({"token": token} if token else {})}
        return await w.request(f"{B}/hpp/cmd/action", body, timeout=20)

    refusal = {"code": "unauthorized", "message": "token 'yard' does not cover this request on device 'hpp'"}
    # the panel's subsystem is outside the yard token: refused, panel untouched
    assert (await act({"zone": "ground_floor", "action": "arm_away"}, yard, 1))["error"] == refusal
    assert sim.cloud.devices[PANEL].partitions[1].arming == "disarm"
    # a zone or action that does not exist gets the very same words: nothing is learnt
    assert (await act({"zone": "no_such_zone", "action": "arm_away"}, yard, 2))["error"] == refusal
    assert (await act({"zone": "ground_floor", "action": "self_destruct"}, yard, 3))["error"] == refusal
    assert (await act({"action": "arm_away"}, yard, 4))["error"] == refusal
    # no token at all: refused before anything about the site
    assert (await act({"zone": "ground_floor", "action": "arm_away"}, None, 5))["error"]["code"] == "unauthorized"
    # a token for the device runs the routed command, which is then authorized like any other
    reply = await act({"zone": "ground_floor", "action": "arm_away"}, admin, 6)
    assert reply["ok"], reply
    assert sim.cloud.devices[PANEL].partitions[1].arming == "away"
    assert (await act({"zone": "ground_floor", "action": "disarm"}, admin, 7))["ok"]
    assert sim.cloud.devices[PANEL].partitions[1].arming == "disarm"
