"""Keep the garbage collector's full passes short in a long-running host.

A host with a thousand devices holds a few hundred thousand long-lived objects (sessions,
parsers, schemas, lifetimes). Python's full (generation 2) collection walks all of them, and
a host publishing a thousand events a second triggers one every few seconds: 50-90 ms with
the event loop stopped (bench/README.md), every event in flight delayed by that much. Once
the devices have started, :func:`freeze_when_started` moves what is alive into the
collector's permanent generation (``gc.freeze``): later full passes walk only what came after.
Objects frozen still die by reference counting as usual; only cycles among them wait.

The same moment gives the start-up's freed memory back to the system (:func:`trim_heap`): a
thousand devices connecting at once read and parse their documents together (Event/triggers
alone is several KiB of XML and a tree of it per device), and glibc's allocator keeps what was
freed afterwards, about a fifth of the host's resident memory per camera (bench/README.md,
"Driver-side figures (h14c)").
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
from collections.abc import Callable, Iterable

log = logging.getLogger("gemhost.gc")

SETTLE = 1.0
"""Seconds after the last device's first connection attempt (its event stream opens within
milliseconds of a good connect). The collection itself stops the loop once, for about 0.1 s
with a thousand devices: better in the start-up second than later in the middle of traffic."""
LONGEST = 120.0
"""Freeze by then even if some device is still trying."""


STAGE = 200
"""While devices are still starting, what every STAGE more started devices created is frozen
too: each collection then walks only what came since the previous one (tens of ms), instead of
one pass over everything at the end (about 0.2 s at 2,000 devices, with traffic flowing)."""


async def freeze_when_started(runners: Callable[[], Iterable], *, settle: float = SETTLE,
                              longest: float = LONGEST, stage: int = STAGE) -> None:
    """Wait until every device (``runners()``: objects with a ``first_attempt`` flag) made
    its first attempt, then ``settle`` seconds more; collect once and freeze what is left.
    On the way, freeze in stages of ``stage`` started devices (see STAGE)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + longest
    frozen_at = 0
    while loop.time() < deadline:
        current = list(runners())
        started = sum(1 for r in current if r.first_attempt.is_set())
        if started >= len(current):
            break
        if started - frozen_at >= stage:
            _collect_and_freeze()
            frozen_at = started
        await asyncio.sleep(0.5)
    await asyncio.sleep(settle)
    _collect_and_freeze()
    trim_heap()


def _collect_and_freeze() -> None:
    gc.collect()  # frozen objects are not walked: only what came since the last freeze
    gc.freeze()
    log.debug("garbage collector: %d start-up objects frozen", gc.get_freeze_count())


def trim_heap() -> bool:
    """Return the C allocator's free memory to the system (glibc ``malloc_trim``); False where
    the C library has no such call (musl, macOS, Windows): nothing to do there."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        trim = None
    if trim is None:
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim(0)
    return True
