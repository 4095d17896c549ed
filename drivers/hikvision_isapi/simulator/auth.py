"""Server-side HTTP auth of the simulator, the way Hikvision firmware behaves.

Digest per RFC 7616 with MD5 and ``qop="auth"`` (fresh nonce per challenge, nonce count
checked, an expired nonce answered with ``stale=true`` without counting a failure) and
Basic for "very old firmware" mode. Five failed logins lock the account: from then on
every request gets 401 with a lock ResponseStatus until it is unlocked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from urllib.request import parse_http_list, parse_keqv_list

LOCK_AFTER = 5
NONCE_LIFETIME = 300.0


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()  # noqa: S324 - RFC 7616 MD5 on purpose


def parse_digest(header: str) -> dict[str, str]:
    """Key/value pairs of a ``Digest k="v", k2=v2`` header (RFC 7616 quoting), keys lower-case;
    a malformed element (no ``=``, empty value) is left out rather than failing the request."""
    rest = header.split(" ", 1)[1] if " " in header else ""
    elements = [e for e in parse_http_list(rest) if e.partition("=")[2]]
    return {key.strip().lower(): value for key, value in parse_keqv_list(elements).items()}


@dataclass
class User:
    name: str
    password: str
    ptz: bool = True


@dataclass
class AuthState:
    """Accounts, nonces and the failed-login counter of one simulated device."""

    realm: str
    mode: str = "digest"
    users: dict[str, User] = field(default_factory=dict)
    failures: int = 0
    locked: bool = False
    failed_logins_total: int = 0
    nonces: dict[str, tuple[float, int]] = field(default_factory=dict)

    def challenge(self, stale: bool = False) -> str:
        if self.mode == "basic":
            return f'Basic realm="{self.realm}"'
        nonce = secrets.token_hex(16)
        self.nonces[nonce] = (time.monotonic(), 0)
        if len(self.nonces) > 1024:
            oldest = sorted(self.nonces, key=lambda k: self.nonces[k][0])[:512]
            for key in oldest:
                del self.nonces[key]
        return (f'Digest qop="auth", realm="{self.realm}", nonce="{nonce}", '
                f'stale="{"TRUE" if stale else "FALSE"}"')

    def check(self, method: str, header: str | None) -> tuple[User | None, str]:
        """(user, "") when authenticated, else (None, reason) with reason in
        {"missing", "stale", "failed", "locked"}; only "failed" counts toward the lock."""
        if not header:
            return None, "locked" if self.locked else "missing"
        scheme = header.split(" ", 1)[0].lower()
        user: User | None = None
        if scheme == "basic" and self.mode == "basic":
            try:
                name, _, password = base64.b64decode(header.split(" ", 1)[1]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError, IndexError):
                name, password = "", None
            cand = self.users.get(name)
            user = cand if cand is not None and password == cand.password else None
        elif scheme == "digest" and self.mode == "digest":
            fields = parse_digest(header)
            nonce = fields.get("nonce", "")
            if nonce not in self.nonces or time.monotonic() - self.nonces[nonce][0] > NONCE_LIFETIME:
                return None, "locked" if self.locked else "stale"
            cand = self.users.get(fields.get("username", ""))
            if cand is not None and self._digest_ok(method, fields, cand):
                nc = int(fields.get("nc", "0") or "0", 16)
                born, last_nc = self.nonces[nonce]
                if nc <= last_nc:
                    return None, "locked" if self.locked else "stale"
                self.nonces[nonce] = (born, nc)
                user = cand
        if self.locked:
            return None, "locked"
        if user is None:
            self.failures += 1
            self.failed_logins_total += 1
            if self.failures >= LOCK_AFTER:
                self.locked = True
            return None, "failed"
        self.failures = 0
        return user, ""

    def _digest_ok(self, method: str, f: dict[str, str], user: User) -> bool:
        ha1 = _md5(f"{user.name}:{self.realm}:{user.password}")
        ha2 = _md5(f"{method}:{f.get('uri', '')}")
        if f.get("qop") == "auth":
            expect = _md5(f"{ha1}:{f.get('nonce')}:{f.get('nc')}:{f.get('cnonce')}:auth:{ha2}")
        else:
            expect = _md5(f"{ha1}:{f.get('nonce')}:{ha2}")
        return secrets.compare_digest(expect, f.get("response", ""))

    def unlock(self) -> None:
        self.locked = False
        self.failures = 0
