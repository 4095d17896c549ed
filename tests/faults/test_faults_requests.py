"""Issue 13, items 4-6: every request gets exactly one reply, whatever it holds and however
many arrive.

* Item 4: 20,000 malformed requests at full speed (mosquitto_pub -l, a separate process) into a
  mosquitto configured to keep everything for its clients, as the issue's broker did. Before
  the fix aiomqtt's capped queue discarded thousands ("Message queue is full. Discarding
  message.") and they got no reply.
* Item 5: a request nested 5,000 deep raised RecursionError outside any try: no reply, and
  under load the exception ended the MQTT session.
* Item 6: ``"id": 1e999`` and ``NaN`` were accepted and echoed as ``Infinity``/``NaN``.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from fault_helpers import KEEP_EVERYTHING, B, Collector, connected, publish_lines, site_yaml, until

pytestmark = pytest.mark.mosquitto

FLOOD = 20_000
ECHO = f"{B}/cam1/cmd/echo"


@pytest.fixture
async def broker(mosquitto_factory):
    return await mosquitto_factory(KEEP_EVERYTHING)


async def test_a_flood_gets_one_reply_per_request_in_bounded_memory(broker, start_host):
    host = await start_host(site_yaml(broker))
    await connected(host)
    await until(lambda: host.runners["cam1"].state.online, "cam1 online")
    replies = await Collector(broker.port).start(f"{ECHO}/reply")
    try:
        await publish_lines(broker.port, ECHO, [b'{"id": %d, "args": 7}' % n for n in range(FLOOD)])
        await until(lambda: len(replies.messages) >= FLOOD, f"{FLOOD} replies", timeout=90)
        ids = Counter(body["id"] for body in replies.payloads(f"{ECHO}/reply"))
        assert sorted(ids) == list(range(FLOOD)) and set(ids.values()) == {1}
        codes = Counter(body["error"]["code"] for body in replies.payloads(f"{ECHO}/reply"))
        assert set(codes) <= {"bad_request", "busy"} and codes["bad_request"] > 0
        # what waited inside gemhost stayed within its bound; the rest was answered busy
        from gemhost.mqtt.connection import INCOMING_BACKLOG, IncomingQueue

        queue = host.bridge.client._queue
        assert isinstance(queue, IncomingQueue) and queue.high_water <= INCOMING_BACKLOG
        assert codes["busy"] == host.bridge.busy_replies and host.bridge.requests_dropped == 0
        # the session survived and the host still answers normally
        assert host.bridge.connections == 1
        await publish_lines(broker.port, ECHO, [b'{"id": "after", "args": {"text": "still here"}}'])
        await until(lambda: any(b["id"] == "after" for b in replies.payloads(f"{ECHO}/reply")), "a normal reply")
        after = next(b for b in replies.payloads(f"{ECHO}/reply") if b["id"] == "after")
        assert after == {"id": "after", "ok": True, "result": {"text": "still here"}}
    finally:
        await replies.stop()


def _nested(depth: int) -> bytes:
    return b'{"id": "deep", "args": {"x": ' + b"[" * depth + b"]" * depth + b"}}"


HOSTILE = [
    (_nested(5000), "deep-5000", None, "nested deeper than 32 levels"),
    (_nested(40), "deep-40", None, "nested deeper than 32 levels"),
    (b'{"id": 1e999, "args": {"text": "x"}}', "id-inf", None, "NaN and infinite numbers"),
    (b'{"id": NaN, "args": {"text": "x"}}', "id-nan", None, "NaN and infinite numbers"),
    (b'{"id": "inf-arg", "args": {"text": -Infinity}}', "arg-inf", None, "NaN and infinite numbers"),
    (b'{"id": "big", "args": {"text": ' + b"9" * 5000 + b"}}", "huge-int", None, "not valid JSON"),
]


async def test_hostile_payloads_get_strict_json_replies_and_cost_only_themselves(broker, start_host):
    host = await start_host(site_yaml(broker, max_payload=65536))
    await connected(host)
    await until(lambda: host.runners["cam1"].state.online, "cam1 online")
    replies = await Collector(broker.port).start(f"{ECHO}/reply")
    try:
        # each hostile payload, many times over, interleaved with good requests
        lines = []
        for round_ in range(50):
            for payload, _, _, _ in HOSTILE:
                lines.append(payload)
            lines.append(b'{"id": "good-%d", "args": {"text": "ok"}}' % round_)
        await publish_lines(broker.port, ECHO, lines)
        await until(lambda: len(replies.messages) >= len(lines), f"{len(lines)} replies", timeout=60)
        raw = [bytes(m.payload) for m in replies.messages]
        def strict(constant: str) -> None:
            pytest.fail(f"non-strict JSON constant {constant} in a reply")

        for text in raw:  # strict JSON: no NaN, no Infinity, ever
            json.loads(text, parse_constant=strict)
        bodies = [json.loads(text) for text in raw]
        good = sorted(b["id"] for b in bodies if b["ok"])
        assert good == sorted(f"good-{n}" for n in range(50))
        refused = [b for b in bodies if not b["ok"]]
        assert len(refused) == 50 * len(HOSTILE)
        messages = Counter(b["error"]["message"].split(" (")[0] for b in refused)
        for _, name, _, words in HOSTILE:
            assert any(words in m for m in messages), name
        assert all(b["error"]["code"] == "bad_request" for b in refused)
        assert all(b["id"] in (None, "deep", "inf-arg", "big") for b in refused)
        assert host.bridge.connections == 1  # nothing ended the session
    finally:
        await replies.stop()
