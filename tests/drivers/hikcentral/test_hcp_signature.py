"""Artemis signing against strings and HMACs built by hand from the documented algorithm."""

from __future__ import annotations

import base64
import hashlib
import hmac

from gemhost_drivers.hikcentral import signing


def _hand_sig(secret: str, text: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()).decode()


def test_string_to_sign_full_request():
    body = b'{"pageNo":1,"pageSize":2}'
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    headers = signing.signed_headers("12345678", "secretXYZ", "POST", "/artemis/api/resource/v1/cameras", body,
                                     nonce="n-1", timestamp_ms=1700000000000,
                                     date="Tue, 14 Nov 2023 22:13:20 GMT")
    expected_text = ("POST\n"
                     "application/json\n"
                     f"{md5}\n"
                     "application/json;charset=UTF-8\n"
                     "Tue, 14 Nov 2023 22:13:20 GMT\n"
                     "x-ca-key:12345678\n"
                     "x-ca-nonce:n-1\n"
                     "x-ca-timestamp:1700000000000\n"
                     "/artemis/api/resource/v1/cameras")
    assert headers["x-ca-signature"] == _hand_sig("secretXYZ", expected_text)
    assert headers["x-ca-signature-headers"] == "x-ca-key,x-ca-nonce,x-ca-timestamp"
    assert headers["Content-MD5"] == md5


def test_absent_standard_headers_leave_no_empty_line_and_query_is_sorted():
    text = signing.string_to_sign("get", "/artemis/api/example", {"Accept": "*/*", "x-ca-key": "k"},
                                  ["x-ca-key"], {"qb": "2", "qa": "1", "qc": ""})
    assert text == "GET\n*/*\nx-ca-key:k\n/artemis/api/example?qa=1&qb=2&qc"


def test_known_vector_from_hand_computed_hmac():
    # The example of the public HCP guide (method, Accept, Content-Type, URI), signed by hand.
    text = "POST\n*/*\napplication/json\n/artemis/api/example"
    got = signing.string_to_sign("POST", "/artemis/api/example",
                                 {"Accept": "*/*", "Content-Type": "application/json"}, [])
    assert got == text
    assert signing.signature("abc", got) == _hand_sig("abc", text)
    assert signing.signature("abc", got) != signing.signature("abd", got)


def test_verify_accepts_own_signature_and_rejects_tampering():
    body = b'{"a":1}'
    headers = signing.signed_headers("key", "sec", "POST", "/artemis/x", body)
    assert signing.verify("sec", "POST", "/artemis/x", headers, body=body)
    assert not signing.verify("wrong", "POST", "/artemis/x", headers, body=body)
    assert not signing.verify("sec", "POST", "/artemis/y", headers, body=body)
    assert not signing.verify("sec", "POST", "/artemis/x", headers, body=b'{"a":2}')
    tampered = dict(headers, **{"x-ca-nonce": "other"})
    assert not signing.verify("sec", "POST", "/artemis/x", tampered, body=body)
