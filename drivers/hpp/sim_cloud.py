"""The state of a simulated Hik-Partner Pro account: tokens, sites, devices, panels, queue.

Pure Python and synchronous (no HTTP) so the simulator's web layer stays thin and tests can
drive the account directly. Error answers are ``(code, message)`` pairs using the same codes
the driver's client knows, so the two can only drift apart in one table.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from gemhost_drivers.hpp import client as api
from gemhost_drivers.hpp import sim_bodies as bodies

REGIONS = {
    "sg": "https://isgp.hik-partner.com",
    "eu": "https://ieu.hik-partner.com",
    "us": "https://ius.hik-partner.com",
    "in": "https://iind.hik-partner.com",
    "ru": "https://iru.hik-partner.com",
    "sa": "https://isa.hik-partner.com",
}
ENCODING, ALARM = "encodingDevice", "alarmDevice"
QUEUE_LIMIT = 10_000


class CloudError(Exception):
    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or api.MESSAGES.get(code, code))
        self.code = code


@dataclass
class Channel:
    number: int
    name: str
    online: bool = True


@dataclass
class Subsystem:
    number: int
    name: str
    arming: str = "disarm"
    alarm: bool = False
    fire: bool = False


@dataclass
class PanelZone:
    number: int
    name: str
    subsystem: int = 1
    interior: bool = False
    online: bool = True
    bypassed: bool = False
    fault: bool = False
    alarm: bool = False


@dataclass
class Device:
    serial: str
    name: str
    category: str
    model: str
    code: str
    site_id: str | None = None
    online: bool = True
    licence: bool = False
    firmware: str = "V5.7.0 build 231120"
    owner: str | None = None
    subscribed: bool = True
    stream_encryption: bool = False
    channels: list[Channel] = field(default_factory=list)
    subsystems: dict[int, Subsystem] = field(default_factory=dict)
    zones: dict[int, PanelZone] = field(default_factory=dict)
    outputs: dict[int, bool] = field(default_factory=dict)
    sirens: dict[int, bool] = field(default_factory=dict)
    locks: dict[int, str] = field(default_factory=dict)
    triggers: dict[int, bool] = field(default_factory=dict)
    linked_camera: tuple[str, int] | None = None
    ptz: list[dict[str, Any]] = field(default_factory=list)

    def zone_armed(self, zone: PanelZone) -> bool:
        sub = self.subsystems.get(zone.subsystem)
        if sub is None or sub.arming == "disarm" or zone.bypassed:
            return False
        return not (sub.arming == "stay" and zone.interior)


class Cloud:
    """One HPP account in one region, with everything the driver can see of it."""

    def __init__(
        self,
        *,
        region: str = "sg",
        key: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        token_ttl: float = 7 * 24 * 3600.0,
        long_poll: float = 20.0,
        batch_size: int = 20,
        seed: bool = True,
    ) -> None:
        self.region = region
        self.key = key
        self.access_key = access_key
        self.secret_key = secret_key
        self.token_ttl = token_ttl
        self.long_poll = long_poll
        self.batch_size = batch_size
        self.area_domain = REGIONS.get(region, REGIONS["sg"])
        self.foreign: dict[tuple[str, ...], str] = {}
        self.tokens: dict[str, float] = {}
        self.sites: dict[str, str] = {}
        self.devices: dict[str, Device] = {}
        self.queue: deque[dict[str, Any]] = deque()
        self.batches: dict[str, list[str]] = {}
        self.counters = {
            "token_requests": 0,
            "tokens_issued": 0,
            "pulls": 0,
            "commits": 0,
            "expired_token_uses": 0,
            "requests": 0,
        }
        self.picture_base = ""
        # Message ids are unique across simulator runs, as the cloud's are: consumers persist
        # the ids they published to suppress duplicates, and a counter restarting at 1 would
        # make a restarted demo's first alarms look like repeats.
        self._ids = itertools.count(secrets.randbelow(10**9) * 1000 + 1)
        self._wakeup: asyncio.Event | None = None
        if seed:
            self.seed()

    # ------------------------------------------------------------ accounts and tokens

    def add_foreign_account(
        self,
        region: str,
        *,
        key: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> None:
        """Credentials that exist, but in another region: the token request points there."""
        creds = ("key", key) if key else ("aksk", access_key or "", secret_key or "")
        self.foreign[creds] = REGIONS.get(region, region)

    def issue_token(self, body: dict[str, Any]) -> dict[str, Any]:
        self.counters["token_requests"] += 1
        if "key" in body:
            creds: tuple[str, ...] = ("key", str(body["key"]))
            good = self.key is not None and creds[1] == self.key
        else:
            creds = ("aksk", str(body.get("appKey", "")), str(body.get("secretKey", "")))
            good = self.access_key is not None and creds[1:] == (self.access_key, self.secret_key)
        if not good and creds in self.foreign:
            raise CloudError(api.OTHER_REGION, "the account is located in another region")
        if not good:
            raise CloudError(api.KEY_REJECTED)
        token = secrets.token_hex(16)
        expires = time.time() + self.token_ttl
        self.tokens[token] = expires
        self.counters["tokens_issued"] += 1
        return {"accessToken": token, "expireTime": int(expires * 1000), "areaDomain": self.own_domain}

    @property
    def own_domain(self) -> str:
        """The area domain answered to own accounts: the simulator itself once it listens."""
        return self.picture_base or self.area_domain

    def check_token(self, token: str | None) -> None:
        expires = self.tokens.get(token or "")
        if expires is None:
            raise CloudError(api.TOKEN_INVALID)
        if time.time() >= expires:
            self.counters["expired_token_uses"] += 1
            raise CloudError(api.TOKEN_INVALID, "the access token has expired")

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    # ------------------------------------------------------------ sites and devices

    def seed(self) -> None:
        """Two sites, a 2-channel NVR, a licensed PTZ camera, an AX PRO, and devices to add."""
        self.sites.update({"s-1001": "Main Street Shop", "s-1002": "Harbour Warehouse"})
        self.add_camera("Q10000001", "Shop NVR", site_id="s-1001", channels=2, model="DS-7608NXI-K2")
        self.add_camera(
            "Q10000002", "Yard PTZ", site_id="s-1002", channels=1, licence=True, model="DS-2DE4425IW-DE"
        )
        self.add_panel("Q20000001", "Shop AX PRO", site_id="s-1001", linked_camera=("Q10000001", 1))
        self.add_camera("Q30000001", "Back Door Cam", channels=1, code="ABCDEF", model="DS-2CD2143G2-I")
        self.add_panel("Q30000002", "Warehouse AX PRO", code="GHIJKL")
        self.add_camera("Q39999999", "Neighbour Cam", channels=1, code="MNOPQR", owner="someone-else")

    def add_camera(
        self,
        serial: str,
        name: str,
        *,
        site_id: str | None = None,
        channels: int = 1,
        licence: bool = False,
        code: str = "ABCDEF",
        model: str = "DS-2CD2143G2-I",
        owner: str | None = None,
    ) -> Device:
        dev = Device(
            serial,
            name,
            ENCODING,
            model,
            code,
            site_id=site_id,
            licence=licence,
            owner=owner,
            channels=[Channel(n, f"{name} {n}" if channels > 1 else name) for n in range(1, channels + 1)],
            outputs={1: False},
        )
        self.devices[serial] = dev
        return dev

    def add_panel(
        self,
        serial: str,
        name: str,
        *,
        site_id: str | None = None,
        code: str = "ABCDEF",
        linked_camera: tuple[str, int] | None = None,
    ) -> Device:
        dev = Device(
            serial,
            name,
            ALARM,
            "DS-PWA96-M-WE",
            code,
            site_id=site_id,
            firmware="V1.2.8",
            linked_camera=linked_camera,
            subsystems={1: Subsystem(1, "Ground floor"), 2: Subsystem(2, "Office")},
            zones={
                1: PanelZone(1, "Front door"),
                2: PanelZone(2, "Hall PIR", interior=True),
                3: PanelZone(3, "Smoke detector"),
                4: PanelZone(4, "Office window", subsystem=2),
            },
            outputs={1: False, 2: False},
            sirens={1: False},
            locks={1: "close"},
            triggers={1: False},
        )
        self.devices[serial] = dev
        return dev

    def site_devices(self, site_id: str | None = None) -> list[Device]:
        return [
            d
            for d in self.devices.values()
            if d.site_id and d.owner is None and (site_id is None or d.site_id == site_id)
        ]

    def device(self, serial: str) -> Device:
        dev = self.devices.get(serial.upper())
        if dev is None or dev.site_id is None or dev.owner is not None:
            raise CloudError(api.NO_DEVICE)
        return dev

    def add_to_site(self, site_id: str, item: dict[str, Any]) -> Device:
        serial = str(item.get("deviceSerial", "")).upper()
        dev = self.devices.get(serial)
        if dev is None:
            raise CloudError(api.SERIAL_UNKNOWN)
        if dev.owner is not None:
            raise CloudError(api.ADDED_ELSEWHERE)
        if dev.site_id is not None:
            raise CloudError(api.ALREADY_ADDED)
        if str(item.get("validateCode", "")) != dev.code:
            raise CloudError(api.WRONG_CODE)
        dev.site_id = site_id
        dev.name = str(item.get("deviceName") or dev.name)
        if len(dev.channels) == 1:
            dev.channels[0].name = dev.name  # a single camera's channel carries the device name
        dev.stream_encryption = bool(item.get("streamEncryption", False))
        dev.subscribed = True
        return dev

    def set_online(self, serial: str, online: bool) -> str:
        dev = self.device(serial)
        dev.online = online
        kind = "deviceonline" if online else "deviceoffline"
        return self.enqueue(dev, kind, bodies.device_notice(kind, dev.serial, dev.name), "JSON")

    def delete_device(self, serial: str) -> str:
        dev = self.device(serial)
        dev.site_id = None
        return self.enqueue(
            dev,
            "devicedeleted",
            bodies.device_notice("devicedeleted", dev.serial, dev.name),
            "JSON",
            force=True,
        )

    # ------------------------------------------------------------ message queue

    def enqueue(
        self,
        dev: Device,
        msg_type: str,
        body: str,
        fmt: str,
        *,
        channel: int | None = None,
        force: bool = False,
    ) -> str:
        """Queue a message if the device's events are subscribed (``force`` for devicedeleted)."""
        msg_id = f"msg-{next(self._ids):012d}"
        if not (dev.subscribed or force):
            return msg_id
        message = {
            "msgId": msg_id,
            "msgType": msg_type,
            "deviceSerial": dev.serial,
            "formatType": fmt,
            "alarmData": body,
            "alarmTime": bodies.stamp(),
        }
        if channel is not None:
            message["channelNo"] = channel
        self.queue.append(message)
        while len(self.queue) > QUEUE_LIMIT:
            self.queue.popleft()
        if self._wakeup is not None:
            self._wakeup.set()
        return msg_id

    def camera_event(
        self, serial: str, event_type: str, *, channel: int | None = 1, state: str = "active"
    ) -> str:
        dev = self.device(serial)
        if event_type in ("deviceonline", "deviceoffline"):
            return self.set_online(serial, event_type == "deviceonline")
        if event_type == "devicedeleted":
            return self.delete_device(serial)
        if event_type.lower() in ("diskfull", "diskerror", "diskrecover", "recordexception"):
            channel = None
        extra = {"inputIOPortID": 1} if event_type == "IO" else None
        body = bodies.isapi_alert(event_type, channel=channel, state=state, extra=extra)
        return self.enqueue(dev, event_type, body, "XML", channel=channel)

    async def pull(self) -> dict[str, Any]:
        """Oldest unconsumed messages (waiting up to ``long_poll``); nothing is removed yet."""
        self.counters["pulls"] += 1
        if not self.queue and self.long_poll > 0:
            self._wakeup = self._wakeup or asyncio.Event()
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), self.long_poll)
            except TimeoutError:
                pass
        batch = list(itertools.islice(self.queue, self.batch_size))
        if not batch:
            return {"batchId": "", "list": []}
        batch_id = secrets.token_hex(8)
        self.batches[batch_id] = [m["msgId"] for m in batch]
        while len(self.batches) > 1000:
            self.batches.pop(next(iter(self.batches)))
        return {"batchId": batch_id, "list": batch}

    def commit(self, batch_id: str) -> None:
        """Consume a batch: its messages leave the queue for every consumer of the account."""
        ids = set(self.batches.pop(batch_id, []))
        self.counters["commits"] += 1
        self.queue = deque(m for m in self.queue if m["msgId"] not in ids)

    def subscribe(self, body: dict[str, Any]) -> None:
        on = int(body.get("subType", 1)) == 1
        if body.get("subMode") == "list":
            targets = [self.device(s) for s in body.get("deviceSerialList") or []]
        else:
            targets = self.site_devices()
        for dev in targets:
            dev.subscribed = on

    # ------------------------------------------------------------ alarm panel state machine

    def panel(self, serial: str) -> Device:
        dev = self.device(serial)
        if dev.category != ALARM:
            raise CloudError("notSupport", "not an alarm device")
        if not dev.online:
            raise CloudError(api.DEVICE_OFFLINE)
        return dev

    def _cid(
        self, dev: Device, code: int, *, zone: int | None, sub: int, name: str, user: int | None = None
    ) -> str:
        return self.enqueue(
            dev, "cidEvent", bodies.cid_body(code, zone=zone, subsystem=sub, name=name, user=user), "JSON"
        )

    def arm(self, serial: str, sub_no: int, mode: str) -> None:
        dev = self.panel(serial)
        sub = self._sub(dev, sub_no)
        faults = [z.name for z in dev.zones.values() if z.subsystem == sub_no and z.fault and not z.bypassed]
        if faults:
            raise CloudError("armingFailed", f"zone fault: {', '.join(faults)}")
        sub.arming = mode
        sub.alarm = False
        self._cid(dev, 3441 if mode == "stay" else 3401, zone=None, sub=sub_no, name=sub.name, user=1)

    def disarm(self, serial: str, sub_no: int) -> None:
        dev = self.panel(serial)
        sub = self._sub(dev, sub_no)
        sub.arming, sub.alarm = "disarm", False
        for zone in dev.zones.values():
            if zone.subsystem == sub_no:
                zone.alarm = False
        self._cid(dev, 1401, zone=None, sub=sub_no, name=sub.name, user=1)

    def clear_alarm(self, serial: str, sub_no: int) -> None:
        dev = self.panel(serial)
        sub = self._sub(dev, sub_no)
        was_fire = sub.fire
        sub.alarm = sub.fire = False
        for zone in dev.zones.values():
            if zone.subsystem == sub_no:
                zone.alarm = False
        if was_fire:
            self._cid(dev, 3110, zone=None, sub=sub_no, name=sub.name)

    def bypass(self, serial: str, zone_no: int, on: bool) -> None:
        dev = self.panel(serial)
        zone = self._zone(dev, zone_no)
        zone.bypassed = on
        self._cid(dev, 1570 if on else 3570, zone=zone_no, sub=zone.subsystem, name=zone.name)

    def trigger_zone(self, serial: str, zone_no: int, *, fire: bool = False) -> str | None:
        """A detector fires: an armed (or fire) zone alarms -> cidEvent plus Linkage pictures."""
        dev = self.panel(serial)
        zone = self._zone(dev, zone_no)
        if not (fire or dev.zone_armed(zone)):
            return None
        zone.alarm = True
        sub = self._sub(dev, zone.subsystem)
        sub.alarm = True
        sub.fire = sub.fire or fire
        alarm_id = self._cid(dev, 1110 if fire else 1130, zone=zone_no, sub=zone.subsystem, name=zone.name)
        if dev.linked_camera:
            cam, channel = dev.linked_camera
            pictures = [
                {
                    "url": f"{self.picture_base}/_sim/pictures/{alarm_id}-{n}.jpg",
                    "deviceSerial": cam,
                    "channelNo": channel,
                    "time": bodies.stamp(),
                }
                for n in (1, 2)
            ]
            self.enqueue(dev, "Linkage", bodies.linkage_body(alarm_id, pictures), "JSON")
        return alarm_id

    def _sub(self, dev: Device, number: int) -> Subsystem:
        if number not in dev.subsystems:
            raise CloudError("invalidID", f"no subsystem {number}")
        return dev.subsystems[number]

    def _zone(self, dev: Device, number: int) -> PanelZone:
        if number not in dev.zones:
            raise CloudError("invalidID", f"no zone {number}")
        return dev.zones[number]

    # ------------------------------------------------------------ views

    def device_row(self, dev: Device) -> dict[str, Any]:
        row = {
            "id": f"dev-{dev.serial}",
            "deviceSerial": dev.serial,
            "deviceName": dev.name,
            "deviceCategory": dev.category,
            "deviceModel": dev.model,
            "firmwareVersion": dev.firmware,
            "onlineStatus": 1 if dev.online else 0,
            "siteId": dev.site_id,
            "siteName": self.sites.get(dev.site_id or "", ""),
            "subscribed": dev.subscribed,
        }
        if dev.category == ENCODING:
            row.update(cameraLicense=dev.licence, channelNum=len(dev.channels))
        return row

    def snapshot(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "sites": dict(self.sites),
            "queue": len(self.queue),
            "counters": dict(self.counters),
            "devices": {
                s: {
                    "site": d.site_id,
                    "online": d.online,
                    "subscribed": d.subscribed,
                    "subsystems": {
                        n: {"arming": x.arming, "alarm": x.alarm} for n, x in d.subsystems.items()
                    },
                    "zones": {n: {"bypassed": z.bypassed, "alarm": z.alarm} for n, z in d.zones.items()},
                    "outputs": d.outputs,
                    "sirens": d.sirens,
                    "locks": d.locks,
                    "triggers": d.triggers,
                    "ptz": d.ptz[-10:],
                }
                for s, d in self.devices.items()
            },
        }
