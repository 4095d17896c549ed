"""Artemis OpenAPI request signing (HikCentral Professional's integration gateway).

HikCentral's OpenAPI gateway ("Artemis") authenticates every request by an HMAC-SHA256 over a
canonical "string to sign"; there is no session, so a wrong AppSecret fails on every call. The
algorithm, as the vendor's artemis-http-client SDK builds it (see docs/drivers/hikcentral.md):

    METHOD "\\n"
    [Accept "\\n"] [Content-MD5 "\\n"] [Content-Type "\\n"] [Date "\\n"]   (each only when sent)
    for every signed x-ca-* header, sorted by name:  name ":" value "\\n"
    path ["?" sorted query "k=v" joined by "&"]

signature = base64(HMAC-SHA256(AppSecret, string_to_sign)); it travels in ``x-ca-signature``
and the names of the signed x-ca-* headers in ``x-ca-signature-headers`` (comma separated), so
the server can rebuild exactly the same string. Both sides of that live here: the client signs
with :func:`signed_headers` and the simulator checks with :func:`verify`, so they cannot drift.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

ACCEPT = "application/json"
CONTENT_TYPE = "application/json;charset=UTF-8"
# Standard headers that take part in the string to sign by position, not by name.
POSITIONAL = ("accept", "content-md5", "content-type", "date")
EXCLUDED = {"x-ca-signature", "x-ca-signature-headers"}


def content_md5(body: bytes) -> str:
    """Base64 of the body's MD5, the ``Content-MD5`` header the SDK sends with a body."""
    return base64.b64encode(hashlib.md5(body).digest()).decode("ascii")


def canonical_resource(path: str, query: Mapping[str, str] | None = None) -> str:
    """Path plus the query sorted by key; a key without value is written bare."""
    if not query:
        return path
    parts = []
    for key in sorted(query):
        value = query[key]
        parts.append(f"{key}={value}" if value not in (None, "") else key)
    return path + "?" + "&".join(parts)


def string_to_sign(method: str, path: str, headers: Mapping[str, str], signed: list[str],
                   query: Mapping[str, str] | None = None) -> str:
    """The canonical string; ``headers`` keys are matched case-insensitively.

    ``signed`` lists the x-ca-* header names that take part (what ``x-ca-signature-headers``
    carries); positional headers are left out of it even if named.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    out = [method.upper() + "\n"]
    for name in POSITIONAL:
        value = lower.get(name)
        if value is not None:
            out.append(value + "\n")
    for name in sorted({n.strip().lower() for n in signed if n.strip()} - EXCLUDED - set(POSITIONAL)):
        out.append(f"{name}:{lower.get(name, '')}\n")
    out.append(canonical_resource(path, query))
    return "".join(out)


def signature(secret: str, text: str) -> str:
    """Base64 HMAC-SHA256 of ``text`` keyed with the AppSecret."""
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def http_date(when: dt.datetime | None = None) -> str:
    """RFC 1123 date in GMT, the form of the ``Date`` header."""
    when = when or dt.datetime.now(dt.UTC)
    return when.astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


@dataclass
class SignedRequest:
    """The headers of a signed request and the exact string that was signed (no secret in
    it: shown next to the gateway's echo when a signature is refused)."""

    headers: dict[str, str]
    string_to_sign: str


def sign(app_key: str, app_secret: str, method: str, path: str, body: bytes | None,
         query: Mapping[str, str] | None = None, *, nonce: str | None = None,
         timestamp_ms: int | None = None, date: str | None = None) -> SignedRequest:
    """Every header a signed request needs (nonce/timestamp/date injectable for tests)."""
    headers = {"Accept": ACCEPT}
    if body is not None:
        headers["Content-MD5"] = content_md5(body)
        headers["Content-Type"] = CONTENT_TYPE
    headers["Date"] = date or http_date()
    headers["x-ca-key"] = app_key
    headers["x-ca-nonce"] = nonce or str(uuid.uuid4())
    headers["x-ca-timestamp"] = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    signed = ["x-ca-key", "x-ca-nonce", "x-ca-timestamp"]
    headers["x-ca-signature-headers"] = ",".join(signed)
    text = string_to_sign(method, path, headers, signed, query)
    headers["x-ca-signature"] = signature(app_secret, text)
    return SignedRequest(headers, text)


def signed_headers(app_key: str, app_secret: str, method: str, path: str, body: bytes | None,
                   query: Mapping[str, str] | None = None, *, nonce: str | None = None,
                   timestamp_ms: int | None = None, date: str | None = None) -> dict[str, str]:
    """The headers of :func:`sign` alone."""
    return sign(app_key, app_secret, method, path, body, query, nonce=nonce, timestamp_ms=timestamp_ms,
                date=date).headers


def verify(app_secret: str, method: str, path: str, headers: Mapping[str, str],
           query: Mapping[str, str] | None = None, body: bytes | None = None) -> bool:
    """Server side: rebuild the string from what was received and compare in constant time.

    A ``Content-MD5`` that does not match the body fails too, as the gateway rejects a body
    altered in transit.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    given = lower.get("x-ca-signature")
    if not given:
        return False
    if body is not None and "content-md5" in lower and lower["content-md5"] != content_md5(body):
        return False
    signed = [n for n in lower.get("x-ca-signature-headers", "").split(",") if n]
    expected = signature(app_secret, string_to_sign(method, path, lower, signed, query))
    return hmac.compare_digest(expected, given)
