"""Issue 13, item 7: never more than two failed logins per device, on every path.

Hikvision locks an account after about five failed logins. The simulator counts them the
way the firmware does (a wrong digest response is a failed login; the challenge round is
not). Before the fix, each command queued behind the concurrency limit had passed its
auth check before waiting, so after the password changed every queued command cost one
more failed login: 4 with 10 queued, 5 (locked) when the device was slow.
"""

from __future__ import annotations

import asyncio

import pytest
from fault_helpers import B, connected, site_yaml, until
from gemhost_drivers.hikvision_isapi.simulator import IsapiSimulator

from gemhost.model import AUTH_FAILED

ISAPI = """
  - id: nvr
    driver: hikvision_isapi
    attributes: {ip: 127.0.0.1, port: PORT, username: admin, password: !secret nvr_password,
                 status_interval: 1000, events: EVENTS, timeout: 5}
    zones:
      - {id: ch1, attributes: {address: 1}}
"""


@pytest.mark.parametrize("slow", [0.0, 0.4], ids=["fast-device", "slow-device"])
@pytest.mark.parametrize("events", [False, True], ids=["no-events", "events"])
async def test_a_changed_password_costs_at_most_two_failed_logins(amqtt_broker, sims, start_host, watch, slow,
                                                                  events):
    sim = await sims(IsapiSimulator, kind="nvr", channels=2, password="right-password")
    devices = ISAPI.replace("PORT", str(sim.port)).replace("EVENTS", str(events).lower())
    host = await start_host(site_yaml(amqtt_broker, devices=devices, host={"command_timeout": 10}),
                            secrets="nvr_password: right-password\n")
    w = await watch(amqtt_broker.port)
    await connected(host)
    runner = host.runners["nvr"]
    await until(lambda: runner.state.online, "the NVR online")
    if events:
        await until(lambda: sim.open_streams == 1, "the alert stream open")
    assert sim.state()["failed_logins"] == 0

    # the password changes on the device while ten commands are on their way
    sim.set_fault("slow", slow)
    sim.add_user("admin", "changed-on-the-device")
    replies = await asyncio.gather(*(w.request(f"{B}/nvr/cmd/get_device_info", {"id": n}, timeout=30)
                                     for n in range(10)))
    assert all(not r["ok"] for r in replies)
    assert {r["error"]["code"] for r in replies} <= {"device_error", "device_offline"}
    await until(lambda: runner.state.status == AUTH_FAILED, "the device parked in auth_failed")
    # several liveness intervals later nothing has tried again
    await asyncio.sleep(1.5)
    assert sim.state()["failed_logins"] <= 2, sim.state()
    assert not sim.state()["locked"]
    # a command now fails at once, offline_ok or not, without touching the device
    before = len(sim.requests)
    late = await w.request(f"{B}/nvr/cmd/get_device_info", {"id": "late"}, timeout=10)
    assert late["error"]["code"] == "device_offline" and "auth_failed" in late["error"]["message"]
    assert len(sim.requests) == before and sim.state()["failed_logins"] <= 2
