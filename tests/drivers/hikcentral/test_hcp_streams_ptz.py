"""Preview URLs (expiry, no credentials) and PTZ through HikCentral."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from hcp_fakes import make_driver, zone

from gemhost.errors import DeviceError, InvalidArgs
from gemhost.testing import until
from gemhost.urls import strip_credentials


async def test_stream_url_and_expiry(small_sim):
    small_sim.url_ttl = 120
    z = zone("front", "2", stream="sub")
    driver, _ = make_driver(small_sim, [z], events=False, stream_url_ttl=120)
    try:
        result = await driver.command("get_stream_url", {"camera": "2", "protocol": "rtsp"}, z)
        assert result["stream"] == "sub" and result["url"].startswith("rtsp://127.0.0.1:554/openUrl/")
        assert "stream=sub" in result["url"]
        expires = dt.datetime.fromisoformat(result["expires"])
        assert dt.timedelta(seconds=100) < expires - dt.datetime.now().astimezone() <= dt.timedelta(seconds=120)
        assert small_sim.url_valid(result["url"])
        small_sim.advance(121)
        assert not small_sim.url_valid(result["url"])
        hls = await driver.command("get_stream_url", {"camera": "2", "stream": "main", "protocol": "hls"}, z)
        assert hls["url"].endswith("/live.m3u8") and small_sim.url_valid(hls["url"])
        with pytest.raises(InvalidArgs):
            await driver.command("get_stream_url", {"camera": "99", "protocol": "rtsp"}, None)
    finally:
        await driver.close()


async def test_zone_state_stream_url_published(small_sim):
    driver, ctx = make_driver(small_sim, [zone("front", "2")], events=False, publish_stream_url=True)
    try:
        await driver.connect()
        state = ctx.zone_state["front"]
        assert state["stream_url"].startswith("rtsp://") and state["stream_url_expires"]
        assert small_sim.url_valid(state["stream_url"])
    finally:
        await driver.close()


def test_strip_credentials():
    assert strip_credentials("rtsp://admin:pw@10.0.0.1:554/x?y=1") == "rtsp://10.0.0.1:554/x?y=1"
    assert strip_credentials("rtsp://10.0.0.1/x") == "rtsp://10.0.0.1/x"


async def test_ptz_moves_stops_and_presets(small_sim):
    z = zone("dome", "1")  # camera 1 has PTZ in the simulator
    driver, _ = make_driver(small_sim, [z, zone("fixed", "2")], events=False)
    try:
        await driver.command("ptz_pan_tilt", {"camera": "1", "pan": -40, "tilt": 60}, z)
        assert small_sim.ptz["1"].moving == "LEFT_UP" and small_sim.ptz["1"].speed == 60
        await driver.command("ptz_stop", {"camera": "1"}, z)
        assert small_sim.ptz["1"].moving is None
        await driver.command("ptz_zoom", {"camera": "1", "zoom": 30, "duration": 50}, z)
        assert small_sim.ptz["1"].moving == "ZOOM_IN"
        for _ in range(100):
            if small_sim.ptz["1"].moving is None:
                break
            await asyncio.sleep(0.02)
        assert small_sim.ptz["1"].moving is None
        assert small_sim.ptz["1"].history[-1]["action"] == 1
        await driver.command("ptz_preset", {"camera": "1", "preset": 7}, z)
        assert small_sim.ptz["1"].preset == 7
        with pytest.raises(DeviceError, match="camera 2 does not support PTZ"):
            await driver.command("ptz_pan_tilt", {"camera": "2", "pan": 10, "tilt": 0},
                                 driver.device.zones["fixed"])
    finally:
        await driver.close()


async def test_snapshot_through_hikcentrals_capture(small_sim):
    """Issue 12 item 11: HCP's OpenAPI has /artemis/api/video/v1/camera/capture (a data URI)."""
    import base64

    zones = [zone("front", "2"), zone("dark", "7"), zone("hidden", "3")]  # 7 is offline
    driver, _ = make_driver(small_sim, zones, events=False)
    try:
        shot = await driver.command("snapshot", {"camera": "2"}, zones[0])
        picture = base64.b64decode(shot["base64"])
        assert shot["content_type"] == "image/jpeg" and shot["camera"] == "2" and shot["zone"] == "front"
        assert picture[:2] == b"\xff\xd8" and picture[-2:] == b"\xff\xd9"
        assert b"hcp camera 2 capture 1" in picture  # this camera's picture, taken now
        again = base64.b64decode((await driver.command("snapshot", {"camera": "2"}, zones[0]))["base64"])
        assert b"capture 2" in again and small_sim.captures == ["2", "2"]
        with pytest.raises(DeviceError, match="camera 7 is offline"):
            await driver.command("snapshot", {"camera": "7"}, zones[1])
        small_sim.deny_camera("3")
        with pytest.raises(DeviceError, match="no permission for camera 3") as info:
            await driver.command("snapshot", {"camera": "3"}, zones[2])
        assert info.value.reason == "permission"
        with pytest.raises(InvalidArgs):
            await driver.command("snapshot", {"camera": "9"}, None)
    finally:
        await driver.close()


def test_capture_data_uri_parsing():
    from gemhost_drivers.hikcentral.client import HcpApiError, parse_data_uri

    # the guide's example answer (HAJNEL/AttendVisionReportsApi, HIK_API/openapi-api.yaml,
    # "Capture real time pictures via camera") starts like this; the rest is cut here
    assert parse_data_uri("data:image/jpeg;base64,/9j/4AAQSkZJRgABAQEASABIAAD/",
                          "x") == ("image/jpeg", bytes.fromhex("ffd8ffe000104a46494600010101004800480000ff"))
    for bad in (None, "", "/9j/4AAQ", "data:image/jpeg,abc", "data:image/jpeg;base64,***"):
        with pytest.raises(HcpApiError):
            parse_data_uri(bad, "the picture")


class _Clock:
    """A clock the test moves (the driver's timer reads it instead of the wall clock)."""

    def __init__(self) -> None:
        self.at = dt.datetime.now().astimezone()

    def __call__(self) -> dt.datetime:
        return self.at


async def test_published_stream_url_is_renewed_ahead_of_expiry_without_a_poll(small_sim):
    """Issue 12 item 8: the URL is refreshed on its own timer before it expires, not by the
    status poll (here the poll never runs), and a missing camera drops its URL."""
    clock = _Clock()
    zones = [zone("front", "2"), zone("back", "4")]
    driver, ctx = make_driver(small_sim, zones, events=False, publish_stream_url=True, stream_url_ttl=300,
                              status_interval=86_400_000)
    driver.streams.clock = clock
    try:
        await driver.connect()
        first = ctx.zone_state["front"]["stream_url"]
        assert small_sim.url_valid(first)
        assert driver.streams.delay() == pytest.approx(300 - 30)  # renewal due 30 s before expiry
        polls = small_sim.requests.count("/artemis/api/common/v1/version")
        # 275 s later (HikCentral's clock too): due, though no poll has run
        clock.at += dt.timedelta(seconds=275)
        small_sim.advance(275)
        driver.streams.wake.set()  # the timer sleeps on the wall clock; let it read the moved one
        await until(lambda: ctx.zone_state["front"]["stream_url"] != first, "the renewal")
        renewed = ctx.zone_state["front"]["stream_url"]
        assert small_sim.url_valid(first) and small_sim.url_valid(renewed)
        small_sim.advance(30)  # the first one has expired now; the published one has not
        assert not small_sim.url_valid(first) and small_sim.url_valid(renewed)
        assert dt.datetime.fromisoformat(ctx.zone_state["front"]["stream_url_expires"]) == pytest.approx(
            clock.at + dt.timedelta(seconds=300), abs=dt.timedelta(seconds=1))
        assert small_sim.requests.count("/artemis/api/common/v1/version") == polls  # no poll did it
        # a camera HikCentral no longer has drops its URL at the next poll
        small_sim.remove_camera("4")
        await driver.poll()
        assert ctx.zone_state["back"]["missing"] is True
        assert ctx.zone_state["back"]["stream_url"] is None and ctx.zone_state["back"]["stream_url_expires"] is None
        assert "back" not in driver.streams.next_at
    finally:
        await driver.close()
    assert not driver._tasks  # the timer ended with the driver


async def test_a_url_that_cannot_be_renewed_is_withdrawn_when_it_expires(small_sim):
    clock = _Clock()
    z = zone("front", "2")
    driver, ctx = make_driver(small_sim, [z], events=False, publish_stream_url=True, stream_url_ttl=100)
    driver.streams.clock = clock
    try:
        await driver.connect()
        assert ctx.zone_state["front"]["stream_url"]
        small_sim.set_fault("error500")
        clock.at += dt.timedelta(seconds=85)  # due (20 s lead), but HikCentral fails
        await driver.streams.refresh([z])
        assert ctx.zone_state["front"]["stream_url"]  # still valid for 15 s: kept
        clock.at += dt.timedelta(seconds=20)  # expired, and the retry fails too
        await driver.streams.refresh([z])
        assert ctx.zone_state["front"]["stream_url"] is None
        small_sim.set_fault(None)
        clock.at += dt.timedelta(seconds=20)
        await driver.streams.refresh([z])
        assert small_sim.url_valid(ctx.zone_state["front"]["stream_url"])
    finally:
        await driver.close()
