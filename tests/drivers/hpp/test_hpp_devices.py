"""Sites, device lists, add-device (and its errors) and batch import against the simulator."""

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
    assert result == {
        "sites": [{"id": "s-1001", "name": "Main Street Shop"}, {"id": "s-1002", "name": "Harbour Warehouse"}]
    }


async def test_sites_attribute_limits_the_connection(make_driver, hpp):
    driver, _ = make_driver(sites=["s-1002"])
    await driver.connect()
    assert [s["id"] for s in (await driver.command("list_sites", {}, None))["sites"]] == ["s-1002"]
    listed = await driver.command("list_devices", args(hpp, "list_devices", {}), None)
    assert [d["serial"] for d in listed["devices"]] == ["Q10000002"]
    with pytest.raises(InvalidArgs, match="limited to"):
        await driver.command("list_devices", args(hpp, "list_devices", {"site": "s-1001"}), None)


async def test_list_devices_hides_added_ones_by_default(make_driver, hpp):
    driver, _ = make_driver({"nvr-ch1": "Q10000001:1"})
    await driver.connect()
    listed = await driver.command("list_devices", args(hpp, "list_devices", {}), None)
    assert [d["serial"] for d in listed["devices"]] == ["Q10000002", "Q20000001"]
    everything = await driver.command("list_devices", args(hpp, "list_devices", {"show_added": True}), None)
    nvr = next(d for d in everything["devices"] if d["serial"] == "Q10000001")
    assert (
        nvr["added"] is True
        and nvr["channels"] == 2
        and nvr["licence"] is False
        and nvr["type"] == "encoding"
    )


@pytest.mark.parametrize(
    ("filters", "serials"),
    [
        ({"type": "alarm"}, ["Q20000001"]),
        ({"type": "encoding"}, ["Q10000001", "Q10000002"]),
        ({"keyword": "ptz"}, ["Q10000002"]),
        ({"keyword": "q2000"}, ["Q20000001"]),
        ({"site": "s-1001"}, ["Q10000001", "Q20000001"]),
        ({"site": "s-1001", "type": "encoding"}, ["Q10000001"]),
    ],
)
async def test_list_devices_filters(make_driver, hpp, filters, serials):
    driver, _ = make_driver()
    await driver.connect()
    listed = await driver.command("list_devices", args(hpp, "list_devices", filters), None)
    assert [d["serial"] for d in listed["devices"]] == serials


async def test_add_device_adds_to_the_site_and_the_site_file(make_driver, hpp, sim):
    driver, ctx = make_driver()
    await driver.connect()
    values = args(
        hpp,
        "add_device",
        {"serial": "q30000001", "verification_code": "ABCDEF", "site": "s-1002", "name": "Back door"},
    )
    assert isinstance(values["verification_code"], Secret)
    result = await driver.command("add_device", values, None)
    assert result["serial"] == "Q30000001" and result["stream_encryption"] is True
    assert result["zones"] == ["q30000001-ch1"]
    assert ctx.added_zones == [
        {"id": "q30000001-ch1", "name": "Back door", "attributes": {"address": "Q30000001:1"}}
    ]
    dev = sim.cloud.devices["Q30000001"]
    assert (dev.site_id, dev.name, dev.stream_encryption) == ("s-1002", "Back door", True)
    assert "ABCDEF" not in repr(result)


async def test_add_alarm_device_imports_panel_subsystems_and_zones(make_driver, hpp):
    driver, ctx = make_driver()
    await driver.connect()
    await driver.command(
        "add_device",
        args(
            hpp,
            "add_device",
            {"serial": "Q30000002", "verification_code": "GHIJKL", "site": "s-1001", "type": "alarm"},
        ),
        None,
    )
    addresses = [z["attributes"]["address"] for z in ctx.added_zones]
    assert addresses == [
        "Q30000002",
        "Q30000002:sub:1",
        "Q30000002:sub:2",
        "Q30000002:zone:1",
        "Q30000002:zone:2",
        "Q30000002:zone:3",
        "Q30000002:zone:4",
    ]
    assert ctx.added_zones[3]["id"] == "q30000002-zone1"


@pytest.mark.parametrize(
    ("serial", "code", "message"),
    [
        ("Q77777777", "ABCDEF", "no device with this serial number is registered"),
        ("Q30000001", "ZZZZZZ", "the verification code is wrong"),
        ("Q10000001", "ABCDEF", "already added to a site"),
        ("Q39999999", "MNOPQR", "belongs to another"),
    ],
)
async def test_add_device_errors_are_clear(make_driver, hpp, serial, code, message):
    driver, ctx = make_driver()
    await driver.connect()
    with pytest.raises(DeviceError, match=message) as err:
        await driver.command(
            "add_device",
            args(hpp, "add_device", {"serial": serial, "verification_code": code, "site": "s-1001"}),
            None,
        )
    assert code not in str(err.value)
    assert ctx.added_zones == []


async def test_add_device_to_unknown_site(make_driver, hpp):
    driver, _ = make_driver()
    await driver.connect()
    with pytest.raises(DeviceError, match="no such site"):
        await driver.command(
            "add_device",
            args(hpp, "add_device", {"serial": "Q30000001", "verification_code": "ABCDEF", "site": "s-9"}),
            None,
        )


async def test_import_devices_adds_channels_and_panel_zones_once(make_driver, hpp):
    driver, ctx = make_driver({"nvr-ch1": "Q10000001:1"})
    await driver.connect()
    result = await driver.command(
        "import_devices",
        args(hpp, "import_devices", {"serials": ["Q10000001", "q20000001", "Q55555555"]}),
        None,
    )
    assert result["already_present"] == ["Q10000001:1"]
    assert result["unknown"] == ["Q55555555"]
    assert result["zones"][:2] == ["q10000001-ch2", "q20000001"]
    assert len(result["zones"]) == 1 + 1 + 2 + 4
    names = {z["id"]: z["name"] for z in ctx.added_zones}
    assert names["q10000001-ch2"] == "Shop NVR 2" and names["q20000001-sub1"] == "Shop AX PRO Ground floor"


async def test_import_without_channels_adds_only_devices(make_driver, hpp):
    driver, ctx = make_driver()
    await driver.connect()
    result = await driver.command(
        "import_devices",
        args(hpp, "import_devices", {"serials": ["Q10000001", "Q20000001"], "channels": False}),
        None,
    )
    assert result["zones"] == ["q10000001", "q20000001"]


async def test_import_of_only_unknown_serials_is_invalid(make_driver, hpp):
    driver, _ = make_driver()
    await driver.connect()
    with pytest.raises(InvalidArgs):
        await driver.command("import_devices", args(hpp, "import_devices", {"serials": ["Q55555555"]}), None)
