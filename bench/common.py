"""What every benchmark here shares: /proc readings, loopback ports, stock mosquitto, and
children that can neither block nor outlive the benchmark.

Why children are handled this carefully: a child whose stdout or stderr is a pipe nobody
reads blocks in ``write()`` once the pipe's 64 KiB are full (the host froze that way at 1,000
cameras, logging a warning per publish). So every child writes its log to a file in the
work folder, and a child that talks to the benchmark (JSON lines on stdout) is read by a
task that never stops reading. Every child is started through :func:`guarded`, which makes
the kernel send it SIGTERM if the benchmark dies, and :class:`Child.stop` ends it on every
path (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gemhost.testing import free_port_in

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TICKS = os.sysconf("SC_CLK_TCK")
PORT_RANGE = (22000, 29999)
"""Ports this benchmark may bind (loopback only)."""
MOSQUITTO = "/usr/sbin/mosquitto"
PR_SET_PDEATHSIG = 1
LINE_LIMIT = 256 * 1024 * 1024
"""Longest JSON line a child may send (a report holds every latency of a run)."""


# ---------------------------------------------------------------- /proc readings


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def sys_seconds(pid: int) -> float:
    """stime alone: the part of :func:`cpu_seconds` spent in the kernel (system calls)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[12]) / TICKS


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def machine_busy() -> float:
    """Seconds of CPU the whole machine spent not idle (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / TICKS


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown CPU")
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return f"{os.cpu_count()} cores ({model}), Python {sys.version.split()[0]}, load average {load}"


def freeze_heap() -> None:
    """Collect and freeze this process's heap before a measured window: a full collection of
    thousands of simulators (and a subscriber) would stall the loop that stamps the alerts and
    takes them in, and the latency figures would blame the consumer for it."""
    gc.collect()
    gc.freeze()


# ---------------------------------------------------------------- ports


def loopback_port(used: set[int] | None = None) -> int:
    """A free TCP port on 127.0.0.1 inside :data:`PORT_RANGE` (never outside it)."""
    port = free_port_in(*PORT_RANGE, used if used is not None else set())
    if port is None:
        raise RuntimeError(f"no free port in {PORT_RANGE}")
    return port


async def wait_listening(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} is not listening on 127.0.0.1:{port}") from None
            await asyncio.sleep(0.025)


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(every)


# ---------------------------------------------------------------- children


HARNESS_NICE = -10
"""Scheduling priority of the harness (the cameras, the broker, the receiver): they stand for
the network and must not be starved by the consumers measured (pyhik runs thousands of
threads, and the kernel shares the CPU per thread). Consumers keep the default, 0."""


def harness_priority() -> bool:
    """Give this process the harness's priority; False where that is not allowed (not root)."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, HARNESS_NICE)
        return True
    except OSError:
        return False


def guarded(argv: list[str], nice: int | None = None) -> list[str]:
    """``argv`` run through this module's guard: it asks the kernel to SIGTERM it when the
    benchmark process dies (PR_SET_PDEATHSIG survives exec), sets ``nice`` (absolute) if
    given, then execs ``argv``."""
    extra = ["--nice", str(nice)] if nice is not None else []
    return [sys.executable, str(Path(__file__).resolve()), "--guard", str(os.getpid()), *extra, "--", *argv]


def _guard_and_exec(parent: int, argv: list[str], nice: int | None = None) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if nice is not None:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, 0, nice)
    if os.getppid() != parent:  # the benchmark died before the guard was in place
        sys.exit(1)
    os.execvp(argv[0], argv)


class Child:
    """A child process: stderr (and stdout, unless it speaks JSON lines) filed in ``log``;
    JSON lines on stdout read continuously into :attr:`messages`; commands on stdin."""

    def __init__(self, name: str, argv: list[str], log: Path, *, json_lines: bool = False,
                 env: dict[str, str] | None = None, nice: int | None = None) -> None:
        self.name = name
        self.nice = nice
        self.argv = argv
        self.log = log
        self.json_lines = json_lines
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.messages: list[dict[str, Any]] = []
        self.started = 0.0
        self._new = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> Child:
        with self.log.open("ab") as logfile:  # the child keeps its own copy of the descriptor
            self.started = time.time()
            self.proc = await asyncio.create_subprocess_exec(
                *guarded(self.argv, self.nice), env=self.env, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE if self.json_lines else logfile, stderr=logfile,
                start_new_session=True, limit=LINE_LIMIT)
        if self.json_lines:
            self._reader = asyncio.create_task(self._read(), name=f"read:{self.name}")
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            try:
                message = json.loads(line)
            except ValueError:
                message = {"text": line.decode(errors="replace").rstrip()}
            async with self._new:
                self.messages.append(message)
                self._new.notify_all()
        async with self._new:
            self._new.notify_all()

    async def expect(self, key: str, timeout: float) -> dict[str, Any]:
        """The first message carrying ``key`` (waits for it; fails if the child exits)."""
        async def find() -> dict[str, Any]:
            async with self._new:
                while True:
                    for message in self.messages:
                        if key in message:
                            self.messages.remove(message)
                            return message
                    if self.proc is not None and self.proc.returncode is not None:
                        raise RuntimeError(f"{self.name} exited ({self.proc.returncode}) before sending "
                                           f"{key!r}; its log: {self.log}\n{self.tail()}")
                    await self._new.wait()
        try:
            return await asyncio.wait_for(find(), timeout)
        except TimeoutError:
            raise RuntimeError(f"{self.name} sent no {key!r} within {timeout:g} s; its log: {self.log}\n"
                               f"{self.tail()}") from None

    async def send(self, command: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command).encode() + b"\n")
        await self.proc.stdin.drain()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    async def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; always reaps the child."""
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._reader, 5)


class Children:
    """Every child of a run, stopped in reverse order of start whatever happens."""

    def __init__(self) -> None:
        self.all: list[Child] = []

    async def start(self, child: Child) -> Child:
        self.all.append(child)
        return await child.start()

    async def stop(self, child: Child) -> None:
        await child.stop()
        if child in self.all:
            self.all.remove(child)

    async def stop_all(self) -> None:
        for child in reversed(self.all):
            with contextlib.suppress(Exception):
                await asyncio.shield(child.stop())
        self.all.clear()


def mosquitto_child(workdir: Path, port: int, extra: str = "", nice: int | None = None) -> Child:
    """Stock Debian mosquitto with its default configuration, except what 2.0 needs to accept
    anyone on one loopback listener (a listener line and allow_anonymous), plus ``extra``
    configuration lines when a benchmark asks for them."""
    conf = workdir / f"mosquitto-{port}.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n{extra}")
    return Child("mosquitto", [MOSQUITTO, "-c", str(conf)], workdir / "mosquitto.log", nice=nice)


async def run_main(main: Callable[[], Any]) -> int:
    """Run ``main()`` so that SIGINT and SIGTERM cancel it (its ``finally`` stops the children)."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(main())
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        print("interrupted; children stopped", file=sys.stderr)
        return 130


if __name__ == "__main__" and len(sys.argv) > 3 and sys.argv[1] == "--guard":
    if sys.argv[3] == "--nice" and sys.argv[5] == "--":
        _guard_and_exec(int(sys.argv[2]), sys.argv[6:], int(sys.argv[4]))
    elif sys.argv[3] == "--":
        _guard_and_exec(int(sys.argv[2]), sys.argv[4:])
