"""Read a never-ending HTTP body by callback, without waking a task for every chunk.

An event stream (ISAPI's alertStream) is one response whose body never ends. Read through
aiohttp's ``StreamReader`` every chunk costs a trip through its buffer, a future resolved and
a task woken to take the chunk back out: at a thousand cameras sending an alert a second that
was about a sixth of the host's CPU (bench/README.md, issue 14). Once aiohttp has done the
part that needs a real HTTP client (connection, TLS, auth, status and headers), a body that is
simply every byte until the peer closes needs no further parsing: this module hands the
connection's transport to a small protocol that passes each chunk straight to a callback.

Only such bodies qualify (:func:`feedable`): no ``Transfer-Encoding`` (chunked needs
de-chunking, which stays aiohttp's job), no ``Content-Length`` and no ``Content-Encoding``.
That is exactly what Hikvision firmware sends for the alertStream (``HTTP/1.0 200 OK``, no
length, docs/drivers/hikvision_isapi.md); anything else is read through aiohttp as before.
Everything used is public API: ``ClientResponse.connection.transport``,
``StreamReader.read_nowait`` and asyncio's ``Transport.set_protocol``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp

OnData = Callable[[bytes], None]


def feedable(resp: aiohttp.ClientResponse) -> bool:
    """True when the body is the raw bytes until the peer closes, and the connection is there."""
    headers = resp.headers
    if "Transfer-Encoding" in headers or "Content-Length" in headers or "Content-Encoding" in headers:
        return False
    connection = resp.connection
    return connection is not None and connection.transport is not None and not connection.transport.is_closing()


class _Feed(asyncio.Protocol):
    """The connection's protocol once aiohttp is done with the headers."""

    def __init__(self, on_data: OnData, done: asyncio.Future[None]) -> None:
        self.on_data = on_data
        self.done = done

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        try:
            self.on_data(data)
        except Exception as exc:  # the reader's failure ends the stream, as it would in a task
            self.done.set_exception(exc)

    def eof_received(self) -> bool:
        self._finish(None)
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(exc)

    def _finish(self, exc: Exception | None) -> None:
        if not self.done.done():
            if exc is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(aiohttp.ClientPayloadError(f"stream ended: {exc!r}"))


async def feed_body(resp: aiohttp.ClientResponse, on_data: OnData) -> None:
    """Hand every byte of ``resp``'s body to ``on_data`` as it arrives, until the peer closes
    (returns) or the connection fails (raises ``aiohttp.ClientPayloadError``); raises what
    ``on_data`` raised. Call only when :func:`feedable` said so. Cancelling it closes the
    connection. ``on_data`` runs inside the event loop's read callback: it must not block."""
    content = resp.content
    error = content.exception()
    if error is not None:
        raise error
    buffered = content.read_nowait()  # what aiohttp read together with the headers
    if buffered:
        on_data(buffered)
    if content.is_eof():  # the peer closed before the takeover
        return
    connection = resp.connection
    assert connection is not None and connection.transport is not None
    transport = connection.transport
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    # No await between the read above and this switch, so no byte can fall between the two.
    transport.set_protocol(_Feed(on_data, done))
    transport.resume_reading()  # aiohttp may have paused it while its buffer was full
    try:
        await done
    finally:
        if not transport.is_closing():
            transport.close()
