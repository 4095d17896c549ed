"""The HPP alarm queue, pulled the guide's way (2.5, 3.34, 3.35), delivered at least once.

A pulled batch is confirmed with mq/offset (which consumes it for every consumer of the account)
only after the MQTT broker acknowledged every event of it, and the ids already published are
remembered on disk, so a batch re-delivered after a crash or an outage publishes only what the
broker never got. A message that cannot be parsed is published as ``unparsed`` and committed
with the rest: one bad body costs only itself.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from gemhost_drivers.hpp import assumptions, codes
from gemhost_drivers.hpp.address import SUBSYSTEM, ZONE, Address
from gemhost_drivers.hpp.client import HppApiError
from gemhost_drivers.hpp.seen import SeenIds

from gemhost.backoff import Backoff, half_jitter
from gemhost.errors import AuthError, DeviceError, one_line
from gemhost.model import Event

if TYPE_CHECKING:
    from gemhost_drivers.hpp.driver import HppDriver

PICTURES_RESOLVED = 4  # per event: alarm/pictureurl calls are on the delivery path


class EventLoop:
    """Mixin of :class:`HppDriver`; ``self`` is the driver."""

    async def run_events(self: HppDriver) -> None:
        if not assumptions.events_enabled(self.settings):
            self.log.info("receive_events is off: leaving the HPP queue to other alarm-receiving software")
            return
        backoff = Backoff(initial=self.BACKOFF_BASE, maximum=self.BACKOFF_MAX, jitter=half_jitter)
        while True:
            # After a rejected key the loop waits for the host's next successful connect or poll
            # instead of asking for tokens itself: the host owns the back-off that protects the
            # account.
            await self._authorized.wait()
            try:
                await self.pull_once()
                backoff.reset()
            except asyncio.CancelledError:
                raise
            except AuthError as exc:
                self._authorized.clear()
                self.log.warning(
                    "HPP refused the credentials (%s); events wait until the host's next status poll is accepted",
                    one_line(exc),
                )
            except Exception as exc:  # noqa: BLE001 - any failure: back off and pull again
                delay = backoff.next()
                if isinstance(exc, HppApiError) and exc.code == codes.QUEUE_BUSY:
                    reason = "another client is pulling this account's queue with the same credentials"
                else:
                    reason = one_line(exc)
                self.log.warning("HPP event pull failed (%s); retrying in %.1f s", reason, delay)
                await asyncio.sleep(delay)

    async def pull_once(self: HppDriver) -> int:
        """Pull one batch, publish it, wait for the broker's acks, then commit. Returns events sent."""
        if self._seen is None:
            self._seen = SeenIds(self.ctx.state_dir)
        batch = await self.client.messages()
        if not batch.messages and not batch.batch_id:
            return 0
        seen = self._seen
        restricted = self.allowed_sites() is not None
        futures: list[asyncio.Future[None]] = []
        skipped: list[str] = []
        for message in batch.messages:
            event = self.mapper.event(message)
            if event.type == "unparsed":
                self.log.warning("HPP message %s could not be parsed (%s); published raw",
                                 event.id, event.data.get("error"))
            serial = str(event.data.get("serial") or "")
            known = serial in self.inventory
            self.apply_effects(event, serial)
            if event.id and event.id in seen:
                continue
            if restricted and not known:
                if event.id:
                    skipped.append(event.id)
                continue
            await self.resolve_pictures(event)
            future = self.ctx.emit_event(event)
            # Each id counts as published the moment the broker acked it, so an outage in the
            # middle of a batch re-publishes only the events the broker never got.
            future.add_done_callback(
                lambda f, i=event.id: seen.remember([i]) if i and not f.cancelled() and f.exception() is None else None
            )
            futures.append(future)
        try:
            if futures:
                await asyncio.gather(*futures)
        finally:
            seen.remember(skipped)
            seen.save()
        if batch.batch_id:
            await self.client.commit(batch.batch_id)
        return len(futures)

    async def resolve_pictures(self: HppDriver, event: Event) -> None:
        """Turn ``ISAPI_FILES/...`` picture paths into download URLs (guide 2.5 note 1, 3.36)."""
        pictures = event.data.get("pictures") or []
        for picture in [p for p in pictures if str(p.get("url", "")).startswith("ISAPI_FILES")][:PICTURES_RESOLVED]:
            try:
                answer = await self.client.picture_url(picture["url"])
            except DeviceError as exc:
                self.log.debug("picture URL of %s: %s", event.id, one_line(exc))
                continue
            if answer.get("pictureUrl"):
                picture["path"], picture["url"] = picture["url"], str(answer["pictureUrl"])
                if answer.get("encrypt") is not None:
                    picture["encrypted"] = bool(answer["encrypt"])

    def apply_effects(self: HppDriver, event: Event, serial: str) -> None:
        """What an event changes in zone state: online/missing, a partition's arming, a zone's bypass."""
        if not serial:
            return
        if event.type in ("device_online", "device_offline"):
            online = event.type == "device_online"
            self.set_row(serial, online=online)
            for zone_id, _ in self.zones_of(serial):
                self.ctx.set_zone_state(zone_id, online=online)
        elif event.type == "device_deleted":
            self.inventory.pop(serial, None)
            for zone_id, _ in self.zones_of(serial):
                self.ctx.set_zone_state(zone_id, online=False, missing=True)
        elif event.type == "arming":
            self._apply_arming(serial, event.data)
        elif event.type == "bypass":
            number = event.data.get("zone_number")
            zone_id = self.resolve(Address(serial, ZONE, number)) if number is not None else None
            if zone_id:
                self.ctx.set_zone_state(zone_id, bypassed=bool(event.data.get("bypassed")))

    def _apply_arming(self: HppDriver, serial: str, data: dict[str, Any]) -> None:
        arming = data.get("arming")
        numbers = data.get("partitions") or ([data["subsystem"]] if data.get("subsystem") is not None else [])
        status = self.panel_status.get(serial)
        for number in numbers:
            if status is not None:
                status["subsystems"].setdefault(number, {"id": number})["arming"] = (
                    "disarm" if arming == "disarmed" else arming
                )
            zone_id = self.resolve(Address(serial, SUBSYSTEM, number))
            if zone_id:
                self.ctx.set_zone_state(zone_id, arming=arming, armed=arming in ("stay", "away"))
        panel_zone = self.resolve(Address(serial))
        if panel_zone and status is not None:
            self.publish_zone(panel_zone, Address(serial))
