"""The state of a simulated Hik-Partner Pro account: tokens, sites, devices, panels, queue.

Pure Python and synchronous (no HTTP) so the simulator's web layer stays thin and tests can
drive the account directly. Every refusal is a :class:`CloudError` carrying a code of guide A.1
(imported from ``codes``, the one table the driver reads too); shapes follow the guide's
sections named at each method.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import secrets
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from gemhost_drivers.hpp import codes, timezones
from gemhost_drivers.hpp.simulator import bodies

QUEUE_LIMIT = 10_000
IPC, NVR, ALARM_HOST = 1, 2, 3
TOKEN_PREFIX = "hpc."  # guide 2.2's example token "hpc.6grytwlw2z1li7k0nk2v0ti2h6kipfb8"


class CloudError(Exception):
    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or codes.describe(code))
        self.code = code


@dataclass
class Channel:
    number: int
    name: str
    online: bool = True


@dataclass
class Partition:
    number: int
    name: str
    arming: str = "disarm"  # A.5.9: stay, away, disarm, arming
    alarm: bool = False
    fire: bool = False


@dataclass
class PanelZone:
    number: int  # A.5.3: zone No. starts from 0
    name: str
    partition: int = 1
    interior: bool = False
    online: bool = True
    bypassed: bool = False
    fault: bool = False
    alarm: bool = False
    zone_type: str = "Instant"
    detector_type: str = "passiveInfraredDetector"  # A.5.13 detectorType
    magnet_open: bool | None = None  # A.5.13 magnetOpenStatus, for magnetic contacts only


@dataclass
class Device:
    serial: str
    name: str
    category: int
    model: str
    code: str
    id: str = ""
    sub_category: int = 0
    site_id: str | None = None
    online: bool = True
    firmware: str = "V5.7.0 build 231120"
    owner: str | None = None
    subscribed: bool = True
    time_zone: int = 136  # A.2: Coordinated Universal Time
    channels: list[Channel] = field(default_factory=list)
    partitions: dict[int, Partition] = field(default_factory=dict)
    zones: dict[int, PanelZone] = field(default_factory=dict)
    relays: dict[int, bool] = field(default_factory=dict)
    io_outputs: dict[int, bool] = field(default_factory=dict)
    presets: set[int] = field(default_factory=set)
    search_limit: int = 16
    """Most results one status search answers (A.5.4 maxResults beyond it is cut to it)."""
    linked_camera: tuple[str, int] | None = None
    ptz: list[dict[str, Any]] = field(default_factory=list)
    added_at: str = "2024-03-25T06:26:01.927Z"

    @property
    def tz(self) -> dt.tzinfo | None:
        return timezones.zone_of(self.time_zone)

    def zone_armed(self, zone: PanelZone) -> bool:
        part = self.partitions.get(zone.partition)
        if part is None or part.arming not in ("stay", "away") or zone.bypassed:
            return False
        return not (part.arming == "stay" and zone.interior)


@dataclass
class Site:
    id: str
    name: str
    time_zone: str = "136"
    city: str = ""
    street: str = ""


@dataclass
class Credential:
    name: str  # "key" or the AK
    secret: str


class Cloud:
    """One HPP account, with everything the driver can see of it."""

    def __init__(
        self,
        *,
        key: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        token_ttl: float = 7 * 24 * 3600.0,
        long_poll: float = 20.0,
        batch_size: int = 20,
        seed: bool = True,
    ) -> None:
        self.credentials: list[Credential] = []
        if key:
            self.credentials.append(Credential("key", key))
        if access_key:
            self.credentials.append(Credential(access_key, secret_key or ""))
        self.token_ttl = token_ttl
        self.long_poll = long_poll
        self.batch_size = batch_size
        self.area_domain = ""  # set by the simulator to its regional listener
        self.tokens: dict[str, tuple[float, str]] = {}
        self.revoked: set[str] = set()
        self.sites: dict[str, Site] = {}
        self.devices: dict[str, Device] = {}
        self.queue: deque[dict[str, Any]] = deque()
        self.batches: dict[str, list[str]] = {}
        self.pulling: set[str] = set()
        self.counters = {"token_requests": 0, "tokens_issued": 0, "pulls": 0, "commits": 0,
                         "expired_token_uses": 0, "requests": 0, "area_requests": 0, "busy_refusals": 0}
        # Message ids are unique across simulator runs, as the cloud's are: consumers persist the
        # ids they published to suppress duplicates, and a counter restarting at 1 would make a
        # restarted demo's first alarms look like repeats.
        self._ids = itertools.count(secrets.randbelow(10**9) * 1000 + 1)
        self._wakeup: asyncio.Event | None = None
        if seed:
            self.seed()

    # ------------------------------------------------------------ accounts and tokens (2.2, 3.1)

    @property
    def key(self) -> str | None:
        return next((c.secret for c in self.credentials if c.name == "key"), None)

    @key.setter
    def key(self, value: str | None) -> None:
        self.credentials = [c for c in self.credentials if c.name != "key"]
        if value:
            self.credentials.insert(0, Credential("key", value))

    def issue_token(self, body: dict[str, Any]) -> dict[str, Any]:
        self.counters["token_requests"] += 1
        if "key" in body:  # the "Key" access mode: assumption 1 of the driver
            name, secret = "key", str(body.get("key") or "")
        else:
            name, secret = str(body.get("appKey") or ""), str(body.get("secretKey") or "")
            if not name or not secret:
                raise CloudError(codes.PARAMETER_ERROR, "appKey and secretKey are required")
        match = next((c for c in self.credentials if c.name == name and (name != "key" or c.secret == secret)),
                     None)
        if match is None:  # a key is its own identity: a wrong one is not found
            raise CloudError(codes.AK_NOT_FOUND)
        if match.secret != secret:
            raise CloudError(codes.AK_SK_MISMATCH)
        token = TOKEN_PREFIX + secrets.token_hex(16)
        expires = time.time() + self.token_ttl
        self.tokens[token] = (expires, name)
        self.counters["tokens_issued"] += 1
        return {"accessToken": token, "expireTime": int(expires * 1000), "areaDomain": self.area_domain}

    def check_token(self, header: str | None) -> str:
        """The credential a request's ``Authorization`` header belongs to (A.1 LAP5000xx codes)."""
        if not header:
            raise CloudError(codes.TOKEN_EMPTY)
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token.startswith(TOKEN_PREFIX) or len(token) != len(TOKEN_PREFIX) + 32:
            raise CloudError(codes.TOKEN_MALFORMED)
        if token in self.revoked:
            raise CloudError(codes.TOKEN_UNVERIFIED)
        entry = self.tokens.get(token)
        if entry is None:
            raise CloudError(codes.TOKEN_EXPIRED)
        if time.time() >= entry[0]:
            self.counters["expired_token_uses"] += 1
            raise CloudError(codes.TOKEN_EXPIRED)
        return entry[1]

    def revoke_tokens(self) -> None:
        self.revoked.update(self.tokens)
        self.tokens.clear()

    # ------------------------------------------------------------ sites and devices

    def seed(self) -> None:
        """Two sites, a 2-channel NVR, a PTZ camera, an AX PRO, and devices to add."""
        self.sites.update({
            "s-1001": Site("s-1001", "Main Street Shop", time_zone="182", city="Singapore"),
            "s-1002": Site("s-1002", "Harbour Warehouse", time_zone="182", city="Singapore"),
        })
        self.add_camera("Q10000001", "Shop NVR", site_id="s-1001", channels=2, category=NVR,
                        model="DS-7608NXI-K2", sub_category=1, time_zone=182)
        self.add_camera("Q10000002", "Yard PTZ", site_id="s-1002", channels=1, model="DS-2DE4425IW-DE",
                        time_zone=182, presets={1, 2, 3, 7})
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
        category: int = IPC,
        code: str = "ABCDEF",
        model: str = "DS-2CD2143G2-I",
        owner: str | None = None,
        sub_category: int = 0,
        time_zone: int = 136,
        presets: set[int] | None = None,
    ) -> Device:
        dev = Device(
            serial, name, category, model, code, id=f"dev-{serial.lower()}", sub_category=sub_category,
            site_id=site_id, owner=owner, time_zone=time_zone,
            channels=[Channel(n, f"{name} {n}" if channels > 1 else name) for n in range(1, channels + 1)],
            io_outputs={1: False}, presets=presets or set(),
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
        time_zone: int = 182,
    ) -> Device:
        dev = Device(
            serial, name, ALARM_HOST, "DS-PWA96-M-WE", code, id=f"dev-{serial.lower()}", sub_category=3,
            site_id=site_id, firmware="V1.2.8 build 240110", linked_camera=linked_camera, time_zone=time_zone,
            partitions={1: Partition(1, "Ground floor"), 2: Partition(2, "Office")},
            zones={
                0: PanelZone(0, "Front door", zone_type="Delay", detector_type="magneticContact",
                             magnet_open=False),
                1: PanelZone(1, "Hall PIR", interior=True, zone_type="Follow"),
                2: PanelZone(2, "Smoke detector", zone_type="Fire", detector_type="wirelessSmokeDetector"),
                3: PanelZone(3, "Office window", partition=2, detector_type="slimMagneticContact",
                             magnet_open=False),
            },
            relays={0: False, 1: False},
        )
        self.devices[serial] = dev
        return dev

    def site_devices(self, site_id: str | None = None) -> list[Device]:
        return [d for d in self.devices.values()
                if d.site_id and d.owner is None and (site_id is None or d.site_id == site_id)]

    def device(self, serial: str) -> Device:
        dev = self.devices.get(str(serial).strip().upper())
        if dev is None or dev.site_id is None or dev.owner is not None:
            raise CloudError(codes.NO_DEVICE)
        return dev

    def add_to_site(self, site_id: str, item: dict[str, Any]) -> Device:
        """3.18: one deviceList entry; refusals use the A.1 codes the guide gives for them."""
        serial = str(item.get("deviceSerial") or "").strip().upper()
        if not 1 <= len(serial) <= 9:
            raise CloudError(codes.BAD_SERIAL)
        dev = self.devices.get(serial)
        if dev is None:
            raise CloudError(codes.UNKNOWN_DEVICE)
        if dev.owner is not None:
            raise CloudError(codes.OTHER_ACCOUNT)
        if dev.site_id is not None:
            raise CloudError(codes.ALREADY_ADDED)
        if not dev.online:
            raise CloudError(codes.DEVICE_OFFLINE)
        if str(item.get("validateCode") or "") != dev.code:
            raise CloudError(codes.WRONG_CODE)
        dev.site_id = site_id
        dev.subscribed = True
        return dev

    def set_online(self, serial: str, online: bool) -> str:
        dev = self.device(serial)
        dev.online = online
        kind = "deviceonline" if online else "deviceoffline"
        return self.enqueue(dev, "JSON", bodies.device_notice(kind, dev.serial))

    def delete_device(self, serial: str) -> str:
        dev = self.device(serial)
        dev.site_id = None
        # A.3: devicedeleted "is reported regardless of subscription or not".
        return self.enqueue(dev, "JSON", bodies.device_notice("devicedeleted", dev.serial), force=True)

    # ------------------------------------------------------------ message queue (3.33-3.35)

    def enqueue(self, dev: Device, fmt: str, body: str, *, force: bool = False) -> str:
        """Queue a message (2.10/3.34 item shape) if the device's events are subscribed."""
        msg_id = f"{next(self._ids):032x}"
        if not (dev.subscribed or force):
            return msg_id
        self.queue.append({"messageId": msg_id, "accountNumber": "1001", "deviceSerial": dev.serial,
                           "formatType": fmt, "alarmData": body})
        while len(self.queue) > QUEUE_LIMIT:
            self.queue.popleft()
        if self._wakeup is not None:
            self._wakeup.set()
        return msg_id

    def enqueue_raw(self, item: dict[str, Any]) -> str:
        """Queue any item as given (a test's guide fixture or a hostile body)."""
        item = dict(item)
        item.setdefault("messageId", f"{next(self._ids):032x}")
        self.queue.append(item)
        if self._wakeup is not None:
            self._wakeup.set()
        return str(item["messageId"])

    def camera_event(self, serial: str, event_type: str, *, channel: int | None = 1, state: str | None = None) -> str:
        dev = self.device(serial)
        if event_type in ("deviceonline", "deviceoffline"):
            return self.set_online(serial, event_type == "deviceonline")
        if event_type == "devicedeleted":
            return self.delete_device(serial)
        if event_type in bodies.DISK_TYPES:
            return self.enqueue(dev, "XML", bodies.disk_alert(event_type, dev.serial))
        name = next((c.name for c in dev.channels if c.number == channel), None)
        body = bodies.camera_alert(event_type, dev.serial, channel=channel, channel_name=name, zone=dev.tz,
                                   state=state)
        return self.enqueue(dev, "XML", body)

    async def pull(self, credential: str) -> dict[str, Any]:
        """3.34: oldest unconsumed messages (waiting up to ``long_poll``); nothing is removed yet.

        A second pull with the same credentials while one is open is refused with LAP068001
        (the driver's assumption 8)."""
        if credential in self.pulling:
            self.counters["busy_refusals"] += 1
            raise CloudError(codes.QUEUE_BUSY)
        self.pulling.add(credential)
        try:
            self.counters["pulls"] += 1
            if not self.queue and self.long_poll > 0:
                self._wakeup = self._wakeup or asyncio.Event()
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), self.long_poll)
                except TimeoutError:
                    pass
        finally:
            self.pulling.discard(credential)
        batch = list(itertools.islice(self.queue, self.batch_size))
        if not batch:
            return {"batchId": "", "list": []}
        batch_id = secrets.token_hex(16)
        self.batches[batch_id] = [m["messageId"] for m in batch]
        while len(self.batches) > 1000:
            self.batches.pop(next(iter(self.batches)))
        return {"batchId": batch_id, "list": batch}

    def commit(self, batch_id: str) -> None:
        """3.35: consume a batch; its messages leave the queue for every consumer of the account."""
        if not batch_id:
            raise CloudError(codes.PARAMETER_ERROR, "batchId is required")
        ids = set(self.batches.pop(batch_id, []))
        self.counters["commits"] += 1
        self.queue = deque(m for m in self.queue if m.get("messageId") not in ids)

    def subscribe(self, body: dict[str, Any]) -> None:
        """3.33 mq/subscribe."""
        if body.get("subType") not in (0, 1) or body.get("subMode") not in ("all", "list"):
            raise CloudError(codes.PARAMETER_ERROR, "subType must be 0 or 1 and subMode all or list")
        if body["subMode"] == "list":
            if not body.get("deviceSerialList"):
                raise CloudError(codes.PARAMETER_ERROR, "deviceSerialList is required when subMode is list")
            targets = [self.device(s) for s in body["deviceSerialList"]]
        else:
            targets = self.site_devices()
        for dev in targets:
            dev.subscribed = body["subType"] == 1

    # ------------------------------------------------------------ the alarm panel's state machine

    def panel(self, serial: str) -> Device:
        return self.device(serial)

    def _cid(self, dev: Device, code: int, description: str, evttype: str, **fields: Any) -> str:
        return self.enqueue(dev, "JSON", bodies.cid_body(dev.serial, code, description=description,
                                                         evttype=evttype, zone_tz=dev.tz, **fields))

    def arm(self, serial: str, number: int, ways: str) -> None:
        """A.4.10: arming reports CID 3401 (away) or 3441 (stay), qualifier 3 = closing."""
        dev = self.panel(serial)
        part = dev.partitions[number]
        faults = [z.name for z in dev.zones.values() if z.partition == number and z.fault and not z.bypassed]
        if faults:
            raise CloudError("zoneFault", f"zone fault: {', '.join(faults)}")
        part.arming, part.alarm = ways, False
        self._cid(dev, 3441 if ways == "stay" else 3401, "StayArmOperation" if ways == "stay" else "ArmOperation",
                  "13", system=number, system_name=part.name, user_no=502, user_name="installer")

    def disarm(self, serial: str, number: int) -> None:
        """A.4.14: CID 1401 "DisarmOperation", as in guide 2.10's example."""
        dev = self.panel(serial)
        part = dev.partitions[number]
        part.arming, part.alarm = "disarm", False
        self._cid(dev, 1401, "DisarmOperation", "13", system=number, system_name=part.name, user_no=502,
                  user_name="installer")

    def clear_alarm(self, serial: str, number: int) -> None:
        """A.4.13: clears the partition's alarms; a fire is restored (3110)."""
        dev = self.panel(serial)
        part = dev.partitions[number]
        for zone in [z for z in dev.zones.values() if z.partition == number and z.alarm]:
            zone.alarm = False
            code = 3110 if part.fire and zone.zone_type == "Fire" else 3130
            self._cid(dev, code, "AlarmRestore", "31", system=number, system_name=part.name, zone=zone.number,
                      zone_name=zone.name)
        part.alarm = part.fire = False

    def bypass(self, serial: str, number: int, on: bool) -> None:
        """A.4.11/A.4.12: CID 1570 (bypass) / 3570 (bypass recovered)."""
        dev = self.panel(serial)
        zone = dev.zones[number]
        zone.bypassed = on
        self._cid(dev, 1570 if on else 3570, "Bypass" if on else "BypassRecover", "13" if on else "33",
                  system=zone.partition, system_name=dev.partitions[zone.partition].name, zone=number,
                  zone_name=zone.name)

    def trigger_zone(self, serial: str, number: int, *, fire: bool = False) -> str | None:
        """A detector fires: an armed (or fire) zone alarms -> cidEvent, plus a Linkage (A.3.6)."""
        dev = self.panel(serial)
        zone = dev.zones[number]
        if not (fire or dev.zone_armed(zone)):
            return None
        zone.alarm = True
        part = dev.partitions[zone.partition]
        part.alarm, part.fire = True, part.fire or fire
        relation = str(uuid.uuid4()) if dev.linked_camera else None
        alarm_id = self._cid(dev, 1110 if fire else 1130, "FireAlarm" if fire else "ZoneAlarm", "11",
                             system=zone.partition, system_name=part.name, zone=number, zone_name=zone.name,
                             relation_id=relation)
        if relation and dev.linked_camera:
            cam, channel = dev.linked_camera
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
            pictures = [{"id": f"{stamp}-{cam}-{channel}-40002-2-{n}",
                         "url": f"{self.area_domain}/v3/alarms/pic/get?fileId={stamp}-{cam}-{channel}-40002-2-{n}"
                                f"&deviceSerialNo={cam}&cn={channel}&isEncrypted=0&isCloudStored=0&isDevVideo=0"}
                        for n in (1, 2)]
            self.enqueue(dev, "JSON", bodies.linkage_body(dev.serial, relation, pictures, dev.tz))
        return alarm_id

    def set_contact(self, serial: str, number: int, opened: bool) -> str | None:
        """A magnetic contact opens or closes (A.5.13 magnetOpenStatus); opening an armed zone
        trips it like any detector, closing it restores an alarm it raised."""
        dev = self.panel(serial)
        zone = dev.zones[number]
        if zone.magnet_open is None:
            raise CloudError("zoneNotSupport", f"zone {number} is a {zone.detector_type}, not a magnetic contact")
        zone.magnet_open = opened
        return self.trigger_zone(serial, number) if opened else self.restore_zone(serial, number)

    def restore_zone(self, serial: str, number: int) -> str | None:
        """The detector closes again: an alarmed zone reports its restore (CID 3130, evttype 31)."""
        dev = self.panel(serial)
        zone = dev.zones[number]
        if not zone.alarm:
            return None
        zone.alarm = False
        part = dev.partitions[zone.partition]
        code = 3110 if zone.zone_type == "Fire" else 3130
        return self._cid(dev, code, "AlarmRestore", "31", system=zone.partition, system_name=part.name,
                         zone=number, zone_name=zone.name)

    # ------------------------------------------------------------ views (3.6, 3.21, 3.22)

    def site_row(self, site: Site) -> dict[str, Any]:
        return {"id": site.id, "siteName": site.name, "timeZone": site.time_zone, "timeSync": True,
                "installerId": "inst-1", "installerFirstName": "Sam", "installerLastName": "Installer",
                "siteState": "", "siteCity": site.city, "siteStreet": site.street, "location": "",
                "siteDeliveryStatus": 0, "cloudEnable": True, "sharedInfo": {"shareType": 0}}

    def device_row(self, dev: Device) -> dict[str, Any]:
        site = self.sites.get(dev.site_id or "")
        return {
            "id": dev.id,
            "deviceName": dev.name,
            "deviceOnlineStatus": 1 if dev.online else 0,
            "deviceSerial": dev.serial,
            "deviceVersion": dev.firmware,
            "deviceType": dev.model,
            "deviceCategory": dev.category,
            "deviceSubCategory": dev.sub_category,
            "isSubscribed": dev.subscribed,
            "deviceAddTime": dev.added_at,
            "timeZone": str(dev.time_zone),
            "extInfo": "",
            "siteID": dev.site_id,
            "siteName": site.name if site else "",
            "deviceShareFlag": False,
            "arcId": "",
            "arcCompanyName": "",
        }

    def channel_rows(self, dev: Device) -> list[dict[str, Any]]:
        return [
            {"deviceSerial": dev.serial, "ipcSerial": dev.serial if dev.category == IPC else "",
             "channelNo": c.number, "deviceName": dev.name, "channelName": c.name,
             "status": 1 if (c.online and dev.online) else 0, "isShared": "0", "isEncrypt": 0, "videoLevel": 2,
             "relatedIpc": dev.category != IPC}
            for c in dev.channels
        ]

    def snapshot(self) -> dict[str, Any]:
        return {
            "sites": {s.id: s.name for s in self.sites.values()},
            "queue": len(self.queue),
            "counters": dict(self.counters),
            "devices": {
                s: {
                    "site": d.site_id,
                    "online": d.online,
                    "subscribed": d.subscribed,
                    "name": d.name,
                    "partitions": {n: {"arming": p.arming, "alarm": p.alarm} for n, p in d.partitions.items()},
                    "zones": {n: {"bypassed": z.bypassed, "alarm": z.alarm, "open": z.magnet_open}
                              for n, z in d.zones.items()},
                    "relays": dict(d.relays),
                    "io_outputs": dict(d.io_outputs),
                    "ptz": d.ptz[-10:],
                }
                for s, d in self.devices.items()
            },
        }
