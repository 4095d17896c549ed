"""gemhost.flag.Flag behaves as asyncio.Event where the host uses it (set, clear, wait)."""

from __future__ import annotations

import asyncio

import pytest

from gemhost.flag import Flag


@pytest.mark.parametrize("make", [Flag, asyncio.Event], ids=["Flag", "asyncio.Event"])
async def test_flag_behaves_like_an_event(make):
    flag = make()
    assert not flag.is_set()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    flag.set()
    flag.clear()  # set wakes the current waiters even if cleared before they run
    assert await asyncio.wait_for(asyncio.gather(*waiters), 5) == [True, True, True]
    late = asyncio.create_task(flag.wait())
    await asyncio.sleep(0.01)
    assert not late.done()  # cleared: a new waiter waits
    late.cancel()
    with pytest.raises(asyncio.CancelledError):
        await late
    flag.set()
    assert flag.is_set() and await asyncio.wait_for(flag.wait(), 5) is True


async def test_a_cancelled_waiter_leaves_nothing_behind_and_the_others_still_wake():
    flag = Flag()
    gone = asyncio.create_task(flag.wait())
    stays = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.gather(gone, return_exceptions=True)
    flag.set()
    assert await asyncio.wait_for(stays, 5) is True
    assert Flag(True).is_set()
