"""The HPP client against the simulator: token and its errors (guide 2.2, 3.1, A.1), the area
domain (3.1), paging and the transport's failure modes (issue 11 items 1 and 2)."""

from __future__ import annotations

import pytest
from gemhost_drivers.hpp import codes, regions
from gemhost_drivers.hpp.client import Credentials, HppApiError, HppClient
from gemhost_drivers.hpp.simulator import HppSimulator

from gemhost.errors import AuthError, DeviceError, DeviceUnreachable
from gemhost.model import Secret


def key_client(sim: HppSimulator, key: str, **kwargs) -> HppClient:
    return HppClient(sim.url, Credentials("key", key=Secret(key)), **kwargs)


def aksk_client(sim: HppSimulator, ak: str, sk: str, **kwargs) -> HppClient:
    return HppClient(sim.url, Credentials("aksk", access_key=ak, secret_key=Secret(sk)), **kwargs)


async def test_key_mode_issues_a_token_and_lists_sites(sim, hpp):
    client = key_client(sim, hpp.KEY)
    try:
        sites = await client.sites()
    finally:
        await client.close()
    assert [s["id"] for s in sites] == ["s-1001", "s-1002"]
    assert client.tokens_issued == 1


async def test_aksk_mode_posts_appkey_and_secretkey(sim, hpp):
    client = aksk_client(sim, hpp.AK, hpp.SK)
    try:
        token = await client.token()
    finally:
        await client.close()
    assert token.startswith("hpc.") and sim.cloud.tokens[token][1] == hpp.AK


@pytest.mark.parametrize(
    ("ak", "sk", "code", "words"),
    [
        ("B" * 32, "S" * 32, "LAP300001", "AK not found."),
        (None, "S" * 10 + "9" * 22, "LAP300002", "AK and SK mismatches."),
    ],
)
async def test_wrong_ak_or_secret_is_an_auth_failure_without_retry(sim, hpp, ak, sk, code, words):
    """Item 1: LAP300001/LAP300002 are AuthError (the host's two-login back-off applies)."""
    client = aksk_client(sim, ak or hpp.AK, sk)
    try:
        with pytest.raises(AuthError) as caught:
            await client.token()
    finally:
        await client.close()
    assert f"{words} (HPP {code})" in str(caught.value) and sk not in str(caught.value)
    assert sim.cloud.counters["token_requests"] == 1


async def test_wrong_key_is_an_auth_failure_that_names_no_key(sim):
    client = key_client(sim, "not-the-key-at-all")
    try:
        with pytest.raises(AuthError, match="LAP300001") as caught:
            await client.token()
    finally:
        await client.close()
    assert "not-the-key" not in str(caught.value)


async def test_expired_token_is_refreshed_once_and_the_call_retried(sim, hpp):
    """Item 1: LAP500004 (expired) -> one new token, the same call again, transparently."""
    client = key_client(sim, hpp.KEY)
    try:
        first = await client.token()
        sim.cloud.tokens[first] = (0.0, "key")  # the cloud now considers it expired
        sites = await client.sites()
    finally:
        await client.close()
    assert len(sites) == 2 and client.tokens_issued == 2
    assert sim.cloud.counters["expired_token_uses"] == 1


@pytest.mark.parametrize("code", sorted(codes.TOKEN_REJECTED))
async def test_every_token_code_of_a1_refreshes_once(sim, hpp, code, monkeypatch):
    """LAP500002-LAP500005 all mean "get a new token" (A.1); a second refusal is an error."""
    client = key_client(sim, hpp.KEY)
    original = sim.cloud.check_token
    refusals = {"left": 2}

    def refuse(header):
        if refusals["left"]:
            refusals["left"] -= 1
            from gemhost_drivers.hpp.simulator.cloud import CloudError

            raise CloudError(code)
        return original(header)

    monkeypatch.setattr(sim.cloud, "check_token", refuse)
    try:
        with pytest.raises(DeviceError, match=f"refused a freshly issued token: .*{code}"):
            await client.sites()
        assert client.tokens_issued == 2
        refusals["left"] = 1
        assert len(await client.sites()) == 2
    finally:
        await client.close()


async def test_revoked_token_is_replaced_once(sim, hpp):
    client = key_client(sim, hpp.KEY)
    try:
        await client.token()
        sim.cloud.revoke_tokens()  # LAP500005 for the old one
        assert len(await client.sites()) == 2
    finally:
        await client.close()
    assert client.tokens_issued == 2


async def test_token_is_refreshed_before_it_expires():
    """Refreshed once 80 % of its life is gone, before the cloud would refuse it."""
    sim = HppSimulator(key="short-lived-key-000000", token_ttl=100, long_poll=0)
    await sim.start()
    client = key_client(sim, "short-lived-key-000000")
    try:
        await client.sites()
        start = client.clock()
        client.clock = lambda: start + 85  # 85 % of the 100 s lifetime later
        await client.sites()
    finally:
        await client.close()
        await sim.stop()
    assert client.tokens_issued == 2 and sim.cloud.counters["expired_token_uses"] == 0


async def test_calls_go_to_the_answered_area_domain_not_the_token_domain(sim, hpp):
    """Item 2: the token at `domain`, everything else at areaDomain (3.1)."""
    client = key_client(sim, hpp.KEY)
    try:
        await client.sites()
        await client.devices()
    finally:
        await client.close()
    assert client.domain == sim.url and client.area_domain == sim.area_url != sim.url
    assert sim.cloud.counters["area_requests"] == 2  # only the two calls; the token went to sim.url
    assert sim.cloud.counters["requests"] == 3


@pytest.mark.parametrize("area", ["https://evil.example.com", "http://ieuapi.hik-partner.com", "ftp://x"])
async def test_an_area_domain_that_is_not_the_vendors_is_refused(hpp, area):
    """3.1 lists the area domains; the token travels to it, so anything else is refused."""
    sim = HppSimulator(key=hpp.KEY, long_poll=0, area_domain=area)
    await sim.start()
    client = key_client(sim, hpp.KEY)
    try:
        with pytest.raises(DeviceError, match="area domain"):
            await client.sites()
    finally:
        await client.close()
        await sim.stop()
    assert sim.cloud.counters["area_requests"] == 0


def test_vendor_area_domains_are_accepted_and_named():
    for domain, name in [("https://ieuapi.hik-partner.com", "Europe"), ("https://iusapi.hik-partner.com/",
                         "Northern America"), ("https://isaapi.hik-partner.com", "South America"),
                         ("https://api.hik-partnerru.com", "Russia")]:
        assert regions.check_area_domain(domain, "https://api.hik-partner.com") == domain.rstrip("/")
        assert regions.area_name(domain) == name
    with pytest.raises(ValueError):
        regions.check_area_domain("http://127.0.0.1:9", "https://api.hik-partner.com")


async def test_rate_limit_is_a_clear_api_error(sim, hpp):
    client = key_client(sim, hpp.KEY)
    try:
        await client.token()
        sim.queue_fault("rate_limit")
        with pytest.raises(HppApiError) as caught:
            await client.sites()
    finally:
        await client.close()
    assert caught.value.code == "LAP500007" and "The number of calling times exceeds limit." in str(caught.value)


@pytest.mark.parametrize(
    ("fault", "text"), [("error500", "HTTP 500"), ("bad_json", "not JSON")],
)
async def test_faults_become_clear_errors(sim, hpp, fault, text):
    client = key_client(sim, hpp.KEY)
    try:
        await client.token()
        sim.queue_fault(fault)
        with pytest.raises(DeviceError, match=text):
            await client.sites()
    finally:
        await client.close()


async def test_slow_cloud_times_out(sim, hpp):
    client = key_client(sim, hpp.KEY, timeout=0.2)
    try:
        await client.token()
        sim.queue_fault("slow", seconds=1.0)
        with pytest.raises(DeviceUnreachable, match="did not answer"):
            await client.sites()
    finally:
        await client.close()


async def test_unreachable_domain():
    client = HppClient("http://127.0.0.1:9", Credentials("key", key=Secret("k" * 16)), timeout=1)
    try:
        with pytest.raises(DeviceUnreachable, match="cannot reach"):
            await client.token()
    finally:
        await client.close()


async def test_channel_list_is_a_plain_array(sim, hpp):
    """Item 3: device/camera/list (3.22) answers data as an array, no paging."""
    client = key_client(sim, hpp.KEY)
    try:
        channels = await client.channels("Q10000001")
    finally:
        await client.close()
    assert [(c["channelNo"], c["status"]) for c in channels] == [(1, 1), (2, 1)]


async def test_paged_lists_follow_total_page(hpp):
    sim = HppSimulator(key=hpp.KEY, long_poll=0)
    for n in range(45):
        sim.cloud.add_camera(f"Q5{n:07d}", f"Cam {n}", site_id="s-1001")
    await sim.start()
    client = key_client(sim, hpp.KEY)
    try:
        rows = await client.devices()
    finally:
        await client.close()
        await sim.stop()
    assert len(rows) == 48 and len({r["deviceSerial"] for r in rows}) == 48
    assert sim.cloud.counters["area_requests"] == 3  # pages of 20, 20, 8


def test_repr_and_credentials_hide_secrets(hpp):
    creds = Credentials("aksk", access_key=hpp.AK, secret_key=Secret(hpp.SK))
    client = HppClient("https://api.hik-partner.com", creds)
    assert hpp.SK not in repr(client) and hpp.SK not in repr(creds)
    assert "LAP020011" not in codes.DESCRIPTIONS and "LAP008128" not in codes.DESCRIPTIONS  # item 9
    assert codes.describe("LAP068001").startswith("Other user is in search progress")
