"""Access tokens for commands: scoped to devices, zones and commands, with expiry.

Modelled on the HikCentral integration practice of one token per use case. Only a SHA-256
of each token is stored: the tokens are 256-bit random values, so a plain hash is enough
(no salt or slow KDF needed, unlike passwords) and a stolen tokens.json grants nothing.
The file is re-read when it changes, so ``gemhost token revoke`` takes effect on a running
host without a reload. Names, never values, appear in logs and errors.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gemhost import atomicfile
from gemhost.errors import UNAUTHORIZED, CommandError
from gemhost.statedir import state_root

PREFIX = "gh_"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ALL = "*"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TokenStore:
    """The token file of one site (``<state root>/tokens.json``)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._cache: dict[str, Any] | None = None
        self._stamp: tuple[int, int] | None = None

    @classmethod
    def for_site(cls, site_path: Path | None) -> TokenStore:
        return cls(state_root(site_path) / "tokens.json")

    # ------------------------------------------------------------ file

    def _load(self) -> dict[str, Any]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._cache, self._stamp = {"tokens": {}}, None
            return self._cache
        stamp = (st.st_mtime_ns, st.st_size)
        if self._cache is None or stamp != self._stamp:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("tokens"), dict):
                raise ValueError(f"{self.path}: not a gemhost token file")
            self._cache, self._stamp = data, stamp
        return self._cache

    def _save(self, data: dict[str, Any]) -> None:
        """Atomic and owner-only: a half-written file must never lock everyone out."""
        atomicfile.write_text(self.path, json.dumps(data, indent=2, sort_keys=True), mode=0o600)
        self._cache, self._stamp = None, None

    # ------------------------------------------------------------ admin

    def create(self, name: str, devices: list[str] | None, zones: list[str] | None,
               commands: list[str] | None, ttl_seconds: float | None) -> str:
        """Issue a token and return its value; this is the only time it is ever visible.

        ``devices``/``commands``: ids or ``*``; ``zones``: ``device/zone`` pairs that are
        covered even when their device is not. ``ttl_seconds`` None means no expiry."""
        if not NAME.match(name or ""):
            raise ValueError("token name must be 1-64 letters, digits, '_', '.' or '-'")
        if not devices and not zones:
            raise ValueError("a token must cover at least one device or zone (use '*' for all)")
        for zone in zones or []:
            if zone.count("/") != 1 or not all(zone.split("/")):
                raise ValueError(f"zone {zone!r} must be written device/zone")
        if ttl_seconds is not None and ttl_seconds <= 0:
            raise ValueError(f"ttl must be positive ({NO_EXPIRY_HINT})")
        with self._lock:
            data = json.loads(json.dumps(self._load()))
            if name in data["tokens"] and not data["tokens"][name].get("revoked"):
                raise ValueError(f"a token named {name!r} exists; revoke it first")
            token = PREFIX + secrets.token_urlsafe(32)
            created = _now()
            data["tokens"][name] = {
                "sha256": _hash(token),
                "devices": sorted(set(devices or [])),
                "zones": sorted(set(zones or [])),
                "commands": sorted(set(commands or [ALL])),
                "created": created.isoformat(timespec="seconds"),
                "expires": (created + dt.timedelta(seconds=ttl_seconds)).isoformat(timespec="seconds")
                if ttl_seconds is not None else None,
                "revoked": False,
            }
            self._save(data)
        return token

    def revoke(self, name: str) -> bool:
        """Mark a token revoked (kept, so the log of who had what stays readable)."""
        with self._lock:
            data = json.loads(json.dumps(self._load()))
            entry = data["tokens"].get(name)
            if entry is None or entry.get("revoked"):
                return False
            entry["revoked"] = True
            entry["revoked_at"] = _now().isoformat(timespec="seconds")
            self._save(data)
            return True

    def list(self) -> list[dict[str, Any]]:
        """Names, scopes, expiry and status; never the secret nor its hash."""
        now = _now()
        out = []
        for name, entry in sorted(self._load()["tokens"].items()):
            status = "revoked" if entry.get("revoked") else (
                "expired" if _expired(entry, now) else "active")
            out.append({"name": name, "devices": entry["devices"], "zones": entry["zones"],
                        "commands": entry["commands"], "created": entry.get("created"),
                        "expires": entry.get("expires"), "status": status})
        return out

    # ------------------------------------------------------------ check

    def identify(self, token: str | None) -> tuple[str, dict[str, Any]]:
        """The live token's name and entry; CommandError("unauthorized") when the token is
        missing, unknown, revoked or expired (checked before anything about the site)."""
        if not token:
            raise CommandError(UNAUTHORIZED, "this site requires a token; send one in the 'token' field")
        digest = _hash(token)
        found: tuple[str, dict[str, Any]] | None = None
        for name, entry in self._load()["tokens"].items():
            if hmac.compare_digest(entry.get("sha256", ""), digest):
                found = (name, entry)
        if found is None:
            raise CommandError(UNAUTHORIZED, "unknown token")
        name, entry = found
        if entry.get("revoked"):
            raise CommandError(UNAUTHORIZED, f"token {name!r} has been revoked")
        if _expired(entry, _now()):
            raise CommandError(UNAUTHORIZED, f"token {name!r} expired at {entry['expires']}")
        return name, entry

    def grant(self, token: str | None, device: str, command: str | None) -> Grant:
        """What a live token allows ``command`` on ``device`` to reach, decided from the
        request alone: no site lookup has happened yet, so a refusal here says nothing about
        the site. CommandError("unauthorized") when the token is not live, does not allow the
        command (``None``: not known yet, checked later), or covers neither the device nor any
        of its zones."""
        name, entry = self.identify(token)
        commands = entry.get("commands") or []
        if command is not None and ALL not in commands and command not in commands:
            raise CommandError(UNAUTHORIZED, f"token {name!r} does not allow command {command!r}")
        devices = entry.get("devices") or []
        whole = ALL in devices or device in devices
        zones = frozenset(z.split("/", 1)[1] for z in entry.get("zones") or [] if z.split("/", 1)[0] == device)
        if not whole and not zones:
            raise CommandError(UNAUTHORIZED, f"token {name!r} does not cover device {device!r}")
        return Grant(name, device, whole, zones)

    def authorize(self, token: str | None, device: str, zone: str | None, command: str) -> str:
        """The name of the token when it covers ``device`` (or ``device/zone``) and
        ``command`` and is live; otherwise CommandError("unauthorized")."""
        grant = self.grant(token, device, command)
        if grant.whole_device or (zone is not None and grant.covers_zone(zone)):
            return grant.name
        where = f"zone {device}/{zone}" if zone is not None else f"device {device!r}"
        raise CommandError(UNAUTHORIZED, f"token {grant.name!r} does not cover {where}")


@dataclass(frozen=True)
class Grant:
    """A live token's reach for one request on one device: the whole device, or some zones."""

    name: str
    device: str
    whole_device: bool
    zones: frozenset[str]
    """Zone ids of ``device`` the token covers (``*`` for all of them)."""

    def covers_zone(self, zone: str) -> bool:
        return self.whole_device or ALL in self.zones or zone in self.zones

    def refusal(self) -> CommandError:
        """The one answer for everything outside a zone-scoped token's reach: the same
        words whether the device, command or zone exists or not, naming only what the
        caller sent."""
        return CommandError(UNAUTHORIZED, f"token {self.name!r} does not cover this request on device "
                            f"{self.device!r}")


def _expired(entry: dict[str, Any], now: dt.datetime) -> bool:
    expires = entry.get("expires")
    return bool(expires) and dt.datetime.fromisoformat(expires) <= now


NO_EXPIRY_HINT = "use 'never' for a token that does not expire"


def parse_ttl(text: str) -> float | None:
    """``90s``, ``15m``, ``1h``, ``7d``, ``2w``, plain seconds, or ``never`` (the one way
    to say "no expiry": a zero lifetime, however written, is refused, not read as forever)."""
    text = text.strip().lower()
    if text in ("never", "none"):
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw]?)", text)
    if not match:
        raise ValueError(f"cannot read ttl {text!r} (examples: 30m, 1h, 7d, never)")
    factor = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
    seconds = float(match.group(1)) * factor
    if seconds <= 0:
        raise ValueError(f"ttl {text!r} must be positive ({NO_EXPIRY_HINT})")
    return seconds
