"""The embedded broker serves short-lived clients (mosquitto_pub, scripts) correctly even
when it holds many retained messages and others subscribe with wide filters."""

from __future__ import annotations

import asyncio
import struct

import aiomqtt

from gemhost.mqtt.broker import EmbeddedBroker


def _utf8(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def _packet(kind: int, body: bytes) -> bytes:
    """An MQTT fixed header (remaining length < 128 here) followed by ``body``."""
    assert len(body) < 128
    return bytes([kind, len(body)]) + body


CONNECT = _packet(0x10, _utf8("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 30) + _utf8("oneshot"))
DISCONNECT = bytes([0xE0, 0x00])


def publish_qos0(topic: str, payload: bytes) -> bytes:
    return _packet(0x30, _utf8(topic) + payload)


async def test_one_shot_publisher_is_delivered_and_gets_no_foreign_retained_messages():
    broker = EmbeddedBroker("127.0.0.1", 0)
    await broker.start()
    received: list[str] = []
    try:
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="filler") as filler:
            for i in range(40):
                await filler.publish(f"gem/site/dev{i}/state", b"x" * 200, qos=1, retain=True)
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="watcher") as watcher:
            await watcher.subscribe("gem/#", qos=1)

            async def collect() -> None:
                async for message in watcher.messages:
                    if not message.retain:
                        received.append(message.topic.value)

            collector = asyncio.create_task(collect())
            # Exactly what mosquitto_pub does: connect, publish at QoS 0, disconnect at once.
            reader, writer = await asyncio.open_connection("127.0.0.1", broker.port)
            writer.write(CONNECT + publish_qos0("gem/site/dev1/cmd/go", b'{"id":1}') + DISCONNECT)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 10)  # until the broker closes
            writer.close()
            async with asyncio.timeout(10):
                while "gem/site/dev1/cmd/go" not in received:
                    await asyncio.sleep(0.01)
            collector.cancel()
        # Only the CONNACK: none of the 40 retained messages the one-shot never subscribed to.
        assert answer == bytes([0x20, 0x02, 0x00, 0x00])
    finally:
        await broker.stop()
