"""HikCentral's cameras seen as gemhost zones: listing, import selection and sync.

This is plain logic over a :class:`HikCentralClient` and the device's zones, with no driver
state; ``gemhost import SITE DEVICE`` runs the ``import_cameras`` command itself, so the shell
and MQTT import the same way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gemhost_drivers.hikcentral.client import HikCentralClient

from gemhost.errors import InvalidArgs
from gemhost.model import ZoneConfig

ONLINE = 1  # HikCentral's camera status: 1 online, 0 or 2 offline
MAX_ID = 64

Progress = Callable[[int, int], None]


@dataclass
class Camera:
    """One HikCentral camera with its region and encoding device resolved to names."""

    code: str
    name: str
    online: bool
    region_code: str = ""
    region: str = ""
    encoding_device_code: str = ""
    encoding_device: str = ""
    channel: int | None = None
    ptz: bool = False

    def as_dict(self, zone: str | None = None) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "online": self.online, "region": self.region,
                "region_code": self.region_code, "encoding_device": self.encoding_device,
                "encoding_device_code": self.encoding_device_code, "channel": self.channel,
                "ptz": self.ptz, "imported": zone is not None, "zone": zone}


def camera_from(raw: Mapping[str, Any], regions: Mapping[str, str], devices: Mapping[str, str]) -> Camera:
    """A :class:`Camera` from one entry of HikCentral's camera list."""
    region_code = str(raw.get("regionIndexCode") or "")
    device_code = str(raw.get("encodeDevIndexCode") or "")
    try:
        online = int(raw.get("status", 0)) == ONLINE
    except (TypeError, ValueError):
        online = False
    channel = raw.get("channelNo")
    return Camera(
        code=str(raw.get("cameraIndexCode", "")),
        name=str(raw.get("cameraName") or ""),
        online=online,
        region_code=region_code,
        region=regions.get(region_code, ""),
        encoding_device_code=device_code,
        encoding_device=devices.get(device_code, ""),
        channel=int(channel) if isinstance(channel, int | str) and str(channel).isdigit() else None,
        ptz="ptz" in str(raw.get("capabilitySet") or "").lower().split(","),
    )


async def fetch_cameras(client: HikCentralClient, name: str | None = None,
                        progress: Progress | None = None) -> list[Camera]:
    """Every camera (optionally only names containing ``name``), with names resolved."""
    regions = await client.regions()
    devices = await client.encoding_devices()
    raws: list[dict[str, Any]] = []
    page_no = 1
    while True:
        page = await client.cameras_page(page_no, name=name)
        raws.extend(page.items)
        if progress:
            progress(len(raws), page.total)
        if not page.items or len(raws) >= page.total:
            break
        page_no += 1
    return [camera_from(r, regions, devices) for r in raws]


def zone_codes(zones: Iterable[ZoneConfig] | Mapping[str, ZoneConfig]) -> dict[str, str]:
    """Camera index code -> zone id of the zones that are imported cameras."""
    values = zones.values() if isinstance(zones, Mapping) else zones
    return {str(z.attributes.get("camera")): z.id for z in values if z.attributes.get("camera")}


def slugify(name: str, taken: set[str], fallback: str) -> str:
    """A zone id from a camera name: [a-z0-9_-], starts alphanumeric, at most 64, unique."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    base = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_-")
    if not base:
        base = re.sub(r"[^a-z0-9]+", "_", f"camera_{fallback}".lower()).strip("_")
    base = base[:MAX_ID].rstrip("_-")
    candidate, n = base, 2
    while candidate in taken:
        suffix = f"_{n}"
        candidate = base[:MAX_ID - len(suffix)].rstrip("_-") + suffix
        n += 1
    taken.add(candidate)
    return candidate


def zone_for(camera: Camera, zone_id: str) -> dict[str, Any]:
    """The zone dict the host writes into the site file for one camera."""
    return {"id": zone_id, "name": camera.name or camera.code,
            "attributes": {"camera": camera.code, "stream": "main", "camera_name": camera.name,
                           "encoding_device": camera.encoding_device, "region": camera.region}}


def select_cameras(cameras: list[Camera], existing_zones: Iterable[ZoneConfig] | Mapping[str, ZoneConfig],
                   selection: str | list[str], known: set[str] | None = None) -> list[dict[str, Any]]:
    """Zone dicts for the cameras to import; cameras that already are zones are skipped.

    ``selection`` is "all" (every camera not yet imported), "new" (only cameras HikCentral did
    not have at the last import or sync, ``known``; with no record yet that is every camera
    not yet imported), or a list of index codes; an unknown code raises InvalidArgs naming it.
    """
    zones = list(existing_zones.values() if isinstance(existing_zones, Mapping) else existing_zones)
    imported = zone_codes(zones)
    if isinstance(selection, str):
        if selection not in ("new", "all"):
            raise InvalidArgs(f"cameras must be a list of index codes, 'new' or 'all', got {selection!r}")
        chosen = [c for c in cameras if c.code not in imported
                  and (selection == "all" or known is None or c.code not in known)]
    else:
        by_code = {c.code: c for c in cameras}
        unknown = [code for code in selection if str(code) not in by_code]
        if unknown:
            raise InvalidArgs(f"HikCentral has no camera with index code {', '.join(map(str, unknown))}")
        seen: set[str] = set()
        chosen = []
        for code in map(str, selection):
            if code not in imported and code not in seen:
                seen.add(code)
                chosen.append(by_code[code])
    taken = {z.id for z in zones}
    return [zone_for(c, slugify(c.name, taken, c.code)) for c in chosen]


def sync_report(cameras: list[Camera], zones: Iterable[ZoneConfig]) -> dict[str, list[dict[str, Any]]]:
    """What changed in HikCentral since import: new, missing and renamed cameras."""
    zones = list(zones)
    by_code = {c.code: c for c in cameras}
    imported = zone_codes(zones)
    new = [c.as_dict() for c in cameras if c.code not in imported]
    missing, renamed = [], []
    for zone in zones:
        code = str(zone.attributes.get("camera") or "")
        if not code:
            continue
        camera = by_code.get(code)
        if camera is None:
            missing.append({"zone": zone.id, "code": code, "name": zone.name})
            continue
        recorded = zone.attributes.get("camera_name") or zone.name
        if camera.name != recorded:
            renamed.append({"zone": zone.id, "code": code, "old_name": recorded, "new_name": camera.name})
    return {"new": new, "missing": missing, "renamed": renamed}
