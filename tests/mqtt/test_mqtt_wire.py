"""The host's MQTT wire and publish window (gemhost/mqtt/wire.py, gemhost/mqtt/client.py).

PUBLISH bytes are checked against paho-mqtt's own encoder (the reference the rest of the
connection uses); the wire's framing against byte streams cut at every awkward place, over a
real socket pair; the window against real brokers (mosquitto announces its Receive Maximum,
20 by default; amqtt speaks 3.1.1, which has none).
"""

from __future__ import annotations

import asyncio
import socket

import aiomqtt
import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gemhost.mqtt.client import V311_WINDOW, BridgeClient
from gemhost.mqtt.wire import MalformedTopic, Wire, publish_packet


def paho_publish_bytes(protocol: int, topic: str, payload: bytes, mid: int, retain: bool,
                       properties: Properties | None = None) -> bytes:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=protocol)
    client.on_socket_register_write = lambda *args: None  # keep the packet instead of writing it
    client._sock = object()  # "connected", so paho queues the packet
    client._send_publish(mid, topic.encode(), payload, 1, retain, properties=properties)
    client._sock = None
    return bytes(client._out_packet[0]["packet"])


@pytest.mark.parametrize("size", [0, 10, 127, 128, 16383, 16384, 200_000])
def test_publish_bytes_are_pahos(size):
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    for retain in (False, True):
        assert publish_packet("gem/site/cam1/event", payload, 300, retain=retain) == \
            paho_publish_bytes(paho.MQTTv311, "gem/site/cam1/event", payload, 300, retain)
        assert publish_packet("gem/site/cam1/event", payload, 65535, retain=retain, properties=b"\x00") == \
            paho_publish_bytes(paho.MQTTv5, "gem/site/cam1/event", payload, 65535, retain)
    props = Properties(PacketTypes.PUBLISH)
    props.CorrelationData = b"\x01\x02req-7"
    assert publish_packet("gem/site/host/cmd/reload/reply", b"{}", 9, properties=props.pack()) == \
        paho_publish_bytes(paho.MQTTv5, "gem/site/host/cmd/reload/reply", b"{}", 9, False, props)
    assert publish_packet("gem/é", b"", 1) == paho_publish_bytes(paho.MQTTv311, "gem/é", b"", 1, False)


def test_publish_refuses_topics_mqtt_forbids():
    for topic in ("", "gem/+/event", "gem/#", "a\x00b", "x" * 65536):
        with pytest.raises(MalformedTopic):
            publish_packet(topic, b"", 1)


class Pair:
    """A Wire over one end of a real socket pair; ``peer`` is the broker's side."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        ours, self.peer = socket.socketpair()
        ours.setblocking(False)
        self.acked: list[tuple[int, int]] = []
        self.ours: set[int] = set()
        self.wire = Wire(ours, self.loop, self.on_puback)

    def on_puback(self, mid: int, reason: int) -> bool:
        if mid not in self.ours:
            return False
        self.acked.append((mid, reason))
        return True

    def read_for_paho(self) -> bytes:
        """What paho would read now: byte by byte until the wire has nothing more."""
        out = bytearray()
        while True:
            try:
                byte = self.wire.recv(1)
            except BlockingIOError:
                return bytes(out)
            if not byte:
                out += b"<EOF>"
                return bytes(out)
            out += byte

    def close(self) -> None:
        self.wire.close()
        self.peer.close()


async def test_wire_takes_its_pubacks_and_gives_paho_the_rest():
    pair = Pair()
    try:
        pair.ours = {1, 2, 300}
        pingresp, other_puback = b"\xd0\x00", b"\x40\x02\x00\x07"
        incoming = paho_publish_bytes(paho.MQTTv5, "gem/site/cam1/cmd/snapshot", b'{"id":1}' * 40, 5, False)
        stream = (b"\x40\x02\x00\x01" + pingresp + b"\x40\x03\x01\x2c\x87" + other_puback + incoming
                  + b"\x40\x04\x00\x02\x00\x00")
        for cut in (1, 3, 7, len(stream) - 5):  # a packet split across reads is served whole, later
            pair.acked.clear()
            pair.peer.sendall(stream[:cut])
            first = pair.read_for_paho()
            pair.peer.sendall(stream[cut:])
            second = pair.read_for_paho()
            assert first + second == pingresp + other_puback + incoming, cut
            assert pair.acked == [(1, 0), (300, 0x87), (2, 0)], cut
    finally:
        pair.close()


async def test_wire_leaves_a_malformed_stream_and_a_cut_one_to_paho():
    pair = Pair()
    try:
        pair.peer.sendall(b"\x30\xff\xff\xff\xff\x01rest")  # a remaining length of five bytes
        assert pair.read_for_paho() == b"\x30\xff\xff\xff\xff\x01rest"
    finally:
        pair.close()
    pair = Pair()
    try:
        pair.peer.sendall(b"\x30\x10gem/")  # the broker goes away in the middle of a packet
        pair.peer.close()
        assert pair.read_for_paho() == b"\x30\x10gem/<EOF>"
    finally:
        pair.wire.close()


async def test_wire_sends_one_pass_of_writes_together_and_flushes_on_close():
    pair = Pair()
    try:
        for n in range(50):
            assert pair.wire.send(b"packet%02d;" % n) == 9
        await asyncio.sleep(0)  # the end of this pass of the loop
        await asyncio.sleep(0)
        pair.peer.setblocking(False)
        assert pair.peer.recv(4096) == b"".join(b"packet%02d;" % n for n in range(50))
        pair.wire.send(b"\xe0\x00")  # paho writes DISCONNECT and closes at once
        pair.wire.close()
        pair.peer.setblocking(True)
        assert pair.peer.recv(16) == b"\xe0\x00"
    finally:
        pair.peer.close()


async def test_wire_waits_for_a_full_socket_to_drain():
    pair = Pair()
    try:
        big = b"z" * (8 * 1024 * 1024)  # far beyond the socket buffer
        pair.wire.send(big)
        await asyncio.sleep(0.01)
        received = bytearray()
        pair.peer.setblocking(False)

        async def drain() -> None:
            while len(received) < len(big):
                try:
                    received.extend(pair.peer.recv(1 << 20))
                except BlockingIOError:
                    await asyncio.sleep(0.001)

        await asyncio.wait_for(drain(), 30)
        assert bytes(received) == big
    finally:
        pair.close()


# ---------------------------------------------------------------- the window, on real brokers


async def test_window_follows_the_brokers_receive_maximum(mqtt_broker):
    v5 = mqtt_broker.kind == "mosquitto"
    protocol = aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311
    client = BridgeClient(hostname="127.0.0.1", port=mqtt_broker.port, protocol=protocol, timeout=10)
    watcher = aiomqtt.Client("127.0.0.1", mqtt_broker.port, protocol=protocol)
    async with watcher, client:
        await watcher.subscribe("w/#", qos=1)
        assert client.window == (20 if v5 else V311_WINDOW)
        if v5:
            assert client.receive_maximum == 20  # mosquitto's default
        done: list[int | None] = []
        freed = asyncio.Event()
        client.on_slot_free = freed.set
        sent = 0
        while sent < 200:
            while sent < 200 and client.can_send():
                client.publish_nowait(f"w/{sent}", b"%d" % sent, done.append)
                sent += 1
                assert client.in_flight <= client.window
            freed.clear()
            await asyncio.wait_for(freed.wait(), 10)
        await asyncio.wait_for(client.publish("w/last", "end", qos=1), 10)  # awaited publish, same window
        received = []

        async def collect() -> None:
            async for message in watcher.messages:
                received.append(message.topic.value)
                if message.topic.value == "w/last":
                    return

        await asyncio.wait_for(collect(), 20)
        assert received == [f"w/{n}" for n in range(200)] + ["w/last"]  # in order, once each
        assert len(done) == 200 and set(done) == {0}


async def close_both(client: BridgeClient, server: asyncio.Server) -> None:
    """End a test's client and its stand-in broker, whatever state the connection is in."""
    server.close()
    try:
        await client.__aexit__(None, None, None)
    except aiomqtt.MqttError:
        pass
    await server.wait_closed()


async def test_in_flight_publishes_fail_when_the_connection_is_lost():
    """A broker that accepts the connection and never acknowledges, then goes away: every
    publish in flight is reported lost (done(None)), none as acknowledged."""
    connections: list[asyncio.StreamWriter] = []

    async def silent_broker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)  # CONNECT
        writer.write(b"\x20\x02\x00\x00")  # CONNACK, accepted (3.1.1)
        connections.append(writer)
        while await reader.read(65536):  # PUBLISHes, never acknowledged
            pass

    server = await asyncio.start_server(silent_broker, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = BridgeClient(hostname="127.0.0.1", port=port, protocol=aiomqtt.ProtocolVersion.V311, timeout=10)
    done: list[int | None] = []

    async def read() -> None:  # as the bridge's reader does; it sees the connection end
        async for _ in client.messages:
            pass

    try:
        await client.__aenter__()
        reader = asyncio.create_task(read())
        for n in range(client.window + 5):
            if client.can_send():
                client.publish_nowait(f"x/{n}", b"x", done.append)
        assert client.in_flight == client.window and not client.can_send()
        await asyncio.sleep(0.1)
        assert done == []
        connections[0].close()

        async def lost() -> None:
            while client.in_flight:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(lost(), 30)
        assert done == [None] * client.window
        with pytest.raises(aiomqtt.MqttError):
            await asyncio.wait_for(reader, 10)
        with pytest.raises(aiomqtt.MqttError):
            await client.publish("x/after", b"x", qos=1, timeout=2)
    finally:
        await close_both(client, server)


async def test_paho_and_the_wire_both_get_written_when_the_socket_buffer_fills():
    """A broker that stops reading for a while (the kernel buffers fill, so the wire waits for
    writability) while both the wire (the host's QoS 1 publishes) and paho (a ``busy`` reply
    given from the receive path goes through paho) have bytes to send: once the broker reads
    again, every byte of both arrives. (An event loop keeps one writer per socket: paho's
    writer registered over the wire's left the wire's bytes waiting for ever, and replies
    were lost under a request flood.)"""
    received = bytearray()
    resume = asyncio.Event()

    async def slow_broker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)  # CONNECT
        writer.write(b"\x20\x02\x00\x00")  # CONNACK, accepted (3.1.1)
        await writer.drain()
        await resume.wait()  # meanwhile the host's socket buffer fills
        while chunk := await reader.read(1 << 20):
            received.extend(chunk)

    server = await asyncio.start_server(slow_broker, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = BridgeClient(hostname="127.0.0.1", port=port, protocol=aiomqtt.ProtocolVersion.V311, timeout=10)
    payload = b"w" * (1 << 20)
    try:
        await client.__aenter__()
        expected = 0
        for n in range(client.window):  # far beyond the kernel buffers: the wire's writer registers
            client.publish_nowait(f"wire/{n}", payload, lambda code: None)
            expected += len(publish_packet(f"wire/{n}", payload, 1))
        await asyncio.sleep(0.05)
        assert client._wire is not None and client._wire._writer  # the kernel buffer is full
        for n in range(20):  # then paho writes too
            info = client._client.publish(f"paho/{n}", payload, qos=1)
            assert info.rc == paho.MQTT_ERR_SUCCESS
            expected += len(publish_packet(f"paho/{n}", payload, 1))
        await asyncio.sleep(0.05)
        resume.set()

        async def everything() -> None:
            while len(received) < expected:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(everything(), 30)
        assert len(received) == expected
        assert received.count(b"paho/") == 20 and received.count(b"wire/") == client.window
    finally:
        resume.set()
        await close_both(client, server)
