"""ISAPI clients of one host share one HTTP session (gemhost.httpshare), and nothing of one
device reaches another: not its credentials or digest state, not a cookie. Against the
simulator and a cookie-setting loopback server over real HTTP."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from gemhost_drivers.hikvision_isapi.client import CONNECTIONS_PER_DEVICE, IsapiClient
from gemhost_drivers.hikvision_isapi.simulator import IsapiSimulator

from gemhost import httpshare
from gemhost.errors import AuthError

DEVICE_INFO = "/ISAPI/System/deviceInfo"


def client_for(sim: IsapiSimulator, username: str, password: str, **kw) -> IsapiClient:
    return IsapiClient("127.0.0.1", sim.port, username=username, password=password, timeout=5, **kw)


@pytest.fixture
async def two_devices():
    """Two cameras on the same address, each with its own account."""
    a = IsapiSimulator(username="alice", password="alice-Pass-1")
    b = IsapiSimulator(username="bob", password="bob-Pass-22")
    await a.start()
    await b.start()
    yield a, b
    await a.stop()
    await b.stop()


async def test_devices_share_a_session_but_not_their_credentials(two_devices):
    sim_a, sim_b = two_devices
    alice, bob = client_for(sim_a, "alice", "alice-Pass-1"), client_for(sim_b, "bob", "bob-Pass-22")
    try:
        for _ in range(3):  # interleaved, concurrent: each nonce and count stays with its device
            replies = await asyncio.gather(alice.get(DEVICE_INFO), bob.get(DEVICE_INFO))
            assert [r.status for r in replies] == [200, 200]
        assert alice._session is bob._session and httpshare.open_sessions() == 1  # noqa: SLF001
        # a credential sent to the wrong camera would be a failed login there
        assert sim_a.auth.failed_logins_total == 0 and sim_b.auth.failed_logins_total == 0
        assert {user for _, _, user in sim_b.requests} <= {"", "Digest"}
    finally:
        await alice.close()
        await bob.close()
    assert httpshare.open_sessions() == 0  # the last lease closed it


async def test_a_wrong_password_costs_only_its_own_device(two_devices):
    sim_a, sim_b = two_devices
    alice, bob = client_for(sim_a, "alice", "alice-Pass-1"), client_for(sim_b, "bob", "bob-Pass-22")
    wrong = client_for(sim_b, "bob", "not-the-password")
    try:
        await alice.get(DEVICE_INFO)
        with pytest.raises(AuthError):
            await wrong.get(DEVICE_INFO)
        assert sim_b.auth.failed_logins_total == 1  # one request, one failed login
        assert (await bob.get(DEVICE_INFO)).status == 200  # the right account on the same camera
        assert (await alice.get(DEVICE_INFO)).status == 200
        assert sim_a.auth.failed_logins_total == 0
    finally:
        for client in (alice, bob, wrong):
            await client.close()


async def test_basic_auth_header_stays_per_request(two_devices):
    """Basic mode: the Authorization header goes with each request of its device only."""
    sim_a, sim_b = two_devices
    sim_a.auth.mode = sim_b.auth.mode = "basic"
    alice = client_for(sim_a, "alice", "alice-Pass-1", auth_mode="basic")
    bob = client_for(sim_b, "bob", "bob-Pass-22", auth_mode="basic")
    try:
        assert [r.status for r in await asyncio.gather(alice.get(DEVICE_INFO), bob.get(DEVICE_INFO))] == [200, 200]
        assert alice._session is bob._session  # noqa: SLF001
        assert sim_a.auth.failed_logins_total == 0 and sim_b.auth.failed_logins_total == 0
    finally:
        await alice.close()
        await bob.close()


class CookieServer:
    """A loopback server that sets a cookie on every answer and records the cookies it gets."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.received: list[str | None] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(request.headers.get("Cookie"))
        response = web.Response(body=b"<DeviceInfo/>", content_type="application/xml")
        response.set_cookie(f"WebSession_{self.name}", f"secret-of-{self.name}", path="/")
        return response

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


async def test_a_cookie_one_device_sets_never_reaches_another():
    """Cookie jars ignore ports, so a jar shared by devices on one address would pass device
    A's session cookie to device B: the shared session keeps no cookies at all. The devices
    are named ``localhost`` (loopback): aiohttp's jar refuses cookies of IP addresses, so with
    127.0.0.1 this test could not fail."""
    first, second = CookieServer("a"), CookieServer("b")
    await first.start()
    await second.start()
    a = IsapiClient("localhost", first.port, username="u", password="p", timeout=5)
    b = IsapiClient("localhost", second.port, username="u", password="p", timeout=5)
    try:
        for _ in range(2):
            await a.get("/ISAPI/System/deviceInfo")
            await b.get("/ISAPI/System/deviceInfo")
        assert a._session is b._session  # noqa: SLF001
        assert second.received == [None, None] and first.received == [None, None]
    finally:
        await a.close()
        await b.close()
        await first.stop()
        await second.stop()


async def test_tls_settings_and_limits_of_the_shared_session():
    """One session per TLS-verification setting; connections limited per device, not in
    total (a thousand alertStreams must not queue behind a global limit)."""
    plain = IsapiClient("127.0.0.1", 1, username="u", password="p", verify_tls=False)
    checked = IsapiClient("127.0.0.1", 2, username="u", password="p", verify_tls=True)
    try:
        s_plain, s_checked = plain._session_now(), checked._session_now()  # noqa: SLF001
        assert s_plain is not s_checked and httpshare.open_sessions() == 2
        for session in (s_plain, s_checked):
            assert session.connector.limit == 0 and session.connector.limit_per_host == CONNECTIONS_PER_DEVICE
    finally:
        await plain.close()
        await checked.close()
    assert httpshare.open_sessions() == 0
