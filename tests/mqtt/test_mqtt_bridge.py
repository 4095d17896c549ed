"""End-to-end tests of the MQTT contract (docs/mqtt.md) through a real broker: amqtt (MQTT
3.1.1) and mosquitto (MQTT 5), a real Host and an in-test driver."""

from __future__ import annotations

import asyncio
import base64
import json

import aiomqtt
import mqtt_helpers
import pytest
from mqtt_helpers import DEVICES, JPEG, site_for, site_yaml, zone_event
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gemhost.testing import skip_without

B = "gem/lab"


async def test_availability_state_and_events(mqtt_broker, host_factory, watcher_factory):
    host = await host_factory(site_for(mqtt_broker))
    w = await watcher_factory(mqtt_broker.port, f"{B}/#")
    await w.wait(f"{B}/host/status", lambda m: m.payload == b"online")
    await w.wait(f"{B}/cam1/availability", lambda m: m.payload == b"online")
    await w.wait(f"{B}/cam2/availability", lambda m: m.payload == b"offline")
    state = await w.wait_json(f"{B}/cam1/state", lambda d: d["online"])
    assert state["driver"] == "fakecam" and state["last_error"] is None
    assert state["info"] == {"manufacturer": "Hikvision", "model": "FC-1", "firmware": "V5.7.0",
                             "serial": "FC0001"}
    down = await w.wait_json(f"{B}/cam2/state", lambda d: d["last_error"])
    assert down["online"] is False and "connection refused" in down["last_error"]
    hs = await w.wait_json(f"{B}/host/state", lambda d: d["devices_online"] == 1)
    assert hs["devices_total"] == 2 and hs["version"] and "queue_depth" in hs and hs["dropped"] == 0
    assert any(d["name"] == "fakecam" for d in hs["loaded_drivers"])
    zone = await w.wait_json(f"{B}/cam1/door/state")
    assert zone == {"name": "Door", "active": {}}

    runner = host.runners["cam1"]
    delivered = runner.emit_event(zone_event("door", n=1))
    await asyncio.wait_for(delivered, 10)
    ev = await w.wait_json(f"{B}/cam1/door/event")
    assert ev["type"] == "motion" and ev["vendor_type"] == "VMD" and ev["state"] == "active"
    assert ev["device"] == "cam1" and ev["zone"] == "door" and ev["channel"] == 1 and ev["data"] == {"n": 1}
    assert "+" in ev["time"][19:] or "-" in ev["time"][19:]  # ISO 8601 with offset
    msg = w.on(f"{B}/cam1/door/event")[0]
    assert msg.qos == 1 and not msg.retain
    await w.wait_json(f"{B}/cam1/door/state", lambda d: d["active"] == {"motion": True})
    runner.set_zone_state("door", stream_url="rtsp://10.0.0.5:554/Streaming/Channels/101")
    await w.wait_json(f"{B}/cam1/door/state", lambda d: d.get("stream_url", "").startswith("rtsp://10."))
    await asyncio.wait_for(runner.emit_event(zone_event(None, "disk_error", n=2)), 10)
    dev_ev = await w.wait_json(f"{B}/cam1/event")
    assert dev_ev["type"] == "disk_error" and dev_ev["zone"] is None

    # a late subscriber sees the retained picture
    late = await watcher_factory(mqtt_broker.port, f"{B}/+/availability", f"{B}/host/status")
    m = await late.wait(f"{B}/cam1/availability")
    assert m.retain and m.payload == b"online"
    m = await late.wait(f"{B}/host/status")
    assert m.retain and m.payload == b"online"

    await host.stop()
    await w.wait(f"{B}/cam1/availability", lambda m: m.payload == b"offline")
    await w.wait(f"{B}/host/status", lambda m: m.payload == b"offline")


async def test_command_replies_and_error_codes(mqtt_broker, host_factory, watcher_factory):
    host = await host_factory(site_for(mqtt_broker))
    w = await watcher_factory(mqtt_broker.port, f"{B}/+/snapshot", f"{B}/cam1/+/snapshot")
    await host.bridge.connected.wait()
    cmd = f"{B}/cam1/cmd"

    ok = await w.request(f"{cmd}/echo", {"id": "r1", "args": {"text": "ab", "times": 2}})
    assert ok == {"id": "r1", "ok": True, "result": {"text": "abab"}}

    async def code(topic: str, body, req_id=None) -> dict:
        reply = await w.request(topic, body)
        assert reply["ok"] is False and reply["id"] == req_id, reply
        return reply["error"]

    assert (await code(f"{cmd}/echo", b"{not json"))["code"] == "bad_request"
    assert (await code(f"{cmd}/echo", b"[1, 2]"))["code"] == "bad_request"
    err = await code(f"{cmd}/echo", {"id": "r2", "args": "text"}, "r2")
    assert err["code"] == "bad_request" and "args" in err["message"]
    assert (await code(f"{cmd}/echo", {"id": 7, "args": {}, "tokn": "x"}, 7))["code"] == "bad_request"
    assert (await code(f"{B}/nope/cmd/echo", {"id": "r3"}, "r3"))["code"] == "unknown_device"
    assert (await code(f"{cmd}/dance", {"id": "r4"}, "r4"))["code"] == "unknown_command"
    err = await code(f"{cmd}/echo", {"id": "r5", "args": {"times": 9}}, "r5")
    assert err["code"] == "invalid_args" and "text" in err["message"] and "times" in err["message"]
    err = await code(f"{B}/cam2/cmd/echo", {"id": "r6", "args": {"text": "x"}}, "r6")
    assert err["code"] == "device_offline"
    err = await code(f"{cmd}/fail", {"id": "r7"}, "r7")
    assert err == {"code": "device_error", "message": "camera says: disk 2 not formatted"}
    assert (await code(f"{cmd}/ptz", {"id": "r8"}, "r8"))["message"] == "this camera has no PTZ motor"
    err = await code(f"{cmd}/unimplemented", {"id": "r9"}, "r9")
    assert err["code"] == "not_supported"
    assert (await code(f"{cmd}/slow", {"id": "r10", "args": {"seconds": 30}}, "r10"))["code"] == "timeout"
    big = json.dumps({"id": "r11", "args": {"text": "x" * 5000}}).encode()  # id unread: too big
    assert "exceeds" in (await code(f"{cmd}/echo", big))["message"]

    snap = await w.request(f"{cmd}/snapshot", {"id": "s1", "args": {"address": 2}})
    assert snap["ok"] and snap["result"]["content_type"] == "image/jpeg"
    assert base64.b64decode(snap["result"]["base64"]) == JPEG and snap["result"]["zone"] == "yard"
    pic = await w.wait(f"{B}/cam1/yard/snapshot")
    assert base64.b64decode(pic.payload) == JPEG

    listed = await w.request(f"{B}/host/cmd/list_devices", {"id": "h1"})
    assert [d["id"] for d in listed["result"]["devices"]] == ["cam1", "cam2"]
    described = await w.request(f"{B}/host/cmd/describe", {"id": "h2"})
    schema = next(d for d in described["result"]["drivers"] if d["name"] == "fakecam")["schema"]
    assert {c["name"] for c in schema["commands"]} >= {"echo", "snapshot"}
    assert (await code(f"{B}/host/cmd/explode", {"id": "h3"}, "h3"))["code"] == "unknown_command"

    host.site_path.write_text("site: {id: lab}\ndevices: [{id: cam1, driver: nosuch}]\n")
    reloaded = await w.request(f"{B}/host/cmd/reload", {"id": "h4"})
    assert reloaded["ok"] is True and reloaded["result"]["ok"] is False and reloaded["result"]["problems"]
    again = await w.request(f"{cmd}/echo", {"id": "r12", "args": {"text": "still here"}})
    assert again["result"] == {"text": "still here"}


async def test_slow_device_does_not_block_others(mqtt_broker, host_factory, watcher_factory):
    host = await host_factory(site_for(mqtt_broker))
    w = await watcher_factory(mqtt_broker.port)
    await host.bridge.connected.wait()
    mqtt_helpers.HELD = asyncio.Event()
    mqtt_helpers.RELEASE = asyncio.Event()
    held = asyncio.create_task(w.request(f"{B}/cam1/cmd/hold", {"id": "held"}))
    await asyncio.wait_for(mqtt_helpers.HELD.wait(), 10)
    # cam1's command is still running: another command and a host command get answered
    assert (await w.request(f"{B}/host/cmd/list_devices", {"id": "quick"}))["ok"]
    assert (await w.request(f"{B}/cam1/cmd/echo", {"id": "e", "args": {"text": "x"}}))["ok"]
    assert not held.done()
    mqtt_helpers.RELEASE.set()
    assert (await held) == {"id": "held", "ok": True, "result": {"released": True}}


@pytest.mark.parametrize("mqtt_broker", [pytest.param("mosquitto", marks=pytest.mark.mosquitto)], indirect=True)
async def test_mqtt5_response_topic_and_correlation(mqtt_broker, host_factory, watcher_factory):
    """MQTT 5 needs mosquitto: amqtt speaks 3.1.1 only (its fallback is the next test)."""
    host = await host_factory(site_for(mqtt_broker))
    await host.bridge.connected.wait()
    assert host.bridge.protocol == aiomqtt.ProtocolVersion.V5
    w = await watcher_factory(mqtt_broker.port, "my/inbox", f"{B}/cam1/cmd/echo/reply",
                              protocol=aiomqtt.ProtocolVersion.V5)
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = "my/inbox"
    props.CorrelationData = b"\x01corr"
    await w.client.publish(f"{B}/cam1/cmd/echo", json.dumps({"args": {"text": "v5"}}), qos=1,
                           properties=props)
    msg = await w.wait("my/inbox")
    assert json.loads(msg.payload) == {"id": None, "ok": True, "result": {"text": "v5"}}
    assert msg.properties.CorrelationData == b"\x01corr"
    assert w.on(f"{B}/cam1/cmd/echo/reply") == []


async def test_broker_restart_republishes_and_queue_keeps_order(mqtt_broker, host_factory, watcher_factory):
    host = await host_factory(site_for(mqtt_broker))
    bridge = host.bridge
    await bridge.connected.wait()
    first = bridge.connections
    await mqtt_broker.stop()
    for _ in range(100):  # the bridge notices when its socket closes
        if not bridge.connected.is_set():
            break
        await asyncio.sleep(0.05)
    # straight onto the bus: this is about the bridge's queue, not the event lifetime
    futures = [host.bus.publish_event("cam1", zone_event("door", n=i, state="active" if i % 2 else "inactive"))
               for i in range(40)]
    assert bridge.stats() == {"queue_depth": 40, "dropped": 0}
    assert not any(f.done() for f in futures)
    await mqtt_broker.start()
    w = await watcher_factory(mqtt_broker.port, f"{B}/#")
    await asyncio.wait_for(asyncio.gather(*futures), 30)
    assert bridge.connections > first
    events = [json.loads(m.payload)["data"]["n"] for m in w.on(f"{B}/cam1/door/event")]
    await w.wait(f"{B}/cam1/door/event", lambda m: json.loads(m.payload)["data"]["n"] == 39)
    events = [json.loads(m.payload)["data"]["n"] for m in w.on(f"{B}/cam1/door/event")]
    assert events == list(range(40))
    # the restarted broker had no retained messages: all came back from the host
    assert (await w.wait(f"{B}/cam1/availability")).payload == b"online"
    assert (await w.wait(f"{B}/host/status")).payload == b"online"
    await w.wait_json(f"{B}/cam1/state", lambda d: d["online"])
    await w.wait_json(f"{B}/cam1/yard/state")
    assert bridge.stats() == {"queue_depth": 0, "dropped": 0}
    reply = await w.request(f"{B}/cam1/cmd/echo", {"id": "after", "args": {"text": "resubscribed"}})
    assert reply["ok"]


async def test_queue_overflow_is_counted(mqtt_broker, host_factory, watcher_factory):
    host = await host_factory(site_for(mqtt_broker, queue_size=5))
    bridge = host.bridge
    await bridge.connected.wait()
    await mqtt_broker.stop()
    for _ in range(100):
        if not bridge.connected.is_set():
            break
        await asyncio.sleep(0.05)
    futures = [host.bus.publish_event("cam1", zone_event("door", n=i)) for i in range(8)]
    assert bridge.stats() == {"queue_depth": 5, "dropped": 3}
    assert all(f.done() and f.exception() is not None for f in futures[:3])
    await mqtt_broker.start()
    w = await watcher_factory(mqtt_broker.port, f"{B}/#")
    await asyncio.wait_for(asyncio.gather(*futures[3:]), 30)
    await w.wait(f"{B}/cam1/door/event", lambda m: json.loads(m.payload)["data"]["n"] == 7)
    assert [json.loads(m.payload)["data"]["n"] for m in w.on(f"{B}/cam1/door/event")] == [3, 4, 5, 6, 7]
    await w.wait_json(f"{B}/host/state", lambda d: d["dropped"] == 3 and d["queue_depth"] == 0)


async def test_malformed_flood_keeps_serving(mqtt_broker, host_factory, watcher_factory):
    host = await host_factory(site_for(mqtt_broker))
    w = await watcher_factory(mqtt_broker.port, f"{B}/cam1/cmd/echo/reply")
    await host.bridge.connected.wait()
    junk = [b"\x00\xff" * 50, b"{", b"null", b'"str"', b"x" * 10000, b'{"args": 5}'] * 40
    for payload in junk:
        await w.client.publish(f"{B}/cam1/cmd/echo", payload, qos=0)
    ok = await w.request(f"{B}/cam1/cmd/echo", {"id": "valid", "args": {"text": "alive"}}, timeout=30)
    assert ok["result"] == {"text": "alive"}

    async def all_replied() -> None:
        while len(w.on(f"{B}/cam1/cmd/echo/reply")) < len(junk) + 1:
            await asyncio.sleep(0.05)
    await asyncio.wait_for(all_replied(), 30)
    replies = [json.loads(m.payload) for m in w.on(f"{B}/cam1/cmd/echo/reply")]
    assert len(replies) == len(junk) + 1  # exactly one reply per request
    assert sum(r["ok"] is False and r["error"]["code"] == "bad_request" for r in replies) == len(junk)


async def test_embedded_broker(host_factory, watcher_factory):
    host = await host_factory(site_yaml("embedded", extra_mqtt="  embedded: {host: 127.0.0.1, port: 0}",
                                        devices=DEVICES))
    port = host.bridge.broker.port
    assert port
    w = await watcher_factory(port, "gem/#")
    assert (await w.wait(f"{B}/host/status")).payload == b"online"
    reply = await w.request(f"{B}/cam1/cmd/echo", {"id": 1, "args": {"text": "hi"}})
    assert reply == {"id": 1, "ok": True, "result": {"text": "hi"}}
    await host.stop()
    assert host.bridge.broker._broker is None


@pytest.mark.parametrize("mqtt_broker", ["amqtt"], indirect=True)
async def test_falls_back_to_mqtt311(mqtt_broker, host_factory, watcher_factory):
    """A 3.1.1-only broker (amqtt) gets an MQTT 5 probe first, then 3.1.1; commands work."""
    host = await host_factory(site_yaml(mqtt_broker.url, protocol="auto"))
    await host.bridge.connected.wait()
    assert host.bridge.protocol == aiomqtt.ProtocolVersion.V311
    w = await watcher_factory(mqtt_broker.port)
    reply = await w.request(f"{B}/cam1/cmd/echo", {"id": "x", "args": {"text": "311"}})
    assert reply["result"] == {"text": "311"}


@pytest.mark.mosquitto
async def test_mosquitto_clients_against_embedded_broker(host_factory):
    """The "done when" check: mosquitto_sub sees the retained state of the embedded broker and
    a command published with mosquitto_pub gets its reply."""
    import shutil

    if not (shutil.which("mosquitto_sub") and shutil.which("mosquitto_pub")):
        skip_without("mosquitto clients")
    host = await host_factory(site_yaml("embedded", extra_mqtt="  embedded: {host: 127.0.0.1, port: 0}"))
    port = str(host.bridge.broker.port)
    await host.bridge.connected.wait()
    reply_topic = f"{B}/cam1/cmd/echo/reply"
    sub = await asyncio.create_subprocess_exec(
        "mosquitto_sub", "-i", "watch-all", "-v", "-h", "127.0.0.1", "-p", port, "-t", "gem/#", "-W", "20",
        stdout=asyncio.subprocess.PIPE)

    async def line_with(text: str) -> str:
        while True:
            line = (await asyncio.wait_for(sub.stdout.readline(), 10)).decode().rstrip("\n")
            assert line, "mosquitto_sub ended early"
            if line.startswith(text):
                return line

    try:
        await line_with(f"{B}/host/status online")
        await line_with(f"{B}/cam1/availability online")  # retained, so the subscription is live
        pub = await asyncio.create_subprocess_exec(
            "mosquitto_pub", "-i", "requester", "-h", "127.0.0.1", "-p", port, "-t", f"{B}/cam1/cmd/echo",
            "-q", "1", "-m", '{"id": "cli", "args": {"text": "from mosquitto_pub"}}')
        assert await pub.wait() == 0
        reply = (await line_with(reply_topic + " ")).split(" ", 1)[1]
        assert json.loads(reply) == {"id": "cli", "ok": True, "result": {"text": "from mosquitto_pub"}}
    finally:
        sub.kill()
        await sub.wait()
