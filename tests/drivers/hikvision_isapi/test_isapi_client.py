"""IsapiClient error mapping against a canned loopback server, and the debouncer on its own."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest
from aiohttp import web
from gemhost_drivers.hikvision_isapi.client import IsapiClient
from isapi_helpers import captures

from gemhost.errors import AuthError, DeviceError, DeviceUnreachable, NotSupported
from gemhost.model import Secret

PASSWORD = "Sup3r-Secret-pw"


class CannedDevice:
    """A loopback HTTP server answering each (method, path) with a canned (status, body).

    aioresponses 0.7.9 cannot build responses for aiohttp 3.14 (ClientResponse now needs
    ``stream_writer``), so the client is tested against real HTTP instead.
    """

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], tuple[int, bytes, float]] = {}
        self.auth_headers: list[str | None] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.auth_headers.append(request.headers.get("Authorization"))
        status, body, delay = self.routes.get((request.method, request.path), (404, b"", 0.0))
        if delay:
            await asyncio.sleep(delay)
        return web.Response(status=status, body=body, content_type="application/xml")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]


@pytest.fixture
async def device():
    d = CannedDevice()
    await d.start()
    yield d
    await d.runner.cleanup()


@pytest.fixture
async def client(device):
    c = IsapiClient("127.0.0.1", device.port, username="admin", password=Secret(PASSWORD), auth_mode="basic",
                    timeout=0.5)
    yield c
    await c.close()


def _no_secret(exc: BaseException, c: IsapiClient) -> None:
    assert PASSWORD not in str(exc) and PASSWORD not in repr(exc) and PASSWORD not in repr(c)


async def test_basic_auth_header_is_sent(client, device):
    device.routes[("GET", "/ISAPI/System/deviceInfo")] = (200, b"<DeviceInfo/>", 0)
    reply = await client.get("/ISAPI/System/deviceInfo")
    assert reply.status == 200 and reply.body == b"<DeviceInfo/>"
    assert device.auth_headers == [aiohttp.encode_basic_auth("admin", PASSWORD)]


async def test_401_is_auth_error_with_vendor_hint(client, device):
    device.routes[("GET", "/ISAPI/System/deviceInfo")] = (401, b"", 0)
    with pytest.raises(AuthError) as err:
        await client.get("/ISAPI/System/deviceInfo")
    assert "wrong credentials, locked account, or missing Operator role" in str(err.value)
    assert len(device.auth_headers) == 1  # never retried
    _no_secret(err.value, client)


async def test_403_on_ptz_names_the_permission(client, device):
    device.routes[("PUT", "/ISAPI/PTZCtrl/channels/3/continuous")] = (403, b"", 0)
    with pytest.raises(DeviceError, match="lacks PTZ permission on channel 3"):
        await client.put("/ISAPI/PTZCtrl/channels/3/continuous", "<PTZData/>", op="ptz", channel=3)


async def test_404_on_snapshot_says_run_get_channels(client, device):
    with pytest.raises(DeviceError, match="channel 9 is not an enabled input channel.*get_channels"):
        await client.get("/ISAPI/Streaming/channels/901/picture", op="snapshot", channel=9)
    with pytest.raises(NotSupported):
        await client.get("/ISAPI/Other")


async def test_response_status_text_becomes_the_message(client, device):
    body = (captures() / "errors" / "snapshot_deviceError.xml").read_bytes()
    device.routes[("GET", "/ISAPI/Streaming/channels/101/picture")] = (500, body, 0)
    with pytest.raises(DeviceError) as err:
        await client.get("/ISAPI/Streaming/channels/101/picture", op="snapshot", channel=1)
    assert "HTTP 500" in str(err.value) and "Device Error (deviceError, statusCode 3)" in str(err.value)


async def test_put_with_failed_response_status_in_200(client, device):
    body = (captures() / "errors" / "snapshot_badXmlContent.xml").read_bytes()
    device.routes[("PUT", "/ISAPI/System/IO/outputs/1/trigger")] = (200, body, 0)
    with pytest.raises(DeviceError, match="Invalid XML Content"):
        await client.put("/ISAPI/System/IO/outputs/1/trigger", "<IOPortData/>")


async def test_timeout_and_refused_are_unreachable(client, device):
    device.routes[("GET", "/ISAPI/System/deviceInfo")] = (200, b"<DeviceInfo/>", 3.0)
    with pytest.raises(DeviceUnreachable, match="no answer"):
        await client.get("/ISAPI/System/deviceInfo")
    await device.runner.cleanup()
    with pytest.raises(DeviceUnreachable) as err:
        await client.get("/ISAPI/System/deviceInfo")
    _no_secret(err.value, client)


async def test_https_failure_suggests_port(device):
    # A plain-HTTP port spoken to with TLS: the handshake fails like on a wrong port.
    c = IsapiClient("127.0.0.1", device.port, username="admin", password=Secret(PASSWORD), scheme="https",
                    timeout=2)
    try:
        with pytest.raises(DeviceUnreachable, match=re.escape("usually 443")) as err:
            await c.get("/ISAPI/System/deviceInfo")
        _no_secret(err.value, c)
    finally:
        await c.close()
