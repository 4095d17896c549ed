"""Writing zones into the site file without disturbing what the user wrote.

Imports (HikCentral cameras, Hik-Partner Pro devices) append zones to a device. The file is
the user's: comments, order, quoting and ``!secret`` tags survive the round trip, the previous
version is kept as a backup, and the new text must pass the full check before it replaces
the old file, so an import can never leave a site that does not start.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from gemhost import atomicfile, ids
from gemhost.schema import SLUG, DriverSchema
from gemhost.site import load_site
from gemhost.siteyaml import round_trip_yaml


class SiteEditError(Exception):
    """The edit was refused; the site file is unchanged."""


def append_zones(path: Path, device_id: str, zones: list[dict[str, Any]],
                 schemas: dict[str, DriverSchema]) -> list[str]:
    """Append ``zones`` (``{"id", "name", "attributes"}``) to ``device_id``; returns their ids.

    Zone ids already present are made unique with a numeric suffix rather than refused, so
    importing two cameras with the same name just works.
    """
    yaml = round_trip_yaml()
    original = path.read_text(encoding="utf-8")
    doc = yaml.load(original)
    device = _find_device(doc, device_id)
    existing = device.get("zones")
    if existing is None:
        existing = CommentedSeq()
        device["zones"] = existing
    taken = {str(z.get("id")) for z in existing if isinstance(z, dict)}
    written = []
    for zone in zones:
        zone_id = _unique_id(str(zone["id"]), taken)
        entry = CommentedMap()
        entry["id"] = zone_id
        if zone.get("name"):
            entry["name"] = str(zone["name"])
        attributes = CommentedMap()
        for key, value in (zone.get("attributes") or {}).items():
            attributes[key] = value
        entry["attributes"] = attributes
        existing.append(entry)
        written.append(zone_id)
    if not written:
        return []

    with atomicfile.replacing(path) as tmp:
        with tmp.open("w", encoding="utf-8") as handle:
            yaml.dump(doc, handle)
        try:
            load_site(tmp, schemas)
        except Exception as exc:
            raise SiteEditError(f"the import would make {path.name} invalid, nothing written: {exc}") from None
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")  # two imports in a second keep both
        shutil.copy2(path, path.with_name(f"{path.name}.{stamp}.bak"))
    return written


def _find_device(doc: Any, device_id: str) -> CommentedMap:
    for device in (doc or {}).get("devices") or []:
        if isinstance(device, dict) and device.get("id") == device_id:
            return device
    raise SiteEditError(f"device {device_id!r} is not in the site file")


def _unique_id(wanted: str, taken: set[str]) -> str:
    """The zone id as given when it is a valid one, else slugged; made unique in the device
    (and added to ``taken``)."""
    return ids.unique(wanted if SLUG.match(wanted) else ids.slug(wanted) or "zone", taken)
