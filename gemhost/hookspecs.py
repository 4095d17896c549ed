"""The one hook a gemhost plugin implements.

Hooks are synchronous (pluggy has none that are async); what a plugin registers is a
driver class whose methods are async. A callback-style hook lets one plugin register
several drivers, the way llm's ``register_models`` does.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from gemhost.driver import Driver
    from gemhost.simulator import Simulator

PROJECT = "gemhost"
ENTRY_POINT_GROUP = "gemhost.plugins"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_drivers(register: Callable[[type[Driver]], None]) -> None:
    """Call ``register(DriverClass)`` once for every driver this plugin provides."""


@hookspec
def register_simulators(register: Callable[[str, type[Simulator]], None]) -> None:
    """Call ``register(driver_name, SimulatorClass)`` for each vendor simulator shipped."""


@hookspec
def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add driver-specific subcommands to the ``gemhost`` CLI (e.g. ``gemhost hpp unbind``).

    Each parser sets ``func=<callable(args) -> int exit code>`` with ``set_defaults``.
    """
