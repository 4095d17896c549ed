"""The simulator's HTTP control API under /_sim and its CLI options."""

from __future__ import annotations

import argparse

import aiohttp
from gemhost_drivers.hikcentral.simulator import HikCentralSimulator


async def test_control_api(small_sim):
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{small_sim.url}/_sim/cameras", json={"name": "Gate"}) as resp:
            code = (await resp.json())["code"]
        assert small_sim.cameras[code].name == "Gate"
        async with http.post(f"{small_sim.url}/_sim/cameras/{code}/rename", json={"name": "Gate 2"}):
            pass
        assert small_sim.cameras[code].name == "Gate 2"
        async with http.delete(f"{small_sim.url}/_sim/cameras/{code}"):
            pass
        assert code not in small_sim.cameras
        async with http.post(f"{small_sim.url}/_sim/fault", json={"kind": "permission"}) as resp:
            assert (await resp.json())["fault"] == "permission"
        async with http.post(f"{small_sim.url}/_sim/fault", json={"kind": "nonsense"}) as resp:
            assert resp.status == 400
        async with http.get(f"{small_sim.url}/_sim/state") as resp:
            state = await resp.json()
        assert state["cameras"] == 30 and state["fault"] == "permission"
        async with http.post(f"{small_sim.url}/_sim/push", json={"camera": "1", "event": "motion"}) as resp:
            assert (await resp.json())["delivered"] == 0  # nobody subscribed


def test_cli_options():
    parser = argparse.ArgumentParser()
    HikCentralSimulator.add_arguments(parser)
    args = parser.parse_args(["--cameras", "10", "--https", "--app-key", "k", "--app-secret", "s",
                              "--motion-every", "2.5"])
    options = HikCentralSimulator.options_from_args(args)
    # port is not an option: `gemhost simulate` passes host and port to the constructor itself
    assert options == {"cameras": 10, "https": True, "app_key": "k", "app_secret": "s", "motion_every": 2.5}
    sim = HikCentralSimulator(**options)
    assert len(sim.cameras) == 10 and sim.app_key == "k"
