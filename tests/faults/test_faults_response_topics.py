"""Issue 13, item 3: an MQTT 5 response topic cannot make gemhost publish into its own tree.

Before the fix a request naming ``gem/<site>/<device>/availability`` or a Home Assistant
discovery config topic as its response topic got its reply published there, by anyone, with
no token. Runs on mosquitto (MQTT 5: amqtt has no response topics).
"""

from __future__ import annotations

import asyncio
import json

import aiomqtt
import pytest
from fault_helpers import RUNS, B, FaultPlugin, connected, site_yaml, until
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gemhost.host import Host
from gemhost.plugins import load_registry
from gemhost.siteyaml import SiteFileError

pytestmark = pytest.mark.mosquitto

V5 = aiomqtt.ProtocolVersion.V5


async def _ask(client: aiomqtt.Client, n: int, response_topic: str) -> None:
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = response_topic
    props.CorrelationData = f"corr-{n}".encode()
    await client.publish(f"{B}/cam1/cmd/echo", json.dumps({"id": n, "args": {"text": f"t{n}"}}), qos=1,
                         properties=props)


async def test_response_topics_outside_gemhost_only(mosquitto, start_host, watch):
    host = await start_host(site_yaml(mosquitto, mqtt="  discovery: true"))
    w = await watch(mosquitto.port, f"{B}/#", "homeassistant/#", "other/#", protocol=V5)
    await connected(host)
    await until(lambda: host.runners["cam1"].state.online, "cam1 online")
    await w.wait(f"{B}/cam1/availability", lambda m: m.payload == b"online")
    hostile = [f"{B}/cam1/availability", f"{B}/host/status", f"{B}/cam1/door/state",
               "homeassistant/device/flt_cam1/config", "homeassistant/status", f"{B}/#", "other/+/x",
               "$SYS/broker/x"]
    async with aiomqtt.Client("127.0.0.1", mosquitto.port, protocol=V5) as client:
        for n, topic in enumerate(hostile):
            await _ask(client, n, topic)
        await _ask(client, 100, "other/replies/100")
        await _ask(client, 101, f"{B}/cam1/cmd/echo/reply")  # the standard one, named explicitly

        await until(lambda: len([m for m in w.on(f"{B}/cam1/cmd/echo/reply")]) >= len(hostile) + 1,
                    "every refusal and the explicit standard reply", timeout=15)
    replies = {json.loads(m.payload)["id"]: (json.loads(m.payload), m) for m in w.on(f"{B}/cam1/cmd/echo/reply")}
    for n, topic in enumerate(hostile):
        body, message = replies[n]
        assert body["ok"] is False and body["error"]["code"] == "bad_request", topic
        assert "refused" in body["error"]["message"] and "not run" in body["error"]["message"]
        assert message.properties.CorrelationData == f"corr-{n}".encode()
    assert replies[101][0] == {"id": 101, "ok": True, "result": {"text": "t101"}}
    allowed = await w.wait_json("other/replies/100")
    assert allowed == {"id": 100, "ok": True, "result": {"text": "t100"}}
    assert RUNS["cam1/echo"] == 2  # refused requests were not run
    # nothing but gemhost's own payloads ever reached its topics or Home Assistant's
    await asyncio.sleep(0.2)
    for m in w.messages:
        topic = m.topic.value
        if topic.startswith("homeassistant/") or topic.startswith(f"{B}/") and "/cmd/" not in topic:
            assert b'"ok"' not in bytes(m.payload), f"a reply was published on {topic}"


async def test_the_allow_list_narrows_response_topics(mosquitto, start_host, watch):
    host = await start_host(site_yaml(mosquitto, mqtt='  response_topics: ["apps/gemhost/"]'))
    w = await watch(mosquitto.port, f"{B}/cam1/cmd/echo/reply", "apps/#", "other/#", protocol=V5)
    await connected(host)
    await until(lambda: host.runners["cam1"].state.online, "cam1 online")
    async with aiomqtt.Client("127.0.0.1", mosquitto.port, protocol=V5) as client:
        await _ask(client, 1, "other/replies/1")
        await _ask(client, 2, "apps/gemhost/kiosk")
        refused = await w.wait_json(f"{B}/cam1/cmd/echo/reply", lambda d: d["id"] == 1)
        answered = await w.wait_json("apps/gemhost/kiosk")
    assert refused["error"]["code"] == "bad_request" and "apps/gemhost/" in refused["error"]["message"]
    assert answered == {"id": 2, "ok": True, "result": {"text": "t2"}}
    assert w.on("other/replies/1") == []


def test_an_allow_list_into_gemhost_topics_is_a_site_error(site_path):
    site_path.write_text(site_yaml(None, broker_url="mqtt://127.0.0.1:1", mqtt='  response_topics: ["apps/", "gem/flt/"'
                                   ', "homeassistant", "x/#"]'))
    with pytest.raises(SiteFileError) as info:
        Host(site_path, registry=load_registry([FaultPlugin()]))._load()
    text = "\n".join(p.format(info.value.file) for p in info.value.problems)
    assert "mqtt.response_topics[1]: 'gem/flt/' reaches into gem/flt/#" in text
    assert "mqtt.response_topics[2]: 'homeassistant' reaches into homeassistant/#" in text
    assert "mqtt.response_topics[3]: must be a topic prefix without wildcards" in text
    assert "response_topics[0]" not in text
