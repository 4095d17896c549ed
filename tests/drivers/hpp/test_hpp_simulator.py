"""The simulator on its own: it answers the guide's paths with the guide's shapes and A.1 codes,
and nothing else; control API, consume semantics, options, plugin registration."""

from __future__ import annotations

import argparse
import json
import re

import aiohttp
import pytest
from gemhost_drivers.hpp import client as api
from gemhost_drivers.hpp import plugin
from gemhost_drivers.hpp.client import Credentials, HppClient
from gemhost_drivers.hpp.driver import HppDriver
from gemhost_drivers.hpp.simulator import HppSimulator
from gemhost_drivers.hpp.simulator import isapi as sim_isapi

from gemhost.model import Secret


async def post(url: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.post(url, json=body or {}, headers=headers or {}) as resp:
        return resp.status, (await resp.json() if resp.content_type == "application/json" else {})


async def token(sim, hpp) -> str:
    _, doc = await post(sim.url + api.TOKEN_PATH, {"key": hpp.KEY})
    return doc["data"]["accessToken"]


async def test_token_answer_has_the_shape_of_2_2(sim, hpp):
    status, doc = await post(sim.url + api.TOKEN_PATH, {"appKey": hpp.AK, "secretKey": hpp.SK})
    assert status == 200 and doc["errorCode"] == "0" and set(doc["data"]) == {"accessToken", "expireTime",
                                                                              "areaDomain"}
    assert doc["data"]["accessToken"].startswith("hpc.") and doc["data"]["areaDomain"] == sim.area_url


@pytest.mark.parametrize(
    ("headers", "code"),
    [({}, "LAP500002"), ({"Authorization": "Bearer nonsense"}, "LAP500003"),
     ({"Authorization": "Bearer hpc." + "0" * 32}, "LAP500004"), ({"Authorization": "Basic x"}, "LAP500003")],
)
async def test_token_refusals_use_the_a1_codes(sim, headers, code):
    status, doc = await post(sim.area_url + api.SITE_SEARCH_PATH, {}, headers)
    assert status == 200 and doc == {"errorCode": code}


async def test_a_revoked_token_fails_verification(sim, hpp):
    bearer = await token(sim, hpp)
    sim.cloud.revoke_tokens()
    _, doc = await post(sim.area_url + api.SITE_SEARCH_PATH, {}, {"Authorization": f"Bearer {bearer}"})
    assert doc == {"errorCode": "LAP500005"}


async def test_the_token_listener_answers_only_the_token_api(sim, hpp):
    """Assumption 9: every other call must go to the area domain (guide 3.1)."""
    bearer = await token(sim, hpp)
    status, _ = await post(sim.url + api.SITE_SEARCH_PATH, {}, {"Authorization": f"Bearer {bearer}"})
    assert status == 404
    status, doc = await post(sim.area_url + api.SITE_SEARCH_PATH, {}, {"Authorization": f"Bearer {bearer}"})
    assert status == 200 and doc["data"]["total"] == 2 and doc["data"]["totalPage"] == 1


@pytest.mark.parametrize("path", ["/api/hpcgw/v1/camera/list", "/api/hpcgw/v1/video/address", "/api/hpcgw/v1/x"])
async def test_paths_outside_the_guide_are_not_found(sim, hpp, path):
    """Item 3/5: the invented camera/list and video/address do not exist."""
    bearer = await token(sim, hpp)
    status, _ = await post(sim.area_url + path, {}, {"Authorization": f"Bearer {bearer}"})
    assert status == 404


async def test_device_rows_have_the_fields_of_3_21_and_channels_of_3_22(sim, hpp):
    bearer = {"Authorization": f"Bearer {await token(sim, hpp)}"}
    _, devices = await post(sim.area_url + api.DEVICE_LIST_PATH, {"siteId": "s-1001"}, bearer)
    guide_row = hpp.json("3.21_device_list_response.json")["data"]["rows"][0]
    for row in devices["data"]["rows"]:
        assert set(row) == set(guide_row)
        assert isinstance(row["deviceCategory"], int) and row["deviceOnlineStatus"] in (0, 1, 2)
    _, channels = await post(sim.area_url + api.CAMERA_LIST_PATH, {"deviceSerial": "Q10000001"}, bearer)
    guide_channel = hpp.json("3.22_camera_list_response.json")["data"][0]
    assert isinstance(channels["data"], list) and all(set(c) == set(guide_channel) for c in channels["data"])
    _, missing = await post(sim.area_url + api.DEVICE_LIST_PATH, {"siteId": "nope"}, bearer)
    assert missing == {"errorCode": "LAP008001"}


async def test_device_add_answers_like_3_18(sim, hpp):
    bearer = {"Authorization": f"Bearer {await token(sim, hpp)}"}
    _, doc = await post(sim.area_url + api.DEVICE_ADD_PATH, {
        "deviceList": [{"deviceSerial": "Q30000001", "validateCode": "ABCDEF"},
                       {"deviceSerial": "Q30000002", "validateCode": "WRONG"}], "siteId": "s-1001"}, bearer)
    assert doc["data"] == {"addFailedList": [{"deviceSerial": "Q30000002", "failReason": "add Exception{EVZ20010}"}],
                           "addSuccessList": [{"deviceCategory": "1", "deviceName": "Back Door Cam",
                                               "deviceSerial": "Q30000001"}]}
    assert set(doc["data"]) == set(hpp.json("3.18_device_add_response.json")["data"])


async def test_queue_items_have_the_shape_of_2_10(sim, hpp):
    sim.event("Q10000001", "VMD")
    client = HppClient(sim.url, Credentials("key", key=Secret(hpp.KEY)), long_poll=0.05)
    try:
        batch = await client.messages()
    finally:
        await client.close()
    guide_item = hpp.json("2.10_webhook_message.json")["list"][0]
    assert batch.batch_id and [set(m) for m in batch.messages] == [set(guide_item)]
    assert batch.messages[0]["formatType"] == "XML" and "<triggerTime>" in batch.messages[0]["alarmData"]


async def test_an_event_consumed_by_one_platform_is_not_seen_by_another(sim, hpp):
    a = HppClient(sim.url, Credentials("key", key=Secret(hpp.KEY)), long_poll=0.05)
    b = HppClient(sim.url, Credentials("aksk", access_key=hpp.AK, secret_key=Secret(hpp.SK)), long_poll=0.05)
    try:
        sim.event("Q10000001", "VMD")
        first = await a.messages()
        again = await b.messages()  # not yet committed: still there for anyone
        assert [m["messageId"] for m in first.messages] == [m["messageId"] for m in again.messages]
        await a.commit(first.batch_id)
        assert (await b.messages()).messages == []
    finally:
        await a.close()
        await b.close()


async def test_a_uri_outside_a4_gets_the_devices_not_support(sim, hpp):
    """The device side answers an unknown ISAPI URI like firmware does (A.5.8, A.6 notSupport)."""
    client = HppClient(sim.url, Credentials("key", key=Secret(hpp.KEY)))
    try:
        reply = await client.transparent("Q20000001", "PUT", "ISAPI/SecurityCP/control/siren/1?format=json",
                                         json_body={"SirenCtrl": {"switch": "open"}})
    finally:
        await client.close()
    doc = json.loads(reply.body)
    assert (doc["statusCode"], doc["subStatusCode"], doc["errorCode"]) == (4, "notSupport", 0x40000001)
    template = re.sub(r"/\*.*?\*/", "", hpp.text("A.5.8_JSON_ResponseStatus.txt"), flags=re.S)
    assert set(doc) <= set(re.findall(r'"(\w+)"\s*:', template))  # A.5.8's keys only
    assert reply.device_code == "0x40000001"


async def test_control_api_over_http(sim):
    async with aiohttp.ClientSession() as http:

        async def control(path: str, body: dict) -> dict:
            async with http.post(sim.url + path, json=body) as resp:
                return await resp.json()

        assert (await control("/_sim/event", {"serial": "Q10000001", "type": "VMD", "channel": 2}))["ok"]
        assert (await control("/_sim/online", {"serial": "Q10000002", "online": False}))["ok"]
        assert (await control("/_sim/intrusion", {"serial": "Q20000001", "zone": 2, "fire": True}))["ok"]
        assert (await control("/_sim/restore", {"serial": "Q20000001", "zone": 2}))["ok"]
        assert (await control("/_sim/delete", {"serial": "Q10000002"}))["ok"]
        assert (await control("/_sim/fault", {"kind": "error500"}))["ok"]
        bad = await control("/_sim/fault", {"kind": "meteor"})
        assert bad["ok"] is False and "fault must be one of" in bad["error"]
        assert (await control("/_sim/revoke", {}))["ok"]
        async with http.get(sim.url + "/_sim/state") as resp:
            state = await resp.json()
        async with http.get(sim.area_url + "/v3/alarms/pic/get?fileId=x-1") as resp:
            assert resp.content_type == "image/jpeg"
    types = [json.loads(m["alarmData"])["eventType"] if m["formatType"] == "JSON" else "XML"
             for m in sim.cloud.queue]
    assert types == ["XML", "deviceoffline", "cidEvent", "Linkage", "cidEvent", "devicedeleted"]
    assert state["devices"]["Q20000001"]["zones"]["2"]["alarm"] is False
    assert state["devices"]["Q10000002"]["site"] is None and state["queue"] == 6


async def test_a_magnetic_contact_opens_closes_and_alarms_when_armed(sim):
    """/_sim/contact: the contact's state is what status/zones reports (A.5.13 magnetOpenStatus);
    opening it while its partition is armed is an intrusion (CID 1130), closing it the restore."""
    panel = sim.cloud.devices["Q20000001"]
    async with aiohttp.ClientSession() as http:

        async def contact(body: dict) -> dict:
            async with http.post(sim.url + "/_sim/contact", json=body) as resp:
                return await resp.json()

        assert (await contact({"serial": "Q20000001", "zone": 0, "open": True}))["ok"]
        assert panel.zones[0].magnet_open is True and not sim.cloud.queue  # disarmed: no alarm
        assert (await contact({"serial": "Q20000001", "zone": 0, "open": False}))["ok"]
        sim.cloud.arm("Q20000001", 1, "away")
        assert (await contact({"serial": "Q20000001", "zone": 0, "open": True}))["ok"]
        assert (await contact({"serial": "Q20000001", "zone": 0, "open": False}))["ok"]
        refused = await contact({"serial": "Q20000001", "zone": 1, "open": True})
        assert refused["ok"] is False and "not a magnetic contact" in refused["error"]
    codes_sent = [json.loads(m["alarmData"]).get("CIDEvent", {}).get("code") for m in sim.cloud.queue]
    assert codes_sent == [3401, 1130, None, 3130]  # arm, alarm, its Linkage, restore
    zones = sim_isapi.handle(sim.cloud, panel, "GET", "ISAPI/SecurityCP/status/zones?format=json", b"")
    listed = {z["Zone"]["id"]: z["Zone"] for z in json.loads(zones.body)["ZoneList"]}
    assert listed[0]["magnetOpenStatus"] is False and "magnetOpenStatus" not in listed[1]


def test_simulator_refuses_non_loopback():
    with pytest.raises(ValueError, match="loopback"):
        HppSimulator(host="0.0.0.0")


def test_cli_options():
    parser = argparse.ArgumentParser()
    HppSimulator.add_arguments(parser)
    args = parser.parse_args(["--port", "0", "--key", "k1", "--access-key", "A" * 10, "--secret-key", "S" * 10,
                              "--area-port", "0"])
    options = HppSimulator.options_from_args(args)
    assert options["key"] == "k1" and options["access_key"] == "A" * 10 and options["area_port"] == 0
    assert "port" not in options  # the CLI passes host and port itself
    sim = HppSimulator(host="127.0.0.1", port=args.port, **options)
    assert [c.name for c in sim.cloud.credentials] == ["key", "A" * 10]


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
