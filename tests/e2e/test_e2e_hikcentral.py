"""End-to-end: HikCentral simulator (HTTPS, self-signed, hundreds of cameras, some offline) ->
a real Host -> a real MQTT broker (amqtt and mosquitto) -> a plain MQTT client.

Covers the whole HikCentral flow as an integrator sees it: test_connection with every failure
reason (over MQTT and through ``gemhost call``), list_cameras, import_cameras (MQTT and
``gemhost import``) rewriting the site file, sync_cameras, zone removal by reload, stream
URLs, PTZ and pushed events; and the issue's done-when on a copy of sample_site.yaml.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gemhost_drivers.hikcentral.simulator import HikCentralSimulator

from gemhost import cli
from gemhost.host import Host
from gemhost.site import load_site
from gemhost.testing import MqttWatcher, free_port, until

REPO = Path(__file__).resolve().parents[2]
SITE_ID = "e2e"
B = f"gem/{SITE_ID}"
APP_KEY = "e2e-app-key"
SECRET = "e2e-hcp-Secret-7f3Kq9"  # the AppSecret: must never reach a log line or an MQTT payload
WRONG_SECRET = "e2e-wrong-Secret-Xw41"
CAMERAS = 520  # more than one OpenAPI page of 500; every 7th offline, every 5th (from 1) PTZ

SITE_HEAD = """\
# HikCentral end-to-end site (comments must survive imports)
site: {{id: {site}, name: HikCentral E2E}}   # trailing comment on site

mqtt:
  broker: "{broker}"
  protocol: "{protocol}"
  keepalive: 5

host:
  command_timeout: 20   # the status poll refreshes hundreds of stream URLs
  pulse_hold: 1         # seconds a status-0 (instantaneous) event keeps its zone active

devices:
  # The VMS: cameras are imported as zones
  - id: hcp
    driver: hikcentral
    name: HikCentral
    attributes:
      url: {url}
      app_key: {app_key}
      app_secret: !secret hcp_app_secret   # from secrets.yaml beside this file
      status_interval: 1000
      timeout: 5
"""


# ------------------------------------------------------------------ helpers


def protocol_for(broker: Any) -> str:
    """amqtt speaks 3.1.1 only (skip the MQTT 5 probe); mosquitto runs with auto (MQTT 5)."""
    return "3.1.1" if broker.kind == "amqtt" else "auto"


def site_text(broker: Any, url: str, zones: list[tuple[str, str]] | None = None, extra: str = "") -> str:
    text = SITE_HEAD.format(site=SITE_ID, broker=broker.url, protocol=protocol_for(broker), url=url,
                            app_key=APP_KEY)
    if zones:
        text += "    zones:\n"
        for zone_id, code in zones:
            text += f"      - {{id: {zone_id}, name: Zone {zone_id}, attributes: {{camera: '{code}'}}}}\n"
    return text + extra


def write_site(tmp_path: Path, text: str) -> Path:
    (tmp_path / "secrets.yaml").write_text(f"hcp_app_secret: {SECRET}\nhcp_wrong_secret: {WRONG_SECRET}\n")
    path = tmp_path / "site.yaml"
    path.write_text(text)
    return path


def payload_of(message: Any) -> bytes:
    p = message.payload
    return p if isinstance(p, bytes) else str(p if p is not None else "").encode()


def all_payloads(w: MqttWatcher) -> bytes:
    return b"\n".join(payload_of(m) for m in w.messages)


def assert_no_secret(w: MqttWatcher, *texts: str) -> None:
    blob = all_payloads(w)
    for secret in (SECRET, WRONG_SECRET):
        assert secret.encode() not in blob
        for text in texts:
            assert secret not in text


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def run_cli(argv: list[str]) -> int:
    """``gemhost.cli.main`` as the shell runs it (its own event loop, in a thread), leaving the
    test's logging handlers as they were (the CLI replaces the root handlers)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return await asyncio.to_thread(cli.main, argv)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


async def cmd(w: MqttWatcher, command: str, args: dict[str, Any] | None = None, *, target: str = "hcp",
              req_id: str | None = None, timeout: float = 30) -> dict[str, Any]:
    cmd.counter += 1  # type: ignore[attr-defined]
    rid = req_id or f"{command}-{cmd.counter}"  # type: ignore[attr-defined]
    body: dict[str, Any] = {"id": rid}
    if args is not None:
        body["args"] = args
    reply = await w.request(f"{B}/{target}/cmd/{command}", body, timeout=timeout)
    assert reply["id"] == rid
    return reply


cmd.counter = 0  # type: ignore[attr-defined]


async def ok(w: MqttWatcher, command: str, args: dict[str, Any] | None = None, **kw: Any) -> Any:
    reply = await cmd(w, command, args, **kw)
    assert reply["ok"] is True, reply
    return reply["result"]


async def back_online(w: MqttWatcher, since: int, base: str = B) -> None:
    """After an import or reload, hcp must be online: a zone-only change keeps the connection,
    so the latest retained state (at or after message ``since``) says online."""
    def states(messages: list[Any]) -> list[dict[str, Any]]:
        return [json.loads(m.payload) for m in messages if m.topic.value == f"{base}/hcp/state" and m.payload]
    await until(lambda: bool(states(w.messages)) and states(w.messages)[-1]["online"],
                timeout=30, what="hcp online after the site change")


def zone_ready(sim: HikCentralSimulator, code: str) -> Callable[[dict[str, Any]], bool]:
    """A zone state that the poll filled in for this camera (badge, status, stream URL)."""
    def check(d: dict[str, Any]) -> bool:
        return (d.get("source") == "hikcentral" and d.get("online") is sim.cameras[code].online
                and d.get("missing") is False and bool(d.get("stream_url")))
    return check


def assert_stream_url(sim: HikCentralSimulator, url: str) -> None:
    assert url.startswith(("rtsp://127.0.0.1:554/openUrl/", f"{sim.url}/openUrl/", "ws://127.0.0.1:559/openUrl/"))
    assert "@" not in url.split("/")[2], url  # no user:password in the authority
    assert sim.url_valid(url)


# ------------------------------------------------------------------ fixtures


@pytest.fixture
async def hcp_sim():
    sim = HikCentralSimulator(cameras=CAMERAS, https=True, app_key=APP_KEY, app_secret=SECRET)
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def e2e(mqtt_broker, tmp_path, monkeypatch, caplog):
    """start(site_path) -> (host, watcher): watcher on gem/e2e/# first, then the host, then
    waits for hcp online. Stops everything afterwards and checks no secret was logged."""
    monkeypatch.setenv("GEMHOST_STATE_DIR", str(tmp_path / "state"))
    caplog.set_level(logging.DEBUG)
    for noisy in ("amqtt", "transitions"):  # broker internals, not ours
        caplog.set_level(logging.INFO, logger=noisy)
    hosts: list[Host] = []
    watchers: list[MqttWatcher] = []

    async def start(site_path: Path, base: str = B) -> tuple[Host, MqttWatcher]:
        w = await MqttWatcher(mqtt_broker.port).start(f"{base}/#")
        watchers.append(w)
        host = Host(site_path)
        hosts.append(host)
        await host.start()
        await asyncio.wait_for(host.bridge.connected.wait(), 15)
        await w.wait_json(f"{base}/hcp/state", lambda d: d["online"], timeout=30)
        return host, w

    start.broker = mqtt_broker  # type: ignore[attr-defined]
    yield start
    for host in hosts:
        if not host.stopped.is_set():
            await host.stop()
    for w in watchers:
        await w.stop()
    for secret in (SECRET, WRONG_SECRET):
        assert secret not in caplog.text


# ------------------------------------------------------------------ (1) test_connection


async def test_test_connection_ok_and_every_failure_reason(e2e, hcp_sim, tmp_path, capsys):
    down_port = closed_port()
    extra = f"""
  # the same server, but verifying its self-signed certificate
  - id: hcp_tls
    driver: hikcentral
    attributes: {{url: "{hcp_sim.url}", app_key: {APP_KEY}, app_secret: !secret hcp_app_secret,
                  verify_tls: true, events: false}}
  # a wrong AppSecret
  - id: hcp_auth
    driver: hikcentral
    attributes: {{url: "{hcp_sim.url}", app_key: {APP_KEY}, app_secret: !secret hcp_wrong_secret,
                  events: false}}
  # nothing listens there
  - id: hcp_down
    driver: hikcentral
    attributes: {{url: "https://127.0.0.1:{down_port}", app_key: {APP_KEY},
                  app_secret: !secret hcp_app_secret, events: false, timeout: 2}}
"""
    site = write_site(tmp_path, site_text(e2e.broker, hcp_sim.url, extra=extra))
    host, w = await e2e(site)

    state = await w.wait_json(f"{B}/hcp/state", lambda d: d["online"])
    assert state["driver"] == "hikcentral" and state["status"] == "online" and state["last_error"] is None
    assert state["info"]["manufacturer"] == "Hikvision"
    assert state["info"]["model"] == "HikCentral Professional"
    assert state["info"]["firmware"] == "V2.4.1 build20230529"
    await w.wait(f"{B}/hcp/availability", lambda m: m.payload == b"online")

    good = await ok(w, "test_connection")
    assert good == {"ok": True, "product": "HikCentral Professional", "version": "V2.4.1 build20230529",
                    "cameras": len(hcp_sim.cameras)}
    assert good["cameras"] == CAMERAS

    expected: dict[str, str] = {}
    for device, reason in (("hcp_down", "unreachable"), ("hcp_tls", "tls"), ("hcp_auth", "auth")):
        result = await ok(w, "test_connection", target=device)
        assert result["ok"] is False and result["reason"] == reason, result
        assert result["message"]
        expected[device] = reason
    assert str(down_port) in (await ok(w, "test_connection", target="hcp_down"))["message"]
    for fault in ("api_disabled", "permission"):
        hcp_sim.set_fault(fault)
        try:
            result = await ok(w, "test_connection")
        finally:
            hcp_sim.set_fault(None)
        assert result["ok"] is False and result["reason"] == fault and result["message"], result

    # the wrong secret parks its device (no account lock-out); the others stay offline with a reason
    auth_state = await w.wait_json(f"{B}/hcp_auth/state", lambda d: d["status"] == "auth_failed", timeout=20)
    assert "AppSecret is wrong" in auth_state["last_error"]
    tls_state = await w.wait_json(f"{B}/hcp_tls/state", lambda d: bool(d["last_error"]))
    assert tls_state["online"] is False and "TLS" in tls_state["last_error"]
    assert (await w.wait(f"{B}/hcp_down/availability")).payload == b"offline"

    # the same diagnosis through the shell: gemhost call SITE DEVICE test_connection
    capsys.readouterr()
    assert await run_cli(["call", str(site), "hcp", "test_connection"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == good
    texts = [out.out, out.err]
    for device, reason in expected.items():
        assert await run_cli(["call", str(site), device, "test_connection"]) == 0
        out = capsys.readouterr()
        result = json.loads(out.out)
        assert result["ok"] is False and result["reason"] == reason and result["message"], (device, result)
        texts += [out.out, out.err]
    for fault in ("api_disabled", "permission"):
        hcp_sim.set_fault(fault)
        try:
            assert await run_cli(["call", str(site), "hcp", "test_connection"]) == 0
        finally:
            hcp_sim.set_fault(None)
        out = capsys.readouterr()
        result = json.loads(out.out)
        assert result["ok"] is False and result["reason"] == fault, result
        texts += [out.out, out.err]
    assert_no_secret(w, *texts)


# ------------------------------------------------------------------ (2) list_cameras


async def test_list_cameras_paging_filters_and_imported_flag(e2e, hcp_sim, tmp_path):
    imported = {"1": "first", "100": "hall", "14": "yard"}  # 14 is offline (every 7th)
    site = write_site(tmp_path, site_text(e2e.broker, hcp_sim.url, [(z, c) for c, z in imported.items()]))
    _host, w = await e2e(site)
    cams = list(hcp_sim.cameras.values())

    seen: list[dict[str, Any]] = []
    page_size = 200
    pages = -(-len(cams) // page_size)
    for page in range(1, pages + 1):
        result = await ok(w, "list_cameras", {"page": page, "page_size": page_size})
        assert result["total"] == len(cams) and result["pages"] == pages and result["page"] == page
        assert len(result["cameras"]) == min(page_size, len(cams) - (page - 1) * page_size)
        seen += result["cameras"]
    assert [c["code"] for c in seen] == [c.code for c in cams]
    for row, cam in zip(seen, cams, strict=True):
        assert row["name"] == cam.name and row["online"] is cam.online and row["ptz"] is cam.ptz
        assert row["region"] == hcp_sim.regions[cam.region] and row["encoding_device"] == hcp_sim.devices[cam.device]
        assert row["imported"] is (cam.code in imported) and row["zone"] == imported.get(cam.code)
    assert any(not c["online"] for c in seen) and any(c["online"] for c in seen)
    beyond = await ok(w, "list_cameras", {"page": pages + 1, "page_size": page_size})
    assert beyond["cameras"] == [] and beyond["total"] == len(cams)

    named = await ok(w, "list_cameras", {"name": "entrance", "page_size": 1000})
    want = [c.code for c in cams if "entrance" in c.name.lower()]
    assert want and [c["code"] for c in named["cameras"]] == want and named["total"] == len(want)
    hall = next(c for c in named["cameras"] if c["code"] == "100")
    assert hall["imported"] is True and hall["zone"] == "hall"

    online = await ok(w, "list_cameras", {"online_only": True, "page_size": 1000})
    assert [c["code"] for c in online["cameras"]] == [c.code for c in cams if c.online]
    assert online["total"] < len(cams)

    fresh = await ok(w, "list_cameras", {"not_imported": True, "page_size": 1000})
    assert [c["code"] for c in fresh["cameras"]] == [c.code for c in cams if c.code not in imported]
    assert not any(c["imported"] for c in fresh["cameras"])

    combined = await ok(w, "list_cameras", {"name": "Entrance", "online_only": True, "not_imported": True,
                                            "page_size": 2, "page": 1})
    want = [c.code for c in cams if "entrance" in c.name.lower() and c.online and c.code not in imported]
    assert combined["total"] == len(want) and [c["code"] for c in combined["cameras"]] == want[:2]

    bad = await cmd(w, "list_cameras", {"page_size": 0})
    assert bad["ok"] is False and bad["error"]["code"] == "invalid_args"
    assert_no_secret(w)


# ------------------------------------------------------------------ (3) import_cameras


async def test_import_by_codes_over_mqtt_and_new_from_the_cli(e2e, hcp_sim, tmp_path, capsys):
    original = site_text(e2e.broker, hcp_sim.url)
    site = write_site(tmp_path, original)
    host, w = await e2e(site)

    since = len(w.messages)
    result = await ok(w, "import_cameras", {"cameras": ["3", "7"]})
    await back_online(w, since)
    assert result["count"] == 2 and len(result["imported"]) == 2
    by_code = dict(zip(["3", "7"], result["imported"], strict=True))

    text = site.read_text()
    for line in original.splitlines():
        if line.lstrip().startswith("#") or "!secret" in line:
            assert line in text, line
    assert "app_secret: !secret hcp_app_secret   # from secrets.yaml beside this file" in text
    assert "# trailing comment on site" in text
    assert [ln.split(":")[0] for ln in text.splitlines() if re.match(r"^[a-z]+:", ln)] == \
        ["site", "mqtt", "host", "devices"]
    assert SECRET not in text
    backups = sorted(tmp_path.glob("site.yaml.*.bak"))
    assert backups and backups[0].read_text() == original

    zones = load_site(site, host.schemas).devices["hcp"].zones
    assert host.site is not None and set(host.site.devices["hcp"].zones) == set(zones)
    for code, zone_id in by_code.items():
        cam = hcp_sim.cameras[code]
        attrs = zones[zone_id].attributes
        assert attrs["camera"] == code and attrs["camera_name"] == cam.name
        assert attrs["region"] == hcp_sim.regions[cam.region]
        assert attrs["encoding_device"] == hcp_sim.devices[cam.device]
        state = await w.wait_json(f"{B}/hcp/{zone_id}/state", zone_ready(hcp_sim, code))
        assert state["name"] == cam.name and state["active"] == {}
        assert_stream_url(hcp_sim, state["stream_url"])
        assert dt.datetime.fromisoformat(state["stream_url_expires"]) > dt.datetime.now().astimezone()
    assert hcp_sim.cameras["7"].online is False and hcp_sim.cameras["3"].online is True

    again = await ok(w, "import_cameras", {"cameras": ["3"]})
    assert again == {"imported": [], "count": 0}
    unknown = await cmd(w, "import_cameras", {"cameras": ["999999"]})
    assert unknown["ok"] is False and unknown["error"]["code"] == "invalid_args"
    assert "999999" in unknown["error"]["message"]

    # the shell: gemhost import SITE hcp --all; it asks the running host to reload over MQTT
    capsys.readouterr()
    since = len(w.messages)
    assert await run_cli(["import", str(site), "hcp", "--all"]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert report["count"] == CAMERAS - 2 and len(report["imported"]) == CAMERAS - 2
    assert f"{CAMERAS}/{CAMERAS} cameras read from HikCentral" in out.err
    assert f"500/{CAMERAS} cameras read from HikCentral" in out.err  # progress per page of 500
    assert "the running host reloaded the site: the new zones are live" in out.err
    texts = [out.out, out.err]
    text = site.read_text()
    assert "app_secret: !secret hcp_app_secret   # from secrets.yaml beside this file" in text
    assert "# HikCentral end-to-end site (comments must survive imports)" in text
    zones = load_site(site, host.schemas).devices["hcp"].zones
    assert len(zones) == CAMERAS
    assert {z.attributes["camera"] for z in zones.values()} == set(hcp_sim.cameras)
    # no reload by hand: the running host already has every zone
    await back_online(w, since)
    assert host.site is not None and set(host.site.devices["hcp"].zones) == set(zones)
    new_codes = {z.attributes["camera"]: z.id for z in zones.values() if z.attributes["camera"] not in by_code}
    for code in ("1", "14", "100", str(CAMERAS)):  # online, offline, renamed-style, last
        state = await w.wait_json(f"{B}/hcp/{new_codes[code]}/state", zone_ready(hcp_sim, code), timeout=30)
        assert state["name"] == hcp_sim.cameras[code].name
        assert_stream_url(hcp_sim, state["stream_url"])
    listed = await ok(w, "list_cameras", {"not_imported": True})
    assert listed["total"] == 0

    # --new: only what HikCentral got since that import (issue 12 item 7)
    bay = hcp_sim.add_camera("Loading Bay")
    assert await run_cli(["import", str(site), "hcp", "--new"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == {"imported": ["loading_bay"], "count": 1}
    assert "the running host reloaded the site" in out.err
    state = await w.wait_json(f"{B}/hcp/loading_bay/state", zone_ready(hcp_sim, bay), timeout=30)
    assert state["name"] == "Loading Bay"
    assert await run_cli(["import", str(site), "hcp", "--new"]) == 0  # nothing new: no reload asked
    out = capsys.readouterr()
    assert json.loads(out.out) == {"imported": [], "count": 0} and "reload" not in out.err
    assert_no_secret(w, *texts, out.out, out.err)


async def test_cli_import_reload_needs_the_hosts_token_when_tokens_are_required(e2e, tmp_path, capsys,
                                                                                  monkeypatch):
    """With access.require_token, the CLI's reload request is refused without a token covering
    host/reload (one line says a reload is needed) and done with one (--token or $GEMHOST_TOKEN)."""
    from gemhost.tokens import TokenStore

    sim = HikCentralSimulator(cameras=6, app_key=APP_KEY, app_secret=SECRET)
    await sim.start()
    try:
        site = write_site(tmp_path, site_text(e2e.broker, sim.url, [("one", "1")],
                                              extra="\naccess: {require_token: true}\n"))
        host, w = await e2e(site)
        store = TokenStore.for_site(site)
        import_only = store.create("import-only", ["hcp"], None, ["import_cameras"], 600)
        both = store.create("importer", ["hcp", "host"], None, ["import_cameras", "reload"], 600)
        capsys.readouterr()
        assert await run_cli(["import", str(site), "hcp", "2", "--token", import_only]) == 0
        out = capsys.readouterr()
        assert json.loads(out.out)["count"] == 1
        line = next(ln for ln in out.err.splitlines() if "needs a reload" in ln)  # one line says it all
        assert line.startswith("site file updated; a running host needs a reload")
        assert "refused the reload (unauthorized" in line
        assert set(host.site.devices["hcp"].zones) == {"one"}  # not reloaded
        monkeypatch.setenv("GEMHOST_TOKEN", both)  # the environment serves as well as --token
        assert await run_cli(["import", str(site), "hcp", "3"]) == 0
        out = capsys.readouterr()
        assert "the running host reloaded the site" in out.err
        await until(lambda: len(host.site.devices["hcp"].zones) == 3, what="the reload by the CLI")
        for token in (import_only, both):
            assert token not in out.out + out.err
        assert_no_secret(w, out.out, out.err)
    finally:
        await sim.stop()


async def test_cli_import_says_a_reload_is_needed_when_the_broker_is_away():
    from types import SimpleNamespace

    from gemhost.cli_import import tell_running_host
    from gemhost.site import MqttConfig

    site = SimpleNamespace(id="away", mqtt=MqttConfig(broker=f"mqtt://127.0.0.1:{closed_port()}"))
    line = await tell_running_host(site)
    assert line.startswith("site file updated; a running host needs a reload")
    assert "broker is not reachable" in line and "\n" not in line


# ------------------------------------------------------------------ (4) sync_cameras


async def test_sync_after_add_remove_rename_then_import_new(e2e, hcp_sim, tmp_path):
    site = write_site(tmp_path, site_text(e2e.broker, hcp_sim.url))
    host, w = await e2e(site)

    since = len(w.messages)
    everything = await ok(w, "import_cameras", {"cameras": ["new"]})
    assert everything["count"] == CAMERAS
    await back_online(w, since)
    zones = load_site(site, host.schemas).devices["hcp"].zones
    zone_of = {z.attributes["camera"]: z.id for z in zones.values()}
    assert set(zone_of) == set(hcp_sim.cameras)
    assert (await ok(w, "sync_cameras"))["counts"] == {"new": 0, "missing": 0, "renamed": 0}

    gone_code, renamed_code = "20", "21"
    gone_name, old_name = hcp_sim.cameras[gone_code].name, hcp_sim.cameras[renamed_code].name
    await w.wait_json(f"{B}/hcp/{zone_of[gone_code]}/state", zone_ready(hcp_sim, gone_code), timeout=30)
    added = hcp_sim.add_camera("Loading Bay", online=True)
    hcp_sim.remove_camera(gone_code)
    hcp_sim.rename_camera(renamed_code, "Lobby East")

    report = await ok(w, "sync_cameras")
    assert report["counts"] == {"new": 1, "missing": 1, "renamed": 1}
    assert [(c["code"], c["name"], c["imported"]) for c in report["new"]] == [(added, "Loading Bay", False)]
    assert report["missing"] == [{"zone": zone_of[gone_code], "code": gone_code, "name": gone_name}]
    assert report["renamed"] == [{"zone": zone_of[renamed_code], "code": renamed_code, "old_name": old_name,
                                  "new_name": "Lobby East"}]
    missing = await w.wait_json(f"{B}/hcp/{zone_of[gone_code]}/state", lambda d: d.get("missing") is True)
    assert missing["online"] is False and missing["source"] == "hikcentral"
    await w.wait_json(f"{B}/hcp/{zone_of[renamed_code]}/state", lambda d: d.get("name") == "Lobby East")
    assert f"camera: '{gone_code}'" in site.read_text()  # never deleted from the file
    assert zone_of[gone_code] in load_site(site, host.schemas).devices["hcp"].zones

    # "new" means new since the last import or sync: the sync above already saw Loading Bay,
    # so import what it reported by code
    assert await ok(w, "import_cameras", {"cameras": ["new"]}) == {"imported": [], "count": 0}
    since = len(w.messages)
    new = await ok(w, "import_cameras", {"cameras": [c["code"] for c in report["new"]]})
    assert new["count"] == 1 and new["imported"] == ["loading_bay"]
    await back_online(w, since)
    zones = load_site(site, host.schemas).devices["hcp"].zones
    assert len(zones) == CAMERAS + 1 and zones["loading_bay"].attributes["camera"] == added
    assert zone_of[gone_code] in zones
    state = await w.wait_json(f"{B}/hcp/loading_bay/state", zone_ready(hcp_sim, added), timeout=30)
    assert state["name"] == "Loading Bay"
    assert_stream_url(hcp_sim, state["stream_url"])
    # after the reload the vanished camera is still a zone, still flagged missing by the poll
    await w.wait_json(f"{B}/hcp/{zone_of[gone_code]}/state", lambda d: d.get("missing") is True
                      and d.get("online") is False)
    after = await ok(w, "sync_cameras")
    assert after["counts"] == {"new": 0, "missing": 1, "renamed": 1}
    assert_no_secret(w)


# ------------------------------------------------------------------ (5) zone removal


async def test_removing_a_zone_and_reloading_stops_publishing_it(e2e, hcp_sim, tmp_path, mqtt_broker):
    zones = [("gate", "1"), ("dock", "2"), ("roof", "3")]
    site = write_site(tmp_path, site_text(e2e.broker, hcp_sim.url, zones))
    host, w = await e2e(site)
    for zone_id, code in zones:
        await w.wait_json(f"{B}/hcp/{zone_id}/state", zone_ready(hcp_sim, code))
    before = {c.code: (c.name, c.online) for c in hcp_sim.cameras.values()}
    first_dest = next(iter(hcp_sim.subscriptions.values()))

    site.write_text(site_text(e2e.broker, hcp_sim.url, [z for z in zones if z[0] != "dock"]))
    since = len(w.messages)
    assert await ok(w, "reload", target="host") == {"ok": True, "problems": [], "restart_required": []}
    await back_online(w, since)
    cleared = await w.wait(f"{B}/hcp/dock/state", lambda m: payload_of(m) == b"")
    assert cleared is not None
    assert host.site is not None and "dock" not in host.site.devices["hcp"].zones

    # a zone-only change keeps the connection and its subscription; a push for the removed
    # camera is not published
    assert list(hcp_sim.subscriptions.values()) and set(hcp_sim.subscriptions.values()) == {first_dest}
    n_before = len(w.messages)
    assert await hcp_sim.push_event("2", "motion") == 1
    assert await hcp_sim.push_event("1", "motion") == 1
    ev = await w.wait_json(f"{B}/hcp/gate/event")
    assert ev["zone"] == "gate" and ev["data"]["camera"] == "1"
    later = w.messages[n_before:]
    # (the empty retained clears of dock's topics may still be arriving; nothing else may)
    assert not [m for m in later if m.topic.value.startswith(f"{B}/hcp/dock/") and payload_of(m) != b""]
    assert not [m for m in later if b'"camera":"2"' in payload_of(m)]
    # gate's motion clears and two more status polls go by: dock stays silent
    assert await hcp_sim.push_event("1", "motion", status=2) == 1
    await w.wait_json(f"{B}/hcp/gate/state", lambda d: d["active"] == {"motion": False})
    # a steady poll publishes nothing new, so count the polls where they happen: the version
    # call each one starts with
    def polls_seen() -> int:
        return hcp_sim.requests.count("/artemis/api/common/v1/version")
    polls = polls_seen()
    await until(lambda: polls_seen() >= polls + 2, what="two more status polls")
    assert not [m for m in w.messages[n_before:]
                if m.topic.value.startswith(f"{B}/hcp/dock/") and payload_of(m) != b""]

    # a new subscriber gets no retained state for the removed zone
    late = await MqttWatcher(mqtt_broker.port).start(f"{B}/hcp/dock/state", f"{B}/hcp/gate/state")
    try:
        await late.wait(f"{B}/hcp/gate/state")
        await late.request(f"{B}/host/cmd/list_devices", {"id": "after-subscribe"})
        assert late.on(f"{B}/hcp/dock/state") == []
    finally:
        await late.stop()

    # nothing changed in HikCentral
    assert {c.code: (c.name, c.online) for c in hcp_sim.cameras.values()} == before
    assert len(hcp_sim.cameras) == CAMERAS
    listed = await ok(w, "list_cameras", {"page_size": 1000})
    assert listed["total"] == CAMERAS
    assert next(c for c in listed["cameras"] if c["code"] == "2")["imported"] is False
    assert_no_secret(w)


# ------------------------------------------------------------------ streams, PTZ, events


async def test_stream_urls_and_ptz_with_isapi_argument_names(e2e, hcp_sim, tmp_path):
    # 1 and 6 are PTZ cameras (every 5th from 1); 2 is not
    site = write_site(tmp_path, site_text(e2e.broker, hcp_sim.url, [("mast", "1"), ("pole", "6"),
                                                                     ("wall", "2")]))
    _host, w = await e2e(site)
    assert hcp_sim.cameras["1"].ptz and hcp_sim.cameras["6"].ptz and not hcp_sim.cameras["2"].ptz

    now = dt.datetime.now().astimezone()
    for stream in ("main", "sub"):
        for protocol in ("rtsp", "hls", "ws"):
            got = await ok(w, "get_stream_url", {"zone": "mast", "stream": stream, "protocol": protocol})
            assert got["camera"] == "1" and got["zone"] == "mast"
            assert got["stream"] == stream and got["protocol"] == protocol
            url = got["url"]
            assert_stream_url(hcp_sim, url)
            if protocol == "rtsp":
                assert url.startswith("rtsp://127.0.0.1:554/openUrl/") and url.endswith(f"stream={stream}")
            elif protocol == "hls":
                assert url.startswith(f"{hcp_sim.url}/openUrl/") and url.endswith("/live.m3u8")
            else:
                assert url.startswith("ws://127.0.0.1:559/openUrl/")
            expires = dt.datetime.fromisoformat(got["expires"])
            assert expires.tzinfo is not None and expires > now
    by_key = await ok(w, "get_stream_url", {"camera": "6"})  # the driver's zone key instead of zone
    assert by_key["zone"] == "pole" and by_key["stream"] == "main" and by_key["protocol"] == "rtsp"
    not_zone = await cmd(w, "get_stream_url", {"camera": "4"})
    assert not_zone["ok"] is False and not_zone["error"]["code"] == "invalid_args"

    moved = await ok(w, "ptz_pan_tilt", {"zone": "mast", "pan": -40, "tilt": 25})
    assert moved["camera"] == "1" and moved["command"] == "LEFT_UP"
    ptz = hcp_sim.ptz["1"]
    assert ptz.moving == "LEFT_UP" and ptz.speed == 40
    assert ptz.history[-1] == {"cameraIndexCode": "1", "action": 0, "command": "LEFT_UP", "speed": 40}
    await ok(w, "ptz_stop", {"zone": "mast"})
    assert ptz.moving is None and ptz.history[-1]["action"] == 1

    await ok(w, "ptz_zoom", {"camera": "6", "zoom": -30})  # addressed by the zone key
    assert hcp_sim.ptz["6"].moving == "ZOOM_OUT" and hcp_sim.ptz["6"].speed == 30
    await ok(w, "ptz_zoom", {"camera": "6", "zoom": 0})  # zero means stop, as on ISAPI
    assert hcp_sim.ptz["6"].moving is None

    await ok(w, "ptz_preset", {"zone": "mast", "preset": 7})
    assert ptz.preset == 7 and ptz.history[-1]["command"] == "GOTO_PRESET"

    timed = await ok(w, "ptz_pan_tilt", {"zone": "mast", "pan": 60, "tilt": 0, "duration": 200})
    assert timed["command"] == "RIGHT" and timed["duration"] == 200
    assert ptz.moving == "RIGHT"
    await until(lambda: ptz.moving is None, what="the driver's stop after duration")
    assert ptz.history[-1] == {"cameraIndexCode": "1", "action": 1, "command": "RIGHT", "speed": 50}

    no_ptz = await cmd(w, "ptz_pan_tilt", {"zone": "wall", "pan": 10, "tilt": 0})
    assert no_ptz["ok"] is False and no_ptz["error"]["code"] == "device_error"
    assert "PTZ" in no_ptz["error"]["message"] and "2" not in hcp_sim.ptz
    out_of_range = await cmd(w, "ptz_pan_tilt", {"zone": "mast", "pan": 101, "tilt": 0})
    assert out_of_range["ok"] is False and out_of_range["error"]["code"] == "invalid_args"
    assert_no_secret(w)


async def test_pushed_events_lifetime_through_the_broker_and_unsubscribed_on_stop(e2e, hcp_sim, tmp_path):
    """Issue 12 item 6 with the core's event lifetime (issue 9): a camera's motion started with
    status 1 ends by the device (status 2); status 3/4/5 are published as updates of it; an
    instantaneous status 0 ends by the host's pulse hold; one active and one inactive each."""
    site = write_site(tmp_path, site_text(e2e.broker, hcp_sim.url, [("gate", "1"), ("dock", "7")]))
    host, w = await e2e(site)
    await until(lambda: len(hcp_sim.subscriptions) == 7, what="the event subscription")
    dest = set(hcp_sim.subscriptions.values())
    assert len(dest) == 1 and next(iter(dest)).startswith("http://127.0.0.1:")
    topic = f"{B}/hcp/gate/event"

    def events(**match: Any) -> list[dict[str, Any]]:
        out = [json.loads(m.payload) for m in w.on(topic)]
        return [e for e in out if all(e.get(k) == v for k, v in match.items())]

    # not imported first: when the imported camera's event is out, the other would be too
    assert await hcp_sim.push_event("5", "motion") == 1
    started: dict[str, str] = {}
    for kind, vendor in (("motion", "VMD"), ("line_crossing", "linedetection"), ("video_loss", "videoloss")):
        assert await hcp_sim.push_event("1", kind, status=1) == 1
        started[kind] = hcp_sim.last_event_id
        ev = await w.wait_json(topic, lambda d, k=kind: d["type"] == k and d["state"] == "active")
        assert ev["vendor_type"] == vendor and ev["kind"] == "stateful" and ev["id"] == started[kind]
        assert ev["device"] == "hcp" and ev["zone"] == "gate" and ev["channel"] is None and ev["event_id"]
        assert ev["data"]["camera"] == "1" and ev["data"]["camera_name"] == hcp_sim.cameras["1"].name
        assert ev["data"]["status"] == 1 and dt.datetime.fromisoformat(ev["time"]).tzinfo is not None
        msg = next(m for m in w.on(topic) if json.loads(m.payload)["event_id"] == ev["event_id"])
        assert msg.qos == 1 and not msg.retain
    await w.wait_json(f"{B}/hcp/gate/state", lambda d: d["active"] == {"motion": True, "line_crossing": True,
                                                                       "video_loss": True})
    assert not [m for m in w.messages if b'"camera":"5"' in payload_of(m)]
    assert not w.on(f"{B}/hcp/event")
    motion = events(type="motion", state="active")[0]

    # status 1 again (HikCentral repeats a start): silent; 3 pulse repeat, 4 linkage, 5 picture: updates
    assert await hcp_sim.push_event("1", "motion", status=1, event_id=started["motion"]) == 1
    for status in (3, 4, 5):
        assert await hcp_sim.push_event("1", "motion", status=status, event_id=started["motion"]) == 1
        update = await w.wait_json(topic, lambda d, s=status: d["state"] == "update" and d["data"]["status"] == s)
        assert update["event_id"] == motion["event_id"] and update["refers_to"] == started["motion"]
        assert update["type"] == "motion" and update["kind"] == "stateful"
    assert update["data"]["detail"]["picUrl"].endswith(f"/pic/{started['motion']}.jpg")  # status 5

    # status 2: the device ends it
    assert await hcp_sim.push_event("1", "motion", status=2, event_id=started["motion"]) == 1
    stop = await w.wait_json(topic, lambda d: d["type"] == "motion" and d["state"] == "inactive")
    assert stop["ended_by"] == "device" and stop["event_id"] == motion["event_id"] and stop["kind"] == "stateful"
    state = await w.wait_json(f"{B}/hcp/gate/state", lambda d: d["active"].get("motion") is False)
    assert state["active"]["line_crossing"] is True and state["source"] == "hikcentral"
    assert len(events(type="motion", state="active")) == 1 and len(events(type="motion", state="inactive")) == 1
    assert len(events(type="motion", state="update")) == 3

    # status 0 (an offline camera still pushes): a pulse, ended by the host's pulse hold
    dock_topic = f"{B}/hcp/dock/event"
    assert await hcp_sim.push_event("7", "intrusion", status=0) == 1
    pulse = await w.wait_json(dock_topic, lambda d: d["state"] == "active")
    assert pulse["type"] == "intrusion" and pulse["vendor_type"] == "fielddetection" and pulse["kind"] == "pulse"
    held = await w.wait_json(dock_topic, lambda d: d["state"] == "inactive", timeout=20)
    assert held["ended_by"] == "pulse" and held["event_id"] == pulse["event_id"]
    await w.wait_json(f"{B}/hcp/dock/state", lambda d: d["active"] == {"intrusion": False})

    # stopping ends what is still open, then unsubscribes
    await host.stop()
    ends = {e["type"]: e for e in events(state="inactive")}
    assert ends["line_crossing"]["ended_by"] == ends["video_loss"]["ended_by"] == "stop"
    assert all(len(events(type=t, state="inactive")) == 1 for t in started)
    assert hcp_sim.subscriptions == {}
    assert await hcp_sim.push_event("1", "motion") == 0
    await w.wait(f"{B}/hcp/availability", lambda m: m.payload == b"offline")
    assert_no_secret(w)


async def test_snapshot_over_mqtt_lands_on_the_zone_snapshot_topic(e2e, hcp_sim, tmp_path):
    """Issue 12 item 11: HikCentral zones take a snapshot through HCP's capture API, so the
    image entity Home Assistant discovers for them gets a picture."""
    import base64

    site = write_site(tmp_path, site_text(e2e.broker, hcp_sim.url, [("gate", "1"), ("dark", "7")]))
    _host, w = await e2e(site)
    shot = await ok(w, "snapshot", {"zone": "gate"})
    assert shot["content_type"] == "image/jpeg" and shot["camera"] == "1"
    retained = await w.wait(f"{B}/hcp/gate/snapshot")
    picture = base64.b64decode(payload_of(retained))
    assert picture[:2] == b"\xff\xd8" and b"hcp camera 1 capture" in picture
    offline = await cmd(w, "snapshot", {"camera": "7"})
    assert offline["ok"] is False and offline["error"]["code"] == "device_error"
    assert "camera 7 is offline" in offline["error"]["message"]
    assert_no_secret(w)


# ------------------------------------------------------------------ the done-when


def sample_copy(tmp_path: Path, broker: Any) -> tuple[Path, dict[int, int]]:
    """sample_site.yaml + secrets.yaml copied to tmp_path, with the mqtt block pointed at the
    test broker and every simulator (and the device addressing it) moved to a free port."""
    folder = tmp_path / "sample"
    folder.mkdir()
    shutil.copy(REPO / "secrets.yaml", folder / "secrets.yaml")
    text = (REPO / "sample_site.yaml").read_text()
    ports = {int(p) for p in re.findall(r"^\s+port: (\d+)", text.split("devices:")[0].split("simulators:")[1],
                                        re.M)}
    assert ports == {18081, 18082, 18443, 18090}, ports
    moved = {old: free_port() for old in ports}
    for old, new in moved.items():
        text, n = re.subn(rf"\b{old}\b", str(new), text)
        assert n >= 2, old  # the simulator and the device that talks to it
    # The HPP simulator's stop waits for its open long-poll (20 s by default) to finish; a short
    # long poll keeps this test fast without changing what the HikCentral part exercises.
    text, n = re.subn(r"(options: \{key: sample-hpp-key-0123456789)", r"\1, long_poll: 0.5", text)
    assert n == 1
    mqtt = re.search(r"^mqtt:\n(?:[ #].*\n|\n)*?(?=^\S)", text, re.M)
    assert mqtt is not None
    text = text.replace(mqtt.group(0), f'mqtt:\n  broker: "{broker.url}"\n  protocol: "{protocol_for(broker)}"\n'
                                       "  discovery: true\n\n")
    path = folder / "sample_site.yaml"
    path.write_text(text)
    return path, moved


async def test_sample_site_copy_import_new_then_run(e2e, tmp_path, capsys):
    repo_site, repo_secrets = (REPO / "sample_site.yaml").read_bytes(), (REPO / "secrets.yaml").read_bytes()
    site, moved = sample_copy(tmp_path, e2e.broker)
    original = site.read_text()

    capsys.readouterr()
    assert await run_cli(["import", str(site), "hcp", "--new"]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert report["count"] == 12 and len(report["imported"]) == 12  # the first --new: everything
    assert "12/12 cameras read from HikCentral" in out.err
    assert "no host of this site is running on its broker" in out.err  # reachable, nobody home
    assert "sample-app-secret" not in out.out + out.err

    text = site.read_text()
    for line in original.splitlines():
        if line.lstrip().startswith("#") or "!secret" in line:
            assert line in text, line
    assert list(site.parent.glob("sample_site.yaml.*.bak"))
    assert (REPO / "sample_site.yaml").read_bytes() == repo_site  # the repository's files untouched
    assert (REPO / "secrets.yaml").read_bytes() == repo_secrets

    sim_check = HikCentralSimulator(cameras=12)  # the sample's simulator: same cameras, same codes
    host, w = await e2e(site, base="gem/sample")
    sample_sims = [s for s in host.simulators if isinstance(s, HikCentralSimulator)]
    assert [s.port for s in sample_sims] == [moved[18443]]
    sample_sim = sample_sims[0]
    zones = host.site.devices["hcp"].zones
    assert len(zones) == 12
    assert {z.attributes["camera"] for z in zones.values()} == set(sim_check.cameras)
    for zone in zones.values():
        code = zone.attributes["camera"]
        state = await w.wait_json("gem/sample/hcp/" + zone.id + "/state", zone_ready(sample_sim, code),
                                  timeout=30)
        assert state["name"] == sample_sim.cameras[code].name
        assert_stream_url(sample_sim, state["stream_url"])
    online = [z for z in zones.values() if sample_sim.cameras[z.attributes["camera"]].online]
    assert 0 < len(online) < 12  # the sample has offline cameras too (every 7th)
    assert b"sample-app-secret" not in all_payloads(w)
