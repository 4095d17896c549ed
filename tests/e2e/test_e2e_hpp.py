"""End-to-end tests of the Hik-Partner Pro driver: HppSimulator (a real aiohttp server on
loopback) -> the real Host -> a real MQTT broker (amqtt and mosquitto) -> a plain MQTT client.

Nothing is faked: commands go in as MQTT requests and their effect is read back from the
simulator's account state; events are injected into the simulated cloud queue and read off
the broker; delivery guarantees are checked across a broker outage and a host restart.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from gemhost_drivers.hpp import binding
from gemhost_drivers.hpp.simulator import HppSimulator, bodies

from gemhost import cli
from gemhost.host import Host
from gemhost.plugins import load_registry
from gemhost.testing import MqttWatcher, until

REPO = Path(__file__).resolve().parents[2]
SITE = "e2e"
B = f"gem/{SITE}"
DEV = "hpp"
PANEL = "Q20000001"
NVR = "Q10000001"
PTZ = "Q10000002"

KEY = "e2e-hpp-key-7c1d0f55aa93b6e2"
NEW_KEY = "e2e-hpp-key-regenerated-4411"
AK32 = "AK" + "3" * 30
SK32 = "SK" + "9f" * 15
AK10 = "ARCID00017"
SK10 = "ARCKEY0042"

ZONES = {
    "nvr_ch1": f"{NVR}:1",
    "nvr_ch2": f"{NVR}:2",
    "ptz": f"{PTZ}:1",
    "panel": PANEL,
    "sub1": f"{PANEL}:sub:1",
    "sub2": f"{PANEL}:sub:2",
    "front_door": f"{PANEL}:zone:0",
    "hall_pir": f"{PANEL}:zone:1",
    "smoke": f"{PANEL}:zone:2",
}

# The event table of docs/drivers/hpp.md (guide A.3 type -> published type), written out so the
# test checks the driver against the documentation rather than against its own lookup table.
CAMERA_TYPES = {
    "VMD": "motion",
    "IO": "io",
    "shelteralarm": "tamper",
    "fielddetection": "intrusion",
    "linedetection": "line_crossing",
    "videoloss": "video_loss",
    "regionEntrance": "region_entrance",
    "regionExiting": "region_exit",
    "recordException": "record_exception",
}
DEVICE_TYPES = {  # guide type -> (published type, state, kind)
    "diskerror": ("disk_error", "active", "stateful"),
    "diskfull": ("disk_full", "active", "pulse"),
    "diskrecover": ("disk_error", "inactive", "stateful"),
    "deviceoffline": ("device_offline", "active", "pulse"),
    "deviceonline": ("device_online", "active", "pulse"),
    "devicedeleted": ("device_deleted", "active", "pulse"),
}


# ----------------------------------------------------------------------------- site files


class SecretRef:
    """An attribute written as ``!secret name`` (the value goes to secrets.yaml)."""

    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value


def _yaml_value(value: Any) -> str:
    if isinstance(value, SecretRef):
        return f"!secret {value.name}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)  # a JSON string or list is valid YAML flow syntax


def hpp_device(dev_id: str, domain: str, zones: dict[str, str] | None = None, **attrs: Any) -> dict[str, Any]:
    """One HPP connection: key mode with KEY unless attrs say otherwise; fast polls for tests."""
    base: dict[str, Any] = {"access_mode": "key", "key": SecretRef(f"{dev_id}_key", KEY), "domain": domain,
                            "status_interval": 5000, "timeout": 5}
    base.update(attrs)
    return {"id": dev_id, "attributes": {k: v for k, v in base.items() if v is not None}, "zones": zones or {}}


def site_text(broker: Any, devices: list[dict[str, Any]]) -> tuple[str, str]:
    """(site.yaml, secrets.yaml). amqtt speaks 3.1.1 only, so its sites skip the MQTT 5 probe."""
    protocol = "3.1.1" if broker.kind == "amqtt" else "auto"
    lines = [
        f"site: {{id: {SITE}, name: HPP end-to-end}}",
        "mqtt:",
        f'  broker: "{broker.url}"',
        f'  protocol: "{protocol}"',
        "  keepalive: 5",
        "  discovery: false",
        "host: {command_timeout: 10, command_concurrency: 4, shutdown_timeout: 2}",
        "devices:",
    ]
    secrets: dict[str, str] = {}
    for dev in devices:
        lines += [f"  - id: {dev['id']}", "    driver: hpp", f"    name: HPP {dev['id']}", "    attributes:"]
        for key, value in dev["attributes"].items():
            if isinstance(value, SecretRef):
                secrets[value.name] = value.value
            lines.append(f"      {key}: {_yaml_value(value)}")
        if dev["zones"]:
            lines.append("    zones:")
            for zone_id, address in dev["zones"].items():
                lines.append(f'      - {{id: {zone_id}, name: {zone_id}, attributes: {{address: "{address}"}}}}')
    secrets_text = "".join(f"{k}: {json.dumps(v)}\n" for k, v in secrets.items())
    return "\n".join(lines) + "\n", secrets_text


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture
def state_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "state"
    monkeypatch.setenv("GEMHOST_STATE_DIR", str(path))
    monkeypatch.delenv("GEMHOST_PLUGINS", raising=False)
    return path


@pytest.fixture
async def sims():
    """Start HPP simulators (loopback, free port); all stopped at teardown."""
    started: list[HppSimulator] = []

    async def make(**options: Any) -> HppSimulator:
        options.setdefault("key", KEY)
        options.setdefault("long_poll", 0.2)
        sim = HppSimulator(host="127.0.0.1", port=0, **options)
        await sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        await sim.stop()


@pytest.fixture
async def site(tmp_path, state_dir, mqtt_broker, sims):
    """write(devices) -> site path; start() -> a started real Host with MQTT on. Depends on
    ``sims`` so that hosts stop before their simulators do."""
    hosts: list[Host] = []
    path = tmp_path / "site.yaml"

    class Site:
        broker = mqtt_broker

        def write(self, devices: list[dict[str, Any]]) -> Path:
            text, secrets = site_text(mqtt_broker, devices)
            (tmp_path / "secrets.yaml").write_text(secrets)
            path.write_text(text)
            return path

        async def start(self) -> Host:
            host = Host(path, registry=load_registry())
            hosts.append(host)
            await host.start()
            return host

    yield Site()
    for host in hosts:
        if not host.stopped.is_set():
            await host.stop()


@pytest.fixture
async def watchers(mqtt_broker):
    made: list[MqttWatcher] = []

    async def make() -> MqttWatcher:
        w = await MqttWatcher(mqtt_broker.port).start(f"{B}/#")
        made.append(w)
        return w

    yield make
    for w in made:
        await w.stop()


# ----------------------------------------------------------------------------- helpers

_ids = itertools.count(1)


def payloads(w: MqttWatcher, topic: str) -> list[Any]:
    return [json.loads(m.payload) for m in w.on(topic) if m.payload]


def events(w: MqttWatcher, device: str = DEV, state: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(topic, event) of every event published for the device (of one ``state``), in arrival
    order, without the ends the core's event lifetime adds (pulse hold, stop, offline): these
    tests count what the cloud delivered."""
    prefix = f"{B}/{device}/"
    published = [(m.topic.value, json.loads(m.payload)) for m in w.messages
                 if m.topic.value.startswith(prefix) and m.topic.value.endswith("/event")]
    return [(t, e) for t, e in published
            if e.get("ended_by") in (None, "device") and (state is None or e["state"] == state)]


def lifetime_ends(w: MqttWatcher, device: str = DEV) -> list[tuple[str, dict[str, Any]]]:
    """The ``inactive`` events the core itself published (pulse hold, stop, offline, reload)."""
    prefix = f"{B}/{device}/"
    return [(m.topic.value, e) for m in w.messages
            if m.topic.value.startswith(prefix) and m.topic.value.endswith("/event")
            and (e := json.loads(m.payload))["state"] == "inactive" and e.get("ended_by") not in (None, "device")]


def started(w: MqttWatcher, device: str = DEV) -> list[str | None]:
    """The vendor ids of the conditions published as started (``active``), in arrival order."""
    return [e.get("id") for _, e in events(w, device, "active")]


async def cmd(w: MqttWatcher, command: str, args: dict[str, Any] | None = None, device: str = DEV) -> dict[str, Any]:
    body: dict[str, Any] = {"id": f"req-{next(_ids)}"}
    if args is not None:
        body["args"] = args
    reply = await w.request(f"{B}/{device}/cmd/{command}", body, timeout=20)
    assert reply["id"] == body["id"]
    return reply


async def ok(w: MqttWatcher, command: str, args: dict[str, Any] | None = None, device: str = DEV) -> Any:
    reply = await cmd(w, command, args, device)
    assert reply["ok"] is True, f"{command} {args}: {reply}"
    return reply["result"]


async def fails(w: MqttWatcher, command: str, args: dict[str, Any] | None, code: str, device: str = DEV) -> str:
    reply = await cmd(w, command, args, device)
    assert reply["ok"] is False and reply["error"]["code"] == code, f"{command} {args}: {reply}"
    return reply["error"]["message"]


async def online(w: MqttWatcher, device: str = DEV, since: dt.datetime | None = None) -> dict[str, Any]:
    """The first ``online`` device state; with ``since``, only one that became online later
    (a restarted device: its state is new, an old runner's repeated "online" does not count)."""
    topic = f"{B}/{device}/state"

    def fresh(state: dict[str, Any]) -> bool:
        return state["online"] and (since is None or dt.datetime.fromisoformat(state["since"]) > since)

    states = await until(lambda: [s for s in payloads(w, topic) if fresh(s)], f"{device} online", timeout=20)
    return states[0]


def now() -> dt.datetime:
    return dt.datetime.now().astimezone()


def run_cli(argv: list[str]) -> int:
    """gemhost's CLI entry point; it reconfigures root logging, so put pytest's back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    noisy = {name: logging.getLogger(name).level for name in ("amqtt", "transitions", "aiohttp.access")}
    try:
        return cli.main(argv)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, old in noisy.items():
            logging.getLogger(name).setLevel(old)


def assert_no_secret(secrets: list[str], watchers_: list[MqttWatcher], caplog: Any) -> None:
    """Nothing the host published (everything but our own requests) and nothing it logged
    contains a secret."""
    published = [m for w in watchers_ for m in w.messages
                 if "/cmd/" not in m.topic.value or m.topic.value.endswith("/reply")]
    assert published
    for secret in secrets:
        leaks = [m.topic.value for m in published if secret.encode() in bytes(m.payload)]
        assert not leaks, f"a secret was published over MQTT on {leaks}"
        assert secret not in caplog.text, "a secret was logged"


def sim_dev(sim: HppSimulator, serial: str) -> dict[str, Any]:
    return sim.state()["devices"][serial]


# ----------------------------------------------------------------------------- access and binding


async def test_key_and_aksk_modes_come_online(site, sims, watchers, state_dir, caplog):
    caplog.set_level(logging.DEBUG, logger="gemhost")
    cloud = await sims(key=KEY, access_key=AK32, secret_key=SK32)
    arc = await sims(key=None, access_key=AK10, secret_key=SK10)
    site.write([
        hpp_device("hpp_key", cloud.url, {"cam": f"{NVR}:1"}),
        hpp_device("hpp_ak32", cloud.url, {"cam": f"{PTZ}:1"}, access_mode="aksk", key=None,
                   access_key=AK32, secret_key=SecretRef("sk32", SK32)),
        hpp_device("hpp_ak10", arc.url, {"cam": f"{NVR}:2"}, access_mode="aksk", key=None,
                   access_key=AK10, secret_key=SecretRef("sk10", SK10)),
    ])
    w = await watchers()
    await site.start()
    for device, mode in (("hpp_key", "key"), ("hpp_ak32", "aksk"), ("hpp_ak10", "aksk")):
        state = await online(w, device)
        assert state["status"] == "online" and state["last_error"] is None
        assert state["info"]["manufacturer"] == "Hikvision" and state["info"]["model"] == "Hik-Partner Pro"
        assert state["info"]["access_mode"] == mode and state["info"]["devices"] == 3
        sim = arc if device == "hpp_ak10" else cloud
        # item 2: the token at `domain`, every other call at the areaDomain the cloud answered
        assert state["info"]["domain"] == sim.url and state["info"]["area_domain"] == sim.area_url
        await w.wait(f"{B}/{device}/availability", lambda m: m.payload == b"online")
        zone = await w.wait_json(f"{B}/{device}/cam/state", lambda d: "online" in d)
        assert zone["online"] is True and zone["device_type"] in ("nvr", "ipc") and zone["source"] == "hpp"
    names = ("hpp_key", "hpp_ak32", "hpp_ak10")
    bound = {d: json.loads((state_dir / d / binding.FILE_NAME).read_text()) for d in names}
    assert bound["hpp_key"]["access_mode"] == "key" and bound["hpp_key"]["key_id"] == binding.key_fingerprint(KEY)
    assert bound["hpp_ak32"] == {"access_mode": "aksk", "key_id": AK32, "domain": cloud.url}
    assert bound["hpp_ak10"] == {"access_mode": "aksk", "key_id": AK10, "domain": arc.url}
    assert cloud.cloud.counters["tokens_issued"] >= 2 and arc.cloud.counters["tokens_issued"] >= 1
    stored = "".join((state_dir / d / binding.FILE_NAME).read_text() for d in bound)
    assert KEY not in stored and SK32 not in stored and SK10 not in stored
    assert_no_secret([KEY, SK32, SK10], [w], caplog)


def test_check_rejects_a_12_character_access_key(tmp_path, state_dir, capsys):
    class NoBroker:
        kind, url = "mosquitto", "mqtt://127.0.0.1:1883"

    text, secrets = site_text(NoBroker(), [
        hpp_device(DEV, "https://isgp.hik-partner.com", access_mode="aksk", key=None,
                   access_key="ABCDEF123456", secret_key=SecretRef("sk", SK10)),
    ])
    (tmp_path / "secrets.yaml").write_text(secrets)
    path = tmp_path / "site.yaml"
    path.write_text(text)
    assert run_cli(["check", str(path)]) == 1
    err = capsys.readouterr().err
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "access_key:" in row)
    assert f"site.yaml:{line} devices[{DEV}].attributes.access_key: must be 10 or 32 characters long, got 12" in err
    assert "(10 characters: the ARC ID of an alarm-receiving-centre account; 32: the Access Key issued" in err
    assert "1 problem(s)" in err and SK10 not in err


async def test_binding_lock_refuses_a_changed_key_until_unbind(site, sims, watchers, state_dir, caplog):
    caplog.set_level(logging.INFO, logger="gemhost")
    sim = await sims(key=KEY)
    path = site.write([hpp_device(DEV, sim.url, {"cam": f"{NVR}:1"})])
    w = await watchers()
    host = await site.start()
    await online(w)
    assert json.loads((state_dir / DEV / binding.FILE_NAME).read_text())["key_id"] == binding.key_fingerprint(KEY)

    # The installer regenerates the account's key in HPP and edits the site file.
    sim.cloud.key = NEW_KEY
    site.write([hpp_device(DEV, sim.url, {"cam": f"{NVR}:1"}, key=SecretRef("hpp_key", NEW_KEY))])
    tokens = sim.cloud.counters["token_requests"]
    reply = await ok(w, "reload", {}, device="host")
    assert reply == {"ok": True, "problems": [], "restart_required": []}
    refused = await w.wait_json(f"{B}/{DEV}/state", lambda d: "cannot be changed once saved" in (d["last_error"] or ""))
    assert refused["online"] is False and refused["status"] == "offline"
    assert "gemhost hpp unbind SITE DEVICE" in refused["last_error"]
    assert f"bound to key {binding.key_fingerprint(KEY)}" in refused["last_error"]
    assert f"configured as key {binding.key_fingerprint(NEW_KEY)}" in refused["last_error"]
    await w.wait(f"{B}/{DEV}/availability", lambda m: m.payload == b"offline")
    assert sim.cloud.counters["token_requests"] == tokens, "a refused binding must not contact the cloud"
    assert host.runners[DEV].state.status == "offline"
    refused_at = now()

    assert run_cli(["hpp", "unbind", str(path), DEV]) == 0
    assert not (state_dir / DEV / binding.FILE_NAME).exists()
    state = await online(w, since=refused_at)
    assert state["last_error"] is None
    assert json.loads((state_dir / DEV / binding.FILE_NAME).read_text())["key_id"] == binding.key_fingerprint(NEW_KEY)
    assert run_cli(["hpp", "unbind", str(path), "nobody"]) == 1
    assert_no_secret([KEY, NEW_KEY], [w], caplog)


# ----------------------------------------------------------------------------- account commands


async def test_sites_devices_add_and_import(site, sims, watchers, caplog):
    caplog.set_level(logging.INFO, logger="gemhost")
    sim = await sims()
    path = site.write([hpp_device(DEV, sim.url, {"nvr_ch1": f"{NVR}:1"})])
    w = await watchers()
    await site.start()
    await online(w)

    sites = await ok(w, "list_sites")
    assert [(x["id"], x["name"], x["time_zone"]) for x in sites["sites"]] == [
        ("s-1001", "Main Street Shop", "182"), ("s-1002", "Harbour Warehouse", "182")]

    async def serials(args: dict[str, Any]) -> list[str]:
        return [d["serial"] for d in (await ok(w, "list_devices", args))["devices"]]

    # item 4: every filter on the guide's fields (deviceCategory, name/serial, siteID)
    assert await serials({}) == [PTZ, PANEL]  # NVR is in the site file already
    assert await serials({"type": "alarm"}) == [PANEL]
    assert await serials({"type": "alarm_host"}) == [PANEL]
    assert await serials({"type": "encoding"}) == [PTZ]
    assert await serials({"type": "ipc"}) == [PTZ]
    assert await serials({"keyword": "yard"}) == [PTZ]
    assert await serials({"keyword": "q2000"}) == [PANEL]
    assert await serials({"site": "s-1002"}) == [PTZ]
    full = (await ok(w, "list_devices", {"show_added": True}))["devices"]
    assert [(d["serial"], d["added"]) for d in full] == [(NVR, True), (PTZ, False), (PANEL, False)]
    nvr = full[0]
    assert (nvr["type"], nvr["category"], nvr["model"]) == ("nvr", 2, "DS-7608NXI-K2")
    assert nvr["site"] == "s-1001" and nvr["site_name"] == "Main Street Shop" and nvr["online"] is True
    assert full[1]["type"] == "ipc" and full[2]["type"] == "alarm_host" and "licence" not in nvr
    assert await serials({"show_added": True, "type": "nvr", "keyword": "nvr"}) == [NVR]
    assert "type" in await fails(w, "list_devices", {"type": "thermal"}, "invalid_args")

    # item 6: every refusal of the cloud comes back with the guide's words and A.1 code
    refusals = [
        ({"serial": "Q31111111", "verification_code": "ABCDEF", "site": "s-1001"}, "Unknown device. (HPP LAP006002)"),
        ({"serial": "Q30000001", "verification_code": "ZZZQQQ", "site": "s-1001"},
         "Incorrect device verification code. (HPP EVZ20010)"),
        ({"serial": NVR, "verification_code": "ABCDEF", "site": "s-1002"},
         "The device is already added by yourself. (HPP EVZ20017)"),
        ({"serial": "Q39999999", "verification_code": "MNOPQR", "site": "s-1001"},
         "The device has been added by another account. (HPP EVZ20013)"),
        ({"serial": "Q30000001", "verification_code": "ABCDEF", "site": "s-9999"},
         "Site does not exist, or user has no permission. (HPP LAP008001)"),
    ]
    for args, words in refusals:
        message = await fails(w, "add_device", args, "device_error")
        assert message == f"cannot add {args['serial']} to site {args['site']}: {words}", message
    assert sim_dev(sim, "Q30000001")["site"] is None and sim_dev(sim, NVR)["site"] == "s-1001"
    assert "serial" in await fails(w, "add_device", {"serial": "Q123", "verification_code": "ABCDEF",
                                                      "site": "s-1001"}, "invalid_args")
    assert "Q30000001" not in path.read_text()

    # Success: added in HPP, named, written to the site file as zones, on MQTT after the automatic reload.
    before_add = now()
    added = await ok(w, "add_device", {"serial": "q30000001", "verification_code": "ABCDEF",
                                       "site": "s-1002", "name": "Back door"})
    assert added == {"serial": "Q30000001", "site": "s-1002", "name": "Back door", "type": "ipc",
                     "zones": ["q30000001-ch1"]}
    cloud_dev = sim.cloud.devices["Q30000001"]
    assert cloud_dev.site_id == "s-1002" and cloud_dev.name == "Back door"
    assert 'address: "Q30000001:1"' in path.read_text() or "address: Q30000001:1" in path.read_text()
    zone = await w.wait_json(f"{B}/{DEV}/q30000001-ch1/state", lambda d: d.get("online") is True)
    assert zone["name"] == "Back door" and zone["device_type"] == "ipc" and zone["site"] == "s-1002"
    # the zone-only site change kept the connection: still the same online state, no restart
    assert (await online(w))["since"] == payloads(w, f"{B}/{DEV}/state")[-1]["since"]
    assert dt.datetime.fromisoformat(payloads(w, f"{B}/{DEV}/state")[-1]["since"]) < before_add

    panel = await ok(w, "add_device", {"serial": "Q30000002", "verification_code": "GHIJKL",
                                       "site": "s-1002", "import": False})
    assert panel["type"] == "alarm_host" and "zones" not in panel
    assert sim.cloud.devices["Q30000002"].site_id == "s-1002" and "Q30000002" not in path.read_text()

    # A batch import: channels of the NVR not yet present, the panel with partitions and zones.
    assert "none of Q99999999" in await fails(w, "import_devices", {"serials": ["Q99999999"]}, "invalid_args")
    before_import = now()
    imported = await ok(w, "import_devices", {"serials": [NVR, PANEL, "Q99999999"]})
    expected = ["q10000001-ch2", "q20000001", "q20000001-sub1", "q20000001-sub2",
                "q20000001-zone0", "q20000001-zone1", "q20000001-zone2", "q20000001-zone3"]
    assert imported == {"zones": expected, "already_present": [f"{NVR}:1"], "unknown": ["Q99999999"]}
    text = path.read_text()
    for address in (f"{NVR}:2", PANEL, f"{PANEL}:sub:2", f"{PANEL}:zone:3"):
        assert f'"{address}"' in text or f"address: {address}" in text, address
    assert text.count(f"{NVR}:1") == 1
    assert dt.datetime.fromisoformat(payloads(w, f"{B}/{DEV}/state")[-1]["since"]) < before_import
    for zone_id in expected:
        state = await w.wait_json(f"{B}/{DEV}/{zone_id}/state", lambda d: "online" in d)
        assert state["source"] == "hpp" and state["missing"] is False
    sub = await w.wait_json(f"{B}/{DEV}/q20000001-sub2/state", lambda d: "arming" in d)
    assert sub["arming"] == "disarmed" and sub["armed"] is False
    assert list((path.parent).glob("site.yaml.*.bak")), "the import keeps a backup of the site file"
    assert_no_secret([KEY, "ABCDEF", "GHIJKL"], [w], caplog)


async def test_cli_import_all(site, sims, tmp_path, capsys):
    """Item 11: `gemhost import SITE hpp --all` imports every device not yet in the site file."""
    sim = await sims()
    path = site.write([hpp_device(DEV, sim.url, {"nvr_ch1": f"{NVR}:1"})])
    capsys.readouterr()
    assert await asyncio.to_thread(run_cli, ["import", str(path), DEV, "--all"]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    text = path.read_text()
    for address in (f"{NVR}:2", f"{PTZ}:1", PANEL, f"{PANEL}:sub:1", f"{PANEL}:zone:3"):
        assert f'"{address}"' in text or f"address: {address}" in text, address
    assert text.count(f"{NVR}:1") == 1 and KEY not in out.out + out.err
    assert "devices read from Hik-Partner Pro" in out.err and report


# ----------------------------------------------------------------------------- every command


ACCOUNT_COMMANDS = {"list_sites", "list_devices", "add_device", "import_devices"}  # tested above


async def test_every_command_changes_the_simulator(site, sims, watchers, caplog):
    caplog.set_level(logging.INFO, logger="gemhost")
    sim = await sims()
    site.write([hpp_device(DEV, sim.url, ZONES)])
    w = await watchers()
    host = await site.start()
    await online(w)
    await w.wait_json(f"{B}/{DEV}/sub1/state", lambda d: d.get("arming") == "disarmed")
    called: set[str] = set()

    async def run(command: str, args: dict[str, Any]) -> Any:
        called.add(command)
        return await ok(w, command, args)

    def panel() -> dict[str, Any]:
        return sim_dev(sim, PANEL)

    def uris(serial: str) -> list[str]:
        return [f"{r['method']} {r['uri']}" for r in sim.transparent_log if r["serial"] == serial]

    # --- panel arming (guide A.4.10, A.4.14), by partition and for the whole panel
    result = await run("arm_away", {"zone": "sub1"})
    assert result["subsystems"] == [1] and result["action"] == "arm_away"
    assert panel()["partitions"][1]["arming"] == "away" and result["status"]["subsystems"]["1"] == "away"
    assert "PUT ISAPI/SecurityCP/control/arm/1?ways=away&format=json" in uris(PANEL)
    await w.wait_json(f"{B}/{DEV}/sub1/state", lambda d: d.get("arming") == "away" and d["armed"] is True)
    await run("arm_stay", {"address": f"{PANEL}:sub:2"})  # addressed by the zone key instead of the id
    assert panel()["partitions"][2]["arming"] == "stay"
    await w.wait_json(f"{B}/{DEV}/sub2/state", lambda d: d.get("arming") == "stay")
    await run("disarm", {"zone": "sub1"})
    assert panel()["partitions"][1]["arming"] == "disarm" and panel()["partitions"][2]["arming"] == "stay"
    result = await run("arm_away", {"zone": "panel"})
    assert result["subsystems"] == [1, 2]
    await w.wait_json(f"{B}/{DEV}/panel/state", lambda d: d.get("subsystems") == {"1": "away", "2": "away"})
    await run("disarm", {"zone": "panel"})
    assert [panel()["partitions"][n]["arming"] for n in (1, 2)] == ["disarm", "disarm"]
    # issue 9: the panel's CID reports of arming are `arming` pulses with the mode, never `alarm`
    arming = await until(lambda: [e for _, e in events(w) if e["type"] == "arming" and e["data"]["arming"] == "away"],
                         "arming CID events")
    assert arming[0]["zone"] == "sub1" and arming[0]["data"]["user_no"] == 502 and arming[0]["data"]["cid_code"] == 401
    assert not [e for _, e in events(w) if e["type"] == "alarm"]

    # --- a zone fault refuses arming with the device's A.6 sub status; the bypass makes arming possible
    sim.cloud.devices[PANEL].zones[3].fault = True
    message = await fails(w, "arm_away", {"zone": "sub2"}, "device_error")
    assert "zoneFault (The zone is in fault status.)" in message and "X-DeviceCode 0x4000800E" in message
    assert panel()["partitions"][2]["arming"] == "disarm"
    sim.cloud.devices[PANEL].zones[3].fault = False

    # --- bypass and recovery (A.4.11, A.4.12 with JSON_List_ID)
    await run("bypass_zone", {"zone": "front_door"})
    assert panel()["zones"][0]["bypassed"] is True
    assert "PUT ISAPI/SecurityCP/control/bypass?format=json" in uris(PANEL)
    await w.wait_json(f"{B}/{DEV}/front_door/state", lambda d: d.get("bypassed") is True)
    bypass = await until(lambda: [e for t, e in events(w) if t.endswith("/front_door/event")
                                  and e["type"] == "bypass"], "bypass CID event")
    assert bypass[0]["data"]["bypassed"] is True and bypass[0]["data"]["cid_code"] == 570
    await run("restore_bypass", {"address": f"{PANEL}:zone:0"})
    assert panel()["zones"][0]["bypassed"] is False
    assert "PUT ISAPI/SecurityCP/control/bypassRecover?format=json" in uris(PANEL)
    await w.wait_json(f"{B}/{DEV}/front_door/state", lambda d: d.get("bypassed") is False)
    assert "SERIAL:zone:N" in await fails(w, "bypass_zone", {"zone": "sub1"}, "invalid_args")

    # --- a fire alarms whatever the arming; clear_alarm (A.4.13) restores it
    sim.intrusion(PANEL, 2, fire=True)
    assert panel()["partitions"][1]["alarm"] is True
    fire = await until(lambda: [e for t, e in events(w) if t.endswith("/smoke/event") and e["type"] == "fire"],
                       "fire alarm")
    assert fire[0]["state"] == "active" and fire[0]["data"]["cid_description"] == "fire"
    await run("clear_alarm", {"zone": "sub1"})
    assert panel()["partitions"][1]["alarm"] is False and panel()["zones"][2]["alarm"] is False
    restore = await until(lambda: [e for t, e in events(w) if e["type"] == "fire" and e["state"] == "inactive"],
                          "fire restore")
    assert restore[0]["zone"] == "smoke" and restore[0]["data"]["cid_qualifier"] == "restore"

    # --- relays of the panel (A.4.15) and of the recorder (A.4.22)
    await run("set_output", {"zone": "panel", "output": 1, "state": "on"})
    assert panel()["relays"] == {0: False, 1: True}
    assert "POST ISAPI/SecurityCP/control/outputs?format=json" in uris(PANEL)
    # the recorder's relays belong to the recorder, not to channel 1: its bare serial (no zone
    # of the site has it) and not a channel zone; naming both targets at once is refused
    await run("set_output", {"address": NVR, "output": 1, "state": "on"})
    assert sim_dev(sim, NVR)["io_outputs"] == {1: True}
    await run("set_output", {"address": NVR, "output": 1, "state": "off"})
    assert sim_dev(sim, NVR)["io_outputs"] == {1: False}
    assert "different targets" in await fails(
        w, "set_output", {"zone": "nvr_ch1", "address": NVR, "output": 1, "state": "on"}, "invalid_args")
    assert "acts on the whole device" in await fails(
        w, "set_output", {"zone": "nvr_ch1", "output": 1, "state": "on"}, "invalid_args")
    assert sim_dev(sim, NVR)["io_outputs"] == {1: False}
    assert "PUT ISAPI/System/IO/outputs/1/trigger" in uris(NVR)
    assert "badParameters" in await fails(w, "set_output", {"zone": "panel", "output": 9, "state": "on"},
                                          "device_error")
    assert "needs an alarm host" in await fails(w, "arm_away", {"zone": "nvr_ch1"}, "not_supported")

    # --- recordings (3.52): what gemhost can give for HPP video
    recordings = await run("list_recordings", {"zone": "nvr_ch2", "start": "2024-05-01T10:00:00+02:00",
                                               "end": "2024-05-01T11:30:00+02:00"})
    assert recordings["address"] == f"{NVR}:2" and len(recordings["recordings"]) == 2
    assert recordings["recordings"][0]["type"] == "alarm"

    # --- PTZ of the PTZ camera (A.4.6, A.4.9)
    def ptz() -> list[dict[str, Any]]:
        return sim_dev(sim, PTZ)["ptz"]

    await run("ptz_pan_tilt", {"zone": "ptz", "pan": 40, "tilt": -10})
    assert ptz()[-1] == {"channel": 1, "pan": 40, "tilt": -10, "zoom": 0}
    result = await run("ptz_pan_tilt", {"zone": "ptz", "pan": -25, "tilt": 5, "duration": 30})
    assert result["stopped"] is False and result["stop_after_ms"] == 30  # answered at once
    await until(lambda: ptz()[-1] == {"channel": 1, "pan": 0, "tilt": 0, "zoom": 0}, "the stop after 30 ms")
    assert ptz()[-2] == {"channel": 1, "pan": -25, "tilt": 5, "zoom": 0}
    # a duration longer than the host's 10 s command timeout: answered at once, not timed out
    result = await run("ptz_zoom", {"zone": "ptz", "zoom": 60, "duration": 60000})
    assert result["stop_after_ms"] == 60000
    assert ptz()[-1] == {"channel": 1, "pan": 0, "tilt": 0, "zoom": 60}
    await run("ptz_stop", {"zone": "ptz"})  # replaces the pending stop
    assert ptz()[-1] == {"channel": 1, "pan": 0, "tilt": 0, "zoom": 0}
    await run("ptz_preset", {"zone": "ptz", "preset": 7})
    assert ptz()[-1] == {"channel": 1, "preset": 7}
    assert "pan" in await fails(w, "ptz_pan_tilt", {"zone": "ptz", "pan": 101, "tilt": 0}, "invalid_args")

    # --- arming a camera = subscribing its alarms in the cloud (3.33)
    # (by serial: the cloud subscribes whole devices, so a channel zone may not)
    assert "acts on the whole device" in await fails(w, "disarm", {"zone": "nvr_ch1"}, "invalid_args")
    assert sim_dev(sim, NVR)["subscribed"] is True
    await run("disarm", {"address": NVR})
    assert sim_dev(sim, NVR)["subscribed"] is False
    queued = sim.state()["queue"]
    sim.event(NVR, "VMD")  # not subscribed: the cloud does not queue it
    assert sim.state()["queue"] == queued
    await run("arm", {"address": NVR})
    assert sim_dev(sim, NVR)["subscribed"] is True
    motion_id = sim.event(NVR, "VMD")
    motion = await w.wait_json(f"{B}/{DEV}/nvr_ch1/event", lambda e: e.get("id") == motion_id)
    assert motion["type"] == "motion"

    schema = host.schemas["hpp"]
    supported = {name for name, spec in schema.commands.items() if spec.supported}
    assert called | ACCOUNT_COMMANDS == supported, f"not exercised: {supported - called - ACCOUNT_COMMANDS}"

    # --- every command the schema declares unsupported answers not_supported with its reason
    unsupported = {name: spec.reason for name, spec in schema.commands.items() if not spec.supported}
    assert len(unsupported) == 19
    for name, reason in unsupported.items():
        assert reason and await fails(w, name, {"zone": "nvr_ch1"}, "not_supported") == reason
        assert await fails(w, name, None, "not_supported") == reason
    assert "HPNetSDK" in unsupported["get_stream_url"] and "A.4" in unsupported["siren"]
    assert not any("Streaming" in r["uri"] for r in sim.transparent_log)  # no invented URI was sent
    assert_no_secret([KEY], [w], caplog)


# ----------------------------------------------------------------------------- events


async def test_every_event_type_of_the_guide_arrives(site, sims, watchers):
    """Guide A.3: every type, with the lifetime report its kind needs (issue 9), the CID alarm's
    Linkage as an update of it, and an unparseable message published raw (item 10)."""
    sim = await sims()
    site.write([hpp_device(DEV, sim.url, ZONES)])
    w = await watchers()
    await site.start()
    await online(w)
    await w.wait_json(f"{B}/{DEV}/nvr_ch1/state", lambda d: d.get("online") is True)
    await w.wait_json(f"{B}/{DEV}/ptz/state", lambda d: d.get("missing") is False)

    ids: dict[str, str] = {}
    channels = {"VMD": 1, "IO": 1, "shelteralarm": 1, "fielddetection": 1, "linedetection": 2, "videoloss": 2,
                "regionEntrance": 1, "regionExiting": 1, "recordException": 2}
    for kind, channel in channels.items():
        ids[kind] = sim.event(NVR, kind, channel=channel)
    for kind in ("diskerror", "diskfull", "diskrecover"):
        ids[kind] = sim.event(NVR, kind)
    ids["deviceoffline"] = sim.event(NVR, "deviceoffline")
    await w.wait_json(f"{B}/{DEV}/nvr_ch1/state", lambda d: d.get("online") is False)
    await w.wait_json(f"{B}/{DEV}/nvr_ch2/state", lambda d: d.get("online") is False)
    ids["deviceonline"] = sim.event(NVR, "deviceonline")
    ids["devicedeleted"] = sim.event(PTZ, "devicedeleted")
    await w.wait_json(f"{B}/{DEV}/ptz/state", lambda d: d.get("missing") is True and d["online"] is False)
    sim.cloud.arm(PANEL, 1, "away")
    ids["cidEvent"] = sim.intrusion(PANEL, 0)
    ids["Linkage"] = sim.cloud.queue[-1]["messageId"]
    guide = REPO / "tests" / "drivers" / "hpp" / "guide"
    for name, kind in (("A.3.7_ACSEvent_filled.json", "ACSEvent"), ("A.3.8_YsCallingEvent.json", "YsCallingEvent"),
                       ("A.3.9_manualRep.json", "manualRep")):
        ids[kind] = sim.cloud.enqueue_raw({"deviceSerial": PANEL, "formatType": "JSON",
                                           "alarmData": (guide / name).read_text()})
    deep = "<EventNotificationAlert>" + "<a>" * 5000 + "</a>" * 5000 + "</EventNotificationAlert>"
    ids["unparsed"] = sim.cloud.enqueue_raw({"deviceSerial": NVR, "formatType": "XML", "alarmData": deep})

    # what each report started (an active; for the Linkage its update; a recover ends its error)
    def first_reports() -> dict[str | None, tuple[str, dict[str, Any]]]:
        got: dict[str | None, tuple[str, dict[str, Any]]] = {}
        for topic, ev in events(w):
            if ev["state"] != "inactive" or ev["vendor_type"] == "diskrecover":
                got.setdefault(ev.get("id"), (topic, ev))
        return got

    by_id = await until(lambda: (lambda got: got if set(ids.values()) <= set(got) else None)(first_reports()),
                        "every event type")
    published = started(w)
    assert all(published.count(i) <= 1 for i in ids.values()), "an event was published twice"

    for kind, channel in channels.items():
        topic, ev = by_id[ids[kind]]
        assert topic == f"{B}/{DEV}/nvr_ch{channel}/event", kind
        assert (ev["type"], ev["vendor_type"], ev["channel"], ev["state"], ev["kind"]) == (
            CAMERA_TYPES[kind], kind, channel, "active", "pulse")
        assert ev["device"] == DEV and ev["zone"] == f"nvr_ch{channel}" and ev["data"]["serial"] == NVR
        assert ev["data"]["description"] == bodies.DESCRIPTIONS[kind]
        # item 7: the body's triggerTime in the device's time zone (A.2 182 = UTC+8), not "now"
        assert dt.datetime.fromisoformat(ev["time"]).utcoffset() == dt.timedelta(hours=8)
    assert by_id[ids["IO"]][1]["data"]["input"] == 1
    for kind in ("fielddetection", "linedetection", "regionEntrance", "regionExiting"):
        assert by_id[ids[kind]][1]["data"]["regions"] == [1]
    for kind, (published_type, state, event_kind) in DEVICE_TYPES.items():
        topic, ev = by_id[ids[kind]]
        assert topic == f"{B}/{DEV}/event" and ev["zone"] is None and ev["channel"] is None, kind
        assert (ev["type"], ev["vendor_type"], ev["state"], ev["kind"]) == (published_type, kind, state, event_kind)
    # diskrecover ended the diskerror condition: same event_id, ended by the device
    assert by_id[ids["diskrecover"]][1]["event_id"] == by_id[ids["diskerror"]][1]["event_id"]
    assert by_id[ids["diskrecover"]][1]["ended_by"] == "device"
    assert by_id[ids["devicedeleted"]][1]["data"]["serial"] == PTZ

    # deviceoffline/online drove the zones' online state, in that order
    online_flags = [s["online"] for s in payloads(w, f"{B}/{DEV}/nvr_ch1/state") if "online" in s]
    first_off = online_flags.index(False)
    assert True in online_flags[:first_off] and True in online_flags[first_off:]
    assert payloads(w, f"{B}/{DEV}/nvr_ch2/state")[-1]["online"] is True

    # the intrusion: a CID alarm on the alarm zone, its Linkage an update referring to it
    topic, alarm = by_id[ids["cidEvent"]]
    assert topic == f"{B}/{DEV}/front_door/event"
    assert (alarm["type"], alarm["vendor_type"], alarm["state"]) == ("alarm", "cidEvent", "active")
    data = alarm["data"]
    assert (data["cid_code"], data["cid_qualifier"], data["cid_description"]) == (130, "event", "burglary")
    assert (data["zone_number"], data["subsystem"], data["zone_name"], data["serial"]) == (0, 1, "Front door", PANEL)
    topic, linkage = by_id[ids["Linkage"]]
    assert linkage["vendor_type"] == "Linkage" and linkage["state"] == "update"
    assert linkage["event_id"] == alarm["event_id"] and linkage["refers_to"] == ids["cidEvent"]
    assert topic == f"{B}/{DEV}/front_door/event"
    assert linkage["data"]["relation_id"] == data["relation_id"] and len(linkage["data"]["pictures"]) == 2
    for picture in linkage["data"]["pictures"]:
        assert picture["url"].startswith(sim.area_url + "/v3/alarms/pic/get?fileId=") and picture["encrypted"] is False

    assert by_id[ids["ACSEvent"]][1]["type"] == "access" and by_id[ids["YsCallingEvent"]][1]["type"] == "doorbell"
    assert by_id[ids["manualRep"]][1]["type"] == "capture"
    topic, unparsed = by_id[ids["unparsed"]]
    assert topic == f"{B}/{DEV}/event" and unparsed["type"] == "unparsed"
    assert unparsed["data"]["raw_length"] == len(deep)
    msg = next(m for m in w.on(f"{B}/{DEV}/front_door/event"))
    assert msg.qos == 1 and not msg.retain
    await until(lambda: sim.state()["queue"] == 0, "every batch to be committed")


async def test_done_when_arm_over_mqtt_then_intrusion_raises_the_cid_alarm(site, sims, watchers):
    sim = await sims()
    site.write([hpp_device(DEV, sim.url, ZONES)])
    w = await watchers()
    await site.start()
    await online(w)
    assert sim.intrusion(PANEL, 0) is None  # disarmed: the detector trips, no alarm
    result = await ok(w, "arm_away", {"zone": "sub1"})
    assert result["status"]["subsystems"]["1"] == "away"
    assert sim_dev(sim, PANEL)["partitions"][1]["arming"] == "away"
    alarm_id = sim.intrusion(PANEL, 0)
    assert alarm_id
    alarm = await w.wait_json(f"{B}/{DEV}/front_door/event", lambda e: e.get("id") == alarm_id)
    assert alarm["type"] == "alarm" and alarm["data"]["cid_code"] == 130 and alarm["data"]["zone_number"] == 0
    assert alarm["data"]["subsystem"] == 1
    await w.wait_json(f"{B}/{DEV}/front_door/state", lambda d: d["active"].get("alarm") is True)
    assert [e["id"] for t, e in events(w) if e["data"].get("cid_code") == 130] == [alarm_id]


async def test_event_lifetime_through_the_broker(site, sims, watchers):
    """Issue 9, HPP part: an alarm goes inactive by its restore, a camera event by pulse hold,
    arming and disarming the panel never produce a `type: alarm` event, and the Linkage is an
    update of its alarm. Each condition: exactly one active and one inactive with one event_id."""
    sim = await sims()
    site.write([hpp_device(DEV, sim.url, ZONES)])
    w = await watchers()
    await site.start()
    await online(w)

    # arming and disarming over MQTT and from the panel itself: state, never alarms
    await ok(w, "arm_away", {"zone": "sub1"})
    await ok(w, "disarm", {"zone": "sub1"})
    sim.cloud.arm(PANEL, 2, "stay")
    sim.cloud.disarm(PANEL, 2)
    arming = await until(lambda: (lambda got: got if len(got) == 4 else None)(
        [e for _, e in events(w, state="active") if e["type"] == "arming"]), "four arming reports")
    assert [e["data"]["arming"] for e in arming] == ["away", "disarmed", "stay", "disarmed"]
    assert all(e["kind"] == "pulse" for e in arming)
    await w.wait_json(f"{B}/{DEV}/sub2/state", lambda d: d.get("arming") == "disarmed")
    ends = await until(lambda: (lambda got: got if len(got) == 4 else None)(
        [e for _, e in lifetime_ends(w) if e["type"] == "arming"]), "the arming pulses to end")
    assert {e["event_id"] for e in ends} == {e["event_id"] for e in arming} and {e["ended_by"] for e in ends} == {
        "pulse"}

    # an intrusion: the alarm, its Linkage as an update, and its restore ending it
    await ok(w, "arm_away", {"zone": "sub1"})
    alarm_id = sim.intrusion(PANEL, 0)
    alarm = await w.wait_json(f"{B}/{DEV}/front_door/event", lambda e: e.get("id") == alarm_id)
    assert (alarm["type"], alarm["state"], alarm["kind"]) == ("alarm", "active", "stateful")
    update = await w.wait_json(f"{B}/{DEV}/front_door/event", lambda e: e["state"] == "update")
    assert update["event_id"] == alarm["event_id"] and update["refers_to"] == alarm_id
    assert update["vendor_type"] == "Linkage" and len(update["data"]["pictures"]) == 2
    await w.wait_json(f"{B}/{DEV}/front_door/state", lambda d: d["active"].get("alarm") is True)
    restore_id = sim.cloud.restore_zone(PANEL, 0)
    ended = await w.wait_json(f"{B}/{DEV}/front_door/event", lambda e: e["state"] == "inactive")
    assert (ended["event_id"], ended["ended_by"], ended["id"]) == (alarm["event_id"], "device", restore_id)
    await w.wait_json(f"{B}/{DEV}/front_door/state", lambda d: d["active"].get("alarm") is False)

    # a camera event: a pulse, ended by the host's pulse_hold (1 s in these sites)
    motion_id = sim.event(NVR, "VMD")
    motion = await w.wait_json(f"{B}/{DEV}/nvr_ch1/event", lambda e: e.get("id") == motion_id)
    assert (motion["state"], motion["kind"]) == ("active", "pulse")
    await w.wait_json(f"{B}/{DEV}/nvr_ch1/state", lambda d: d["active"].get("motion") is True)
    held = await w.wait_json(f"{B}/{DEV}/nvr_ch1/event", lambda e: e["state"] == "inactive")
    assert (held["event_id"], held["ended_by"]) == (motion["event_id"], "pulse")
    await w.wait_json(f"{B}/{DEV}/nvr_ch1/state", lambda d: d["active"].get("motion") is False)

    everything = [json.loads(m.payload) for m in w.messages if m.topic.value.endswith("/event")]
    assert not [e for e in everything if e["type"] == "alarm" and e.get("vendor_type") == "cidEvent"
                and e["data"].get("cid_code") in (401, 441)], "an arming report was published as an alarm"
    for event_id in {e["event_id"] for e in everything if e.get("event_id") and e["state"] != "update"}:
        states = [e["state"] for e in everything if e.get("event_id") == event_id and e["state"] != "update"]
        assert states in (["active"], ["active", "inactive"]), (event_id, states)
    assert sim.state()["queue"] == 0


async def test_receive_events_off_leaves_the_queue_alone(site, sims, watchers):
    quiet = await sims()
    busy = await sims()
    held = [quiet.event(NVR, "VMD"), quiet.event(NVR, "linedetection", channel=2), quiet.intrusion(PANEL, 2, fire=True)]
    site.write([
        hpp_device("arc_only", quiet.url, {"cam": f"{NVR}:1", "smoke": f"{PANEL}:zone:2"}, receive_events=False),
        hpp_device("pulls", busy.url, {"cam": f"{NVR}:1"}),
    ])
    w = await watchers()
    await site.start()
    await online(w, "arc_only")
    await online(w, "pulls")
    # The other connection pulls and publishes while this one is running: a fair chance to misbehave.
    marker = busy.event(NVR, "VMD")
    await w.wait_json(f"{B}/pulls/cam/event", lambda e: e.get("id") == marker)
    assert (await ok(w, "list_sites", device="arc_only"))["sites"]  # the connection itself works
    assert quiet.cloud.counters["pulls"] == 0 and quiet.cloud.counters["commits"] == 0
    assert [m["messageId"] for m in quiet.cloud.queue][: len(held)] == held
    assert quiet.state()["queue"] >= 3
    assert events(w, "arc_only") == []


# ----------------------------------------------------------------------------- delivery guarantees


class ConnectFailures(logging.Handler):
    """Counts the bridge's failed (re)connection attempts, to restart the broker right after one:
    the bridge then waits at least its minimum back-off before trying again."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("MQTT connection to"):
            self.count += 1


async def test_broker_outage_mid_batch_loses_and_duplicates_nothing(site, sims, watchers, mqtt_broker):
    sim = await sims(batch_size=5)
    site.write([hpp_device(DEV, sim.url, {"nvr_ch1": f"{NVR}:1", "nvr_ch2": f"{NVR}:2"})])
    w = await watchers()
    host = await site.start()
    await online(w)
    before = [sim.event(NVR, "VMD", channel=1 + n % 2) for n in range(3)]
    await until(lambda: started(w) == before, "events before the outage")
    await until(lambda: sim.state()["queue"] == 0, "the first batch to be committed")

    failures = ConnectFailures()
    mqtt_log = logging.getLogger("gemhost.mqtt")
    mqtt_log.addHandler(failures)
    try:
        await mqtt_broker.stop()
        during = [sim.event(NVR, kind, channel=1 + n % 2)
                  for n, kind in enumerate(["VMD", "linedetection", "fielddetection", "IO", "VMD",
                                            "regionEntrance", "videoloss"])]
        # The driver pulled a batch of 5 and published it into the bridge's queue; it waits for acks.
        await until(lambda: host.stats()["queue_depth"] == 5, "the batch to wait in the offline queue")
        assert sim.state()["queue"] == 7 and sim.cloud.counters["commits"] == 1
        seen = failures.count
        await until(lambda: failures.count > seen, "a failed reconnection attempt")
        await mqtt_broker.start()
        w2 = await watchers()
    finally:
        mqtt_log.removeHandler(failures)

    await until(lambda: len(started(w2)) >= len(during) and sim.state()["queue"] == 0, "events after the outage")
    await ok(w2, "list_sites")  # one more round trip through the broker before counting
    assert started(w2) == during
    assert host.stats()["queue_depth"] == 0 and host.stats()["dropped"] == 0
    await w2.wait(f"{B}/{DEV}/availability", lambda m: m.payload == b"online")


async def test_host_restart_mid_batch_publishes_the_rest_once(site, sims, watchers):
    sim = await sims(batch_size=4, long_poll=20)
    zones = {"nvr_ch1": f"{NVR}:1", "nvr_ch2": f"{NVR}:2"}
    site.write([hpp_device(DEV, sim.url, zones, status_interval=600000)])
    w = await watchers()
    first = await site.start()
    await online(w)
    # The event loop is now parked in the long poll; no liveness poll is due for 10 minutes, so
    # the next API request of this account is the commit of the batch the events below form.
    await until(lambda: sim.cloud.counters["pulls"] >= 1, "the first long poll")
    requests = sim.cloud.counters["requests"]
    sim.queue_fault("slow", count=1, seconds=2.0)
    injected = [sim.event(NVR, kind, channel=1 + n % 2)
                for n, kind in enumerate(["VMD", "IO", "linedetection", "shelteralarm", "VMD", "videoloss",
                                          "fielddetection"])]
    await until(lambda: started(w) == injected[:4], "the first batch on MQTT")
    await until(lambda: sim.cloud.counters["requests"] == requests + 1, "the commit to be in flight")
    await first.stop()
    sim.cloud.revoke_tokens()  # the abandoned commit, when its delay ends, is refused
    sim.cloud.long_poll = 0.2
    assert sim.state()["queue"] == 7 and sim.cloud.counters["commits"] == 0, "the batch must not be committed"

    second = await site.start()
    await until(lambda: sim.state()["queue"] == 0, "the re-delivered batch and the rest to be committed")
    await until(lambda: len(started(w)) >= len(injected), "the rest of the events")
    await ok(w, "list_sites")  # one more round trip through the broker before counting
    assert started(w) == injected
    assert sim.cloud.counters["commits"] == 2  # the re-delivered batch (all seen) and the rest
    await second.stop()
