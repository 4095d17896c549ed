"""End to end, Hikvision ISAPI: IsapiSimulator (camera and NVR) -> real Host -> real broker
(amqtt and mosquitto, the ``mqtt_broker`` fixture) -> a real MQTT client (MqttWatcher).

Nothing is mocked: each simulator is an aiohttp server on a free loopback port, the host is
``gemhost.host.Host`` on a site file written to tmp_path (password via ``!secret``), and every
command goes over MQTT and is checked against the simulator's inspectable state.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import sys
import textwrap
from pathlib import Path

import pytest
from gemhost_drivers.hikvision_isapi.simulator import IsapiSimulator

from gemhost.host import Host
from gemhost.testing import MqttWatcher, until

B = "gem/e2e"
PW = "s3cret-Cam-Pass"
VIEWER_PW = "v1ewer-Pass"
CAPTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "isapi-captures"


def device_yaml(dev_id: str, sim: IsapiSimulator, zones: dict[str, dict] | None = None, *,
                username: str = "admin", secret: str = "cam_password", **attrs) -> str:
    attributes = {"ip": "127.0.0.1", "port": sim.port, "username": username, "status_interval": 1000,
                  "timeout": 2, **attrs}
    attr_text = ", ".join(f"{k}: {json.dumps(v)}" for k, v in attributes.items())
    text = (f"  - id: {dev_id}\n    driver: hikvision_isapi\n"
            f"    attributes: {{{attr_text}, password: !secret {secret}}}")
    if zones:
        text += "\n    zones:\n" + "\n".join(
            f"      - {{id: {zid}, attributes: {json.dumps(za)}}}" for zid, za in zones.items())
    return text + "\n"


def write_site(tmp_path: Path, broker, devices: str, *, secrets: dict[str, str] | None = None,
               pulse_hold: float = 5.0, discovery: bool = False) -> Path:
    protocol = "3.1.1" if broker.kind == "amqtt" else "auto"
    site = tmp_path / "site.yaml"
    site.write_text(textwrap.dedent(f"""\
        site: {{id: e2e, name: ISAPI end to end}}
        mqtt: {{broker: "{broker.url}", protocol: "{protocol}", keepalive: 5, max_payload: 262144,
                discovery: {json.dumps(discovery)}}}
        host: {{command_timeout: 5, command_concurrency: 4, shutdown_timeout: 2, pulse_hold: {pulse_hold}}}
        devices:
        """) + devices)
    (tmp_path / "secrets.yaml").write_text(
        "".join(f"{k}: {json.dumps(v)}\n" for k, v in (secrets or {"cam_password": PW}).items()))
    return site


@pytest.fixture
async def sims():
    made: list[IsapiSimulator] = []

    async def make(**kw) -> IsapiSimulator:
        kw.setdefault("password", PW)
        sim = IsapiSimulator(**kw)
        await sim.start()
        made.append(sim)
        return sim

    yield make
    for sim in made:
        await sim.stop()


@pytest.fixture
async def run_host(tmp_path, monkeypatch):
    """Starts a Host on a site file and an MqttWatcher on ``gem/e2e/#``; stops both after."""
    monkeypatch.setenv("GEMHOST_STATE_DIR", str(tmp_path / "state"))
    started: list[tuple[Host, MqttWatcher]] = []

    async def make(site: Path, port: int) -> tuple[Host, MqttWatcher]:
        watcher = await MqttWatcher(port).start(f"{B}/#")
        host = Host(site)
        started.append((host, watcher))
        await host.start()
        await asyncio.wait_for(host.bridge.connected.wait(), 10)
        return host, watcher

    yield make
    for host, watcher in started:
        if not host.stopped.is_set():
            await host.stop()
        await watcher.stop()


def payloads(w: MqttWatcher) -> list[bytes]:
    return [m.payload if isinstance(m.payload, bytes) else str(m.payload).encode() for m in w.messages]


class Cmd:
    """Sends commands over MQTT with fresh ids."""

    def __init__(self, w: MqttWatcher) -> None:
        self.w = w
        self.n = 0

    async def __call__(self, device: str, command: str, args: dict | None = None) -> dict:
        self.n += 1
        body: dict = {"id": f"r{self.n}"}
        if args is not None:
            body["args"] = args
        reply = await self.w.request(f"{B}/{device}/cmd/{command}", body, timeout=15)
        assert reply["id"] == f"r{self.n}"
        return reply

    async def ok(self, device: str, command: str, args: dict | None = None):
        reply = await self(device, command, args)
        assert reply["ok"] is True, reply
        return reply["result"]

    async def err(self, device: str, command: str, args: dict | None = None) -> dict:
        reply = await self(device, command, args)
        assert reply["ok"] is False, reply
        return reply["error"]


# ---------------------------------------------------------------- every command


async def test_every_command_over_mqtt(mqtt_broker, tmp_path, sims, run_host, caplog):
    caplog.set_level(logging.DEBUG)
    cam = await sims(kind="camera", channels=2, heartbeat=1.0)
    cam.add_user("viewer", VIEWER_PW, ptz=False)
    nvr = await sims(kind="nvr", channels=4, heartbeat=1.0)
    devices = (device_yaml("cam", cam, {"front": {"address": 1}, "side": {"address": 2, "stream": "sub"}})
               + device_yaml("nvr", nvr, {"ch1": {"address": 1}, "ch2": {"address": 2}})
               + device_yaml("viewer", cam, {"vfront": {"address": 1}}, username="viewer",
                             secret="viewer_password"))
    site = write_site(tmp_path, mqtt_broker, devices,
                      secrets={"cam_password": PW, "viewer_password": VIEWER_PW})
    host, w = await run_host(site, mqtt_broker.port)
    for dev in ("cam", "nvr", "viewer"):
        await w.wait(f"{B}/{dev}/availability", lambda m: m.payload == b"online")
    state = await w.wait_json(f"{B}/cam/state", lambda d: d["online"])
    assert state["info"]["model"] == cam.model and state["info"]["serial"] == cam.serial
    assert state["info"]["manufacturer"] == "Hikvision" and state["last_error"] is None
    zone = await w.wait_json(f"{B}/cam/side/state", lambda d: "stream_url" in d)
    assert zone["stream_url"] == "rtsp://127.0.0.1:554/Streaming/Channels/202" and zone["channel_id"] == 202
    cmd = Cmd(w)

    # snapshot: a real JPEG of the zone's stream (front = main 101, side = sub 202)
    for zone_id, sid in (("front", 101), ("side", 202)):
        snap = await cmd.ok("cam", "snapshot", {"zone": zone_id})
        jpeg = base64.b64decode(snap["base64"])
        assert snap["content_type"] == "image/jpeg"
        assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
        assert f"stream {sid}".encode() in jpeg
    retained = await w.wait(f"{B}/cam/side/snapshot")
    assert b"stream 202" in base64.b64decode(retained.payload)
    snap = await cmd.ok("nvr", "snapshot", {"address": 2})
    assert b"stream 201" in base64.b64decode(snap["base64"])

    # continuous pan/tilt with a duration: the simulator sees the move, then the driver's stop
    res = await cmd.ok("cam", "ptz_pan_tilt", {"zone": "front", "pan": 40, "tilt": -20, "duration": 300})
    assert res == {"channel": 1, "pan": 40, "tilt": -20, "stop_after_ms": 300}
    assert ("continuous", 40, -20, 0) in cam.ptz[1]["history"]
    await until(lambda: cam.ptz[1]["history"][-1] == ("continuous", 0, 0, 0))
    assert cam.ptz[1]["moving"] is False and cam.ptz[1]["pan"] == 0
    hist = cam.ptz[1]["history"]
    assert hist.index(("continuous", 40, -20, 0)) < len(hist) - 1

    # zoom with a duration on channel 2 (by address)
    res = await cmd.ok("cam", "ptz_zoom", {"address": 2, "zoom": -60, "duration": 250})
    assert res["channel"] == 2 and res["zoom"] == -60
    assert ("continuous", 0, 0, -60) in cam.ptz[2]["history"]
    await until(lambda: cam.ptz[2]["history"][-1] == ("continuous", 0, 0, 0))
    assert cam.ptz[2]["moving"] is False

    # move without duration keeps moving until ptz_stop
    await cmd.ok("cam", "ptz_pan_tilt", {"zone": "front", "pan": -15, "tilt": 10})
    assert cam.ptz[1]["moving"] is True and (cam.ptz[1]["pan"], cam.ptz[1]["tilt"]) == (-15, 10)
    assert await cmd.ok("cam", "ptz_stop", {"zone": "front"}) == {"channel": 1, "stopped": True}
    assert cam.ptz[1]["moving"] is False and cam.ptz[1]["history"][-1] == ("continuous", 0, 0, 0)

    assert await cmd.ok("cam", "ptz_preset", {"zone": "front", "preset": 7}) == {"channel": 1, "preset": 7}
    assert cam.ptz[1]["preset"] == 7 and cam.ptz[1]["history"][-1] == ("preset", 7)

    before = list(cam.ptz[1]["position"])
    res = await cmd.ok("cam", "ptz_relative", {"zone": "front", "pan": 12, "tilt": -5, "zoom": 3})
    assert res == {"channel": 1, "pan": 12, "tilt": -5, "zoom": 3}
    assert cam.ptz[1]["position"] == [before[0] + 12, before[1] - 5, before[2] + 3]
    await cmd.ok("cam", "ptz_relative", {"zone": "front", "pan": 1})
    assert cam.ptz[1]["position"] == [before[0] + 13, before[1] - 5, before[2] + 3]

    # get_channels: NVR InputProxy list with online flags, camera streaming channels
    chans = await cmd.ok("nvr", "get_channels")
    assert chans["source"] == "input_proxy"
    assert [c["channel"] for c in chans["channels"]] == [1, 2, 3, 4]
    assert all(c["online"] is True for c in chans["channels"])
    chans = await cmd.ok("cam", "get_channels")
    assert chans["source"] == "streaming" and [c["channel"] for c in chans["channels"]] == [1, 2]

    info = await cmd.ok("nvr", "get_device_info")
    assert info["model"] == nvr.model and info["serial"] == nvr.serial and info["device_type"] == "NVR"
    assert f"<model>{nvr.model}</model>" in info["raw_xml"]

    # outputs: on (level high), off (low), pulse (high now, low after the pulse)
    assert await cmd.ok("cam", "set_output", {"output": 1, "state": "on"}) == {"output": 1, "state": "on"}
    assert cam.outputs[1] == "high" and cam.output_log[-1] == (1, "high")
    await cmd.ok("cam", "set_output", {"output": 1, "state": "off"})
    assert cam.outputs[1] == "low" and cam.output_log[-1] == (1, "low")
    res = await cmd.ok("cam", "set_output", {"output": 2, "pulse": 200})
    assert res == {"output": 2, "pulse": 200, "state": "on"}
    assert cam.output_log[-1] == (2, "high")
    await until(lambda: cam.output_log[-1] == (2, "low"))
    assert cam.outputs[2] == "low"
    assert (await cmd.err("cam", "set_output", {"output": 1}))["code"] == "invalid_args"
    assert cam.output_log[-1] == (2, "low")

    # error replies
    moves = len(cam.ptz[1]["history"])
    err = await cmd.err("viewer", "ptz_pan_tilt", {"zone": "vfront", "pan": 10, "tilt": 0})
    assert err["code"] == "device_error" and "lacks PTZ permission on channel 1" in err["message"]
    assert "noPermission" in err["message"]
    assert len(cam.ptz[1]["history"]) == moves
    err = await cmd.err("cam", "snapshot", {"address": 9})
    assert err["code"] == "device_error" and "get_channels" in err["message"] and "channel 9" in err["message"]
    err = await cmd.err("cam", "ptz_pan_tilt", {"zone": "front", "pan": 150, "tilt": 0})
    assert err["code"] == "invalid_args" and "pan" in err["message"]
    assert len(cam.ptz[1]["history"]) == moves

    # the passwords never left the host
    for secret in (PW, VIEWER_PW):
        assert not any(secret.encode() in p for p in payloads(w))
        assert secret not in caplog.text
    assert host.runners["cam"].state.online


# ---------------------------------------------------------------- liveness


async def test_liveness_down_and_up(mqtt_broker, tmp_path, sims, run_host):
    cam = await sims(kind="camera", heartbeat=1.0)
    site = write_site(tmp_path, mqtt_broker, device_yaml("cam", cam, {"front": {"address": 1}}))
    host, w = await run_host(site, mqtt_broker.port)
    await w.wait(f"{B}/cam/availability", lambda m: m.payload == b"online")
    await until(lambda: cam.open_streams == 1)
    online_states = len(w.on(f"{B}/cam/availability"))

    await cam.stop()  # the camera goes away: connection refused
    down = await w.wait_json(f"{B}/cam/state", lambda d: d["status"] == "offline", timeout=15)
    assert down["online"] is False and f"127.0.0.1:{cam.port}" in down["last_error"]
    await w.wait(f"{B}/cam/availability", lambda m: m.payload == b"offline")

    await cam.start()  # same port again
    seen = len(w.messages)
    await w.wait(f"{B}/cam/availability",
                 lambda m: m.payload == b"online" and w.messages.index(m) >= seen, timeout=15)
    up = await w.wait_json(f"{B}/cam/state",
                           lambda d: d["online"] and d["last_error"] is None and d["since"] > down["since"])
    assert up["status"] == "online" and up["info"]["serial"] == cam.serial
    assert len(w.on(f"{B}/cam/availability")) > online_states
    await until(lambda: cam.open_streams == 1, timeout=15)  # the event stream came back too
    assert (await Cmd(w).ok("cam", "get_device_info"))["serial"] == cam.serial


async def test_no_answer_device_goes_offline_other_stays_online(mqtt_broker, tmp_path, sims, run_host):
    dead = await sims(kind="camera", heartbeat=0.5)
    alive = await sims(kind="nvr", channels=2, heartbeat=0.5)
    site = write_site(tmp_path, mqtt_broker, device_yaml("dead", dead, timeout=1)
                      + device_yaml("alive", alive, {"ch1": {"address": 1}}, timeout=1))
    host, w = await run_host(site, mqtt_broker.port)
    for dev in ("dead", "alive"):
        await w.wait(f"{B}/{dev}/availability", lambda m: m.payload == b"online")

    dead.set_fault("no_answer")
    down = await w.wait_json(f"{B}/dead/state", lambda d: d["status"] == "offline", timeout=15)
    assert "no answer" in down["last_error"] and "within 1 s" in down["last_error"]
    cmd = Cmd(w)
    err = await cmd.err("dead", "get_device_info")
    assert err["code"] == "device_offline" and "no answer" in err["message"]
    # the other device on the same host keeps serving, and stays online through its polls
    polls = alive.requests.count(("GET", "/ISAPI/System/deviceInfo", "Digest"))
    info = await cmd.ok("alive", "get_device_info")
    assert info["serial"] == alive.serial
    await until(lambda: alive.requests.count(("GET", "/ISAPI/System/deviceInfo", "Digest")) >= polls + 2)
    assert host.runners["alive"].state.online
    assert w.on(f"{B}/alive/availability")[-1].payload == b"online"
    assert not [m for m in w.on(f"{B}/alive/state") if not json.loads(m.payload)["online"]
                and json.loads(m.payload)["status"] != "connecting"]

    dead.set_fault("none")
    await w.wait_json(f"{B}/dead/state", lambda d: d["online"], timeout=15)


async def test_wrong_password_stops_after_two_logins(mqtt_broker, tmp_path, sims, run_host, caplog):
    caplog.set_level(logging.DEBUG)
    cam = await sims(kind="camera")
    site = write_site(tmp_path, mqtt_broker, device_yaml("cam", cam),
                      secrets={"cam_password": "not-the-Password-9"})
    host, w = await run_host(site, mqtt_broker.port)
    state = await w.wait_json(f"{B}/cam/state", lambda d: d["status"] == "auth_failed", timeout=15)
    assert state["online"] is False and "401" in state["last_error"]
    assert "not retried" in state["last_error"]
    assert cam.auth.failed_logins_total == 2 and cam.auth.locked is False
    await w.wait(f"{B}/cam/availability", lambda m: m.payload == b"offline")
    # several status intervals later: still exactly two failed logins, nothing else tried
    requests = len(cam.requests)
    await asyncio.sleep(2.5)
    assert cam.auth.failed_logins_total == 2 and not cam.auth.locked
    assert len(cam.requests) == requests and cam.stream_connects == 0
    assert host.runners["cam"].state.status == "auth_failed"
    assert not any(b"not-the-Password-9" in p for p in payloads(w))
    assert "not-the-Password-9" not in caplog.text


# ---------------------------------------------------------------- events


async def test_event_start_repeat_quiet_end_and_heartbeat(mqtt_broker, tmp_path, sims, run_host):
    nvr = await sims(kind="nvr", channels=2, heartbeat=0.2)
    site = write_site(tmp_path, mqtt_broker, device_yaml(
        "nvr", nvr, {"drive": {"address": 1}, "yard": {"address": 2}},
        event_quiet_time=600, stream_stall_timeout=2000))
    host, w = await run_host(site, mqtt_broker.port)
    await w.wait_json(f"{B}/nvr/state", lambda d: d["info"].get("event_stream") == "connected")
    await until(lambda: nvr.open_streams == 1)

    nvr.trigger_event(2, "VMD", repeat=4, interval=0.15)  # an NVR names channel 2 in channelID and dynChannelID
    on = await w.wait_json(f"{B}/nvr/yard/state", lambda d: d["active"].get("motion") is True)
    assert on["name"] == "yard"
    first = await w.wait_json(f"{B}/nvr/yard/event")
    assert (first["type"], first["vendor_type"], first["state"]) == ("motion", "VMD", "active")
    assert (first["device"], first["zone"], first["channel"]) == ("nvr", "yard", 2)
    end = await w.wait_json(f"{B}/nvr/yard/event", lambda d: d["state"] == "inactive", timeout=10)
    assert end["ended_by"] == "quiet_time" and end["repeats"] == 3
    off = await w.wait_json(f"{B}/nvr/yard/state", lambda d: d["active"].get("motion") is False)
    assert off["active"] == {"motion": False}
    events = [json.loads(m.payload) for m in w.on(f"{B}/nvr/yard/event")]
    assert [e["state"] for e in events] == ["active", "inactive"]
    assert all(m.qos == 1 and not m.retain for m in w.on(f"{B}/nvr/yard/event"))

    # heartbeats (videoloss/inactive every 0.2 s) kept the stream alive past the stall
    # timeout, yet none was published as an event anywhere
    connects = nvr.stream_connects
    await asyncio.sleep(2.5)
    assert nvr.stream_connects == connects == 1
    all_events = [json.loads(m.payload) for m in w.messages if m.topic.value.endswith("/event")]
    assert all_events == events
    assert not w.on(f"{B}/nvr/drive/event") and not w.on(f"{B}/nvr/event")


async def test_stream_stall_reconnects_and_events_flow(mqtt_broker, tmp_path, sims, run_host):
    cam = await sims(kind="camera", heartbeat=0.3)
    site = write_site(tmp_path, mqtt_broker, device_yaml(
        "cam", cam, {"front": {"address": 1}}, event_quiet_time=500, stream_stall_timeout=2000))
    host, w = await run_host(site, mqtt_broker.port)
    await until(lambda: cam.open_streams == 1)
    cam.trigger_event(1, "linedetection")
    await w.wait_json(f"{B}/cam/front/event", lambda d: d["type"] == "line_crossing")

    cam.set_fault("stall")
    await w.wait_json(f"{B}/cam/state", lambda d: d["info"].get("event_stream") == "reconnecting", timeout=15)
    await until(lambda: cam.stream_connects >= 2, timeout=15)
    cam.set_fault("none")
    seen = len(w.messages)
    await w.wait_json(f"{B}/cam/state", lambda d: d["info"].get("event_stream") == "connected"
                      and d["online"], timeout=15)
    await until(lambda: cam.open_streams >= 1)
    cam.trigger_event(1, "VMD")
    ev = await w.wait(f"{B}/cam/front/event", lambda m: json.loads(m.payload)["type"] == "motion"
                      and w.messages.index(m) >= seen, timeout=15)
    assert json.loads(ev.payload)["zone"] == "front" and json.loads(ev.payload)["state"] == "active"
    assert host.runners["cam"].state.online


async def test_captured_nvr_channel_34_lands_on_zone_two(mqtt_broker, tmp_path, sims, run_host):
    if not (CAPTURES / "devices" / "DS-7608NXI-I2.json").is_file():
        pytest.skip(f"captured DS-7608NXI-I2 not found under {CAPTURES}")
    nvr = await sims(fixture="DS-7608NXI-I2", fixtures_dir=CAPTURES, heartbeat=0.5)
    zones = {f"cam{n}": {"address": n} for n in (1, 2, 3, 4)}
    site = write_site(tmp_path, mqtt_broker, device_yaml("nvr", nvr, zones))
    host, w = await run_host(site, mqtt_broker.port)
    state = await w.wait_json(f"{B}/nvr/state", lambda d: d["online"])
    assert state["info"]["model"] == nvr.model and nvr.model.startswith("DS-7608NXI-I2")
    await until(lambda: nvr.open_streams == 1)
    alert = (CAPTURES / "events" / "nvr_2_fielddetection.xml").read_bytes()
    assert b"<channelID>34</channelID>" in alert
    nvr.push_part(alert)
    ev = await w.wait_json(f"{B}/nvr/cam2/event")
    assert (ev["type"], ev["vendor_type"], ev["zone"], ev["channel"]) == ("intrusion", "fielddetection", "cam2", 2)
    await w.wait_json(f"{B}/nvr/cam2/state", lambda d: d["active"].get("intrusion") is True)
    assert not w.on(f"{B}/nvr/event") and not w.on(f"{B}/nvr/cam1/event")


# ---------------------------------------------------------------- gemhost call


async def test_gemhost_call_get_channels(tmp_path, sims, monkeypatch):
    nvr = await sims(kind="nvr", channels=3)

    class NoBroker:
        kind, url = "amqtt", "mqtt://127.0.0.1:9"  # never used: `call` runs without MQTT

    site = write_site(tmp_path, NoBroker, device_yaml("nvr", nvr))
    env = {**os.environ, "GEMHOST_STATE_DIR": str(tmp_path / "state")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gemhost.cli", "call", str(site), "nvr", "get_channels",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    result = json.loads(out)
    assert result["source"] == "input_proxy"
    assert [c["channel"] for c in result["channels"]] == [1, 2, 3]
    assert [c["name"] for c in result["channels"]] == ["Camera 01", "Camera 02", "Camera 03"]
    assert ("GET", "/ISAPI/ContentMgmt/InputProxy/channels", "Digest") in nvr.requests
    assert PW not in out.decode() + err.decode()


# ---------------------------------------------------------------- event lifetime (issue 9)


def zone_events(w: MqttWatcher, device: str, zone: str) -> list[dict]:
    return [json.loads(m.payload) for m in w.on(f"{B}/{device}/{zone}/event")]


def one_start_one_end_each(events: list[dict]) -> dict[str, list[str]]:
    """event_id -> its states; asserts every condition has exactly one active and one inactive."""
    by_id: dict[str, list[str]] = {}
    for e in events:
        by_id.setdefault(e["event_id"], []).append(e["state"])
    assert all(states == ["active", "inactive"] for states in by_id.values()), by_id
    return by_id


async def test_every_route_to_inactive_through_a_real_broker(mqtt_broker, tmp_path, sims, run_host):
    """A start, then the zone goes inactive by device end, quiet time, device offline, reload
    and stop, each with exactly one active and one inactive event per condition."""
    cam = await sims(kind="nvr", channels=3, heartbeat=0.3)
    zones = {"a": {"address": 1}, "b": {"address": 2}, "c": {"address": 3}}
    site = write_site(tmp_path, mqtt_broker, device_yaml("cam", cam, zones, event_quiet_time=60000))
    host, w = await run_host(site, mqtt_broker.port)
    await until(lambda: cam.open_streams == 1)

    # device end: the quiet time (60 s) is far away, the device's inactive ends it at once
    cam.trigger_event(1, "VMD")
    await w.wait_json(f"{B}/cam/a/state", lambda d: d["active"].get("motion") is True)
    states_before = len(w.on(f"{B}/cam/a/state"))
    cam.trigger_event(1, "VMD")  # a repeat: silent, and no zone-state publication
    cam.trigger_event(1, "VMD", state="inactive")
    end = await w.wait_json(f"{B}/cam/a/event", lambda d: d["state"] == "inactive")
    assert end["ended_by"] == "device" and end["repeats"] == 1 and end["kind"] == "repeating"
    await w.wait_json(f"{B}/cam/a/state", lambda d: d["active"].get("motion") is False)
    assert len(w.on(f"{B}/cam/a/state")) == states_before + 1  # only the end changed the zone

    # reload: zone b is removed from the site while its motion is open
    cam.trigger_event(2, "VMD")
    await w.wait_json(f"{B}/cam/b/event", lambda d: d["state"] == "active")
    site.write_text(site.read_text().replace('      - {id: b, attributes: {"address": 2}}\n', ""))
    assert await host.reload() == []
    end = await w.wait_json(f"{B}/cam/b/event", lambda d: d["state"] == "inactive")
    assert end["ended_by"] == "reload"

    # offline: the device stops answering while zone c's motion is open
    cam.trigger_event(3, "VMD")
    await w.wait_json(f"{B}/cam/c/event", lambda d: d["state"] == "active")
    cam.set_fault("no_answer")
    end = await w.wait_json(f"{B}/cam/c/event", lambda d: d["state"] == "inactive", timeout=20)
    assert end["ended_by"] == "offline"
    await w.wait_json(f"{B}/cam/c/state", lambda d: d["active"].get("motion") is False)
    cam.set_fault("none")
    await w.wait_json(f"{B}/cam/state", lambda d: d["online"], timeout=20)
    await until(lambda: cam.open_streams >= 1, timeout=20)

    # stop: gemhost stops while zone a's motion is open
    seen = len(zone_events(w, "cam", "a"))
    cam.trigger_event(1, "VMD")
    await w.wait_json(f"{B}/cam/a/event", lambda d: d["state"] == "active"
                      and len(zone_events(w, "cam", "a")) > seen)
    await host.stop()
    end = await w.wait_json(f"{B}/cam/a/event", lambda d: d.get("ended_by") == "stop")
    assert end["state"] == "inactive"

    for zone in ("a", "b", "c"):
        one_start_one_end_each(zone_events(w, "cam", zone))
    assert len(one_start_one_end_each(zone_events(w, "cam", "a"))) == 2


async def test_zone_state_has_no_activity_field_outside_active(mqtt_broker, tmp_path, sims, run_host):
    cam = await sims(kind="camera", heartbeat=0.3)
    site = write_site(tmp_path, mqtt_broker, device_yaml("cam", cam, {"front": {"address": 1}},
                                                         event_quiet_time=500))
    host, w = await run_host(site, mqtt_broker.port)
    await until(lambda: cam.open_streams == 1)
    cam.trigger_event(1, "VMD")
    cam.trigger_event(1, "linedetection")
    await w.wait_json(f"{B}/cam/front/state", lambda d: d["active"] == {"motion": False, "line_crossing": False},
                      timeout=10)
    for message in w.on(f"{B}/cam/front/state"):
        state = json.loads(message.payload)
        assert not {"motion", "line_crossing", "intrusion"} & set(state), state


# ---------------------------------------------------------------- real firmware streams (issue 10)


async def test_hundred_line_crossings_are_hundred_conditions(mqtt_broker, tmp_path, sims, run_host):
    """Each crossing as real firmware sends it (region-1 active parts, a regionless inactive
    part) is one condition on the bus: 100 crossings, 100 actives, 100 device ends."""
    nvr = await sims(kind="nvr", channels=2, heartbeat=0.5)
    site = write_site(tmp_path, mqtt_broker, device_yaml("nvr", nvr, {"yard": {"address": 2}},
                                                         event_quiet_time=60000))
    host, w = await run_host(site, mqtt_broker.port)
    await until(lambda: nvr.open_streams == 1)
    for batch in range(10):
        for _ in range(10):
            nvr.trigger_event(2, "linedetection", repeat=2, interval=0, end=True)
        await until(lambda b=batch: len(zone_events(w, "nvr", "yard")) == 20 * (b + 1), timeout=20)
    events = zone_events(w, "nvr", "yard")
    assert len(one_start_one_end_each(events)) == 100
    assert {e["ended_by"] for e in events if e["state"] == "inactive"} == {"device"}
    assert all((e["type"], e["kind"], e["channel"]) == ("line_crossing", "repeating", 2) for e in events)
    await w.wait_json(f"{B}/nvr/yard/state", lambda d: d["active"] == {"line_crossing": False})


async def test_access_swipes_event_types_and_dropped_parts(mqtt_broker, tmp_path, sims, run_host):
    """Two card swipes within the quiet time are two pulse events with their serialNo and card
    data; the zone state lists the channel's event types from Event/triggers; hostile parts
    are counted in the device state and cost nothing else."""
    cam = await sims(kind="camera", heartbeat=0.3)
    site = write_site(tmp_path, mqtt_broker, device_yaml("door", cam, {"entry": {"address": 1}},
                                                         event_quiet_time=60000), pulse_hold=0.3)
    host, w = await run_host(site, mqtt_broker.port)
    state = await w.wait_json(f"{B}/door/entry/state", lambda d: "event_types" in d)
    assert {"motion", "intrusion", "line_crossing", "io", "tamper"} <= set(state["event_types"])
    device = await w.wait_json(f"{B}/door/state", lambda d: "event_types" in d["info"])
    assert "disk_full" in device["info"]["event_types"]
    await until(lambda: cam.open_streams == 1)

    cam.push_part(b"<EventNotificationAlert>" + b"<a>" * 30000 + b"</a>" * 30000 + b"</EventNotificationAlert>")
    cam.push_part(b"<EventNotificationAlert><eventType>VMD")
    cam.trigger_access("4455667788", employee_no="E-17")
    cam.trigger_access("9988776655", employee_no="E-18")
    await until(lambda: len(zone_events(w, "door", "entry")) == 4, timeout=15)
    events = zone_events(w, "door", "entry")
    one_start_one_end_each(events)
    starts = [e for e in events if e["state"] == "active"]
    assert [(e["type"], e["kind"], e["id"], e["data"]["cardNo"]) for e in starts] == [
        ("access_control", "pulse", "1001", "4455667788"), ("access_control", "pulse", "1002", "9988776655")]
    assert {e["ended_by"] for e in events if e["state"] == "inactive"} == {"pulse"}
    assert starts[0]["data"]["employeeNoString"] == "E-17" and starts[0]["data"]["majorEventType"] == 5
    counted = await w.wait_json(f"{B}/door/state", lambda d: d["info"].get("alert_parts"))
    assert counted["info"]["alert_parts"] == {"dropped": 2} and counted["online"]
    assert cam.stream_connects == 1


async def test_discovery_offers_the_triggers_sensors_before_they_fire(mqtt_broker, tmp_path, sims, run_host):
    """Home Assistant gets a binary_sensor for each event type of the channel's Event/triggers
    at once, not only after the first event of each type."""
    nvr = await sims(kind="nvr", channels=2, heartbeat=0.5)
    site = write_site(tmp_path, mqtt_broker, device_yaml("nvr", nvr, {"yard": {"address": 2}}), discovery=True)
    host, w = await run_host(site, mqtt_broker.port)
    ha = await MqttWatcher(mqtt_broker.port).start("homeassistant/#")
    try:
        config = await ha.wait_json("homeassistant/device/e2e_nvr/config",
                                    lambda d: "yard_intrusion" in d.get("cmps", {}))
    finally:
        await ha.stop()
    sensors = sorted(k for k, c in config["cmps"].items() if c["p"] == "binary_sensor")
    assert sensors == [f"yard_{t}" for t in ("intrusion", "line_crossing", "motion", "region_entrance",
                                              "region_exit", "tamper", "video_loss")]
    assert not zone_events(w, "nvr", "yard")  # nothing has fired
