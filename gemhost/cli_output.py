"""How the CLI prints machine-readable results: one JSON document, indented for people too."""

from __future__ import annotations

import json
from typing import Any


def print_json(value: Any) -> None:
    """Print ``value`` as JSON; what JSON cannot hold (timestamps, paths) is printed as text."""
    print(json.dumps(value, indent=2, default=str))
