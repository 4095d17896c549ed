"""Outputs and alarm-zone detectors read through the transparent channel, as zone state:
a panel's relays (guide A.4.17 with A.5.4 / A.5.6), a camera's alarm outputs (A.4.20 with A.5.22,
A.4.21 with A.5.24), and each alarm zone's detector type and magnetic contact (A.4.18, A.5.13).

Besides the guide's templates, two kinds of real material are replayed:
- IOPortStatus answers captured from real cameras (../shared/fixtures/isapi-captures, from
  hikvision_next's tests; e.g. DS-2CD2532F-IWS with output 1 active);
- AX PRO zone and relay status objects as real panels answer them, published in the public client
  petrleocompel/hikaxpro_hacs (tests/test_model_payloads.py, commit 1fddc857: "Snippet shaped like
  Zones: dumps in 2025-03-12 / 2026-04-16 logs" and its OutputStatusFull payload).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import xmltodict
from gemhost_drivers.hpp import outputs
from gemhost_drivers.hpp.inventory import DeviceRow
from gemhost_drivers.hpp.parsing import BodyError, load_xml
from gemhost_drivers.hpp.simulator import isapi as sim_isapi

from gemhost.schema import mapping_validator

REPO = Path(__file__).resolve().parents[3]
CAPTURES = (REPO / ".." / "shared" / "fixtures" / "isapi-captures").resolve()
ZONES = {
    "panel": "Q20000001",
    "front-door": "Q20000001:zone:0",
    "hall": "Q20000001:zone:1",
    "smoke": "Q20000001:zone:2",
    "ptz": "Q10000002",
    "ptz-ch": "Q10000002:1",
    "nvr-ch1": "Q10000001:1",
}
RELAY_SEARCH = "ISAPI/SecurityCP/status/outputStatus?format=json"
# hikaxpro_hacs tests/test_model_payloads.py: a real panel's zone object (abridged to the
# fields the guide's A.5.13 defines plus two it does not) and a real relay status object.
CAPTURED_ZONE = {"id": 0, "name": "vstupní dveře ", "status": "online", "sensorStatus": "normal",
                 "magnetOpenStatus": False, "tamperEvident": False, "shielded": False, "bypassed": False,
                 "armed": False, "isArming": False, "alarm": False, "charge": "normal", "chargeValue": 100,
                 "signal": 121, "subSystemNo": 1, "linkageSubSystem": [1], "detectorType": "magneticContact",
                 "model": "0x00006", "zoneType": "Delay", "zoneAttrib": "wireless"}
CAPTURED_PIR = {"id": 0, "name": "Churrasqueira", "status": "online", "zoneAttrib": "wired", "bypassed": False,
                "armed": True, "alarm": False, "subSystemNo": 1, "detectorType": "passiveInfraredDetector",
                "zoneType": "Instant"}
CAPTURED_RELAY = {"id": 0, "name": "rele1", "status": "on", "accessModuleType": "fourWiredOutput",
                  "relatedAccessModuleID": 2, "address": 15, "relayAttrib": "wired", "scenarioType": ["manual"],
                  "subSystemList": [1], "linkage": "manualCtrl", "deviceNo": 16, "charge": "normal",
                  "chargeValue": 100}


def template_keys(text: str) -> set[str]:
    """The keys of a guide JSON template (A.5.x, with comments and empty values)."""
    return set(re.findall(r'"(\w+)"\s*:', re.sub(r"/\*.*?\*/", "", text, flags=re.S)))


def requests(sim, **match) -> list[dict]:
    return [r for r in sim.transparent_log if all(r[k] == v for k, v in match.items())]


@pytest.fixture
async def connected(make_driver):
    driver, ctx = make_driver(ZONES)
    await driver.connect()
    return driver, ctx


async def test_panel_relays_follow_a_4_17(connected, hpp, sim):
    """POST status/outputStatus with JSON_OutputCond (A.5.4); JSON_OutputSearch_Status (A.5.6)
    gives the relays; they are the panel zone's outputs and output_states."""
    driver, ctx = connected
    request = requests(sim, serial="Q20000001", uri=RELAY_SEARCH)[-1]
    assert request["method"] == "POST"
    body = json.loads(request["body"])
    assert set(body) == {"OutputCond"}
    required = {"searchID", "searchResultPosition", "maxResults"}
    assert required <= set(body["OutputCond"]) <= template_keys(hpp.text("A.5.4_JSON_OutputCond.txt"))
    assert body["OutputCond"]["searchResultPosition"] == 0
    assert ctx.zone_state["panel"]["outputs"] == [0, 1]
    assert ctx.zone_state["panel"]["output_states"] == {"0": False, "1": False}
    # the simulator's answer has only A.5.6's keys
    answer = sim_isapi.handle(sim.cloud, sim.cloud.devices["Q20000001"], "POST", RELAY_SEARCH, request["body"])
    doc = json.loads(answer.body)
    allowed = template_keys(hpp.text("A.5.6_JSON_OutputSearch_Status.txt"))
    assert set(doc["OutputSearch"]) <= allowed
    assert all(set(item["Output"]) <= allowed for item in doc["OutputSearch"]["OutputList"])
    # channel and alarm-zone zones carry no outputs
    assert "outputs" not in ctx.zone_state["front-door"] and "outputs" not in ctx.zone_state["ptz-ch"]

    await driver.command("set_output", mapping_validator(hpp.SCHEMA.commands["set_output"].args)(
        {"address": "Q20000001", "output": 1, "state": "on"}), None)
    assert sim.cloud.devices["Q20000001"].relays[1] is True
    assert ctx.zone_state["panel"]["output_states"] == {"0": False, "1": True}  # read again at once


async def test_relay_search_is_paged_until_no_more(make_driver, sim):
    """A device answers at most its capability per search (A.5.4 maxResults); responseStatusStrg
    MORE means the rest follows from the next searchResultPosition (A.5.6)."""
    panel = sim.cloud.devices["Q20000001"]
    panel.search_limit = 1
    panel.relays = {0: False, 1: True, 2: False}
    driver, ctx = make_driver({"panel": "Q20000001"})
    await driver.connect()
    searches = [json.loads(r["body"])["OutputCond"]["searchResultPosition"]
                for r in requests(sim, serial="Q20000001", uri=RELAY_SEARCH)]
    assert searches == [0, 1, 2]
    assert ctx.zone_state["panel"]["output_states"] == {"0": False, "1": True, "2": False}


def test_relays_that_can_never_switch_are_left_out():
    """A.5.6 status notRelated (nothing linked) or isAvailable false: no output; offline: unknown state.
    The first relay is the real panel's object from hikaxpro_hacs."""
    doc = {"OutputSearch": {"searchID": "x", "responseStatusStrg": "OK", "numOfMatches": 5, "totalMatches": 5,
                            "OutputList": [{"Output": CAPTURED_RELAY},
                                           {"Output": {"id": 1, "status": "notRelated"}},
                                           {"Output": {"id": 2, "status": "off", "isAvailable": False}},
                                           {"Output": {"id": 3, "status": "offline"}},
                                           {"Output": {"id": "4", "status": "on"}}]}}
    relays, count, more = outputs.relays_from(doc)
    assert (relays, count, more) == ({0: True, 3: None}, 5, False)
    with pytest.raises(BodyError):
        outputs.relays_from({"statusCode": 4})


async def test_camera_outputs_follow_a_4_20_and_a_4_21(connected, hpp, sim):
    """GET System/IO/outputs (A.5.22 list of A.5.21 ports) names the outputs; GET
    IO/outputs/<ID>/status (A.5.24) says whether each is on."""
    driver, ctx = connected
    listed = requests(sim, serial="Q10000002", uri="ISAPI/System/IO/outputs")
    assert listed and listed[-1]["method"] == "GET"
    assert requests(sim, serial="Q10000002", uri="ISAPI/System/IO/outputs/1/status")
    assert ctx.zone_state["ptz"]["outputs"] == [1] and ctx.zone_state["ptz"]["output_states"] == {"1": False}
    # the simulator's list has A.5.22's root and only A.5.21's elements
    answer = sim_isapi.handle(sim.cloud, sim.cloud.devices["Q10000002"], "GET", "ISAPI/System/IO/outputs", b"")
    tag, content = load_xml(answer.body)
    assert tag == load_xml(hpp.text("A.5.22_XML_IOOutputPortList.xml"))[0]
    port = content["IOOutputPort"]
    assert set(port) <= set(load_xml(hpp.text("A.5.21_XML_IOOutputPort.xml"))[1])
    await driver.command("set_output", mapping_validator(hpp.SCHEMA.commands["set_output"].args)(
        {"address": "Q10000002", "output": 1, "state": "on"}), None)
    assert ctx.zone_state["ptz"]["output_states"] == {"1": True}
    # no device zone for the NVR: nothing is asked about its outputs
    assert not requests(sim, serial="Q10000001", uri="ISAPI/System/IO/outputs")


def test_camera_output_state_from_real_captures(hpp):
    """A.5.24 as real cameras answer it (both namespaces): active is on, inactive off."""
    if not CAPTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {CAPTURES}")
    seen = {}
    for model in ("DS-2CD2532F-IWS", "DS-2CD2346G2-ISU", "DS-7608NXI-I2"):
        capture = json.loads((CAPTURES / "devices" / f"{model}.json").read_text())
        status = capture["data"]["ISAPI"]["System/IO/outputs/1/status"]["response"]
        seen[model] = outputs.io_state(xmltodict.unparse(status).encode())
    assert seen == {"DS-2CD2532F-IWS": True, "DS-2CD2346G2-ISU": False, "DS-7608NXI-I2": False}
    assert set(load_xml(hpp.text("A.5.24_XML_IOPortStatus.xml"))[1]) == {"ioPortID", "ioPortType", "ioState"}
    assert outputs.io_output_ids(b'<IOOutputPortList xmlns="http://www.hikvision.com/ver20/XMLSchema">'
                                 b"<IOOutputPort><id>2</id></IOOutputPort><IOOutputPort><id>1</id>"
                                 b"</IOOutputPort></IOOutputPortList>") == [1, 2]
    with pytest.raises(BodyError):
        outputs.io_state(b"<ResponseStatus><statusCode>4</statusCode></ResponseStatus>")


async def test_outputs_a_device_does_not_support_are_none_and_an_offline_one_keeps_them(
        connected, sim, monkeypatch):
    driver, ctx = connected
    sim.cloud.set_online("Q20000001", False)
    await driver.poll()
    assert ctx.zone_state["panel"]["outputs"] == [0, 1]  # unreachable now: the last reading stands
    sim.cloud.set_online("Q20000001", True)
    monkeypatch.setattr(sim_isapi, "_output_status",
                        lambda dev, uri, body: sim_isapi.status_json(4, "notSupport", uri))
    await driver.poll()
    assert ctx.zone_state["panel"]["outputs"] == [] and ctx.zone_state["panel"]["output_states"] == {}


async def test_alarm_zones_carry_detector_type_and_contact_state(connected, sim):
    """A.5.13 detectorType and magnetOpenStatus (true = open) of GET status/zones (A.4.18)."""
    driver, ctx = connected
    assert (ctx.zone_state["front-door"]["detector_type"], ctx.zone_state["front-door"]["open"]) == (
        "magneticContact", False)
    assert ctx.zone_state["hall"]["detector_type"] == "passiveInfraredDetector"
    assert "open" not in ctx.zone_state["hall"]  # not a magnetic contact: the panel says nothing
    assert ctx.zone_state["smoke"]["detector_type"] == "wirelessSmokeDetector"
    sim.contact("Q20000001", 0, True)
    await driver.poll()
    assert ctx.zone_state["front-door"]["open"] is True
    assert not any("alarm" in state or "active" in state for state in ctx.zone_state.values())  # issue 9


def test_real_panel_zone_objects_give_detector_and_contact(make_driver):
    """The zone objects of a real AX PRO (hikaxpro_hacs' captures) through the driver's zone state."""
    driver, ctx = make_driver({"door": "Q20000001:zone:0", "pir": "Q20000001:zone:5"})
    driver.inventory["Q20000001"] = DeviceRow.from_api({"deviceSerial": "Q20000001", "deviceCategory": 3,
                                                        "deviceOnlineStatus": 1})
    driver.panel_status["Q20000001"] = {"subsystems": {}, "zones": {0: CAPTURED_ZONE, 5: {**CAPTURED_PIR, "id": 5}}}
    for zone_id, address in driver.zones_of("Q20000001"):
        driver.publish_zone(zone_id, address)
    assert (ctx.zone_state["door"]["detector_type"], ctx.zone_state["door"]["open"]) == ("magneticContact", False)
    assert ctx.zone_state["pir"]["detector_type"] == "passiveInfraredDetector" and "open" not in ctx.zone_state["pir"]
