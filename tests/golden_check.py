"""The one switch and comparison of every snapshot (golden file) test.

A golden file is the reviewed reference of an output users or Home Assistant read (``gemhost
describe``, discovery payloads); any change to that output must show up as a diff in review.
After an intended change, regenerate the files and review the diff:

    GEMHOST_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/core/test_core_describe_golden.py \
        tests/mqtt/test_mqtt_discovery_golden.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("GEMHOST_UPDATE_GOLDEN") == "1"


def stable_json(data: Any) -> str:
    """JSON as golden files keep it: sorted keys and fixed indentation, so only a real change
    of the data changes the file."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def check_golden(path: Path, text: str, what: str) -> None:
    """``text`` equals the golden file ``path`` (or, with GEMHOST_UPDATE_GOLDEN=1, becomes it);
    ``what`` names the output in the failure message."""
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run with GEMHOST_UPDATE_GOLDEN=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, (f"{what} differs from {path}; if the change is intended, "
                              "regenerate with GEMHOST_UPDATE_GOLDEN=1 and review the diff")
