"""Noticing a blocked event loop, and naming the driver that blocks it.

Every device shares one event loop, so a driver that calls something blocking (a sync HTTP
library, ``time.sleep``, heavy parsing) stalls every other device, the MQTT session and the
command replies. That cannot be preempted in asyncio, but it can be seen: the loop ticks a
heartbeat, and a watchdog thread that misses it looks at what the loop's thread is running
(``sys._current_frames``) and logs the driver module on that stack, the task (which names
the device) and the line. Cheap: one callback per tick, one thread that sleeps.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

log = logging.getLogger("gemhost.watchdog")

STALL_AFTER = 1.0
"""Seconds without a heartbeat before the loop counts as blocked."""
TICK = 0.1


class LoopWatchdog:
    """Watches one event loop from a thread of its own."""

    def __init__(self, loop: asyncio.AbstractEventLoop, driver_of: Callable[[str], str | None],
                 stall_after: float = STALL_AFTER) -> None:
        """``driver_of(module name)`` returns the driver a module belongs to, or None."""
        self.loop = loop
        self.driver_of = driver_of
        self.stall_after = stall_after
        self.stalls = 0
        """Stalls seen so far (each is logged when it starts and when it ends)."""
        self._beat = time.monotonic()
        self._loop_thread = threading.get_ident()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Call from the loop's own thread."""
        self._loop_thread = threading.get_ident()
        self._tick()
        self._thread = threading.Thread(target=self._watch, name="gemhost-loop-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _tick(self) -> None:
        self._beat = time.monotonic()
        if not self._stop.is_set():
            self._handle = self.loop.call_later(TICK, self._tick)

    def _watch(self) -> None:
        blocked_since: float | None = None
        culprit = ""
        while not self._stop.wait(TICK):
            silent = time.monotonic() - self._beat
            if silent >= self.stall_after and blocked_since is None:
                blocked_since = self._beat
                self.stalls += 1
                culprit = self._culprit()
                log.warning("event loop blocked for %.1f s so far%s: every device waits", silent, culprit)
            elif silent < self.stall_after and blocked_since is not None:
                log.warning("event loop was blocked for %.1f s%s", self._beat - blocked_since - TICK, culprit)
                blocked_since = None

    def _culprit(self) -> str:
        """`` by driver 'x' (device d, task t, at file:line in func)`` from the loop thread's stack."""
        frame = sys._current_frames().get(self._loop_thread)  # noqa: SLF001 - the documented way to peek
        task = _current_task_name(self.loop)
        device = _device_of(task)
        where = ""
        driver = None
        while frame is not None:
            name = frame.f_globals.get("__name__", "")
            found = self.driver_of(name)
            if found is not None:
                driver, where = found, _where(frame)
                break
            frame = frame.f_back
        parts = [f"device {device}"] if device else []
        if task:
            parts.append(f"task {task}")
        if where:
            parts.append(f"at {where}")
        detail = f" ({', '.join(parts)})" if parts else ""
        return f" by driver {driver!r}{detail}" if driver else (f" in{detail}" if detail else "")


def _where(frame: FrameType) -> str:
    return f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno} in {frame.f_code.co_name}"


def _current_task_name(loop: asyncio.AbstractEventLoop) -> str | None:
    try:
        task = asyncio.current_task(loop)  # read from another thread: only the name is used
    except RuntimeError:
        return None
    return task.get_name() if task is not None else None


def _device_of(task: str | None) -> str | None:
    """The device in the runner's task names: ``liveness:cam1``, ``command:cam1/snapshot``."""
    if not task or ":" not in task:
        return None
    kind, _, rest = task.partition(":")
    if kind not in ("liveness", "events", "command", "close", "zones"):
        return None
    return rest.split("/", 1)[0] or None


def driver_modules(drivers: dict[str, type]) -> Callable[[str], str | None]:
    """``driver_of`` for :class:`LoopWatchdog`: a module belongs to a driver when it is the
    driver class's module or lives in the same package."""
    packages = {}
    for name, cls in drivers.items():
        module = cls.__module__
        packages[module.rpartition(".")[0] or module] = name

    def driver_of(module: str) -> str | None:
        for package, name in packages.items():
            if module == package or module.startswith(package + "."):
                return name
        return None

    return driver_of
