"""Preview URLs of HikCentral cameras, and keeping the published ones fresh on their own timer.

HikCentral's preview URLs stop working after a while and it does not say when, so the
driver assumes ``stream_url_ttl`` seconds. A URL published in a zone's state is renewed
ahead of that expiry by :class:`StreamUrls`' own loop, not by the status poll: with a long
``status_interval`` a poll-driven refresh would leave an expired URL on the bus. A camera
HikCentral no longer has drops its URL, and a URL that could not be renewed is withdrawn
when it expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import Any

from gemhost_drivers.hikcentral.client import HikCentralClient

from gemhost.errors import DriverError
from gemhost.model import ZoneConfig, now
from gemhost.urls import strip_credentials

CONCURRENCY = 8  # preview URL calls at once while refreshing hundreds of zones
MAX_LEAD = 30.0  # seconds ahead of expiry at most


async def fetch(client: HikCentralClient, zone: ZoneConfig, stream: str, protocol: str, ttl: float,
                clock: Callable[[], dt.datetime] = now) -> dict[str, Any]:
    """One preview URL of a zone's camera (credentials stripped) and when it expires."""
    code = str(zone.attributes["camera"])
    url = strip_credentials(await client.preview_url(code, stream, protocol))
    expires = clock() + dt.timedelta(seconds=ttl)
    return {"camera": code, "zone": zone.id, "stream": stream, "protocol": protocol, "url": url,
            "expires": expires.isoformat()}


class StreamUrls:
    """The published preview URL of every imported camera, renewed ahead of expiry.

    ``publish(zone_id, **fields)`` is the context's ``set_zone_state``; ``stream_of(zone)`` the
    zone's configured stream (the driver's typed zone view, so the default lives in the schema);
    ``clock`` is injectable so tests can move time instead of waiting for it.
    """

    def __init__(self, client: HikCentralClient, publish: Callable[..., None], log: logging.LoggerAdapter,
                 ttl: float, protocol: str, stream_of: Callable[[ZoneConfig], str],
                 clock: Callable[[], dt.datetime] = now) -> None:
        self.client = client
        self.stream_of = stream_of
        self.publish = publish
        self.log = log
        self.ttl = ttl
        self.protocol = protocol
        self.clock = clock
        self.lead = dt.timedelta(seconds=min(MAX_LEAD, ttl / 5))
        self.expires: dict[str, dt.datetime] = {}  # zone -> expiry of its published URL
        self.next_at: dict[str, dt.datetime] = {}  # zone -> when to renew (or retry) it
        self.wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def drop(self, zone_id: str) -> None:
        """Withdraw a zone's URL (its camera is missing, or it is no longer a zone)."""
        self.next_at.pop(zone_id, None)
        if self.expires.pop(zone_id, None) is not None:
            self.publish(zone_id, stream_url=None, stream_url_expires=None)

    def delay(self) -> float | None:
        """Seconds until the next renewal is due (None: nothing to renew)."""
        if not self.next_at:
            return None
        return max(0.0, (min(self.next_at.values()) - self.clock()).total_seconds())

    async def refresh(self, zones: Iterable[ZoneConfig]) -> None:
        """Fetch the URL of every zone that has none yet or whose renewal is due."""
        async with self._lock:
            moment = self.clock()
            limit = asyncio.Semaphore(CONCURRENCY)
            due = [z for z in zones if z.id not in self.next_at or self.next_at[z.id] <= moment]
            await asyncio.gather(*(self._renew(z, moment, limit) for z in due))

    async def _renew(self, zone: ZoneConfig, moment: dt.datetime, limit: asyncio.Semaphore) -> None:
        async with limit:
            try:
                result = await fetch(self.client, zone, self.stream_of(zone), self.protocol,
                                     self.ttl, self.clock)
            except DriverError as exc:
                self.log.debug("no stream URL for zone %s: %s", zone.id, exc)
                self.next_at[zone.id] = moment + self.lead  # try again a little later
                if zone.id in self.expires and self.expires[zone.id] <= moment:
                    self.expires.pop(zone.id)
                    self.publish(zone.id, stream_url=None, stream_url_expires=None)
                return
        expires = dt.datetime.fromisoformat(result["expires"])
        self.expires[zone.id] = expires
        self.next_at[zone.id] = expires - self.lead
        self.publish(zone.id, stream_url=result["url"], stream_url_expires=result["expires"])

    async def run(self, zones: Callable[[], Iterable[ZoneConfig]]) -> None:
        """Renew URLs as they come due, until cancelled; ``zones()`` gives the zones to keep
        (those whose camera HikCentral lists). ``wake`` makes it look again at once."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.delay())
            self.wake.clear()
            kept = list(zones())
            for zone_id in set(self.next_at) - {z.id for z in kept}:
                self.drop(zone_id)
            try:
                await self.refresh(kept)
            except Exception as exc:  # noqa: BLE001 - the loop must outlive one bad round
                self.log.warning("refreshing stream URLs failed: %s", exc)
                await asyncio.sleep(self.lead.total_seconds())
