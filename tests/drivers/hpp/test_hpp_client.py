"""HppClient against the simulator over loopback: tokens, regions, faults."""

from __future__ import annotations

import asyncio

import pytest
from gemhost_drivers.hpp.client import Credentials, HppClient, same_domain

from gemhost.errors import AuthError, DeviceError, DeviceUnreachable
from gemhost.model import Secret

KEY = "hpp-key-3f1c9a7be0d24e55a1"
AK = "A" * 10 + "1" * 22
SK = "S" * 10 + "2" * 22


def key_client(sim, key: str = KEY, **kw) -> HppClient:
    return HppClient(sim.url, Credentials("key", key=Secret(key)), **kw)


async def test_key_mode_issues_a_token_and_lists_sites(sim):
    client = key_client(sim)
    try:
        sites = await client.sites()
    finally:
        await client.close()
    assert {s["id"] for s in sites} == {"s-1001", "s-1002"}
    assert sim.cloud.counters["tokens_issued"] == 1


async def test_aksk_mode_issues_a_token(sim):
    client = HppClient(sim.url, Credentials("aksk", access_key=AK, secret_key=Secret(SK)))
    try:
        devices = await client.devices("s-1001")
    finally:
        await client.close()
    assert {d["deviceSerial"] for d in devices} == {"Q10000001", "Q20000001"}


async def test_wrong_key_is_an_auth_error_without_the_key_and_without_retry(sim):
    client = key_client(sim, key="wrong-key-value-1234")
    try:
        with pytest.raises(AuthError) as err:
            await client.sites()
    finally:
        await client.close()
    assert "wrong-key-value-1234" not in str(err.value)
    assert sim.cloud.counters["token_requests"] == 1


async def test_wrong_secret_key_is_an_auth_error(sim):
    client = HppClient(sim.url, Credentials("aksk", access_key=AK, secret_key=Secret("X" * 32)))
    try:
        with pytest.raises(AuthError):
            await client.token()
    finally:
        await client.close()


async def test_account_of_another_region_names_the_right_domain(sim):
    sim.cloud.add_foreign_account("eu", key="eu-account-key-000111")
    client = key_client(sim, key="eu-account-key-000111")
    try:
        with pytest.raises(DeviceError) as err:
            await client.token()
    finally:
        await client.close()
    assert "account is located in another region: https://ieu.hik-partner.com" in str(err.value)


async def test_area_domain_different_from_configured_domain_is_refused(sim):
    # The same simulator reached under another spelling of loopback answers its own URL as area.
    other = sim.url.replace("127.0.0.1", "localhost")
    client = HppClient(other, Credentials("key", key=Secret(KEY)))
    try:
        with pytest.raises(DeviceError, match="another region"):
            await client.token()
    finally:
        await client.close()


async def test_token_is_refreshed_before_it_expires(sim):
    sim.cloud.token_ttl = 1.0
    client = key_client(sim)
    try:
        await client.sites()
        await asyncio.sleep(0.9)  # past 80 % of the lifetime, still before expiry
        await client.sites()
    finally:
        await client.close()
    assert sim.cloud.counters["tokens_issued"] == 2
    assert sim.cloud.counters["expired_token_uses"] == 0


async def test_revoked_token_is_replaced_once(sim):
    client = key_client(sim)
    try:
        await client.sites()
        sim.inject("revoke_token")
        sites = await client.sites()
    finally:
        await client.close()
    assert len(sites) == 2
    assert sim.cloud.counters["tokens_issued"] == 2


@pytest.mark.parametrize(
    ("fault", "error", "text"),
    [
        ("error500", DeviceError, "HTTP 500"),
        ("bad_json", DeviceError, "not JSON"),
    ],
)
async def test_faults_become_clear_errors(sim, fault, error, text):
    client = key_client(sim)
    try:
        await client.token()
        sim.inject(fault)
        with pytest.raises(error, match=text):
            await client.sites()
        assert len(await client.sites()) == 2  # the next request works again
    finally:
        await client.close()


async def test_slow_cloud_times_out(sim):
    client = key_client(sim, timeout=0.2)
    try:
        await client.token()
        sim.inject("slow", delay=1.0)
        with pytest.raises(DeviceUnreachable, match="in time"):
            await client.sites()
    finally:
        await client.close()


async def test_unreachable_domain():
    client = HppClient("http://127.0.0.1:9", Credentials("key", key=Secret(KEY)), timeout=2)
    try:
        with pytest.raises(DeviceUnreachable):
            await client.token()
    finally:
        await client.close()


def test_repr_and_credentials_hide_secrets():
    creds = Credentials("aksk", access_key=AK, secret_key=Secret(SK))
    client = HppClient("https://isgp.hik-partner.com", creds)
    assert SK not in repr(client) and SK not in repr(creds)
    assert creds.token_body() == {"appKey": AK, "secretKey": SK}


def test_same_domain_ignores_trailing_slash_and_case():
    assert same_domain("https://ISGP.hik-partner.com/", "https://isgp.hik-partner.com")
    assert not same_domain("https://ieu.hik-partner.com", "https://isgp.hik-partner.com")
