"""Pending stops of what a command started for a while: a PTZ move with a ``duration``, an
output pulse.

Such a command answers as soon as the start is sent, and the stop runs later as a driver task:
a long duration must neither hold a command slot nor outlive the host's command timeout (which
would cancel a stop the command awaited). One key (a channel, an output) has at most one pending
stop: a newer command on it replaces the older stop, so a late stop never halts the newer move.
A failed stop is logged, never raised (the move already ran, nobody waits for it). The driver
calls :meth:`TimedStops.close` from its ``close()`` so a closed driver sends nothing.

The object is a read-only mapping of key -> pending task, so a test or a diagnostic can see
what is pending (``len(stops)``, ``stops == {}``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from gemhost.errors import one_line


class TimedStops(Mapping[str, "asyncio.Task[None]"]):
    """At most one pending stop per key, run ``delay_ms`` after :meth:`schedule`."""

    def __init__(self, log: logging.Logger | logging.LoggerAdapter) -> None:
        self.log = log
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def __getitem__(self, key: str) -> asyncio.Task[None]:
        return self._tasks[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tasks)

    def __len__(self) -> int:
        return len(self._tasks)

    def cancel(self, key: str) -> None:
        """Drop the key's pending stop (a new command on it supersedes the stop)."""
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()

    def schedule(self, key: str, delay_ms: int | None, stop: Callable[[], Awaitable[Any]], what: str) -> None:
        """Replace the key's pending stop; with a ``delay_ms``, run ``stop()`` after it.

        ``what`` names the stop in the warning a failure logs (``"PTZ stop after 500 ms on
        channel 2"`` -> ``"... failed: <reason>"``)."""
        self.cancel(key)
        if not delay_ms:
            return

        async def later() -> None:
            try:
                await asyncio.sleep(delay_ms / 1000)
                await stop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the start already ran: report, never raise
                self.log.warning("%s failed: %s", what, one_line(exc))
            finally:
                if self._tasks.get(key) is asyncio.current_task():
                    del self._tasks[key]

        self._tasks[key] = asyncio.create_task(later(), name=f"timed-stop:{key}")

    async def close(self) -> None:
        """Cancel every pending stop and wait until they are gone (call from ``Driver.close``)."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
