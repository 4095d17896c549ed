"""Home Assistant discovery: one device config per device, and the ``action`` router.

What each config contains is decided by :mod:`gemhost.mqtt.discovery` (capabilities declared
in the schemas, plus facts the devices reported); this extension decides *when* it is sent:
on connect, when a device's identity or a reported fact changes, when the site changes, and
again when Home Assistant says it came back online (its ``homeassistant/status`` birth
message), debounced so a burst or flood of those costs one re-publish.

It runs before the state extension on the bus: on a site change Home Assistant must drop an
entity before its state topic is cleared, or it renders the entity's template on the empty
payload.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aiomqtt

from gemhost import bus as busmod
from gemhost.mqtt import discovery
from gemhost.mqtt.client import payload_bytes
from gemhost.mqtt.extension import BridgeContext, Extension, Subscription
from gemhost.mqtt.outbox import CLEAR, to_json
from gemhost.mqtt.session import ONLINE
from gemhost.statedir import device_state_dir

log = logging.getLogger("gemhost.mqtt")

HA_QUIET = 1.0
"""Seconds without another ``online`` on Home Assistant's status topic before re-publishing."""
HA_MAX_DELAY = 10.0
"""...but never later than this after the first one of a burst."""


class DiscoveryExtension(Extension):
    """Home Assistant discovery: configs per device, the HA birth message, the action router."""

    bus_messages = (busmod.DeviceStateChanged, busmod.ZoneStateChanged, busmod.SiteApplied)

    def __init__(self, ctx: BridgeContext, on_republish: Callable[[], None] | None = None) -> None:
        super().__init__(ctx)
        self.enabled = ctx.cfg.discovery
        site_path = ctx.host.site_path
        self.discovery = discovery.Discovery(
            topics=ctx.topics, site_id=ctx.site_id, version=ctx.host.version,
            state_dir=lambda device: device_state_dir(site_path, device))
        self.republished = 0
        """How often Home Assistant's ``online`` led to a re-publish."""
        self._on_republish = on_republish
        self._ha_task: asyncio.Task[None] | None = None
        self._ha_quiet_until = 0.0

    def subscriptions(self) -> list[Subscription]:
        return [(self.ctx.topics.ha_status, None)] if self.enabled else []

    def on_connect(self) -> None:
        if self.enabled:
            self.publish_all()

    async def on_message(self, message: aiomqtt.Message) -> bool:
        if not self.enabled or message.topic.value != self.ctx.topics.ha_status:
            return False
        if payload_bytes(message.payload).strip() == ONLINE:
            self._ha_online()
        return True

    def on_bus(self, message: busmod.Message) -> None:
        if isinstance(message, busmod.DeviceStateChanged):
            if self.enabled:
                self.publish(message.device)
        elif isinstance(message, busmod.ZoneStateChanged):
            runner = self.ctx.host.runners.get(message.device)
            schema = self.ctx.host.schemas.get(runner.config.driver) if runner else None
            # entities follow declared capabilities; a zone state changes them only when it
            # brings a new fact (the event types the device reported, a detector type)
            if self.enabled and self.discovery.observe(message.device, schema, message.zone, message.state):
                self.publish(message.device)
        elif isinstance(message, busmod.SiteApplied):
            self._site_applied(message)

    async def stop(self) -> None:
        if self._ha_task is not None:
            self._ha_task.cancel()
            await asyncio.wait([self._ha_task], timeout=2)

    # ------------------------------------------------------------ configs

    def publish_all(self) -> None:
        for device in list(self.ctx.host.runners):
            self.publish(device)

    def publish(self, device: str) -> None:
        runner = self.ctx.host.runners.get(device)
        if runner is None:
            return
        schema = self.ctx.host.schemas.get(runner.config.driver)
        if schema is None:
            return
        # every component ever announced is repeated as a removal stub in every later config:
        # a stub must survive the coalescing of retained updates
        config = self.discovery.config(runner.config, schema, runner.state.info.as_dict())
        if config is not None:
            self.ctx.outbox.retain(self.ctx.topics.discovery(self.ctx.site_id, device), to_json(config))

    def _site_applied(self, message: busmod.SiteApplied) -> None:
        for device in message.removed_devices:
            if self.enabled or self.discovery.announced(device):
                self.ctx.outbox.retain(self.ctx.topics.discovery(self.ctx.site_id, device), CLEAR)
                self.discovery.forget(device)
        if not self.enabled:
            return
        trimmed = list(dict.fromkeys(device for device, _zone in message.removed_zones))
        for device in trimmed:
            self.publish(device)
        for device in message.devices:
            if device not in trimmed:  # again would move it behind the clears
                self.publish(device)

    # ------------------------------------------------------------ Home Assistant's birth message

    def _ha_online(self) -> None:
        loop = asyncio.get_running_loop()
        self._ha_quiet_until = loop.time() + HA_QUIET
        if self._ha_task is None or self._ha_task.done():
            self._ha_task = asyncio.create_task(self._ha_republish(loop.time() + HA_MAX_DELAY),
                                                name="mqtt-ha-republish")

    async def _ha_republish(self, latest: float) -> None:
        loop = asyncio.get_running_loop()
        while (now := loop.time()) < min(self._ha_quiet_until, latest):
            await asyncio.sleep(min(self._ha_quiet_until, latest) - now)
        log.info("Home Assistant came online: re-publishing discovery")
        self.republished += 1
        self.publish_all()
        if self._on_republish is not None:
            self._on_republish()

    # ------------------------------------------------------------ actions

    def route_action(self, target: str, args: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        """The core ``action`` command (an alarm panel's ARM_AWAY, a bypass switch) -> the
        driver command the zone's capabilities name for it."""
        runner = self.ctx.host.runners[target]
        return self.discovery.route(runner.config, self.ctx.host.schemas[runner.config.driver], args)
