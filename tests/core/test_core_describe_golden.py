"""Snapshot tests of ``gemhost describe`` for every built-in driver and the example driver.

The output is the reference users read (and docs quote), so any change to it must be seen in
review: the test compares it with the golden files in ``tests/golden/describe/``. After an
intended change (a schema edit), regenerate them and review the diff:

    GEMHOST_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/core/test_core_describe_golden.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from golden_check import GOLDEN, check_golden

from gemhost.describe import to_markdown
from gemhost.schema import bundled_schema, load_schema

EXAMPLE_SCHEMA = Path(__file__).resolve().parents[2] / "examples" / "gemhost-driver-example" / "gemhost_example" \
    / "example.yaml"
SCHEMAS = {"hikvision_isapi": bundled_schema("hikvision_isapi"), "hikcentral": bundled_schema("hikcentral"),
           "hpp": bundled_schema("hpp"), "example": EXAMPLE_SCHEMA}


def check_describe(name: str, text: str) -> None:
    check_golden(GOLDEN / "describe" / name, text, "gemhost describe output")


@pytest.mark.parametrize("driver", sorted(SCHEMAS))
def test_describe_markdown(driver):
    check_describe(f"{driver}.md", to_markdown(load_schema(SCHEMAS[driver])) + "\n")


@pytest.mark.parametrize("driver", sorted(SCHEMAS))
def test_describe_json(driver):
    check_describe(f"{driver}.json", json.dumps(load_schema(SCHEMAS[driver]).as_dict(), indent=2) + "\n")
