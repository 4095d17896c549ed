"""What keeps a host with many devices small: sessions shared by device clients
(gemhost.httpshare) and the start-up's freed memory given back (gemhost.gcfreeze.trim_heap)."""

from __future__ import annotations

import asyncio
import platform
import sys

import aiohttp

from gemhost import httpshare
from gemhost.gcfreeze import trim_heap


def test_trim_heap_where_the_c_library_has_it():
    on_glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert trim_heap() is on_glibc


async def test_leases_share_one_session_until_the_last_is_given_back():
    first = httpshare.lease(verify_tls=False, per_device=8)
    second = httpshare.lease(verify_tls=False, per_device=8)
    other_limit = httpshare.lease(verify_tls=False, per_device=2)
    try:
        assert first is second and other_limit is not first
        assert isinstance(first.cookie_jar, aiohttp.DummyCookieJar)  # no cookie crosses devices
        await httpshare.give_back(first)
        assert not second.closed  # one lease left
        await httpshare.give_back(second)
        assert second.closed
        again = httpshare.lease(verify_tls=False, per_device=8)  # a new one after the last went
        assert again is not first
        await httpshare.give_back(again)
    finally:
        await httpshare.give_back(other_limit)
    assert httpshare.open_sessions() == 0


def test_a_loop_that_ended_with_leases_open_leaves_nothing_behind():
    """Leases a finished event loop never gave back are forgotten; each loop gets its own."""
    async def leaked() -> aiohttp.ClientSession:
        return httpshare.lease(verify_tls=True, per_device=8)

    loop = asyncio.new_event_loop()
    old = loop.run_until_complete(leaked())
    loop.run_until_complete(old.close())
    loop.close()

    async def fresh() -> bool:
        session = httpshare.lease(verify_tls=True, per_device=8)
        try:
            return session is not old and httpshare.open_sessions() == 1
        finally:
            await httpshare.give_back(session)
    assert asyncio.run(fresh())
