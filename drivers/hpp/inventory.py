"""Device and channel rows of an HPP account, read the way guide 3.21 and 3.22 define them.

``POST /api/hpcgw/v1/device/list`` rows carry ``deviceCategory`` as an integer (1 IPC, 2 NVR,
3 AlarmHost, ...), ``deviceOnlineStatus`` (0 offline, 1 online, 2 unknown), the model in
``deviceType``, firmware in ``deviceVersion`` and the site in ``siteID``; there are no licence
or channel-count fields. ``POST /api/hpcgw/v1/device/camera/list`` answers a plain array of
channels with ``status`` (0 offline, 1 online, -1 unknown). The guide's examples pad some
values with spaces (``" Q01728482"``), so strings are stripped on the way in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gemhost.values import int_or_none

# Guide 3.21 deviceCategory; the names are this driver's words for them (also the list_devices
# ``type`` filter values).
CATEGORIES: dict[int, str] = {
    1: "ipc",
    2: "nvr",
    3: "alarm_host",
    4: "intercom",
    5: "access_control",
    7: "ip_dome",
    8: "doorbell",
    9: "storage_box",
    10: "thermal_camera",
    11: "switch",
}
ALARM_HOST = 3
# Devices with video channels that take the camera ISAPI URIs of guide A.4 (PTZ, IO outputs).
ENCODING = frozenset({1, 2, 7, 9, 10})
GROUPS = {"encoding": ENCODING, "alarm": frozenset({ALARM_HOST})}
TYPE_FILTERS = ["all", *GROUPS, *CATEGORIES.values()]

# Guide 3.21 deviceSubCategory.
SUB_CATEGORIES: dict[int, str] = {
    0: "unknown",
    1: "nvr",
    2: "dvr",
    3: "ax2",
    4: "ax_hub",
    5: "ax_hybrid",
    6: "panic_alarm_station",
    7: "box_panic_alarm_station",
    8: "pole_panic_alarm_station",
    9: "minmoe",
    10: "ax_hybrid_pro",
    11: "solar_camera",
    12: "door_station",
    13: "fall_detection_radar",
}
ONLINE = {0: False, 1: True}  # 2 (unknown) maps to None


def _flag(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true")
    return bool(value)


def _str(value: Any) -> str:
    return "" if value is None else str(value).strip()


@dataclass(frozen=True)
class DeviceRow:
    """One row of device/list (guide 3.21)."""

    id: str
    serial: str
    name: str
    category: int | None
    sub_category: int | None
    online: bool | None
    model: str
    firmware: str
    site_id: str
    site_name: str
    time_zone: str
    subscribed: bool | None
    shared: bool | None
    arc_company: str

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> DeviceRow:
        return cls(
            id=_str(row.get("id")),
            serial=_str(row.get("deviceSerial")).upper(),
            name=_str(row.get("deviceName")),
            category=int_or_none(row.get("deviceCategory")),
            sub_category=int_or_none(row.get("deviceSubCategory")),
            online=ONLINE.get(int_or_none(row.get("deviceOnlineStatus"))),
            model=_str(row.get("deviceType")),
            firmware=_str(row.get("deviceVersion")),
            site_id=_str(row.get("siteID")),
            site_name=_str(row.get("siteName")),
            time_zone=_str(row.get("timeZone")),
            # The guide types it Boolean but its example has 1: accept both.
            subscribed=_flag(row.get("isSubscribed")),
            shared=_flag(row.get("deviceShareFlag")),
            arc_company=_str(row.get("arcCompanyName")),
        )

    @property
    def type_name(self) -> str:
        return CATEGORIES.get(self.category or 0, "other")

    @property
    def is_alarm_host(self) -> bool:
        return self.category == ALARM_HOST

    @property
    def is_encoding(self) -> bool:
        return self.category in ENCODING

    def matches(self, type_filter: str) -> bool:
        """Whether the row passes list_devices' ``type`` (a group or one guide category)."""
        if type_filter == "all":
            return True
        if type_filter in GROUPS:
            return self.category in GROUPS[type_filter]
        return self.type_name == type_filter


@dataclass(frozen=True)
class ChannelRow:
    """One entry of device/camera/list (guide 3.22)."""

    number: int
    name: str
    online: bool | None
    ipc_serial: str

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> ChannelRow | None:
        number = int_or_none(row.get("channelNo"))
        if number is None:
            return None
        return cls(
            number=number,
            name=_str(row.get("channelName")),
            online=ONLINE.get(int_or_none(row.get("status"))),
            ipc_serial=_str(row.get("ipcSerial")),
        )
