"""One running device: its driver, liveness loop, event task, state and command gate.

The runner is the fault boundary. Every driver call has a timeout and every exception is
caught here and turned into device state or a command error code, so a driver that raises,
hangs or times out takes only its own device offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from gemhost import errors
from gemhost.attributes import device_view
from gemhost.backoff import Backoff
from gemhost.bus import Bus, DeviceStateChanged, ZoneStateChanged
from gemhost.connectgate import ConnectGate
from gemhost.contain import bounded
from gemhost.errors import AuthError, CommandError, one_line
from gemhost.flag import Flag
from gemhost.lifetime import ENDED_BY_OFFLINE, ENDED_BY_RELOAD, ENDED_BY_STOP, EventLifetime
from gemhost.model import (
    AUTH_FAILED,
    OFFLINE,
    ONLINE,
    STOPPED,
    DeviceConfig,
    DeviceInfo,
    DeviceState,
    Event,
    ZoneConfig,
    now,
)
from gemhost.plugins import DriverEntry
from gemhost.schema import Command
from gemhost.site import HostConfig
from gemhost.statedir import device_state_dir

AUTH_FAILURE_LIMIT = 2
"""Consecutive auth failures before giving up until reload: Hikvision locks at about five."""
POLL_JITTER = 0.05
"""Each steady poll interval is stretched or shrunk by up to this fraction."""
TRAFFIC_REFRESH_TICKS = 10
"""While the device's own traffic proves it alive (:meth:`Driver.last_traffic`), a liveness
poll is skipped, but every this-many liveness ticks one still runs: it refreshes what the
device says about itself and proves the login still works."""

DIAGNOSTICS_TIMEOUT = 300.0
"""Seconds a whole diagnostics capture may take (tens of requests to a slow recorder)."""

AddZones = Callable[[str, list[dict[str, Any]]], Awaitable[list[str]]]


class DeviceRunner:
    """Runs one device and implements the :class:`gemhost.driver.DeviceContext` it is given."""

    def __init__(self, config: DeviceConfig, entry: DriverEntry, host_cfg: HostConfig, bus: Bus,
                 site_path: Path | None, add_zones: AddZones | None = None, *, events: bool = True,
                 connect_gate: ConnectGate | None = None) -> None:
        self.config = config
        self.entry = entry
        self.host_cfg = host_cfg
        self.bus = bus
        self.site_path = site_path
        self._add_zones = add_zones
        self.events_wanted = events
        self._connect_gate = connect_gate
        """Shared by the host's devices: connection attempts take turns (gemhost.connectgate)."""
        self.log = logging.LoggerAdapter(logging.getLogger(f"gemhost.device.{config.id}"),
                                         {"device": config.id})
        self.state = DeviceState(driver=config.driver)
        self.zone_states: dict[str, dict[str, Any]] = {
            zone.id: {"name": zone.name, "active": {}} for zone in config.zones.values()}
        schema = entry.schema
        self.lifetime = EventLifetime(
            schema.event_kind, self._publish_event, self._zone_flag,
            quiet_time=float(config.attributes.get("event_quiet_time", 5000)) / 1000.0,
            pulse_hold=host_cfg.pulse_hold)
        self._semaphore = asyncio.Semaphore(host_cfg.command_concurrency)
        self._probe = asyncio.Lock()
        """While a refused login is unresolved, device operations take turns through this."""
        self._active = 0
        self._idle = Flag(True)
        self._last_refusal = ""
        self._refusals = 0
        self._auth_failures = 0
        self._connected = False
        self._ticks_since_poll = 0
        self._tasks: list[asyncio.Task] = []
        self.progress_listeners: list[Callable[[int, int | None, str], None]] = []
        self.first_attempt = Flag()
        """Set once the first connect attempt finished, either way (``gemhost call`` waits on it)."""
        self.init_error: str | None = None
        try:
            self.driver = entry.cls(self)
        except Exception as exc:  # a driver that cannot even be built fails this device only
            self.init_error = f"driver could not start: {one_line(exc)}"
            self.driver = None

    @property
    def device(self) -> DeviceConfig:
        """The DeviceContext view of the configuration (always the current one)."""
        return self.config

    # ------------------------------------------------------------ DeviceContext

    @property
    def state_dir(self) -> Path:
        return device_state_dir(self.site_path, self.config.id)

    def emit_event(self, event: Event) -> asyncio.Future[None]:
        """A device report; the core's event lifetime decides what is published."""
        if event.zone is not None and event.zone not in self.zone_states:
            event.zone = None  # a zone removed by a reload: the event is device-level now
        return self.lifetime.report(event)

    def end_open_events(self, reason: str = ENDED_BY_OFFLINE) -> None:
        """End every open condition (the driver's event stream broke and reconnects)."""
        self.lifetime.end_all(reason)

    def _publish_event(self, event: Event) -> asyncio.Future[None]:
        return self.bus.publish_event(self.config.id, event)

    def _zone_flag(self, zone: str, event_type: str, on: bool) -> None:
        state = self.zone_states.get(zone)
        if state is not None and state["active"].get(event_type) != on:
            state["active"][event_type] = on
            self._publish_zone(zone)

    def set_zone_state(self, zone: str, **fields: Any) -> None:
        state = self.zone_states.get(zone)
        if state is None:
            return
        if "active" in fields:
            raise ValueError("a zone's 'active' map belongs to the core's event lifetime; emit events instead")
        changed = {k: v for k, v in fields.items() if state.get(k) != v}
        if changed:
            state.update(changed)
            self._publish_zone(zone)

    def set_device_info(self, info: DeviceInfo) -> None:
        self.state.info = info
        self.bus.publish(DeviceStateChanged(self.config.id, self.state))

    def report_progress(self, done: int, total: int | None, what: str) -> None:
        self.log.info("%s: %d%s %s", self.config.id, done, f"/{total}" if total else "", what)
        for listener in list(self.progress_listeners):
            listener(done, total, what)

    async def add_zones(self, zones: list[dict[str, Any]]) -> list[str]:
        if self._add_zones is None:
            raise errors.NotSupported("this host cannot edit its site file (no site file)")
        return await self._add_zones(self.config.id, zones)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        for zone in self.zone_states:
            self._publish_zone(zone)
        if self.driver is None:
            self.log.error("%s: %s", self.config.id, self.init_error)
            self._set_status(OFFLINE, self.init_error, force=True)
            self.first_attempt.set()
            return
        self._set_status(self.state.status, None, force=True)
        self._tasks.append(asyncio.create_task(self._liveness(), name=f"liveness:{self.config.id}"))

    async def stop(self, reason: str = ENDED_BY_STOP) -> None:
        """Stop the device; its open conditions end with ``reason`` (stop, or reload)."""
        deadline = asyncio.get_running_loop().time() + self.host_cfg.shutdown_timeout
        for task in self._tasks:
            # Re-cancel until done: a driver (or wait_for on 3.11) may swallow one cancellation;
            # but never past the shutdown timeout: a task that refuses to die is abandoned.
            while not task.done() and asyncio.get_running_loop().time() < deadline:
                task.cancel()
                await asyncio.wait({task}, timeout=0.5)
            if not task.done():
                self.log.warning("%s: task %s ignored cancellation; abandoned", self.config.id, task.get_name())
                continue
            if not task.cancelled() and task.exception() is not None:
                self.log.debug("task %s ended with %r", task.get_name(), task.exception())
        self._tasks.clear()
        self.lifetime.end_all(reason)
        try:
            if self.driver is not None:  # bounded even when close() ignores cancellation
                left = max(deadline - asyncio.get_running_loop().time(), 0.1)
                await bounded(self.driver.close(), left, f"close:{self.config.id}")
        except TimeoutError:
            self.log.warning("%s: close did not finish within the shutdown timeout; abandoned", self.config.id)
        except Exception as exc:
            self.log.warning("close failed: %s", one_line(exc))
        self._connected = False
        self._set_status(STOPPED, None)

    async def apply_zones(self, config: DeviceConfig) -> None:
        """Take a new zone list without reconnecting: imports must not drop the device."""
        for zone_id in self.zone_states:
            if zone_id not in config.zones:
                self.lifetime.end_all(ENDED_BY_RELOAD, zone=zone_id)
        self.config = config
        if self.driver is not None:
            self.driver.device = config
        old = self.zone_states
        self.zone_states = {z.id: old.get(z.id) or {"name": z.name, "active": {}} for z in config.zones.values()}
        for zone in config.zones.values():
            self.zone_states[zone.id]["name"] = zone.name
            self._publish_zone(zone.id)
        if not self.state.online or self.driver is None:
            return  # the next successful connect publishes everything anyway
        try:
            await self._on_device(self.driver.zones_changed, self.host_cfg.command_timeout,
                                  f"zones:{self.config.id}")
        except AuthError as exc:  # a refused login here counts like any other
            self._command_refused(exc)
        except Exception as exc:
            self.log.warning("refreshing zones after a site change failed: %s", one_line(exc))

    @property
    def settings(self) -> Any:
        """The typed view of the device's attributes (the core reads its own three from it)."""
        return device_view(self.entry.schema, self.config.attributes)

    @property
    def interval(self) -> float:
        return float(self.settings.status_interval) / 1000.0

    async def _liveness(self) -> None:
        backoff = Backoff(initial=1.0, maximum=max(1.0, self.interval))
        while True:
            fresh_for = self._traffic_fresh_for()
            if fresh_for is not None:  # the device's own traffic shows it alive: no poll now
                await asyncio.sleep(fresh_for + self.interval * random.uniform(0, POLL_JITTER))
                continue
            # Devices started together would poll together forever (a thousand polls in the
            # same instant, every interval): the first poll after a connect comes at a random
            # point of the interval, later ones at the interval, slightly jittered.
            delay = self.interval * random.uniform(1 - POLL_JITTER, 1 + POLL_JITTER)
            try:
                info = await self._poll_or_connect()
                if not self._connected:
                    delay = self.interval * random.random()
                    self._connected = True
                    if self.events_wanted and self.settings.events:
                        self._tasks.append(asyncio.create_task(self._events(), name=f"events:{self.config.id}"))
                self._auth_failures = 0
                self._ticks_since_poll = 0
                backoff.reset()
                info_changed = info is not None and info.as_dict() != self.state.info.as_dict()
                if info_changed:
                    self.state.info = info
                self._set_status(ONLINE, None, force=info_changed)
            except asyncio.CancelledError:
                raise
            except AuthError as exc:  # already counted by _on_device
                if self._auth_failures >= AUTH_FAILURE_LIMIT:
                    self._set_status(AUTH_FAILED, f"{one_line(exc)} (not retried until the site is "
                                     "reloaded, to avoid locking the account)")
                    for task in self._tasks:  # the event stream must not keep logging in either
                        if task is not asyncio.current_task():
                            task.cancel()
                    return
                self._set_status(OFFLINE, one_line(exc))
                delay = min(backoff.next(), self.interval)
            except Exception as exc:  # any driver failure: this device only
                reason = _reason(exc, self.host_cfg.command_timeout)
                self._set_status(OFFLINE, reason)
                delay = min(backoff.next(), self.interval)
            finally:
                self.first_attempt.set()
            await asyncio.sleep(delay)

    def _traffic_fresh_for(self) -> float | None:
        """Seconds for which the device's own recent traffic still proves it online (the
        liveness poll is then skipped, and the next tick comes when that proof goes stale), or
        None when this tick must poll: not connected or not online, no recent traffic, or a
        refresh poll is due (:data:`TRAFFIC_REFRESH_TICKS`). A thousand cameras polled every
        minute were about 7 % of the host's CPU while their alertStreams already showed them
        alive (bench/README.md)."""
        if not self._connected or self.state.status != ONLINE or self.driver is None:
            return None
        try:
            last = self.driver.last_traffic()
        except Exception as exc:  # a driver bug costs the shortcut, never the liveness loop
            self.log.warning("last_traffic failed (polling instead): %s", one_line(exc))
            return None
        if last is None or self._ticks_since_poll >= TRAFFIC_REFRESH_TICKS - 1:
            return None
        fresh_for = last + self.interval - asyncio.get_running_loop().time()
        if fresh_for <= 0:
            return None
        self._ticks_since_poll += 1
        return fresh_for

    async def _poll_or_connect(self) -> Any:
        name = f"liveness:{self.config.id}"
        if self._connected:
            return await self._on_device(self.driver.poll, self.host_cfg.command_timeout, name)
        gate = self._connect_gate.turn() if self._connect_gate is not None else contextlib.nullcontext()
        async with gate:
            return await self._on_device(self.driver.connect, self.host_cfg.command_timeout, name)

    async def _events(self) -> None:
        backoff = Backoff(initial=1.0, maximum=60.0)
        while True:
            try:
                await self.driver.run_events()
                return  # the driver has no (more) event stream
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.warning("event stream failed: %s", one_line(exc))
                await asyncio.sleep(backoff.next())

    # ------------------------------------------------------------ commands

    async def call(self, command: Command, args: dict[str, Any], zone: ZoneConfig | None) -> Any:
        """Run one validated command under the device's concurrency limit and timeout."""
        self._check_usable(command)
        driver = self.driver
        return await self._guarded(command.name, command.timeout or self.host_cfg.command_timeout,
                                   lambda: driver.command(command.name, args, zone),
                                   check=lambda: self._check_usable(command))

    async def diagnostics(self) -> Any:
        """The driver's raw-response capture (``gemhost diagnose``), gated, timed and mapped
        to error codes like a command; only for an online device, so a wrong password does
        not cost another failed login."""
        if self.driver is None:
            raise CommandError(errors.DEVICE_OFFLINE, f"device {self.config.id}: {self.init_error}")
        if not self.state.online:
            reason = f": {self.state.last_error}" if self.state.last_error else ""
            raise CommandError(errors.DEVICE_OFFLINE, f"device {self.config.id} is {self.state.status}{reason}")
        return await self._guarded("diagnostics", DIAGNOSTICS_TIMEOUT, self.driver.diagnostics)

    async def _guarded(self, what: str, timeout: float, run: Callable[[], Awaitable[Any]],
                       check: Callable[[], None] | None = None) -> Any:
        """Run one driver call on the device (its concurrency slot, the lockout guard) within
        ``timeout``; driver errors become command error codes."""
        try:
            # The timeout counts from the request, queueing behind busy slots included: a
            # hung device's backlog must time out, not pile up. It holds even against a
            # driver that ignores cancellation (the caller is answered, the work abandoned).
            result = await self._on_device(run, timeout, f"command:{self.config.id}/{what}", check=check)
            return result
        except CommandError:
            raise
        except AuthError as exc:
            self._command_refused(exc)
            raise CommandError(errors.DEVICE_ERROR, one_line(exc)) from None
        except TimeoutError:
            raise CommandError(errors.TIMEOUT, f"device {self.config.id} did not finish "
                               f"{what} within {timeout:g}s") from None
        except errors.NotSupported as exc:
            self._parked_by_concurrent_refusal()
            raise CommandError(errors.NOT_SUPPORTED, one_line(exc)) from None
        except errors.InvalidArgs as exc:
            raise CommandError(errors.INVALID_ARGS, one_line(exc)) from None
        except errors.DriverError as exc:
            self._parked_by_concurrent_refusal()
            raise CommandError(errors.DEVICE_ERROR, one_line(exc)) from None
        except Exception as exc:
            self._parked_by_concurrent_refusal()
            self.log.exception("driver failed running %s", what)
            raise CommandError(errors.DEVICE_ERROR, f"driver error: {one_line(exc)}") from None

    def _check_usable(self, command: Command) -> None:
        """Fail fast instead of costing the device a login: checked on arrival and again
        when the command's turn comes, because the device may have failed meanwhile. A
        device parked in auth_failed takes no command at all, ``offline_ok`` ones included."""
        if self.driver is None:
            raise CommandError(errors.DEVICE_OFFLINE, f"device {self.config.id}: {self.init_error}")
        if self._auth_failures >= AUTH_FAILURE_LIMIT and self.state.status != AUTH_FAILED:
            raise CommandError(errors.DEVICE_OFFLINE, f"device {self.config.id} refused the login twice: "
                               f"{self._last_refusal}")
        if self.state.status == AUTH_FAILED or (not command.offline_ok and not self.state.online):
            reason = f": {self.state.last_error}" if self.state.last_error else ""
            raise CommandError(errors.DEVICE_OFFLINE, f"device {self.config.id} is {self.state.status}{reason}")

    async def _on_device(self, work: Callable[[], Awaitable[Any]], timeout: float, name: str,
                         check: Callable[[], None] | None = None) -> Any:
        """One operation on the device (a command, a poll, a connect), within ``timeout``.

        It runs in one of the ``command_concurrency`` slots, liveness polls included, so the
        device never sees more operations from the host at once. While a refused login is
        unresolved (one failure so far) an operation runs only alone: it waits for those
        already running to end (they may fail too, and park the device) and holds the others
        back, so no second refusal can come from an operation started after the first. A slot
        stays taken until the driver's work has really ended, even past its timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with asyncio.timeout(timeout):
            await self._semaphore.acquire()
            probing = False
            try:
                if self._auth_failures:
                    await self._probe.acquire()
                    probing = True
                    await self._idle.wait()
                if check is not None:
                    check()
                if self._auth_failures >= AUTH_FAILURE_LIMIT:  # parked while this one waited
                    raise AuthError(self._last_refusal)
            except BaseException:
                self._release_turn(probing, started=False)
                raise
        self._active += 1
        self._idle.clear()
        try:
            started = self._counted(work())
        except BaseException:
            self._release_turn(probing)
            raise
        return await bounded(started, deadline - loop.time(), name, on_done=lambda: self._release_turn(probing))

    async def _counted(self, work: Awaitable[Any]) -> Any:
        """The operation itself, keeping the tally of refused logins: inside the operation's
        task, so the count is up to date before its slot frees and the next one decides.

        An operation that fails in any way while a concurrent one was refused counts as
        refused too: it carried the same credentials, and the device may have counted it
        (a refused request can reset the session under a concurrent one, which then reports
        a connection error instead)."""
        refusals_before = self._refusals
        try:
            result = await work
        except AuthError as exc:
            self._note_refusal(one_line(exc))
            raise
        except Exception:
            if self._refusals != refusals_before:
                self._note_refusal(self._last_refusal)
            raise
        self._auth_failures = 0
        return result

    def _parked_by_concurrent_refusal(self) -> None:
        """A command whose failure counted as a refusal (see _counted) parks the device as
        a refused login would, at once rather than at the next poll."""
        if self._auth_failures >= AUTH_FAILURE_LIMIT and self.state.status != AUTH_FAILED:
            self._command_refused(AuthError(self._last_refusal))

    def _note_refusal(self, reason: str) -> None:
        self._auth_failures += 1
        self._refusals += 1
        self._last_refusal = reason

    def _release_turn(self, probing: bool, started: bool = True) -> None:
        if started:
            self._active -= 1
            if not self._active:
                self._idle.set()
        if probing:
            self._probe.release()
        self._semaphore.release()

    def _command_refused(self, exc: AuthError) -> None:
        """A login refused during a command counts like one refused by a poll: the device
        goes offline (later commands fail fast instead of each costing a failed login) and
        two in a row park it in auth_failed, liveness loop included (counted by _counted)."""
        if self._auth_failures >= AUTH_FAILURE_LIMIT:
            for task in self._tasks:  # liveness and event stream: no more logins until reload
                task.cancel()
            self._set_status(AUTH_FAILED, f"{one_line(exc)} (not retried until the site is reloaded, "
                             "to avoid locking the account)")
        else:
            self._set_status(OFFLINE, one_line(exc))

    # ------------------------------------------------------------ state

    def _set_status(self, status: str, error: str | None, *, force: bool = False) -> None:
        """Record a liveness result; publish only what changed (a steady poll is silent)."""
        changed = status != self.state.status
        if changed and self.state.status == ONLINE:
            self.lifetime.end_all(ENDED_BY_OFFLINE)  # nothing stays on across an outage
        if changed:
            self.state.since = now()
            self.log.info("%s is %s%s", self.config.id, status, f": {error}" if error else "")
        error = error if status != ONLINE else None
        if changed or force or error != self.state.last_error:
            self.state.status = status
            self.state.last_error = error
            self.bus.publish(DeviceStateChanged(self.config.id, self.state))

    def _publish_zone(self, zone: str) -> None:
        self.bus.publish(ZoneStateChanged(self.config.id, zone, self.zone_states[zone]))


def _reason(exc: Exception, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g}s"
    return one_line(exc)
