"""The driver against the vendor's own example bodies (guide/SOURCES.md names each one's section).

``guide_server`` is the small server issue 11 describes: it answers only the guide's paths, each
with the guide's example body, and nothing else (404). The one change is 2.2's ``areaDomain``,
which names the server itself so that no request leaves the loopback interface.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from aiohttp import web
from gemhost_drivers.hpp import client as api
from gemhost_drivers.hpp.client import Credentials, HppClient, fail_code
from gemhost_drivers.hpp.driver import HppDriver
from gemhost_drivers.hpp.events import Mapper
from gemhost_drivers.hpp.inventory import ChannelRow, DeviceRow

from gemhost.errors import DeviceError
from gemhost.model import Secret

AK = "8yedmtihdf5awj4o2pf4h9fy5z0a7gr3"  # the credentials of guide 2.2's example
SK = "b23910pv2i1myvdtn6qlr54ra2jpcp1k"


@pytest.fixture
async def guide_server(hpp):
    """A loopback server answering the guide's paths with the guide's example bodies."""
    seen: list[tuple[str, str, Any]] = []
    answers = {
        api.TOKEN_PATH: "2.2_token_response.json",
        api.SITE_SEARCH_PATH: "3.6_site_search_response.json",
        api.DEVICE_LIST_PATH: "3.21_device_list_response.json",
        api.CAMERA_LIST_PATH: "3.22_camera_list_response.json",
        api.DEVICE_ADD_PATH: "3.18_device_add_response.json",
        api.MESSAGES_PATH: "3.34_messages_response.json",
        api.PICTURE_URL_PATH: "3.36_pictureurl_response.json",
        api.VIDEO_BY_TIME_PATH: "3.52_video_by_time_response.json",
    }
    state: dict[str, Any] = {}

    async def answer(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        seen.append((request.method, request.path, body))
        if request.path.startswith(api.TRANSPARENT_PATH):
            return web.Response(text=hpp.text("3.23_transparent_zone.json"), content_type="application/json")
        if request.path == api.OFFSET_PATH:
            return web.json_response({"errorCode": "0"})  # 3.35
        doc = hpp.json(answers[request.path])
        if request.path == api.TOKEN_PATH:
            doc["data"]["areaDomain"] = state["url"]
        return web.json_response(doc)

    app = web.Application()
    for path in answers:
        app.router.add_post(path, answer)
    app.router.add_post(api.OFFSET_PATH, answer)
    app.router.add_route("*", api.TRANSPARENT_PATH + "{tail:.+}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield type("GuideServer", (), {"url": state["url"], "seen": seen})
    await runner.cleanup()


def aksk_client(url: str) -> HppClient:
    return HppClient(url, Credentials("aksk", access_key=AK, secret_key=Secret(SK)))


async def test_2_2_token_then_every_call_with_the_bearer_token(guide_server, hpp):
    """2.2/3.1: appKey/secretKey posted; the other APIs get "Bearer <accessToken>"."""
    client = aksk_client(guide_server.url)
    try:
        assert await client.token() == "hpc.6grytwlw2z1li7k0nk2v0ti2h6kipfb8"
        sites = await client.sites()
    finally:
        await client.close()
    assert guide_server.seen[0] == ("POST", api.TOKEN_PATH, hpp.json("2.2_token_request.json"))
    assert len(sites) == 2 and sites[0]["timeZone"] == "182" and "shareToCompany" in sites[0]["sharedInfo"]


async def test_2_2_area_domain_is_followed_and_named(hpp):
    """3.1: the answered areaDomain (Singapore in 2.2's example) is where the other calls go."""
    app = web.Application()

    async def token(request: web.Request) -> web.Response:
        return web.json_response(hpp.json("2.2_token_response.json"))

    app.router.add_post(api.TOKEN_PATH, token)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    client = aksk_client(f"http://127.0.0.1:{runner.addresses[0][1]}")
    try:
        await client.token()  # only the token: the area domain is a real vendor host, never called here
        assert client.area_domain == "https://isgpapi.hik-partner.com"
        assert client.region == "Singapore"
    finally:
        await client.close()
        await runner.cleanup()


async def test_3_1_unwrapped_token_example_with_spaced_keys_is_read(hpp):
    """3.1's Response Example has no envelope and spaces in two keys; it is still a token."""
    app = web.Application()

    async def token(request: web.Request) -> web.Response:
        doc = hpp.json("3.1_token_response.json")
        doc["areaDomain"] = str(request.url.origin())
        return web.json_response(doc)

    app.router.add_post(api.TOKEN_PATH, token)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    client = aksk_client(f"http://127.0.0.1:{runner.addresses[0][1]}")
    try:
        assert await client.token() == "jmna8qnqg8d3dgnzs87m4v2dme3l"
    finally:
        await client.close()
        await runner.cleanup()


def test_3_21_device_row_fields(hpp):
    """3.21: deviceCategory integer, deviceOnlineStatus, deviceType, siteID; padded strings stripped."""
    row = DeviceRow.from_api(hpp.json("3.21_device_list_response.json")["data"]["rows"][0])
    assert (row.serial, row.category, row.type_name, row.is_alarm_host) == ("Q01728482", 3, "alarm_host", True)
    assert row.online is False and row.model == "DS-PWA96-M-WE" and row.firmware == "V2.0.0 build 200224"
    assert (row.site_id, row.site_name, row.time_zone, row.id) == ("xxxxxxxx", "xxx", "182", "xxxxxxxxxx")
    assert row.subscribed is True and row.shared is False and row.sub_category == 0
    assert row.matches("alarm") and row.matches("alarm_host") and not row.matches("encoding")


def test_3_22_channel_row_fields(hpp):
    """3.22: channels carry ``status`` (not onlineStatus); data is a plain array."""
    rows = hpp.json("3.22_camera_list_response.json")["data"]
    assert isinstance(rows, list)
    channel = ChannelRow.from_api(rows[0])
    assert channel == ChannelRow(number=1, name="My(427734222)427734222", online=True, ipc_serial="427734222")


def test_3_18_fail_reason_carries_the_a1_code(hpp):
    """3.18: failReason "add Exception{LAP006001}"; A.1: LAP006001 is "Adding device failed."."""
    failed = hpp.json("3.18_device_add_response.json")["data"]["addFailedList"]
    assert [fail_code(f["failReason"]) for f in failed] == ["LAP006001", "LAP006001"]
    assert fail_code("add Exception{EVZ20010}") == "EVZ20010" and fail_code("no code here") is None


async def test_driver_runs_on_the_guides_example_bodies(guide_server, hpp, tmp_path):
    """Connect, inventory, channels, list_devices, a queue pull and its commit, all on guide bodies."""
    ctx = hpp.FakeCtx(hpp.device_config({"access_mode": "aksk", "access_key": AK, "secret_key": SK,
                                          "domain": guide_server.url}, {"panel": "Q01728482"}), tmp_path)
    driver = HppDriver(ctx)
    try:
        info = await driver.connect()
        assert info.extra["area_domain"] == guide_server.url and info.extra["devices"] == 1
        assert ctx.zone_state["panel"] == {
            "online": False, "missing": False, "source": "hpp", "device_type": "alarm_host",
            "model": "DS-PWA96-M-WE", "firmware": "V2.0.0 build 200224", "site": "xxxxxxxx", "subscribed": True,
        }
        listed = await driver.command("list_devices", {"show_added": True, "type": "alarm"}, None)
        assert [(d["serial"], d["type"], d["added"]) for d in listed["devices"]] == [("Q01728482", "alarm_host", True)]
        channels = await driver.load_channels("Q01728482")
        assert [c.number for c in channels] == [1]
        sent = await driver.pull_once()
    finally:
        await driver.close()
    assert sent == 2
    unparsed, motion = ctx.events
    assert unparsed.type == "unparsed" and unparsed.data["raw"] == "xxx" and unparsed.state == "pulse"
    assert (motion.type, motion.vendor_type, motion.state) == ("motion", "VMD", "pulse")
    assert guide_server.seen[-1] == ("POST", api.OFFSET_PATH, {"batchId": "xxxxx"})  # committed after both


async def test_add_device_failure_is_reported_with_the_guides_words(guide_server, hpp, tmp_path):
    """3.18 + A.1: the example's first failure is "Adding device failed." (LAP006001)."""
    ctx = hpp.FakeCtx(hpp.device_config({"access_mode": "aksk", "access_key": AK, "secret_key": SK,
                                          "domain": guide_server.url}), tmp_path)
    driver = HppDriver(ctx)
    try:
        expected = r"cannot add ABC123456 to site s1: Adding device failed\. \(HPP LAP006001\)"
        with pytest.raises(DeviceError, match=expected):
            await driver.command("add_device", {"serial": "abc123456", "verification_code": Secret("def"),
                                                "site": "s1", "import": True}, None)
    finally:
        await driver.close()
    assert guide_server.seen[-1] == ("POST", api.DEVICE_ADD_PATH, {"deviceList": [
        {"deviceSerial": "ABC123456", "validateCode": "def"}], "siteId": "s1"})


def test_2_10_webhook_items_map_with_message_id_relation_and_trigger_time(hpp):
    """2.10: messageId is the event id; a CID 1401 "DisarmOperation" is an arming pulse, not an alarm."""
    mapper = Mapper(lambda address: None, lambda serial: dt.timezone(dt.timedelta(hours=8)))
    items = hpp.json("2.10_webhook_message.json")["list"]
    event = mapper.event(items[0])
    assert event.id == "e21a5d62fxxxxxxx82d29a2e55952"
    assert (event.type, event.state, event.vendor_type) == ("arming", "pulse", "cidEvent")
    assert event.data["arming"] == "disarmed" and event.data["subsystem"] == 1
    assert event.data["subsystem_name"] == "Area 1" and event.data["user_no"] == 502
    assert event.data["relation_id"] == "053f29d4-4d51-xxxx-439e502209e7"
    assert event.time == dt.datetime(2025, 6, 19, 21, 4, 41, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert mapper.event(items[1]).id == "e21a5d62f8xxxxxxx29a2e55953"


def test_3_34_items_without_message_id_get_a_stable_one(hpp):
    """3.34 lists no messageId: the same re-delivered item must get the same id (assumption 5)."""
    mapper = Mapper(lambda address: None)
    item = hpp.json("3.34_messages_response.json")["data"]["list"][1]
    first, again = mapper.event(item), mapper.event(copy.deepcopy(item))
    assert first.id and first.id == again.id and first.id.startswith("sha256:")
    other = dict(item, alarmData={"deviceSerial": "xxx", "eventType": "IO"})
    assert mapper.event(other).id != first.id
