"""Where the host keeps state that must survive restarts (per device), e.g. account bindings.

By default beside the site file in ``.gemhost-state/`` (the site's own folder is the one place
an installer is sure to back up with it); ``GEMHOST_STATE_DIR`` moves it elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "GEMHOST_STATE_DIR"


def state_root(site_path: Path | None) -> Path:
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override)
    base = site_path.resolve().parent if site_path else Path.cwd()
    return base / ".gemhost-state"


def device_state_dir(site_path: Path | None, device_id: str, *, create: bool = True) -> Path:
    """The folder private to one device; created on demand."""
    path = state_root(site_path) / device_id
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path
