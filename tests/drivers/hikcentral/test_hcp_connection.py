"""Client and test_connection against the simulator: success and every failure reason."""

from __future__ import annotations

import logging
import socket

import pytest
from gemhost_drivers.hikcentral.client import HcpApiError, HcpAuthError, HcpUnreachable, HikCentralClient
from gemhost_drivers.hikcentral.simulator import HikCentralSimulator
from hcp_fakes import make_driver

from gemhost.errors import AuthError
from gemhost.model import Secret


def _client(sim, secret="sim-app-secret", **kw) -> HikCentralClient:
    return HikCentralClient(sim.url, "sim-app-key", Secret(secret), **kw)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_version_and_paging_over_http(sim):
    client = _client(sim)
    try:
        version = await client.version()
        assert version["productName"] == "HikCentral Professional"
        cameras = await client.all_cameras()
        assert len(cameras) == 1200
        assert len({c["cameraIndexCode"] for c in cameras}) == 1200
        assert sim.requests.count("/artemis/api/resource/v1/cameras") == 3  # 500 + 500 + 200
    finally:
        await client.close()


async def test_https_self_signed_verify_off_and_with_ca_file():
    sim = HikCentralSimulator(cameras=5, https=True)
    await sim.start()
    try:
        assert sim.url.startswith("https://127.0.0.1:")
        for client in (_client(sim), _client(sim, verify_tls=True, ca_file=sim.cert_file)):
            try:
                assert (await client.version())["softVersion"]
            finally:
                await client.close()
        strict = _client(sim, verify_tls=True)
        try:
            with pytest.raises(HcpUnreachable) as info:
                await strict.version()
            assert info.value.reason == "tls"
        finally:
            await strict.close()
    finally:
        await sim.stop()


async def test_wrong_secret_is_auth_error_without_leaking_secret(small_sim):
    client = _client(small_sim, secret="not-the-secret")
    try:
        with pytest.raises(HcpAuthError) as info:
            await client.version()
    finally:
        await client.close()
    assert isinstance(info.value, AuthError)
    assert "not-the-secret" not in str(info.value) and "not-the-secret" not in repr(client)
    assert small_sim.rejected_signatures == 1


@pytest.mark.parametrize("fault,reason", [("api_disabled", "api_disabled"), ("permission", "permission"),
                                          ("500", "api_error"), ("bad_json", "bad_response")])
async def test_faults_map_to_reasons(small_sim, fault, reason):
    small_sim.set_fault(fault)
    client = _client(small_sim)
    try:
        with pytest.raises(HcpApiError) as info:
            await client.version()
        assert info.value.reason == reason
    finally:
        await client.close()


async def test_slow_server_times_out(small_sim):
    small_sim.set_fault("slow")
    client = _client(small_sim, timeout=0.5)
    try:
        with pytest.raises(HcpUnreachable) as info:
            await client.version()
        assert info.value.reason == "timeout"
    finally:
        await client.close()


async def test_test_connection_ok_and_every_reason(small_sim):
    driver, _ctx = make_driver(small_sim)
    try:
        ok = await driver.command("test_connection", {}, None)
        assert ok == {"ok": True, "product": "HikCentral Professional", "version": "V2.4.1 build20230529",
                      "cameras": 30}
        for fault, reason in (("api_disabled", "api_disabled"), ("permission", "permission")):
            small_sim.set_fault(fault)
            result = await driver.command("test_connection", {}, None)
            assert result["ok"] is False and result["reason"] == reason and result["message"]
        small_sim.set_fault(None)
    finally:
        await driver.close()
    wrong, _ = make_driver(small_sim, app_secret=Secret("bad-secret"))
    try:
        result = await wrong.command("test_connection", {}, None)
        assert result["ok"] is False and result["reason"] == "auth"
        assert "bad-secret" not in str(result)
    finally:
        await wrong.close()


async def test_test_connection_unreachable_and_tls():
    class Nowhere:
        url = f"http://127.0.0.1:{_closed_port()}"

    driver, _ = make_driver(Nowhere)
    try:
        result = await driver.command("test_connection", {}, None)
        assert result["ok"] is False and result["reason"] == "unreachable"
    finally:
        await driver.close()
    sim = HikCentralSimulator(cameras=3, https=True)
    await sim.start()
    try:
        driver, _ = make_driver(sim, verify_tls=True)
        try:
            result = await driver.command("test_connection", {}, None)
            assert result["ok"] is False and result["reason"] == "tls"
        finally:
            await driver.close()
    finally:
        await sim.stop()


async def test_connect_returns_device_info_and_raises_auth_on_wrong_key(small_sim):
    driver, _ = make_driver(small_sim, events=False)
    try:
        info = await driver.connect()
        assert info.model == "HikCentral Professional" and info.firmware == "V2.4.1 build20230529"
        assert info.extra["cameras"] == 30
    finally:
        await driver.close()
    bad, _ = make_driver(small_sim, app_key="unknown-key", events=False)
    try:
        with pytest.raises(AuthError):
            await bad.connect()
    finally:
        await bad.close()


async def test_secret_never_logged(small_sim, caplog):
    caplog.set_level(logging.DEBUG)
    driver, _ = make_driver(small_sim, app_secret=Secret("super-secret-value"))
    try:
        await driver.command("test_connection", {}, None)
        with pytest.raises(AuthError) as info:
            await driver.connect()
    finally:
        await driver.close()
    assert "super-secret-value" not in caplog.text
    assert "super-secret-value" not in str(info.value) and "super-secret-value" not in repr(driver.client)
