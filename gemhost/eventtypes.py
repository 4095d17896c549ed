"""Normalized event types, shared by every driver so consumers see one vocabulary.

Hikvision's products (ISAPI devices, HikCentral, Hik-Partner Pro) all use the same family
of vendor event names, so the mapping from those names lives here once. Unknown vendor
types pass through under their own (lower-cased) name rather than being dropped.
"""

from __future__ import annotations

MOTION = "motion"
LINE_CROSSING = "line_crossing"
INTRUSION = "intrusion"
REGION_ENTRANCE = "region_entrance"
REGION_EXIT = "region_exit"
TAMPER = "tamper"
IO = "io"
VIDEO_LOSS = "video_loss"
DISK_FULL = "disk_full"
DISK_ERROR = "disk_error"
DISK_RECOVERED = "disk_recovered"
PIR = "pir"
DEVICE_ONLINE = "device_online"
DEVICE_OFFLINE = "device_offline"
DEVICE_DELETED = "device_deleted"
RECORD_EXCEPTION = "record_exception"
ALARM = "alarm"
LINKAGE = "linkage"
TEMPERATURE = "temperature"
SCENE_CHANGE = "scene_change"
FACE = "face"
AUDIO = "audio"
ACCESS_CONTROL = "access_control"

# Vendor eventType (lower-cased) -> normalized type.
HIKVISION_EVENT_TYPES: dict[str, str] = {
    "vmd": MOTION,
    "motiondetection": MOTION,
    "linedetection": LINE_CROSSING,
    "fielddetection": INTRUSION,
    "regionentrance": REGION_ENTRANCE,
    "regionexiting": REGION_EXIT,
    "shelteralarm": TAMPER,
    "tamperdetection": TAMPER,
    "io": IO,
    "videoloss": VIDEO_LOSS,
    "diskfull": DISK_FULL,
    "diskerror": DISK_ERROR,
    "diskrecover": DISK_RECOVERED,
    "pir": PIR,
    "pirdetection": PIR,
    "deviceonline": DEVICE_ONLINE,
    "deviceoffline": DEVICE_OFFLINE,
    "devicedeleted": DEVICE_DELETED,
    "recordexception": RECORD_EXCEPTION,
    "cidevent": ALARM,
    "linkage": LINKAGE,
    "thermometry": TEMPERATURE,
    "temperaturedetection": TEMPERATURE,
    "scenechangedetection": SCENE_CHANGE,
    "facedetection": FACE,
    "audioexception": AUDIO,
    "accesscontrollerevent": ACCESS_CONTROL,
}


def normalize(vendor_type: str) -> str:
    """The normalized name of a Hikvision-family event type (unknown ones pass through)."""
    key = vendor_type.strip().lower()
    return HIKVISION_EVENT_TYPES.get(key, key.replace(" ", "_") or "unknown")
