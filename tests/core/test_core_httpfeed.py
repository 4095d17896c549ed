"""gemhost.httpfeed: a close-delimited body handed over by callback, over real loopback HTTP
and HTTPS, served the way Hikvision firmware serves its alertStream (``HTTP/1.0 200 OK``, no
length, the first part written together with the headers; docs/drivers/hikvision_isapi.md)."""

from __future__ import annotations

import asyncio
import importlib.util
import ssl

import aiohttp
import pytest

from gemhost import contain, eventloop, httpfeed
from gemhost.selfsigned import SelfSignedTLS
from gemhost.testing import until

HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None  # as in test_core_eventloop.py


HEAD = b"HTTP/1.0 200 OK\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=boundary\r\n\r\n"


class RawServer:
    """One-connection-at-a-time server that writes exactly the bytes a test gives it."""

    def __init__(self, head: bytes = HEAD, tls: SelfSignedTLS | None = None, first: bytes = b"first") -> None:
        self.head = head
        self.first = first
        self.tls = tls
        self.writers: list[asyncio.StreamWriter] = []
        self.closed_by_client = asyncio.Event()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0,
                                                 ssl=self.tls.context if self.tls else None)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        writer.write(self.head + self.first)  # body bytes in the same segment as the headers
        await writer.drain()
        self.writers.append(writer)
        await reader.read()  # until the client goes away
        self.closed_by_client.set()

    async def send(self, data: bytes) -> None:
        self.writers[-1].write(data)
        await self.writers[-1].drain()

    async def stop(self) -> None:
        for writer in self.writers:
            writer.close()
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def server():
    srv = RawServer()
    await srv.start()
    yield srv
    await srv.stop()


async def test_every_byte_arrives_in_order_until_the_peer_closes(server, session):
    got: list[bytes] = []
    async with session.get(f"http://127.0.0.1:{server.port}/stream") as resp:
        assert httpfeed.feedable(resp)
        reading = asyncio.create_task(httpfeed.feed_body(resp, got.append))
        await until(lambda: b"".join(got) == b"first")
        for n in range(50):
            await server.send(b"part%d;" % n)
        await until(lambda: b"".join(got).endswith(b"part49;"))
        server.writers[-1].close()
        await asyncio.wait_for(reading, 5)  # the peer's close ends it without an error
    assert b"".join(got) == b"first" + b"".join(b"part%d;" % n for n in range(50))


async def test_a_failing_callback_ends_the_stream_with_its_error(server, session):
    def on_data(chunk: bytes) -> None:
        if b"bad" in chunk:
            raise ValueError("reader failed")

    async with session.get(f"http://127.0.0.1:{server.port}/stream") as resp:
        reading = asyncio.create_task(httpfeed.feed_body(resp, on_data))
        await asyncio.sleep(0)
        await server.send(b"bad")
        with pytest.raises(ValueError, match="reader failed"):
            await asyncio.wait_for(reading, 5)
    await asyncio.wait_for(server.closed_by_client.wait(), 5)  # and the connection is closed


async def test_cancelling_closes_the_connection(server, session):
    async with session.get(f"http://127.0.0.1:{server.port}/stream") as resp:
        reading = asyncio.create_task(httpfeed.feed_body(resp, lambda chunk: None))
        await until(lambda: server.writers)
        await asyncio.sleep(0.01)
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        await asyncio.wait_for(server.closed_by_client.wait(), 5)


async def test_works_over_tls():
    tls = SelfSignedTLS()
    srv = RawServer(tls=tls)
    await srv.start()
    got: list[bytes] = []
    client_tls = ssl.create_default_context(cafile=str(tls.cert_file))
    try:
        async with aiohttp.ClientSession() as s, s.get(f"https://127.0.0.1:{srv.port}/stream", ssl=client_tls) as resp:
            assert httpfeed.feedable(resp)
            reading = asyncio.create_task(httpfeed.feed_body(resp, got.append))
            await until(lambda: srv.writers)
            await srv.send(b"-second")
            await until(lambda: b"".join(got) == b"first-second")
            reading.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reading
    finally:
        await srv.stop()
        tls.cleanup()


@pytest.mark.parametrize(("header", "first"), [(b"Transfer-Encoding: chunked", b"5\r\nfirst\r\n"),
                                               (b"Content-Length: 5", b"first"),
                                               (b"Content-Encoding: identity", b"first")])
async def test_only_a_raw_body_until_close_is_taken_over(header, first, session):
    srv = RawServer(head=HEAD.replace(b"\r\n\r\n", b"\r\n" + header + b"\r\n\r\n"), first=first)
    await srv.start()
    try:
        async with session.get(f"http://127.0.0.1:{srv.port}/stream") as resp:
            assert not httpfeed.feedable(resp)  # aiohttp's reader keeps these
    finally:
        await srv.stop()


async def _feed_both_ways() -> list[bytes]:
    """One plain and one TLS stream read to their end; what each delivered."""
    tls = SelfSignedTLS()
    out = []
    try:
        for server_tls in (None, tls):
            srv = RawServer(tls=server_tls)
            await srv.start()
            got: list[bytes] = []
            scheme, client_tls = ("https", ssl.create_default_context(cafile=str(tls.cert_file))) if server_tls \
                else ("http", True)
            async with aiohttp.ClientSession() as s, s.get(f"{scheme}://127.0.0.1:{srv.port}/", ssl=client_tls) as resp:
                reading = asyncio.create_task(httpfeed.feed_body(resp, got.append))
                await until(lambda srv=srv: srv.writers)
                for n in range(20):
                    await srv.send(b"p%d;" % n)
                await until(lambda got=got: b"".join(got).endswith(b"p19;"))
                srv.writers[-1].close()
                await asyncio.wait_for(reading, 5)
            await srv.stop()
            out.append(b"".join(got))
    finally:
        tls.cleanup()
    return out


@pytest.mark.skipif(not HAVE_UVLOOP, reason="uvloop is not installed")
def test_takeover_works_on_the_loop_gemhost_run_uses():
    """``gemhost run`` runs on uvloop (gemhost/eventloop.py), whose transports must switch
    protocols the same way, in plain TCP and in TLS."""
    want = b"first" + b"".join(b"p%d;" % n for n in range(20))
    assert contain.run(_feed_both_ways(), loop_factory=eventloop.daemon_loop_factory()) == [want, want]
