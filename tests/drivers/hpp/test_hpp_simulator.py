"""The simulator on its own: control API, consume semantics, options, plugin registration."""

from __future__ import annotations

import argparse

import aiohttp
import pytest
from gemhost_drivers.hpp import plugin
from gemhost_drivers.hpp.client import Credentials, HppClient
from gemhost_drivers.hpp.driver import HppDriver
from gemhost_drivers.hpp.simulator import HppSimulator

from gemhost.model import Secret


async def test_an_event_consumed_by_one_platform_is_not_seen_by_another(sim, hpp):
    a = HppClient(sim.url, Credentials("key", key=Secret(hpp.KEY)), long_poll=0.05)
    b = HppClient(sim.url, Credentials("aksk", access_key=hpp.AK, secret_key=Secret(hpp.SK)), long_poll=0.05)
    try:
        sim.event("Q10000001", "VMD")
        first = await a.messages()
        again = await b.messages()  # not yet committed: still there for anyone
        assert [m["msgId"] for m in first.messages] == [m["msgId"] for m in again.messages]
        await a.commit(first.batch_id)
        assert (await b.messages()).messages == []
    finally:
        await a.close()
        await b.close()


async def test_control_api_over_http(sim):
    async with aiohttp.ClientSession() as http:

        async def post(path: str, body: dict) -> dict:
            async with http.post(sim.url + path, json=body) as resp:
                return await resp.json()

        assert (await post("/_sim/event", {"serial": "Q10000001", "type": "VMD", "channel": 2}))["ok"]
        assert (await post("/_sim/online", {"serial": "Q10000002", "online": False}))["ok"]
        assert (await post("/_sim/intrusion", {"serial": "Q20000001", "zone": 3, "fire": True}))["ok"]
        assert (await post("/_sim/delete", {"serial": "Q10000002"}))["ok"]
        assert (await post("/_sim/fault", {"kind": "error500"}))["ok"]
        bad = await post("/_sim/fault", {"kind": "meteor"})
        assert bad["ok"] is False and "fault must be one of" in bad["error"]
        assert (await post("/_sim/revoke", {}))["ok"]
        async with http.get(sim.url + "/_sim/state") as resp:
            state = await resp.json()
        async with http.get(sim.url + "/_sim/pictures/x.jpg") as resp:
            assert resp.content_type == "image/jpeg"
    types = [m["msgType"] for m in sim.cloud.queue]
    assert types == ["VMD", "deviceoffline", "cidEvent", "Linkage", "devicedeleted"]
    assert state["devices"]["Q20000001"]["zones"]["3"]["alarm"] is True
    assert state["devices"]["Q10000002"]["site"] is None and state["queue"] == 5


async def test_api_requires_a_token(sim):
    async with (
        aiohttp.ClientSession() as http,
        http.post(sim.url + "/api/hpcgw/v1/site/search", json={}) as resp,
    ):
        body = await resp.json()
    assert body["errorCode"] == "LAP000402"


def test_simulator_refuses_non_loopback():
    with pytest.raises(ValueError, match="loopback"):
        HppSimulator(host="0.0.0.0")


def test_cli_options():
    parser = argparse.ArgumentParser()
    HppSimulator.add_arguments(parser)
    args = parser.parse_args(
        ["--port", "0", "--key", "k1", "--access-key", "A" * 10, "--secret-key", "S" * 10, "--region", "eu"]
    )
    options = HppSimulator.options_from_args(args)
    assert options["key"] == "k1" and options["access_key"] == "A" * 10 and options["region"] == "eu"
    assert "port" not in options  # the CLI passes host and port itself
    sim = HppSimulator(host="127.0.0.1", port=args.port, **options)
    assert sim.cloud.region == "eu" and sim.cloud.area_domain == "https://ieu.hik-partner.com"


def test_plugin_registers_driver_simulator_and_cli():
    drivers, sims = [], []
    plugin.register_drivers(drivers.append)
    plugin.register_simulators(lambda name, cls: sims.append((name, cls)))
    parser = argparse.ArgumentParser()
    plugin.register_cli(parser.add_subparsers().add_parser)  # the hook's add_command(name, help=...)
    assert drivers == [HppDriver] and sims == [("hpp", HppSimulator)]
    assert parser.parse_args(["hpp", "unbind", "site.yaml", "hpp1"]).device == "hpp1"
    assert HppDriver.name == "hpp" and HppDriver.schema_path.name == "hpp.yaml"


def test_message_ids_are_unique_across_simulator_runs():
    """Consumers persist published ids to suppress duplicates; a restarted simulator must not
    reuse the previous run's ids, or a restarted demo's first alarms would be dropped."""
    first, second = HppSimulator(), HppSimulator()
    ids_first = {first.event("Q10000001", "VMD") for _ in range(5)}
    ids_second = {second.event("Q10000001", "VMD") for _ in range(5)}
    assert len(ids_first) == len(ids_second) == 5
    assert not ids_first & ids_second
