"""What HikCentral had at the last import or sync, so ``--new`` can mean "new since then".

An import of "new" cameras must not pick up a camera the user saw at the last import and chose
to leave out; only cameras that appeared in HikCentral afterwards are new. So every import
and sync records the index codes HikCentral listed, in the device's state folder (it survives
restarts and is shared by the running host and ``gemhost import``, which use the same one).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

from gemhost.model import now

FILE_NAME = "hikcentral_known_cameras.json"


class KnownCameras:
    """The camera index codes of the last import or sync (None before the first one)."""

    def __init__(self, state_dir: Path, log: logging.Logger | logging.LoggerAdapter) -> None:
        self.path = Path(state_dir) / FILE_NAME
        self.log = log

    def load(self) -> set[str] | None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            self.log.warning("%s is unreadable (%s); every camera not yet imported counts as new",
                             self.path, exc)
            return None
        cameras = raw.get("cameras") if isinstance(raw, dict) else None
        if not isinstance(cameras, list):
            self.log.warning("%s has no camera list; every camera not yet imported counts as new", self.path)
            return None
        return {str(code) for code in cameras}

    def save(self, codes: Iterable[str]) -> None:
        """Write atomically; a failure only costs the next ``new`` its precision, so it is
        logged, not raised (the import itself has succeeded)."""
        body = {"recorded": now().isoformat(), "cameras": sorted({str(c) for c in codes})}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(body), encoding="utf-8")
            tmp.replace(self.path)
        except OSError as exc:
            self.log.warning("could not record HikCentral's cameras in %s: %s", self.path, exc)
