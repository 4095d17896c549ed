"""Retained state: availability, device and zone state, the host's figures, zone snapshots.

All of it is derived from the host's current view, so nothing here is queued: a value due
while disconnected simply waits in the outbox as the topic's latest, and every connect derives
everything again. Removed devices and zones get their topics cleared (an empty retained
message), which is the one thing a reconnect could not re-create.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from gemhost import bus as busmod
from gemhost.model import DeviceState
from gemhost.mqtt.extension import BridgeContext, Extension
from gemhost.mqtt.outbox import CLEAR, to_json
from gemhost.mqtt.session import OFFLINE, ONLINE

HOST_STATE_INTERVAL = 60.0
"""host/state is refreshed this often even when nothing in it but the uptime changed."""
HOST_STATE_MIN_GAP = 5.0
"""... and otherwise published when a figure in it changes, at most this often (a connect
storm of a thousand devices must not rebuild and publish it a thousand times)."""


class StateExtension(Extension):
    """Publishes what the host knows, retained, and clears what left the site."""

    bus_messages = (busmod.DeviceStateChanged, busmod.ZoneStateChanged, busmod.SnapshotTaken, busmod.SiteApplied)

    def __init__(self, ctx: BridgeContext, figures: Callable[[], dict[str, Any]] | None = None) -> None:
        super().__init__(ctx)
        self._figures = figures
        """The bridge's own figures for host/state (beyond the host's stats)."""
        self._zones_published: dict[str, set[str]] = {}
        self._last_figures: dict[str, Any] | None = None
        self._last_at = -HOST_STATE_MIN_GAP
        self._due: asyncio.TimerHandle | None = None
        self._tick: asyncio.TimerHandle | None = None
        self.ctx.outbox.on_backlog_change.append(self.host_state_changed)

    # ------------------------------------------------------------ hooks

    def on_connect(self) -> None:
        self._publish_host_state(force=True)
        self.retain_all_devices()
        if self._tick is None:
            self._tick = asyncio.get_running_loop().call_later(HOST_STATE_INTERVAL, self._periodic)

    def on_bus(self, message: busmod.Message) -> None:
        if isinstance(message, busmod.DeviceStateChanged):
            self._retain_device(message.device, message.state)
            self.host_state_changed()
        elif isinstance(message, busmod.ZoneStateChanged):
            self._retain_zone(message.device, message.zone, message.state)
        elif isinstance(message, busmod.SnapshotTaken):
            self.ctx.outbox.retain(self.ctx.topics.snapshot(message.device, message.zone), message.base64.encode())
        elif isinstance(message, busmod.SiteApplied):
            self._site_applied(message)

    async def stop(self) -> None:
        for timer in (self._due, self._tick):
            if timer is not None:
                timer.cancel()

    # ------------------------------------------------------------ devices and zones

    def retain_all_devices(self) -> None:
        for device in list(self.ctx.host.runners):
            self._retain_with_zones(device)

    def retain_availability(self) -> None:
        """Availability and device state again (Home Assistant restarted and asks for it)."""
        for device, runner in list(self.ctx.host.runners.items()):
            self._retain_device(device, runner.state)

    def _retain_with_zones(self, device: str) -> None:
        runner = self.ctx.host.runners.get(device)
        if runner is None:
            return
        self._retain_device(device, runner.state)
        for zone, state in list(runner.zone_states.items()):
            self._retain_zone(device, zone, state)

    def _retain_device(self, device: str, state: DeviceState) -> None:
        topics, outbox = self.ctx.topics, self.ctx.outbox
        outbox.retain(topics.availability(device), ONLINE if state.online else OFFLINE)
        outbox.retain(topics.device_state(device), to_json(state.as_dict()))

    def _retain_zone(self, device: str, zone: str, state: dict[str, Any]) -> None:
        self._zones_published.setdefault(device, set()).add(zone)
        self.ctx.outbox.retain(self.ctx.topics.zone_state(device, zone), to_json(state))

    def _site_applied(self, message: busmod.SiteApplied) -> None:
        topics, retain = self.ctx.topics, self.ctx.outbox.retain
        for device in message.removed_devices:
            retain(topics.availability(device), CLEAR)
            retain(topics.device_state(device), CLEAR)
            for zone in self._zones_published.pop(device, set()):
                retain(topics.zone_state(device, zone), CLEAR)
                retain(topics.snapshot(device, zone), CLEAR)
        for device, zone in message.removed_zones:
            self._zones_published.get(device, set()).discard(zone)
            retain(topics.zone_state(device, zone), CLEAR)
            retain(topics.snapshot(device, zone), CLEAR)
        for device in message.devices:
            self._retain_with_zones(device)
        self.host_state_changed()

    # ------------------------------------------------------------ host/state

    def host_state(self) -> dict[str, Any]:
        out = dict(self.ctx.host.stats())
        if self._figures is not None:
            out.update(self._figures())
        out["mqtt_protocol"] = "5" if self.ctx.link.v5 else "3.1.1"
        out["loaded_drivers"] = self.ctx.host.drivers_info()
        return out

    def host_state_changed(self) -> None:
        """A figure of host/state may have changed (a device's status, the queue, the site):
        publish it now if the last one is older than HOST_STATE_MIN_GAP, else once that gap
        is over; either way only if it did change. Cheap to call at any rate."""
        if self._due is not None:
            return
        wait = self._last_at + HOST_STATE_MIN_GAP - time.monotonic()
        if wait <= 0:
            self._publish_host_state()
        else:
            self._due = asyncio.get_running_loop().call_later(wait, self._gap_over)

    def _gap_over(self) -> None:
        self._due = None
        self._publish_host_state()

    def _periodic(self) -> None:
        """The uptime changes without any bus message."""
        self._tick = asyncio.get_running_loop().call_later(HOST_STATE_INTERVAL, self._periodic)
        self._publish_host_state(force=True)

    def _publish_host_state(self, *, force: bool = False) -> None:
        state = self.host_state()
        figures = {k: v for k, v in state.items() if k != "uptime"}
        if not force and figures == self._last_figures:
            return
        self._last_figures = figures
        self._last_at = time.monotonic()
        self.ctx.outbox.retain(self.ctx.topics.host_state, to_json(state))
