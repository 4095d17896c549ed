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
        # real HCP spells it "produceName" (issue 12 item 1; docs/drivers/hikcentral.md)
        assert version["produceName"] == "HikCentral Professional" and "productName" not in version
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
                                          ("permission_17", "permission"), ("error500", "api_error"),
                                          ("bad_json", "bad_response")])
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


# ------------------------------------------------------------ gateway refusals (issue 12 items 3-5, 10)


async def test_gateway_refusals_come_in_the_envelope_with_http_200(small_sim):
    """A real gateway answers key and signature errors with HTTP 200 and the code in the body;
    the client classifies by that code (auth), not by the status."""
    bad_key = HikCentralClient(small_sim.url, "unknown-key", Secret("sim-app-secret"))
    bad_secret = _client(small_sim, secret="wrong-secret")
    try:
        with pytest.raises(HcpAuthError) as key_info:
            await bad_key.version()
        with pytest.raises(HcpAuthError) as sig_info:
            await bad_secret.version()
    finally:
        await bad_key.close()
        await bad_secret.close()
    assert key_info.value.code == "0x02401001" and "no partner has this AppKey" in str(key_info.value)
    sig = sig_info.value
    assert sig.code == "0x02401003" and "AppSecret is wrong" in str(sig)
    # the gateway's echo equals what the driver signed, and neither holds the secret
    assert sig.gateway_string_to_sign == sig.our_string_to_sign
    assert sig.gateway_string_to_sign.startswith("POST\napplication/json\n")
    assert sig.gateway_string_to_sign.endswith("\n/artemis/api/common/v1/version")
    for text in (str(sig), sig.gateway_string_to_sign, repr(sig.args)):
        assert "sim-app-secret" not in text and "wrong-secret" not in text


async def test_test_connection_shows_both_strings_to_sign_when_the_layout_differs(small_sim, monkeypatch):
    """When the gateway reads the request differently from how the driver signed it (here
    something on the way rewrote Accept), test_connection says where the strings part."""
    from gemhost_drivers.hikcentral import signing

    real = signing.sign

    def rewritten_on_the_way(*args, **kwargs):
        signed = real(*args, **kwargs)
        signed.headers["Accept"] = "*/*"
        return signed

    driver, _ = make_driver(small_sim)
    try:
        monkeypatch.setattr(signing, "sign", rewritten_on_the_way)
        client_side = driver.client._secret  # the secret the driver holds (must never be shown)
        result = await driver.command("test_connection", {}, None)
    finally:
        monkeypatch.undo()
        await driver.close()
    assert result["ok"] is False and result["reason"] == "auth" and result["code"] == "0x02401003"
    assert result["gateway_string_to_sign"].startswith("POST\n*/*\n")
    assert result["our_string_to_sign"].startswith("POST\napplication/json\n")
    assert "different string to sign (line 2: the gateway has '*/*'" in result["message"]
    assert client_side.reveal() not in str(result) and "secret :" not in str(result)


async def test_permission_while_looking_up_one_camera_says_permission(small_sim):
    client = _client(small_sim)
    try:
        assert (await client.camera("3"))["cameraName"] == small_sim.cameras["3"].name
        assert await client.camera("99999") is None  # HikCentral's 128: the camera does not exist
        small_sim.deny_camera("3")
        with pytest.raises(HcpApiError) as info:
            await client.camera("3")
        assert info.value.reason == "permission" and info.value.code == "130"
        small_sim.set_fault("permission")
        with pytest.raises(HcpApiError) as info:
            await client.camera("4")
        assert info.value.reason == "permission" and info.value.code == "0x02401007"
    finally:
        await client.close()


async def test_simulator_parameter_errors_use_the_guides_codes(small_sim):
    client = _client(small_sim)
    try:
        cases = [({"pageNo": 1}, "0x00072001"), ({"pageNo": 0, "pageSize": 10}, "0x00072002"),
                 ({"pageNo": 1, "pageSize": 501}, "0x00072002"), ({"pageNo": "x", "pageSize": 5}, "0x00072003")]
        for body, code in cases:
            with pytest.raises(HcpApiError) as info:
                await client.call("/artemis/api/resource/v1/cameras", body)
            assert info.value.code == code and info.value.reason == "api_error", body
        with pytest.raises(HcpApiError) as info:
            await client.ptz("2", 0, "LEFT")  # camera 2 has no PTZ
        assert info.value.code == "195" and "does not support" in str(info.value)
        with pytest.raises(HcpApiError) as info:
            await client.preview_url("424242", "main", "rtsp")
        assert info.value.code == "128"
    finally:
        await client.close()


async def test_http_url_on_an_https_port_suggests_https():
    sim = HikCentralSimulator(cameras=2, https=True)
    await sim.start()
    try:
        plain = HikCentralClient(sim.url.replace("https://", "http://"), "sim-app-key", Secret("sim-app-secret"))
        try:
            with pytest.raises(HcpUnreachable) as info:
                await plain.version()
        finally:
            await plain.close()
        assert "Server disconnected" in str(info.value)
        assert f"Try url: {sim.url}" in str(info.value) and info.value.reason == "unreachable"
    finally:
        await sim.stop()
    sim = HikCentralSimulator(cameras=2)
    await sim.start()
    try:
        tls = HikCentralClient(sim.url.replace("http://", "https://"), "sim-app-key", Secret("sim-app-secret"))
        try:
            with pytest.raises(HcpUnreachable) as info:
                await tls.version()
        finally:
            await tls.close()
        assert info.value.reason == "tls" and f"Try url: {sim.url}" in str(info.value)
    finally:
        await sim.stop()
