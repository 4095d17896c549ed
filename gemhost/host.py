"""The host: loads a site, runs its devices, dispatches commands, reloads as a diff.

Everything that reaches a device goes through :meth:`Host.call`, which validates against the
driver's schema, resolves the addressed zone, checks access tokens and maps every failure to
a stable error code, so the CLI and the MQTT bridge behave identically.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import importlib
import logging
import signal
import time
from pathlib import Path
from typing import Any

from gemhost import __version__, errors, target
from gemhost.bus import Bus, DeviceStateChanged, SiteApplied, SnapshotTaken
from gemhost.connectgate import ConnectGate
from gemhost.contain import bounded
from gemhost.errors import CommandError, StartupError
from gemhost.lifetime import ENDED_BY_RELOAD
from gemhost.model import AUTH_FAILED, ONLINE, DeviceConfig, now
from gemhost.plugins import Registry, load_registry
from gemhost.runner import DeviceRunner
from gemhost.schema import DriverSchema
from gemhost.site import SiteConfig, load_site
from gemhost.site_edit import append_zones
from gemhost.siteyaml import Problem, SiteFileError
from gemhost.watchdog import LoopWatchdog, driver_modules

log = logging.getLogger("gemhost.host")

BRIDGE_STOP_TIMEOUT = 15.0


class Host:
    """One running site. Use ``async with Host(path) as host`` or start()/stop()."""

    version = __version__

    def __init__(self, site_path: Path | str, registry: Registry | None = None, *, mqtt: bool = True,
                 events: bool = True) -> None:
        """``events=False`` makes a one-shot host (``gemhost call``/``import``) that never
        subscribes to device event streams or services."""
        self.site_path = Path(site_path)
        self.registry = registry or load_registry()
        self.bus = Bus()
        self.runners: dict[str, DeviceRunner] = {}
        self.connect_gate = ConnectGate()
        self.site: SiteConfig | None = None
        self.started_at = now()
        self._monotonic_start = time.monotonic()
        self._mqtt_enabled = mqtt
        self._events = events
        self.bridge: Any = None
        self.simulators: list[Any] = []
        self._reload_lock = asyncio.Lock()
        self._tokens: Any = None
        self._started_site: SiteConfig | None = None
        self.restart_required: list[str] = []
        """Site blocks changed by a reload that only a restart applies (mqtt, host, ...)."""
        self.stopped = asyncio.Event()
        self._watchdog: LoopWatchdog | None = None

    # ------------------------------------------------------------ info

    @property
    def schemas(self) -> dict[str, DriverSchema]:
        return self.registry.schemas

    def drivers_info(self) -> list[dict[str, str]]:
        return [entry.info() for entry in self.registry.drivers.values()]

    def uptime(self) -> float:
        return time.monotonic() - self._monotonic_start

    def stats(self) -> dict[str, Any]:
        online = sum(1 for r in self.runners.values() if r.state.status == ONLINE)
        out: dict[str, Any] = {
            "version": self.version,
            "started": self.started_at.isoformat(),
            "uptime": round(self.uptime(), 1),
            "devices_online": online,
            "devices_total": len(self.runners),
            "drivers": [d["name"] for d in self.drivers_info()],
        }
        if self.bridge is not None:
            out.update(self.bridge.stats())
        return out

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Host:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self, only: list[str] | None = None) -> None:
        """Check the site and start it whole; a bad file raises SiteFileError, nothing runs.

        ``only`` starts just those devices (``gemhost call`` talks to one device)."""
        self.site = self._started_site = self._load()
        if only is not None:
            missing = [d for d in only if d not in self.site.devices]
            if missing:
                raise CommandError(errors.UNKNOWN_DEVICE, f"no device {missing[0]!r} in "
                                   f"{self.site_path.name} (devices: {', '.join(self.site.devices) or 'none'})")
        try:
            self._watch_loop()
            await self._start_simulators(self.site)
            self.bus.subscribe(self._log_message, kinds=(DeviceStateChanged,))
            if self._mqtt_enabled:
                bridge_module = importlib.import_module("gemhost.mqtt.bridge")
                self.bridge = bridge_module.MqttBridge(self)
                await self.bridge.start()
        except BaseException:
            await self.stop()  # release the simulators' ports: nothing half-started stays up
            raise
        for config in self.site.devices.values():
            if only is None or config.id in only:
                self._start_device(config)
        self.bus.publish(SiteApplied(list(self.runners), [], []))
        log.info("site %s started: %d devices", self.site.id, len(self.runners))

    async def stop(self) -> None:
        """Stop devices (closing their sessions), then the bridge, then simulators; each step
        is bounded, even against code that ignores cancellation, so SIGTERM always ends."""
        await asyncio.gather(*(r.stop() for r in self.runners.values()), return_exceptions=True)
        if self.bridge is not None:
            try:
                await bounded(self.bridge.stop(), BRIDGE_STOP_TIMEOUT, "mqtt-bridge-stop")
            except Exception as exc:
                log.warning("MQTT bridge stop failed: %s", errors.one_line(exc))
        for sim in reversed(self.simulators):
            with contextlib.suppress(Exception):
                await sim.stop()
        self.simulators.clear()
        if self._watchdog is not None:
            self._watchdog.stop()
            self._watchdog = None
        self.stopped.set()

    def _watch_loop(self) -> None:
        """Warn, naming the driver, when something blocks the event loop every device shares."""
        if self._watchdog is None:
            drivers = {name: entry.cls for name, entry in self.registry.drivers.items()}
            self._watchdog = LoopWatchdog(asyncio.get_running_loop(), driver_modules(drivers))
            self._watchdog.start()

    async def run_forever(self) -> None:
        """Run until SIGINT/SIGTERM; SIGHUP reloads the site file."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        try:
            await stop.wait()
            log.info("shutting down")
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            await self.stop()

    def _start_device(self, config: DeviceConfig) -> None:
        entry = self.registry.drivers[config.driver]
        assert self.site is not None
        runner = DeviceRunner(config, entry, self.site.host, self.bus, self.site_path, self.add_zones,
                              events=self._events, connect_gate=self.connect_gate)
        self.runners[config.id] = runner
        runner.start()

    async def _start_simulators(self, site: SiteConfig) -> None:
        for sim_cfg in site.simulators:
            cls = self.registry.simulators.get(sim_cfg.driver)
            if cls is None:
                raise SiteFileError(self.site_path.name, [Problem(None, "simulators", f"no simulator for "
                                                                   f"driver {sim_cfg.driver!r}")])
            sim = cls(host=sim_cfg.host, port=sim_cfg.port, **sim_cfg.options)
            try:
                await sim.start()
            except OSError as exc:
                if self._events or exc.errno != errno.EADDRINUSE:
                    raise StartupError(f"cannot start the {sim_cfg.driver} simulator on "
                                       f"{sim_cfg.host}:{sim_cfg.port}: {exc.strerror or exc}") from None
                # A one-shot host (gemhost call/import) beside a running site: use its simulator.
                log.info("simulator %s already listening on port %d; using it", sim_cfg.driver, sim_cfg.port)
                continue
            self.simulators.append(sim)
            log.info("simulator %s listening on %s", sim_cfg.driver, sim.url)

    # ------------------------------------------------------------ reload

    def _load(self) -> SiteConfig:
        return load_site(self.site_path, self.schemas, set(self.registry.simulators))

    async def reload(self) -> list[Problem]:
        """Re-read the site file and apply it as a diff; on errors keep running unchanged.

        Devices parked in ``auth_failed`` restart even when unchanged: a reload is the
        deliberate "try the credentials again". ``access`` applies at once;
        ``mqtt``, ``host`` and ``simulators`` need a restart, which is logged and reported."""
        async with self._reload_lock:
            try:
                new = self._load()
            except SiteFileError as exc:
                for problem in exc.problems:
                    log.error("reload rejected: %s", problem.format(exc.file))
                return exc.problems
            except Exception as exc:  # an unreadable file must not kill the SIGHUP handler
                problem = Problem(None, "", f"cannot reload: {errors.one_line(exc)}")
                log.error("reload rejected: %s", problem.format(self.site_path.name))
                return [problem]
            assert self.site is not None
            old_devices = self.site.devices
            removed = [d for d in old_devices if d not in new.devices]
            changed = [d for d in new.devices if d in old_devices and not new.devices[d].same_as(old_devices[d])]
            added = [d for d in new.devices if d not in old_devices]
            zones_only = [d for d in changed if new.devices[d].same_except_zones(old_devices[d])]
            restart = [d for d in changed if d not in zones_only]
            restart += [d for d, r in self.runners.items()
                        if r.state.status == AUTH_FAILED and d in new.devices and d not in restart]
            zones_only = [d for d in zones_only if d not in restart]
            removed_zones = [(d, z) for d in changed for z in old_devices[d].zones if z not in new.devices[d].zones]
            removed_zones += [(d, z) for d in removed for z in old_devices[d].zones]
            to_stop = [self.runners.pop(d) for d in (*removed, *restart) if d in self.runners]
            await asyncio.gather(*(r.stop(ENDED_BY_RELOAD) for r in to_stop), return_exceptions=True)
            # compared with what the process started with: these stay pending until a restart
            self.restart_required = [block for block in ("mqtt", "host", "simulators")
                                     if getattr(new, block) != getattr(self._started_site, block)]
            for block in self.restart_required:
                log.warning("reload: the %s block changed; restart gemhost to apply it", block)
            self.site = new
            for device_id in (*restart, *added):
                self._start_device(new.devices[device_id])
            for device_id in zones_only:
                await self.runners[device_id].apply_zones(new.devices[device_id])
            self.bus.publish(SiteApplied(list(self.runners), removed, removed_zones))
            log.info("reloaded: %d added, %d removed, %d changed", len(added), len(removed), len(restart)
                     + len(zones_only))
            return []

    async def add_zones(self, device_id: str, zones: list[dict[str, Any]]) -> list[str]:
        """Append zones to the site file (backup, comments kept), then reload."""
        written = await asyncio.to_thread(append_zones, self.site_path, device_id, zones, self.schemas)
        if written:
            problems = await self.reload()
            if problems:
                raise errors.DeviceError("zones were written but the reload failed: "
                                         + "; ".join(p.format(self.site_path.name) for p in problems))
        return written

    # ------------------------------------------------------------ commands

    @property
    def tokens(self) -> Any:
        if self._tokens is None:
            from gemhost.tokens import TokenStore  # only sites that use tokens need it

            self._tokens = TokenStore.for_site(self.site_path)
        return self._tokens

    async def call(self, device_id: str, command: str, args: dict[str, Any] | None = None,
                   token: str | None = None) -> Any:
        """Run ``command`` on a device; every failure is a CommandError with a stable code.

        With tokens required, the token is checked before anything is looked up: a token
        that covers neither the device nor any of its zones, or does not allow the command,
        is refused at once. A token that covers only some zones is checked against the one
        zone the request resolves to, and every other failure (no such device, command or
        zone) is answered with the same ``unauthorized``, so it learns nothing beyond its
        zones. The driver gets only the resolved target."""
        assert self.site is not None
        grant = self.tokens.grant(token, device_id, command) if self.site.access.require_token else None
        if grant is not None and not grant.whole_device:
            runner, resolved = self._zone_scoped(grant, device_id, command, args)
        else:
            runner = self.runners.get(device_id)
            if runner is None:
                raise CommandError(errors.UNKNOWN_DEVICE, f"no device {device_id!r} in this site")
            resolved = target.resolve(self.schemas[runner.config.driver], runner.config, command, args)
        checked = resolved.checked_args()
        if grant is not None:
            log.info("command %s on %s authorized by token %s", command, device_id, grant.name)
        result = await runner.call(resolved.spec, checked, resolved.zone)
        if resolved.zone is not None:
            self._share_snapshot(device_id, resolved.zone.id, result)
        return result

    def _share_snapshot(self, device_id: str, zone_id: str, result: Any) -> None:
        """A zone command that returned an image (a snapshot): tell the bus, so sinks can show
        the zone's latest picture without knowing which commands take one."""
        if not isinstance(result, dict) or "base64" not in result:
            return
        content_type = str(result.get("content_type", ""))
        if content_type.startswith("image/"):
            self.bus.publish(SnapshotTaken(device_id, zone_id, content_type, str(result["base64"])))

    def _zone_scoped(self, grant: Any, device_id: str, command: str,
                     args: dict[str, Any] | None) -> tuple[DeviceRunner, target.Target]:
        """Resolve a request of a token that covers only some zones of ``device_id``; anything
        that does not land on one of those zones gets the token's one refusal."""
        runner = self.runners.get(device_id)
        if runner is None:
            raise grant.refusal()
        try:
            resolved = target.resolve(self.schemas[runner.config.driver], runner.config, command, args,
                                      list_choices=False)
        except CommandError:
            raise grant.refusal() from None
        if resolved.zone is None or not grant.covers_zone(resolved.zone.id):
            raise grant.refusal()
        return runner, resolved

    async def host_command(self, name: str, args: dict[str, Any] | None = None, token: str | None = None) -> Any:
        """Commands addressed to the host itself rather than a device. With tokens required,
        they need a token that covers the reserved device ``host`` (``--devices host``)."""
        if self.site is not None and self.site.access.require_token:
            token_name = self.tokens.authorize(token, "host", None, name)
            log.info("host command %s authorized by token %s", name, token_name)
        if name == "list_devices":
            return {"devices": [self.device_summary(r) for r in self.runners.values()]}
        if name == "describe":
            return {"drivers": [{**entry.info(), "schema": entry.schema.as_dict()}
                                for entry in self.registry.drivers.values()]}
        if name == "reload":
            problems = await self.reload()
            return {"ok": not problems,
                    "problems": [p.format(self.site_path.name) for p in problems],
                    "restart_required": [] if problems else self.restart_required}
        raise CommandError(errors.UNKNOWN_COMMAND, f"no host command {name!r} "
                           "(available: list_devices, describe, reload)")

    @staticmethod
    def device_summary(runner: DeviceRunner) -> dict[str, Any]:
        return {"id": runner.config.id, "name": runner.config.name, **runner.state.as_dict(),
                "zones": [{"id": z.id, "name": z.name} for z in runner.config.zones.values()]}

    def _log_message(self, message: Any) -> None:
        if isinstance(message, DeviceStateChanged):
            log.debug("state %s: %s", message.device, message.state.status)

