"""The XML documents a synthetic simulated device answers, shaped like the real captures.

Each builder follows a capture of ../shared/fixtures/isapi-captures/devices (named in its
docstring) in element names, nesting and numbering; only the values are the simulator's.
"""

from __future__ import annotations

import datetime as dt
import uuid

from ..assumptions import DEVICE_STATUS_FIELDS

NS = "http://www.hikvision.com/ver20/XMLSchema"
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'

CHANNEL_EVENTS = ("VMD", "tamperdetection", "videoloss", "fielddetection", "linedetection",
                  "regionEntrance", "regionExiting")
"""Event triggers of every video channel (DS-2CD2346G2-ISU and DS-7608NXI-I2 captures)."""
DEVICE_EVENTS = ("diskfull", "diskerror", "nicbroken", "ipconflict", "illaccess")
NOTIFY = ("center", "record")
"""Linkage of each trigger: "center" is "notify surveillance center", what puts an event on
the alertStream (pyhik accepts center/HTTP/record/email/beep)."""


def device_id(serial: str) -> str:
    """A stable UUID-shaped deviceID (real ones are UUIDs: d2d94000-f70b-00b0-00a0-acb00f000000)."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, serial))


def device_info(*, nvr: bool, model: str, serial: str, mac: str) -> str:
    """``System/deviceInfo`` (DS-2CD2346G2-ISU capture)."""
    dtype = "NVR" if nvr else "IPCamera"
    return (f'{HEAD}<DeviceInfo version="2.0" xmlns="{NS}">\n'
            f"<deviceName>SIM {dtype}</deviceName>\n<deviceID>{device_id(serial)}</deviceID>\n"
            f"<deviceDescription>{dtype}</deviceDescription>\n<deviceLocation>hangzhou</deviceLocation>\n"
            f"<model>{model}</model>\n<serialNumber>{serial}</serialNumber>\n"
            f"<macAddress>{mac}</macAddress>\n<firmwareVersion>V5.7.15</firmwareVersion>\n"
            "<firmwareReleasedDate>build 240201</firmwareReleasedDate>\n"
            f"<deviceType>{dtype}</deviceType>\n<manufacturer>hikvision</manufacturer>\n</DeviceInfo>\n")


def _notifications(channel: int | None) -> str:
    items = "".join(
        f"<EventTriggerNotification><id>{m}{'-' + str(channel) if m == 'record' and channel else ''}</id>"
        f"<notificationMethod>{m}</notificationMethod><notificationRecurrence>beginning"
        "</notificationRecurrence></EventTriggerNotification>" for m in NOTIFY)
    return f"<EventTriggerNotificationList>{items}</EventTriggerNotificationList>"


def _trigger(tid: str, event_type: str, ids: str, channel: int | None) -> str:
    desc = "shelteralarm" if event_type == "tamperdetection" else event_type
    return (f"<EventTrigger><id>{tid}</id><eventType>{event_type}</eventType>"
            f"<eventDescription>{desc} Event trigger Information</eventDescription>{ids}"
            f"{_notifications(channel)}</EventTrigger>")


def event_triggers(*, nvr: bool, channels: int, io_inputs: int) -> str:
    """``Event/triggers``: a camera names a channel in ``videoInputChannelID`` and
    ``dynVideoInputChannelID`` (DS-2CD2346G2-ISU), an NVR in ``dynVideoInputChannelID`` only
    and its own alarm inputs in ``inputIOPortID`` (DS-7608NXI-I2)."""
    def chan_ids(n: int) -> str:
        dyn = f"<dynVideoInputChannelID>{n}</dynVideoInputChannelID>"
        return dyn if nvr else f"<videoInputChannelID>{n}</videoInputChannelID>{dyn}"

    items = []
    for port in range(1, io_inputs + 1):
        ids = f"<inputIOPortID>{port}</inputIOPortID>" + ("" if nvr else chan_ids(1))
        items.append(_trigger(f"IO-{port}", "IO", ids, None))
    for n in range(1, channels + 1):
        for event_type in CHANNEL_EVENTS:
            tid = "tamper" if event_type == "tamperdetection" else event_type
            items.append(_trigger(f"{tid}-{n}", event_type, chan_ids(n), n))
    for event_type in DEVICE_EVENTS:
        items.append(_trigger(event_type, event_type, "" if nvr else chan_ids(1), None))
    return f'{HEAD}<EventTriggerList version="2.0" xmlns="{NS}">{"".join(items)}</EventTriggerList>\n'


def capabilities(*, nvr: bool, channels: int, io_inputs: int, io_outputs: int) -> str:
    """``System/capabilities`` (DeviceCap; the parts hikvision_next reads: SysCap/IOCap,
    SysCap/VideoCap/videoInputPortNums, RacmCap/inputProxyNums, SmartCap, EventCap)."""
    proxy = f"<RacmCap><inputProxyNums>{channels}</inputProxyNums></RacmCap>" if nvr else ""
    smart = "".join(f"<isSupport{k}>true</isSupport{k}>" for k in
                    ("LineDetection", "FieldDetection", "RegionEntrance", "RegionExiting"))
    return (f'{HEAD}<DeviceCap version="2.0" xmlns="{NS}"><SysCap><isSupportDst>true</isSupportDst>'
            f"<IOCap><IOInputPortNums>{io_inputs}</IOInputPortNums><IOOutputPortNums>{io_outputs}"
            "</IOOutputPortNums></IOCap><VideoCap><videoInputPortNums>"
            f"{0 if nvr else channels}</videoInputPortNums><videoOutputPortNums>{1 if nvr else 0}"
            "</videoOutputPortNums></VideoCap><isSupportSubscribeEvent>true</isSupportSubscribeEvent>"
            "</SysCap><isSupportSnapshot>true</isSupportSnapshot><EventCap><isSupportHDFull>true"
            "</isSupportHDFull><isSupportMotionDetection>true</isSupportMotionDetection>"
            "<isSupportTamperDetection>true</isSupportTamperDetection><isSupportVideoLoss>true"
            f"</isSupportVideoLoss></EventCap>{proxy}<SmartCap>{smart}<isSupportSceneChangeDetection>false"
            "</isSupportSceneChangeDetection></SmartCap><WLAlarmCap><isSupportPIR>false</isSupportPIR>"
            "</WLAlarmCap></DeviceCap>\n")


def device_status(started: dt.datetime) -> str:
    """``System/status`` (see assumptions.DEVICE_STATUS_FIELDS)."""
    now = dt.datetime.now().astimezone()
    values = {"currentDeviceTime": now.isoformat(timespec="seconds"),
              "deviceUpTime": str(int((now - started).total_seconds()))}
    fields = "".join(f"<{k}>{values[k]}</{k}>" for k in DEVICE_STATUS_FIELDS)
    return f'{HEAD}<DeviceStatus version="2.0" xmlns="{NS}">{fields}</DeviceStatus>\n'


def input_proxy_channels(channels: int) -> str:
    """``ContentMgmt/InputProxy/channels`` of an NVR (DS-7608NXI-I2 capture)."""
    items = "".join(
        f"<InputProxyChannel><id>{i}</id><name>Camera {i:02d}</name><sourceInputPortDescriptor>"
        f"<proxyProtocol>HIKVISION</proxyProtocol><addressingFormatType>ipaddress</addressingFormatType>"
        f"<ipAddress>192.0.2.{10 + i}</ipAddress><managePortNo>8000</managePortNo>"
        f"<srcInputPort>1</srcInputPort><userName>admin</userName><model>DS-2CD2386G2-IU</model>"
        f"</sourceInputPortDescriptor></InputProxyChannel>" for i in range(1, channels + 1))
    return (f'{HEAD}<InputProxyChannelList version="2.0" xmlns="{NS}" size="{channels}">{items}'
            "</InputProxyChannelList>")


def input_proxy_status(channels: int) -> str:
    items = "".join(f"<InputProxyChannelStatus><id>{i}</id><online>{'true' if i % 5 else 'false'}"
                    f"</online></InputProxyChannelStatus>" for i in range(1, channels + 1))
    return f'{HEAD}<InputProxyChannelStatusList version="2.0" xmlns="{NS}">{items}</InputProxyChannelStatusList>'


def streaming_channels(channels: int) -> str:
    items = "".join(f"<StreamingChannel><id>{i}0{s}</id><channelName>Camera {i:02d}</channelName>"
                    f"<enabled>true</enabled></StreamingChannel>"
                    for i in range(1, channels + 1) for s in (1, 2))
    return f'{HEAD}<StreamingChannelList version="2.0" xmlns="{NS}">{items}</StreamingChannelList>'


def video_inputs(channels: int) -> str:
    """``System/Video/inputs/channels`` of a camera (DS-2CD2346G2-ISU capture)."""
    items = "".join(f"<VideoInputChannel><id>{i}</id><inputPort>{i}</inputPort><name>Camera {i:02d}</name>"
                    "<videoFormat>PAL</videoFormat></VideoInputChannel>" for i in range(1, channels + 1))
    return f'{HEAD}<VideoInputChannelList version="2.0" xmlns="{NS}">{items}</VideoInputChannelList>'
