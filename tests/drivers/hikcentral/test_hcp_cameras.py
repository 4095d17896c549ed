"""Listing, import selection, sync and the zone state of imported cameras."""

from __future__ import annotations

import json

import pytest
from gemhost_drivers.hikcentral.cameras import fetch_cameras, select_cameras, slugify
from gemhost_drivers.hikcentral.client import HikCentralClient
from hcp_fakes import make_driver, zone

from gemhost.errors import InvalidArgs


async def test_list_cameras_pages_and_filters(sim):
    driver, _ = make_driver(sim, [zone("cam_1", "1"), zone("cam_2", "2")], events=False)
    try:
        first = await driver.command("list_cameras", {"page": 1, "page_size": 1000}, None)
        second = await driver.command("list_cameras", {"page": 2, "page_size": 1000}, None)
        assert first["total"] == 1200 and first["pages"] == 2
        assert len(first["cameras"]) == 1000 and len(second["cameras"]) == 200
        cam1 = first["cameras"][0]
        assert cam1["code"] == "1" and cam1["imported"] is True and cam1["zone"] == "cam_1"
        assert cam1["region"] == "Site 01" and cam1["encoding_device"] == "NVR-0001"
        online = await driver.command("list_cameras", {"online_only": True, "page_size": 1000}, None)
        assert online["total"] == 1200 - 1200 // 7
        assert all(c["online"] for c in online["cameras"])
        fresh = await driver.command("list_cameras", {"not_imported": True, "page_size": 10}, None)
        assert fresh["total"] == 1198 and all(not c["imported"] for c in fresh["cameras"])
        named = await driver.command("list_cameras", {"name": "entrance", "page_size": 100}, None)
        assert named["total"] == 12 and {c["name"] for c in named["cameras"]} == {"Entrance"}
    finally:
        await driver.close()


def test_slugify_unique_and_bounded():
    taken = {"entrance"}
    assert slugify("Entrance", taken, "100") == "entrance_2"
    assert slugify("Entrance", taken, "200") == "entrance_3"
    assert slugify("Caméra Nord / Tor 1", taken, "5") == "camera_nord_tor_1"
    assert slugify("!!!", taken, "77") == "camera_77"
    long_id = slugify("x" * 100, taken, "9")
    assert len(long_id) == 64 and len(slugify("x" * 100, taken, "9")) <= 64


async def test_select_cameras_all_new_and_codes(small_sim):
    small_sim.rename_camera("3", "Entrance")
    small_sim.rename_camera("4", "Entrance")
    client = HikCentralClient(small_sim.url, "sim-app-key", "sim-app-secret")
    try:
        existing = [zone("entrance", "1", "Entrance")]
        progress: list[tuple[int, int]] = []
        cameras = await fetch_cameras(client, progress=lambda a, b: progress.append((a, b)))
        assert progress[-1] == (30, 30)
        every = select_cameras(cameras, existing, "all")
        assert len(every) == 29
        by_code = {z["attributes"]["camera"]: z for z in every}
        assert "1" not in by_code
        assert by_code["3"]["id"] == "entrance_2" and by_code["4"]["id"] == "entrance_3"
        assert by_code["3"]["attributes"] == {"camera": "3", "stream": "main", "camera_name": "Entrance",
                                              "encoding_device": "NVR-0001", "region": "Site 01"}
        # "new" without a record is every camera not imported; with one, only what came since
        assert len(select_cameras(cameras, existing, "new")) == 29
        known = {c.code for c in cameras} - {"5", "6"}
        assert [z["attributes"]["camera"] for z in select_cameras(cameras, existing, "new", known)] == ["5", "6"]
        assert select_cameras(cameras, existing, "new", {"1", "5"}) != every  # imported 1 stays out
        picked = select_cameras(cameras, existing, ["5", "1", "5"])
        assert [z["attributes"]["camera"] for z in picked] == ["5"]
        with pytest.raises(InvalidArgs, match="999"):
            select_cameras(cameras, existing, ["999"])
        with pytest.raises(InvalidArgs, match="'newest'"):
            select_cameras(cameras, existing, "newest")
    finally:
        await client.close()


async def test_import_new_means_new_since_the_last_import_or_sync(small_sim, tmp_path):
    """Issue 12 item 7: --new is "only what is new since the last import", --all every camera
    not yet imported; the record survives a new driver (a restart, or the CLI's one-shot host)."""
    driver, ctx = make_driver(small_sim, [zone("z1", "1")], tmp_path, events=False)
    try:
        result = await driver.command("import_cameras", {"cameras": ["2", "3"]}, None)
        assert result["count"] == 2 and result["imported"] == [z["id"] for z in ctx.added]
        assert [z["attributes"]["camera"] for z in ctx.added] == ["2", "3"]
        assert ctx.progress and ctx.progress[-1][0] == ctx.progress[-1][1] == 30  # every page reported
        assert ctx.progress[-1][2] == "cameras read from HikCentral"
        # HikCentral had 30 cameras at that import: none of them is new
        assert await driver.command("import_cameras", {"cameras": ["new"]}, None) == {"imported": [], "count": 0}
    finally:
        await driver.close()
    roof = small_sim.add_camera("Roof")
    again, ctx2 = make_driver(small_sim, list(ctx.device.zones.values()), tmp_path, events=False)
    try:
        new = await again.command("import_cameras", {"cameras": ["new"]}, None)
        assert new["count"] == 1 and [z["attributes"]["camera"] for z in ctx2.added] == [roof]
        small_sim.add_camera("Gate")  # left out by the sync below: not new afterwards
        await again.command("sync_cameras", {}, None)  # a sync records HikCentral's list too
        dock = small_sim.add_camera("Dock")
        newer = await again.command("import_cameras", {"cameras": ["new"]}, None)
        assert [z["attributes"]["camera"] for z in ctx2.added[1:]] == [dock]
        assert newer["count"] == 1
        everything = await again.command("import_cameras", {"cameras": ["all"]}, None)
        # all: the 27 cameras left out at the first import and the Gate (left out by the sync)
        assert everything["count"] == 30 - 3 + 1
        assert {z.attributes["camera"] for z in again.device.zones.values()} == set(small_sim.cameras)
    finally:
        await again.close()
    record = json.loads((tmp_path / "hikcentral_known_cameras.json").read_text())
    assert set(record["cameras"]) == set(small_sim.cameras) and record["recorded"]


def test_a_broken_record_counts_everything_as_new(tmp_path, caplog):
    import logging

    from gemhost_drivers.hikcentral.known import KnownCameras

    known = KnownCameras(tmp_path, logging.getLogger("test"))
    assert known.load() is None
    known.save(["2", "1", "2"])
    assert known.load() == {"1", "2"}
    known.path.write_text("{not json")
    assert known.load() is None and "unreadable" in caplog.text
    fresh = KnownCameras(tmp_path / "not" / "yet", logging.getLogger("test"))
    fresh.save(["7"])  # no folder yet: created on save
    assert fresh.load() == {"7"}
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    KnownCameras(blocked, logging.getLogger("test")).save(["1"])  # logged, not raised
    assert "could not record" in caplog.text


async def test_sync_after_add_remove_rename(small_sim):
    zones = [zone("a", "1", "Site 01 Camera 00001"), zone("b", "2", "Site 01 Camera 00002"),
             zone("c", "3", "Site 01 Camera 00003")]
    driver, ctx = make_driver(small_sim, zones, events=False)
    try:
        small_sim.remove_camera("2")
        small_sim.rename_camera("3", "Loading Dock")
        added = small_sim.add_camera("Roof")
        report = await driver.command("sync_cameras", {}, None)
        assert report["missing"] == [{"zone": "b", "code": "2", "name": "Site 01 Camera 00002"}]
        assert report["renamed"] == [{"zone": "c", "code": "3", "old_name": "Site 01 Camera 00003",
                                      "new_name": "Loading Dock"}]
        assert added in {c["code"] for c in report["new"]}
        assert report["counts"]["new"] == 30 - 3 + 1
        assert ctx.zone_state["b"]["missing"] is True and ctx.zone_state["a"]["missing"] is False
    finally:
        await driver.close()


async def test_poll_sets_badge_status_missing_and_offline_event(small_sim):
    zones = [zone("one", "1"), zone("seven", "7"), zone("gone", "4")]
    driver, ctx = make_driver(small_sim, zones, events=False)
    try:
        await driver.connect()
        assert ctx.zone_state["one"] == {"source": "hikcentral", "online": True, "missing": False,
                                         "name": "Site 01 Camera 00001"}
        assert ctx.zone_state["seven"]["online"] is False  # every 7th simulated camera is offline
        small_sim.remove_camera("4")
        small_sim.set_online("1", False)
        await driver.poll()
        assert ctx.zone_state["gone"]["missing"] is True
        assert ctx.zone_state["one"]["online"] is False
        assert [(e.type, e.zone) for e in ctx.events] == [("device_offline", "one")]
    finally:
        await driver.close()


async def test_encoding_devices_are_read_by_their_real_field_names(small_sim):
    """Issue 12 item 2: HikCentral's rows are encodeDevIndexCode/encodeDevName (the guide's
    resDemo in HAJNEL/AttendVisionReportsApi HIK_API/openapi-api.yaml, "Get encoding device
    list"), not the regions' indexCode/name."""
    client = HikCentralClient(small_sim.url, "sim-app-key", "sim-app-secret")
    try:
        page = await client.call("/artemis/api/resource/v1/encodeDevice/encodeDeviceList",
                                 {"pageNo": 1, "pageSize": 500})
        row = page["list"][0]
        assert {"encodeDevIndexCode", "encodeDevName", "encodeDevIp", "encodeDevPort", "treatyType",
                "status"} <= set(row) and "indexCode" not in row and "name" not in row
        devices = await client.encoding_devices()
        assert devices == small_sim.devices and all(devices.values())
    finally:
        await client.close()
