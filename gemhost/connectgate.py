"""Spreading many devices' connection attempts: a thousand cameras must not all log in at once.

When a host starts, or the site's network comes back after a power cut, every device tries to
connect in the same instant. Each attempt is a login (a digest handshake, a device-info read)
with its transient buffers; all at once they make the start slower than taking turns, and the
memory they held at their peak stays fragmented for the life of the process (bench/README.md,
memory per camera). The gate lets :data:`CONCURRENT` attempts run at once.

A device that does not answer must not hold the others back (a misbehaving device never takes
others down): each slot is given back when its attempt ends or after :data:`HOLD` seconds,
whichever comes first. So even if every attempt hangs, new ones still start at
CONCURRENT / HOLD per second, and a hung attempt keeps its own timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

CONCURRENT = 32
HOLD = 0.25
"""Seconds a slow attempt keeps its slot before the next device may start."""


class ConnectGate:
    """A semaphore whose slots also come back after ``hold`` seconds."""

    def __init__(self, concurrent: int = CONCURRENT, hold: float = HOLD) -> None:
        self.concurrent = concurrent
        self.hold = hold
        self._slots = asyncio.Semaphore(concurrent)

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for a slot, then run the attempt (the slot comes back at its end at the latest)."""
        await self._slots.acquire()
        given_back = False

        def give_back() -> None:
            nonlocal given_back
            if not given_back:
                given_back = True
                self._slots.release()

        timer = asyncio.get_running_loop().call_later(self.hold, give_back)
        try:
            yield
        finally:
            timer.cancel()
            give_back()
