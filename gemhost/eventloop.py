"""The daemon's event loop: uvloop where it is installed, the standard loop otherwise.

``gemhost run`` spends most of its time in the event loop itself (timers, socket reads and
writes of a thousand alertStreams and the MQTT connection). uvloop runs that part in C on
libuv; at 1,000 cameras it cut the host's CPU per event by about a tenth and shortened the
latency tail (bench/README.md). It is a dependency except on Windows, where it does not
exist, so the standard loop is the fallback, and every other command and the test suite keep
the standard loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def daemon_loop_factory() -> LoopFactory:
    """``uvloop.new_event_loop`` where uvloop can be imported, else ``asyncio.new_event_loop``."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``, for the start-up log line."""
    return "uvloop" if type(loop).__module__.split(".")[0] == "uvloop" else "asyncio"
