"""Where an HPP account lives: the token domains and the area domains of guide 3.1.

The token is requested at the domain the site file names (guide 3.1: ``https://api.hik-partner.com``
in general, ``https://api.hik-partnerru.com`` for Russia); the answer's ``areaDomain`` is the
regional domain every other call must use ("You should use the returned domain name when
calling the other APIs"). The client follows it, but only to a domain of the vendor: the token
travels to it in every request, so an ``areaDomain`` pointing anywhere else is refused.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

# Guide 3.1, response parameter areaDomain (and the original names usable until end of 2023).
AREA_NAMES: dict[str, str] = {
    "ieuapi.hik-partner.com": "Europe",
    "iusapi.hik-partner.com": "Northern America",
    "isaapi.hik-partner.com": "South America",
    "isgpapi.hik-partner.com": "Singapore",
    "api.hik-partnerru.com": "Russia",
    "api.hik-proconnectru.com": "Russia",
    "api.hik-proconnect.com": "Others",
}
TOKEN_DOMAINS = {"https://api.hik-partner.com": "General", "https://api.hik-partnerru.com": "Russia"}
VENDOR_SUFFIXES = (".hik-partner.com", ".hik-partnerru.com", ".hik-proconnect.com", ".hik-proconnectru.com")


def origin(url: str) -> str:
    """``scheme://host[:port]`` in lower case: a trailing slash or path does not matter."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme.lower()}://{host}{port}"


def is_loopback(url: str) -> bool:
    host = (urlsplit(url.strip()).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def area_name(area_domain: str) -> str | None:
    """The guide's region name of an area domain (``None`` for a domain it does not list)."""
    return AREA_NAMES.get((urlsplit(area_domain.strip()).hostname or "").lower())


def check_area_domain(area_domain: str, token_domain: str) -> str:
    """The origin to send every further call to, or ValueError saying why it is refused.

    Accepted: an https domain of the vendor (guide 3.1), or, when the token domain itself is a
    loopback simulator, another loopback address (the simulator's regional listener).
    """
    area = origin(area_domain)
    parts = urlsplit(area)
    host = parts.hostname or ""
    if is_loopback(token_domain) and is_loopback(area) and parts.scheme in ("http", "https"):
        return area
    if parts.scheme != "https":
        raise ValueError(f"the cloud named the area domain {area_domain!r}, which is not https")
    if not (host.endswith(VENDOR_SUFFIXES) or f".{host}".endswith(VENDOR_SUFFIXES)):
        raise ValueError(
            f"the cloud named the area domain {area_domain!r}, which is not a Hik-Partner Pro domain "
            "(guide 3.1); refusing to send the access token there"
        )
    return area
