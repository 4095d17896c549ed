"""HTTP sessions shared by the devices of one host.

A host with a thousand cameras used to hold a thousand ``aiohttp.ClientSession`` objects,
each with its own ``TCPConnector`` (pool, DNS cache, cleanup timers, cookie jar): several KiB
of Python objects per device that say nothing about the device (bench/isapi_memory.py). A
device client leases one session here instead, shared by every client of the same event loop
and TLS setting, and keeps what belongs to the device on its own side:

* credentials and auth state: passed with each request (``middlewares=`` for digest, whose
  nonce and count then stay per device; an ``Authorization`` header for basic), never set on
  the shared session;
* connection limits: the connector limits connections per endpoint (``limit_per_host``: host,
  port and TLS of one device), not in total, so a thousand alertStreams never queue behind
  one another;
* timeouts: given per request, as before;
* cookies: none are kept (``aiohttp.DummyCookieJar``). One jar shared by devices would hand a
  cookie one device set to another: a jar ignores ports, and many devices share an address
  (NVR channels, port forwards). The clients that share sessions authenticate every request
  and need no cookie.

A lease is given back when the client closes; the last one closes the session.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp


@dataclass
class _Shared:
    session: aiohttp.ClientSession
    leases: int = 0


_shared: dict[tuple[asyncio.AbstractEventLoop, bool, int], _Shared] = {}


def lease(*, verify_tls: bool, per_device: int) -> aiohttp.ClientSession:
    """The shared session of the running loop for this TLS setting and per-device connection
    limit (made on first use). Give it back with :func:`give_back` exactly once."""
    loop = asyncio.get_running_loop()
    for key in [k for k in _shared if k[0].is_closed()]:  # leases a finished loop never gave back
        del _shared[key]
    key = (loop, verify_tls, per_device)
    entry = _shared.get(key)
    if entry is None or entry.session.closed:
        connector = aiohttp.TCPConnector(ssl=None if verify_tls else False, limit=0, limit_per_host=per_device)
        entry = _shared[key] = _Shared(aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), raise_for_status=False))
    entry.leases += 1
    return entry.session


async def give_back(session: aiohttp.ClientSession) -> None:
    """End one lease of ``session``; the last lease closes it (and its connections)."""
    for key, entry in list(_shared.items()):
        if entry.session is session:
            entry.leases -= 1
            if entry.leases <= 0:
                del _shared[key]
                await session.close()
            return


def open_sessions() -> int:
    """Shared sessions currently open (for tests and diagnostics)."""
    return sum(1 for entry in _shared.values() if not entry.session.closed)
