"""Time bounds that hold even against code that ignores cancellation.

``asyncio.timeout`` and ``wait_for`` end a coroutine by cancelling it and then wait for it to
finish; a driver that catches ``CancelledError`` and carries on (or a library whose
``wait_for`` swallows a cancellation racing with its result) makes them wait forever. The
helpers here run the work in its own task and stop *waiting* at the deadline, whether or not
the task agrees to stop: the caller gets its answer on time, and the abandoned task is
cancelled once more and logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

log = logging.getLogger("gemhost.contain")

T = TypeVar("T")

RECANCEL_EVERY = 0.2
"""Seconds between cancellations of a task that ignored the last one."""

_abandoned: set[asyncio.Task[Any]] = set()
"""Tasks that outlived their deadline: referenced so they are not garbage-collected mid-run."""


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], timeout: float) -> list[asyncio.Task[Any]]:
    """Cancel ``tasks`` (again and again: one cancellation can be swallowed) until they are
    done or ``timeout`` has passed; returns those still running, which are abandoned."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pending = {t for t in tasks if not t.done()}
    while pending:
        left = deadline - loop.time()
        if left <= 0:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(RECANCEL_EVERY, left))
    for task in pending:
        _abandon(task)
    return list(pending)


async def bounded(coro: Coroutine[Any, Any, T], timeout: float, name: str,
                  on_done: Callable[[], None] | None = None) -> T:
    """``await coro`` for at most ``timeout`` seconds, then TimeoutError, even when the
    coroutine ignores its cancellation. Cancelling the caller cancels the work too.

    ``on_done`` runs when the work has really ended, which for abandoned work is later than
    this returns: a resource it holds (a device's command slot) stays taken until then."""
    task = asyncio.ensure_future(coro)
    task.set_name(name)
    if on_done is not None:
        task.add_done_callback(lambda _: on_done())
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        _keep(task)
        raise
    if task in done:
        return task.result()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=RECANCEL_EVERY)  # a cooperative task ends at once
    if not done:
        _abandon(task)
    elif not task.cancelled() and task.exception() is None:
        log.debug("task %s finished just after its deadline", name)
    raise TimeoutError


def _abandon(task: asyncio.Task[Any]) -> None:
    log.warning("task %s ignored its deadline and cancellation; abandoned", task.get_name())
    _keep(task)


def _keep(task: asyncio.Task[Any]) -> None:
    if task.done() or task in _abandoned:
        return
    _abandoned.add(task)
    task.add_done_callback(_forget)


def _forget(task: asyncio.Task[Any]) -> None:
    _abandoned.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.debug("abandoned task %s ended with %r", task.get_name(), task.exception())


def run(main: Coroutine[Any, Any, T], grace: float = 2.0,
        loop_factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop) -> T:
    """:func:`asyncio.run`, except that at the end leftover tasks get ``grace`` seconds to
    finish after their cancellation instead of forever: ``asyncio.run`` waits for every task,
    so one abandoned driver task that ignores cancellation would keep the process from ever
    exiting after SIGTERM. ``loop_factory`` makes the loop (``gemhost run``: uvloop where
    installed, gemhost.eventloop)."""
    loop = loop_factory()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=grace))
            stuck = [t.get_name() for t in pending if not t.done()]
            if stuck:
                log.warning("%d task(s) ignored cancellation at exit and are left behind: %s", len(stuck),
                            ", ".join(stuck[:5]))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
