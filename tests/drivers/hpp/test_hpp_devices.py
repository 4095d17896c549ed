"""Sites (guide 3.6), device lists (3.21, 3.22), adding devices (3.18, 3.20, A.1) and import,
against the simulator (issue 11 items 3, 4, 6 and 11)."""

from __future__ import annotations

import pytest

from gemhost.errors import DeviceError, InvalidArgs
from gemhost.model import Secret
from gemhost.schema import mapping_validator


def args(hpp, command: str, values: dict) -> dict:
    """Command arguments validated by the real schema, defaults filled in (as the host does)."""
    return mapping_validator(hpp.SCHEMA.commands[command].args)(values)


async def test_list_sites(make_driver):
    driver, _ = make_driver()
    await driver.connect()
    result = await driver.command("list_sites", {}, None)
    assert [(s["id"], s["name"], s["time_zone"]) for s in result["sites"]] == [
        ("s-1001", "Main Street Shop", "182"), ("s-1002", "Harbour Warehouse", "182")]


async def test_sites_attribute_limits_the_connection(make_driver, hpp):
    driver, _ = make_driver(sites=["s-1002"])
    await driver.connect()
    assert [s["id"] for s in (await driver.command("list_sites", {}, None))["sites"]] == ["s-1002"]
    listed = await driver.command("list_devices", args(hpp, "list_devices", {}), None)
    assert [d["serial"] for d in listed["devices"]] == ["Q10000002"]
    with pytest.raises(InvalidArgs, match="limited to"):
        await driver.command("list_devices", args(hpp, "list_devices", {"site": "s-1001"}), None)


async def test_list_devices_reports_the_guides_fields(make_driver, hpp):
    """Item 4: deviceCategory (int), deviceOnlineStatus, deviceType, deviceVersion, siteID."""
    driver, _ = make_driver({"nvr-ch1": "Q10000001:1"})
    await driver.connect()
    listed = await driver.command("list_devices", args(hpp, "list_devices", {}), None)
    assert [d["serial"] for d in listed["devices"]] == ["Q10000002", "Q20000001"]
    everything = await driver.command("list_devices", args(hpp, "list_devices", {"show_added": True}), None)
    nvr = next(d for d in everything["devices"] if d["serial"] == "Q10000001")
    assert nvr == {
        "serial": "Q10000001", "name": "Shop NVR", "type": "nvr", "category": 2, "sub_type": 1,
        "model": "DS-7608NXI-K2", "firmware": "V5.7.0 build 231120", "site": "s-1001",
        "site_name": "Main Street Shop", "online": True, "subscribed": True, "shared": False, "added": True,
    }
    assert "licence" not in nvr and "channels" not in nvr  # item 4: no such fields in the guide


@pytest.mark.parametrize(
    ("filters", "serials"),
    [
        ({"type": "alarm"}, ["Q20000001"]),
        ({"type": "alarm_host"}, ["Q20000001"]),
        ({"type": "encoding"}, ["Q10000001", "Q10000002"]),
        ({"type": "nvr"}, ["Q10000001"]),
        ({"type": "ipc"}, ["Q10000002"]),
        ({"type": "doorbell"}, []),
        ({"keyword": "ptz"}, ["Q10000002"]),
        ({"keyword": "q2000"}, ["Q20000001"]),
        ({"site": "s-1001"}, ["Q10000001", "Q20000001"]),
        ({"site": "s-1001", "type": "encoding"}, ["Q10000001"]),
    ],
)
async def test_list_devices_filters(make_driver, hpp, filters, serials):
    """Item 4: type (a group or a 3.21 category), keyword (name/serial), site (siteID)."""
    driver, _ = make_driver()
    await driver.connect()
    listed = await driver.command("list_devices", args(hpp, "list_devices", filters), None)
    assert [d["serial"] for d in listed["devices"]] == serials


async def test_add_device_adds_names_and_imports(make_driver, hpp, sim):
    driver, ctx = make_driver()
    await driver.connect()
    result = await driver.command("add_device", args(hpp, "add_device", {
        "serial": "q30000001", "verification_code": Secret("ABCDEF"), "site": "s-1002", "name": "Back door"}), None)
    assert result == {"serial": "Q30000001", "site": "s-1002", "name": "Back door", "type": "ipc",
                      "zones": ["q30000001-ch1"]}
    cloud_dev = sim.cloud.devices["Q30000001"]
    assert cloud_dev.site_id == "s-1002" and cloud_dev.name == "Back door"  # named with device/update (3.20)
    assert ctx.added_zones == [{"id": "q30000001-ch1", "name": "Back door", "attributes": {"address": "Q30000001:1"}}]


async def test_add_alarm_device_imports_panel_partitions_and_zones(make_driver, hpp):
    driver, ctx = make_driver()
    await driver.connect()
    result = await driver.command("add_device", args(hpp, "add_device", {
        "serial": "Q30000002", "verification_code": Secret("GHIJKL"), "site": "s-1001"}), None)
    assert result["type"] == "alarm_host"
    assert [z["attributes"]["address"] for z in ctx.added_zones] == [
        "Q30000002", "Q30000002:sub:1", "Q30000002:sub:2",
        "Q30000002:zone:0", "Q30000002:zone:1", "Q30000002:zone:2", "Q30000002:zone:3"]


@pytest.mark.parametrize(
    ("serial", "code", "expected"),
    [
        ("Q31111111", "ABCDEF", "Unknown device. (HPP LAP006002)"),
        ("Q30000001", "ZZZZZZ", "Incorrect device verification code. (HPP EVZ20010)"),
        ("Q10000001", "ABCDEF", "The device is already added by yourself. (HPP EVZ20017)"),
        ("Q39999999", "MNOPQR", "The device has been added by another account. (HPP EVZ20013)"),
    ],
)
async def test_add_device_refusals_use_the_a1_codes(make_driver, hpp, serial, code, expected):
    """Item 6: failReason "add Exception{CODE}" reported with A.1's words; the code never leaks."""
    driver, _ = make_driver()
    await driver.connect()
    with pytest.raises(DeviceError) as caught:
        await driver.command("add_device", args(hpp, "add_device", {
            "serial": serial, "verification_code": Secret(code), "site": "s-1001"}), None)
    assert str(caught.value) == f"cannot add {serial} to site s-1001: {expected}"


async def test_add_an_offline_device_is_refused_with_evz20007(make_driver, hpp, sim):
    sim.cloud.devices["Q30000001"].online = False
    driver, _ = make_driver()
    await driver.connect()
    with pytest.raises(DeviceError, match=r"The device is offline\. \(HPP EVZ20007\)"):
        await driver.command("add_device", args(hpp, "add_device", {
            "serial": "Q30000001", "verification_code": Secret("ABCDEF"), "site": "s-1001"}), None)


async def test_add_device_to_a_missing_site(make_driver, hpp):
    """Item 6: a missing site is LAP008001 for the whole call."""
    driver, _ = make_driver()
    await driver.connect()
    with pytest.raises(DeviceError, match=r"cannot add Q30000001 to site s-9999: Site does not exist, or user "
                                          r"has no permission\. \(HPP LAP008001\)"):
        await driver.command("add_device", args(hpp, "add_device", {
            "serial": "Q30000001", "verification_code": Secret("ABCDEF"), "site": "s-9999"}), None)


async def test_import_devices_adds_channels_and_panel_zones_once(make_driver, hpp):
    driver, ctx = make_driver({"nvr-ch1": "Q10000001:1"})
    await driver.connect()
    result = await driver.command("import_devices", args(hpp, "import_devices", {
        "serials": ["Q10000001", "q20000001", "Q99999999"]}), None)
    assert result["already_present"] == ["Q10000001:1"] and result["unknown"] == ["Q99999999"]
    assert result["zones"] == ["q10000001-ch2", "q20000001", "q20000001-sub1", "q20000001-sub2",
                               "q20000001-zone0", "q20000001-zone1", "q20000001-zone2", "q20000001-zone3"]
    assert ctx.added_zones[0]["name"] == "Shop NVR 2"


async def test_import_all_takes_every_device_not_yet_in_the_site_file(make_driver, hpp):
    """Item 11: `gemhost import SITE hpp --all` passes serials [all]."""
    driver, ctx = make_driver({"nvr-ch1": "Q10000001:1"}, sites=["s-1001"])
    await driver.connect()
    result = await driver.command("import_devices", args(hpp, "import_devices", {"serials": ["all"]}), None)
    assert result["unknown"] == [] and result["already_present"] == ["Q10000001:1"]
    assert result["zones"][:2] == ["q10000001-ch2", "q20000001"]  # the PTZ is in another site
    assert all(not z.startswith("q10000002") for z in result["zones"])
    assert ctx.progress[-1] == (2, 2, "devices read from Hik-Partner Pro")
    again = await driver.command("import_devices", args(hpp, "import_devices", {"serials": ["new"]}), None)
    assert again["zones"] == result["zones"]  # the fake context does not reload; same selection


async def test_import_without_channels_adds_only_devices(make_driver, hpp):
    driver, ctx = make_driver()
    await driver.connect()
    await driver.command("import_devices", args(hpp, "import_devices", {
        "serials": ["Q10000001", "Q20000001"], "channels": False}), None)
    assert [z["attributes"]["address"] for z in ctx.added_zones] == ["Q10000001", "Q20000001"]


async def test_import_of_only_unknown_serials_is_invalid(make_driver, hpp):
    driver, _ = make_driver()
    await driver.connect()
    with pytest.raises(InvalidArgs, match="none of Q99999999"):
        await driver.command("import_devices", args(hpp, "import_devices", {"serials": ["Q99999999"]}), None)
