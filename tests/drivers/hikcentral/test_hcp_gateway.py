"""The gateway's refusals as public captures show them: codes, the StringToSign echo, and
what must never be shown of them (an AppSecret some gateway versions append)."""

from __future__ import annotations

import json

import pytest
from gemhost_drivers.hikcentral import gateway
from gemhost_drivers.hikcentral.client import HcpApiError, HcpAuthError, HikCentralClient

from gemhost.model import Secret

# A real gateway's body for a bad signature, as posted in Mayday4671/react_docs_manager,
# docs/2026-02-03/海康API签名路径修复.md (an HCP/Artemis integration's bug report).
REAL_ECHO = {
    "code": "0x02401003",
    "msg": "api AK/SK signature authentication failed,Invalid Signature! and StringToSign: "
           "POST\n*/*\napplication/json\nx-ca-key:20522666\n/artemis/api/irds/v2/resource/resourcesByParams",
}
# The same refusal from a gateway that appends the API name, the AppKey and the AppSecret, as
# recorded in Xsew074748/LineBot, tests/hik-temp-alarm.test.js ("real error from Artemis that
# echoes credentials"; key and secret there are placeholders, as here).
ECHO_WITH_SECRET = {
    "code": "0x02401003",
    "msg": "api AK/SK signature authentication failed,Invalid Signature! and StringToSign: "
           "POST\n*/*\napplication/json\nx-ca-key:FULLKEY-8f3a91c2d7\nx-ca-timestamp:1791176678431\n"
           "/artemis/api/eventService/v1/eventRecords/page, apiName : Search for events, "
           "appKey : FULLKEY-8f3a91c2d7, secret : FULLSECRET-zq7w2e5r9t",
}


def test_echo_is_cut_after_the_path():
    assert gateway.gateway_string_to_sign(REAL_ECHO["msg"]) == (
        "POST\n*/*\napplication/json\nx-ca-key:20522666\n/artemis/api/irds/v2/resource/resourcesByParams")
    cut = gateway.gateway_string_to_sign(ECHO_WITH_SECRET["msg"])
    assert cut == ("POST\n*/*\napplication/json\nx-ca-key:FULLKEY-8f3a91c2d7\nx-ca-timestamp:1791176678431\n"
                   "/artemis/api/eventService/v1/eventRecords/page")
    assert "FULLSECRET" not in cut and "apiName" not in cut
    assert gateway.gateway_string_to_sign("Invalid Signature!") is None
    assert gateway.gateway_string_to_sign("StringToSign: POST\nno path line") is None


def test_sanitize_drops_the_echo_and_any_secret():
    text = gateway.sanitize(ECHO_WITH_SECRET["msg"], "FULLSECRET-zq7w2e5r9t")
    assert text == "api AK/SK signature authentication failed,Invalid Signature! and (StringToSign echoed)"
    assert gateway.sanitize("denied, secret : s3cr3t, appKey : k") == "denied, secret : ***, appKey : k"
    assert gateway.sanitize("the AppSecret abc123 is wrong", "abc123") == "the AppSecret *** is wrong"


@pytest.mark.parametrize("code,reason", [
    ("0x02401000", "auth"), ("0x02401001", "auth"), ("0x02401002", "auth"), ("0x02401003", "auth"),
    ("0x02401007", "permission"), ("17", "permission"), ("130", "permission"), ("0x00072201", "permission"),
    ("128", "api_error"), ("195", "api_error"), ("0x00072002", "api_error"), ("0X0240100A", "api_error"),
])
def test_codes_of_the_guide_are_classified(code, reason):
    known = gateway.classify(code)
    assert known is not None and known[0] == reason and known[1]
    assert gateway.classify("0x99999999") is None


def test_first_difference_names_the_line():
    assert gateway.first_difference("POST\n*/*\n/a", "POST\napplication/json\n/a") == (
        "line 2: the gateway has '*/*', the driver signed 'application/json'")
    assert gateway.first_difference("a\nb", "a\nb") == ""
    assert "3 lines" in gateway.first_difference("a\nb\nc", "a\nb")


class _Headers(dict):
    pass


def _unwrap(body: dict, status: int = 200, secret: str = "FULLSECRET-zq7w2e5r9t", ours: str = "POST\n/x"):
    client = HikCentralClient("https://127.0.0.1:1", "FULLKEY-8f3a91c2d7", Secret(secret))
    return client._unwrap("/artemis/api/eventService/v1/eventRecords/page", status, _Headers(), json.dumps(body), ours)


@pytest.mark.parametrize("status", [200, 401])
def test_a_refused_signature_is_auth_whatever_the_status_and_shows_no_secret(status):
    with pytest.raises(HcpAuthError) as info:
        _unwrap(ECHO_WITH_SECRET, status)
    err = info.value
    assert err.code == "0x02401003" and err.reason == "auth"
    assert err.gateway_string_to_sign.endswith("/artemis/api/eventService/v1/eventRecords/page")
    assert err.our_string_to_sign == "POST\n/x"
    assert "FULLSECRET" not in str(err) and "FULLSECRET" not in err.gateway_string_to_sign


def test_permission_codes_with_http_200_are_permission():
    for code in ("0x02401007", "17"):
        with pytest.raises(HcpApiError) as info:
            _unwrap({"code": code, "msg": "No permission"})
        assert info.value.reason == "permission" and info.value.code == code


def test_an_unknown_code_still_falls_back_to_the_http_status():
    with pytest.raises(HcpAuthError):
        _unwrap({"code": "401", "msg": "Unauthorized"}, status=401)
    with pytest.raises(HcpApiError) as info:
        _unwrap({"code": "0x0000dead", "msg": "odd"}, status=200)
    assert info.value.reason == "api_error" and "0x0000dead" in str(info.value)
