"""The alertStream response the way firmware sends it.

Real devices answer ``HTTP/1.0 200 OK`` with exactly two headers, ``MIME-Version: 1.0`` and
``Content-Type: multipart/mixed; boundary=boundary``, and no length: the body runs until the
connection closes (node-red-contrib-hikvision-ultimate issue #83 shows the raw headers,
pyHik issue #10 the curl transcript). Some firmware answers HTTP/1.1 with chunked transfer
encoding instead; ``chunked=True`` serves that variant.

aiohttp always answers in the request's HTTP version and chunks a length-less 1.1 body, so
the firmware form overrides the two hooks that write the status line and the headers.
"""

from __future__ import annotations

from aiohttp import web
from multidict import CIMultiDict

BOUNDARY = "boundary"
CONTENT_TYPE = f"multipart/mixed; boundary={BOUNDARY}"
PART_TYPE = 'application/xml; charset="UTF-8"'


class FirmwareStreamResponse(web.StreamResponse):
    """HTTP/1.0, close-delimited, only the headers firmware sends."""

    def __init__(self) -> None:
        super().__init__(status=200, reason="OK")
        self.force_close()

    async def _prepare_headers(self) -> None:
        self._keep_alive = False
        headers = CIMultiDict({"MIME-Version": "1.0", "Content-Type": CONTENT_TYPE})
        self._headers.clear()
        self._headers.update(headers)

    async def _write_headers(self) -> None:
        writer = self._payload_writer
        assert writer is not None
        await writer.write_headers("HTTP/1.0 200 OK", self._headers)
        writer.send_headers()


def chunked_response() -> web.StreamResponse:
    """The HTTP/1.1 chunked variant (MIME-Version kept, as toxuin/alarmserver issue #15 shows)."""
    resp = web.StreamResponse(headers={"MIME-Version": "1.0", "Content-Type": CONTENT_TYPE})
    resp.enable_chunked_encoding()
    return resp


def part(body: bytes, content_type: str = PART_TYPE) -> bytes:
    """One multipart part: delimiter line, Content-Type, Content-Length, blank line, body."""
    head = f"--{BOUNDARY}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode("latin-1") + body + b"\r\n"
