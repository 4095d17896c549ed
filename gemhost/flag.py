"""A light asyncio flag: ``asyncio.Event``'s set / clear / is_set / wait, for objects kept
per device.

Why not ``asyncio.Event`` itself: each one builds its waiter deque up front, about 1.1 KiB
with its ``__dict__``, and a device holds three (the runner's first attempt and idle flags,
the ISAPI driver's login flag) that are almost never waited on: 3 KiB of a camera's 30 at a
thousand cameras (bench/README.md). This one has ``__slots__`` and makes its waiter list only
when someone waits. The semantics are Event's: :meth:`set` wakes every current waiter, even
if :meth:`clear` follows before they run.
"""

from __future__ import annotations

import asyncio


class Flag:
    __slots__ = ("_set", "_waiters")

    def __init__(self, value: bool = False) -> None:
        self._set = value
        self._waiters: list[asyncio.Future[bool]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if self._set:
            return
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(True)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        if self._set:
            return True
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            return await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)

    def __repr__(self) -> str:
        return f"<Flag {'set' if self._set else 'unset'}>"
