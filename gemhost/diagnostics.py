"""Secrets out of a diagnostics capture before it leaves the machine (``gemhost diagnose``).

A capture is what a user attaches to a bug report, so it must hold nothing that opens the
device or names the installation: every value of the device's secret attributes is replaced
wherever it turns up (a password echoed in a device name, a key in a URL), and the fields
that carry credentials or identify the unit are replaced whole (:data:`REDACT_KEYS`, matched
case-insensitively on the field name, as devices spell them ``userName`` or ``UserName``).
"""

from __future__ import annotations

import json
from typing import Any

from gemhost.model import DeviceConfig, Secret

REDACTED = "**REDACTED**"
REDACT_KEYS = frozenset({
    # credentials (ISAPI httpHosts and users, cloud and VMS keys)
    "password", "passwd", "pwd", "username", "user", "secret", "secretkey", "appsecret", "accesskey",
    "apikey", "api_key", "key", "token", "accesstoken", "authorization", "encryptkey",
    # what identifies the unit or the network it is in
    "serialnumber", "serial", "macaddress", "mac", "deviceid", "ipaddress", "ipv6address",
})


def device_secrets(device: DeviceConfig) -> list[str]:
    """The plain values of every secret attribute of the device and its zones, longest first."""
    values = [*device.attributes.values(), *(v for z in device.zones.values() for v in z.attributes.values())]
    found = {v.reveal() for v in values if isinstance(v, Secret) and v.reveal()}
    return sorted(found, key=len, reverse=True)


def redact(value: Any, secrets: list[str]) -> Any:
    """A copy of ``value`` (JSON-like data) without the secrets and the :data:`REDACT_KEYS` fields."""
    if isinstance(value, dict):
        return {key: REDACTED if _sensitive(key) and value[key] not in (None, "") else redact(value[key], secrets)
                for key in value}
    if isinstance(value, list):
        return [redact(item, secrets) for item in value]
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
    return value


def _sensitive(key: Any) -> bool:
    return isinstance(key, str) and key.lstrip("@#").lower() in REDACT_KEYS


def to_json(capture: Any, secrets: list[str]) -> str:
    """The redacted capture as JSON text; refuses (ValueError) if a secret survived anyway."""
    text = json.dumps(redact(capture, secrets), indent=2, ensure_ascii=False, default=str) + "\n"
    # a secret with a quote or backslash in it stands escaped in JSON text: look for both forms
    if any(secret in text or json.dumps(secret, ensure_ascii=False)[1:-1] in text for secret in secrets):
        raise ValueError("a secret value is still in the capture; nothing written")
    return text
