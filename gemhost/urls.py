"""URL helpers shared by drivers: nothing that carries credentials is ever published."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def strip_credentials(url: str) -> str:
    """The URL without any user:password part, so nothing secret is ever published."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
