"""Unit tests of the bridge's pure parts: broker URLs, topics, request parsing, the queue."""

from __future__ import annotations

import asyncio
import json

import pytest

from gemhost.backoff import Backoff, full_jitter
from gemhost.model import Secret
from gemhost.mqtt.commands import parse_request, reply_payload
from gemhost.mqtt.connection import parse_broker, tls_arguments
from gemhost.mqtt.queue import EventDropped, OfflineQueue, Outgoing
from gemhost.mqtt.session import BACKOFF_MAX, BACKOFF_MIN
from gemhost.mqtt.topics import CommandTopic, Topics


def test_broker_url_credentials_never_shown():
    addr = parse_broker("mqtts://bridge:p%40ss@broker.lan")
    assert (addr.host, addr.port, addr.tls, addr.username) == ("broker.lan", 8883, True, "bridge")
    assert addr.password.reveal() == "p@ss"
    assert "p@ss" not in repr(addr) and "p%40ss" not in repr(addr)
    explicit = parse_broker("mqtt://10.0.0.2:1884", "gem", Secret("s3cret"))
    assert (explicit.port, explicit.tls, explicit.username) == (1884, False, "gem")
    assert explicit.password.reveal() == "s3cret" and "s3cret" not in repr(explicit)
    for bad in ("http://x", "mqtt://", "broker.lan:1883", "mqtt://h:99999"):
        with pytest.raises(ValueError):
            parse_broker(bad)


def test_tls_arguments():
    class Cfg:
        tls_ca_file = "/etc/ca.pem"
        tls_certfile = None
        tls_keyfile = None
        tls_verify = False

    args = tls_arguments(Cfg(), parse_broker("mqtts://h"))
    assert args["tls_insecure"] is True and args["tls_params"].ca_certs == "/etc/ca.pem"
    Cfg.tls_ca_file = None
    assert tls_arguments(Cfg(), parse_broker("mqtt://h")) == {}


def test_topics():
    t = Topics("gem/hq")
    assert t.event("cam1", "door") == "gem/hq/cam1/door/event" and t.event("cam1", None) == "gem/hq/cam1/event"
    assert t.parse_command("gem/hq/cam1/cmd/snapshot") == CommandTopic("cam1", "snapshot")
    assert t.parse_command("gem/hq/host/cmd/reload") == CommandTopic("host", "reload")
    for other in ("gem/hq/cam1/cmd/snapshot/reply", "gem/hq/cam1/state", "gem/other/cam1/cmd/x", "gem/hq//cmd/x"):
        assert t.parse_command(other) is None
    assert t.discovery("hq", "cam1") == "homeassistant/device/hq_cam1/config"


def test_parse_request():
    req, req_id, err = parse_request(b'{"id": "a", "args": {"x": 1}, "token": "t"}', 100)
    assert err is None and (req.id, req.args, req.token) == ("a", {"x": 1}, "t")
    assert parse_request(b"", 100)[0].args is None
    for payload, expected_id in [(b"{", None), (b"[]", None), (b'{"id": "b", "args": []}', "b"),
                                 (b'{"id": {"x": 1}}', None), (b'{"id": 3, "token": 5}', 3),
                                 (b'{"id": "c", "extra": 1}', "c"), (b"x" * 101, None)]:
        req, req_id, err = parse_request(payload, 100)
        assert req is None and err.code == "bad_request" and req_id == expected_id, payload
    body = json.loads(reply_payload("a", {"n": 1}))
    assert body == {"id": "a", "ok": True, "result": {"n": 1}}


async def test_queue_bound_order_and_futures():
    loop = asyncio.get_running_loop()
    q = OfflineQueue(3)
    items = [Outgoing(f"t/{i}", b"x", loop.create_future()) for i in range(5)]
    for item in items:
        q.put(item)
    assert len(q) == 3 and q.dropped == 2
    assert isinstance(items[0].delivered.exception(), EventDropped)
    assert [i.topic for i in q.peek(10)] == ["t/2", "t/3", "t/4"]
    q.ack(items[2])
    assert items[2].delivered.done() and not items[3].delivered.done()
    q.fail_all(EventDropped("stop"))
    assert len(q) == 0 and items[4].delivered.exception() is not None
    with pytest.raises(ValueError):
        OfflineQueue(0)


def test_backoff_bounds():
    """The bridge's reconnect schedule: full jitter between BACKOFF_MIN and the doubled ceiling."""
    backoff = Backoff(initial=BACKOFF_MIN, maximum=BACKOFF_MAX, jitter=full_jitter)
    delays = [backoff.next() for _ in range(40)]
    assert all(BACKOFF_MIN <= d <= BACKOFF_MAX for d in delays)
    assert max(backoff.next() for _ in range(50)) > BACKOFF_MIN * 4  # it does grow
