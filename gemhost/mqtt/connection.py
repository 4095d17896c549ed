"""Turning the site's ``mqtt`` block into aiomqtt client arguments.

Kept apart from the bridge so the URL/TLS/credential rules are testable without a broker,
and so the one place that reveals the broker password is easy to audit.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt

from gemhost.model import Secret, reveal


@dataclass
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None
    password: Secret | None

    def __repr__(self) -> str:  # never show the password
        return f"BrokerAddress({self.host}:{self.port}, tls={self.tls}, user={self.username!r})"


def parse_broker(url: str, username: str | None = None, password: Any = None) -> BrokerAddress:
    """``mqtt://[user[:pass]@]host[:port]`` or ``mqtts://``; explicit username/password
    settings win over the URL's."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError("broker must be 'embedded' or an mqtt:// or mqtts:// URL with a host")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise ValueError("broker URL has an invalid port") from None
    user = username or (unquote(parts.username) if parts.username else None)
    secret: Secret | None = None
    if password is not None and reveal(password):
        secret = password if isinstance(password, Secret) else Secret(str(password))
    elif parts.password:
        secret = Secret(unquote(parts.password))
    return BrokerAddress(parts.hostname, port, tls, user, secret)


def tls_arguments(cfg: Any, address: BrokerAddress) -> dict[str, Any]:
    """aiomqtt TLS keyword arguments, or none when the connection is plain."""
    ca = getattr(cfg, "tls_ca_file", None)
    if not (address.tls or ca):
        return {}
    verify = bool(getattr(cfg, "tls_verify", True))
    params = aiomqtt.TLSParameters(
        ca_certs=str(ca) if ca else None,
        certfile=str(cfg.tls_certfile) if getattr(cfg, "tls_certfile", None) else None,
        keyfile=str(cfg.tls_keyfile) if getattr(cfg, "tls_keyfile", None) else None,
        cert_reqs=ssl.CERT_REQUIRED if verify else ssl.CERT_NONE,
    )
    return {"tls_params": params, "tls_insecure": not verify}
