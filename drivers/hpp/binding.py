"""The HPP account a device entry is bound to, kept in the device's state directory.

HikCentral's guide forbids changing an HPP connection once it is saved: devices, zones and the
consumed event queue all belong to that one account, so silently pointing the same entry at
another account (or region) would mix two customers' data. We therefore record the account on
the first successful connect and refuse a different one later; ``gemhost hpp unbind`` removes
the record on purpose. The record never holds a secret: key mode stores a short fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gemhost import atomicfile
from gemhost.errors import DeviceError
from gemhost.model import Secret, reveal

FILE_NAME = "hpp_binding.json"


@dataclass(frozen=True)
class Binding:
    access_mode: str
    key_id: str
    domain: str

    def describe(self) -> str:
        return f"{self.access_mode} {self.key_id} at {self.domain}"


def key_fingerprint(key: Secret | str) -> str:
    """A SHA-256 prefix: enough to tell keys apart, and no character of the key itself."""
    plain = reveal(key)
    return f"sha256:{hashlib.sha256(plain.encode()).hexdigest()[:12]}"


def normalize_domain(domain: str) -> str:
    parts = urlsplit(domain.strip())
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def binding_for(settings: Any) -> Binding:
    """The binding the configured attributes describe (``settings``: the driver's typed view)."""
    mode = settings.access_mode
    key_id = key_fingerprint(settings.key or "") if mode == "key" else str(settings.access_key or "")
    return Binding(access_mode=mode, key_id=key_id, domain=normalize_domain(str(settings.domain)))


def load(state_dir: Path) -> Binding | None:
    path = state_dir / FILE_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Binding(
            access_mode=str(raw["access_mode"]), key_id=str(raw["key_id"]), domain=str(raw["domain"])
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DeviceError(
            f"cannot read the HPP binding {path}: {exc}; run `gemhost hpp unbind SITE DEVICE` to reset it"
        ) from None


def check(state_dir: Path, wanted: Binding) -> bool:
    """Raise DeviceError if another account is bound; True when a binding already exists."""
    bound = load(state_dir)
    if bound is None:
        return False
    if bound != wanted:
        raise DeviceError(
            f"this HPP connection is bound to {bound.describe()} but is now configured as "
            f"{wanted.describe()}; an HPP connection cannot be changed once saved — run "
            "`gemhost hpp unbind SITE DEVICE` to change it deliberately"
        )
    return True


def record(state_dir: Path, binding: Binding) -> None:
    """Write the binding atomically (a crash leaves the old file or the new one, never half)."""
    atomicfile.write_text(state_dir / FILE_NAME, json.dumps(asdict(binding), indent=2, ensure_ascii=False) + "\n")


def unbind(state_dir: Path) -> bool:
    """Forget the bound account; True when there was one to forget."""
    path = state_dir / FILE_NAME
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
