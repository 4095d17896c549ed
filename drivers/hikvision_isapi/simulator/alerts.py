"""EventNotificationAlert documents the way firmware writes them on the alertStream.

Every shape here comes from real streams quoted in public threads (sources in
docs/drivers/hikvision_isapi.md, "Simulator"): a camera names the channel in ``channelID``;
an NVR in ``channelID`` and ``dynChannelID``, both the human channel number; the
heartbeat is ``videoloss``/``inactive`` with ``activePostCount`` 0 and, on an NVR, empty
channel elements (``channelID`` 1 on a camera); VMD's description is "Motion alarm", other
types' "<type> alarm"; a smart event's ``active`` parts name the detection region, its
``inactive`` part does not; ``activePostCount`` counts the posts of one condition.
"""

from __future__ import annotations

import datetime as dt
import json
from xml.sax.saxutils import escape

NS = "http://www.hikvision.com/ver20/XMLSchema"
REGION_TYPES = frozenset({"linedetection", "fielddetection", "regionentrance", "regionexiting"})
DESCRIPTIONS = {"vmd": "Motion alarm"}


def description(event_type: str) -> str:
    return DESCRIPTIONS.get(event_type.lower(), f"{event_type} alarm")


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


class AlertWriter:
    """Builds the alert documents of one simulated device."""

    def __init__(self, *, host: str, port: int, https: bool, nvr: bool, mac: str) -> None:
        self.host, self.port, self.https, self.nvr, self.mac = host, port, https, nvr, mac
        self.access_serial = 1000

    def _head(self, version: str = "2.0") -> str:
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<EventNotificationAlert version="{version}" '
                f'xmlns="{NS}">\n<ipAddress>{self.host}</ipAddress>\n<portNo>{self.port}</portNo>\n'
                f"<protocol>{'HTTPS' if self.https else 'HTTP'}</protocol>\n<macAddress>{self.mac}</macAddress>\n")

    def _channel(self, channel: int | None) -> str:
        if channel is None:
            return "<dynChannelID/>\n<channelID/>\n" if self.nvr else ""
        if self.nvr:
            return f"<channelID>{channel}</channelID>\n<dynChannelID>{channel}</dynChannelID>\n"
        return f"<channelID>{channel}</channelID>\n"

    def alert(self, channel: int | None, event_type: str, state: str = "active", post_count: int = 1,
              region: int | None = None, **fields: str) -> str:
        """One alert; ``region`` adds the DetectionRegionList of a smart event's active part."""
        extra = "".join(f"<{k}>{escape(str(v))}</{k}>\n" for k, v in fields.items())
        regions = ""
        if region is not None:
            regions = (f"<DetectionRegionList>\n<DetectionRegionEntry>\n<regionID>{region}</regionID>\n"
                       "<sensitivityLevel>50</sensitivityLevel>\n<RegionCoordinatesList>\n"
                       "</RegionCoordinatesList>\n<detectionTarget>human</detectionTarget>\n"
                       "</DetectionRegionEntry>\n</DetectionRegionList>\n")
        name = f"<channelName>Camera {channel:02d}</channelName>\n" if channel else ""
        return (self._head() + self._channel(channel)
                + f"<dateTime>{_now()}</dateTime>\n<activePostCount>{post_count}</activePostCount>\n"
                f"<eventType>{event_type}</eventType>\n<eventState>{state}</eventState>\n"
                f"<eventDescription>{description(event_type)}</eventDescription>\n"
                + name + regions + extra + "</EventNotificationAlert>\n")

    def duration(self, channel: int, relation: str, post_count: int = 1) -> str:
        """The ``duration`` part some firmware sends while a smart event lasts (hikvision_next
        capture ipc_1_fielddetection.xml): no region, the event named in ``relationEvent``."""
        return (self._head() + self._channel(channel)
                + f"<dateTime>{_now()}</dateTime>\n<activePostCount>{post_count}</activePostCount>\n"
                "<eventType>duration</eventType>\n<eventState>active</eventState>\n"
                "<eventDescription>duration alarm</eventDescription>\n"
                f"<channelName>Camera {channel:02d}</channelName>\n<DurationList>\n<Duration>\n"
                f"<relationEvent>{relation}</relationEvent>\n</Duration>\n</DurationList>\n"
                "<isDataRetransmission>false</isDataRetransmission>\n</EventNotificationAlert>\n")

    def heartbeat(self) -> str:
        """The keep-alive: videoloss, inactive, activePostCount 0; an NVR leaves the channel
        elements empty, a camera names channel 1."""
        return (self._head() + self._channel(None if self.nvr else 1)
                + f"<dateTime>{_now()}</dateTime>\n<activePostCount>0</activePostCount>\n"
                "<eventType>videoloss</eventType>\n<eventState>inactive</eventState>\n"
                "<eventDescription>videoloss alarm</eventDescription>\n<channelName></channelName>\n"
                "</EventNotificationAlert>\n")

    def access(self, card_no: str, employee_no: str = "", major: int = 5, sub: int = 1,
               name: str = "") -> str:
        """An access-control terminal's JSON alert (one per swipe, each with its own serialNo)."""
        self.access_serial += 1
        return json.dumps({
            "ipAddress": self.host, "portNo": self.port, "protocol": "HTTPS" if self.https else "HTTP",
            "macAddress": self.mac, "channelID": 1, "dateTime": _now(), "activePostCount": 1,
            "eventType": "AccessControllerEvent", "eventState": "active",
            "eventDescription": "Access Controller Event",
            "AccessControllerEvent": {
                "deviceName": "SIM access terminal", "majorEventType": major, "subEventType": sub,
                "name": name, "cardNo": card_no, "cardType": 1, "cardReaderNo": 1, "doorNo": 1,
                "employeeNoString": employee_no, "serialNo": self.access_serial, "userType": "normal",
                "currentVerifyMode": "cardOrFace", "frontSerialNo": self.access_serial - 1,
                "attendanceStatus": "undefined", "label": "", "mask": "no", "picturesNumber": 0,
            },
        })
